//! Markdown for RESULTS.md and one-line summaries for the terminal.

use crate::cluster::Measured;
use crate::fanout;
use crate::results::table;
use crate::stats::percentile;
use crate::storm::{self, WINDOW_US};

const MIB: f64 = (1u64 << 20) as f64;
/// Fan-out targets (issue 5 §4) at N = 10 000, R = 10.
const TARGET_P99_MS: f64 = 50.0;
const TARGET_RSS_MIB: f64 = 300.0;

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / MIB)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// One line per fan-out run, for the terminal.
pub fn fanout_row_text(o: &fanout::Outcome) -> String {
    format!(
        "N={} deliveries/s={:.0} p50={:.1}ms p99={:.1}ms max={:.1}ms spread_p50={:.1}ms write_p50={:.1}ms gaps={} dups={} rss={}MiB peak={}MiB cpu={:.0}+{:.0}% ({:.1}us/delivery) loadgen_cpu={:.0}+{:.0}%",
        o.clients,
        o.deliveries_per_sec(),
        o.latency_ms(50.0),
        o.latency_ms(99.0),
        o.latency_ms(100.0),
        f64::from(percentile(&o.totals.spread_us, 50.0)) / 1000.0,
        f64::from(percentile(&o.write_rtt_us, 50.0)) / 1000.0,
        o.totals.missing,
        o.totals.duplicates,
        mib(o.rss_connected),
        mib(o.rss_peak),
        o.server_cpu.0,
        o.server_cpu.1,
        o.server_us_per_delivery(),
        o.loadgen_cpu.0,
        o.loadgen_cpu.1,
    )
}

/// One fan-out measurement of the server and, when measured, of the floor
/// (`floor.rs`) with the same clients, rate and time, one right after the other.
pub struct FanoutPair {
    /// The server.
    pub server: fanout::Outcome,
    /// The floor program in the server's place.
    pub floor: Option<fanout::Outcome>,
    /// An earlier server build in its place (`--baseline-bin`), measured
    /// right before it.
    pub baseline: Option<fanout::Outcome>,
}

/// The fan-out section: a server row and a floor row per N, then the server
/// as ratios to the floor, then the targets.
pub fn fanout(pairs: &[FanoutPair]) -> String {
    let rows: Vec<Vec<String>> = pairs
        .iter()
        .flat_map(|p| {
            let before = p.baseline.as_ref().map(|b| fanout_row("server before", b));
            before
                .into_iter()
                .chain(std::iter::once(fanout_row("server", &p.server)))
                .chain(p.floor.as_ref().map(|f| fanout_row("floor", f)))
        })
        .collect();
    let mut out = table(&FANOUT_HEADERS, &rows);
    out.push_str(FANOUT_NOTES);
    let ratios: Vec<Vec<String>> = pairs
        .iter()
        .filter_map(|p| p.floor.as_ref().map(|f| floor_row(&p.server, f)))
        .collect();
    if !ratios.is_empty() {
        out.push_str(
            "
Server against the floor, same N, same run:\n\n",
        );
        out.push_str(&table(&FLOOR_HEADERS, &ratios));
        out.push_str(FLOOR_NOTES);
    }
    let before: Vec<Vec<String>> = pairs
        .iter()
        .filter_map(|p| Some(floor_row(p.baseline.as_ref()?, p.floor.as_ref()?)))
        .collect();
    if !before.is_empty() {
        out.push_str(
            "
The server before (`--baseline-bin`, measured right before the server) against the same floor run:\n\n",
        );
        out.push_str(&table(&FLOOR_HEADERS, &before));
    }
    let servers: Vec<&fanout::Outcome> = pairs.iter().map(|p| &p.server).collect();
    fanout_targets(&servers, &mut out);
    if let Some(p) = pairs.iter().find(|p| p.server.clients == 10_000) {
        floor_targets(p, &mut out);
    }
    out
}

const FANOUT_HEADERS: [&str; 18] = [
    "program",
    "clients",
    "writes/s",
    "deliveries/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "first→last client p50 / p99 ms",
    "REST write p50 / p99 ms",
    "missing / dup",
    "RSS idle MiB",
    "RSS connected MiB",
    "RSS peak MiB",
    "KiB / conn",
    "CPU % user + kernel",
    "CPU µs / delivery user + kernel",
    "loadgen CPU µs / delivery user + kernel",
    "connect s",
];

