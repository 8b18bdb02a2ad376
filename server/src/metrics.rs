//! Prometheus counters and gauges, plain atomics rendered as text format 0.0.4.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
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

/// All process metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `stellar_ws_connections_open`: open WebSocket connections (gauge).
    pub connections_open: AtomicI64,
    /// `stellar_ws_connections_total`: WebSocket connections accepted.
    pub connections_total: AtomicU64,
    /// `stellar_ws_frames_sent_total`: frames written to WebSocket clients.
    pub frames_sent: AtomicU64,
    /// `stellar_ws_frames_received_total`: frames read from WebSocket clients.
    pub frames_received: AtomicU64,
    /// `stellar_updates_broadcast_total`: updates the relay published.
    pub updates_broadcast: AtomicU64,
    /// `stellar_ws_json_pongs_total`: JSON `pong` frames received (answers to
    /// the server's JSON `ping`; protocol-level pongs are not counted).
    pub json_pongs: AtomicU64,
    /// `stellar_ingest_requests_total`: requests sent to Horizon (`INGEST=horizon`).
    pub ingest_requests: AtomicU64,
    /// `stellar_ingest_rate_limited_total`: Horizon answers 429 (each waited `Retry-After`).
    pub ingest_rate_limited: AtomicU64,
    /// `stellar_ingest_errors_total`: failed or cut-off Horizon responses, retried.
    pub ingest_errors: AtomicU64,
    /// `stellar_ingest_records_total`: payment operations counted.
    pub ingest_records: AtomicU64,
    /// `stellar_ingest_malformed_records_total`: Horizon records skipped as malformed.
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
                g(&self.frames_sent),
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
                "Failed or cut-off Horizon responses, retried.",
                g(&self.ingest_errors),
            ),
            (
                "stellar_ingest_records_total",
                "Payment operations counted from Horizon.",
                g(&self.ingest_records),
            ),
            (
                "stellar_ingest_malformed_records_total",
                "Horizon records skipped as malformed.",
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
