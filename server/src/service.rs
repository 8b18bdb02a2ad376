//! Write operations shared by the REST handlers and demo mode: each one changes a
//! record and logs its update in one transaction, then hands the update over for
//! publication once the commit returned.

use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::broadcast::{
    broadcast_anchor_update, broadcast_corridor_update, broadcast_snapshot_update,
};
use crate::error::ApiError;
use crate::hub::Update;
use crate::model::{
    self, Anchor, AnchorMetrics, Corridor, CorridorMetrics, NewAnchor, NewCorridor, Snapshot,
};
use crate::{store, AppState};

/// Current time, RFC 3339 UTC with a `Z` suffix.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("UTC time formats as RFC 3339")
}

/// Current time, ms since the Unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn unique(e: sqlx::Error, field: &'static str, message: &str) -> ApiError {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => ApiError::Conflict {
            message: message.to_owned(),
            field,
        },
        _ => ApiError::Database(e),
    }
}

/// Creates an anchor with zero metrics.
pub async fn create_anchor(state: &AppState, new: NewAnchor) -> Result<Anchor, ApiError> {
    let now = now_rfc3339();
    let anchor = Anchor {
        id: uuid::Uuid::new_v4().to_string(),
        name: new.name,
        stellar_account: new.stellar_account,
        home_domain: new.home_domain,
        total_transactions: 0,
        successful_transactions: 0,
        failed_transactions: 0,
        total_volume_usd: 0.0,
        avg_settlement_time_ms: None,
        reliability_score: 0.0,
        status: model::status_for(0.0).as_str().to_owned(),
        created_at: now.clone(),
        updated_at: now,
    };
    let started = Instant::now();
    let mut tx = store::begin_write(&state.db).await?;
    store::insert_anchor(&mut tx, &anchor).await.map_err(|e| {
        unique(
            e,
            "stellar_account",
            "an anchor with this stellar_account already exists",
        )
    })?;
    let update = broadcast_anchor_update(&mut tx, &anchor).await?;
    tx.commit().await?;
    state.committed(update, started);
    Ok(anchor)
}

/// Replaces an anchor's metrics and recomputes its score and status.
pub async fn update_anchor_metrics(
    state: &AppState,
    id: &str,
    m: AnchorMetrics,
) -> Result<Anchor, ApiError> {
    let started = Instant::now();
    let mut tx = store::begin_write(&state.db).await?;
    let (anchor, update) = update_anchor_metrics_in(&mut tx, id, m).await?;
    tx.commit().await?;
    state.committed(update, started);
    Ok(anchor)
}

/// [`update_anchor_metrics`] inside the caller's write transaction; returns the record and
/// its logged update (the caller must commit and then hand the update over
/// with `AppState::committed`, or call `hub.wake()`), so other rows can commit with it.
pub async fn update_anchor_metrics_in(
    tx: &mut store::WriteTx,
    id: &str,
    m: AnchorMetrics,
) -> Result<(Anchor, Update), ApiError> {
    let mut anchor = store::get_anchor(tx, id)
        .await?
        .ok_or(ApiError::NotFound("anchor"))?;
    anchor.total_transactions = m.total_transactions;
    anchor.successful_transactions = m.successful_transactions;
    anchor.failed_transactions = m.failed_transactions;
    if let Some(ms) = m.avg_settlement_time_ms {
        anchor.avg_settlement_time_ms = Some(ms);
    }
    if let Some(v) = m.volume_usd {
        anchor.total_volume_usd = v;
    }
    anchor.reliability_score = model::reliability_score(&m);
    anchor.status = model::status_for(anchor.reliability_score)
        .as_str()
        .to_owned();
    anchor.updated_at = now_rfc3339();
    store::update_anchor(tx, &anchor).await?;
    let update = broadcast_anchor_update(tx, &anchor).await?;
    Ok((anchor, update))
}

/// Creates a corridor with zero metrics.
pub async fn create_corridor(state: &AppState, new: NewCorridor) -> Result<Corridor, ApiError> {
    let now = now_rfc3339();
    let corridor = Corridor {
        id: uuid::Uuid::new_v4().to_string(),
        corridor_key: new.key(),
        source_asset_code: new.source_asset_code,
        source_asset_issuer: new.source_asset_issuer,
        dest_asset_code: new.dest_asset_code,
        dest_asset_issuer: new.dest_asset_issuer,
        total_transactions: 0,
        successful_transactions: 0,
        success_rate: 0.0,
        volume_usd: 0.0,
        created_at: now.clone(),
        updated_at: now,
    };
    let started = Instant::now();
    let mut tx = store::begin_write(&state.db).await?;
    store::insert_corridor(&mut tx, &corridor)
        .await
        .map_err(|e| unique(e, "corridor_key", "this corridor already exists"))?;
    store::history::record(&mut tx, &corridor, now_ms()).await?;
    let update = broadcast_corridor_update(&mut tx, &corridor).await?;
    tx.commit().await?;
    state.committed(update, started);
    Ok(corridor)
}

/// Replaces a corridor's metrics and recomputes its success rate.
pub async fn update_corridor_metrics(
    state: &AppState,
    id: &str,
    m: CorridorMetrics,
) -> Result<Corridor, ApiError> {
    let started = Instant::now();
    let mut tx = store::begin_write(&state.db).await?;
    let (corridor, update) = update_corridor_metrics_in(&mut tx, id, m).await?;
    tx.commit().await?;
    state.committed(update, started);
    Ok(corridor)
}

