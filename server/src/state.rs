//! Keyed state of one **state connection** (a connection that sent `subscribe`
//! with `"state": true`), without I/O: which corridors and anchors it has been
//! sent, under which connection-local `ref`, with which last record; the
//! `state` answer in chunks; full-or-delta frames for live updates; the
//! conflated catch-up after the connection fell behind; and which live updates
//! a `state` answer already covers.
//!
//! Memory is bounded by keys, never by updates: one entry per corridor or
//! anchor sent on the connection (its record, about 200 bytes), the id of the
//! last snapshot sent, and one pending coverage per `state` answer not yet
//! overtaken by the live stream. The connection task (`ws::connection`) does
//! the reads and the sends.

use std::collections::HashMap;

use stellar_insights_protocol::{
    AnchorDelta, AnchorUpdate, CorridorDelta, CorridorUpdate, ServerMessage, SnapshotUpdate,
    StateChunk, Topic, STATE_CHUNK,
};

use crate::hub::UpdateKind;

/// What a `state` read returns: the records of the wanted topics as of `seq`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateRead {
    /// `S`: every update with `seq <= S` is in the records, none above.
    pub seq: u64,
    /// Corridor records (no `seq`, no `ref`), by `corridor_key`.
    pub corridors: Vec<CorridorUpdate>,
    /// Anchor records (no `seq`, no `ref`), by `anchor_id`.
    pub anchors: Vec<AnchorUpdate>,
    /// The latest snapshot, when wanted and one exists.
    pub snapshot: Option<SnapshotUpdate>,
    /// For a conflated catch-up: `seq` of each key's newest update above the
    /// connection's last delivered one (`(kind, key) → seq`, `seq <= S`).
    pub newest: HashMap<(UpdateKind, String), u64>,
}

/// Which records a read wants: per kind, none, every key, or some keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Want {
    /// The latest snapshot.
    pub snapshot: bool,
    /// Corridors: `None` = none, `Some(None)` = all, `Some(Some(keys))` = those.
    pub corridors: Option<Option<Vec<String>>>,
    /// Anchors, as `corridors`.
    pub anchors: Option<Option<Vec<String>>>,
}

fn add_key(sel: &mut Option<Option<Vec<String>>>, key: &str) {
    match sel {
        Some(None) => {}
        Some(Some(keys)) => keys.push(key.to_owned()),
        None => *sel = Some(Some(vec![key.to_owned()])),
    }
}

impl Want {
    /// What the topics of one `subscribe` frame name.
    pub fn of_topics(topics: &[Topic]) -> Want {
        let mut want = Want::default();
        for t in topics {
            match t {
                Topic::Snapshots => want.snapshot = true,
                Topic::Corridors => want.corridors = Some(None),
                Topic::Anchors => want.anchors = Some(None),
                Topic::Corridor(key) => add_key(&mut want.corridors, key),
                Topic::Anchor(id) => add_key(&mut want.anchors, id),
            }
        }
        want
    }

    /// Whether the read wants this corridor key / anchor id.
    pub fn wants(&self, kind: UpdateKind, key: &str) -> bool {
        let sel = match kind {
            UpdateKind::Snapshot => return self.snapshot,
            UpdateKind::Corridor => &self.corridors,
            UpdateKind::Anchor => &self.anchors,
        };
        match sel {
            None => false,
            Some(None) => true,
            Some(Some(keys)) => keys.iter().any(|k| k == key),
        }
    }

    /// Keeps only the wanted records of `read` (the store reads whole kinds).
    pub fn retain(&self, read: &mut StateRead) {
        read.corridors
            .retain(|c| self.wants(UpdateKind::Corridor, &c.corridor_key));
        read.anchors
            .retain(|a| self.wants(UpdateKind::Anchor, &a.anchor_id));
        if !self.snapshot {
            read.snapshot = None;
        }
    }
}

/// Pending `state` answers kept apart before they merge (see `KeyedState::cover`). Value 16.
const MAX_COVERED: usize = 16;

