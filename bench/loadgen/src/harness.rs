//! What both benchmarks share: a server child, a writer, N clients, and the
//! end-of-run check that every client holds every update exactly once.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stellar_insights_client_core::backoff::Backoff;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::{self, ClientKind, Report, Shared};
use crate::receiver::Receivers;
use crate::server::{Server, Storage};
use crate::writer::Writer;

/// Clients started at once while connecting; the next batch waits for this one. Value 500.
const CONNECT_BATCH: usize = 500;
/// Longest wait for one batch of clients to be connected. Value 60 s.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the head seq must stay unchanged before it counts as final: with
/// Redis the relay appends committed writes shortly after the REST answer. Value 300 ms.
const HEAD_STABLE: Duration = Duration::from_millis(300);
/// Longest wait for the head seq to settle after the writes. Value 10 s.
const HEAD_SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Instance that item `index` (client or write) goes to, among `instances`:
/// round-robin, so N clients split as evenly as N allows (0 for 0 instances).
pub fn round_robin(index: usize, instances: usize) -> usize {
    index.checked_rem(instances).unwrap_or(0)
}

/// Options common to every run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Server binary. Default `target/release/stellar-insights-server`.
    pub server_bin: PathBuf,
    /// Arguments the server binary is started with. Default none; the floor
    /// row runs this program itself with `floor-server`.
    pub server_args: Vec<String>,
    /// Client source addresses: `127.0.0.1 ..= 127.0.0.n`. Default 8.
    pub source_ips: u8,
    /// Receive path of the clients. Default [`ClientKind::Raw`].
    pub client: ClientKind,
    /// Receiver threads of the raw path. Default 1: on this 2-core machine one
    /// thread took less CPU per delivery than two (fewer wake-ups; bench/README.md).
    pub receivers: usize,
}

