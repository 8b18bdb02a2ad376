//! Issue 11 §7: REST write → first client delivery, split into the server's
//! hops. The clients time the whole path (the writer's send time travels in
//! `volume_usd`); the server's latency histograms on `/metrics`, scraped just
//! before the first write and after the last write's fan-out, time each hop:
//! commit (transaction begun → commit returned), relay wake-up (commit →
//! publication on the hub), fan-out start (publication → first connection's
//! send completed), and commit → first send, the relay hop the target is on.

use crate::fanout::Outcome;
use crate::results::table;
use crate::stats::percentile;

/// Target for commit → first send at 1 000 clients, p50, ms.
pub const TARGET_RELAY_P50_MS: f64 = 0.3;

/// The server's histograms, by metric name, with what each measures.
pub const HOPS: [(&str, &str); 4] = [
    (
        "stellar_write_commit_seconds",
        "commit: transaction begun → commit returned",
    ),
    (
        "stellar_update_relay_seconds",
        "relay wake-up: commit returned → published on the hub",
    ),
    (
        "stellar_update_fanout_start_seconds",
        "fan-out start: published → first connection's send done",
    ),
    (
        "stellar_update_commit_to_first_send_seconds",
        "**relay hop: commit returned → first send done**",
    ),
];

/// A Prometheus histogram: cumulative counts per upper bound (s), the last bound `+Inf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hist {
    /// Upper bounds, s, increasing; the last is infinite.
    pub bounds: Vec<f64>,
    /// Cumulative observations at or below each bound.
    pub cumulative: Vec<u64>,
}

impl Hist {
    /// The `<name>_bucket` lines of a `/metrics` text, `None` when absent.
    pub fn parse(text: &str, name: &str) -> Option<Hist> {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut h = Hist {
            bounds: Vec::new(),
            cumulative: Vec::new(),
        };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(&prefix) else {
                continue;
            };
            let (le, count) = rest.split_once("\"} ")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            h.bounds.push(bound);
            h.cumulative.push(count.trim().parse().ok()?);
        }
        (!h.bounds.is_empty()).then_some(h)
    }

    /// Observations made between `before` and `self` (same buckets).
    pub fn since(&self, before: &Hist) -> Hist {
        Hist {
            bounds: self.bounds.clone(),
            cumulative: self
                .cumulative
                .iter()
                .zip(&before.cumulative)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
        }
    }

    /// Observations.
    pub fn count(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Quantile `q` (0–1), s, interpolated linearly inside its bucket as Prometheus's
    /// `histogram_quantile` does (so its error is at most the bucket's width); `None`
    /// without observations. In the `+Inf` bucket: the highest finite bound.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let i = self.cumulative.iter().position(|&c| c as f64 >= rank)?;
        let hi = self.bounds[i];
        let lo = if i == 0 { 0.0 } else { self.bounds[i - 1] };
        if hi.is_infinite() {
            return Some(lo);
        }
        let below = if i == 0 { 0 } else { self.cumulative[i - 1] };
        let inside = (self.cumulative[i] - below) as f64;
        Some(lo + (hi - lo) * (rank - below as f64) / inside.max(1.0))
    }
}

fn ms(s: Option<f64>) -> String {
    s.map_or_else(|| "–".into(), |s| format!("{:.3}", s * 1000.0))
}

fn us_pair(sorted_us: &[u32]) -> [String; 2] {
    [50.0, 99.0].map(|p| format!("{:.3}", f64::from(percentile(sorted_us, p)) / 1000.0))
}

/// The server's hop `name` over the run (first server), `None` if it does not expose it.
pub fn hop(o: &Outcome, name: &str) -> Option<Hist> {
    let (before, after) = o.metrics.first()?;
    let after = Hist::parse(after, name)?;
    Some(match Hist::parse(before, name) {
        Some(before) => after.since(&before),
        None => after,
    })
}