fn merge_keys(into: &mut Option<Option<Vec<String>>>, from: Option<Option<Vec<String>>>) {
    match (into.as_mut(), from) {
        (_, None) | (Some(None), _) => {}
        (_, Some(None)) => *into = Some(None),
        (None, Some(Some(keys))) => *into = Some(Some(keys)),
        (Some(Some(have)), Some(Some(keys))) => {
            for k in keys {
                if !have.contains(&k) {
                    have.push(k);
                }
            }
        }
    }
}

impl Want {
    /// Adds every record `other` wants.
    pub fn merge(&mut self, other: Want) {
        self.snapshot |= other.snapshot;
        merge_keys(&mut self.corridors, other.corridors);
        merge_keys(&mut self.anchors, other.anchors);
    }
}

/// The last full value a connection was sent for one key.
#[derive(Debug, Clone, PartialEq)]
enum Last {
    Corridor(CorridorUpdate),
    Anchor(AnchorUpdate),
}

#[derive(Debug, Clone)]
struct Sent {
    r#ref: u32,
    last: Last,
}

/// The per-connection state of a state connection. See the module docs.
#[derive(Debug, Default)]
pub struct KeyedState {
    sent: HashMap<(UpdateKind, Box<str>), Sent>,
    next_ref: u32,
    snapshot_id: Option<String>,
    /// `state` answers whose `S` the live stream has not passed yet: live updates
    /// with `seq <= S` they cover are already in the client's records.
    covered: Vec<(u64, Want)>,
}

fn corridor_delta(
    old: &CorridorUpdate,
    new: &CorridorUpdate,
    r#ref: u32,
    seq: u64,
) -> CorridorDelta {
    // Bitwise: a value that changed from or to NaN (never written by the server) still counts.
    let changed = |a: f64, b: f64| (a.to_bits() != b.to_bits()).then_some(b);
    CorridorDelta {
        r#ref,
        seq,
        success_rate: changed(old.success_rate, new.success_rate),
        volume_usd: changed(old.volume_usd, new.volume_usd),
        total_transactions: (old.total_transactions != new.total_transactions)
            .then_some(new.total_transactions),
        conflated: None,
    }
}

fn anchor_delta(old: &AnchorUpdate, new: &AnchorUpdate, r#ref: u32, seq: u64) -> AnchorDelta {
    AnchorDelta {
        r#ref,
        seq,
        name: (old.name != new.name).then(|| new.name.clone()),
        reliability_score: (old.reliability_score.to_bits() != new.reliability_score.to_bits())
            .then_some(new.reliability_score),
        status: (old.status != new.status).then_some(new.status),
        conflated: None,
    }
}

/// A record as the connection keeps it: no `seq`, `ref` or flag.
fn bare_corridor(u: &CorridorUpdate) -> CorridorUpdate {
    CorridorUpdate {
        seq: None,
        r#ref: None,
        conflated: None,
        ..u.clone()
    }
}

fn bare_anchor(u: &AnchorUpdate) -> AnchorUpdate {
    AnchorUpdate {
        seq: None,
        r#ref: None,
        conflated: None,
        ..u.clone()
    }
}

impl KeyedState {
    /// Keys (corridors and anchors) the connection has been sent, count: the
    /// size of its per-key memory.
    pub fn keys(&self) -> usize {
        self.sent.len()
    }

