//! No lost updates under faults: a writer streams REST updates while the real
//! server binary is SIGKILLed and restarted, the client's TCP path (a fault
//! proxy) is cut, black-holed, delayed and throttled until the server's queue
//! for it overflows. The client is the wasm client's own state machine driven
//! natively. At the end it must have delivered every `seq` exactly once, in
//! order, except ranges it was told it could not get (`resync_required`), and
//! its view must match a REST reload.
//!
//! Short by default (runs in the test command). Long run:
//! `FAULT_UPDATES=100000 FAULT_FAULTS=60 cargo test -p stellar-insights-server --test faults -- --nocapture`.

mod fault;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault::client::{Client, Record};
use fault::proxy::{Mode, Proxy};
use fault::rest::{account, metric, send_json};
use serde_json::{json, Value};
use stellar_insights_client_core::machine::Config;
use stellar_insights_client_core::protocol::ResyncReason;
use tokio::sync::Mutex;

/// Heartbeat of the server under test, s: short so black holes are noticed fast.
const PING_SECS: &str = "0.2";
/// Corridors the writer updates round robin, count.
const CORRIDORS: usize = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Default)]
struct Tally {
    kills: u32,
    cuts: u32,
    black_holes: u32,
    throttles: u32,
    delays: u32,
}

impl Tally {
    fn total(&self) -> u32 {
        self.kills + self.cuts + self.black_holes + self.throttles + self.delays
    }
}

