//! The client's view of a server frame: what routing needs, and a check that
//! the frame has the fields its type promises.
//!
//! The client does not build a [`crate::protocol::ServerMessage`]: JS gets the
//! frame through `JSON.parse`, so Rust only reads the type, `seq`, the key and
//! a few control fields, with the small [`crate::json`] reader. The field
//! checks mirror the protocol's types; a test keeps the two in agreement.

use crate::json::{self, Json};
use std::borrow::Cow;

/// Server frame types, in the order their filter bits use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `connected`
    Connected,
    /// `ping`
    Ping,
    /// `pong`
    Pong,
    /// `snapshot_update`
    SnapshotUpdate,
    /// `corridor_update`
    CorridorUpdate,
    /// `anchor_update`
    AnchorUpdate,
    /// `error`
    Error,
    /// `resync_required`
    ResyncRequired,
}

/// Every kind, in bit order.
pub const KINDS: [Kind; 8] = [
    Kind::Connected,
    Kind::Ping,
    Kind::Pong,
    Kind::SnapshotUpdate,
    Kind::CorridorUpdate,
    Kind::AnchorUpdate,
    Kind::Error,
    Kind::ResyncRequired,
];

impl Kind {
    /// The wire name (`"corridor_update"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Connected => "connected",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::SnapshotUpdate => "snapshot_update",
            Kind::CorridorUpdate => "corridor_update",
            Kind::AnchorUpdate => "anchor_update",
            Kind::Error => "error",
            Kind::ResyncRequired => "resync_required",
        }
    }

    /// The kind with wire name `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.name() == name)
    }

    /// This kind's bit in a filter mask.
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What the client needs to know about one server frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame<'a> {
    /// The frame type (`None` only in `Default`).
    pub kind: Option<Kind>,
    /// `seq`: of an update, or the server's head in `connected`.
    pub seq: Option<u64>,
    /// `corridor_key` of a corridor update or `anchor_id` of an anchor
    /// update; borrowed from the text unless it has escapes, so routing a
    /// frame allocates nothing.
    pub key: Option<Cow<'a, str>>,
    /// `connection_id` of `connected`.
    pub connection_id: Option<String>,
    /// `heartbeat_ms` of `connected`, ms.
    pub heartbeat_ms: Option<u64>,
    /// `timestamp` of `ping`/`pong`, integer.
    pub timestamp: Option<i64>,
    /// `message` of `error`.
    pub message: Option<String>,
    /// `code` of `error`.
    pub code: Option<String>,
    /// `reason` of `resync_required`.
    pub reason: Option<String>,
}

/// Why a frame is not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON, not an object, no string `type`, or a field missing or of the wrong type.
    Malformed(String),
    /// A `type` this client does not know (the name).
    Unknown(String),
}

/// How a field must look.
#[derive(Clone, Copy)]
enum Field {
    Str,
    U64,
    I64,
    Num,
    Bool,
    Status,
}

fn check(v: &Json, field: Field) -> bool {
    match field {
        Field::Str => v.as_str().is_some(),
        Field::U64 => v.as_u64().is_some(),
        Field::I64 => v.as_i64().is_some(),
        Field::Num => v.is_number(),
        Field::Bool => matches!(v, Json::Bool(_)),
        Field::Status => matches!(v.as_str(), Some("green" | "yellow" | "red")),
    }
}

type Fields = &'static [(usize, Field)];

// Slots of [`FIELDS`], so the checks below index instead of searching.
const TYPE: usize = 0;
const SEQ: usize = 1;
const CORRIDOR_KEY: usize = 2;
const ANCHOR_ID: usize = 3;
const CONNECTION_ID: usize = 4;
const PROTOCOL: usize = 5;
const HEARTBEAT_MS: usize = 6;
const RESUMED: usize = 7;
const TIMESTAMP: usize = 8;
const SNAPSHOT_ID: usize = 9;
const EPOCH: usize = 10;
const HASH: usize = 11;
const CORRIDOR_ID: usize = 12;
const SUCCESS_RATE: usize = 13;
const VOLUME_USD: usize = 14;
const TOTAL_TRANSACTIONS: usize = 15;
const NAME: usize = 16;
const RELIABILITY_SCORE: usize = 17;
const STATUS: usize = 18;
const MESSAGE: usize = 19;
const CODE: usize = 20;
const REASON: usize = 21;

