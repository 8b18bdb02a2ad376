//! Fan-out: the relay reads committed rows from the update log in seq order,
//! serialises each once, and publishes it on a bounded broadcast channel that
//! every WebSocket connection subscribes to. This is the local (single instance)
//! relay; with `REDIS_URL`, `cluster` feeds the same hub from the Redis stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use stellar_insights_protocol::ServerMessage;
use tokio::sync::{broadcast, watch, Notify};

use crate::metrics::Metrics;
use crate::store::{self, Db, LoggedUpdate};

/// Rows the relay reads per query. Value 512.
const RELAY_BATCH: i64 = 512;
/// How often the relay polls the log even without a wake-up, so rows written by
/// another process are published too. Value 1 s.
const RELAY_POLL: Duration = Duration::from_secs(1);

/// Which record an update is about; decides the topics it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// `anchor_update`; key = anchor id.
    Anchor,
    /// `corridor_update`; key = corridor key.
    Corridor,
    /// `snapshot_update`; key = snapshot id.
    Snapshot,
}

impl UpdateKind {
    /// Spelling in the update log's `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Anchor => "anchor",
            UpdateKind::Corridor => "corridor",
            UpdateKind::Snapshot => "snapshot",
        }
    }

    fn parse(s: &str) -> Option<UpdateKind> {
        match s {
            "anchor" => Some(UpdateKind::Anchor),
            "corridor" => Some(UpdateKind::Corridor),
            "snapshot" => Some(UpdateKind::Snapshot),
            _ => None,
        }
    }
}

/// One published update: topic info for filtering plus the frame, serialised once.
#[derive(Debug)]
pub struct Update {
    /// Sequence number.
    pub seq: u64,
    /// Record kind.
    pub kind: UpdateKind,
    /// Anchor id / corridor key / snapshot id.
    pub key: Box<str>,
    /// The complete frame JSON, `seq` included; cloning shares the bytes.
    pub json: Utf8Bytes,
    /// When its write's commit returned, if this process made the write (for the latency
    /// histograms; `None` for rows read back from the log or the Redis stream).
    pub committed_at: Option<Instant>,
    /// When it was published on the hub (`None` for replayed updates).
    pub published_at: Option<Instant>,
    /// Whether a connection has sent it yet (the fan-out start is recorded once).
    first_sent: AtomicBool,
}

impl Update {
    /// Builds the frame for a log row (sets `seq` in the stored payload).
    pub fn from_logged(row: &LoggedUpdate) -> Result<Update, String> {
        let kind =
            UpdateKind::parse(&row.kind).ok_or_else(|| format!("unknown kind {:?}", row.kind))?;
        let seq = u64::try_from(row.seq).map_err(|_| format!("negative seq {}", row.seq))?;
        let mut msg = ServerMessage::from_json(&row.payload).map_err(|e| e.to_string())?;
        match &mut msg {
            ServerMessage::AnchorUpdate(u) => u.seq = Some(seq),
            ServerMessage::CorridorUpdate(u) => u.seq = Some(seq),
            ServerMessage::SnapshotUpdate(u) => u.seq = Some(seq),
            other => return Err(format!("{} is not an update", other.type_name())),
        }
        Ok(Update {
            seq,
            kind,
            key: row.topic_key.as_str().into(),
            json: msg.to_json().into(),
            committed_at: None,
            published_at: None,
            first_sent: AtomicBool::new(false),
        })
    }

    /// Called by a connection after its send of this update completed: the first call
    /// records the fan-out start (publication → first send) and, for writes of this
    /// process, commit → first send.
    pub fn sent(&self, metrics: &Metrics) {
        let Some(published) = self.published_at else {
            return;
        };
        // A plain load first: every later connection only reads the shared flag.
        if self.first_sent.load(Ordering::Relaxed) || self.first_sent.swap(true, Ordering::Relaxed)
        {
            return;
        }
        let now = Instant::now();
        metrics.fanout_start.observe(now - published);
        if let Some(committed) = self.committed_at {
            metrics.commit_to_first_send.observe(now - committed);
        }
    }
}

