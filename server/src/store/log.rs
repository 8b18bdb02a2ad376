//! The `update_log` table: the transactional outbox every write appends to.
//!
//! Local mode (no `REDIS_URL`): a row's `seq` is the deployment-wide sequence number;
//! the relay publishes rows in `seq` order and prunes old ones.
//! Redis mode: `seq` is only the outbox row id; the relay claims unrelayed rows,
//! appends them to the Redis stream (which assigns the global number) and stores that
//! number in `relayed_seq`, so the database keeps a copy of the global log.

use super::{begin_write, on_db, on_tx, Db, WriteTx};

/// PostgreSQL advisory lock the Redis relay holds while it moves a batch, so relays of
/// several instances take turns and append rows in commit order.
const PG_RELAY_LOCK: i64 = 0x5354_454c_0002;

/// One row of the update log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoggedUpdate {
    /// Sequence number (local mode, or `relayed_seq` when read back in Redis mode), or the
    /// outbox row id (rows claimed for relaying).
    pub seq: i64,
    /// `anchor`, `corridor` or `snapshot`.
    pub kind: String,
    /// Anchor id, corridor key, or snapshot id: what per-key topics match on.
    pub topic_key: String,
    /// The update frame's JSON without `seq`.
    pub payload: String,
}

/// Appends an update event and returns its row's `seq`.
pub async fn append_update(
    tx: &mut WriteTx,
    kind: &str,
    topic_key: &str,
    payload: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    // SQLite's AUTOINCREMENT never reuses a number; on PostgreSQL the write lock makes
    // MAX + 1 safe, and unlike a sequence it leaves no hole when a transaction rolls back
    // (pruning always keeps the newest row, so numbers are never reused either).
    let sql = match tx {
        WriteTx::Sqlite(_) => {
            "INSERT INTO update_log (kind, topic_key, payload, created_at) \
             VALUES ($1,$2,$3,$4) RETURNING seq"
        }
        WriteTx::Postgres(_) => {
            "INSERT INTO update_log (seq, kind, topic_key, payload, created_at) \
             VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM update_log), $1,$2,$3,$4) RETURNING seq"
        }
    };
    let (seq,): (i64,) = on_tx!(tx, c => sqlx::query_as(sql)
        .bind(kind)
        .bind(topic_key)
        .bind(payload)
        .bind(now)
        .fetch_one(c)
        .await)?;
    Ok(seq)
}

/// Logged updates with `seq > after`, in order, at most `limit` (local mode).
pub async fn updates_after(
    db: &Db,
    after: i64,
    limit: i64,
) -> Result<Vec<LoggedUpdate>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT seq, kind, topic_key, payload FROM update_log WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// Lowest and highest retained sequence numbers, `None` when the log is empty (local mode).
///
/// Pruning always keeps the newest row, so the highest retained seq is also the last one issued.
pub async fn seq_range(db: &Db) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let (lo, hi): (Option<i64>, Option<i64>) = on_db!(db, p =>
        sqlx::query_as("SELECT MIN(seq), MAX(seq) FROM update_log").fetch_one(p).await)?;
    Ok(lo.zip(hi))
}

/// Deletes all but the `keep` most recent sequence numbers, but never a row above
/// `published` (the relay has not sent it yet); returns rows deleted (local mode).
pub async fn prune_updates(db: &Db, keep: i64, published: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "DELETE FROM update_log WHERE seq <= $1 AND seq <= (SELECT MAX(seq) FROM update_log) - $2",
    )
    .bind(published)
    .bind(keep)
    .execute(p)
    .await
    .map(|d| d.rows_affected()))
}

/// Number of rows in the update log.
pub async fn count_updates(db: &Db) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = on_db!(db, p =>
        sqlx::query_as("SELECT COUNT(*) FROM update_log").fetch_one(p).await)?;
    Ok(n)
}

/// Outbox rows taken by one relay pass (Redis mode). On PostgreSQL it holds the relay lock
/// and the rows' locks until [`finish_claim`] or drop (rollback).
pub struct Claim {
    tx: Option<WriteTx>,
    /// Unrelayed rows in commit order; `seq` is the outbox row id.
    pub rows: Vec<LoggedUpdate>,
    /// Highest global seq the database recorded (0 when none): where numbering restarts
    /// if Redis lost its counter.
    pub floor: i64,
}

