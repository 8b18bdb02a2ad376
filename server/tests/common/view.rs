//! A state client's view, kept the way the protocol tells a client to: per key
//! the latest record and its version (the `S` of the `state` answer that
//! delivered it, or the `seq` of the update that last set it); an update or
//! delta applies only above the key's version; a delta is rebuilt from the
//! record of its `ref`. Fails on any frame the protocol does not allow on a
//! state connection, and on an update applied twice.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};
use stellar_insights_protocol::Kind;

/// Fields of a corridor record compared with REST.
pub const CORRIDOR_FIELDS: [&str; 4] = [
    "corridor_id",
    "success_rate",
    "volume_usd",
    "total_transactions",
];
/// Fields of an anchor record compared with REST.
pub const ANCHOR_FIELDS: [&str; 3] = ["name", "reliability_score", "status"];

#[derive(Default, Debug)]
pub struct View {
    /// corridor_key → (record, version).
    pub corridors: BTreeMap<String, (Value, u64)>,
    /// anchor_id → (record, version).
    pub anchors: BTreeMap<String, (Value, u64)>,
    /// ref → (true for a corridor, key).
    refs: HashMap<u64, (bool, String)>,
    applied: HashSet<(String, u64)>,
    /// Highest seq seen on an update or delta, or `S` of a state chunk.
    pub max_seq: u64,
    /// Frames flagged `conflated`.
    pub conflated: usize,
    /// Delta frames.
    pub deltas: usize,
    /// Full update frames.
    pub fulls: usize,
    /// `state` chunks (with `done` ones counted in `answers`).
    pub chunks: usize,
    pub answers: usize,
    /// Largest number of records in one chunk.
    pub largest_chunk: usize,
}

fn record_of(frame: &Value) -> Value {
    let mut r = frame.clone();
    let o = r.as_object_mut().unwrap();
    for k in ["type", "seq", "ref", "conflated"] {
        o.remove(k);
    }
    r
}

impl View {
    fn set(&mut self, corridor: bool, key: String, record: Value, version: u64, update: bool) {
        let map = if corridor {
            &mut self.corridors
        } else {
            &mut self.anchors
        };
        let current = map.get(&key).map_or(0, |(_, v)| *v);
        let fresh = if update {
            version > current
        } else {
            version >= current
        };
        if !fresh {
            return;
        }
        if update {
            assert!(
                self.applied.insert((key.clone(), version)),
                "{key}: update {version} applied twice"
            );
        }
        map.insert(key, (record, version));
    }

    /// Applies one frame; returns its `type`.
    pub fn apply(&mut self, f: &Value) -> String {
        let kind = f["type"].as_str().expect("type").to_owned();
        if f["conflated"] == true {
            self.conflated += 1;
        }
        match kind.as_str() {
            "state" => {
                let seq = f["seq"].as_u64().expect("state seq");
                self.max_seq = self.max_seq.max(seq);
                self.chunks += 1;
                if f["done"] == true {
                    self.answers += 1;
                }
                let (cs, as_) = (
                    f["corridors"].as_array().unwrap(),
                    f["anchors"].as_array().unwrap(),
                );
                self.largest_chunk = self
                    .largest_chunk
                    .max(cs.len() + as_.len() + usize::from(f.get("snapshot").is_some()));
                for c in cs {
                    assert!(c.get("seq").is_none(), "state records carry no seq: {c}");
                    let key = c["corridor_key"].as_str().unwrap().to_owned();
                    self.refs
                        .insert(c["ref"].as_u64().expect("ref"), (true, key.clone()));
                    self.set(true, key, record_of(c), seq, false);
                }
                for a in as_ {
                    let key = a["anchor_id"].as_str().unwrap().to_owned();
                    self.refs
                        .insert(a["ref"].as_u64().expect("ref"), (false, key.clone()));
                    self.set(false, key, record_of(a), seq, false);
                }
            }
            "corridor_update" | "anchor_update" => {
                let corridor = kind == "corridor_update";
                let seq = f["seq"].as_u64().expect("update seq");
                self.max_seq = self.max_seq.max(seq);
                self.fulls += 1;
                let key = f[if corridor {
                    "corridor_key"
                } else {
                    "anchor_id"
                }]
                .as_str()
                .unwrap()
                .to_owned();
                // A v1 frame (a `?since=` replay before the `subscribe … state`) has no ref.
                if let Some(r) = f["ref"].as_u64() {
                    self.refs.insert(r, (corridor, key.clone()));
                }
                self.set(corridor, key, record_of(f), seq, true);
            }
            "corridor_delta" | "anchor_delta" => {
                let seq = f["seq"].as_u64().expect("delta seq");
                self.max_seq = self.max_seq.max(seq);
                self.deltas += 1;
                let r = f["ref"].as_u64().expect("delta ref");
                let (corridor, key) = self.refs.get(&r).cloned().expect("delta of a known ref");
                assert_eq!(corridor, kind == "corridor_delta", "{f}");
                let map = if corridor {
                    &self.corridors
                } else {
                    &self.anchors
                };
                let (mut record, _) = map.get(&key).cloned().expect("base of a delta");
                // Changed fields come under their one-letter delta names only.
                let delta = Kind::from_name(&kind).unwrap();
                for (k, v) in record_of(f).as_object().unwrap() {
                    let field = delta
                        .delta_field(k)
                        .unwrap_or_else(|| panic!("`{k}` is no changed field of a delta: {f}"));
                    record[field.name()] = v.clone();
                }
                self.set(corridor, key, record, seq, true);
            }
            "snapshot_update" => {
                self.max_seq = self.max_seq.max(f["seq"].as_u64().unwrap_or(0));
            }
            "ping" | "pong" | "connected" => {}
            other => panic!("unexpected frame {other}: {f}"),
        }
        kind
    }

    /// The view as `{corridors: {key: {fields}}, anchors: {id: {fields}}}`.
    pub fn table(&self) -> Value {
        let pick = |r: &Value, fields: &[&str]| {
            Value::Object(
                fields
                    .iter()
                    .map(|k| ((*k).to_owned(), r[*k].clone()))
                    .collect(),
            )
        };
        json!({
            "corridors": self.corridors.iter().map(|(k, (r, _))| (k.clone(), pick(r, &CORRIDOR_FIELDS))).collect::<serde_json::Map<_, _>>(),
            "anchors": self.anchors.iter().map(|(k, (r, _))| (k.clone(), pick(r, &ANCHOR_FIELDS))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// The same table from `GET /api/corridors` and `GET /api/anchors` bodies.
pub fn rest_table(corridors: &Value, anchors: &Value) -> Value {
    let mut cs = serde_json::Map::new();
    for c in corridors.as_array().unwrap() {
        cs.insert(
            c["corridor_key"].as_str().unwrap().to_owned(),
            json!({"corridor_id": c["id"], "success_rate": c["success_rate"],
                   "volume_usd": c["volume_usd"], "total_transactions": c["total_transactions"]}),
        );
    }
    let mut as_ = serde_json::Map::new();
    for a in anchors.as_array().unwrap() {
        as_.insert(
            a["id"].as_str().unwrap().to_owned(),
            json!({"name": a["name"], "reliability_score": a["reliability_score"], "status": a["status"]}),
        );
    }
    json!({"corridors": cs, "anchors": as_})
}