/// The section: one row per measured span, then the verdict on the relay hop.
pub fn report(o: &Outcome) -> String {
    let updates = o.totals.first_us.len().to_string();
    let mut rows = vec![{
        let [p50, p99] = us_pair(&o.totals.first_us);
        vec![
            "**write → first client delivery** (client clock)".into(),
            p50,
            p99,
            updates.clone(),
        ]
    }];
    let [p50, p99] = us_pair(&o.write_rtt_us);
    rows.push(vec![
        "REST write round trip (writer)".into(),
        p50,
        p99,
        o.write_rtt_us.len().to_string(),
    ]);
    for (name, what) in HOPS {
        let h = hop(o, name);
        rows.push(vec![
            format!("{what} (`{name}`)"),
            ms(h.as_ref().and_then(|h| h.quantile(0.5))),
            ms(h.as_ref().and_then(|h| h.quantile(0.99))),
            h.map_or_else(|| "not exposed".into(), |h| h.count().to_string()),
        ]);
    }
    let [p50, p99] = us_pair(&o.totals.latencies_us);
    rows.push(vec![
        "write → delivery, all clients".into(),
        p50,
        p99,
        o.totals.latencies_us.len().to_string(),
    ]);
    let mut out = table(&["span", "p50 ms", "p99 ms", "samples"], &rows);
    out.push_str(&format!(
        "\n\n{} clients, {:.1} writes/s for {:.0} s, one server (SQLite, in-process bus), release build. \
         Client rows: the writer stamps each PUT with its send time, every client records receive − send \
         on the same clock; \"first client\" is, per update, the fastest of the {} clients. Server rows: \
         the server's latency histograms (buckets 10 µs wide up to 100 µs, 50 µs up to 500 µs, 100 µs up to 1 ms), \
         the difference of two `/metrics` scrapes around the writes, quantiles interpolated inside a bucket. \
         Quantiles of different rows do not add up.\n",
        o.clients,
        o.writes_ok as f64 / o.write_secs.max(f64::EPSILON),
        o.write_secs,
        o.clients,
    ));
    if let Some(p50) = hop(o, HOPS[3].0).and_then(|h| h.quantile(0.5)) {
        let p50 = p50 * 1000.0;
        out.push_str(&format!(
            "\nTarget at {} clients: relay hop (commit → first send) p50 ≤ {TARGET_RELAY_P50_MS} ms: {p50:.3} ms, {}.\n",
            o.clients,
            if p50 <= TARGET_RELAY_P50_MS { "met" } else { "MISSED" },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE x histogram\n\
        x_bucket{le=\"0.0001\"} 2\n\
        x_bucket{le=\"0.0002\"} 6\n\
        x_bucket{le=\"0.0004\"} 10\n\
        x_bucket{le=\"+Inf\"} 10\n\
        x_sum 0.002\nx_count 10\n\
        y_bucket{le=\"0.0001\"} 99\n";

    #[test]
    fn parses_one_histogram_by_name_and_ignores_the_others() {
        let h = Hist::parse(TEXT, "x").unwrap();
        assert_eq!(h.bounds, vec![0.0001, 0.0002, 0.0004, f64::INFINITY]);
        assert_eq!(h.cumulative, vec![2, 6, 10, 10]);
        assert_eq!(Hist::parse(TEXT, "z"), None);
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket_like_histogram_quantile() {
        let h = Hist::parse(TEXT, "x").unwrap();
        // Rank 5 of 10 is the 3rd of the 4 observations in (0.1, 0.2] ms: 0.175 ms.
        assert!((h.quantile(0.5).unwrap() - 0.000175).abs() < 1e-12);
        // Rank 1 is half-way into the first bucket, which starts at 0.
        assert!((h.quantile(0.1).unwrap() - 0.00005).abs() < 1e-12);
        let empty = h.since(&h);
        assert_eq!(empty.count(), 0);
        assert_eq!(empty.quantile(0.5), None);
    }

    #[test]
    fn the_inf_bucket_reports_the_highest_finite_bound() {
        let h = Hist {
            bounds: vec![0.001, f64::INFINITY],
            cumulative: vec![1, 4],
        };
        assert_eq!(h.quantile(0.99), Some(0.001));
    }

    #[test]
    fn since_subtracts_an_earlier_scrape() {
        let after = Hist::parse(TEXT, "x").unwrap();
        let before = Hist {
            bounds: after.bounds.clone(),
            cumulative: vec![1, 1, 2, 2],
        };
        assert_eq!(after.since(&before).cumulative, vec![1, 5, 8, 8]);
    }
}
