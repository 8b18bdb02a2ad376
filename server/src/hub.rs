//! Fan-out: committed updates are serialised once and published, in seq order, on
//! a bounded broadcast channel that every WebSocket connection subscribes to.
//!
//! Single instance (no `REDIS_URL`): a write hands its update to the hub right
//! after its commit returns (`Hub::publish_committed`) and wakes the publisher
//! task ([`Hub::run_publisher`]), which sends it if it is the next seq: the first
//! send follows the commit after one task wake-up, without a database read, and the
//! writer does not pay for waking every connection. Writes are serialised by the database's write
//! lock and number their rows in commit order, so updates normally arrive in order;
//! one that arrives before an earlier one (two writers racing from commit to
//! hand-off) waits in the hub for it. The relay task ([`Hub::run_relay`]) is the
//! fallback that reads the log itself: when a seq is missing (its writer was
//! cancelled between commit and hand-off, or another process wrote the row), every
//! second, and at shutdown. Both paths publish under one lock and only the seq after
//! the last one published, so each update goes out once, after its commit, in seq
//! order. With `REDIS_URL`, `cluster` feeds the same hub from the Redis stream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use stellar_insights_protocol::ServerMessage;
use tokio::sync::{broadcast, watch, Notify};
use tungstenite::Utf8Bytes;

use crate::metrics::Metrics;
use crate::store::{self, Db, LoggedUpdate};

/// Rows the relay reads per query. Value 512.
const RELAY_BATCH: i64 = 512;
/// How often the relay polls the log even without a wake-up, so rows written by
/// another process (or whose writer never handed them over) are published too. Value 1 s.
const RELAY_POLL: Duration = Duration::from_secs(1);

/// Which record an update is about; decides the topics it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The frame parsed, once, for the state connections that send it as a delta.
    parsed: OnceLock<Option<ServerMessage>>,
}

impl Update {
    /// The update logged as `seq`, whose complete frame (with `seq`) is `json`.
    pub fn new(seq: u64, kind: UpdateKind, key: &str, json: String) -> Update {
        Update {
            seq,
            kind,
            key: key.into(),
            json: json.into(),
            committed_at: None,
            published_at: None,
            first_sent: AtomicBool::new(false),
            parsed: OnceLock::new(),
        }
    }

    /// The frame as a typed message, parsed on the first call (by the first
    /// state connection that sends it) and shared by every later one.
    pub fn message(&self) -> Option<&ServerMessage> {
        self.parsed
            .get_or_init(|| ServerMessage::from_json(&self.json).ok())
            .as_ref()
    }

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
        Ok(Update::new(seq, kind, &row.topic_key, msg.to_json()))
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
    /// Highest seq published; changed only with `waiting` locked.
    published: AtomicU64,
    wake: Notify,
    /// Wakes the publisher task: a writer handed over an update.
    handed: Notify,
    /// Updates this process committed whose seq is not the next one yet, by seq. The
    /// lock also serialises every publication, so `published` only ever grows by one
    /// update at a time.
    waiting: Mutex<BTreeMap<u64, Update>>,
    /// Publishing this seq wakes the relay to prune the log (set by the relay; `u64::MAX`
    /// until it runs).
    prune_at: AtomicU64,
}

/// Most committed updates `Hub::publish_committed` holds while an earlier seq is
/// missing; beyond it they are dropped and the relay reads them from the log. Value 1024.
const WAITING_MAX: usize = 1024;

