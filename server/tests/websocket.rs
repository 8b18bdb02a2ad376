//! `/ws` behaviour over real sockets. Run them all with
//! `cargo test -p stellar-insights-server websocket`.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn websocket_connected_is_first_with_all_fields() {
    let server = TestServer::start().await;
    server.create_anchor(1, "Before").await;
    let mut ws = server.connect("").await;
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connected");
    let id = hello["connection_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["heartbeat_ms"], 30_000);
    assert_eq!(hello["seq"], 1, "seq is the last one issued");
    assert_eq!(hello["resumed"], false);
    let (_, other) = server.connect_ready("").await;
    assert_ne!(other["connection_id"], hello["connection_id"]);
}

#[tokio::test]
async fn websocket_ping_arrives_at_the_configured_interval() {
    let server = TestServer::with(|c| c.ping_interval = Duration::from_millis(500)).await;
    let (mut ws, hello) = server.connect_ready("").await;
    assert_eq!(hello["heartbeat_ms"], 500);
    let start = Instant::now();
    for n in 1..=2u32 {
        let ping = next_json(&mut ws).await;
        assert_eq!(ping["type"], "ping");
        let at = start.elapsed();
        assert!(
            at >= Duration::from_millis(450) * n
                && at < Duration::from_millis(500) * n + Duration::from_millis(400),
            "ping {n} at {at:?}"
        );
        send_text(
            &mut ws,
            &json!({"type": "pong", "timestamp": ping["timestamp"]}).to_string(),
        )
        .await;
    }
}

#[tokio::test]
async fn websocket_pong_keeps_the_connection_alive() {
    let server = TestServer::with(|c| c.ping_interval = Duration::from_millis(300)).await;
    let (mut ws, _) = server.connect_ready("").await;
    // 2 s is well past the 750 ms silence limit; answering every ping must keep us open.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let ping = next_json(&mut ws).await;
        assert_eq!(ping["type"], "ping", "{ping}");
        send_text(
            &mut ws,
            &json!({"type": "pong", "timestamp": ping["timestamp"]}).to_string(),
        )
        .await;
    }
    round_trip(&mut ws, 42).await;
}

/// The seed protocol's example ping is `{"type":"ping","timestamp":1234567890}`:
/// seconds since the Unix epoch, which is what the server sends.
#[tokio::test]
async fn websocket_ping_timestamp_is_seconds_since_the_epoch_like_the_seed_example() {
    let server = TestServer::with(|c| c.ping_interval = Duration::from_millis(100)).await;
    let (mut ws, _) = server.connect_ready("").await;
    let ping = next_json(&mut ws).await;
    assert_eq!(ping["type"], "ping", "{ping}");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts = ping["timestamp"].as_i64().expect("integer timestamp");
    assert!(
        (now - 5..=now + 5).contains(&ts),
        "timestamp {ts} is not seconds since the epoch (now {now})"
    );
}

/// Browsers and `wscat` answer WebSocket protocol pings by themselves. A client
/// that does nothing else (never a JSON `pong`, never any frame of its own) must
/// stay connected: here tokio-tungstenite answers each protocol ping as it reads.
#[tokio::test]
async fn websocket_client_answering_only_protocol_pings_stays_connected_for_five_heartbeats() {
    let interval = Duration::from_millis(200);
    let server = TestServer::with(|c| c.ping_interval = interval).await;
    let (mut ws, _) = server.connect_ready("").await;
    let start = Instant::now();
    let (mut json_pings, mut protocol_pings) = (0, 0);
    // Past 5 intervals, twice the 2.5-interval silence limit.
    while start.elapsed() < interval * 5 + interval / 2 {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time")
        {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                assert_eq!(v["type"], "ping", "after {:?}: {v}", start.elapsed());
                json_pings += 1;
            }
            Some(Ok(Message::Ping(_))) => protocol_pings += 1,
            other => panic!("after {:?}: {other:?}", start.elapsed()),
        }
    }
    assert!(
        json_pings >= 5 && protocol_pings >= 5,
        "{json_pings} JSON pings, {protocol_pings} protocol pings"
    );
    assert_eq!(server.metric("stellar_ws_connections_open").await, 1.0);
    round_trip(&mut ws, 5).await;
}