const FANOUT_NOTES: &str = "\n\nLatency = client receive time − the writer's send time carried in `volume_usd` (same process, same clock): \
    REST write, SQLite commit, relay, fan-out and the client's read, all included. \
    \"first→last client\" is, per update, the gap between the first and the last client receiving it: the fan-out alone. \
    \"REST write\" is the writer's PUT round trip (HTTP + SQLite commit). \
    CPU % is of one core while writing (200 % = both cores), split user + kernel from `/proc/<pid>/stat`; \
    CPU µs / delivery = that CPU time over the writing window divided by the deliveries in it, for the program \
    (server or floor) and for the load generator in the same window; \
    RSS from `/proc/<pid>/status` of the program's own process (release build). \
    \"missing / dup\" counts seqs skipped or never received / received twice, over all clients. \
    The floor row is `floor-server` (bench/loadgen/src/floor.rs) in the server's place, measured right after the \
    server with the same clients, rate and time: no framework and no database, each update framed once and written \
    with one blocking `write` per socket by one thread per core.\n";

fn ms_pair(sorted_us: &[u32]) -> String {
    format!(
        "{:.2} / {:.2}",
        f64::from(percentile(sorted_us, 50.0)) / 1000.0,
        f64::from(percentile(sorted_us, 99.0)) / 1000.0
    )
}

fn us_pair((user, kernel): (f64, f64)) -> String {
    format!("{user:.2} + {kernel:.2}")
}

fn fanout_row(program: &str, o: &fanout::Outcome) -> Vec<String> {
    vec![
        program.to_owned(),
        o.clients.to_string(),
        format!("{:.1}", o.writes_ok as f64 / o.write_secs.max(f64::EPSILON)),
        format!("{:.0}", o.deliveries_per_sec()),
        format!("{:.2}", o.latency_ms(50.0)),
        format!("{:.2}", o.latency_ms(99.0)),
        format!("{:.2}", o.latency_ms(100.0)),
        ms_pair(&o.totals.spread_us),
        ms_pair(&o.write_rtt_us),
        format!("{} / {}", o.totals.missing, o.totals.duplicates),
        mib(o.rss_idle),
        mib(o.rss_connected),
        mib(o.rss_peak),
        format!("{:.1}", o.kib_per_connection()),
        format!("{:.0} + {:.0}", o.server_cpu.0, o.server_cpu.1),
        us_pair(o.us_per_delivery(o.server_cpu)),
        us_pair(o.us_per_delivery(o.loadgen_cpu)),
        format!("{:.1}", o.connect_secs),
    ]
}

const FLOOR_HEADERS: [&str; 8] = [
    "clients",
    "user µs / delivery: server / floor",
    "kernel µs / delivery: server / floor",
    "CPU per delivery: server ÷ floor",
    "p99 ms: server / floor (ratio)",
    "first→last p99 ms: server / floor (ratio)",
    "KiB / conn: server / floor",
    "loadgen µs / delivery with server / with floor",
];

const FLOOR_NOTES: &str = "\nThe floor does no database commit and no REST routing, so its p99 is the delivery path alone; \
    the server's p99 includes its commit (see \"REST write\").\n";

fn floor_row(s: &fanout::Outcome, f: &fanout::Outcome) -> Vec<String> {
    let (su, sk) = s.us_per_delivery(s.server_cpu);
    let (fu, fk) = f.us_per_delivery(f.server_cpu);
    let spread = |o: &fanout::Outcome| f64::from(percentile(&o.totals.spread_us, 99.0)) / 1000.0;
    let total = |(u, k): (f64, f64)| u + k;
    vec![
        s.clients.to_string(),
        format!("{su:.2} / {fu:.2}"),
        format!("{sk:.2} / {fk:.2}"),
        ratio(su + sk, fu + fk),
        format!(
            "{:.2} / {:.2} ({})",
            s.latency_ms(99.0),
            f.latency_ms(99.0),
            ratio(s.latency_ms(99.0), f.latency_ms(99.0))
        ),
        format!(
            "{:.2} / {:.2} ({})",
            spread(s),
            spread(f),
            ratio(spread(s), spread(f))
        ),
        format!(
            "{:.1} / {:.1}",
            s.kib_per_connection(),
            f.kib_per_connection()
        ),
        format!(
            "{:.2} / {:.2}",
            total(s.us_per_delivery(s.loadgen_cpu)),
            total(f.us_per_delivery(f.loadgen_cpu))
        ),
    ]
}