impl Hub {
    /// A hub whose channel holds `capacity` updates (= `WS_SEND_QUEUE`) and whose
    /// relay starts after `last_seq` (updates up to it were published by an earlier run).
    pub fn new(capacity: usize, last_seq: u64) -> Hub {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub {
            tx,
            published: AtomicU64::new(last_seq),
            wake: Notify::new(),
            handed: Notify::new(),
            waiting: Mutex::new(BTreeMap::new()),
            prune_at: AtomicU64::new(u64::MAX),
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

    /// Wakes the relay: a row may be in the log that nobody handed over (local mode), or
    /// the outbox has a row to move to the stream (Redis mode).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes after the next [`Hub::wake`] (or at once if one is pending).
    pub(crate) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Update>> {
        // A panic while locked cannot leave the map or `published` half-changed.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands over an update whose write's commit has just returned (local mode only: its
    /// `seq` must be the update log's number) and wakes the publisher task
    /// ([`Hub::run_publisher`]), which sends it when it is the next seq. The writer only
    /// wakes one task: the fan-out's wake-ups are the publisher's, not the writer's, so the
    /// write's HTTP answer does not wait for them. Dropped when already published (the
    /// relay read it first).
    pub(crate) fn publish_committed(&self, update: Update) {
        let mut waiting = self.lock();
        if update.seq <= self.published_seq() {
            return;
        }
        if waiting.len() < WAITING_MAX {
            waiting.insert(update.seq, update);
        }
        drop(waiting);
        self.handed.notify_one();
    }

    /// Sends the handed-over updates that come next; wakes the relay when one is held
    /// back by a missing seq (the relay reads that one from the log).
    pub(crate) fn publish_waiting(&self, metrics: &Metrics) {
        let mut waiting = self.lock();
        self.drain(&mut waiting, metrics);
        let stuck = !waiting.is_empty();
        drop(waiting);
        if stuck {
            self.wake();
        }
    }

    /// Publisher loop (local mode): sends handed-over updates as writers hand them over
    /// (`Hub::publish_committed`), until `shutdown` turns true.
    pub async fn run_publisher(
        self: Arc<Self>,
        metrics: Arc<Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = self.handed.notified() => self.publish_waiting(&metrics),
                _ = crate::until_shutdown(&mut shutdown) => {
                    self.publish_waiting(&metrics);
                    return;
                }
            }
        }
    }

    /// Publishes `update` (read from the log or the stream, in seq order) to every
    /// connection and records its seq as published; nothing if it already was.
    pub(crate) fn publish(&self, update: Update, metrics: &Metrics) {
        let mut waiting = self.lock();
        if update.seq > self.published_seq() {
            self.send(update, metrics);
        }
        self.drain(&mut waiting, metrics);
    }

    /// Records `seq` as published without sending anything (an unreadable row).
    pub(crate) fn skip(&self, seq: u64, metrics: &Metrics) {
        let mut waiting = self.lock();
        if seq > self.published_seq() {
            self.published.store(seq, Ordering::Release);
        }
        self.drain(&mut waiting, metrics);
    }

    /// Sends the waiting updates that now come next. Caller holds the lock.
    fn drain(&self, waiting: &mut BTreeMap<u64, Update>, metrics: &Metrics) {
        while let Some(entry) = waiting.first_entry() {
            let next = self.published_seq() + 1;
            if *entry.key() > next {
                return;
            }
            let update = entry.remove();
            if update.seq == next {
                self.send(update, metrics);
            }
        }
    }

    /// Sends one update on the channel. Caller holds the lock and checked the order.
    fn send(&self, mut update: Update, metrics: &Metrics) {
        let seq = update.seq;
        let now = Instant::now();
        if let Some(committed) = update.committed_at {
            metrics.update_relay.observe(now - committed);
        }
        update.published_at = Some(now);
        // No receivers is not an error: nobody is connected.
        let _ = self.tx.send(Arc::new(update));
        metrics.updates_broadcast.fetch_add(1, Ordering::Relaxed);
        self.published.store(seq, Ordering::Release);
        if seq >= self.prune_at.load(Ordering::Relaxed) {
            // Once per `retention / 16` updates: the relay prunes the log.
            self.prune_at.store(u64::MAX, Ordering::Relaxed);
            self.wake();
        }
    }

    /// Relay loop (local mode): publishes the logged updates nobody handed over, in seq
    /// order, when woken by a hand-off that found a seq missing and every `RELAY_POLL` (1 s);
    /// prunes the log to `retention` entries every `retention / 16` published updates
    /// (the publication that reaches the mark wakes it); until
    /// `shutdown` turns true (then drains once more).
    pub async fn run_relay(
        self: Arc<Self>,
        db: Db,
        retention: u64,
        metrics: Arc<Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let prune_every = (retention / 16).max(1);
        // Most updates are published by their writers, so pruning follows the published
        // seq rather than what this loop published itself.
        let mut pruned_at = self.published_seq();
        self.prune_at
            .store(pruned_at + prune_every, Ordering::Relaxed);
        loop {
            // Register interest before reading, so a wake during the read is not lost.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let more = match self.publish_batch(&db, &metrics).await {
                Ok(n) => n as i64 == RELAY_BATCH,
                Err(e) => {
                    tracing::error!(error = %e, "relay cannot read the update log");
                    false
                }
            };
            let published = self.published_seq();
            if published >= pruned_at + prune_every {
                pruned_at = published;
                if let Err(e) = store::prune_updates(&db, retention as i64, published as i64).await
                {
                    tracing::warn!(error = %e, "pruning the update log failed");
                }
            }
            self.prune_at
                .store(pruned_at + prune_every, Ordering::Relaxed);
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
                    self.skip(row.seq as u64, metrics);
                }
            }
        }
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::WriteTx;

    fn update(seq: u64) -> Update {
        Update::new(seq, UpdateKind::Snapshot, "k", format!("{{\"seq\":{seq}}}"))
    }

    fn received(rx: &mut broadcast::Receiver<Arc<Update>>) -> Vec<u64> {
        std::iter::from_fn(|| rx.try_recv().ok().map(|u| u.seq)).collect()
    }

    #[test]
    fn a_committed_update_that_comes_next_is_published_by_the_publisher_step() {
        let (hub, metrics) = (Hub::new(16, 4), Metrics::default());
        let mut rx = hub.subscribe();
        hub.publish_committed(update(5));
        assert_eq!(
            received(&mut rx),
            Vec::<u64>::new(),
            "sent by the publisher task"
        );
        hub.publish_waiting(&metrics);
        assert_eq!(received(&mut rx), vec![5]);
        assert_eq!(hub.published_seq(), 5);
    }

    #[test]
    fn a_committed_update_waits_for_the_seq_before_it() {
        let (hub, metrics) = (Hub::new(16, 0), Metrics::default());
        let mut rx = hub.subscribe();
        hub.publish_committed(update(2));
        hub.publish_waiting(&metrics);
        hub.publish_committed(update(3));
        hub.publish_waiting(&metrics);
        assert_eq!(
            received(&mut rx),
            Vec::<u64>::new(),
            "1 is not published yet"
        );
        hub.publish_committed(update(1));
        hub.publish_waiting(&metrics);
        assert_eq!(received(&mut rx), vec![1, 2, 3]);
    }

    #[test]
    fn the_relay_fills_a_missing_seq_and_releases_the_waiting_ones() {
        let (hub, metrics) = (Hub::new(16, 0), Metrics::default());
        let mut rx = hub.subscribe();
        hub.publish_committed(update(3));
        hub.publish_waiting(&metrics);
        // Row 1 read from the log; row 2 unreadable.
        hub.publish(update(1), &metrics);
        assert_eq!(received(&mut rx), vec![1]);
        hub.skip(2, &metrics);
        assert_eq!(received(&mut rx), vec![3]);
        assert_eq!(hub.published_seq(), 3);
    }

    #[test]
    fn an_update_published_by_one_path_is_not_sent_again_by_the_other() {
        let (hub, metrics) = (Hub::new(16, 0), Metrics::default());
        let mut rx = hub.subscribe();
        hub.publish(update(1), &metrics); // the relay read it first
        hub.publish_committed(update(1));
        hub.publish_waiting(&metrics); // then its writer hands it over
        hub.publish_committed(update(2));
        hub.publish_waiting(&metrics);
        hub.publish(update(2), &metrics); // the relay's read raced the writer
        assert_eq!(received(&mut rx), vec![1, 2]);
        assert_eq!(metrics.updates_broadcast.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn waiting_updates_are_bounded_and_the_relay_is_woken() {
        let (hub, metrics) = (Hub::new(16, 0), Metrics::default());
        for seq in 2..(WAITING_MAX as u64 + 10) {
            hub.publish_committed(update(seq));
            hub.publish_waiting(&metrics);
        }
        assert_eq!(hub.lock().len(), WAITING_MAX);
        assert!(woken_now(&hub));
    }

    /// Whether a wake is pending (the relay's next wait would complete at once).
    fn woken_now(hub: &Hub) -> bool {
        use std::future::Future;
        let woken = hub.woken();
        tokio::pin!(woken);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        woken.as_mut().poll(&mut cx).is_ready()
    }

    #[test]
    fn publication_times_are_recorded_once_per_update() {
        let (hub, metrics) = (Hub::new(16, 0), Metrics::default());
        let mut rx = hub.subscribe();
        let mut u = update(1);
        u.committed_at = Some(Instant::now());
        hub.publish_committed(u);
        hub.publish_waiting(&metrics);
        let sent = rx.try_recv().unwrap();
        sent.sent(&metrics);
        sent.sent(&metrics);
        assert_eq!(metrics.update_relay.count(), 1);
        assert_eq!(metrics.fanout_start.count(), 1);
        assert_eq!(metrics.commit_to_first_send.count(), 1);
        // A replayed update (never published) records nothing.
        update(1).sent(&metrics);
        assert_eq!(metrics.fanout_start.count(), 1);
    }

    async fn temp_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = store::connect(&url).await.unwrap();
        (dir, db)
    }

    async fn corridor_write(db: &Db, n: i64) -> Update {
        let corridor = crate::model::Corridor {
            id: "c1".into(),
            corridor_key: "USDC:GA->EURC:GB".into(),
            source_asset_code: "USDC".into(),
            source_asset_issuer: "GA".into(),
            dest_asset_code: "EURC".into(),
            dest_asset_issuer: "GB".into(),
            total_transactions: n,
            successful_transactions: n,
            success_rate: 100.0 / 3.0,
            volume_usd: 1234.5678 + n as f64,
            created_at: "2026-11-30T00:00:00Z".into(),
            updated_at: "2026-11-30T00:00:00Z".into(),
        };
        let mut tx: WriteTx = store::begin_write(db).await.unwrap();
        let u = crate::broadcast::broadcast_corridor_update(&mut tx, &corridor)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        u
    }

    #[tokio::test]
    async fn the_handed_over_frame_is_the_one_the_log_replays() {
        let (_dir, db) = temp_db().await;
        let handed = corridor_write(&db, 7).await;
        let rows = store::updates_after(&db, 0, 10).await.unwrap();
        let replayed = Update::from_logged(&rows[0]).unwrap();
        assert_eq!(handed.seq, replayed.seq);
        assert_eq!(handed.kind, replayed.kind);
        assert_eq!(handed.key, replayed.key);
        assert_eq!(handed.json, replayed.json);
        assert!(handed
            .json
            .as_str()
            .contains(&format!("\"seq\":{}", handed.seq)));
    }

    #[tokio::test]
    async fn a_row_nobody_handed_over_is_published_by_the_relay_before_the_next() {
        let (_dir, db) = temp_db().await;
        let (hub, metrics) = (Hub::new(16, 0), Metrics::default());
        let mut rx = hub.subscribe();
        // Write 1 commits but its writer never hands it over (e.g. cancelled); write 2 does.
        let _lost = corridor_write(&db, 1).await;
        let second = corridor_write(&db, 2).await;
        hub.publish_committed(second);
        hub.publish_waiting(&metrics);
        assert_eq!(received(&mut rx), Vec::<u64>::new(), "2 waits for 1");
        assert!(woken_now(&hub), "the hand-off woke the relay");
        // The relay's pass reads 1 from the log; 2 follows from the hub.
        assert_eq!(hub.publish_batch(&db, &metrics).await.unwrap(), 2);
        assert_eq!(received(&mut rx), vec![1, 2]);
        assert!(hub.lock().is_empty());
    }
}
