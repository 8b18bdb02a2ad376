//! A client that never reads must not grow server memory: the real binary's
//! RSS is measured while non-reading clients are fed thousands of updates.

mod fault;

use std::time::{Duration, Instant};

use fault::rest::{create_corridor, metric};
use serde_json::json;
use tokio::net::TcpSocket;

/// Non-reading clients, count.
const CLIENTS: usize = 40;
/// Updates per measurement phase, count.
const PHASE: u64 = 1_500;

async fn stream_updates(http: &reqwest::Client, base: &str, id: &str, from: u64, n: u64) {
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let (http, url) = (http.clone(), format!("{base}/api/corridors/{id}/metrics"));
            tokio::spawn(async move {
                for i in (from + w..from + n).step_by(4) {
                    let body = json!({"total_transactions": i, "successful_transactions": 0, "volume_usd": i as f64});
                    let r = http.put(&url).json(&body).send().await.unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// RSS (KiB) before the unread updates, after one phase, after two, and at
/// a last reading (after the clients were let go, or after twice as many
/// updates again): bounded growth, then flat (bounded by connections and
/// keys, not by updates).
fn assert_rss_flat(before: u64, mid: u64, after: u64, end: u64) {
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} to {after} KiB"
    );
    assert!(
        after < mid + 8 * 1024,
        "RSS still growing: {mid} -> {after} KiB"
    );
    assert!(
        end < after + 4 * 1024,
        "RSS still growing: {after} -> {end} KiB"
    );
}

async fn open_connections(http: &reqwest::Client, base: &str) -> u64 {
    metric(http, base, "stellar_ws_connections_open")
        .await
        .expect("/metrics answers with stellar_ws_connections_open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_keeps_server_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // Heartbeat 1 s: a stalled send is given up after 2.5 s.
    let server = fault::server::start(
        dir.path(),
        &[
            ("WS_PING_INTERVAL_SECS", "1"),
            ("TCP_SEND_BUFFER_BYTES", "8192"),
        ],
    );
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let id = create_corridor(&http, &base).await;
    // Warm up allocator, SQLite cache and the broadcast ring before measuring.
    stream_updates(&http, &base, &id, 0, PHASE).await;
    let rss_before = server.rss_kib();

    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        // A small receive buffer, so the kernel cannot hide the backlog.
        let sock = TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let tcp = sock.connect(server.addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", server.addr), tcp)
            .await
            .unwrap();
        held.push(ws); // never read
    }
    assert_eq!(open_connections(&http, &base).await, CLIENTS as u64);
    stream_updates(&http, &base, &id, PHASE, PHASE).await;
    let rss_mid = server.rss_kib();
    stream_updates(&http, &base, &id, 2 * PHASE, PHASE).await;
    let rss_after = server.rss_kib();
    // Every non-reader is let go within a few heartbeats.
    let deadline = Instant::now() + Duration::from_secs(15);
    while open_connections(&http, &base).await > 0 {
        assert!(
            Instant::now() < deadline,
            "server still holds non-reading clients"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let rss_end = server.rss_kib();
    eprintln!(
        "non-reader: {CLIENTS} clients, {} updates each unread; RSS KiB before {rss_before}, after {PHASE} {rss_mid}, after {} {rss_after}, all dropped {rss_end}; fds {}",
        2 * PHASE,
        2 * PHASE,
        server.open_fds()
    );
    // Unbounded buffering would cost CLIENTS x 3000 x ~300 B = 36 MB here.
    assert_rss_flat(rss_before, rss_mid, rss_after, rss_end);
    drop(held);
}

/// State connections that never read: falling behind conflates instead of closing
/// 4001, and what each one holds is bounded by keys (one record per corridor and
/// anchor sent), not by updates. With a long heartbeat they stay connected, so
/// their memory is measured while the updates pile up unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_clients_that_never_read_stay_bounded_by_keys() {
    use fault::rest::{account, send_json};
    use futures_util::SinkExt;
    let dir = tempfile::tempdir().unwrap();
    let server = fault::server::start(
        dir.path(),
        &[
            ("WS_PING_INTERVAL_SECS", "60"),
            ("TCP_SEND_BUFFER_BYTES", "8192"),
            // A short log, so the database's own memory (page cache over a growing
            // log) stops growing during the warm-up and what remains is the connections'.
            ("UPDATE_LOG_RETENTION", "500"),
        ],
    );
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let id = create_corridor(&http, &base).await;
    // The dashboard's other 11 corridors and 8 anchors: 20 keys per connection.
    for n in 0..11u8 {
        let body = json!({"source_asset_code": format!("K{n}"), "source_asset_issuer": account(n + 10),
                          "dest_asset_code": "EURC", "dest_asset_issuer": account(2)});
        let _: serde_json::Value =
            send_json(http.post(format!("{base}/api/corridors")).json(&body)).await;
    }
    for n in 0..8u8 {
        let body = json!({"name": format!("A{n}"), "stellar_account": account(n + 30)});
        let _: serde_json::Value =
            send_json(http.post(format!("{base}/api/anchors")).json(&body)).await;
    }
    stream_updates(&http, &base, &id, 0, 2 * PHASE).await;
    let rss_before = server.rss_kib();
    let mut held = Vec::new();
    for _ in 0..CLIENTS {
        let sock = TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let tcp = sock.connect(server.addr).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", server.addr), tcp)
            .await
            .unwrap();
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            r#"{"type":"subscribe","topics":["corridors","anchors","snapshots"],"state":true}"#
                .into(),
        ))
        .await
        .unwrap();
        held.push(ws); // never read
    }
    // Every connection has been answered (20 records) and holds its keys.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_connected = server.rss_kib();
    stream_updates(&http, &base, &id, 2 * PHASE, PHASE).await;
    let rss_mid = server.rss_kib();
    stream_updates(&http, &base, &id, 3 * PHASE, PHASE).await;
    let rss_after = server.rss_kib();
    stream_updates(&http, &base, &id, 4 * PHASE, 2 * PHASE).await;
    let rss_end = server.rss_kib();
    let open = open_connections(&http, &base).await;
    let slow = metric(
        &http,
        &base,
        "stellar_ws_resyncs_total{reason=\"slow_consumer\"}",
    )
    .await
    .unwrap_or(0);
    eprintln!(
        "state non-reader: {CLIENTS} clients x 20 keys, {} updates each unread; RSS KiB before {rss_before}, connected and answered {rss_connected} ({:.1} KiB per connection), after {PHASE} {rss_mid}, after {} {rss_after}, after {} {rss_end}; still open {open}",
        4 * PHASE,
        (rss_connected.saturating_sub(rss_before)) as f64 / CLIENTS as f64,
        2 * PHASE,
        4 * PHASE,
    );
    assert_eq!(
        open, CLIENTS as u64,
        "state connections are not closed for being slow"
    );
    assert_eq!(slow, 0, "no slow_consumer resync for state connections");
    assert_rss_flat(rss_before, rss_mid, rss_after, rss_end);
    drop(held);
}