/// The seed protocol's `pong` may come without `timestamp` (a `wscat` user types
/// `{"type":"pong"}`): no `error` frame, and it counts as liveness like any frame.
#[tokio::test]
async fn websocket_pong_without_timestamp_gets_no_error() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    for pong in [
        r#"{"type":"pong"}"#,
        r#"{"type":"pong","timestamp":null}"#,
        r#"{"type":"pong","timestamp":1234567890,"client":"wscat"}"#,
    ] {
        send_text(&mut ws, pong).await;
    }
    // Frames are answered in order: an error for any pong would come before this pong.
    send_text(&mut ws, r#"{"type":"ping","timestamp":99}"#).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "pong", "timestamp": 99})
    );
}

/// Answers nothing at all, not even protocol pings (its writes are dropped).
#[tokio::test]
async fn websocket_silent_client_is_closed_after_two_and_a_half_heartbeats() {
    let server = TestServer::with(|c| c.ping_interval = Duration::from_millis(400)).await;
    let mut ws = server.connect_mute("").await;
    let start = Instant::now();
    let err = next_non_ping(&mut ws).await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "heartbeat_timeout");
    assert_eq!(close_code(&mut ws).await, 4000);
    let at = start.elapsed();
    assert!(
        at >= Duration::from_millis(900) && at < Duration::from_millis(1600),
        "closed after {at:?}, expected ~1 s"
    );
}

#[tokio::test]
async fn websocket_client_ping_gets_pong_with_its_timestamp() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    send_text(&mut ws, r#"{"type":"ping","timestamp":1234567890}"#).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(pong, json!({"type": "pong", "timestamp": 1234567890}));
}

#[tokio::test]
async fn websocket_every_rest_write_broadcasts_its_update() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    let anchor = server.create_anchor(1, "Anchor One").await;
    let id = anchor["id"].as_str().unwrap();
    let body = json!({"total_transactions": 100, "successful_transactions": 90, "failed_transactions": 10});
    server
        .put(&format!("/api/anchors/{id}/metrics"), &body)
        .await;
    let corridor = server.create_corridor("USDC", 2).await;
    let cid = corridor["id"].as_str().unwrap();
    let body = json!({"total_transactions": 4, "successful_transactions": 3, "volume_usd": 12.5});
    server
        .put(&format!("/api/corridors/{cid}/metrics"), &body)
        .await;
    let (_, snap) = server.post("/api/snapshots", &json!({})).await;

    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(next_non_ping(&mut ws).await);
    }
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    assert_eq!(frames[0]["type"], "anchor_update");
    assert_eq!(frames[0]["anchor_id"], id);
    assert_eq!(frames[0]["status"], "red");
    assert_eq!(frames[1]["reliability_score"], 90.0);
    assert_eq!(frames[1]["status"], "yellow");
    assert_eq!(frames[2]["type"], "corridor_update");
    assert_eq!(frames[2]["corridor_key"], corridor["corridor_key"]);
    assert_eq!(frames[3]["success_rate"], 75.0);
    assert_eq!(frames[3]["volume_usd"], 12.5);
    assert_eq!(frames[3]["total_transactions"], 4);
    assert_eq!(frames[4]["type"], "snapshot_update");
    assert_eq!(frames[4]["hash"], snap["hash"]);
    assert_eq!(frames[4]["epoch"], 1);
}

#[tokio::test]
async fn websocket_subscribe_filters_by_type() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    send_text(&mut ws, r#"{"type":"subscribe","topics":["snapshots"]}"#).await;
    round_trip(&mut ws, 1).await;
    server.create_anchor(1, "Skipped").await;
    server.create_corridor("USDC", 2).await;
    server.post("/api/snapshots", &json!({})).await;
    let frame = next_non_ping(&mut ws).await;
    assert_eq!(
        frame["type"], "snapshot_update",
        "anchor and corridor updates are filtered out"
    );
    assert_eq!(frame["seq"], 3);
}

