//! Scale-out with `REDIS_URL`: the outbox relay (database -> Redis stream), the tail
//! (Redis stream -> local hub), and [`UpdateLog`], the view of the global log that
//! `?since=`, `connected` and `/health` read.
//!
//! Crash safety: a write commits its record and outbox row together. The relay claims
//! committed rows, appends them with one Lua script (dedup marker per row), then stores
//! the seq each got. A crash before the append leaves the row unrelayed (appended on the
//! next pass); a crash after it finds the marker on the next pass (nothing appended
//! twice). So the database and the stream never disagree about what happened.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::watch;

use crate::hub::{Hub, Update};
use crate::metrics::Metrics;
use crate::redis_bus::RedisBus;
use crate::store::{self, log, Db, LoggedUpdate};

/// Outbox rows moved per relay pass. Value 256.
const RELAY_BATCH: i64 = 256;
/// Relay and tail poll interval without a wake-up (rows written by other instances,
/// stream entries). Value 1 s.
const POLL: Duration = Duration::from_secs(1);
/// Longest wait between retries while Redis is unreachable. Value 2 s.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Entries the tail reads per `XREAD`. Value 512.
const TAIL_BATCH: usize = 512;

/// Why the update log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// Where the global update log lives.
#[derive(Clone)]
pub enum UpdateLog {
    /// Single instance: the database's `update_log` (default).
    Local(Db),
    /// Several instances: the Redis stream, with the database's relayed rows as the
    /// fallback while Redis is unreachable.
    Redis {
        /// Shared stream client.
        bus: Arc<RedisBus>,
        /// Database holding the outbox.
        db: Db,
    },
}

impl UpdateLog {
    /// `(oldest retained seq, last issued seq)`; oldest is `None` when nothing is retained.
    pub async fn bounds(&self) -> Result<(Option<u64>, u64), LogError> {
        let (db, redis) = match self {
            UpdateLog::Local(db) => {
                let range = store::seq_range(db).await?;
                return Ok(range.map_or((None, 0), |(lo, hi)| (Some(lo as u64), hi as u64)));
            }
            UpdateLog::Redis { bus, db } => (db, bus.bounds().await),
        };
        let relayed = || async {
            let range = log::relayed_range(db).await?;
            Ok::<_, LogError>(range.map_or((None, 0), |(lo, hi)| (Some(lo as u64), hi as u64)))
        };
        match redis {
            Ok((oldest, Some(issued))) => Ok((oldest, issued)),
            // No counter: Redis is new or lost its data; the database knows the last seq
            // (the next append continues from it), and nothing older is in the stream.
            Ok((oldest, None)) => Ok((oldest, relayed().await?.1)),
            Err(e) => {
                // Debug only: the relay and the tail already report the outage.
                tracing::debug!(error = %e, "redis unreachable; update log bounds from the database");
                relayed().await
            }
        }
    }

    /// Updates with seq > `after`, in order, at most `limit`.
    pub async fn after(&self, after: u64, limit: usize) -> Result<Vec<LoggedUpdate>, LogError> {
        match self {
            UpdateLog::Local(db) => Ok(store::updates_after(db, after as i64, limit as i64).await?),
            UpdateLog::Redis { bus, db } => match bus.range_after(after, limit).await {
                Ok(rows) => Ok(rows),
                Err(e) => {
                    tracing::debug!(error = %e, "redis unreachable; replaying from the database");
                    Ok(log::relayed_between(db, after as i64, i64::MAX, limit as i64).await?)
                }
            },
        }
    }
}

/// Waits `delay` or until shutdown; returns whether shutdown began.
async fn pause(delay: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => *shutdown.borrow(),
        _ = crate::until_shutdown(shutdown) => true,
    }
}

async fn relay_batch(bus: &RedisBus, db: &Db) -> Result<usize, LogError> {
    let claim = log::claim_unrelayed(db, RELAY_BATCH).await?;
    if claim.rows.is_empty() {
        return Ok(0);
    }
    let seqs = bus.append(claim.floor, &claim.rows).await?;
    let assigned: Vec<(i64, i64)> = claim.rows.iter().map(|r| r.seq).zip(seqs).collect();
    let n = assigned.len();
    log::finish_claim(db, claim, &assigned).await?;
    Ok(n)
}

/// Relay loop: moves committed outbox rows to the stream, woken by local commits and
/// polling for rows other instances' relays have not taken; prunes relayed rows to
/// `retention`. While Redis is down, rows wait in the outbox and the loop retries.
pub async fn run_relay(
    hub: Arc<Hub>,
    bus: Arc<RedisBus>,
    db: Db,
    retention: u64,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut since_prune = 0u64;
    loop {
        let woken = hub.woken();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match relay_batch(&bus, &db).await {
            Ok(n) => {
                backoff = Duration::from_millis(100);
                since_prune += n as u64;
                if since_prune >= (retention / 16).max(1) {
                    since_prune = 0;
                    if let Err(e) = log::prune_relayed(&db, retention as i64).await {
                        tracing::warn!(error = %e, "pruning relayed outbox rows failed");
                    }
                }
                if n as i64 == RELAY_BATCH {
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay failed; retrying");
                if pause(backoff, &mut shutdown).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = crate::until_shutdown(&mut shutdown) => {}
        }
    }
}

/// Publishes `row` to the hub, first filling any hole before it from the database's
/// relayed rows (entries Redis lost, or trimmed while this instance was cut off).
async fn publish_in_order(hub: &Hub, db: &Db, metrics: &Metrics, row: &LoggedUpdate) {
    let published = hub.published_seq() as i64;
    if row.seq <= published {
        return;
    }
    if row.seq > published + 1 {
        match log::relayed_between(db, published, row.seq, i64::MAX).await {
            Ok(missing) => {
                for m in &missing {
                    publish_row(hub, metrics, m);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot fill a hole in the stream"),
        }
    }
    publish_row(hub, metrics, row);
}

fn publish_row(hub: &Hub, metrics: &Metrics, row: &LoggedUpdate) {
    match Update::from_logged(row) {
        Ok(update) => hub.publish(update, metrics),
        Err(e) => {
            tracing::error!(seq = row.seq, error = %e, "skipping unreadable stream entry");
            hub.skip(row.seq as u64, metrics);
        }
    }
}

/// Tail loop: reads the stream after the hub's last published seq (`XREAD BLOCK`) and
/// publishes every entry to this instance's connections, in order. Reconnects with
/// backoff while Redis is unreachable and resumes where it stopped.
pub async fn run_tail(
    hub: Arc<Hub>,
    bus: Arc<RedisBus>,
    db: Db,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match bus.tail_connection(POLL).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "redis unreachable; tail retrying");
                    if pause(backoff, &mut shutdown).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        let read = tokio::select! {
            r = bus.read_blocking(c, hub.published_seq(), POLL, TAIL_BATCH) => r,
            _ = crate::until_shutdown(&mut shutdown) => return,
        };
        match read {
            Ok(rows) => {
                backoff = Duration::from_millis(100);
                for row in &rows {
                    publish_in_order(&hub, &db, &metrics, row).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the redis stream failed; reconnecting");
                conn = None;
                if pause(backoff, &mut shutdown).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