/// The shared fan-out state (the seed's "ws_state").
pub struct Hub {
    tx: broadcast::Sender<Arc<Update>>,
    published: AtomicU64,
    wake: Notify,
    /// When the commits of this process's writes returned, by seq, until published.
    commit_times: Mutex<HashMap<u64, Instant>>,
}

/// Most commit times kept for updates not yet published. Value 4096.
const COMMIT_TIMES_MAX: usize = 4096;

impl Hub {
    /// A hub whose channel holds `capacity` updates (= `WS_SEND_QUEUE`) and whose
    /// relay starts after `last_seq` (updates up to it were published by an earlier run).
    pub fn new(capacity: usize, last_seq: u64) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub {
            tx,
            published: AtomicU64::new(last_seq),
            wake: Notify::new(),
            commit_times: Mutex::new(HashMap::new()),
        }
    }

    /// A receiver of every update published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.tx.subscribe()
    }

    /// Highest seq published so far.
    pub fn published_seq(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    /// Notes when the commit of the write that logged `seq` returned (local mode).
    pub(crate) fn note_commit(&self, seq: u64, at: Instant) {
        let mut times = self.commit_times.lock().unwrap_or_else(|e| e.into_inner());
        if times.len() < COMMIT_TIMES_MAX {
            times.insert(seq, at);
        }
    }

    /// Tells the relay a write committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes after the next [`Hub::wake`] (or at once if one is pending).
    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    /// Publishes `update` to every connection and records its seq as published.
    pub(crate) fn publish(&self, mut update: Update, metrics: &Metrics) {
        let seq = update.seq;
        let now = Instant::now();
        update.committed_at = self
            .commit_times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&seq);
        if let Some(committed) = update.committed_at {
            metrics.update_relay.observe(now - committed);
        }
        update.published_at = Some(now);
        // No receivers is not an error: nobody is connected.
        let _ = self.tx.send(Arc::new(update));
        metrics.updates_broadcast.fetch_add(1, Ordering::Relaxed);
        self.published.store(seq, Ordering::Release);
    }

    /// Records `seq` as published without sending anything (an unreadable row).
    pub(crate) fn skip(&self, seq: u64) {
        self.published.store(seq, Ordering::Release);
    }

    /// Relay loop: publishes committed updates in seq order and prunes the log to
    /// `retention` entries, until `shutdown` turns true (then drains once more).
    pub async fn run_relay(
        self: Arc<Self>,
        db: Db,
        retention: u64,
        metrics: Arc<Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let prune_every = (retention / 16).max(1);
        let mut since_prune = 0u64;
        loop {
            // Register interest before reading, so a wake during the read is not lost.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let more = match self.publish_batch(&db, &metrics).await {
                Ok(n) => {
                    since_prune += n as u64;
                    if since_prune >= prune_every {
                        since_prune = 0;
                        if let Err(e) =
                            store::prune_updates(&db, retention as i64, self.published_seq() as i64)
                                .await
                        {
                            tracing::warn!(error = %e, "pruning the update log failed");
                        }
                    }
                    n as i64 == RELAY_BATCH
                }
                Err(e) => {
                    tracing::error!(error = %e, "relay cannot read the update log");
                    false
                }
            };
            if more {
                continue;
            }
            if *shutdown.borrow() {
                return;
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(RELAY_POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn publish_batch(&self, db: &Db, metrics: &Metrics) -> Result<usize, sqlx::Error> {
        let after = self.published_seq();
        let rows = store::updates_after(db, after as i64, RELAY_BATCH).await?;
        for row in &rows {
            match Update::from_logged(row) {
                Ok(update) => self.publish(update, metrics),
                Err(e) => {
                    tracing::error!(seq = row.seq, error = %e, "skipping unreadable update log row");
                    self.skip(row.seq as u64);
                }
            }
        }
        Ok(rows.len())
    }
}
