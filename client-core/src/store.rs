//! The keyed state of a state connection: the latest record per corridor and
//! anchor (and the latest snapshot), each with its version.
//!
//! A key's version is the `seq` of the update that last set it, or the `S` of
//! the `state` answer that delivered it. A state record, a full update or a
//! field delta is applied only when its `seq` (or `S`) is greater than the
//! key's version, so replays after a resume, state re-requests and conflated
//! frames are idempotent and no key ever goes back in time. Deltas name their
//! key by a connection-local `ref`; the store keeps `ref → key` for the
//! current connection and turns an applicable delta into the complete
//! `corridor_update` / `anchor_update` text (the delta's one-letter members
//! under the update's names) before anything else sees it.
//!
//! Records are kept as their members' JSON source text, so values (numbers
//! included) reach JS exactly as the server wrote them, and no JSON writer is
//! needed in the wasm module. Memory is bounded by keys: the machine drops
//! the keys no subscriber covers ([`Store::retain`]).

use crate::json::{self, Json, Top};
use crate::protocol::schema::{Field, Kind};
use crate::text::{cat, uint};

/// One of the store's maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Map {
    /// Corridors by `corridor_key`.
    Corridors = 0,
    /// Anchors by `anchor_id`.
    Anchors = 1,
    /// The latest snapshot (one record, key `""`).
    Snapshot = 2,
}

impl Map {
    /// Every map, in the order of their index.
    pub const ALL: [Map; 3] = [Map::Corridors, Map::Anchors, Map::Snapshot];

    /// The map a full update of `kind` belongs to.
    pub fn of_update(kind: Kind) -> Option<Map> {
        match kind {
            Kind::CorridorUpdate => Some(Map::Corridors),
            Kind::AnchorUpdate => Some(Map::Anchors),
            Kind::SnapshotUpdate => Some(Map::Snapshot),
            _ => None,
        }
    }

    /// The update kind whose records this map holds.
    pub fn update_kind(self) -> Kind {
        match self {
            Map::Corridors => Kind::CorridorUpdate,
            Map::Anchors => Kind::AnchorUpdate,
            Map::Snapshot => Kind::SnapshotUpdate,
        }
    }

    /// The record field holding the key (`None` for the snapshot).
    pub fn key_field(self) -> Option<Field> {
        self.update_kind().key()
    }

    /// The member naming this map in `state` frames and in [`Store::to_json`]:
    /// `corridors`, `anchors`, `snapshot`.
    pub fn member(self) -> &'static str {
        match self {
            Map::Corridors => "corridors",
            Map::Anchors => "anchors",
            Map::Snapshot => "snapshot",
        }
    }
}

/// Why a frame or record could not be applied. Nothing already in the store
/// is changed by a frame that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Not JSON, or a member without the shape the store needs; the text says which.
    Malformed(String),
    /// A delta whose `ref` this connection never bound (e.g. after a reset):
    /// the client must ask for the map's state again.
    UnknownRef(Map, u32),
}

impl StoreError {
    /// The error as reported to the app.
    pub fn message(&self) -> String {
        match self {
            StoreError::Malformed(why) => why.clone(),
            StoreError::UnknownRef(map, r) => cat(&[
                "ignored a delta for unknown ref ",
                &uint((*r).into()),
                " (",
                map.member(),
                "); asking the server for their state again",
            ]),
        }
    }
}

/// A delta completed into the full update frame callbacks receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The key (`corridor_key` / `anchor_id`).
    pub key: String,
    /// The delta's `seq`, now the key's version.
    pub seq: u64,
    /// The complete `corridor_update` / `anchor_update` JSON text (with
    /// `"conflated":true` when the delta had it).
    pub text: String,
}

/// What one `state` frame did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateChunk {
    /// The answer's `S`.
    pub seq: u64,
    /// Whether this was the answer's last chunk.
    pub done: bool,
    /// Records applied (newer than the key's version), count.
    pub applied: usize,
    /// Records that could not be read (skipped; the others were applied).
    pub errors: Vec<StoreError>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    /// The key's JSON string literal as the server wrote it (`""` for the snapshot).
    key_raw: String,
    version: u64,
    /// The key's `ref` on the current connection.
    reference: Option<u32>,
    /// Name and JSON source text of each member but `type`, `seq`, `ref`, `conflated`.
    members: Vec<(String, String)>,
}