/// Required fields of each kind, then optional ones (absent or `null` allowed),
/// as in [`crate::protocol`].
fn schema(kind: Kind) -> (Fields, Fields) {
    use Field::*;
    match kind {
        Kind::Connected => (
            &[(CONNECTION_ID, Str)],
            &[
                (PROTOCOL, U64),
                (HEARTBEAT_MS, U64),
                (SEQ, U64),
                (RESUMED, Bool),
            ],
        ),
        Kind::Ping | Kind::Pong => (&[(TIMESTAMP, I64)], &[]),
        Kind::SnapshotUpdate => (
            &[
                (SNAPSHOT_ID, Str),
                (EPOCH, U64),
                (TIMESTAMP, Str),
                (HASH, Str),
            ],
            &[(SEQ, U64)],
        ),
        Kind::CorridorUpdate => (
            &[
                (CORRIDOR_ID, Str),
                (CORRIDOR_KEY, Str),
                (SUCCESS_RATE, Num),
                (VOLUME_USD, Num),
                (TOTAL_TRANSACTIONS, U64),
            ],
            &[(SEQ, U64)],
        ),
        Kind::AnchorUpdate => (
            &[
                (ANCHOR_ID, Str),
                (NAME, Str),
                (RELIABILITY_SCORE, Num),
                (STATUS, Status),
            ],
            &[(SEQ, U64)],
        ),
        Kind::Error => (&[(MESSAGE, Str)], &[(CODE, Str)]),
        Kind::ResyncRequired => (&[], &[(REASON, Str)]),
    }
}

fn malformed(kind: Kind, field: usize) -> FrameError {
    FrameError::Malformed(crate::text::cat(&[
        kind.name(),
        " frame with a missing or invalid `",
        FIELDS[field],
        "`",
    ]))
}

/// Every top-level member [`classify`] reads, at the slot of its constant
/// above; any other member is skipped.
const FIELDS: [&str; 22] = [
    "type",
    "seq",
    "corridor_key",
    "anchor_id",
    "connection_id",
    "protocol",
    "heartbeat_ms",
    "resumed",
    "timestamp",
    "snapshot_id",
    "epoch",
    "hash",
    "corridor_id",
    "success_rate",
    "volume_usd",
    "total_transactions",
    "name",
    "reliability_score",
    "status",
    "message",
    "code",
    "reason",
];

/// The slot of `name` in [`FIELDS`]. Runs for every top-level member of
/// every frame: no two fields share their length and first byte (a test
/// checks), so that pair finds the one candidate and a single comparison
/// confirms it.
fn slot(name: &str) -> Option<usize> {
    let first = *name.as_bytes().first()?;
    let i = FIELDS
        .iter()
        .position(|f| f.len() == name.len() && f.as_bytes().first() == Some(&first))?;
    (FIELDS[i] == name).then_some(i)
}

