//! SQL of the corridors' recent history (`corridor_history`): one row per corridor
//! and [`STEP_MS`] step with the newest value written in it, kept [`RETENTION_MINUTES`].

use super::{on_db, on_tx, Db, WriteTx};
use crate::model::Corridor;

/// Width of one history step, ms: a step keeps the newest value written in it. Value 10 000.
pub const STEP_MS: i64 = 10_000;
/// How far back history is kept and can be asked for, minutes. Value 60.
pub const RETENTION_MINUTES: i64 = 60;

/// One point of a corridor's history.
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct HistoryPoint {
    /// When the value was written, ms since the Unix epoch.
    pub t: i64,
    /// Success rate then, percent.
    pub success_rate: f64,
    /// USD volume then.
    pub volume_usd: f64,
    /// Total transactions then.
    pub total_transactions: i64,
}

/// Records `c`'s metrics as of `at_ms` (inside the write that changed them) and deletes
/// that corridor's steps older than the retention (plus one step).
pub async fn record(tx: &mut WriteTx, c: &Corridor, at_ms: i64) -> Result<(), sqlx::Error> {
    let step = at_ms.div_euclid(STEP_MS);
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO corridor_history (corridor_id, step, at_ms, success_rate, volume_usd, \
         total_transactions) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (corridor_id, step) DO UPDATE SET at_ms = excluded.at_ms, \
         success_rate = excluded.success_rate, volume_usd = excluded.volume_usd, \
         total_transactions = excluded.total_transactions",
    )
    .bind(&c.id)
    .bind(step)
    .bind(at_ms)
    .bind(c.success_rate)
    .bind(c.volume_usd)
    .bind(c.total_transactions)
    .execute(conn)
    .await
    .map(drop))?;
    let oldest = step - RETENTION_MINUTES * 60_000 / STEP_MS - 1;
    on_tx!(tx, conn => sqlx::query(
        "DELETE FROM corridor_history WHERE corridor_id = $1 AND step < $2",
    )
    .bind(&c.id)
    .bind(oldest)
    .execute(conn)
    .await
    .map(drop))
}

/// `corridor_id`'s points written at or after `since_ms`, oldest first.
pub async fn points(
    db: &Db,
    corridor_id: &str,
    since_ms: i64,
) -> Result<Vec<HistoryPoint>, sqlx::Error> {
    on_db!(db, p => sqlx::query_as(
        "SELECT at_ms AS t, success_rate, volume_usd, total_transactions FROM corridor_history \
         WHERE corridor_id = $1 AND at_ms >= $2 ORDER BY step",
    )
    .bind(corridor_id)
    .bind(since_ms)
    .fetch_all(p)
    .await)
}

/// Every corridor's points written at or after `since_ms`, by corridor key, oldest first.
pub async fn all_points(
    db: &Db,
    since_ms: i64,
) -> Result<Vec<(String, HistoryPoint)>, sqlx::Error> {
    let rows: Vec<(String, i64, f64, f64, i64)> = on_db!(db, p => sqlx::query_as(
        "SELECT c.corridor_key, h.at_ms, h.success_rate, h.volume_usd, h.total_transactions \
         FROM corridor_history h JOIN corridors c ON c.id = h.corridor_id \
         WHERE h.at_ms >= $1 ORDER BY c.corridor_key, h.step",
    )
    .bind(since_ms)
    .fetch_all(p)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(key, t, success_rate, volume_usd, total_transactions)| {
            (
                key,
                HistoryPoint {
                    t,
                    success_rate,
                    volume_usd,
                    total_transactions,
                },
            )
        })
        .collect())
}

/// Id of the corridor whose key (or id) is `key`.
pub async fn corridor_id(db: &Db, key: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = on_db!(db, p => sqlx::query_as(
        "SELECT id FROM corridors WHERE corridor_key = $1 OR id = $1",
    )
    .bind(key)
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|r| r.0))
}
