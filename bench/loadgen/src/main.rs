//! `stellar-insights-loadgen`: fan-out load and reconnect-storm benchmarks of
//! `stellar-insights-server`, on loopback only. See `bench/README.md`.
//!
//! ```text
//! stellar-insights-loadgen fanout [--clients 1000,5000,10000] [--rate 10] [--secs 20]
//! stellar-insights-loadgen first  [--clients 1000] [--rate 10] [--secs 20]
//! stellar-insights-loadgen storm  [--clients 2000] [--rate 10] [--warm-secs 5]
//! stellar-insights-loadgen cluster [--clients 1000] [--rate 10] [--secs 20] --redis-url URL --postgres-url URL
//! stellar-insights-loadgen smoke
//! stellar-insights-loadgen state  [--secs 60]   (v1 vs state + deltas: bytes, throttled client)
//! fanout also: [--floor 0|1] (default 1: the floor program measured after each server run)
//!              [--baseline-bin PATH] (an earlier server build measured right before each server run)
//! common: [--server-bin PATH] [--source-ips N] [--client raw|tungstenite] [--receivers 1] [--results bench/RESULTS.md] [--command TEXT]
//! ```
//!
//! `LOADGEN_RESULTS` and `LOADGEN_COMMAND` in the environment are defaults for
//! `--results` and `--command` (`bench/loadgen.sh` sets them); `TEST_REDIS_URL`
//! and `TEST_POSTGRES_URL` (as printed by `scripts/services.sh`) for
//! `--redis-url` and `--postgres-url`.
//!
//! Exit status 1 when any client saw a gap, a duplicate, a resync or a failed
//! resume (correctness); timing targets are reported, never enforced. Exit 2
//! on bad arguments or when the run itself cannot happen.

mod client;
mod cluster;
mod fanout;
mod first;
mod floor;
mod frames;
mod harness;
mod receiver;
mod report;
mod results;
mod server;
mod state;
mod stats;
mod storm;
mod writer;

use std::path::PathBuf;
use std::process::ExitCode;

use stellar_insights_client_core::backoff::Backoff;

use client::ClientKind;
use cluster::Services;
use harness::Options;
use server::Storage;

