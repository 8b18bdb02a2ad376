//! The seed's broadcast helpers, now writing to the transactional outbox.
//!
//! The seed called `broadcast_anchor_update(&ws_state, &anchor)` after a write and
//! sent to sockets at once, so a crash between the write and the send lost the
//! update, and a failed write could still broadcast. Here each helper takes the
//! write's own transaction instead of the WebSocket state: the update row commits
//! or rolls back with the record. The helper returns the update, frame serialised
//! with its seq; the caller hands it to the hub only after the commit returned
//! (`service`), and the relay (`hub`) publishes any row nobody handed over.

use stellar_insights_protocol::{AnchorUpdate, CorridorUpdate, ServerMessage, SnapshotUpdate};

use crate::hub::{Update, UpdateKind};
use crate::model::{Anchor, Corridor, Snapshot};
use crate::store::{self, WriteTx};

/// The `anchor_update` payload of `anchor` (a `state` record when `seq` is `None`).
pub fn anchor_record(anchor: &Anchor, seq: Option<u64>) -> AnchorUpdate {
    AnchorUpdate {
        anchor_id: anchor.id.clone(),
        name: anchor.name.clone(),
        reliability_score: anchor.reliability_score,
        status: crate::model::status_for(anchor.reliability_score),
        seq,
        r#ref: None,
        conflated: None,
    }
}

/// The `corridor_update` payload of `corridor` (a `state` record when `seq` is `None`).
pub fn corridor_record(corridor: &Corridor, seq: Option<u64>) -> CorridorUpdate {
    CorridorUpdate {
        corridor_id: corridor.id.clone(),
        corridor_key: corridor.corridor_key.clone(),
        success_rate: corridor.success_rate,
        volume_usd: corridor.volume_usd,
        total_transactions: corridor.total_transactions.max(0) as u64,
        seq,
        r#ref: None,
        conflated: None,
    }
}

/// The `snapshot_update` payload of `snapshot` (a `state` record when `seq` is `None`).
pub fn snapshot_record(snapshot: &Snapshot, seq: Option<u64>) -> SnapshotUpdate {
    SnapshotUpdate {
        snapshot_id: snapshot.id.clone(),
        epoch: snapshot.epoch.max(0) as u64,
        timestamp: snapshot.timestamp.clone(),
        hash: snapshot.hash.clone(),
        seq,
        conflated: None,
    }
}

/// Logs the update `frame(None)` and returns it as `frame(Some(seq))` (the frame
/// `Update::from_logged` builds from the row).
async fn log(
    tx: &mut WriteTx,
    kind: UpdateKind,
    key: &str,
    frame: impl Fn(Option<u64>) -> ServerMessage,
    now: &str,
) -> Result<Update, sqlx::Error> {
    let seq = store::append_update(tx, kind.as_str(), key, &frame(None).to_json(), now).await?;
    // Row ids start at 1: never negative.
    let seq = seq.max(0) as u64;
    Ok(Update::new(seq, kind, key, frame(Some(seq)).to_json()))
}

/// Records an `anchor_update` for `anchor` in the caller's transaction; returns it.
pub async fn broadcast_anchor_update(
    tx: &mut WriteTx,
    anchor: &Anchor,
) -> Result<Update, sqlx::Error> {
    let frame = |seq| ServerMessage::AnchorUpdate(anchor_record(anchor, seq));
    log(
        tx,
        UpdateKind::Anchor,
        &anchor.id,
        frame,
        &anchor.updated_at,
    )
    .await
}

/// Records a `corridor_update` for `corridor` in the caller's transaction; returns it.
pub async fn broadcast_corridor_update(
    tx: &mut WriteTx,
    corridor: &Corridor,
) -> Result<Update, sqlx::Error> {
    let frame = |seq| ServerMessage::CorridorUpdate(corridor_record(corridor, seq));
    log(
        tx,
        UpdateKind::Corridor,
        &corridor.corridor_key,
        frame,
        &corridor.updated_at,
    )
    .await
}

/// Records a `snapshot_update` for `snapshot` in the caller's transaction; returns it.
pub async fn broadcast_snapshot_update(
    tx: &mut WriteTx,
    snapshot: &Snapshot,
) -> Result<Update, sqlx::Error> {
    let frame = |seq| ServerMessage::SnapshotUpdate(snapshot_record(snapshot, seq));
    log(
        tx,
        UpdateKind::Snapshot,
        &snapshot.id,
        frame,
        &snapshot.timestamp,
    )
    .await
}
