//! The corridors' recent history: written with each corridor write, read by
//! `GET /api/corridors/{key}/history` and `GET /api/corridors/history` (the
//! dashboard's chart and sparklines), bounded to 60 minutes in 10 s steps.

mod common;

use common::*;
use serde_json::{json, Value};
use stellar_insights_server::model::Corridor;
use stellar_insights_server::store::{self, history};

/// URL path segment of a corridor key (`:` and `>` encoded, as a browser's `encodeURIComponent`).
fn encoded(key: &str) -> String {
    key.replace(':', "%3A").replace('>', "%3E")
}

fn points(v: &Value) -> Vec<(f64, f64, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["success_rate"].as_f64().unwrap(),
                p["volume_usd"].as_f64().unwrap(),
                p["total_transactions"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn history_follows_corridor_writes_by_key_or_id_and_in_the_batch_form() {
    let server = TestServer::start().await;
    let before = time_ms();
    let c = server.create_corridor("USDC", 1).await;
    let (id, key) = (
        c["id"].as_str().unwrap(),
        c["corridor_key"].as_str().unwrap(),
    );
    let other = server.create_corridor("EURC", 2).await;
    for (total, ok, volume) in [(10, 9, 100.0), (20, 15, 250.5)] {
        let (status, body) = server
            .put(
                &format!("/api/corridors/{id}/metrics"),
                &json!({"total_transactions": total, "successful_transactions": ok, "volume_usd": volume}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let after = time_ms();

    let (status, h) = server
        .get(&format!("/api/corridors/{}/history", encoded(key)))
        .await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["corridor_key"], key);
    assert_eq!(
        (h["minutes"].as_i64(), h["step_ms"].as_i64()),
        (Some(60), Some(10_000))
    );
    // Three writes within a few ms: one 10 s step keeps the newest (two if they straddled a step).
    let p = points(&h["points"]);
    assert!((1..=2).contains(&p.len()), "{h}");
    assert_eq!(*p.last().unwrap(), (75.0, 250.5, 20));
    for t in h["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["t"].as_i64().unwrap())
    {
        assert!(
            (before..=after).contains(&t),
            "{t} outside {before}..={after}"
        );
    }
    // The id answers the same.
    let (status, by_id) = server
        .get(&format!("/api/corridors/{id}/history?minutes=5"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id["points"], h["points"]);
    assert_eq!(by_id["minutes"], 5);

    // Batch form: every corridor by key, the same points.
    let (status, all) = server.get("/api/corridors/history?minutes=60").await;
    assert_eq!(status, 200, "{all}");
    let corridors = all["corridors"].as_object().unwrap();
    assert_eq!(corridors.len(), 2);
    assert_eq!(corridors[key], h["points"]);
    assert_eq!(
        points(&corridors[other["corridor_key"].as_str().unwrap()]),
        vec![(0.0, 0.0, 0)]
    );
}

#[tokio::test]
async fn bad_history_parameters_get_400_naming_minutes_and_an_unknown_corridor_404() {
    let server = TestServer::start().await;
    let c = server.create_corridor("USDC", 1).await;
    let id = c["id"].as_str().unwrap();
    for bad in ["0", "61", "-5", "abc", "1.5", ""] {
        for path in [
            format!("/api/corridors/{id}/history?minutes={bad}"),
            format!("/api/corridors/history?minutes={bad}"),
        ] {
            let (status, body) = server.get(&path).await;
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(body["field"], "minutes", "{body}");
            assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("minutes must be an integer from 1 to 60"),
                "{body}"
            );
        }
    }
    let (status, body) = server
        .get("/api/corridors/NOPE%3AGA-%3ENOPE%3AGB/history")
        .await;
    assert_eq!(
        (status, body),
        (404, json!({"error": "corridor not found"}))
    );
    // No corridor at all: the batch form is empty, not an error.
    let empty = TestServer::start().await;
    let (status, body) = empty.get("/api/corridors/history").await;
    assert_eq!(status, 200);
    assert_eq!(body["corridors"], json!({}));
}

fn time_ms() -> i64 {
    stellar_insights_server::service::now_ms()
}

#[tokio::test]
async fn history_keeps_one_value_per_10_s_step_and_prunes_steps_older_than_61_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let db = store::connect(&test_database_url(dir.path()).await)
        .await
        .unwrap();
    let mut c = Corridor {
        id: "c1".into(),
        corridor_key: "A:GA->B:GB".into(),
        source_asset_code: "A".into(),
        source_asset_issuer: "GA".into(),
        dest_asset_code: "B".into(),
        dest_asset_issuer: "GB".into(),
        total_transactions: 0,
        successful_transactions: 0,
        success_rate: 0.0,
        volume_usd: 0.0,
        created_at: "2026-11-30T00:00:00Z".into(),
        updated_at: "2026-11-30T00:00:00Z".into(),
    };
    let mut tx = store::begin_write(&db).await.unwrap();
    store::insert_corridor(&mut tx, &c).await.unwrap();
    let t0: i64 = 1_796_000_000_000; // a step boundary (multiple of 10 000 ms)
                                     // Writes at t0, t0 + 4 s (same step: replaces), t0 + 10 s, ... every 10 s for 62 minutes.
    for (i, at) in [t0, t0 + 4_000]
        .into_iter()
        .chain((1..=372).map(|k| t0 + k * 10_000))
        .enumerate()
    {
        c.total_transactions = i as i64;
        history::record(&mut tx, &c, at).await.unwrap();
    }
    tx.commit().await.unwrap();
    let newest = t0 + 372 * 10_000;
    let kept = history::points(&db, "c1", 0).await.unwrap();
    // Bounded: the newest step and the 361 before it (60 minutes and one step) remain.
    assert_eq!(kept.len(), 362);
    assert_eq!(kept.last().unwrap().t, newest);
    assert_eq!(kept.last().unwrap().total_transactions, 373);
    assert_eq!(kept[0].t, newest - 361 * 10_000);
    // One value per step: the t0 step (replaced at t0 + 4 s) is gone with its age.
    assert!(kept.windows(2).all(|w| w[1].t - w[0].t == 10_000));
    // A span asks from a time on.
    let last_minute = history::points(&db, "c1", newest - 60_000).await.unwrap();
    assert_eq!(last_minute.len(), 7);
    db.close().await;
}