/// Issue 16's targets at N = 10 000.
const TARGET_USER_US: f64 = 1.0;
const TARGET_P99_FLOOR_RATIO: f64 = 1.3;
const TARGET_KIB_PER_CONN: f64 = 8.0;

fn floor_targets(p: &FanoutPair, out: &mut String) {
    let s = &p.server;
    let user = s.us_per_delivery(s.server_cpu).0;
    let kib = s.kib_per_connection();
    let p99 = match &p.floor {
        Some(f) if f.latency_ms(99.0) > 0.0 => {
            let r = s.latency_ms(99.0) / f.latency_ms(99.0);
            format!("×{r:.2}, {}", verdict(r <= TARGET_P99_FLOOR_RATIO))
        }
        _ => "no floor measured".into(),
    };
    out.push_str(&format!(
        "Issue 16 targets at N = 10 000: server user CPU ≤ {TARGET_USER_US} µs / delivery: {user:.2} µs, {}; \
         p99 ≤ {TARGET_P99_FLOOR_RATIO}× the floor's: {p99}; ≤ {TARGET_KIB_PER_CONN} KiB / connection: {kib:.1} KiB, {}.\n",
        verdict(user <= TARGET_USER_US),
        verdict(kib <= TARGET_KIB_PER_CONN),
    ));
}

fn fanout_targets(outcomes: &[&fanout::Outcome], out: &mut String) {
    let Some(o) = outcomes
        .iter()
        .find(|o| o.clients == 10_000 && o.rate == 10)
    else {
        return;
    };
    let p99 = o.latency_ms(99.0);
    let peak = o.rss_peak as f64 / MIB;
    let clean = o.totals.problems().is_empty();
    out.push_str(&format!(
        "\nTargets at N = 10 000, R = 10: p99 ≤ {TARGET_P99_MS} ms: {p99:.1} ms, {}; zero gaps: {}; server RSS ≤ {TARGET_RSS_MIB} MB: peak {peak:.1} MiB, {}.\n",
        verdict(p99 <= TARGET_P99_MS),
        verdict(clean),
        verdict(peak <= TARGET_RSS_MIB),
    ));
}

const CLUSTER_HEADERS: [&str; 14] = [
    "configuration",
    "instances",
    "clients",
    "writes/s",
    "deliveries/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "gaps",
    "duplicates",
    "REST write p50 / p99 ms",
    "RSS connected / peak MiB, per instance",
    "CPU % user + kernel, per instance",
    "server CPU µs / delivery (all instances)",
];

fn cluster_row(m: &Measured) -> Vec<String> {
    let o = &m.outcome;
    let per_instance = |f: &dyn Fn(&fanout::InstanceUsage) -> String| {
        o.instances.iter().map(f).collect::<Vec<_>>().join("; ")
    };
    vec![
        m.label.clone(),
        o.instances.len().to_string(),
        o.clients.to_string(),
        format!("{:.1}", o.writes_ok as f64 / o.write_secs.max(f64::EPSILON)),
        format!("{:.0}", o.deliveries_per_sec()),
        format!("{:.2}", o.latency_ms(50.0)),
        format!("{:.2}", o.latency_ms(99.0)),
        format!("{:.2}", o.latency_ms(100.0)),
        o.totals.missing.to_string(),
        o.totals.duplicates.to_string(),
        ms_pair(&o.write_rtt_us),
        per_instance(&|i| format!("{} / {}", mib(i.rss_connected), mib(i.rss_peak))),
        per_instance(&|i| format!("{:.0} + {:.0}", i.cpu.0, i.cpu.1)),
        format!("{:.1}", o.server_us_per_delivery()),
    ]
}

