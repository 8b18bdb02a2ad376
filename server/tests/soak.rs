//! Soak (not in CI): one server process, many clients, continuous updates
//! and a fault a minute for a long time; samples every 30 s the server's RSS
//! and open file descriptors and the browser client's wasm memory and JS
//! heap, and fails if any of them still grows after warm-up.
//!
//! `SOAK_SECS=1800 SOAK_CLIENTS=500 cargo test -p stellar-insights-server --test soak -- --ignored --nocapture`
//!
//! Needs `scripts/build-wasm.sh` (pkg/) and `npm ci` in bench/ for the
//! browser client (headless Chromium through `bench/soak/browser.mjs`).
//! Settings (environment): `SOAK_SECS` (default 1800 s), `SOAK_CLIENTS`
//! (plain readers, default 500), `SOAK_UPDATES_PER_SEC` (default 20),
//! `SOAK_BROWSER` (`0`: no browser client; default on), `SOAK_RESTARTS`
//! (`1`: add SIGKILL + restart of the server to the fault rotation, so RSS
//! and fds are only flat per process lifetime; default off, so one process
//! lives the whole soak).
//!
//! Everything connects through the fault proxy: the readers, one native
//! client on the wasm client's state machine (checked for order) and the
//! browser client. Fault rotation: proxy cut, 20 s black hole, 10 s throttle
//! to 20 kB/s, half of the readers closing at once (a client-side close
//! handshake, not a TCP cut), and the restart when enabled.

mod fault;
mod soak_browser;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault::client::Client;
use fault::proxy::{Mode, Proxy};
use fault::rest::create_corridor;
use fault::server::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use soak_browser::{Browser, BrowserSample};
use stellar_insights_client_core::machine::Config;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Cut,
    BlackHole,
    Throttle,
    CloseHalf,
    Restart,
}

