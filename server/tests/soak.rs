//! Soak (not in CI): many clients, continuous updates and periodic faults for
//! a long time; prints the server's RSS and open file descriptors over time so
//! they can be checked flat after warm-up.
//!
//! `SOAK_SECS=1800 SOAK_CLIENTS=500 cargo test -p stellar-insights-server --test soak -- --ignored --nocapture`

mod fault;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault::client::Client;
use fault::proxy::{Mode, Proxy};
use fault::server::ServerProc;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stellar_insights_ws::machine::Config;
use tokio_tungstenite::tungstenite::Message;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A plain reader that answers the server's heartbeat and reconnects after
/// every loss; counts the frames it reads.
async fn reader(url: String, frames: Arc<AtomicU64>, reconnects: Arc<AtomicU64>, n: u64) {
    loop {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(&url).await {
            let (mut sink, mut stream) = ws.split();
            while let Some(Ok(msg)) = stream.next().await {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "30-minute soak; run by hand, see the file header"]
async fn soak_keeps_server_memory_and_descriptors_flat() {
    let secs = env_or("SOAK_SECS", 1800);
    let clients = env_or("SOAK_CLIENTS", 500);
    let rate = env_or("SOAK_UPDATES_PER_SEC", 20);
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProc::start(
        dir.path(),
        &[
            ("WS_PING_INTERVAL_SECS", "5"),
            ("WS_MAX_CONNECTIONS_PER_IP", "2000"),
        ],
    );
    let base = format!("http://{}", server.addr);
    let proxy = Proxy::start(server.addr).await;
    let url = format!("ws://{}/ws", proxy.addr);
    let http = reqwest::Client::new();
    let body = json!({"source_asset_code": "USDC", "source_asset_issuer": format!("{}", stellar_strkey::ed25519::PublicKey([1; 32])),
                      "dest_asset_code": "EURC", "dest_asset_issuer": format!("{}", stellar_strkey::ed25519::PublicKey([2; 32]))});
    let corridor: Value = http
        .post(format!("{base}/api/corridors"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = corridor["id"].as_str().unwrap().to_owned();

    let (frames, reconnects) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    for n in 0..clients {
        tokio::spawn(reader(url.clone(), frames.clone(), reconnects.clone(), n));
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
    let mut samples = Vec::new();
    let mut faults = 0u32;
    let mut next_sample = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        // A fault every 60 s: cut, black hole (20 s), throttle, restart.
        let t = start.elapsed().as_secs();
        if t % 60 < 5 && t >= 60 {
            match faults % 4 {
                0 => proxy.cut(),
                1 => {
                    proxy.set(Mode::BlackHole);
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    proxy.set(Mode::Pass);
                }
                2 => {
                    proxy.set(Mode::Throttle(20_000));
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    proxy.set(Mode::Pass);
                }
                _ => server.restart(),
            }
            faults += 1;
        }
        if start.elapsed() >= next_sample {
            next_sample += Duration::from_secs(30);
            let sample = (
                start.elapsed().as_secs(),
                server.rss_kib(),
                server.open_fds(),
                written.load(Ordering::Relaxed),
                frames.load(Ordering::Relaxed),
            );
            eprintln!("soak t={}s rss={}KiB fds={} updates={} frames_read={} reconnects={} faults={faults}",
                sample.0, sample.1, sample.2, sample.3, sample.4, reconnects.load(Ordering::Relaxed));
            samples.push(sample);
        }
    }
    let record = checked.stop().await;
    let seqs: Vec<u64> = record.delivered.iter().map(|d| d.0).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "checked client saw a duplicate or reordering"
    );
    // Flat after warm-up: the last third's peak within 20% + 8 MiB of the middle third's.
    let third = samples.len() / 3;
    let peak = |s: &[(u64, u64, usize, u64, u64)]| s.iter().map(|x| x.1).max().unwrap_or(0);
    let (mid, last) = (
        peak(&samples[third..2 * third]),
        peak(&samples[2 * third..]),
    );
    eprintln!("soak done: {faults} faults, mid-third peak RSS {mid} KiB, last-third peak {last} KiB, client delivered {}", seqs.len());
    assert!(
        last <= mid + mid / 5 + 8 * 1024,
        "RSS still growing: {mid} -> {last} KiB"
    );
}
