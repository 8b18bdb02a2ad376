//! Prometheus counters, gauges and latency histograms, plain atomics rendered as
//! text format 0.0.4.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use stellar_insights_protocol::ResyncReason;

/// Reasons a `/ws` request is refused before the upgrade (label `reason`).
#[derive(Debug, Clone, Copy)]
pub enum RejectReason {
    /// Missing or wrong `?token=`.
    Unauthorized = 0,
    /// `Origin` not in `CORS_ALLOWED_ORIGINS`.
    Origin = 1,
    /// `WS_MAX_CONNECTIONS_PER_IP` reached.
    PerIpLimit = 2,
    /// Bad query (e.g. `since` not a number) or not an upgrade request.
    BadRequest = 3,
    /// The server is shutting down.
    ShuttingDown = 4,
}

const REJECT_LABELS: [&str; 5] = [
    "unauthorized",
    "origin",
    "per_ip_limit",
    "bad_request",
    "shutting_down",
];
/// Labels of `stellar_ws_resyncs_total`: every reason the server sends.
const RESYNC_LABELS: [ResyncReason; 4] = [
    ResyncReason::Pruned,
    ResyncReason::FutureSeq,
    ResyncReason::SlowConsumer,
    ResyncReason::Gap,
];

/// Upper bounds of the latency histograms' buckets, µs: 10 µs steps up to 100 µs,
/// then coarser, so a p50 of a few hundred µs is read to within 50 µs.
pub const LATENCY_BUCKETS_US: [u64; 42] = [
    10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140, 160, 180, 200, 250, 300, 350, 400, 450, 500,
    600, 700, 800, 900, 1_000, 1_250, 1_500, 1_750, 2_000, 2_500, 3_000, 4_000, 5_000, 7_500,
    10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
];

/// A Prometheus histogram of durations with the buckets [`LATENCY_BUCKETS_US`]
/// (plus `+Inf`), exposed in seconds.
#[derive(Debug)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    counts: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
    /// Sum of all observations, µs.
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        // `le` is inclusive: the first bucket whose bound is >= the value.
        let i = LATENCY_BUCKETS_US.partition_point(|&b| b < us);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            match LATENCY_BUCKETS_US.get(i) {
                Some(&us) => {
                    let le = us as f64 / 1e6;
                    let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// Shards of a [`ShardedCounter`]. Value 16: more than the threads that add to one.
const SHARDS: usize = 16;

/// One shard on a cache line of its own (128 B: two lines, for the adjacent-line prefetcher).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(AtomicU64);

/// A counter added to on a hot path by many threads: each thread adds to its
/// own shard (no cache line shared between cores), [`ShardedCounter::get`] sums them.
#[derive(Debug, Default)]
pub struct ShardedCounter {
    shards: [Shard; SHARDS],
}

thread_local! {
    /// This thread's shard of every [`ShardedCounter`], handed out round robin.
    static SHARD: usize = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) as usize % SHARDS
    };
}

