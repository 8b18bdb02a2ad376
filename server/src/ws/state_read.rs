//! The read behind a `state` answer and a conflated catch-up: records plus
//! `S`, consistent with each other on either update log.
//!
//! Local mode: records and `S = MAX(update_log.seq)` come from one read
//! transaction ([`store::read_state`]). Redis mode: the log's row ids are not
//! the global numbers, so the read gives the highest outbox row id `R` it saw
//! instead; relays number outbox rows in row-id order (one relay lock, rows
//! claimed oldest first), so the global seq row `R` gets is exactly the `S`
//! of those records. It waits (waking the relay) until `R` has its number.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::broadcast::{anchor_record, corridor_record, snapshot_record};
use crate::cluster::{LogError, UpdateLog};
use crate::hub::UpdateKind;
use crate::state::{StateRead, Want};
use crate::store::{self, log};
use crate::AppState;

/// Longest wait for the relay to number the last outbox row a read saw
/// (Redis mode). Value 5 s. Past it (Redis unreachable) `S` is the highest
/// number the database has: records may then hold changes whose updates come
/// later with higher seqs, which the client's per-key versions apply once more.
const RELAY_WAIT: Duration = Duration::from_secs(5);
/// Poll interval while waiting for the relay. Value 5 ms.
const RELAY_POLL: Duration = Duration::from_millis(5);

fn kind_of(kind: &str) -> Option<UpdateKind> {
    match kind {
        "anchor" => Some(UpdateKind::Anchor),
        "corridor" => Some(UpdateKind::Corridor),
        "snapshot" => Some(UpdateKind::Snapshot),
        _ => None,
    }
}

/// Reads what `want` names (only the wanted records are returned) and `S`;
/// with `newest_after` (a conflated catch-up), also each key's newest seq above it.
pub async fn read_state(
    app: &AppState,
    want: &Want,
    newest_after: Option<u64>,
) -> Result<StateRead, LogError> {
    let local = matches!(app.log, UpdateLog::Local(_));
    let rows = store::read_state(
        &app.db,
        want.anchors.is_some(),
        want.corridors.is_some(),
        want.snapshot,
        newest_after.filter(|_| local).map(|s| s as i64),
    )
    .await?;
    let (seq, newest) = match (local, rows.log_max) {
        (true, max) => (max.unwrap_or(0).max(0) as u64, rows.newest),
        (false, None) => (0, Vec::new()),
        (false, Some(upto)) => {
            let seq = relayed_number(app, upto).await?;
            let newest = match newest_after {
                Some(after) => log::newest_relayed(&app.db, upto, after as i64).await?,
                None => Vec::new(),
            };
            (seq, newest)
        }
    };
    let mut read = StateRead {
        seq,
        corridors: rows
            .corridors
            .iter()
            .map(|c| corridor_record(c, None))
            .collect(),
        anchors: rows
            .anchors
            .iter()
            .map(|a| anchor_record(a, None))
            .collect(),
        snapshot: rows.snapshot.as_ref().map(|s| snapshot_record(s, None)),
        newest: HashMap::new(),
    };
    for (kind, key, seq) in newest {
        if let Some(kind) = kind_of(&kind) {
            read.newest.insert((kind, key), seq.max(0) as u64);
        }
    }
    want.retain(&mut read);
    Ok(read)
}

/// The global seq of outbox row `id` once the relay numbered it (Redis mode).
async fn relayed_number(app: &AppState, id: i64) -> Result<u64, LogError> {
    let start = Instant::now();
    loop {
        if let Some(seq) = log::relayed_seq_of(&app.db, id).await? {
            return Ok(seq.max(0) as u64);
        }
        if start.elapsed() > RELAY_WAIT {
            tracing::warn!(
                row = id,
                "state read: outbox row not relayed in time; S from the database"
            );
            let range = log::relayed_range(&app.db).await?;
            return Ok(range.map_or(0, |(_, hi)| hi.max(0) as u64));
        }
        app.hub.wake();
        tokio::time::sleep(RELAY_POLL).await;
    }
}