/// The latest record per key of each [`Map`], with versions and the
/// connection's `ref` bindings.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Per map, sorted by key (a `Vec`: see `clippy.toml` on maps in the
    /// client). A delta finds its key's `ref` by a linear scan: bounded by
    /// keys, and smaller in the wasm than a second index.
    maps: [Vec<Entry>; 3],
    revision: u64,
    /// Whether a complete `state` answer has been applied since the store was made or cleared.
    synced: bool,
}

/// Members a record keeps from a frame (the rest describe the frame).
fn kept(name: &str) -> bool {
    !matches!(name, "type" | "seq" | "ref" | "conflated")
}

fn malformed(what: &str, why: &str) -> StoreError {
    StoreError::Malformed(cat(&[what, ": ", why]))
}

/// A parsed record or frame: its members and the fields the store reads.
struct Read<'a> {
    members: Vec<(String, String)>,
    key: Option<(String, &'a str)>,
    seq: Option<u64>,
    reference: Option<u32>,
    conflated: bool,
}

fn not_json(what: &str, e: json::JsonError) -> StoreError {
    malformed(what, &cat(&["not JSON: ", &e.message()]))
}

fn read<'a>(text: &'a str, map: Map, what: &str) -> Result<Read<'a>, StoreError> {
    let key_name = map.key_field().map(Field::name);
    let mut out = Read {
        members: Vec::new(),
        key: None,
        seq: None,
        reference: None,
        conflated: false,
    };
    let top = json::entries(text, &mut |name, value, raw| {
        let Some(name) = name else { return };
        match &*name {
            "seq" => out.seq = value.as_u64(),
            "ref" => out.reference = value.as_u64().and_then(|r| u32::try_from(r).ok()),
            "conflated" => out.conflated = matches!(value, Json::Bool(true)),
            n if Some(n) == key_name => {
                if let Some(key) = value.as_str() {
                    out.key = Some((String::from(key), raw));
                }
            }
            _ => {}
        }
        // A repeated name is kept twice; `JSON.parse` of the record then
        // takes the last, as it did of the frame.
        if kept(&name) {
            out.members.push((name.into_owned(), String::from(raw)));
        }
    })
    .map_err(|e| not_json(what, e))?;
    if top != Top::Object {
        return Err(malformed(what, "not a JSON object"));
    }
    if map == Map::Snapshot {
        out.key = Some((String::new(), "\"\""));
    }
    Ok(out)
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Bumped by every change of a record or of the set of keys; unit-less.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Keys in `map`, count.
    pub fn len(&self, map: Map) -> usize {
        self.maps[map as usize].len()
    }

    /// Whether every map is empty.
    pub fn is_empty(&self) -> bool {
        self.maps.iter().all(Vec::is_empty)
    }

    /// `ref` bindings of the current connection, count.
    pub fn refs(&self) -> usize {
        let mut n = 0;
        for entries in &self.maps {
            n += entries.iter().filter(|e| e.reference.is_some()).count();
        }
        n
    }

    /// The version of `key` in `map` (`None` when absent).
    pub fn version(&self, map: Map, key: &str) -> Option<u64> {
        self.find(map, key)
            .ok()
            .map(|i| self.maps[map as usize][i].version)
    }

    fn find(&self, map: Map, key: &str) -> Result<usize, usize> {
        self.maps[map as usize].binary_search_by(|e| e.key.as_str().cmp(key))
    }

    /// A new connection: its `ref`s start afresh (records and versions stay).
    pub fn new_connection(&mut self) {
        for entries in &mut self.maps {
            for e in entries {
                e.reference = None;
            }
        }
    }

    /// Forget everything (records, versions, refs).
    pub fn clear(&mut self) {
        if !self.is_empty() {
            self.revision += 1;
        }
        self.maps = Default::default();
        self.synced = false;
    }

    /// Keep only the keys for which `keep(map, key)` is true (with their refs).
    pub fn retain(&mut self, mut keep: impl FnMut(Map, &str) -> bool) {
        let mut removed = false;
        for map in Map::ALL {
            let entries = &mut self.maps[map as usize];
            let before = entries.len();
            entries.retain(|e| keep(map, &e.key));
            removed |= entries.len() != before;
        }
        if removed {
            self.revision += 1;
        }
    }

    /// Set `key` to `members` at `version` unless its version is already at
    /// least that; whether it was set.
    /// A `ref` given is bound to the key even when the record is stale (the
    /// server's deltas name the key by it from now on); a `ref` that named
    /// another key of the map before is unbound there.
    fn put(&mut self, map: Map, r: Read<'_>, version: Option<u64>) -> bool {
        let Read {
            members,
            key,
            reference,
            ..
        } = r;
        let Some((key, key_raw)) = key else {
            return false;
        };
        let entries = &mut self.maps[map as usize];
        if reference.is_some() {
            for e in entries.iter_mut() {
                if e.reference == reference {
                    e.reference = None;
                }
            }
        }
        match entries.binary_search_by(|e| e.key.as_str().cmp(&key)) {
            Ok(i) => {
                let entry = &mut entries[i];
                entry.reference = reference.or(entry.reference);
                // An update without `seq` (not from our server) always applies.
                if version.is_some_and(|v| v <= entry.version) {
                    return false;
                }
                entry.version = version.unwrap_or(entry.version);
                entry.members = members;
            }
            Err(i) => entries.insert(
                i,
                Entry {
                    key,
                    key_raw: String::from(key_raw),
                    version: version.unwrap_or(0),
                    reference,
                    members,
                },
            ),
        }
        self.revision += 1;
        true
    }

    /// Apply a full `corridor_update` / `anchor_update` / `snapshot_update`
    /// frame of `map`: binds its `ref` if it has one and sets the record when
    /// its `seq` is newer than the key's version. `Ok(true)` when applied
    /// (deliver it), `Ok(false)` when stale (do not).
    pub fn update(&mut self, map: Map, text: &str) -> Result<bool, StoreError> {
        let r = read(text, map, map.update_kind().name())?;
        if r.key.is_none() {
            // Unroutable: delivered as it came (the frame reader reports it),
            // not kept.
            return Ok(true);
        }
        let seq = r.seq;
        Ok(self.put(map, r, seq))
    }

    /// Apply a `corridor_delta` / `anchor_delta` frame of `map`. `Ok(Some(_))`:
    /// applied, with the complete update frame to deliver; `Ok(None)`:
    /// stale (the key is already at or past its `seq`); an unknown `ref` is
    /// [`StoreError::UnknownRef`] and changes nothing.
    /// The delta's one-letter members (`r`, `v`, `n`, `s`) set the update's
    /// fields that [`Kind::delta_field`] names; any other member is kept
    /// under its own name, as in a full update.
    pub fn delta(&mut self, map: Map, text: &str) -> Result<Option<Rebuilt>, StoreError> {
        let kind = match map {
            Map::Corridors => Kind::CorridorDelta,
            _ => Kind::AnchorDelta,
        };
        let what = kind.name();
        let r = read(text, map, what)?;
        let (Some(reference), Some(seq)) = (r.reference, r.seq) else {
            return Err(malformed(what, "needs an integer `ref` and `seq`"));
        };
        let Some(entry) = self.maps[map as usize]
            .iter_mut()
            .find(|e| e.reference == Some(reference))
        else {
            return Err(StoreError::UnknownRef(map, reference));
        };
        if seq <= entry.version {
            return Ok(None);
        }
        for (name, raw) in r.members {
            let name = match kind.delta_field(&name) {
                Some(field) => String::from(field.name()),
                None => name,
            };
            // The key is the record's own; a delta never moves it.
            if Some(name.as_str()) == map.key_field().map(Field::name) {
                continue;
            }
            match entry.members.iter_mut().find(|(n, _)| *n == name) {
                Some(member) => member.1 = raw,
                None => entry.members.push((name, raw)),
            }
        }
        entry.version = seq;
        self.revision += 1;
        Ok(Some(Rebuilt {
            key: entry.key.clone(),
            seq,
            text: frame_text(map, entry, r.conflated),
        }))
    }

    /// Apply one `state` frame: every record of every map it carries, each
    /// only when `S` is newer than the key's version. Records that cannot be
    /// read are skipped and reported in [`StateChunk::errors`]; a frame that
    /// is not an object with an integer `seq` is an error and changes nothing.
    pub fn state(&mut self, text: &str) -> Result<StateChunk, StoreError> {
        let mut chunk = StateChunk::default();
        let mut seq = None;
        let mut lists: Vec<(Map, &str, Top)> = Vec::new();
        let top = json::entries(text, &mut |name, value, raw| match name.as_deref() {
            Some("seq") => seq = value.as_u64(),
            Some("done") => chunk.done = matches!(value, Json::Bool(true)),
            Some(n) => {
                if let Some(map) = Map::ALL.into_iter().find(|m| m.member() == n) {
                    let shape = match value {
                        Json::Arr(_) => Top::Array,
                        Json::Obj(_) => Top::Object,
                        _ => Top::Scalar,
                    };
                    lists.push((map, raw, shape));
                }
            }
            None => {}
        })
        .map_err(|e| not_json("state", e))?;
        if top != Top::Object {
            return Err(malformed("state", "not a JSON object"));
        }
        chunk.seq = seq.ok_or_else(|| malformed("state", "needs an integer `seq`"))?;
        if chunk.done && !self.synced {
            self.synced = true;
            self.revision += 1;
        }
        for (map, raw, shape) in lists {
            let mut items = Vec::new();
            match (map, shape) {
                (Map::Snapshot, Top::Object) => items.push(raw),
                (Map::Snapshot, _) => {} // absent or null: no snapshot
                (_, Top::Array) => {
                    // Checked as JSON with the frame already.
                    let _ = json::entries(raw, &mut |_, _, item| items.push(item));
                }
                _ => chunk.errors.push(malformed(
                    "state",
                    &cat(&["`", map.member(), "` is not an array"]),
                )),
            }
            for item in items {
                match read(item, map, "state record") {
                    Ok(r) if r.key.is_some() => {
                        if self.put(map, r, Some(chunk.seq)) {
                            chunk.applied += 1;
                        }
                    }
                    Ok(_) => chunk.errors.push(malformed(
                        "state record",
                        &cat(&[
                            "a ",
                            map.member(),
                            " record without a string `",
                            map.key_field().map_or("", Field::name),
                            "` was skipped",
                        ]),
                    )),
                    Err(e) => chunk.errors.push(e),
                }
            }
        }
        Ok(chunk)
    }

    /// The complete update frame of `key` in `map` as callbacks receive it
    /// (`seq` = the key's version).
    pub fn text(&self, map: Map, key: &str) -> Option<String> {
        let i = self.find(map, key).ok()?;
        Some(frame_text(map, &self.maps[map as usize][i], false))
    }

    /// Whether a complete `state` answer has been applied (since [`Store::clear`]).
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// The whole state as one JSON object for JS:
    /// `{"corridors":{<key>:<corridor_update>},"anchors":{<id>:<anchor_update>},"snapshot":<snapshot_update>|null,"synced":<bool>}`,
    /// each record a complete update frame whose `seq` is the key's version;
    /// `synced`: a complete state answer has arrived (so empty maps mean none).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for map in Map::ALL {
            if map != Map::Corridors {
                out.push(',');
            }
            out.push('"');
            out.push_str(map.member());
            out.push_str("\":");
            let entries = &self.maps[map as usize];
            if map == Map::Snapshot {
                match entries.first() {
                    Some(e) => out.push_str(&frame_text(map, e, false)),
                    None => out.push_str("null"),
                }
                continue;
            }
            out.push('{');
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&e.key_raw);
                out.push(':');
                out.push_str(&frame_text(map, e, false));
            }
            out.push('}');
        }
        out.push_str(if self.synced {
            r#","synced":true}"#
        } else {
            r#","synced":false}"#
        });
        out
    }
}

/// `{"type":"<kind>",<members>,"seq":<version>[,"conflated":true]}`.
fn frame_text(map: Map, entry: &Entry, conflated: bool) -> String {
    let mut out = cat(&[r#"{"type":""#, map.update_kind().name(), "\""]);
    for (name, raw) in &entry.members {
        out.push_str(",\"");
        crate::outgoing::push_escaped(&mut out, name);
        out.push_str("\":");
        out.push_str(raw);
    }
    out.push_str(",\"seq\":");
    out.push_str(&uint(entry.version));
    if conflated {
        out.push_str(",\"conflated\":true");
    }
    out.push('}');
    out
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

// proptest is a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "store_props.rs"]
mod props;