/// A plain reader that answers the server's heartbeat and reconnects after
/// every loss; counts the frames it reads. Even-numbered readers close their
/// socket (close frame, then drop) whenever `close_half` changes.
async fn reader(
    url: String,
    frames: Arc<AtomicU64>,
    reconnects: Arc<AtomicU64>,
    n: u64,
    mut close_half: watch::Receiver<u64>,
) {
    loop {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await {
            close_half.mark_unchanged();
            let (mut sink, mut stream) = ws.split();
            loop {
                let msg = tokio::select! {
                    msg = stream.next() => msg,
                    Ok(()) = close_half.changed(), if n % 2 == 0 => {
                        let _ = sink.send(Message::Close(None)).await;
                        break;
                    }
                };
                let Some(Ok(msg)) = msg else { break };
                frames.fetch_add(1, Ordering::Relaxed);
                if let Message::Text(text) = msg {
                    if text.starts_with(r#"{"type":"ping""#) {
                        let ping: Value = serde_json::from_str(&text).unwrap();
                        let pong = json!({"type": "pong", "timestamp": ping["timestamp"]});
                        if sink
                            .send(Message::Text(pong.to_string().into()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        }
        reconnects.fetch_add(1, Ordering::Relaxed);
        // Spread the reconnect storm after a fault over a second.
        tokio::time::sleep(Duration::from_millis(100 + (n * 7919) % 900)).await;
    }
}

/// One 30-second sample.
struct Sample {
    t: u64,
    rss_kib: u64,
    fds: usize,
    updates: u64,
    frames: u64,
    reconnects: u64,
    /// Faults applied since the previous sample.
    faults: Vec<Fault>,
    browser: Option<BrowserSample>,
}

impl Sample {
    fn line(&self) -> String {
        let mut s = format!(
            "t={}s rss={}KiB fds={} updates={} frames_read={} reconnects={} faults={:?}",
            self.t, self.rss_kib, self.fds, self.updates, self.frames, self.reconnects, self.faults
        );
        if let Some(b) = &self.browser {
            s += &format!(
                " wasm={}KiB js_heap={}KiB browser_delivered={} last_seq={} seq_violations={} opens={} resyncs={} errors={:?}",
                b.wasm_bytes / 1024, b.js_heap_bytes / 1024, b.delivered, b.last_seq,
                b.seq_violations, b.opens, b.resyncs, b.errors
            );
        }
        s
    }
}

/// Peaks of `f` over the first, middle and last third of `samples`.
fn thirds(samples: &[Sample], f: impl Fn(&Sample) -> u64) -> [u64; 3] {
    let third = samples.len() / 3;
    let peak = |s: &[Sample]| s.iter().map(&f).max().unwrap_or(0);
    [
        peak(&samples[..third]),
        peak(&samples[third..2 * third]),
        peak(&samples[2 * third..]),
    ]
}

async fn apply(fault: Fault, proxy: &Proxy, server: &mut Server, close_half: &watch::Sender<u64>) {
    match fault {
        Fault::Cut => proxy.cut(),
        Fault::BlackHole => {
            proxy.set(Mode::BlackHole);
            tokio::time::sleep(Duration::from_secs(20)).await;
            proxy.set(Mode::Pass);
        }
        Fault::Throttle => {
            proxy.set(Mode::Throttle(20_000));
            tokio::time::sleep(Duration::from_secs(10)).await;
            proxy.set(Mode::Pass);
        }
        Fault::CloseHalf => {
            close_half.send_modify(|n| *n += 1);
        }
        Fault::Restart => server.restart(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "30-minute soak; run by hand, see the file header"]
async fn soak_keeps_server_and_browser_client_memory_and_descriptors_flat() {
    let secs = env_or("SOAK_SECS", 1800);
    let clients = env_or("SOAK_CLIENTS", 500);
    let rate = env_or("SOAK_UPDATES_PER_SEC", 20);
    let with_browser = env_or("SOAK_BROWSER", 1) != 0;
    let restarts = env_or("SOAK_RESTARTS", 0) == 1;
    let mut rotation = vec![
        Fault::Cut,
        Fault::BlackHole,
        Fault::Throttle,
        Fault::CloseHalf,
    ];
    if restarts {
        rotation.push(Fault::Restart);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = fault::server::start(
        dir.path(),
        &[
            ("WS_PING_INTERVAL_SECS", "5"),
            ("WS_MAX_CONNECTIONS_PER_IP", "2000"),
        ],
    );
    let first_pid = server.pid();
    let base = format!("http://{}", server.addr);
    let proxy = Proxy::start(server.addr).await;
    let url = format!("ws://{}/ws", proxy.addr);
    let http = reqwest::Client::new();
    let id = create_corridor(&http, &base).await;

    let mut browser = with_browser.then(|| Browser::start(&url));
    let (frames, reconnects) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (close_half, close_rx) = watch::channel(0u64);
    for n in 0..clients {
        let counters = (frames.clone(), reconnects.clone());
        tokio::spawn(reader(
            url.clone(),
            counters.0,
            counters.1,
            n,
            close_rx.clone(),
        ));
    }
    let checked = Client::start(Config {
        url: url.clone(),
        ..Config::default()
    });
    let written = Arc::new(AtomicU64::new(0));
    {
        let (http, written) = (http.clone(), written.clone());
        let url = format!("{base}/api/corridors/{id}/metrics");
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
            let mut i = 0u64;
            loop {
                tick.tick().await;
                i += 1;
                let body = json!({"total_transactions": i, "successful_transactions": i / 2, "volume_usd": i as f64});
                if let Ok(r) = http.put(&url).json(&body).send().await {
                    if r.status().is_success() {
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }

    let start = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let (mut applied, mut since_sample) = (0usize, Vec::new());
    let mut next_sample = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        // A fault a minute, from the second minute on.
        let t = start.elapsed().as_secs();
        if t % 60 < 5 && t >= 60 {
            let fault = rotation[applied % rotation.len()];
            apply(fault, &proxy, &mut server, &close_half).await;
            since_sample.push(fault);
            applied += 1;
        }
        if start.elapsed() >= next_sample {
            next_sample += Duration::from_secs(30);
            let browser = browser
                .as_mut()
                .map(|b| tokio::task::block_in_place(|| b.sample()));
            let sample = Sample {
                t: start.elapsed().as_secs(),
                rss_kib: server.rss_kib(),
                fds: server.open_fds(),
                updates: written.load(Ordering::Relaxed),
                frames: frames.load(Ordering::Relaxed),
                reconnects: reconnects.load(Ordering::Relaxed),
                faults: std::mem::take(&mut since_sample),
                browser,
            };
            eprintln!("soak {}", sample.line());
            samples.push(sample);
        }
    }
    let record = checked.stop().await;
    assert!(server.running(), "the server process died during the soak");
    drop(browser); // closes Chromium before the verdict is printed

    let seqs: Vec<u64> = record.delivered.iter().map(|d| d.0).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "checked client saw a duplicate or reordering"
    );
    assert!(
        samples.len() >= 6,
        "{} samples: SOAK_SECS={secs} is too short to compare thirds",
        samples.len()
    );
    let mb = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    eprintln!("soak first: {}", samples[0].line());
    eprintln!("soak last:  {}", samples.last().unwrap().line());
    eprintln!(
        "soak done: {applied} faults ({rotation:?} in rotation), {} updates written, checked client delivered {}, server pid {first_pid} -> {}",
        written.load(Ordering::Relaxed),
        seqs.len(),
        server.pid()
    );
    eprintln!("soak table (t s | RSS MB | fds | wasm KiB | JS heap MB | browser delivered | faults before):");
    for s in &samples {
        let b = s.browser.clone().unwrap_or_default();
        eprintln!(
            "soak row | {} | {} | {} | {} | {:.1} | {} | {:?} |",
            s.t,
            mb(s.rss_kib),
            s.fds,
            b.wasm_bytes / 1024,
            b.js_heap_bytes as f64 / 1048576.0,
            b.delivered,
            s.faults
        );
    }

    // Flat after warm-up: the last third's peak against the middle third's.
    let rss = thirds(&samples, |s| s.rss_kib);
    let fds = thirds(&samples, |s| s.fds as u64);
    eprintln!("soak peaks per third: RSS KiB {rss:?}, fds {fds:?}");
    assert!(
        rss[2] <= rss[1] + rss[1] / 5 + 8 * 1024,
        "server RSS still growing: middle-third peak {} KiB -> last-third peak {} KiB",
        rss[1],
        rss[2]
    );
    // Every connection holds one descriptor: 16 more would be a leak.
    assert!(
        fds[2] <= fds[1] + 16,
        "server open fds still growing: middle-third peak {} -> last-third peak {}",
        fds[1],
        fds[2]
    );
    if !with_browser {
        return;
    }
    let b = |s: &Sample| s.browser.clone().unwrap();
    let wasm = thirds(&samples, |s| b(s).wasm_bytes);
    let heap = thirds(&samples, |s| b(s).js_heap_bytes);
    eprintln!("soak peaks per third: wasm bytes {wasm:?}, JS heap bytes {heap:?}");
    let (end, last_third) = (
        b(samples.last().unwrap()),
        b(&samples[2 * samples.len() / 3]),
    );
    assert_eq!(
        end.seq_violations, 0,
        "browser client delivered a duplicate or out-of-order seq"
    );
    assert!(
        end.delivered > last_third.delivered,
        "browser client stopped delivering: {} at the last third's start, {} at the end",
        last_third.delivered,
        end.delivered
    );
    // Linear memory never shrinks: flat means no growth after warm-up.
    assert!(
        wasm[2] <= wasm[1],
        "browser wasm memory still growing: middle-third peak {} B -> last-third peak {} B",
        wasm[1],
        wasm[2]
    );
    assert!(
        heap[2] <= heap[1] + heap[1] / 5 + 4 * 1024 * 1024,
        "browser JS heap still growing: middle-third peak {} B -> last-third peak {} B",
        heap[1],
        heap[2]
    );
}

#[test]
#[should_panic(expected = "is missing: run scripts/build-wasm.sh")]
fn soak_browser_without_a_wasm_build_says_how_to_make_one() {
    let root = tempfile::tempdir().unwrap();
    Browser::start_in(root.path(), "ws://127.0.0.1:9/ws");
}

#[test]
#[should_panic(expected = "is missing: run `npm ci` in bench/")]
fn soak_browser_without_bench_node_modules_says_how_to_install_them() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("pkg")).unwrap();
    std::fs::write(root.path().join("pkg/stellar_insights_ws_bg.wasm"), b"").unwrap();
    Browser::start_in(root.path(), "ws://127.0.0.1:9/ws");
}

#[test]
fn soak_browser_script_rejects_a_url_that_is_not_ws() {
    let out = std::process::Command::new("node")
        .args(["soak/browser.mjs", "http://127.0.0.1:9/ws"])
        .current_dir(soak_browser::repo_root().join("bench"))
        .output()
        .expect("node runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("usage: node soak/browser.mjs ws://"),
        "{stderr}"
    );
}
