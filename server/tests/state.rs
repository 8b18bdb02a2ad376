//! State on subscribe, field deltas and conflation over real sockets
//! (`subscribe` with `"state": true`; see server/CONFIG.md). SQLite by default,
//! PostgreSQL with `TEST_STORE=postgres`. Run them with
//! `cargo test -p stellar-insights-server --test state`.

mod common;
#[allow(dead_code)]
#[path = "fault/proxy.rs"]
mod fault_proxy;

use std::time::{Duration, Instant};

use common::view::{rest_table, View};
use common::*;
use fault_proxy::{Mode, Proxy};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

const STATE_ALL: &str =
    r#"{"type":"subscribe","topics":["corridors","anchors","snapshots"],"state":true}"#;

/// 12 corridors and 8 anchors, as the dashboard shows; returns (corridor ids, anchor ids).
async fn dashboard_records(server: &TestServer) -> (Vec<String>, Vec<String>) {
    let mut corridors = Vec::new();
    for n in 0..12u8 {
        let c = server.create_corridor(&format!("C{n:02}"), n + 1).await;
        corridors.push(c["id"].as_str().unwrap().to_owned());
    }
    let mut anchors = Vec::new();
    for n in 0..8u8 {
        let a = server.create_anchor(n + 50, &format!("Anchor {n}")).await;
        anchors.push(a["id"].as_str().unwrap().to_owned());
    }
    (corridors, anchors)
}

/// Writes metrics round-robin over the records at about `per_sec` writes a second
/// (at most as fast as the server answers) until `stop` is set; returns the writes done.
fn writer(
    base: String,
    corridors: Vec<String>,
    anchors: Vec<String>,
    per_sec: u32,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> JoinHandle<u64> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let period = Duration::from_secs_f64(1.0 / f64::from(per_sec));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut i = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            tick.tick().await;
            let n = i as usize;
            let r = if n % 3 == 2 {
                let id = &anchors[n % anchors.len()];
                let ok = (i * 7) % 101;
                http.put(format!("{base}/api/anchors/{id}/metrics"))
                    .json(&json!({"total_transactions": 100, "successful_transactions": ok, "failed_transactions": 100 - ok}))
            } else {
                let id = &corridors[n % corridors.len()];
                http.put(format!("{base}/api/corridors/{id}/metrics"))
                    .json(&json!({"total_transactions": 1000 + i, "successful_transactions": (i * 13) % 1000,
                                  "volume_usd": (i % 17) as f64 * 1000.5}))
            };
            let r = r.send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            i += 1;
        }
        i
    })
}

async fn rest(server: &TestServer) -> Value {
    let (_, corridors) = server.get("/api/corridors").await;
    let (_, anchors) = server.get("/api/anchors").await;
    rest_table(&corridors, &anchors)
}

