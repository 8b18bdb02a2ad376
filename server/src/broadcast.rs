//! The seed's broadcast helpers, now writing to the transactional outbox.
//!
//! The seed called `broadcast_anchor_update(&ws_state, &anchor)` after a write and
//! sent to sockets at once, so a crash between the write and the send lost the
//! update, and a failed write could still broadcast. Here each helper takes the
//! write's own transaction instead of the WebSocket state: the update row commits
//! or rolls back with the record, and the relay (`hub`) publishes it after commit.

use stellar_insights_protocol::{AnchorUpdate, CorridorUpdate, ServerMessage, SnapshotUpdate};

use crate::hub::UpdateKind;
use crate::model::{Anchor, Corridor, Snapshot};
use crate::store::{self, WriteTx};

async fn log(
    tx: &mut WriteTx,
    kind: UpdateKind,
    key: &str,
    msg: &ServerMessage,
    now: &str,
) -> Result<i64, sqlx::Error> {
    store::append_update(tx, kind.as_str(), key, &msg.to_json(), now).await
}

/// Records an `anchor_update` for `anchor` in the caller's transaction; returns its seq.
pub async fn broadcast_anchor_update(
    tx: &mut WriteTx,
    anchor: &Anchor,
) -> Result<i64, sqlx::Error> {
    let status = crate::model::status_for(anchor.reliability_score);
    let msg = ServerMessage::AnchorUpdate(AnchorUpdate {
        anchor_id: anchor.id.clone(),
        name: anchor.name.clone(),
        reliability_score: anchor.reliability_score,
        status,
        seq: None,
    });
    log(tx, UpdateKind::Anchor, &anchor.id, &msg, &anchor.updated_at).await
}

/// Records a `corridor_update` for `corridor` in the caller's transaction; returns its seq.
pub async fn broadcast_corridor_update(
    tx: &mut WriteTx,
    corridor: &Corridor,
) -> Result<i64, sqlx::Error> {
    let msg = ServerMessage::CorridorUpdate(CorridorUpdate {
        corridor_id: corridor.id.clone(),
        corridor_key: corridor.corridor_key.clone(),
        success_rate: corridor.success_rate,
        volume_usd: corridor.volume_usd,
        total_transactions: corridor.total_transactions.max(0) as u64,
        seq: None,
    });
    log(
        tx,
        UpdateKind::Corridor,
        &corridor.corridor_key,
        &msg,
        &corridor.updated_at,
    )
    .await
}

/// Records a `snapshot_update` for `snapshot` in the caller's transaction; returns its seq.
pub async fn broadcast_snapshot_update(
    tx: &mut WriteTx,
    snapshot: &Snapshot,
) -> Result<i64, sqlx::Error> {
    let msg = ServerMessage::SnapshotUpdate(SnapshotUpdate {
        snapshot_id: snapshot.id.clone(),
        epoch: snapshot.epoch.max(0) as u64,
        timestamp: snapshot.timestamp.clone(),
        hash: snapshot.hash.clone(),
        seq: None,
    });
    log(
        tx,
        UpdateKind::Snapshot,
        &snapshot.id,
        &msg,
        &snapshot.timestamp,
    )
    .await
}