/// One or more servers, a writer and a crowd of clients.
pub struct Run {
    /// The server children, in the order their storage was given.
    pub servers: Vec<Server>,
    /// REST writer.
    pub writer: Writer,
    /// Corridor the writer updates.
    pub corridor: String,
    /// State shared with the clients.
    pub shared: Arc<Shared>,
    /// Receiver threads of the raw path (`None` with tungstenite).
    receivers: Option<Arc<Receivers>>,
    dir: PathBuf,
    final_tx: watch::Sender<Option<u64>>,
    stop_tx: watch::Sender<bool>,
    clients: Vec<JoinHandle<Report>>,
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl Run {
    /// Starts one fresh server per entry of `instances` and creates the corridor;
    /// `reconnect` makes clients reconnect with `backoff` (storm) instead of
    /// treating a loss as an error. Clients and writes go round-robin over the servers.
    pub async fn start(
        opts: &Options,
        instances: &[Storage],
        max_clients: usize,
        reconnect: bool,
        backoff: Backoff,
    ) -> Result<Run, String> {
        if instances.is_empty() {
            return Err("no server instance to start".into());
        }
        let dir = std::env::temp_dir().join(format!("stellar-loadgen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // A bound on each instance's per-address limit: it never sees more clients than all of them.
        let per_ip = max_clients.div_ceil(usize::from(opts.source_ips.max(1))) + 16;
        let mut servers = Vec::with_capacity(instances.len());
        for storage in instances {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
            servers.push(
                Server::start(
                    &opts.server_bin,
                    &opts.server_args,
                    &dir,
                    storage,
                    addr,
                    per_ip,
                )
                .await?,
            );
        }
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        let writer = Writer::new(&addrs);
        let corridor = writer.create_corridor().await?;
        let (final_tx, final_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            servers: addrs,
            source_ips: opts.source_ips,
            reconnect,
            backoff,
            connected: Default::default(),
            resumes: Default::default(),
            attempts: Mutex::new(Vec::new()),
            final_seq: final_rx,
            stop: stop_rx,
        });
        let receivers = match opts.client {
            ClientKind::Raw => Some(Arc::new(
                Receivers::start(&shared, opts.receivers)
                    .map_err(|e| format!("receiver threads: {e}"))?,
            )),
            ClientKind::Tungstenite => None,
        };
        Ok(Run {
            servers,
            receivers,
            writer,
            corridor,
            shared,
            dir,
            final_tx,
            stop_tx,
            clients: Vec::new(),
        })
    }

    /// Connects clients in batches until `n` are connected.
    pub async fn connect(&mut self, n: usize) -> Result<Duration, String> {
        let started = Instant::now();
        while self.clients.len() < n {
            let batch = CONNECT_BATCH.min(n - self.clients.len());
            for _ in 0..batch {
                let index = self.clients.len();
                self.clients.push(tokio::spawn(client::run(
                    Arc::clone(&self.shared),
                    self.receivers.clone(),
                    index,
                )));
            }
            let want = self.clients.len();
            self.wait_for(CONNECT_TIMEOUT, |s| {
                s.connected.load(Ordering::Relaxed) >= want
            })
            .await
            .map_err(|_| {
                format!(
                    "only {} of {want} clients connected after {CONNECT_TIMEOUT:?}",
                    self.shared.connected.load(Ordering::Relaxed)
                )
            })?;
        }
        Ok(started.elapsed())
    }

    /// Polls `cond` every 10 ms until it holds (Ok) or `timeout` passes (Err).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        cond: impl Fn(&Shared) -> bool,
    ) -> Result<(), ()> {
        let until = Instant::now() + timeout;
        while !cond(&self.shared) {
            if Instant::now() > until {
                return Err(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Tells the clients the last seq, waits up to `drain` for them to reach it,
    /// then stops the stragglers and collects every report.
    pub async fn finish(self, drain: Duration) -> Result<Totals, String> {
        let head = self.settled_head().await?;
        self.final_tx.send_replace(Some(head));
        let stop = self.stop_tx;
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(drain).await;
            stop.send_replace(true);
        });
        let mut reports = Vec::with_capacity(self.clients.len());
        for c in self.clients {
            reports.push(c.await.map_err(|e| format!("client task failed: {e}"))?);
        }
        stopper.abort();
        drop(self.servers);
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(Totals::new(reports, head))
    }
}

impl Run {
    /// The last seq issued once it stops moving (or after [`HEAD_SETTLE_TIMEOUT`]):
    /// every write answered so far has then been numbered, in either bus mode.
    async fn settled_head(&self) -> Result<u64, String> {
        let until = Instant::now() + HEAD_SETTLE_TIMEOUT;
        let mut head = self.writer.head_seq().await?;
        loop {
            tokio::time::sleep(HEAD_STABLE).await;
            let now = self.writer.head_seq().await?;
            if now == head || Instant::now() > until {
                return Ok(now);
            }
            head = now;
        }
    }
}

/// Every client's report, merged.
#[derive(Debug, Default)]
pub struct Totals {
    /// Last seq issued at the end of the run.
    pub head: u64,
    /// All live-update latencies, µs, sorted.
    pub latencies_us: Vec<u32>,
    /// Per update, time from the first client to the last client receiving it, µs, sorted:
    /// the fan-out's own duration, without the REST write before it.
    pub spread_us: Vec<u32>,
    /// Per update, latency of the first client to receive it, µs, sorted: write → first delivery.
    pub first_us: Vec<u32>,
    /// Updates received, all clients.
    pub deliveries: u64,
    /// Seqs a client skipped, or never received before the end (all clients).
    pub missing: u64,
    /// Seqs received twice or out of order.
    pub duplicates: u64,
    /// `resync_required` frames.
    pub resyncs: u64,
    /// Reconnects not answered with `resumed: true`.
    pub not_resumed: u64,
    /// Clients that hit the backoff attempt limit.
    pub gave_up: usize,
    /// Per client, µs since the epoch of its first resumed `connected` (storm).
    pub first_resume_us: Vec<u64>,
    /// First few protocol errors.
    pub errors: Vec<String>,
}

/// Per stamped update i: (max − min, min) latency across clients. Every client
/// joined before the writes and got the same updates in the same order (any
/// gap is reported separately), so the i-th latency of each is the same update.
fn per_update(reports: &[Report]) -> (Vec<u32>, Vec<u32>) {
    let longest = reports
        .iter()
        .map(|r| r.latencies_us.len())
        .max()
        .unwrap_or(0);
    let mut lo = vec![u32::MAX; longest];
    let mut hi = vec![0u32; longest];
    for r in reports {
        for (i, &l) in r.latencies_us.iter().enumerate() {
            lo[i] = lo[i].min(l);
            hi[i] = hi[i].max(l);
        }
    }
    let mut spread: Vec<u32> = hi
        .iter()
        .zip(&lo)
        .map(|(h, l)| h.saturating_sub(*l))
        .collect();
    spread.sort_unstable();
    lo.sort_unstable();
    (spread, lo)
}

impl Totals {
    fn new(reports: Vec<Report>, head: u64) -> Totals {
        let (spread_us, first_us) = per_update(&reports);
        let mut t = Totals {
            head,
            spread_us,
            first_us,
            ..Totals::default()
        };
        for r in reports {
            t.latencies_us.extend_from_slice(&r.latencies_us);
            t.deliveries += r.deliveries;
            t.missing += r.missing + head.saturating_sub(r.last_seq);
            t.duplicates += r.duplicates;
            t.resyncs += r.resyncs;
            t.not_resumed += r.not_resumed;
            t.gave_up += usize::from(r.gave_up);
            t.first_resume_us.extend(r.resumed_at.first());
            for e in r.errors {
                if t.errors.len() < 10 {
                    t.errors.push(e);
                }
            }
        }
        t.latencies_us.sort_unstable();
        t
    }

    /// Correctness problems (gaps, duplicates, failed resumes), empty when none.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let mut check = |n: u64, what: &str| {
            if n > 0 {
                p.push(format!("{n} {what}"));
            }
        };
        check(self.missing, "missing updates");
        check(self.duplicates, "duplicate updates");
        check(self.resyncs, "resync_required frames");
        check(self.not_resumed, "reconnects not resumed");
        check(self.gave_up as u64, "clients gave up");
        p.extend(self.errors.iter().cloned());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_splits_items_evenly_in_turn() {
        let picks: Vec<usize> = (0..7).map(|i| round_robin(i, 3)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0, 1, 2, 0]);
        let mut per_instance = [0usize; 3];
        for i in 0..1000 {
            per_instance[round_robin(i, 3)] += 1;
        }
        assert_eq!(per_instance, [334, 333, 333]);
        assert_eq!(round_robin(5, 1), 0, "one instance takes everything");
        assert_eq!(round_robin(5, 0), 0, "no instances: no panic");
    }

    #[test]
    fn spread_and_first_are_taken_per_update_across_clients() {
        let client = |l: &[u32]| Report {
            latencies_us: l.to_vec(),
            ..Report::default()
        };
        let reports = [client(&[10, 50]), client(&[30, 20]), client(&[15])];
        // Update 0: 10..30 → spread 20, first 10; update 1: 20..50 → spread 30, first 20.
        assert_eq!(per_update(&reports), (vec![20, 30], vec![10, 20]));
    }

    #[test]
    fn a_client_short_of_the_last_seq_counts_the_missing_tail() {
        let behind = Report {
            last_seq: 7,
            ..Report::default()
        };
        let t = Totals::new(vec![behind], 10);
        assert_eq!(t.missing, 3);
        assert_eq!(t.problems(), vec!["3 missing updates".to_owned()]);
    }
}