/// [`update_corridor_metrics`] inside the caller's write transaction; returns the record and
/// its logged update (the caller must commit and then hand the update over
/// with `AppState::committed`, or call `hub.wake()`), so other rows can commit with it.
pub async fn update_corridor_metrics_in(
    tx: &mut store::WriteTx,
    id: &str,
    m: CorridorMetrics,
) -> Result<(Corridor, Update), ApiError> {
    let mut corridor = store::get_corridor(tx, id)
        .await?
        .ok_or(ApiError::NotFound("corridor"))?;
    corridor.total_transactions = m.total_transactions;
    corridor.successful_transactions = m.successful_transactions;
    corridor.volume_usd = m.volume_usd;
    corridor.success_rate = model::success_rate(m.successful_transactions, m.total_transactions);
    corridor.updated_at = now_rfc3339();
    store::update_corridor(tx, &corridor).await?;
    store::history::record(tx, &corridor, now_ms()).await?;
    let update = broadcast_corridor_update(tx, &corridor).await?;
    Ok((corridor, update))
}

/// Takes a snapshot: next epoch, now, and the hash of [`canonical_json`] of every record.
pub async fn create_snapshot(state: &AppState) -> Result<Snapshot, ApiError> {
    let started = Instant::now();
    let mut tx = store::begin_write(&state.db).await?;
    let (anchors, corridors) = store::all_records(&mut tx).await?;
    let snapshot = Snapshot {
        id: uuid::Uuid::new_v4().to_string(),
        epoch: store::next_epoch(&mut tx).await?,
        timestamp: now_rfc3339(),
        hash: snapshot_hash(&anchors, &corridors),
        anchor_count: anchors.len() as i64,
        corridor_count: corridors.len() as i64,
    };
    store::insert_snapshot(&mut tx, &snapshot).await?;
    let update = broadcast_snapshot_update(&mut tx, &snapshot).await?;
    tx.commit().await?;
    state.committed(update, started);
    Ok(snapshot)
}

// Field order is the canonical key order (alphabetical), fixed by these structs
// rather than by whatever map type serde_json was built with.
#[derive(Serialize)]
struct CanonicalAnchor<'a> {
    avg_settlement_time_ms: Option<f64>,
    failed_transactions: i64,
    home_domain: Option<&'a str>,
    id: &'a str,
    name: &'a str,
    reliability_score: f64,
    status: &'a str,
    stellar_account: &'a str,
    successful_transactions: i64,
    total_transactions: i64,
    total_volume_usd: f64,
}

#[derive(Serialize)]
struct CanonicalCorridor<'a> {
    corridor_key: &'a str,
    id: &'a str,
    success_rate: f64,
    successful_transactions: i64,
    total_transactions: i64,
    volume_usd: f64,
}

#[derive(Serialize)]
struct Canonical<'a> {
    anchors: Vec<CanonicalAnchor<'a>>,
    corridors: Vec<CanonicalCorridor<'a>>,
}

/// The canonical JSON a snapshot hash covers: `{"anchors":[...],"corridors":[...]}`, both
/// sorted by `id`, keys in alphabetical order, no whitespace, numbers as serde_json
/// prints them (integers plain, floats shortest round-trip form), timestamps excluded.
pub fn canonical_json(anchors: &[Anchor], corridors: &[Corridor]) -> String {
    let mut a: Vec<_> = anchors
        .iter()
        .map(|a| CanonicalAnchor {
            avg_settlement_time_ms: a.avg_settlement_time_ms,
            failed_transactions: a.failed_transactions,
            home_domain: a.home_domain.as_deref(),
            id: &a.id,
            name: &a.name,
            reliability_score: a.reliability_score,
            status: &a.status,
            stellar_account: &a.stellar_account,
            successful_transactions: a.successful_transactions,
            total_transactions: a.total_transactions,
            total_volume_usd: a.total_volume_usd,
        })
        .collect();
    a.sort_by(|x, y| x.id.cmp(y.id));
    let mut c: Vec<_> = corridors
        .iter()
        .map(|c| CanonicalCorridor {
            corridor_key: &c.corridor_key,
            id: &c.id,
            success_rate: c.success_rate,
            successful_transactions: c.successful_transactions,
            total_transactions: c.total_transactions,
            volume_usd: c.volume_usd,
        })
        .collect();
    c.sort_by(|x, y| x.id.cmp(y.id));
    serde_json::to_string(&Canonical {
        anchors: a,
        corridors: c,
    })
    .expect("canonical JSON serialises")
}

/// SHA-256 of [`canonical_json`], lowercase hex (64 characters).
pub fn snapshot_hash(anchors: &[Anchor], corridors: &[Corridor]) -> String {
    hex::encode(Sha256::digest(
        canonical_json(anchors, corridors).as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_state_hashes_to_the_sha256_of_its_canonical_json() {
        assert_eq!(canonical_json(&[], &[]), r#"{"anchors":[],"corridors":[]}"#);
        assert_eq!(
            snapshot_hash(&[], &[]),
            hex::encode(Sha256::digest(br#"{"anchors":[],"corridors":[]}"#))
        );
    }

    #[test]
    fn canonical_json_ignores_input_order_and_timestamps() {
        let c = |id: &str, at: &str| Corridor {
            id: id.into(),
            corridor_key: format!("K{id}"),
            source_asset_code: "A".into(),
            source_asset_issuer: "I".into(),
            dest_asset_code: "B".into(),
            dest_asset_issuer: "J".into(),
            total_transactions: 3,
            successful_transactions: 2,
            success_rate: 66.67,
            volume_usd: 1.5,
            created_at: at.into(),
            updated_at: at.into(),
        };
        let one = [c("1", "t1"), c("2", "t1")];
        let two = [c("2", "t2"), c("1", "t3")];
        assert_eq!(snapshot_hash(&[], &one), snapshot_hash(&[], &two));
        assert!(canonical_json(&[], &one).starts_with(
            r#"{"anchors":[],"corridors":[{"corridor_key":"K1","id":"1","success_rate":66.67,"#
        ));
    }
}