#[tokio::test]
async fn websocket_subscribe_filters_by_key_and_unsubscribe_stops_it() {
    let server = TestServer::start().await;
    let a = server.create_anchor(1, "Watched").await;
    let b = server.create_anchor(2, "Ignored").await;
    let c1 = server.create_corridor("USDC", 3).await;
    let c2 = server.create_corridor("BRL", 4).await;
    let (mut ws, _) = server.connect_ready("").await;
    let sub = json!({"type": "subscribe", "topics": [format!("anchor:{}", a["id"].as_str().unwrap()),
                                                    format!("corridor:{}", c2["corridor_key"].as_str().unwrap())]});
    send_text(&mut ws, &sub.to_string()).await;
    round_trip(&mut ws, 1).await;
    let m =
        json!({"total_transactions": 1, "successful_transactions": 1, "failed_transactions": 0});
    let cm = json!({"total_transactions": 1, "successful_transactions": 1, "volume_usd": 1.0});
    for id in [&b, &a] {
        server
            .put(
                &format!("/api/anchors/{}/metrics", id["id"].as_str().unwrap()),
                &m,
            )
            .await;
    }
    for c in [&c1, &c2] {
        server
            .put(
                &format!("/api/corridors/{}/metrics", c["id"].as_str().unwrap()),
                &cm,
            )
            .await;
    }
    let first = next_non_ping(&mut ws).await;
    assert_eq!(first["anchor_id"], a["id"]);
    let second = next_non_ping(&mut ws).await;
    assert_eq!(second["corridor_key"], c2["corridor_key"]);

    let unsub =
        json!({"type": "unsubscribe", "topics": [format!("anchor:{}", a["id"].as_str().unwrap())]});
    send_text(&mut ws, &unsub.to_string()).await;
    round_trip(&mut ws, 2).await;
    server
        .put(
            &format!("/api/anchors/{}/metrics", a["id"].as_str().unwrap()),
            &m,
        )
        .await;
    server
        .put(
            &format!("/api/corridors/{}/metrics", c2["id"].as_str().unwrap()),
            &cm,
        )
        .await;
    let third = next_non_ping(&mut ws).await;
    assert_eq!(
        third["type"], "corridor_update",
        "the unsubscribed anchor's update was not delivered: {third}"
    );
}

