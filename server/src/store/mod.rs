//! All SQL lives here: records in this file, the update log in [`log`].
//!
//! Two backends behind one API: SQLite (the zero-setup default) and PostgreSQL
//! (`DATABASE_URL=postgres://...`). Queries are written once, with `$N`
//! placeholders that both accept, and run on whichever pool [`Db`] holds.
//! Writes take a [`WriteTx`] so the caller can put a record change and its
//! update-log row in one transaction (see `service`).

pub mod ingest;
pub mod log;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

pub use log::{
    append_update, count_updates, prune_updates, seq_range, updates_after, LoggedUpdate,
};

use crate::model::{Anchor, Corridor, Snapshot};

/// PostgreSQL advisory lock every write transaction holds: writes are serialised as
/// on SQLite, so update-log rows commit in `seq` order and snapshots read a stable state.
const PG_WRITE_LOCK: i64 = 0x5354_454c_0001;

/// Connection pool of the store; cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite file (default `sqlite://stellar-insights.db`).
    Sqlite(SqlitePool),
    /// PostgreSQL server (`postgres://` or `postgresql://` URL).
    Postgres(PgPool),
}

/// A write transaction on either backend.
#[derive(Debug)]
pub enum WriteTx {
    /// SQLite transaction begun with `BEGIN IMMEDIATE`.
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL transaction holding the write advisory lock.
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$p` bound to the backend's pool.
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($p) => $body,
            $crate::store::Db::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the transaction's connection.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::store::WriteTx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::store::WriteTx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use {on_db, on_tx};

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the database at `url` (creating a SQLite file if missing) and applies pending migrations
/// (`migrations/` on SQLite, their twins in `migrations_pg/` on PostgreSQL).
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    if is_postgres_url(url) {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        // The migrator takes its own advisory lock, so instances starting together are safe.
        sqlx::migrate!("./migrations_pg").run(&pool).await?;
        return Ok(Db::Postgres(pool));
    }
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
    Ok(Db::Sqlite(pool))
}

impl Db {
    /// `"sqlite"` or `"postgres"`, as `/health` reports it.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }

    /// A trivial query: `Ok` when the database answers.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_db!(self, p => sqlx::query("SELECT 1").execute(p).await.map(drop))
    }
}

impl WriteTx {
    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(t) => t.commit().await,
            WriteTx::Postgres(t) => t.commit().await,
        }
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            WriteTx::Sqlite(t) => t.rollback().await,
            WriteTx::Postgres(t) => t.rollback().await,
        }
    }
}

/// Starts a write transaction that takes the write lock at once, so two concurrent
/// writers queue instead of failing on a read-to-write upgrade (SQLite) and commit
/// in the order they append to the update log (PostgreSQL).
pub async fn begin_write(db: &Db) -> Result<WriteTx, sqlx::Error> {
    match db {
        Db::Sqlite(p) => Ok(WriteTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?)),
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
            Ok(WriteTx::Postgres(tx))
        }
    }
}

/// All anchors, by name then id.
pub async fn list_anchors(db: &Db) -> Result<Vec<Anchor>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT * FROM anchors ORDER BY name, id").fetch_all(p).await)
}

/// One anchor, read outside any transaction.
pub async fn find_anchor(db: &Db, id: &str) -> Result<Option<Anchor>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT * FROM anchors WHERE id = $1").bind(id).fetch_optional(p).await)
}

/// One anchor, inside a write transaction.
pub async fn get_anchor(tx: &mut WriteTx, id: &str) -> Result<Option<Anchor>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_as("SELECT * FROM anchors WHERE id = $1").bind(id).fetch_optional(c).await)
}

/// Inserts a new anchor row.
pub async fn insert_anchor(tx: &mut WriteTx, a: &Anchor) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO anchors (id, name, stellar_account, home_domain, total_transactions, \
         successful_transactions, failed_transactions, total_volume_usd, avg_settlement_time_ms, \
         reliability_score, status, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
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
    .execute(c)
    .await
    .map(drop))
}

/// Overwrites the metric columns of an existing anchor row (matched by id).
pub async fn update_anchor(tx: &mut WriteTx, a: &Anchor) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE anchors SET total_transactions = $1, successful_transactions = $2, \
         failed_transactions = $3, total_volume_usd = $4, avg_settlement_time_ms = $5, \
         reliability_score = $6, status = $7, updated_at = $8 WHERE id = $9",
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
    .execute(c)
    .await
    .map(drop))
}

/// All corridors, by key.
pub async fn list_corridors(db: &Db) -> Result<Vec<Corridor>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT * FROM corridors ORDER BY corridor_key").fetch_all(p).await)
}

/// One corridor, read outside any transaction.
pub async fn find_corridor(db: &Db, id: &str) -> Result<Option<Corridor>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT * FROM corridors WHERE id = $1").bind(id).fetch_optional(p).await)
}

/// One corridor, inside a write transaction.
pub async fn get_corridor(tx: &mut WriteTx, id: &str) -> Result<Option<Corridor>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_as("SELECT * FROM corridors WHERE id = $1").bind(id).fetch_optional(c).await)
}

/// Inserts a new corridor row.
pub async fn insert_corridor(tx: &mut WriteTx, k: &Corridor) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO corridors (id, corridor_key, source_asset_code, source_asset_issuer, \
         dest_asset_code, dest_asset_issuer, total_transactions, successful_transactions, \
         success_rate, volume_usd, created_at, updated_at) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
    )
    .bind(&k.id)
    .bind(&k.corridor_key)
    .bind(&k.source_asset_code)
    .bind(&k.source_asset_issuer)
    .bind(&k.dest_asset_code)
    .bind(&k.dest_asset_issuer)
    .bind(k.total_transactions)
    .bind(k.successful_transactions)
    .bind(k.success_rate)
    .bind(k.volume_usd)
    .bind(&k.created_at)
    .bind(&k.updated_at)
    .execute(c)
    .await
    .map(drop))
}

/// Overwrites the metric columns of an existing corridor row (matched by id).
pub async fn update_corridor(tx: &mut WriteTx, k: &Corridor) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "UPDATE corridors SET total_transactions = $1, successful_transactions = $2, \
         success_rate = $3, volume_usd = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(k.total_transactions)
    .bind(k.successful_transactions)
    .bind(k.success_rate)
    .bind(k.volume_usd)
    .bind(&k.updated_at)
    .bind(&k.id)
    .execute(c)
    .await
    .map(drop))
}

/// Anchors and corridors read inside one transaction, for a consistent snapshot.
pub async fn all_records(tx: &mut WriteTx) -> Result<(Vec<Anchor>, Vec<Corridor>), sqlx::Error> {
    on_tx!(tx, c => {
        let anchors = sqlx::query_as("SELECT * FROM anchors ORDER BY id")
            .fetch_all(&mut *c)
            .await?;
        let corridors = sqlx::query_as("SELECT * FROM corridors ORDER BY id")
            .fetch_all(&mut *c)
            .await?;
        Ok((anchors, corridors))
    })
}

/// What one `state` read transaction saw (see [`read_state`]).
#[derive(Debug, Default)]
pub struct StateRows {
    /// Every anchor, when asked for, by id.
    pub anchors: Vec<Anchor>,
    /// Every corridor, when asked for, by key.
    pub corridors: Vec<Corridor>,
    /// The snapshot with the highest epoch, when asked for.
    pub snapshot: Option<Snapshot>,
    /// Highest `update_log.seq` (the outbox row id in Redis mode); `None` when the log is empty.
    pub log_max: Option<i64>,
    /// `(kind, topic_key, newest seq)` of every key with an update above `newest_after`
    /// (local mode only; empty when not asked for).
    pub newest: Vec<(String, String, i64)>,
}

/// Reads the records a `state` answer needs and the update log's highest `seq` in ONE read
/// transaction (SQLite: one WAL read snapshot; PostgreSQL: `REPEATABLE READ, READ ONLY`),
/// so the records hold every update up to that seq and none above (writes append their
/// log row in the transaction that changes the record). With `newest_after`, also each
/// key's newest `seq` above it (local mode: `seq` is the global number).
pub async fn read_state(
    db: &Db,
    anchors: bool,
    corridors: bool,
    snapshot: bool,
    newest_after: Option<i64>,
) -> Result<StateRows, sqlx::Error> {
    macro_rules! read {
        ($c:expr) => {{
            let c = $c;
            let mut rows = StateRows::default();
            if anchors {
                rows.anchors = sqlx::query_as("SELECT * FROM anchors ORDER BY id")
                    .fetch_all(&mut *c)
                    .await?;
            }
            if corridors {
                rows.corridors = sqlx::query_as("SELECT * FROM corridors ORDER BY corridor_key")
                    .fetch_all(&mut *c)
                    .await?;
            }
            if snapshot {
                rows.snapshot =
                    sqlx::query_as("SELECT * FROM snapshots ORDER BY epoch DESC LIMIT 1")
                        .fetch_optional(&mut *c)
                        .await?;
            }
            let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM update_log")
                .fetch_one(&mut *c)
                .await?;
            rows.log_max = max;
            if let Some(after) = newest_after {
                rows.newest = sqlx::query_as(
                    "SELECT kind, topic_key, MAX(seq) FROM update_log WHERE seq > $1 \
                     GROUP BY kind, topic_key",
                )
                .bind(after)
                .fetch_all(&mut *c)
                .await?;
            }
            rows
        }};
    }
    match db {
        Db::Sqlite(p) => {
            // A deferred transaction: its first SELECT takes the WAL read snapshot every
            // later statement sees; it never takes the write lock.
            let mut tx = p.begin().await?;
            let rows = read!(&mut *tx);
            tx.rollback().await?;
            Ok(rows)
        }
        Db::Postgres(p) => {
            let mut tx = p.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            let rows = read!(&mut *tx);
            tx.rollback().await?;
            Ok(rows)
        }
    }
}

/// Snapshots, newest first, at most `limit`.
pub async fn list_snapshots(db: &Db, limit: i64) -> Result<Vec<Snapshot>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT * FROM snapshots ORDER BY epoch DESC LIMIT $1")
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// The snapshot with the highest epoch.
pub async fn latest_snapshot(db: &Db) -> Result<Option<Snapshot>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as("SELECT * FROM snapshots ORDER BY epoch DESC LIMIT 1")
        .fetch_optional(p)
        .await)
}

/// Epoch the next snapshot gets: highest so far + 1, or 1.
pub async fn next_epoch(tx: &mut WriteTx) -> Result<i64, sqlx::Error> {
    let (max,): (Option<i64>,) = on_tx!(tx, c => sqlx::query_as("SELECT MAX(epoch) FROM snapshots")
        .fetch_one(c)
        .await)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Inserts a snapshot row.
pub async fn insert_snapshot(tx: &mut WriteTx, s: &Snapshot) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO snapshots (id, epoch, timestamp, hash, anchor_count, corridor_count) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&s.id)
    .bind(s.epoch)
    .bind(&s.timestamp)
    .bind(&s.hash)
    .bind(s.anchor_count)
    .bind(s.corridor_count)
    .execute(c)
    .await
    .map(drop))
}
