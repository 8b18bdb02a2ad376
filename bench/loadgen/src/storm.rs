//! Issue 5 §5: N clients connected, the server killed and started again on the
//! same port and database while writes go on; every client must reconnect with
//! the wasm client's backoff, resume with `?since=` and miss nothing.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use stellar_insights_client_core::backoff::Backoff;
use tokio::sync::watch;

use crate::client::now_us;
use crate::harness::{Options, Run, Totals};
use crate::server::Storage;
use crate::stats::{busiest_window, histogram};

/// Writes after every client has resumed, so live delivery is checked too. Value 2 s.
const AFTER_RESUME: Duration = Duration::from_secs(2);
/// Extra time, beyond the backoff cap, the clients have to resume. Value 5 s (the target).
const RESUME_SLACK: Duration = Duration::from_secs(5);
/// How long clients may take to reach the last seq after writes stop. Value 20 s.
const DRAIN: Duration = Duration::from_secs(20);
/// Window of the jitter check. Value 100 ms.
pub const WINDOW_US: u64 = 100_000;

/// One reconnect storm.
#[derive(Debug)]
pub struct Outcome {
    /// Clients.
    pub clients: usize,
    /// Writes per second.
    pub rate: u32,
    /// Backoff policy the clients used.
    pub backoff: Backoff,
    /// Writes that succeeded / failed (failed: while the server was down).
    pub writes_ok: u64,
    /// Writes refused while the server was down.
    pub writes_failed: u64,
    /// From SIGKILL to the new server answering `/health`, ms.
    pub outage_ms: f64,
    /// Reconnect attempts, µs after the kill, sorted.
    pub attempts_us: Vec<u64>,
    /// Per client: first resumed `connected`, ms after the kill, sorted.
    pub resumed_ms: Vec<f64>,
    /// Merged client results.
    pub totals: Totals,
}

impl Outcome {
    /// Most attempts in any sliding 100 ms window, as a share of all attempts.
    pub fn busiest_share(&self) -> f64 {
        busiest_window(&self.attempts_us, WINDOW_US) as f64 / self.attempts_us.len().max(1) as f64
    }

    /// Attempts per aligned 100 ms bin after the kill.
    pub fn bins(&self) -> Vec<usize> {
        histogram(&self.attempts_us, 0, WINDOW_US)
    }

    /// Whether every client resumed within the backoff cap + 5 s of the kill.
    pub fn all_resumed_in_time(&self) -> bool {
        let limit = (self.backoff.cap_ms + RESUME_SLACK.as_millis() as u64) as f64;
        self.resumed_ms.len() == self.clients && self.resumed_ms.iter().all(|&t| t <= limit)
    }
}

/// Runs one storm: `clients` clients, `rate` writes/s, kill after `warm_secs`.
pub async fn measure(
    opts: &Options,
    clients: usize,
    rate: u32,
    warm_secs: f64,
    backoff: Backoff,
) -> Result<Outcome, String> {
    let mut run = Run::start(opts, &[Storage::Sqlite], clients, true, backoff).await?;
    run.connect(clients).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let writes = {
        let writer = crate::writer::Writer::new(&[run.servers[0].addr]);
        let corridor = run.corridor.clone();
        tokio::spawn(async move { writer.run(&corridor, rate, stop_rx).await })
    };
    tokio::time::sleep(Duration::from_secs_f64(warm_secs)).await;
    let killed_us = now_us();
    let killed = Instant::now();
    run.servers[0].restart().await?;
    let outage_ms = killed.elapsed().as_secs_f64() * 1000.0;
    let limit = Duration::from_millis(backoff.cap_ms) + RESUME_SLACK;
    let everyone = run
        .wait_for(limit.saturating_sub(killed.elapsed()), |s| {
            s.resumes.load(Ordering::Relaxed) >= clients
        })
        .await;
    if everyone.is_ok() {
        tokio::time::sleep(AFTER_RESUME).await;
    }
    stop_tx.send_replace(true);
    let writes = writes.await.map_err(|e| format!("writer failed: {e}"))?;
    let mut attempts_us: Vec<u64> = run
        .shared
        .attempts
        .lock()
        .unwrap()
        .iter()
        .map(|&t| t.saturating_sub(killed_us))
        .collect();
    attempts_us.sort_unstable();
    let totals = run.finish(DRAIN).await?;
    let mut resumed_ms: Vec<f64> = totals
        .first_resume_us
        .iter()
        .map(|&t| t.saturating_sub(killed_us) as f64 / 1000.0)
        .collect();
    resumed_ms.sort_by(f64::total_cmp);
    Ok(Outcome {
        clients,
        rate,
        backoff,
        writes_ok: writes.ok,
        writes_failed: writes.failed,
        outage_ms,
        attempts_us,
        resumed_ms,
        totals,
    })
}