    /// The ref of a key, assigning the next one the first time; stores `last`.
    fn remember(&mut self, kind: UpdateKind, key: &str, last: Last) -> (u32, Option<Last>) {
        if let Some(sent) = self.sent.get_mut(&(kind, key.into())) {
            let old = std::mem::replace(&mut sent.last, last);
            return (sent.r#ref, Some(old));
        }
        self.next_ref += 1;
        let r#ref = self.next_ref;
        self.sent.insert((kind, key.into()), Sent { r#ref, last });
        (r#ref, None)
    }

    /// The frame that brings the client from what it was last sent to `msg`
    /// (a full update with its `seq`): a delta when the key was sent before,
    /// else the full update with a newly assigned `ref`. Snapshots and other
    /// frames go out as they are. `conflated` flags the frame.
    pub fn outgoing(&mut self, msg: &ServerMessage, conflated: bool) -> ServerMessage {
        let flag = conflated.then_some(true);
        match msg {
            ServerMessage::CorridorUpdate(u) => {
                let seq = u.seq.unwrap_or_default();
                let new = bare_corridor(u);
                match self.remember(
                    UpdateKind::Corridor,
                    &u.corridor_key,
                    Last::Corridor(new.clone()),
                ) {
                    (r, Some(Last::Corridor(old))) => ServerMessage::CorridorDelta(CorridorDelta {
                        conflated: flag,
                        ..corridor_delta(&old, &new, r, seq)
                    }),
                    (r, _) => ServerMessage::CorridorUpdate(CorridorUpdate {
                        seq: u.seq,
                        r#ref: Some(r),
                        conflated: flag,
                        ..new
                    }),
                }
            }
            ServerMessage::AnchorUpdate(u) => {
                let seq = u.seq.unwrap_or_default();
                let new = bare_anchor(u);
                match self.remember(UpdateKind::Anchor, &u.anchor_id, Last::Anchor(new.clone())) {
                    (r, Some(Last::Anchor(old))) => ServerMessage::AnchorDelta(AnchorDelta {
                        conflated: flag,
                        ..anchor_delta(&old, &new, r, seq)
                    }),
                    (r, _) => ServerMessage::AnchorUpdate(AnchorUpdate {
                        seq: u.seq,
                        r#ref: Some(r),
                        conflated: flag,
                        ..new
                    }),
                }
            }
            ServerMessage::SnapshotUpdate(u) => {
                self.snapshot_id = Some(u.snapshot_id.clone());
                ServerMessage::SnapshotUpdate(SnapshotUpdate {
                    conflated: flag,
                    ..u.clone()
                })
            }
            other => other.clone(),
        }
    }

    /// The `state` answer to a `subscribe` whose topics gave `want`, as
    /// chunks of at most [`STATE_CHUNK`] records; remembers every record (and
    /// assigns refs) and that live updates `<= read.seq` of `want` are covered.
    pub fn answer(&mut self, read: StateRead, want: Want) -> Vec<ServerMessage> {
        let seq = read.seq;
        let mut chunks = vec![StateChunk {
            seq,
            corridors: Vec::new(),
            anchors: Vec::new(),
            snapshot: None,
            done: false,
        }];
        fn room(chunks: &mut Vec<StateChunk>, seq: u64) -> &mut StateChunk {
            let full = chunks.last().is_some_and(|c| {
                c.corridors.len() + c.anchors.len() + usize::from(c.snapshot.is_some())
                    >= STATE_CHUNK
            });
            if full {
                chunks.push(StateChunk {
                    seq,
                    corridors: Vec::new(),
                    anchors: Vec::new(),
                    snapshot: None,
                    done: false,
                });
            }
            chunks.last_mut().expect("at least one chunk")
        }
        for c in read.corridors {
            let (r, _) = self.remember(
                UpdateKind::Corridor,
                &c.corridor_key,
                Last::Corridor(bare_corridor(&c)),
            );
            room(&mut chunks, seq).corridors.push(CorridorUpdate {
                r#ref: Some(r),
                ..bare_corridor(&c)
            });
        }
        for a in read.anchors {
            let (r, _) = self.remember(
                UpdateKind::Anchor,
                &a.anchor_id,
                Last::Anchor(bare_anchor(&a)),
            );
            room(&mut chunks, seq).anchors.push(AnchorUpdate {
                r#ref: Some(r),
                ..bare_anchor(&a)
            });
        }
        if let Some(s) = read.snapshot {
            self.snapshot_id = Some(s.snapshot_id.clone());
            room(&mut chunks, seq).snapshot = Some(SnapshotUpdate {
                seq: None,
                conflated: None,
                ..s
            });
        }
        if let Some(last) = chunks.last_mut() {
            last.done = true;
        }
        self.cover(seq, want);
        chunks.into_iter().map(ServerMessage::State).collect()
    }

    /// Records that live updates `<= seq` of `want` are covered. Past
    /// [`MAX_COVERED`] pending answers (a client re-requesting state faster than
    /// updates flow), they merge into one with the lowest `seq` and the union of
    /// topics: fewer updates are suppressed, never more, and the client drops
    /// the extra ones by its per-key versions.
    fn cover(&mut self, seq: u64, want: Want) {
        self.covered.push((seq, want));
        if self.covered.len() > MAX_COVERED {
            let low = self.covered.iter().map(|(s, _)| *s).min().unwrap_or(seq);
            let mut all = Want::default();
            for (_, w) in self.covered.drain(..) {
                all.merge(w);
            }
            self.covered.push((low, all));
        }
    }

    /// Whether a live update (`kind`, `key`, `seq`) is already in a `state`
    /// answer this connection was sent (then it is not sent again). `delivered`
    /// is the connection's last delivered seq: answers it has passed are dropped.
    pub fn covers(&mut self, kind: UpdateKind, key: &str, seq: u64, delivered: u64) -> bool {
        self.covered.retain(|(s, _)| *s > delivered);
        self.covered
            .iter()
            .any(|(s, want)| seq <= *s && want.wants(kind, key))
    }

    /// The conflated catch-up after the connection fell behind: for each key of
    /// `read` whose value differs from what the connection was last sent (or
    /// that it was never sent), a full update or delta flagged `conflated`
    /// with the `seq` of the key's newest update (`read.seq` when the log no
    /// longer has it), in `seq` order; the latest snapshot when it is not the
    /// one last sent. Unchanged keys are not resent. Every pending coverage is
    /// settled (the catch-up covers every subscribed topic up to `read.seq`).
    pub fn conflate(&mut self, read: StateRead) -> Vec<ServerMessage> {
        let newest = |kind: UpdateKind, key: &str| {
            read.newest
                .get(&(kind, key.to_owned()))
                .copied()
                .unwrap_or(read.seq)
        };
        let mut out: Vec<(u64, ServerMessage)> = Vec::new();
        for c in &read.corridors {
            let changed = match self
                .sent
                .get(&(UpdateKind::Corridor, c.corridor_key.as_str().into()))
            {
                Some(Sent {
                    last: Last::Corridor(old),
                    ..
                }) => *old != bare_corridor(c),
                _ => true,
            };
            if changed {
                let seq = newest(UpdateKind::Corridor, &c.corridor_key);
                let full = ServerMessage::CorridorUpdate(CorridorUpdate {
                    seq: Some(seq),
                    ..bare_corridor(c)
                });
                out.push((seq, self.outgoing(&full, true)));
            }
        }
        for a in &read.anchors {
            let changed = match self
                .sent
                .get(&(UpdateKind::Anchor, a.anchor_id.as_str().into()))
            {
                Some(Sent {
                    last: Last::Anchor(old),
                    ..
                }) => *old != bare_anchor(a),
                _ => true,
            };
            if changed {
                let seq = newest(UpdateKind::Anchor, &a.anchor_id);
                let full = ServerMessage::AnchorUpdate(AnchorUpdate {
                    seq: Some(seq),
                    ..bare_anchor(a)
                });
                out.push((seq, self.outgoing(&full, true)));
            }
        }
        if let Some(s) = &read.snapshot {
            if self.snapshot_id.as_deref() != Some(&s.snapshot_id) {
                let seq = newest(UpdateKind::Snapshot, &s.snapshot_id);
                let full = ServerMessage::SnapshotUpdate(SnapshotUpdate {
                    seq: Some(seq),
                    ..s.clone()
                });
                out.push((seq, self.outgoing(&full, true)));
            }
        }
        self.covered.clear();
        out.sort_by_key(|(seq, _)| *seq);
        out.into_iter().map(|(_, m)| m).collect()
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