/// `a / b` as `×1.23`; `n/a` when `b` is zero (nothing to compare with).
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("×{:.2}", a / b)
    } else {
        "n/a".into()
    }
}

/// The cluster section: one row per configuration, then the last
/// configuration's deliveries/s and p99 as ratios of each earlier one.
pub fn cluster(measured: &[Measured]) -> String {
    let rows: Vec<Vec<String>> = measured.iter().map(cluster_row).collect();
    let mut out = table(&CLUSTER_HEADERS, &rows);
    out.push_str(CLUSTER_NOTES);
    if let Some((scaled, singles)) = measured.split_last() {
        let o = &scaled.outcome;
        for single in singles {
            let s = &single.outcome;
            out.push_str(&format!(
                "\n- {} vs {}: deliveries/s {}, p99 {}.",
                scaled.label,
                single.label,
                ratio(o.deliveries_per_sec(), s.deliveries_per_sec()),
                ratio(o.latency_ms(99.0), s.latency_ms(99.0)),
            ));
        }
        out.push('\n');
    }
    out
}

const CLUSTER_NOTES: &str = "\n\nSame load generator and measurement as the fan-out section, in one run: every configuration \
    gets the same clients, writes/s and writing time. Clients and REST writes go round-robin over the configuration's instances \
    (client i and write i to instance i mod n); every client checks seq continuity, global across instances with Redis. \
    Each PostgreSQL + Redis configuration gets a fresh database and its own `REDIS_KEY_PREFIX`. \
    Latency = client receive time − the writer's send time (REST write, commit, relay through Redis, fan-out, the client's read). \
    CPU % is of one core while writing (200 % = both cores of this machine); RSS per instance from `/proc/<pid>/status`. \
    All instances, Redis, PostgreSQL and the load generator share this machine's cores, so the scaled-out figure \
    measures correctness and overhead here, not capacity: more instances on the same two cores cannot deliver more. \
    At a fixed rate, deliveries/s = writes/s achieved × clients, so a deliveries/s ratio near 1 says the configuration \
    kept up with the offered load, not how much more it could take. Redis and PostgreSQL CPU is not counted in the \
    per-instance figures.\n";

/// One line per storm, for the terminal.
pub fn storm_line(o: &storm::Outcome) -> String {
    let last = o.resumed_ms.last().copied().unwrap_or(f64::NAN);
    format!(
        "N={} resumed={}/{} last_resume={last:.0}ms attempts={} busiest_100ms={:.1}% outage={:.0}ms missing={} dups={} not_resumed={}",
        o.clients,
        o.resumed_ms.len(),
        o.clients,
        o.attempts_us.len(),
        100.0 * o.busiest_share(),
        o.outage_ms,
        o.totals.missing,
        o.totals.duplicates,
        o.totals.not_resumed,
    )
}