/// Retries until the server (which may be restarting) answers 2xx.
async fn write(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> Value {
    loop {
        let sent = http
            .request(method.clone(), format!("{base}{path}"))
            .json(body)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(r) = sent {
            if r.status().is_success() {
                return r.json().await.unwrap();
            }
            assert!(
                r.status().is_server_error(),
                "write refused: {}",
                r.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_update_is_lost_or_duplicated_across_kills_cuts_black_holes_and_throttling() {
    let updates = env_or("FAULT_UPDATES", 2_000);
    let faults = env_or("FAULT_FAULTS", 12) as u32;
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let server = fault::server::start(
        dir.path(),
        &[
            ("WS_PING_INTERVAL_SECS", PING_SECS),
            ("WS_SEND_QUEUE", "32"),
            ("TCP_SEND_BUFFER_BYTES", "4096"),
        ],
    );
    let base = format!("http://{}", server.addr);
    let proxy = Proxy::start(server.addr).await;
    let http = reqwest::Client::new();
    let client = Client::start(Config {
        url: format!("ws://{}/ws", proxy.addr),
        connect_timeout_ms: 1_000,
        stable_after_ms: 1_000,
        backoff: stellar_insights_client_core::backoff::Backoff {
            base_ms: 100,
            cap_ms: 1_000,
            max_attempts: None,
        },
        ..Config::default()
    });
    // Live-only until the first update: wait for the socket so seq 1 is seen.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&http, &base, "stellar_ws_connections_open")
        .await
        .unwrap_or(0)
        < 1
    {
        assert!(Instant::now() < deadline, "client never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut ids = Vec::new();
    for n in 0..CORRIDORS as u8 {
        let body = json!({"source_asset_code": format!("C{n}"), "source_asset_issuer": account(n + 1),
                          "dest_asset_code": "EURC", "dest_asset_issuer": account(200)});
        let c = write(&http, &base, reqwest::Method::POST, "/api/corridors", &body).await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }

    let written = Arc::new(AtomicU64::new(0));
    let faults_done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (http, base, ids) = (http.clone(), base.clone(), ids.clone());
            let (written, faults_done) = (written.clone(), faults_done.clone());
            tokio::spawn(async move {
                let mut i = w as u64;
                while written.load(Ordering::Relaxed) < updates || !faults_done.load(Ordering::Relaxed) {
                    let id = &ids[i as usize % ids.len()];
                    let body = json!({"total_transactions": i + 10, "successful_transactions": i, "volume_usd": i as f64});
                    write(&http, &base, reqwest::Method::PUT, &format!("/api/corridors/{id}/metrics"), &body).await;
                    written.fetch_add(1, Ordering::Relaxed);
                    i += 2;
                }
            })
        })
        .collect();

    let server = Arc::new(Mutex::new(server));
    let mut tally = Tally::default();
    let pass = || tokio::time::sleep(Duration::from_millis(600));
    while tally.total() < faults {
        pass().await;
        // Each fault hits a live connection (not one still in backoff), so
        // e.g. a black hole must be noticed by the heartbeat, not a connect timeout.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !client.open.load(Ordering::Relaxed) {
            assert!(
                Instant::now() < deadline,
                "client did not reconnect within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match tally.total() % 5 {
            0 => {
                server.lock().await.kill();
                tokio::time::sleep(Duration::from_millis(300)).await;
                server.lock().await.restart();
                tally.kills += 1;
            }
            1 => {
                proxy.cut();
                tally.cuts += 1;
            }
            2 => {
                // Longer than the client's 0.5 s heartbeat timeout plus one
                // 1 s connect timeout through the hole.
                proxy.set(Mode::BlackHole);
                tokio::time::sleep(Duration::from_millis(1_800)).await;
                proxy.set(Mode::Pass);
                tally.black_holes += 1;
            }
            3 => {
                // Slow enough that the server's sends stall and its queue of
                // 32 overflows; it notices when the stalled send completes.
                proxy.set(Mode::Throttle(3_000));
                let started = Instant::now();
                // Twice the queue in writes while throttled, whatever the
                // background writers manage on a loaded machine (at ~85
                // writes/s they once did not overflow it).
                for n in 0..64u64 {
                    let id = &ids[n as usize % ids.len()];
                    let body = json!({"total_transactions": n + 10, "successful_transactions": n, "volume_usd": n as f64});
                    write(
                        &http,
                        &base,
                        reqwest::Method::PUT,
                        &format!("/api/corridors/{id}/metrics"),
                        &body,
                    )
                    .await;
                }
                tokio::time::sleep(Duration::from_millis(1_500).saturating_sub(started.elapsed()))
                    .await;
                proxy.set(Mode::Pass);
                tally.throttles += 1;
            }
            _ => {
                proxy.set(Mode::Delay(Duration::from_millis(80)));
                tokio::time::sleep(Duration::from_millis(800)).await;
                proxy.set(Mode::Pass);
                tally.delays += 1;
            }
        }
    }
    faults_done.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let head: u64 = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["seq"]
        .as_u64()
        .unwrap();
    // Let the client catch up to the head (it may be mid-backoff).
    let record = wait_for_head(client, head).await;
    let (rss_kib, fds) = {
        let s = server.lock().await;
        (s.rss_kib(), s.open_fds())
    };
    eprintln!(
        "faults: {} updates (head seq {head}) in {:.1} s, {tally:?}, client opens {}, resyncs {:?}, errors {:?}, server RSS {rss_kib} KiB, fds {fds}",
        written.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        record.opens,
        record.resyncs.iter().map(|r| r.0.as_ref().map_or("", |r| r.as_str())).collect::<Vec<_>>(),
        record.errors,
    );
    verify(&record, head);
    assert_view_matches_rest(&record, &http, &base).await;
    assert!(
        record.errors.get("HeartbeatTimeout").copied().unwrap_or(0) >= tally.black_holes,
        "each black hole must be noticed by the heartbeat timeout: {:?}",
        record.errors
    );
    let slow = record
        .resyncs
        .iter()
        .filter(|r| r.0 == Some(ResyncReason::SlowConsumer))
        .count();
    assert!(slow >= 1, "throttling never overflowed the server's queue");
    assert!(
        record.opens as u32 > tally.kills + tally.cuts,
        "client did not reconnect after every fault"
    );
}

async fn wait_for_head(client: Client, head: u64) -> Record {
    // Bounded by the backoff cap (1 s) plus a replay of what was missed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.last_seq.load(Ordering::Relaxed) < head && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let record = client.stop().await;
    assert_eq!(
        record.delivered.last().map(|d| d.0),
        Some(head),
        "client did not catch up to the server head"
    );
    record
}

/// Every seq from the first to `head` exactly once, in order; a gap only
/// right after a `resync_required` that says the server could not replay it.
fn verify(record: &Record, head: u64) {
    let seqs: Vec<u64> = record.delivered.iter().map(|d| d.0).collect();
    assert_eq!(seqs.first(), Some(&1), "first update missed");
    for w in seqs.windows(2) {
        let (a, b) = (w[0], w[1]);
        assert!(
            b > a,
            "seq {b} delivered after {a}: duplicate or out of order"
        );
        if b != a + 1 {
            let excused = record.resyncs.iter().any(|(reason, before)| {
                *before == Some(a)
                    && matches!(reason, Some(ResyncReason::Pruned | ResyncReason::FutureSeq))
            });
            assert!(
                excused,
                "updates {}..={} lost without resync_required",
                a + 1,
                b - 1
            );
        }
    }
    assert_eq!(*seqs.last().unwrap(), head);
}

/// The client's view (last update per corridor) equals a REST reload.
async fn assert_view_matches_rest(record: &Record, http: &reqwest::Client, base: &str) {
    let mut view: BTreeMap<String, u64> = BTreeMap::new();
    for (_, text) in &record.delivered {
        let v: Value = serde_json::from_str(text).unwrap();
        if v["type"] == "corridor_update" {
            view.insert(
                v["corridor_key"].as_str().unwrap().to_owned(),
                v["total_transactions"].as_u64().unwrap(),
            );
        }
    }
    let rest: Vec<Value> = send_json(http.get(format!("{base}/api/corridors"))).await;
    let rest: BTreeMap<String, u64> = rest
        .iter()
        .map(|c| {
            (
                c["corridor_key"].as_str().unwrap().to_owned(),
                c["total_transactions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(view, rest, "client view differs from a REST reload");
}
