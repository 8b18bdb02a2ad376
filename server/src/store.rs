//! All SQL lives here, so a PostgreSQL twin only has to replace this module and the migrations.
//!
//! Writes take a `&mut SqliteConnection` so the caller can put a record change and its
//! update-log row in one transaction (see `service`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::model::{Anchor, Corridor, Snapshot};

/// Connection pool of the store.
pub type Db = SqlitePool;

/// A write transaction.
pub type WriteTx = Transaction<'static, Sqlite>;

/// Opens (creating the file if missing) the database at `url` and applies pending migrations.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + NORMAL survives a process crash (SIGKILL) without losing commits;
        // only a power loss may drop the last ones.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Starts a write transaction that takes the write lock at once, so two concurrent
/// writers queue on the busy timeout instead of failing on a read-to-write upgrade.
pub async fn begin_write(db: &Db) -> Result<WriteTx, sqlx::Error> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// All anchors, by name then id.
pub async fn list_anchors(db: &Db) -> Result<Vec<Anchor>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM anchors ORDER BY name, id")
        .fetch_all(db)
        .await
}

/// One anchor.
pub async fn get_anchor(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Anchor>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM anchors WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Inserts a new anchor row.
pub async fn insert_anchor(conn: &mut SqliteConnection, a: &Anchor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO anchors (id, name, stellar_account, home_domain, total_transactions, \
         successful_transactions, failed_transactions, total_volume_usd, avg_settlement_time_ms, \
         reliability_score, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    )
    .bind(&a.id)
    .bind(&a.name)
    .bind(&a.stellar_account)
    .bind(&a.home_domain)
    .bind(a.total_transactions)
    .bind(a.successful_transactions)
    .bind(a.failed_transactions)
    .bind(a.total_volume_usd)
    .bind(a.avg_settlement_time_ms)
    .bind(a.reliability_score)
    .bind(&a.status)
    .bind(&a.created_at)
    .bind(&a.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Overwrites the metric columns of an existing anchor row (matched by id).
pub async fn update_anchor(conn: &mut SqliteConnection, a: &Anchor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE anchors SET total_transactions = ?, successful_transactions = ?, failed_transactions = ?, \
         total_volume_usd = ?, avg_settlement_time_ms = ?, reliability_score = ?, status = ?, updated_at = ? \
         WHERE id = ?",
    )
    .bind(a.total_transactions)
    .bind(a.successful_transactions)
    .bind(a.failed_transactions)
    .bind(a.total_volume_usd)
    .bind(a.avg_settlement_time_ms)
    .bind(a.reliability_score)
    .bind(&a.status)
    .bind(&a.updated_at)
    .bind(&a.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// All corridors, by key.
pub async fn list_corridors(db: &Db) -> Result<Vec<Corridor>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM corridors ORDER BY corridor_key")
        .fetch_all(db)
        .await
}

/// One corridor.
pub async fn get_corridor(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<Corridor>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM corridors WHERE id = ?")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Inserts a new corridor row.
pub async fn insert_corridor(conn: &mut SqliteConnection, c: &Corridor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO corridors (id, corridor_key, source_asset_code, source_asset_issuer, dest_asset_code, \
         dest_asset_issuer, total_transactions, successful_transactions, success_rate, volume_usd, \
         created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    )
    .bind(&c.id)
    .bind(&c.corridor_key)
    .bind(&c.source_asset_code)
    .bind(&c.source_asset_issuer)
    .bind(&c.dest_asset_code)
    .bind(&c.dest_asset_issuer)
    .bind(c.total_transactions)
    .bind(c.successful_transactions)
    .bind(c.success_rate)
    .bind(c.volume_usd)
    .bind(&c.created_at)
    .bind(&c.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Overwrites the metric columns of an existing corridor row (matched by id).
pub async fn update_corridor(conn: &mut SqliteConnection, c: &Corridor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE corridors SET total_transactions = ?, successful_transactions = ?, success_rate = ?, \
         volume_usd = ?, updated_at = ? WHERE id = ?",
    )
    .bind(c.total_transactions)
    .bind(c.successful_transactions)
    .bind(c.success_rate)
    .bind(c.volume_usd)
    .bind(&c.updated_at)
    .bind(&c.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Anchors and corridors read inside one transaction, for a consistent snapshot.
pub async fn all_records(
    conn: &mut SqliteConnection,
) -> Result<(Vec<Anchor>, Vec<Corridor>), sqlx::Error> {
    let anchors = sqlx::query_as("SELECT * FROM anchors ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let corridors = sqlx::query_as("SELECT * FROM corridors ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    Ok((anchors, corridors))
}

/// Snapshots, newest first, at most `limit`.
pub async fn list_snapshots(db: &Db, limit: i64) -> Result<Vec<Snapshot>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM snapshots ORDER BY epoch DESC LIMIT ?")
        .bind(limit)
        .fetch_all(db)
        .await
}

/// The snapshot with the highest epoch.
pub async fn latest_snapshot(db: &Db) -> Result<Option<Snapshot>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM snapshots ORDER BY epoch DESC LIMIT 1")
        .fetch_optional(db)
        .await
}

/// Epoch the next snapshot gets: highest so far + 1, or 1.
pub async fn next_epoch(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(epoch) FROM snapshots")
        .fetch_one(conn)
        .await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Inserts a snapshot row.
pub async fn insert_snapshot(conn: &mut SqliteConnection, s: &Snapshot) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO snapshots (id, epoch, timestamp, hash, anchor_count, corridor_count) VALUES (?,?,?,?,?,?)",
    )
    .bind(&s.id)
    .bind(s.epoch)
    .bind(&s.timestamp)
    .bind(&s.hash)
    .bind(s.anchor_count)
    .bind(s.corridor_count)
    .execute(conn)
    .await?;
    Ok(())
}

/// One row of the update log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoggedUpdate {
    /// Sequence number, deployment-wide, never reused.
    pub seq: i64,
    /// `anchor`, `corridor` or `snapshot`.
    pub kind: String,
    /// Anchor id, corridor key, or snapshot id: what per-key topics match on.
    pub topic_key: String,
    /// The update frame's JSON without `seq`.
    pub payload: String,
}

/// Appends an update event and returns its sequence number.
pub async fn append_update(
    conn: &mut SqliteConnection,
    kind: &str,
    topic_key: &str,
    payload: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO update_log (kind, topic_key, payload, created_at) VALUES (?,?,?,?) RETURNING seq",
    )
    .bind(kind)
    .bind(topic_key)
    .bind(payload)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(seq)
}

/// Logged updates with `seq > after`, in order, at most `limit`.
pub async fn updates_after(
    db: &Db,
    after: i64,
    limit: i64,
) -> Result<Vec<LoggedUpdate>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, kind, topic_key, payload FROM update_log WHERE seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Lowest and highest retained sequence numbers, `None` when the log is empty.
///
/// Pruning always keeps the newest row, so the highest retained seq is also the last one issued.
pub async fn seq_range(db: &Db) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let (lo, hi): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT MIN(seq), MAX(seq) FROM update_log")
            .fetch_one(db)
            .await?;
    Ok(lo.zip(hi))
}

/// Deletes all but the `keep` most recent sequence numbers, but never a row above
/// `published` (the relay has not sent it yet); returns rows deleted.
pub async fn prune_updates(db: &Db, keep: i64, published: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM update_log WHERE seq <= ? AND seq <= (SELECT MAX(seq) FROM update_log) - ?",
    )
    .bind(published)
    .bind(keep)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Number of rows in the update log (used by tests and `/health`).
pub async fn count_updates(db: &Db) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM update_log")
        .fetch_one(db)
        .await?;
    Ok(n)
}