#[tokio::test]
async fn websocket_since_replays_in_order_then_live_with_no_duplicate_or_gap() {
    let server = std::sync::Arc::new(TestServer::start().await);
    for n in 1..=5 {
        server.create_anchor(n, &format!("A{n}")).await;
    }
    // Keep writing while the client connects, so some updates land exactly at the
    // seam between the replay and the live stream.
    let writer = {
        let server = server.clone();
        tokio::spawn(async move {
            for n in 6..=40 {
                server.create_anchor(n, &format!("A{n}")).await;
            }
        })
    };
    let (mut ws, hello) = server.connect_ready("?since=2").await;
    assert_eq!(hello["resumed"], true);
    assert!(hello["seq"].as_u64().unwrap() >= 5);
    writer.await.unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 38 {
        let f = next_non_ping(&mut ws).await;
        assert_eq!(f["type"], "anchor_update", "{f}");
        seqs.push(f["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, (3..=40).collect::<Vec<u64>>());
    server.create_anchor(41, "A41").await;
    assert_eq!(next_non_ping(&mut ws).await["seq"], 41);
}

#[tokio::test]
async fn websocket_since_older_than_retention_gets_resync_required_pruned() {
    let server = TestServer::with(|c| c.update_log_retention = 3).await;
    for n in 1..=10 {
        server.create_anchor(n, &format!("A{n}")).await;
    }
    let deadline = Instant::now() + WAIT;
    while server.metric("stellar_updates_broadcast_total").await < 10.0 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The relay prunes after the publication that calls for it, a moment
    // later: until then `since=1` is still in the log and resumes.
    let (mut ws, hello) = loop {
        let (ws, hello) = server.connect_ready("?since=1").await;
        if hello["resumed"] == false {
            break (ws, hello);
        }
        assert!(Instant::now() < deadline, "the log was never pruned");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(hello["seq"], 10);
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "resync_required", "reason": "pruned"})
    );
    server.create_anchor(11, "Live").await;
    assert_eq!(
        next_non_ping(&mut ws).await["seq"],
        11,
        "the connection stays usable after the resync"
    );
    // Within the retained range the replay still works.
    let (mut ws, hello) = server.connect_ready("?since=8").await;
    assert_eq!(hello["resumed"], true);
    assert_eq!(next_json(&mut ws).await["seq"], 9);
    assert_eq!(
        server
            .metric("stellar_ws_resyncs_total{reason=\"pruned\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn websocket_since_in_the_future_gets_resync_required_future_seq() {
    let server = TestServer::start().await;
    server.create_anchor(1, "A").await;
    let (mut ws, hello) = server.connect_ready("?since=1000").await;
    assert_eq!(hello["resumed"], false);
    assert_eq!(
        next_json(&mut ws).await,
        json!({"type": "resync_required", "reason": "future_seq"})
    );
    assert_eq!(
        server
            .metric("stellar_ws_resyncs_total{reason=\"future_seq\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn websocket_since_that_is_not_a_number_is_refused_with_400() {
    let server = TestServer::start().await;
    assert_eq!(
        server.refused_status(server.request("?since=abc")).await,
        400
    );
    assert_eq!(
        server.refused_status(server.request("?since=-1")).await,
        400
    );
}

#[tokio::test]
async fn websocket_slow_consumer_gets_resync_required_and_close_4001() {
    let server = TestServer::with(|c| {
        c.ws_send_queue = 4;
        c.tcp_send_buffer_bytes = Some(4096);
    })
    .await;
    let anchor = server.create_anchor(1, &"N".repeat(200)).await;
    let id = anchor["id"].as_str().unwrap().to_owned();
    // Tiny kernel buffers on both ends fill after a few dozen frames; then the queue overflows.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        server.ws_url(""),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    const WRITES: u64 = 400;
    for n in 0..WRITES {
        let m = json!({"total_transactions": n + 1, "successful_transactions": n, "failed_transactions": 1});
        let (status, _) = server.put(&format!("/api/anchors/{id}/metrics"), &m).await;
        assert_eq!(status, 200);
    }
    let mut delivered = 0u64;
    let mut last_seq = 1u64;
    loop {
        let f = match tokio::time::timeout(Duration::from_secs(3), next_non_ping(&mut ws)).await {
            Ok(f) => f,
            Err(_) => panic!("no resync after {delivered} updates"),
        };
        match f["type"].as_str().unwrap() {
            "anchor_update" => {
                let seq = f["seq"].as_u64().unwrap();
                assert!(seq > last_seq, "in order");
                last_seq = seq;
                delivered += 1;
            }
            "resync_required" => {
                assert_eq!(f["reason"], "slow_consumer");
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(close_code(&mut ws).await, 4001);
    assert!(
        delivered < WRITES,
        "the server dropped the backlog instead of buffering all {WRITES} ({delivered} delivered)"
    );
    assert_eq!(
        server
            .metric("stellar_ws_resyncs_total{reason=\"slow_consumer\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn websocket_malformed_frame_gets_error_and_stays_open() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    for bad in [
        "not json",
        "{}",
        r#"{"type":"ping","timestamp":"soon"}"#,
        "[1,2]",
    ] {
        send_text(&mut ws, bad).await;
        let err = next_json(&mut ws).await;
        assert_eq!(err["type"], "error", "{bad}");
        assert_eq!(err["code"], "invalid_message", "{bad}");
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    send_text(&mut ws, r#"{"type":"subscribe","topics":["nope"]}"#).await;
    assert_eq!(next_json(&mut ws).await["code"], "invalid_topic");
    round_trip(&mut ws, 7).await;
}

#[tokio::test]
async fn websocket_unknown_type_gets_unknown_type_error_and_stays_open() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    send_text(&mut ws, r#"{"type":"market_update","price":1}"#).await;
    let err = next_json(&mut ws).await;
    assert_eq!(err["code"], "unknown_type");
    assert!(err["message"].as_str().unwrap().contains("market_update"));
    round_trip(&mut ws, 8).await;
}

#[tokio::test]
async fn websocket_binary_frame_gets_error_and_stays_open() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    let err = next_json(&mut ws).await;
    assert_eq!(err["code"], "binary_not_supported");
    round_trip(&mut ws, 9).await;
}

#[tokio::test]
async fn websocket_oversize_frame_gets_frame_too_large_and_close_1009() {
    let server = TestServer::with(|c| c.ws_max_frame_bytes = 1024).await;
    let (mut ws, _) = server.connect_ready("").await;
    round_trip(&mut ws, 1).await; // a frame under the limit is fine
    let big = json!({"type": "ping", "timestamp": 1, "pad": "x".repeat(2000)}).to_string();
    send_text(&mut ws, &big).await;
    let err = next_json(&mut ws).await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "frame_too_large");
    assert_eq!(close_code(&mut ws).await, 1009);
}

#[tokio::test]
async fn websocket_rate_flood_gets_rate_limited_then_close_1008() {
    let server = TestServer::with(|c| {
        c.ws_rate_limit_per_sec = 5;
        c.ws_rate_limit_burst = 5;
    })
    .await;
    let (mut ws, _) = server.connect_ready("").await;
    for ts in 0..30 {
        // The server may close mid-flood; later sends failing is expected.
        if ws
            .send(Message::Text(
                json!({"type": "ping", "timestamp": ts}).to_string().into(),
            ))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut pongs = 0;
    loop {
        let f = next_json(&mut ws).await;
        if f["type"] == "pong" {
            pongs += 1;
            continue;
        }
        assert_eq!(f["type"], "error");
        assert_eq!(f["code"], "rate_limited");
        break;
    }
    assert!(
        (5..=6).contains(&pongs),
        "the burst of 5 is served before the limit ({pongs} pongs)"
    );
    assert_eq!(close_code(&mut ws).await, 1008);
}

#[tokio::test]
async fn websocket_per_ip_cap_refuses_with_429_before_upgrade() {
    let server = TestServer::with(|c| c.ws_max_connections_per_ip = 2).await;
    let (a, _) = server.connect_ready("").await;
    let (_b, _) = server.connect_ready("").await;
    assert_eq!(server.refused_status(server.request("")).await, 429);
    drop(a);
    // The slot comes back once the server has seen the first socket go.
    let deadline = Instant::now() + WAIT;
    loop {
        match tokio_tungstenite::connect_async(server.ws_url("")).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("slot never released: {e}"),
        }
    }
    assert!(
        server
            .metric("stellar_ws_rejected_connections_total{reason=\"per_ip_limit\"}")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn websocket_auth_refuses_missing_wrong_empty_prefix_and_long_tokens_with_401() {
    let server = TestServer::with(|c| c.ws_auth_token = Some("s3cret-token".into())).await;
    let long = format!("?token={}", "s".repeat(8000));
    for query in [
        "",
        "?token=",
        "?token=wrong",
        "?token=s3cret",
        "?token=s3cret-token-and-more",
        "?token=S3CRET-TOKEN",
        long.as_str(),
    ] {
        assert_eq!(
            server.refused_status(server.request(query)).await,
            401,
            "{}",
            &query[..query.len().min(40)]
        );
    }
    let (_ws, hello) = server.connect_ready("?token=s3cret-token").await;
    assert_eq!(hello["type"], "connected");
    assert_eq!(
        server
            .metric("stellar_ws_rejected_connections_total{reason=\"unauthorized\"}")
            .await,
        7.0
    );
}

#[tokio::test]
async fn websocket_origin_not_allowed_gets_403_before_upgrade() {
    let server =
        TestServer::with(|c| c.cors_allowed_origins = Some(vec!["http://dashboard.test".into()]))
            .await;
    let mut req = server.request("");
    req.headers_mut()
        .insert("origin", HeaderValue::from_static("http://evil.test"));
    assert_eq!(server.refused_status(req).await, 403);
    let mut req = server.request("");
    req.headers_mut()
        .insert("origin", HeaderValue::from_static("http://dashboard.test"));
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("allowed origin connects");
    assert_eq!(next_json(&mut ws).await["type"], "connected");
}

#[tokio::test]
async fn websocket_two_clients_receive_the_same_update_with_the_same_seq() {
    let server = TestServer::start().await;
    let (mut a, _) = server.connect_ready("").await;
    let (mut b, _) = server.connect_ready("").await;
    assert_eq!(server.metric("stellar_ws_connections_open").await, 2.0);
    let anchor = server.create_anchor(1, "Shared").await;
    let fa = next_non_ping(&mut a).await;
    let fb = next_non_ping(&mut b).await;
    assert_eq!(fa, fb);
    assert_eq!(fa["anchor_id"], anchor["id"]);
    assert_eq!(fa["seq"], 1);
    assert!(server.metric("stellar_ws_frames_sent_total").await >= 4.0);
}

#[tokio::test]
async fn websocket_graceful_shutdown_closes_every_client_with_1001() {
    let server = TestServer::start().await;
    let (mut a, _) = server.connect_ready("").await;
    let (mut b, _) = server.connect_ready("?since=0").await;
    let stop = tokio::spawn(server.stop());
    assert_eq!(close_code(&mut a).await, 1001);
    assert_eq!(close_code(&mut b).await, 1001);
    tokio::time::timeout(WAIT, stop).await.unwrap().unwrap();
    assert!(matches!(a.next().await, None | Some(Err(_))));
}

#[tokio::test]
async fn websocket_control_ping_flood_is_rate_limited_too() {
    let server = TestServer::with(|c| {
        c.ws_rate_limit_per_sec = 5;
        c.ws_rate_limit_burst = 5;
    })
    .await;
    let (mut ws, _) = server.connect_ready("").await;
    for _ in 0..30 {
        if ws.send(Message::Ping(vec![1u8].into())).await.is_err() {
            break;
        }
    }
    let err = next_non_ping(&mut ws).await;
    assert_eq!(
        (err["type"].as_str(), err["code"].as_str()),
        (Some("error"), Some("rate_limited"))
    );
    assert_eq!(close_code(&mut ws).await, 1008);
}

#[tokio::test]
async fn websocket_concurrent_writes_arrive_once_each_in_seq_order() {
    let server = std::sync::Arc::new(TestServer::start().await);
    let (mut ws, _) = server.connect_ready("").await;
    let writers: Vec<_> = (1..=24u8)
        .map(|n| {
            let server = server.clone();
            tokio::spawn(async move { server.create_anchor(n, &format!("C{n}")).await })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for w in writers {
        ids.insert(w.await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    for _ in 0..24 {
        let f = next_non_ping(&mut ws).await;
        assert!(
            ids.remove(f["anchor_id"].as_str().unwrap()),
            "each write is broadcast exactly once"
        );
        seen.push(f["seq"].as_u64().unwrap());
    }
    assert_eq!(seen, (1..=24).collect::<Vec<u64>>());
    assert_eq!(server.seq().await, 24);
}

#[tokio::test]
async fn websocket_subscribe_over_the_key_cap_gets_too_many_topics_and_stays_open() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    // 1100 keys of 40 bytes fit in one 64 KiB frame; only 1024 may be held.
    let topics: Vec<String> = (0..1100).map(|i| format!("corridor:K{i:037}")).collect();
    let frame = serde_json::json!({"type": "subscribe", "topics": topics}).to_string();
    send_text(&mut ws, &frame).await;
    let err = next_json(&mut ws).await;
    assert_eq!(err["code"], "too_many_topics");
    assert!(err["message"]
        .as_str()
        .unwrap()
        .starts_with("76 keyed topics"));
    round_trip(&mut ws, 11).await;
}

#[tokio::test]
async fn websocket_topics_query_over_the_key_cap_is_refused_with_400() {
    let server = TestServer::start().await;
    let topics: Vec<String> = (0..1025).map(|i| format!("anchor:{i}")).collect();
    let req = server.request(&format!("?topics={}", topics.join(",")));
    assert_eq!(server.refused_status(req).await, 400);
}