/// Takes up to `limit` rows not yet relayed, oldest first.
pub async fn claim_unrelayed(db: &Db, limit: i64) -> Result<Claim, sqlx::Error> {
    const SELECT: &str = "SELECT seq, kind, topic_key, payload FROM update_log \
                          WHERE relayed_seq IS NULL ORDER BY seq LIMIT $1";
    const FLOOR: &str = "SELECT MAX(relayed_seq) FROM update_log";
    match db {
        // One process owns a SQLite file; no claim needed, and reading outside a
        // transaction keeps the write lock free for REST writes.
        Db::Sqlite(p) => {
            let rows = sqlx::query_as(SELECT).bind(limit).fetch_all(p).await?;
            let (floor,): (Option<i64>,) = sqlx::query_as(FLOOR).fetch_one(p).await?;
            Ok(Claim {
                tx: None,
                rows,
                floor: floor.unwrap_or(0),
            })
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_RELAY_LOCK)
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query_as(&format!("{SELECT} FOR UPDATE SKIP LOCKED"))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            // Read on the claim's own connection: a second pool connection here could
            // wait behind writers queued on the write lock.
            let (floor,): (Option<i64>,) = sqlx::query_as(FLOOR).fetch_one(&mut *tx).await?;
            Ok(Claim {
                tx: Some(WriteTx::Postgres(tx)),
                rows,
                floor: floor.unwrap_or(0),
            })
        }
    }
}

/// Records the global sequence numbers the stream assigned, as `(outbox id, seq)` pairs,
/// and releases the claim.
pub async fn finish_claim(
    db: &Db,
    claim: Claim,
    assigned: &[(i64, i64)],
) -> Result<(), sqlx::Error> {
    match claim.tx {
        Some(WriteTx::Postgres(mut tx)) => {
            // One statement for the whole batch: a relay pass is one round trip here.
            let (ids, seqs): (Vec<i64>, Vec<i64>) = assigned.iter().copied().unzip();
            sqlx::query(
                "UPDATE update_log AS u SET relayed_seq = v.s \
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS v(id, s) WHERE u.seq = v.id",
            )
            .bind(ids)
            .bind(seqs)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        tx => {
            let mut tx = match tx {
                Some(tx) => tx,
                None => begin_write(db).await?,
            };
            for (id, seq) in assigned {
                on_tx!(&mut tx, c => sqlx::query("UPDATE update_log SET relayed_seq = $1 WHERE seq = $2")
                    .bind(seq)
                    .bind(id)
                    .execute(c)
                    .await
                    .map(drop))?;
            }
            tx.commit().await
        }
    }
}

/// Lowest and highest global sequence numbers the database still holds (Redis mode).
pub async fn relayed_range(db: &Db) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let (lo, hi): (Option<i64>, Option<i64>) = on_db!(db, p =>
        sqlx::query_as("SELECT MIN(relayed_seq), MAX(relayed_seq) FROM update_log")
            .fetch_one(p).await)?;
    Ok(lo.zip(hi))
}

/// Relayed updates with `after < relayed_seq < before`, by global seq, at most `limit`;
/// `seq` of each row is its global number (Redis mode).
pub async fn relayed_between(
    db: &Db,
    after: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<LoggedUpdate>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT relayed_seq AS seq, kind, topic_key, payload FROM update_log \
         WHERE relayed_seq > $1 AND relayed_seq < $2 ORDER BY relayed_seq LIMIT $3",
    )
    .bind(after)
    .bind(before)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// Deletes relayed rows older than the `keep` newest relayed ones; rows not yet relayed
/// always stay (Redis mode). Returns rows deleted.
pub async fn prune_relayed(db: &Db, keep: i64) -> Result<u64, sqlx::Error> {
    on_db!(db, p => sqlx::query(
        "DELETE FROM update_log WHERE relayed_seq IS NOT NULL \
         AND relayed_seq <= (SELECT MAX(relayed_seq) FROM update_log) - $1 \
         AND seq < (SELECT MAX(seq) FROM update_log)",
    )
    .bind(keep)
    .execute(p)
    .await
    .map(|d| d.rows_affected()))
}

/// The global seq the relay gave outbox row `id`: `Ok(None)` while it is not relayed
/// (or the row is gone) (Redis mode).
pub async fn relayed_seq_of(db: &Db, id: i64) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(Option<i64>,)> = on_db!(db, p =>
        sqlx::query_as("SELECT relayed_seq FROM update_log WHERE seq = $1")
            .bind(id)
            .fetch_optional(p)
            .await)?;
    Ok(row.and_then(|(s,)| s))
}

/// `(kind, topic_key, newest global seq)` of every key with an update relayed above
/// `after` among the outbox rows up to `upto` (Redis mode; rows up to `upto` are what a
/// `state` read saw).
pub async fn newest_relayed(
    db: &Db,
    upto: i64,
    after: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT kind, topic_key, MAX(relayed_seq) FROM update_log \
         WHERE seq <= $1 AND relayed_seq > $2 GROUP BY kind, topic_key",
    )
    .bind(upto)
    .bind(after)
    .fetch_all(p)
    .await)
}