/// Reads frames into `view` until it has seen `seq` (fails after `limit`).
async fn read_until<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, view: &mut View, seq: u64)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while view.max_seq < seq {
        let f = next_json(ws).await;
        view.apply(&f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_on_subscribe_while_writes_stream_ends_equal_to_rest() {
    let server = TestServer::start().await;
    let (corridors, anchors) = dashboard_records(&server).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(server.url(""), corridors, anchors, 200, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut ws, _) = server.connect_ready("").await;
    send_text(&mut ws, STATE_ALL).await;
    let mut view = View::default();
    // The answer arrives while writes go on; live frames follow it.
    while view.answers == 0 {
        let f = next_json(&mut ws).await;
        view.apply(&f);
    }
    let deadline = Instant::now() + Duration::from_millis(800);
    while Instant::now() < deadline {
        if let Ok(f) = tokio::time::timeout(Duration::from_millis(50), next_json(&mut ws)).await {
            view.apply(&f);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = w.await.unwrap();
    let last = server.seq().await;
    read_until(&mut ws, &mut view, last).await;
    assert_eq!(
        view.table(),
        rest(&server).await,
        "view after state + live = REST"
    );
    assert!(view.deltas > 0, "live changes of known keys come as deltas");
    assert_eq!(view.table()["corridors"].as_object().unwrap().len(), 12);
    assert_eq!(view.table()["anchors"].as_object().unwrap().len(), 8);
    eprintln!(
        "{writes} writes; {} deltas, {} full, {} chunks",
        view.deltas, view.fulls, view.chunks
    );
    round_trip(&mut ws, 1).await;
}

#[tokio::test]
async fn state_answers_come_in_chunks_of_at_most_256_records_with_one_seq() {
    let server = TestServer::start().await;
    for n in 0..300u16 {
        server.create_corridor(&format!("K{n:03}"), 1).await;
    }
    server.create_anchor(1, "One").await;
    server.post("/api/snapshots", &json!({})).await;
    let (mut ws, _) = server.connect_ready("").await;
    send_text(&mut ws, STATE_ALL).await;
    let mut chunks = Vec::new();
    loop {
        let f = next_non_ping(&mut ws).await;
        assert_eq!(f["type"], "state", "{f}");
        let done = f["done"] == true;
        chunks.push(f);
        if done {
            break;
        }
    }
    assert_eq!(chunks.len(), 2);
    let seq = server.seq().await;
    let mut records = 0;
    for c in &chunks {
        assert_eq!(c["seq"], seq, "one S for the whole answer");
        let n = c["corridors"].as_array().unwrap().len()
            + c["anchors"].as_array().unwrap().len()
            + usize::from(c.get("snapshot").is_some());
        assert!(n <= 256, "{n} records in one chunk");
        records += n;
    }
    assert_eq!(records, 302);
    let snapshot = chunks
        .iter()
        .find_map(|c| c.get("snapshot"))
        .expect("latest snapshot");
    assert_eq!(snapshot["epoch"], 1);
    assert!(snapshot.get("seq").is_none());
    // An empty selection is one empty chunk.
    send_text(
        &mut ws,
        r#"{"type":"subscribe","topics":["anchor:nobody"],"state":true}"#,
    )
    .await;
    let f = next_non_ping(&mut ws).await;
    assert_eq!(
        f,
        json!({"type":"state","seq":seq,"corridors":[],"anchors":[],"done":true})
    );
}

#[tokio::test]
async fn a_second_change_of_a_key_is_a_delta_with_only_the_changed_fields() {
    let server = TestServer::start().await;
    let c = server.create_corridor("USDC", 1).await;
    let id = c["id"].as_str().unwrap();
    let (mut ws, _) = server.connect_ready("").await;
    send_text(
        &mut ws,
        r#"{"type":"subscribe","topics":["corridors"],"state":true}"#,
    )
    .await;
    let state = next_non_ping(&mut ws).await;
    let r = state["corridors"][0]["ref"].as_u64().unwrap();
    let body = json!({"total_transactions": 10, "successful_transactions": 5, "volume_usd": 0.0});
    server
        .put(&format!("/api/corridors/{id}/metrics"), &body)
        .await;
    let d = next_non_ping(&mut ws).await;
    assert_eq!(
        d,
        json!({"type":"corridor_delta","ref":r,"seq":2,"r":50.0,"n":10})
    );
    let body = json!({"total_transactions": 10, "successful_transactions": 5, "volume_usd": 7.5});
    server
        .put(&format!("/api/corridors/{id}/metrics"), &body)
        .await;
    let d = next_non_ping(&mut ws).await;
    assert_eq!(d, json!({"type":"corridor_delta","ref":r,"seq":3,"v":7.5}));
    // A corridor created later arrives in full, with a new ref.
    server.create_corridor("EURT", 2).await;
    let f = next_non_ping(&mut ws).await;
    assert_eq!(f["type"], "corridor_update");
    assert_eq!(f["seq"], 4);
    assert!(f["ref"].as_u64().unwrap() != r);
    // A client that lost the base re-requests the key: its full current record, same ref, S = head.
    let key = c["corridor_key"].as_str().unwrap();
    send_text(
        &mut ws,
        &json!({"type":"subscribe","topics":[format!("corridor:{key}")],"state":true}).to_string(),
    )
    .await;
    let again = next_non_ping(&mut ws).await;
    assert_eq!(again["type"], "state");
    assert_eq!(again["seq"], 4);
    assert_eq!(again["done"], true);
    assert_eq!(again["corridors"].as_array().unwrap().len(), 1);
    let record = &again["corridors"][0];
    assert_eq!(record["ref"], r);
    assert_eq!(
        (
            record["volume_usd"].as_f64(),
            record["total_transactions"].as_u64()
        ),
        (Some(7.5), Some(10))
    );
    // And deltas continue against that record.
    let body = json!({"total_transactions": 11, "successful_transactions": 5, "volume_usd": 7.5});
    server
        .put(&format!("/api/corridors/{id}/metrics"), &body)
        .await;
    let d = next_non_ping(&mut ws).await;
    assert_eq!(d["type"], "corridor_delta");
    assert_eq!(
        (d["ref"].as_u64(), d["seq"].as_u64(), d["n"].as_u64()),
        (Some(r), Some(5), Some(11))
    );
}

#[tokio::test]
async fn subscribe_with_a_state_that_is_not_a_boolean_gets_a_clear_error_and_stays_open() {
    let server = TestServer::start().await;
    server.create_anchor(1, "A").await;
    let (mut ws, _) = server.connect_ready("").await;
    send_text(
        &mut ws,
        r#"{"type":"subscribe","topics":["anchors"],"state":"yes"}"#,
    )
    .await;
    let e = next_non_ping(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "invalid_message");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("state") && message.contains("boolean"),
        "{message}"
    );
    round_trip(&mut ws, 7).await;
    // Nothing was subscribed and no state sent: the connection still gets everything, v1.
    server.create_corridor("USDC", 2).await;
    let f = next_non_ping(&mut ws).await;
    assert_eq!(f["type"], "corridor_update");
    assert!(f.get("ref").is_none(), "{f}");
}

/// A client of the seed protocol (plain WebSocket, no `state`) gets exactly
/// the v1 frames: full updates, no `ref`, `conflated` or deltas, even while a
/// state connection on the same server gets deltas for the same writes.
#[tokio::test]
async fn a_v1_client_sees_exactly_the_v1_frames() {
    let server = TestServer::start().await;
    let c = server.create_corridor("USDC", 1).await;
    let id = c["id"].as_str().unwrap();
    let (mut v1, _) = server.connect_ready("").await;
    let (mut v1_sub, _) = server.connect_ready("").await;
    send_text(
        &mut v1_sub,
        r#"{"type":"subscribe","topics":["corridors"]}"#,
    )
    .await;
    round_trip(&mut v1_sub, 1).await;
    let (mut st, _) = server.connect_ready("").await;
    send_text(
        &mut st,
        r#"{"type":"subscribe","topics":["corridors"],"state":true}"#,
    )
    .await;
    assert_eq!(next_non_ping(&mut st).await["type"], "state");
    for n in 1..=3u64 {
        let body =
            json!({"total_transactions": n * 10, "successful_transactions": n, "volume_usd": 1.0});
        server
            .put(&format!("/api/corridors/{id}/metrics"), &body)
            .await;
    }
    for ws in [&mut v1, &mut v1_sub] {
        for n in 1..=3u64 {
            let f = next_non_ping(ws).await;
            let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(
                keys,
                [
                    "corridor_id",
                    "corridor_key",
                    "seq",
                    "success_rate",
                    "total_transactions",
                    "type",
                    "volume_usd"
                ],
                "{f}"
            );
            assert_eq!(f["type"], "corridor_update");
            assert_eq!(f["seq"], n + 1);
            assert_eq!(f["total_transactions"], n * 10);
        }
    }
    for _ in 1..=3 {
        assert_eq!(next_non_ping(&mut st).await["type"], "corridor_delta");
    }
}

/// Resume and state together: `?since=` replays, then the `subscribe … state`
/// answer; with per-key versions the view is exact and nothing applies twice.
#[tokio::test]
async fn resume_with_since_then_state_is_exact_and_applies_nothing_twice() {
    let server = TestServer::start().await;
    let (corridors, anchors) = dashboard_records(&server).await;
    let since = server.seq().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(server.url(""), corridors, anchors, 100, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut ws, hello) = server.connect_ready(&format!("?since={since}")).await;
    assert_eq!(hello["resumed"], true);
    send_text(&mut ws, STATE_ALL).await;
    let mut view = View::default();
    // Replayed v1 frames come first (no ref): apply them as a v1 client would, by seq.
    loop {
        let f = next_non_ping(&mut ws).await;
        if f["type"] == "state"
            || f.get("ref").is_some()
            || f["type"].as_str().unwrap().ends_with("_delta")
        {
            view.apply(&f);
            break;
        }
        assert!(f["type"].as_str().unwrap().ends_with("_update"), "{f}");
        view.max_seq = view.max_seq.max(f["seq"].as_u64().unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    w.await.unwrap();
    let last = server.seq().await;
    read_until(&mut ws, &mut view, last).await;
    assert_eq!(view.table(), rest(&server).await);
}

/// A state client behind a 2 kB/s link while up to 200 updates/s stream (deltas are
/// small: at 20 kB/s it keeps up, see bench/RESULTS.md): never closed (conflated
/// catch-ups instead of close 4001), and exact once the link is fast again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_state_client_stays_connected_and_converges_with_conflated_frames() {
    let server = TestServer::with(|c| {
        c.ws_send_queue = 16;
        c.tcp_send_buffer_bytes = Some(4096);
    })
    .await;
    let (corridors, anchors) = dashboard_records(&server).await;
    let proxy = Proxy::start(server.addr).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", proxy.addr))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    ws_send(&mut ws, STATE_ALL).await;
    let mut view = View::default();
    while view.answers == 0 {
        let f = next_json(&mut ws).await;
        view.apply(&f);
    }
    proxy.set(Mode::Throttle(2_000));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(server.url(""), corridors, anchors, 200, stop.clone());
    // At least 3 s, and until the server conflated (however slowly the writers run).
    let start = Instant::now();
    loop {
        if let Ok(f) = tokio::time::timeout(Duration::from_millis(100), next_json(&mut ws)).await {
            assert_ne!(f["type"], "resync_required", "{f}");
            view.apply(&f);
        }
        let long = start.elapsed() > Duration::from_secs(3);
        if long && (view.conflated > 0 || start.elapsed() > Duration::from_secs(20)) {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes = w.await.unwrap();
    proxy.set(Mode::Pass);
    let released = Instant::now();
    let last = server.seq().await;
    read_until(&mut ws, &mut view, last).await;
    let converged = released.elapsed();
    assert_eq!(view.table(), rest(&server).await);
    let conflations = server.metric("stellar_ws_conflations_total").await;
    assert!(
        conflations >= 1.0,
        "the client fell behind and was conflated"
    );
    assert!(view.conflated > 0, "conflated frames were flagged");
    assert_eq!(
        server
            .metric("stellar_ws_resyncs_total{reason=\"slow_consumer\"}")
            .await,
        0.0
    );
    eprintln!(
        "throttled: {writes} writes, {conflations} conflations, {} conflated frames, converged {converged:?} after the throttle ended",
        view.conflated
    );
    assert!(
        converged < Duration::from_secs(3),
        "converged after {converged:?}"
    );
}

async fn ws_send<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, text: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
        .await
        .unwrap();
}
