//! The writer: updates one corridor's metrics through the REST API at a fixed
//! rate. Each write's `volume_usd` is its send time, so every client can
//! compute delivery latency on the same clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::client::now_us;
use crate::harness::round_robin;

/// Longest a single REST write may take before it counts as failed. Value 5 s.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the writer did.
#[derive(Debug, Default, Clone)]
pub struct WriteReport {
    /// Round trip of each successful write (request sent to answer read), µs:
    /// the REST and SQLite commit share of the delivery latency.
    pub rtt_us: Vec<u32>,
    /// Writes the server answered with 200.
    pub ok: u64,
    /// Writes refused or lost (e.g. while the server was down).
    pub failed: u64,
    /// Time spent writing, s.
    pub secs: f64,
}

/// A REST client for one or more servers of one deployment.
pub struct Writer {
    http: reqwest::Client,
    /// `http://<addr>` of every server; writes go round-robin, other calls to the first.
    bases: Vec<String>,
    base: String,
}

impl Writer {
    /// A writer for the servers at `addrs` (at least one).
    pub fn new(addrs: &[SocketAddr]) -> Writer {
        let bases: Vec<String> = addrs.iter().map(|a| format!("http://{a}")).collect();
        Writer {
            http: reqwest::Client::builder()
                .timeout(WRITE_TIMEOUT)
                .build()
                .expect("a plain-HTTP reqwest client always builds"),
            base: bases.first().cloned().unwrap_or_default(),
            bases,
        }
    }

    /// Creates the corridor the writes go to; returns its id.
    pub async fn create_corridor(&self) -> Result<String, String> {
        let issuer = |byte: u8| {
            stellar_strkey::ed25519::PublicKey([byte; 32])
                .to_string()
                .as_str()
                .to_owned()
        };
        let body = json!({
            "source_asset_code": "USDC", "source_asset_issuer": issuer(1),
            "dest_asset_code": "EURC", "dest_asset_issuer": issuer(2),
        });
        let r = self
            .http
            .post(format!("{}/api/corridors", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("create corridor: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("create corridor: HTTP {}", r.status()));
        }
        let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "create corridor: no id in the answer".into())
    }

    /// Last seq the server has issued (`GET /health`).
    pub async fn head_seq(&self) -> Result<u64, String> {
        let r = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .map_err(|e| format!("health: {e}"))?;
        let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
        v["seq"]
            .as_u64()
            .ok_or_else(|| "health: no seq in the answer".into())
    }

    /// The Prometheus text of `/metrics` of every server, in order.
    pub async fn metrics(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(self.bases.len());
        for base in &self.bases {
            let r = self
                .http
                .get(format!("{base}/metrics"))
                .send()
                .await
                .map_err(|e| format!("metrics: {e}"))?;
            out.push(r.text().await.map_err(|e| format!("metrics: {e}"))?);
        }
        Ok(out)
    }

    /// Writes `rate` updates per second to `corridor` until `stop` turns true,
    /// write `i` to server `round_robin(i, servers)`.
    /// A failed write is counted and not retried: the clients check the seqs
    /// the server issued, whatever the writer learned about them.
    pub async fn run(&self, corridor: &str, rate: u32, stop: watch::Receiver<bool>) -> WriteReport {
        let urls: Vec<String> = self
            .bases
            .iter()
            .map(|b| format!("{b}/api/corridors/{corridor}/metrics"))
            .collect();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
        // A slow write delays the next instead of bursting: the writer measures, it must not pile on.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let started = Instant::now();
        let mut report = WriteReport::default();
        let mut count = 0u64;
        while !*stop.borrow() {
            tick.tick().await;
            count += 1;
            // µs precision in ms units; ryu prints the shortest text that parses back to the same f64.
            let sent_ms = now_us() as f64 / 1000.0;
            let body = json!({
                "total_transactions": count,
                "successful_transactions": count,
                "volume_usd": sent_ms,
            });
            let url = &urls[round_robin(count as usize - 1, urls.len())];
            let sent = Instant::now();
            match self.http.put(url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    report.ok += 1;
                    report
                        .rtt_us
                        .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                _ => report.failed += 1,
            }
        }
        report.secs = started.elapsed().as_secs_f64();
        report
    }
}