/// The storm section: summary, targets and the attempt histogram.
pub fn storm(o: &storm::Outcome) -> String {
    let resumed: Vec<u32> = o.resumed_ms.iter().map(|&t| t as u32).collect();
    let bins = o.bins();
    let biggest_bin = bins.iter().copied().max().unwrap_or(0);
    let attempts = o.attempts_us.len().max(1) as f64;
    let limit_ms = o.backoff.cap_ms + 5_000;
    let rows = vec![
        vec!["clients".into(), o.clients.to_string()],
        vec![
            "writes/s during the run (ok / refused while down)".into(),
            format!("{} ({} / {})", o.rate, o.writes_ok, o.writes_failed),
        ],
        vec![
            "backoff (wasm client `Backoff`)".into(),
            format!(
                "base {} ms, cap {} ms, full jitter",
                o.backoff.base_ms, o.backoff.cap_ms
            ),
        ],
        vec![
            "outage: SIGKILL to new server healthy".into(),
            format!("{:.0} ms", o.outage_ms),
        ],
        vec![
            "reconnect attempts (all, incl. refused)".into(),
            o.attempts_us.len().to_string(),
        ],
        vec![
            "busiest sliding 100 ms window".into(),
            format!("{:.1} % of attempts", 100.0 * o.busiest_share()),
        ],
        vec![
            "busiest aligned 100 ms bin".into(),
            format!("{:.1} % of attempts", 100.0 * biggest_bin as f64 / attempts),
        ],
        vec![
            "clients resumed".into(),
            format!("{} / {}", o.resumed_ms.len(), o.clients),
        ],
        vec![
            "resume time after kill p50 / p99 / max".into(),
            format!(
                "{} / {} / {} ms",
                percentile(&resumed, 50.0),
                percentile(&resumed, 99.0),
                percentile(&resumed, 100.0)
            ),
        ],
        vec![
            "missing / duplicate updates, all clients".into(),
            format!("{} / {}", o.totals.missing, o.totals.duplicates),
        ],
        vec![
            "reconnects not `resumed: true`; resync_required".into(),
            format!("{}; {}", o.totals.not_resumed, o.totals.resyncs),
        ],
        vec![
            "last seq every client had to reach".into(),
            o.totals.head.to_string(),
        ],
    ];
    let mut out = table(&["measure", "value"], &rows);
    out.push_str(&format!(
        "\n\nTargets: all resumed within cap + 5 s = {limit_ms} ms of the kill: {}; no 100 ms window over 10 % of attempts: {}; no client missed an update: {}.\n",
        verdict(o.all_resumed_in_time()),
        verdict(o.busiest_share() <= 0.10),
        verdict(o.totals.problems().is_empty()),
    ));
    let first_wave = WINDOW_US as f64 / 1000.0 / o.backoff.ceiling_ms(1).max(1) as f64;
    out.push_str(&format!(
        "\nThe policy's first wave draws each client's delay uniformly from [0, {} ms], so an average 100 ms window \
         holds {:.1} % of it; the busiest window exceeds that mean by chance and by the kill-detection offset.\n",
        o.backoff.ceiling_ms(1),
        100.0 * first_wave
    ));
    out.push_str(&format!(
        "\nReconnect attempts per {} ms after the kill:\n\n```\n",
        WINDOW_US / 1000
    ));
    let scale = (biggest_bin as f64 / 50.0).max(1.0);
    for (i, &n) in bins.iter().enumerate().take(100) {
        let bar = "#".repeat((n as f64 / scale).round() as usize);
        out.push_str(&format!(
            "{:>6.1} s {:>5} {bar}\n",
            i as f64 * WINDOW_US as f64 / 1e6,
            n
        ));
    }
    if bins.len() > 100 {
        out.push_str(&format!("... {} more bins\n", bins.len() - 100));
    }
    out.push_str("```\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Totals;

    fn outcome(clients: usize, instances: usize, latencies_us: Vec<u32>) -> fanout::Outcome {
        fanout::Outcome {
            clients,
            rate: 10,
            writes_ok: 10,
            write_secs: 1.0,
            connect_secs: 0.1,
            rss_idle: 1 << 20,
            rss_connected: 2 << 20,
            rss_peak: 3 << 20,
            cpu_wall: 1.0,
            server_cpu: (1.0, 2.0),
            instances: vec![
                fanout::InstanceUsage {
                    rss_connected: 2 << 20,
                    rss_peak: 3 << 20,
                    cpu: (1.0, 2.0),
                };
                instances
            ],
            loadgen_cpu: (1.0, 1.0),
            write_rtt_us: vec![1_000],
            metrics: Vec::new(),
            totals: Totals {
                deliveries: 10 * clients as u64,
                latencies_us,
                ..Totals::default()
            },
        }
    }

    #[test]
    fn cluster_rows_list_every_instance_in_one_cell() {
        let m = Measured {
            label: "3 instances, PostgreSQL + Redis".into(),
            outcome: outcome(1000, 3, vec![5_000, 20_000]),
        };
        let row = cluster_row(&m);
        assert_eq!(row.len(), CLUSTER_HEADERS.len());
        assert_eq!(row[1], "3");
        assert_eq!(row[4], "10000", "10 updates x 1000 clients in 1 s");
        assert_eq!(row[6], "20.00", "p99 of two latencies is the larger, in ms");
        assert_eq!(row[11], "2.0 / 3.0; 2.0 / 3.0; 2.0 / 3.0");
        assert_eq!(row[12], "1 + 2; 1 + 2; 1 + 2");
    }

    #[test]
    fn cluster_section_compares_the_last_configuration_with_each_single_one() {
        let single = Measured {
            label: "1 instance, SQLite (default)".into(),
            outcome: outcome(1000, 1, vec![10_000]),
        };
        let scaled = Measured {
            label: "3 instances, PostgreSQL + Redis".into(),
            outcome: outcome(500, 3, vec![25_000]),
        };
        let md = cluster(&[single, scaled]);
        let widths: Vec<usize> = md
            .lines()
            .take(4)
            .map(|l| l.matches(" | ").count())
            .collect();
        assert_eq!(widths, vec![13; 4], "{md}");
        assert!(
            md.contains("3 instances, PostgreSQL + Redis vs 1 instance, SQLite (default): deliveries/s ×0.50, p99 ×2.50."),
            "{md}"
        );
    }

    #[test]
    fn ratio_to_nothing_is_not_a_number_it_is_na() {
        assert_eq!(ratio(3.0, 2.0), "×1.50");
        assert_eq!(ratio(3.0, 0.0), "n/a");
    }

    fn fanout_outcome(
        clients: usize,
        deliveries: u64,
        cpu: (f64, f64),
        p99_us: u32,
    ) -> fanout::Outcome {
        fanout::Outcome {
            clients,
            rate: 10,
            writes_ok: 5,
            write_secs: 1.0,
            connect_secs: 0.1,
            rss_idle: 1 << 20,
            rss_connected: (1 << 20) + clients as u64 * 8 * 1024,
            rss_peak: 3 << 20,
            cpu_wall: 1.0,
            server_cpu: cpu,
            instances: Vec::new(),
            loadgen_cpu: (1.0, 1.0),
            write_rtt_us: vec![1_000],
            totals: Totals {
                deliveries,
                latencies_us: vec![p99_us],
                spread_us: vec![p99_us / 2],
                ..Totals::default()
            },
            metrics: Vec::new(),
        }
    }

    #[test]
    fn fanout_rows_have_one_cell_per_header() {
        let o = fanout_outcome(10, 50, (1.0, 2.0), 1_000);
        assert_eq!(fanout_row("server", &o).len(), FANOUT_HEADERS.len());
        let f = fanout_outcome(10, 50, (0.5, 2.0), 1_000);
        assert_eq!(floor_row(&o, &f).len(), FLOOR_HEADERS.len());
        let b = fanout_outcome(10, 50, (2.0, 2.0), 1_000);
        let md = fanout(&[FanoutPair {
            server: o,
            floor: Some(f),
            baseline: Some(b),
        }]);
        let widths: Vec<usize> = md
            .lines()
            .take(5)
            .map(|l| l.matches(" | ").count())
            .collect();
        assert_eq!(widths, vec![17; 5], "{md}");
        assert!(md.contains("| server before | 10 |"), "{md}");
        assert!(md.contains("| floor | 10 |"), "{md}");
        assert!(md.contains("The server before (`--baseline-bin`"), "{md}");
    }

    #[test]
    fn the_floor_table_gives_per_delivery_cpu_and_ratios() {
        // 1 s window, 100 000 deliveries: 50 % user = 0.5 s = 5 µs per delivery.
        let s = fanout_outcome(10_000, 100_000, (50.0, 100.0), 40_000);
        let f = fanout_outcome(10_000, 100_000, (10.0, 90.0), 20_000);
        assert_eq!(s.us_per_delivery(s.server_cpu), (5.0, 10.0));
        let row = floor_row(&s, &f);
        assert_eq!(row[1], "5.00 / 1.00");
        assert_eq!(row[2], "10.00 / 9.00");
        assert_eq!(row[3], "×1.50");
        assert_eq!(row[4], "40.00 / 20.00 (×2.00)");
        assert_eq!(row[6], "8.0 / 8.0");
        let md = fanout(&[FanoutPair {
            server: s,
            floor: Some(f),
            baseline: None,
        }]);
        assert!(
            md.contains("server user CPU ≤ 1 µs / delivery: 5.00 µs, MISSED; p99 ≤ 1.3× the floor's: ×2.00, MISSED; ≤ 8 KiB / connection: 8.0 KiB, met."),
            "{md}"
        );
    }
}