/// Parsed command line.
#[derive(Debug)]
struct Args {
    mode: String,
    clients: Vec<usize>,
    rate: u32,
    secs: f64,
    warm_secs: f64,
    opts: Options,
    redis_url: Option<String>,
    postgres_url: Option<String>,
    results: Option<PathBuf>,
    command: String,
    /// Fan-out: also measure the floor program after each server run. Default on (`--floor 0` turns it off).
    floor: bool,
    /// Fan-out: also measure this server binary (an earlier build: "server before") right before
    /// each server run, same clients, rate and time. Default none.
    baseline_bin: Option<PathBuf>,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mode = argv
        .first()
        .cloned()
        .ok_or("missing mode: fanout, first, storm, cluster, state or smoke")?;
    if !["fanout", "first", "storm", "cluster", "state", "smoke"].contains(&mode.as_str()) {
        return Err(format!(
            "unknown mode {mode:?}: expected fanout, first, storm, cluster, state or smoke"
        ));
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut a = Args {
        clients: match mode.as_str() {
            "storm" => vec![2000],
            "cluster" | "first" => vec![1000],
            _ => vec![1000, 5000, 10_000],
        },
        rate: 10,
        secs: if mode == "state" { 60.0 } else { 20.0 },
        warm_secs: 5.0,
        opts: Options {
            server_bin: PathBuf::from("target/release/stellar-insights-server"),
            server_args: Vec::new(),
            source_ips: 8,
            client: ClientKind::Raw,
            receivers: 1,
        },
        redis_url: env("TEST_REDIS_URL"),
        postgres_url: env("TEST_POSTGRES_URL"),
        results: std::env::var_os("LOADGEN_RESULTS").map(PathBuf::from),
        command: std::env::var("LOADGEN_COMMAND")
            .unwrap_or_else(|_| format!("stellar-insights-loadgen {}", argv.join(" "))),
        mode,
        floor: true,
        baseline_bin: None,
    };
    let mut it = argv[1..].iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value:?}: expected {what}");
        match flag.as_str() {
            "--clients" => {
                a.clients = value
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse()
                            .ok()
                            .filter(|&n: &usize| (1..=20_000).contains(&n))
                    })
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad("comma-separated counts 1..=20000"))?
            }
            "--rate" => {
                a.rate = value
                    .parse()
                    .ok()
                    .filter(|r| (1..=1000).contains(r))
                    .ok_or_else(|| bad("1..=1000 writes/s"))?
            }
            "--secs" => {
                a.secs = value
                    .parse()
                    .ok()
                    .filter(|s| (0.5..=600.0).contains(s))
                    .ok_or_else(|| bad("0.5..=600 s"))?
            }
            "--warm-secs" => {
                a.warm_secs = value
                    .parse()
                    .ok()
                    .filter(|s| (0.1..=600.0).contains(s))
                    .ok_or_else(|| bad("0.1..=600 s"))?
            }
            "--server-bin" => a.opts.server_bin = PathBuf::from(value),
            "--source-ips" => {
                a.opts.source_ips = value
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| bad("1..=255"))?
            }
            "--client" => {
                a.opts.client = match value.as_str() {
                    "raw" => ClientKind::Raw,
                    "tungstenite" => ClientKind::Tungstenite,
                    _ => return Err(bad("raw or tungstenite")),
                }
            }
            "--receivers" => {
                a.opts.receivers = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| bad("1..=64 threads"))?
            }
            "--redis-url" => a.redis_url = Some(value.clone()),
            "--postgres-url" => a.postgres_url = Some(value.clone()),
            "--results" => a.results = Some(PathBuf::from(value)),
            "--command" => a.command = value.clone(),
            "--baseline-bin" => a.baseline_bin = Some(PathBuf::from(value)),
            "--floor" => {
                a.floor = match value.as_str() {
                    "1" => true,
                    "0" => false,
                    _ => return Err(bad("0 or 1")),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if (a.mode == "cluster" || a.mode == "first") && a.clients.len() != 1 {
        return Err(format!("{}: --clients takes one count", a.mode));
    }
    if a.mode == "cluster" && (a.redis_url.is_none() || a.postgres_url.is_none()) {
        return Err(
            "cluster needs --redis-url and --postgres-url (or TEST_REDIS_URL and TEST_POSTGRES_URL; \
             bench/loadgen.sh cluster starts scripts/services.sh when they are unset)"
                .into(),
        );
    }
    if let Some(bin) = a.baseline_bin.as_ref().filter(|b| !b.is_file()) {
        return Err(format!(
            "--baseline-bin {}: no such file (an earlier server build, e.g. its target/release/stellar-insights-server)",
            bin.display()
        ));
    }
    if !a.opts.server_bin.is_file() {
        return Err(format!(
            "server binary {} not found: build it (cargo build --release -p stellar-insights-server) or pass --server-bin",
            a.opts.server_bin.display()
        ));
    }
    Ok(a)
}

async fn run(a: &Args) -> Result<Vec<String>, String> {
    let nofile = server::raise_nofile();
    let most = a.clients.iter().max().copied().unwrap_or(0) as u64;
    if nofile < most + 256 {
        return Err(format!(
            "open-file limit {nofile} is too low for {most} clients: raise ulimit -n"
        ));
    }
    let load_before = load_average();
    let mut problems = Vec::new();
    match a.mode.as_str() {
        "fanout" => {
            let mut outcomes = Vec::new();
            for &n in &a.clients {
                eprintln!("fanout: {n} clients, {} writes/s for {} s", a.rate, a.secs);
                let baseline = match &a.baseline_bin {
                    Some(bin) => {
                        let opts = Options {
                            server_bin: bin.clone(),
                            ..a.opts.clone()
                        };
                        Some(measure_fanout(&opts, a, n, "before", &mut problems).await?)
                    }
                    None => None,
                };
                let o = measure_fanout(&a.opts, a, n, "server", &mut problems).await?;
                let floor = if a.floor {
                    Some(
                        measure_fanout(&floor_options(&a.opts)?, a, n, "floor", &mut problems)
                            .await?,
                    )
                } else {
                    None
                };
                outcomes.push(report::FanoutPair {
                    server: o,
                    floor,
                    baseline,
                });
            }
            let body = format!(
                "{}\n{}{}",
                report::fanout(&outcomes),
                client_note(&a.opts),
                load_note(&load_before)
            );
            println!("{body}");
            save(a, "loadgen", "Server fan-out (issue 5, section 4)", &body)?;
        }
        "first" => {
            let n = a.clients[0];
            eprintln!(
                "first: {n} clients, {} writes/s for {} s, write → first delivery",
                a.rate, a.secs
            );
            let o = fanout::measure(&a.opts, &[Storage::Sqlite], n, a.rate, a.secs).await?;
            problems.extend(o.totals.problems());
            let body = format!(
                "{}\n{}{}",
                first::report(&o),
                client_note(&a.opts),
                load_note(&load_before)
            );
            println!("{body}");
            save(
                a,
                "first",
                "Write → first delivery, split by hop (issue 11, point 7)",
                &body,
            )?;
        }
        "state" => {
            let o = state::measure(&a.opts, a.secs, 10.0, 20.0).await?;
            let body = format!("{}\n{}", state::report(&o), load_note(&load_before));
            println!("{body}");
            save(
                a,
                "state",
                "State on subscribe + field deltas vs v1 frames; throttled client (issue 14, point 5)",
                &body,
            )?;
        }
        "storm" => {
            let n = a.clients[0];
            eprintln!(
                "storm: {n} clients, {} writes/s, kill after {} s",
                a.rate, a.warm_secs
            );
            let o = storm::measure(&a.opts, n, a.rate, a.warm_secs, storm_backoff()).await?;
            problems.extend(o.totals.problems());
            let body = format!(
                "{}\n{}{}",
                report::storm(&o),
                client_note(&a.opts),
                load_note(&load_before)
            );
            println!("{body}");
            save(a, "storm", "Reconnect storm (issue 5, section 5)", &body)?;
        }
        "cluster" => {
            let n = a.clients[0];
            let services = Services {
                redis_url: a.redis_url.clone().unwrap_or_default(),
                postgres_url: a.postgres_url.clone().unwrap_or_default(),
            };
            eprintln!(
                "cluster: {n} clients, {} writes/s for {} s per configuration",
                a.rate, a.secs
            );
            let measured = cluster::measure(&a.opts, &services, n, a.rate, a.secs).await?;
            for m in &measured {
                problems.extend(
                    m.outcome
                        .totals
                        .problems()
                        .into_iter()
                        .map(|p| format!("{}: {p}", m.label)),
                );
                eprintln!("{}: {}", m.label, report::fanout_row_text(&m.outcome));
            }
            let body = format!(
                "{}\n{}{}",
                report::cluster(&measured),
                client_note(&a.opts),
                load_note(&load_before)
            );
            println!("{body}");
            save(
                a,
                "cluster",
                "Several instances on PostgreSQL + Redis (issue 7)",
                &body,
            )?;
        }
        _ => {
            // Small and short: checks correctness only, so a slow CI box cannot fail it.
            let f = fanout::measure(&a.opts, &[Storage::Sqlite], 50, 20, 3.0).await?;
            problems.extend(
                f.totals
                    .problems()
                    .into_iter()
                    .map(|p| format!("fanout: {p}")),
            );
            println!("smoke fanout: {}", report::fanout_row_text(&f));
            let s = storm::measure(&a.opts, 50, 20, 1.0, storm_backoff()).await?;
            problems.extend(
                s.totals
                    .problems()
                    .into_iter()
                    .map(|p| format!("storm: {p}")),
            );
            if s.totals.first_resume_us.len() < s.clients {
                problems.push(format!(
                    "storm: only {} of {} clients resumed",
                    s.totals.first_resume_us.len(),
                    s.clients
                ));
            }
            println!("smoke storm: {}", report::storm_line(&s));
        }
    }
    Ok(problems)
}

/// Rewrites section `name` of the results file, if there is one.
fn save(a: &Args, name: &str, title: &str, body: &str) -> Result<(), String> {
    match &a.results {
        Some(path) => results::write_section(path, name, title, &a.command, body)
            .map_err(|e| format!("{}: {e}", path.display())),
        None => Ok(()),
    }
}

/// The 1-, 5- and 15-minute load averages (`/proc/loadavg`).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// Which receive path the clients used, for the section's reader.
fn client_note(opts: &Options) -> String {
    match opts.client {
        ClientKind::Raw => format!(
            "Load generator clients: `--client raw`, {} receiver thread(s) (bench/README.md, \"The load generator's receive path\").\n\n",
            opts.receivers
        ),
        ClientKind::Tungstenite => "Load generator clients: `--client tungstenite`, one tokio task per client (bench/README.md, \"The load generator's receive path\").\n\n".into(),
    }
}

/// Other jobs share the cores (and skew latency): say how busy the machine was.
fn load_note(before: &str) -> String {
    format!(
        "Machine load average (1, 5, 15 min) at the start: {before}; at the end: {}. \
         Above 2 on this 2-core machine, other processes were competing for the CPU.\n",
        load_average()
    )
}

/// The same options with this program's `floor-server` mode in the server's place.
/// One fan-out run of the program `opts` names (`label`: before, server or
/// floor), its problems added to `problems` and its row printed.
async fn measure_fanout(
    opts: &Options,
    a: &Args,
    n: usize,
    label: &str,
    problems: &mut Vec<String>,
) -> Result<fanout::Outcome, String> {
    let o = fanout::measure(opts, &[Storage::Sqlite], n, a.rate, a.secs).await?;
    let tag = if label == "server" {
        String::new()
    } else {
        format!("{label} ")
    };
    problems.extend(
        o.totals
            .problems()
            .into_iter()
            .map(|p| format!("{tag}N={n}: {p}")),
    );
    eprintln!("{label:<6}: {}", report::fanout_row_text(&o));
    Ok(o)
}

fn floor_options(opts: &Options) -> Result<Options, String> {
    Ok(Options {
        server_bin: std::env::current_exe().map_err(|e| format!("own path: {e}"))?,
        server_args: vec!["floor-server".into()],
        ..opts.clone()
    })
}

/// `floor-server`: the floor program (`floor.rs`) on `SERVER_HOST:SERVER_PORT`, as the harness starts it.
fn floor_server() -> ExitCode {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let addr = format!(
        "{}:{}",
        var("SERVER_HOST", "127.0.0.1"),
        var("SERVER_PORT", "8080")
    );
    match addr.parse() {
        Ok(addr) => match floor::serve(addr) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("floor-server: {addr}: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("floor-server: bad address {addr:?}: {e}");
            ExitCode::from(2)
        }
    }
}

/// The wasm client's default policy (base 1 s, cap 30 s, full jitter) without
/// its attempt limit of 5, so a slow restart shows up as late, not as lost.
fn storm_backoff() -> Backoff {
    Backoff {
        max_attempts: None,
        ..Backoff::default()
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // The floor runs without the async runtime: no framework, as measured.
    if argv.first().map(String::as_str) == Some("floor-server") {
        return floor_server();
    }
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(cli(&argv)),
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            ExitCode::from(2)
        }
    }
}