impl ShardedCounter {
    /// Adds `n` (on this thread's shard).
    pub fn add(&self, n: u64) {
        let i = SHARD.with(|i| *i);
        self.shards[i].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total so far.
    pub fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

/// All process metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `stellar_ws_connections_open`: open WebSocket connections (gauge).
    pub connections_open: AtomicI64,
    /// `stellar_ws_connections_total`: WebSocket connections accepted.
    pub connections_total: AtomicU64,
    /// `stellar_ws_frames_sent_total`: frames written to WebSocket clients
    /// (counted per thread: every connection adds to it for every frame).
    pub frames_sent: ShardedCounter,
    /// `stellar_ws_frames_received_total`: frames read from WebSocket clients.
    pub frames_received: AtomicU64,
    /// `stellar_updates_broadcast_total`: updates the relay published.
    pub updates_broadcast: AtomicU64,
    /// `stellar_write_commit_seconds`: a REST (or demo) write, from beginning its
    /// transaction (waiting for the write lock included) to its commit returning.
    pub write_commit: Histogram,
    /// `stellar_update_relay_seconds`: an update, from its write's commit returning to
    /// its publication on the hub (single instance only; with Redis the commit and the
    /// publication are on different instances).
    pub update_relay: Histogram,
    /// `stellar_update_fanout_start_seconds`: an update, from its publication on the hub
    /// to the first connection's send of it completing.
    pub fanout_start: Histogram,
    /// `stellar_update_commit_to_first_send_seconds`: an update, from its write's commit
    /// returning to the first connection's send of it completing (single instance only).
    pub commit_to_first_send: Histogram,
    /// `stellar_ws_json_pongs_total`: JSON `pong` frames received (answers to
    /// the server's JSON `ping`; protocol-level pongs are not counted).
    pub json_pongs: AtomicU64,
    /// `stellar_ws_conflations_total`: conflated catch-ups of state connections that
    /// fell behind (a v1 connection gets `resync_required` `slow_consumer` instead).
    pub conflations: AtomicU64,
    /// `stellar_ingest_requests_total`: requests sent to Horizon (`INGEST=horizon`).
    pub ingest_requests: AtomicU64,
    /// `stellar_ingest_rate_limited_total`: Horizon answers 429 (each waited `Retry-After`).
    pub ingest_rate_limited: AtomicU64,
    /// `stellar_ingest_errors_total`: failed or cut-off Horizon responses, retried.
    pub ingest_errors: AtomicU64,
    /// `stellar_ingest_records_total`: payment operations counted.
    pub ingest_records: AtomicU64,
    /// `stellar_ingest_malformed_records_total`: Horizon records and stream events skipped as malformed.
    pub ingest_malformed: AtomicU64,
    /// `stellar_ingest_flushes_total`: ingestion write transactions committed.
    pub ingest_flushes: AtomicU64,
    resyncs: [AtomicU64; 4],
    rejected: [AtomicU64; 5],
}

impl Metrics {
    /// Counts a `resync_required` with one of the `protocol::resync_reason` values.
    pub fn resync(&self, reason: &ResyncReason) {
        if let Some(i) = RESYNC_LABELS.iter().position(|l| l == reason) {
            self.resyncs[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a refused `/ws` request.
    pub fn reject(&self, reason: RejectReason) {
        self.rejected[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP stellar_ws_connections_open Open WebSocket connections.\n# TYPE stellar_ws_connections_open gauge");
        let _ = writeln!(
            out,
            "stellar_ws_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        for (name, help, v) in [
            (
                "stellar_ws_connections_total",
                "WebSocket connections accepted.",
                g(&self.connections_total),
            ),
            (
                "stellar_ws_frames_sent_total",
                "Frames sent to WebSocket clients.",
                self.frames_sent.get(),
            ),
            (
                "stellar_ws_frames_received_total",
                "Frames received from WebSocket clients.",
                g(&self.frames_received),
            ),
            (
                "stellar_updates_broadcast_total",
                "Updates published by the relay.",
                g(&self.updates_broadcast),
            ),
            (
                "stellar_ws_json_pongs_total",
                "JSON pong frames received (protocol-level pongs not counted).",
                g(&self.json_pongs),
            ),
            (
                "stellar_ws_conflations_total",
                "Conflated catch-ups of state connections that fell behind.",
                g(&self.conflations),
            ),
            (
                "stellar_ingest_requests_total",
                "Requests sent to Horizon.",
                g(&self.ingest_requests),
            ),
            (
                "stellar_ingest_rate_limited_total",
                "Horizon 429 answers (each waited Retry-After).",
                g(&self.ingest_rate_limited),
            ),
            (
                "stellar_ingest_errors_total",
                "Failed or cut-off Horizon responses and dropped event streams, retried.",
                g(&self.ingest_errors),
            ),
            (
                "stellar_ingest_records_total",
                "Payment operations counted from Horizon.",
                g(&self.ingest_records),
            ),
            (
                "stellar_ingest_malformed_records_total",
                "Horizon records and stream events skipped as malformed.",
                g(&self.ingest_malformed),
            ),
            (
                "stellar_ingest_flushes_total",
                "Ingestion write transactions committed.",
                g(&self.ingest_flushes),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        for (h, name, help) in [
            (
                &self.write_commit,
                "stellar_write_commit_seconds",
                "Writes, from beginning the transaction to the commit returning.",
            ),
            (
                &self.update_relay,
                "stellar_update_relay_seconds",
                "Updates, from their commit returning to their publication on the hub.",
            ),
            (
                &self.fanout_start,
                "stellar_update_fanout_start_seconds",
                "Updates, from their publication to the first connection's send completing.",
            ),
            (
                &self.commit_to_first_send,
                "stellar_update_commit_to_first_send_seconds",
                "Updates, from their commit returning to the first connection's send completing.",
            ),
        ] {
            h.render(&mut out, name, help);
        }
        let _ = writeln!(out, "# HELP stellar_ws_resyncs_total resync_required frames sent, by reason.\n# TYPE stellar_ws_resyncs_total counter");
        for (label, v) in RESYNC_LABELS.iter().zip(&self.resyncs) {
            let _ = writeln!(
                out,
                "stellar_ws_resyncs_total{{reason=\"{label}\"}} {}",
                g(v)
            );
        }
        let _ = writeln!(out, "# HELP stellar_ws_rejected_connections_total /ws requests refused before the upgrade, by reason.\n# TYPE stellar_ws_rejected_connections_total counter");
        for (label, v) in REJECT_LABELS.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "stellar_ws_rejected_connections_total{{reason=\"{label}\"}} {}",
                g(v)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_inclusive_cumulative_and_in_seconds() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(10)); // le 10 µs (inclusive)
        h.observe(Duration::from_micros(11)); // le 20 µs
        h.observe(Duration::from_micros(300)); // le 300 µs
        h.observe(Duration::from_secs(5)); // +Inf
        assert_eq!(h.count(), 4);
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.00001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.00002\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.0003\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 3\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 4\n"), "{out}");
        assert!(out.contains("x_count 4\n"), "{out}");
        assert!(out.contains("x_sum 5.000321\n"), "{out}");
    }

    #[test]
    fn a_sharded_counter_sums_what_every_thread_added() {
        let c = ShardedCounter::default();
        std::thread::scope(|s| {
            for _ in 0..(SHARDS + 3) {
                s.spawn(|| (0..1000).for_each(|_| c.add(1)));
            }
        });
        c.add(5);
        assert_eq!(c.get(), (SHARDS as u64 + 3) * 1000 + 5);
    }
}
