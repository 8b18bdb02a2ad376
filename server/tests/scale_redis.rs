//! The Redis stream as the global update log: the relay's append script and the
//! replay bounds, against a real Redis (`TEST_REDIS_URL`); skipped loudly without it.

#[path = "common/cluster.rs"]
mod cluster;
mod common;

use cluster::{services, unique_prefix};
use stellar_insights_server::redis_bus::RedisBus;
use stellar_insights_server::store::LoggedUpdate;

fn row(outbox_id: i64, key: &str) -> LoggedUpdate {
    LoggedUpdate {
        seq: outbox_id,
        kind: "anchor".into(),
        topic_key: key.into(),
        payload: format!(
            r#"{{"type":"anchor_update","anchor_id":"{key}","name":"N","reliability_score":1.0,"status":"red"}}"#
        ),
    }
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_outbox_row_appended_twice_gets_one_entry_and_keeps_its_first_seq() {
    let Some(svc) = services("an_outbox_row_appended_twice_gets_one_entry_and_keeps_its_first_seq")
    else {
        return;
    };
    let prefix = unique_prefix();
    let bus = RedisBus::new(&svc.redis, &prefix, 100).unwrap();
    assert_eq!(
        bus.append(0, &[row(1, "a"), row(2, "b")]).await.unwrap(),
        vec![1, 2]
    );
    // The relay crashed before marking rows 1-2 relayed: the next pass claims them again,
    // together with a new row.
    assert_eq!(
        bus.append(0, &[row(1, "a"), row(2, "b"), row(3, "c")])
            .await
            .unwrap(),
        vec![1, 2, 3]
    );
    let mut c = raw(&svc.redis).await;
    let len: u64 = redis::cmd("XLEN")
        .arg(format!("{prefix}:updates"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 3, "no entry appended twice");
    let replay = bus.range_after(1, 10).await.unwrap();
    assert_eq!(replay.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(replay[1].topic_key, "c");
    assert_eq!(bus.bounds().await.unwrap(), (Some(1), Some(3)));
}

#[tokio::test]
async fn numbering_restarts_above_the_database_floor_when_redis_lost_its_data() {
    let Some(svc) =
        services("numbering_restarts_above_the_database_floor_when_redis_lost_its_data")
    else {
        return;
    };
    let prefix = unique_prefix();
    let bus = RedisBus::new(&svc.redis, &prefix, 100).unwrap();
    assert_eq!(bus.append(0, &[row(1, "a")]).await.unwrap(), vec![1]);
    let mut c = raw(&svc.redis).await;
    // As after a restart without persistence: counter, stream and markers gone.
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:seq"))
        .arg(format!("{prefix}:updates"))
        .arg(format!("{prefix}:relayed:1"))
        .query_async(&mut c)
        .await
        .unwrap();
    // The database says seq 41 was the last one relayed.
    assert_eq!(bus.append(41, &[row(2, "b")]).await.unwrap(), vec![42]);
    assert_eq!(
        bus.bounds().await.unwrap(),
        (Some(42), Some(42)),
        "a client at 40 sees 41 as pruned and gets resync_required"
    );
}

#[tokio::test]
async fn stream_is_trimmed_near_the_retention_length() {
    let Some(svc) = services("stream_is_trimmed_near_the_retention_length") else {
        return;
    };
    let prefix = unique_prefix();
    let bus = RedisBus::new(&svc.redis, &prefix, 10).unwrap();
    let rows: Vec<_> = (1..=600).map(|i| row(i, "k")).collect();
    for chunk in rows.chunks(100) {
        bus.append(0, chunk).await.unwrap();
    }
    let (oldest, issued) = bus.bounds().await.unwrap();
    assert_eq!(issued, Some(600));
    // MAXLEN ~ trims whole nodes (100 entries by default), never below the retention.
    let oldest = oldest.unwrap();
    assert!((400..=591).contains(&oldest), "oldest retained {oldest}");
}

#[tokio::test]
async fn unreachable_redis_fails_fast_and_reports_unhealthy() {
    let bus = RedisBus::new("redis://127.0.0.1:1", "unused", 10).unwrap();
    let started = std::time::Instant::now();
    assert!(!bus.ping().await);
    assert!(bus.append(0, &[row(1, "a")]).await.is_err());
    assert!(!bus.is_healthy());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Right after a failed connect, calls fail without trying again.
    let again = std::time::Instant::now();
    let e = bus.bounds().await.unwrap_err();
    assert!(e.to_string().contains("recent connect failed"), "{e}");
    assert!(again.elapsed() < std::time::Duration::from_millis(100));
}

#[tokio::test]
async fn a_lost_counter_restarts_above_the_streams_last_entry() {
    let Some(svc) = services("a_lost_counter_restarts_above_the_streams_last_entry") else {
        return;
    };
    let prefix = unique_prefix();
    let bus = RedisBus::new(&svc.redis, &prefix, 100).unwrap();
    let rows: Vec<_> = (1..=5).map(|i| row(i, "k")).collect();
    assert_eq!(bus.append(0, &rows).await.unwrap(), vec![1, 2, 3, 4, 5]);
    // Only the counter is gone (evicted, deleted by hand); the database lags behind.
    let mut c = raw(&svc.redis).await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:seq"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(bus.bounds().await.unwrap(), (Some(1), None));
    assert_eq!(bus.append(2, &[row(6, "k")]).await.unwrap(), vec![6]);
}