async fn cli(argv: &[String]) -> ExitCode {
    let args = match parse(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(problems) if problems.is_empty() => {
            eprintln!("loadgen: no gaps, duplicates, resyncs or failed resumes");
            ExitCode::SUCCESS
        }
        Ok(problems) => {
            for p in problems {
                eprintln!("loadgen: FAIL {p}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: cannot run: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn rejects_unknown_modes_and_options_with_a_message() {
        assert!(parse(&args("flood")).unwrap_err().contains("unknown mode"));
        assert!(parse(&args("fanout --turbo 1"))
            .unwrap_err()
            .contains("unknown option --turbo"));
        assert!(parse(&args("fanout --rate"))
            .unwrap_err()
            .contains("needs a value"));
    }

    #[test]
    fn a_baseline_binary_that_is_not_there_is_refused_before_the_run() {
        let e = parse(&args("fanout --baseline-bin /nonexistent/server")).unwrap_err();
        assert!(e.contains("--baseline-bin /nonexistent/server"), "{e}");
    }

    #[test]
    fn rejects_out_of_range_values_naming_the_option() {
        let e = parse(&args("fanout --clients 10,0")).unwrap_err();
        assert!(e.contains("--clients"), "{e}");
        let e = parse(&args("storm --rate 0")).unwrap_err();
        assert!(e.contains("--rate"), "{e}");
        let e = parse(&args("fanout --client fast")).unwrap_err();
        assert!(
            e.contains("--client") && e.contains("raw or tungstenite"),
            "{e}"
        );
        let e = parse(&args("fanout --receivers 0")).unwrap_err();
        assert!(e.contains("--receivers"), "{e}");
    }

    #[test]
    fn cluster_without_services_says_where_to_get_them() {
        // The URLs may be exported in the developer's shell: this test is about the flags.
        let e = parse(&args(
            "cluster --redis-url redis://127.0.0.1:1 --clients 10,20",
        ))
        .unwrap_err();
        assert!(e.contains("one count"), "{e}");
        if std::env::var_os("TEST_POSTGRES_URL").is_none() {
            let e = parse(&args("cluster --redis-url redis://127.0.0.1:1")).unwrap_err();
            assert!(e.contains("--postgres-url"), "{e}");
            assert!(e.contains("scripts/services.sh"), "{e}");
        }
    }

    #[test]
    fn missing_server_binary_says_how_to_build_it() {
        let e = parse(&args("smoke --server-bin /nonexistent/server")).unwrap_err();
        assert!(
            e.contains("cargo build --release -p stellar-insights-server"),
            "{e}"
        );
    }
}
