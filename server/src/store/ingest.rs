//! SQL of Horizon ingestion: the resume cursor and the one-minute metric buckets.

use super::{on_db, on_tx, Db, WriteTx};
use crate::ingest::metrics::Bucket;

/// The stored `paging_token` of `stream`, if any.
pub async fn cursor(db: &Db, stream: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = on_db!(db, p => sqlx::query_as(
        "SELECT paging_token FROM ingest_cursor WHERE stream = $1",
    )
    .bind(stream)
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|r| r.0))
}

/// Stores `stream`'s cursor (insert or replace).
pub async fn set_cursor(
    tx: &mut WriteTx,
    stream: &str,
    token: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO ingest_cursor (stream, paging_token, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (stream) DO UPDATE SET paging_token = excluded.paging_token, \
         updated_at = excluded.updated_at",
    )
    .bind(stream)
    .bind(token)
    .bind(now)
    .execute(c)
    .await
    .map(drop))
}

/// Stores one bucket (insert or replace).
pub async fn put_bucket(
    tx: &mut WriteTx,
    key: &str,
    minute: i64,
    b: &Bucket,
) -> Result<(), sqlx::Error> {
    let failures = serde_json::to_string(&b.failures).expect("a string map serialises");
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO ingest_buckets (metric_key, minute, attempts, successes, volume_usd, \
         unpriced, failures) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (metric_key, minute) DO UPDATE SET attempts = excluded.attempts, \
         successes = excluded.successes, volume_usd = excluded.volume_usd, \
         unpriced = excluded.unpriced, failures = excluded.failures",
    )
    .bind(key)
    .bind(minute)
    .bind(b.attempts)
    .bind(b.successes)
    .bind(b.volume_usd)
    .bind(b.unpriced)
    .bind(failures)
    .execute(c)
    .await
    .map(drop))
}

/// Deletes buckets before `minute`.
pub async fn prune_buckets(tx: &mut WriteTx, minute: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query("DELETE FROM ingest_buckets WHERE minute < $1")
        .bind(minute)
        .execute(c)
        .await
        .map(drop))
}

type BucketRow = (String, i64, i64, i64, f64, i64, String);

/// Every stored bucket: key, minute, counts. A `failures` column that is not a JSON
/// object of counts reads as empty.
pub async fn buckets(db: &Db) -> Result<Vec<(String, i64, Bucket)>, sqlx::Error> {
    let rows: Vec<BucketRow> = on_db!(db, p => sqlx::query_as(
        "SELECT metric_key, minute, attempts, successes, volume_usd, unpriced, failures \
         FROM ingest_buckets ORDER BY metric_key, minute",
    )
    .fetch_all(p)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(k, m, attempts, successes, volume_usd, unpriced, f)| {
            let b = Bucket {
                attempts,
                successes,
                volume_usd,
                unpriced,
                failures: serde_json::from_str(&f).unwrap_or_default(),
            };
            (k, m, b)
        })
        .collect())
}