/// Read a server frame.
///
/// One pass over the text: the whole of it is checked as JSON, but only the
/// top-level members it reads (22 names) are kept, in fixed slots, so no tree is
/// built; most frames are filtered out unread by JS, and this runs for each.
pub fn classify(text: &str) -> Result<Frame<'_>, FrameError> {
    let mut slots: [Option<Json>; FIELDS.len()] = [const { None }; FIELDS.len()];
    let object = json::members(text, |key, value| {
        // A repeated key keeps the last value, as `JSON.parse` does.
        if let Some(i) = slot(&key) {
            slots[i] = Some(value);
        }
    })
    .map_err(|e| FrameError::Malformed(crate::text::cat(&["not JSON: ", &e.message()])))?;
    let get = |i: usize| slots[i].as_ref();
    let name = match (object, get(TYPE)) {
        (true, Some(Json::Str(name))) => name,
        _ => {
            return Err(FrameError::Malformed(
                "not a JSON object with a string `type`".into(),
            ))
        }
    };
    let kind = Kind::from_name(name).ok_or_else(|| FrameError::Unknown(String::from(&**name)))?;
    let (required, optional) = schema(kind);
    for &(field, shape) in required {
        if !get(field).is_some_and(|f| check(f, shape)) {
            return Err(malformed(kind, field));
        }
    }
    for &(field, shape) in optional {
        if !get(field).is_none_or(|f| matches!(f, Json::Null) || check(f, shape)) {
            return Err(malformed(kind, field));
        }
    }
    let string = |i: usize| get(i).and_then(Json::as_str).map(str::to_owned);
    let seq = get(SEQ).and_then(Json::as_u64);
    let (connection_id, heartbeat_ms) = (
        string(CONNECTION_ID),
        get(HEARTBEAT_MS).and_then(Json::as_u64),
    );
    let timestamp = get(TIMESTAMP).and_then(Json::as_i64);
    let (message, code, reason) = (string(MESSAGE), string(CODE), string(REASON));
    let key = match kind {
        Kind::CorridorUpdate => slots[CORRIDOR_KEY].take(),
        Kind::AnchorUpdate => slots[ANCHOR_ID].take(),
        _ => None,
    };
    Ok(Frame {
        kind: Some(kind),
        seq,
        key: match key {
            Some(Json::Str(key)) => Some(key),
            _ => None,
        },
        connection_id,
        heartbeat_ms,
        timestamp,
        message,
        code,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerMessage;

    const SEED: &str = include_str!("../../protocol/seed-examples.json");

    #[test]
    fn agrees_with_the_protocol_on_every_seed_example() {
        let examples: Vec<serde_json::Value> = serde_json::from_str(SEED).unwrap();
        for example in examples {
            let text = example.to_string();
            let full = ServerMessage::from_json(&text).unwrap();
            let frame = classify(&text).unwrap();
            assert_eq!(frame.kind.unwrap().name(), full.type_name());
            assert_eq!(frame.seq, full.seq());
        }
    }

    #[test]
    fn field_slots_are_unique_by_length_and_first_byte_and_match_their_constants() {
        for (i, a) in FIELDS.iter().enumerate() {
            assert_eq!(slot(a), Some(i), "{a}");
            for b in &FIELDS[i + 1..] {
                assert!(
                    (a.len(), a.as_bytes()[0]) != (b.len(), b.as_bytes()[0]),
                    "{a} and {b} share length and first byte"
                );
            }
        }
        let named = [
            (TYPE, "type"),
            (SEQ, "seq"),
            (CORRIDOR_KEY, "corridor_key"),
            (ANCHOR_ID, "anchor_id"),
            (CONNECTION_ID, "connection_id"),
            (PROTOCOL, "protocol"),
            (HEARTBEAT_MS, "heartbeat_ms"),
            (RESUMED, "resumed"),
            (TIMESTAMP, "timestamp"),
            (SNAPSHOT_ID, "snapshot_id"),
            (EPOCH, "epoch"),
            (HASH, "hash"),
            (CORRIDOR_ID, "corridor_id"),
            (SUCCESS_RATE, "success_rate"),
            (VOLUME_USD, "volume_usd"),
            (TOTAL_TRANSACTIONS, "total_transactions"),
            (NAME, "name"),
            (RELIABILITY_SCORE, "reliability_score"),
            (STATUS, "status"),
            (MESSAGE, "message"),
            (CODE, "code"),
            (REASON, "reason"),
        ];
        for (i, name) in named {
            assert_eq!(FIELDS[i], name);
        }
        assert_eq!(slot("typf"), None);
        assert_eq!(slot("corridor_kex"), None);
        assert_eq!(slot(""), None);
    }

    #[test]
    fn routing_fields_are_read() {
        let f = classify(r#"{"type":"corridor_update","corridor_id":"i","corridor_key":"A:B->C:D","success_rate":1,"volume_usd":2,"total_transactions":3,"seq":7}"#).unwrap();
        assert_eq!(
            (f.kind, f.seq, f.key.as_deref()),
            (Some(Kind::CorridorUpdate), Some(7), Some("A:B->C:D"))
        );
        let f = classify(r#"{"type":"anchor_update","anchor_id":"x","name":"n","reliability_score":1,"status":"red"}"#).unwrap();
        assert_eq!(
            (f.kind, f.seq, f.key.as_deref()),
            (Some(Kind::AnchorUpdate), None, Some("x"))
        );
        let f = classify(r#"{"type":"ping","timestamp":-5}"#).unwrap();
        assert_eq!(f.timestamp, Some(-5));
    }

    #[test]
    fn rejects_what_the_protocol_rejects() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"no_type":1}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"ping","timestamp":"soon"}"#,
            r#"{"type":"connected"}"#,
            r#"{"type":"error"}"#,
            r#"{"type":"corridor_update","corridor_key":"A","seq":1}"#,
            r#"{"type":"anchor_update","anchor_id":"a","name":"n","reliability_score":1,"status":"blue"}"#,
            r#"{"type":"snapshot_update","seq":"1"}"#,
            r#"{"type":"snapshot_update","snapshot_id":"s","epoch":-1,"timestamp":"t","hash":"h"}"#,
            r#"{"type":"connected","connection_id":"c","seq":1.5}"#,
            r#"{"type":"resync_required","reason":7}"#,
            r#"{"type":7}"#,
        ] {
            assert!(
                matches!(classify(bad), Err(FrameError::Malformed(_))),
                "{bad:?}"
            );
            assert!(
                ServerMessage::from_json(bad).is_err(),
                "protocol accepts {bad:?}"
            );
        }
    }

    #[test]
    fn accepts_what_the_protocol_accepts() {
        for good in [
            r#"{"type":"connected","connection_id":"c","seq":null,"extra":[1,{"a":2}]}"#,
            r#"{"type":"snapshot_update","snapshot_id":"s","epoch":1,"timestamp":"t","hash":"h","seq":3}"#,
            r#"{"type":"corridor_update","corridor_id":"i","corridor_key":"k","success_rate":1e2,"volume_usd":-0.5,"total_transactions":0}"#,
            r#"{"type":"error","message":"m","code":null}"#,
            r#"{"type":"resync_required"}"#,
            r#"{"type":"pong","timestamp":0}"#,
        ] {
            assert!(classify(good).is_ok(), "{good}");
            assert!(
                ServerMessage::from_json(good).is_ok(),
                "protocol rejects {good}"
            );
        }
    }

    #[test]
    fn invalid_json_inside_an_unread_member_is_still_malformed() {
        for bad in [
            r#"{"type":"anchor_update","anchor_id":"x","name":"n","reliability_score":1,"status":"red","extra":{"a":[1,}]}"#,
            r#"{"type":"ping","timestamp":1,"meta":"\q"}"#,
            r#"{"type":"ping","timestamp":1} trailing"#,
        ] {
            assert!(
                matches!(classify(bad), Err(FrameError::Malformed(why)) if why.starts_with("not JSON")),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_repeated_routing_key_routes_on_the_last_value_like_json_parse() {
        let f = classify(r#"{"type":"anchor_update","anchor_id":"first","name":"n","reliability_score":1,"status":"red","anchor_id":"last"}"#).unwrap();
        assert_eq!(f.key.as_deref(), Some("last"));
        assert_eq!(
            classify(r#"{"type":"ping","timestamp":1,"type":"nope"}"#),
            Err(FrameError::Unknown("nope".into()))
        );
    }

    #[test]
    fn unknown_type_is_named() {
        assert_eq!(
            classify(r#"{"type":"market_update","price":1}"#),
            Err(FrameError::Unknown("market_update".into()))
        );
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in KINDS {
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        assert_eq!(Kind::from_name("unknown"), None);
    }
}

// proptest is a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "frame_props.rs"]
mod props;
