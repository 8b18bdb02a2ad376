//! The client's view of a server frame: what routing needs, and a check that
//! the frame has the fields its type promises.
//!
//! The client does not build a [`crate::protocol::ServerMessage`]: JS gets the
//! frame through `JSON.parse`, so Rust only needs the type, `seq`, the key and
//! a few control fields. Reading those into one flat struct avoids serde's
//! buffering of internally tagged enums, which would roughly double the wasm
//! size. Update frames are still checked against the protocol's own structs,
//! so "well-formed" means exactly what [`crate::protocol`] says.

use crate::protocol::{AnchorUpdate, CorridorUpdate, SnapshotUpdate};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

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

/// A `timestamp`: an integer in ping/pong, an RFC 3339 string in snapshots.
#[derive(Debug, Clone, PartialEq)]
enum Stamp {
    Int(i64),
    Other,
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Stamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Stamp, E> {
                Ok(Stamp::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Stamp, E> {
                i64::try_from(v)
                    .map(Stamp::Int)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Stamp, E> {
                Ok(Stamp::Other)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Stamp, E> {
                Ok(Stamp::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    heartbeat_ms: Option<u64>,
    #[serde(default)]
    timestamp: Option<Stamp>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    corridor_key: Option<String>,
    #[serde(default)]
    anchor_id: Option<String>,
}

/// What the client needs to know about one server frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// The frame type (`None` only in `Default`).
    pub kind: Option<Kind>,
    /// `seq`: of an update, or the server's head in `connected`.
    pub seq: Option<u64>,
    /// `corridor_key` of a corridor update or `anchor_id` of an anchor update.
    pub key: Option<String>,
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

fn missing(kind: Kind, field: &str) -> FrameError {
    FrameError::Malformed(format!("{} frame without a valid {field}", kind.name()))
}

/// Read a server frame.
pub fn classify(text: &str) -> Result<Frame, FrameError> {
    let env: Envelope =
        serde_json::from_str(text).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let kind = Kind::from_name(&env.kind).ok_or(FrameError::Unknown(env.kind))?;
    let strict =
        |r: Result<(), serde_json::Error>| r.map_err(|e| FrameError::Malformed(e.to_string()));
    let mut key = None;
    match kind {
        Kind::Connected if env.connection_id.is_none() => {
            return Err(missing(kind, "connection_id"))
        }
        Kind::Ping | Kind::Pong if !matches!(env.timestamp, Some(Stamp::Int(_))) => {
            return Err(missing(kind, "integer timestamp"))
        }
        Kind::Error if env.message.is_none() => return Err(missing(kind, "message")),
        Kind::SnapshotUpdate => strict(serde_json::from_str::<SnapshotUpdate>(text).map(drop))?,
        Kind::CorridorUpdate => {
            strict(serde_json::from_str::<CorridorUpdate>(text).map(drop))?;
            key = env.corridor_key;
        }
        Kind::AnchorUpdate => {
            strict(serde_json::from_str::<AnchorUpdate>(text).map(drop))?;
            key = env.anchor_id;
        }
        _ => {}
    }
    Ok(Frame {
        kind: Some(kind),
        seq: env.seq,
        key,
        connection_id: env.connection_id,
        heartbeat_ms: env.heartbeat_ms,
        timestamp: match env.timestamp {
            Some(Stamp::Int(t)) => Some(t),
            _ => None,
        },
        message: env.message,
        code: env.code,
        reason: env.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerMessage;

    const SEED: &str = include_str!("../tests/data/seed-examples.json");

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
