//! Issue 5 §4: N clients on one server, R updates/s, latency and memory; and
//! the same on several instances sharing PostgreSQL and Redis (issue 7).

use std::time::{Duration, Instant};

use stellar_insights_client_core::backoff::Backoff;
use tokio::sync::watch;

use crate::harness::{Options, Run, Totals};
use crate::server::{proc_stats, ProcStats, Storage};
use crate::stats::percentile;

/// How long clients may take to receive the last update after writes stop. Value 20 s.
const DRAIN: Duration = Duration::from_secs(20);
/// Settle time between connecting the last client and the first write, so
/// the connect burst's CPU is not billed to the broadcast. Value 2 s.
const SETTLE: Duration = Duration::from_secs(2);

/// What one server instance used during a fan-out measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct InstanceUsage {
    /// RSS with every client connected, before writes, bytes.
    pub rss_connected: u64,
    /// Peak RSS (`VmHWM`) at the end of writing, bytes.
    pub rss_peak: u64,
    /// CPU while writing, % of one core: (user, kernel).
    pub cpu: (f64, f64),
}

/// One fan-out measurement.
#[derive(Debug)]
pub struct Outcome {
    /// Clients.
    pub clients: usize,
    /// Writes per second asked for.
    pub rate: u32,
    /// Writes that succeeded.
    pub writes_ok: u64,
    /// Writing time, s.
    pub write_secs: f64,
    /// Time to connect every client, s.
    pub connect_secs: f64,
    /// Server RSS before any client connected, bytes (sum over instances).
    pub rss_idle: u64,
    /// Server RSS with every client connected, before writes, bytes (sum over instances).
    pub rss_connected: u64,
    /// Server peak RSS (`VmHWM`) at the end of writing, bytes (sum over instances).
    pub rss_peak: u64,
    /// Span the CPU figures cover (writing plus 200 ms), s.
    pub cpu_wall: f64,
    /// Server CPU while writing, % of one core: (user, kernel), summed over instances.
    pub server_cpu: (f64, f64),
    /// The same, per instance, in the order of the `instances` given to [`measure`].
    pub instances: Vec<InstanceUsage>,
    /// Load generator CPU while writing, % of one core: (user, kernel).
    pub loadgen_cpu: (f64, f64),
    /// REST write round trips, µs, sorted.
    pub write_rtt_us: Vec<u32>,
    /// Merged client results.
    pub totals: Totals,
    /// `/metrics` of each server just before the first write and after the last
    /// write's fan-out, in the order of `instances`.
    pub metrics: Vec<(String, String)>,
}

impl Outcome {
    /// Deliveries per second over the writing time.
    pub fn deliveries_per_sec(&self) -> f64 {
        self.totals.deliveries as f64 / self.write_secs.max(f64::EPSILON)
    }

    /// Server CPU time per delivery while writing, µs (user + kernel).
    pub fn server_us_per_delivery(&self) -> f64 {
        let (user, sys) = self.server_cpu;
        (user + sys) / 100.0 * self.cpu_wall * 1e6 / (self.totals.deliveries.max(1) as f64)
    }

    /// CPU time per delivery while writing, µs, split (user, kernel), of a
    /// `(user, kernel)` % of one core as in [`Outcome::server_cpu`].
    pub fn us_per_delivery(&self, cpu: (f64, f64)) -> (f64, f64) {
        let per =
            |pct: f64| pct / 100.0 * self.cpu_wall * 1e6 / (self.totals.deliveries.max(1) as f64);
        (per(cpu.0), per(cpu.1))
    }

    /// Server RSS per connection: (connected − idle) / clients, KiB.
    pub fn kib_per_connection(&self) -> f64 {
        self.rss_connected.saturating_sub(self.rss_idle) as f64
            / self.clients.max(1) as f64
            / 1024.0
    }

    /// Latency percentile, ms.
    pub fn latency_ms(&self, p: f64) -> f64 {
        f64::from(percentile(&self.totals.latencies_us, p)) / 1000.0
    }
}

fn cpu_percent(before: ProcStats, after: ProcStats, wall: f64) -> (f64, f64) {
    let pct = |secs: f64| 100.0 * secs / wall.max(f64::EPSILON);
    (
        pct(after.user_secs - before.user_secs),
        pct(after.sys_secs - before.sys_secs),
    )
}

fn all_stats(run: &Run) -> Vec<ProcStats> {
    run.servers
        .iter()
        .map(|s| s.stats().unwrap_or_default())
        .collect()
}

/// Runs one fan-out measurement: one server per entry of `instances`,
/// `clients` clients and `rate` writes/s for `secs` s, both round-robin over the servers.
pub async fn measure(
    opts: &Options,
    instances: &[Storage],
    clients: usize,
    rate: u32,
    secs: f64,
) -> Result<Outcome, String> {
    let mut run = Run::start(opts, instances, clients, false, Backoff::default()).await?;
    let idle = all_stats(&run);
    let connect = run.connect(clients).await?;
    tokio::time::sleep(SETTLE).await;
    let connected = all_stats(&run);
    let metrics_before = run.writer.metrics().await?;
    let me = std::process::id();
    let me_before = proc_stats(me).unwrap_or_default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop_tx.send_replace(true);
    });
    let writes = run.writer.run(&run.corridor, rate, stop_rx).await;
    let _ = stopper.await;
    // Let the last write's fan-out finish inside the CPU window.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let wall = started.elapsed().as_secs_f64();
    let after = all_stats(&run);
    let me_after = proc_stats(me).unwrap_or_default();
    let metrics_after = run.writer.metrics().await?;
    let totals = run.finish(DRAIN).await?;
    let usage: Vec<InstanceUsage> = connected
        .iter()
        .zip(&after)
        .map(|(&c, &a)| InstanceUsage {
            rss_connected: c.rss,
            rss_peak: a.hwm,
            cpu: cpu_percent(c, a, wall),
        })
        .collect();
    let sum = |f: fn(&ProcStats) -> u64, v: &[ProcStats]| v.iter().map(f).sum::<u64>();
    Ok(Outcome {
        clients,
        rate,
        writes_ok: writes.ok,
        write_secs: writes.secs,
        connect_secs: connect.as_secs_f64(),
        rss_idle: sum(|p| p.rss, &idle),
        rss_connected: sum(|p| p.rss, &connected),
        rss_peak: sum(|p| p.hwm, &after),
        cpu_wall: wall,
        server_cpu: usage
            .iter()
            .fold((0.0, 0.0), |(u, k), i| (u + i.cpu.0, k + i.cpu.1)),
        instances: usage,
        loadgen_cpu: cpu_percent(me_before, me_after, wall),
        write_rtt_us: {
            let mut v = writes.rtt_us;
            v.sort_unstable();
            v
        },
        totals,
        metrics: metrics_before.into_iter().zip(metrics_after).collect(),
    })
}
