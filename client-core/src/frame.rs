//! The client's view of a server frame: what routing needs, and how the
//! frame compares with protocol v1.
//!
//! The client does not build a [`crate::protocol::ServerMessage`]: JS gets the
//! frame through `JSON.parse`, so Rust only reads the type, `seq`, the key and
//! a few control fields, with the small [`crate::json`] reader. Kinds, field
//! names, shapes and required fields all come from the protocol crate's
//! [`schema`](crate::protocol::schema), the one definition the server's serde
//! types are tested against.
//!
//! Liberal in what it accepts: a frame needs only a known `type`. A frame of
//! a known type with fields missing, of the wrong shape or not in the
//! protocol is still delivered as it came; [`Frame::mismatch`] says how it
//! differs, for one warning per type and field (see the machine).

use crate::json::{self, Json};
pub use crate::protocol::schema::{Field, FieldSet, Kind, Shape};
use crate::protocol::ResyncReason;
use std::borrow::Cow;

/// How a frame of a known type differs from protocol v1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mismatch {
    /// Fields of the kind that are required but absent, or present with the
    /// wrong shape (an optional field only when not absent or `null`).
    pub bad: FieldSet,
    /// Protocol fields that this kind does not carry.
    pub extra: FieldSet,
    /// Members whose names are in no protocol frame, in order of appearance
    /// (empty for every frame our server sends, so nothing is allocated).
    pub unknown: Vec<String>,
}

impl Mismatch {
    /// Whether the frame matches the protocol exactly.
    pub fn is_empty(&self) -> bool {
        self.bad == 0 && self.extra == 0 && self.unknown.is_empty()
    }
}

/// What the client needs to know about one server frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'a> {
    /// The frame type.
    pub kind: Kind,
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
    /// `code` of `error`, as it came (the known values are
    /// [`ErrorCode`](crate::protocol::ErrorCode)'s; the client only reports it,
    /// so it does not parse it).
    pub code: Option<String>,
    /// `reason` of `resync_required`.
    pub reason: Option<ResyncReason>,
    /// How the frame differs from the protocol (empty when it matches).
    pub mismatch: Mismatch,
}

/// Why a frame is not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not JSON, not an object, or no string `type`.
    Malformed(String),
    /// A `type` this client does not know (the name).
    Unknown(String),
}

/// Whether `v` has the shape the protocol gives a field.
pub fn fits(v: &Json, shape: Shape) -> bool {
    match shape {
        Shape::Str => v.as_str().is_some(),
        Shape::U64 => v.as_u64().is_some(),
        Shape::U32 => v.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)),
        Shape::I64 => v.as_i64().is_some(),
        Shape::Num => v.is_number(),
        Shape::Bool => matches!(v, Json::Bool(_)),
        Shape::Status => matches!(v.as_str(), Some("green" | "yellow" | "red")),
        Shape::Array => matches!(v, Json::Arr(_)),
        Shape::Object => matches!(v, Json::Obj(_)),
    }
}

/// [`Kind::field_set`] of every kind, computed once at compile time.
const FIELD_SETS: [FieldSet; Kind::ALL.len()] = {
    let mut sets = [0; Kind::ALL.len()];
    let mut i = 0;
    while i < Kind::ALL.len() {
        sets[i] = Kind::ALL[i].field_set();
        i += 1;
    }
    sets
};

/// What routing needs of an update frame, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix<'a> {
    /// `snapshot_update`, `corridor_update` or `anchor_update`.
    pub kind: Kind,
    /// The update's `seq`.
    pub seq: u64,
    /// `corridor_key` / `anchor_id` (none for snapshots), without escapes.
    pub key: Option<&'a str>,
}

/// Route an update from the start of its text, when it begins the way the
/// server writes one: `{"type":"<update kind>","seq":<digits>` and, for a
/// keyed kind, `,"<key field>":"<key>"` with no escape in the key. Anything
/// else (another order, spaces, escapes, other kinds, a `seq` that is not a
/// plain `u64`) gives `None`: the caller reads the whole frame with
/// [`classify`]. Only the prefix is looked at; the rest of the text is not
/// checked here (see `Machine::named_update` for when that is trusted).
/// The browser glue reads the same prefix in JS (`src/browser/socket.rs`),
/// except that it also declines a `seq` of more than 15 digits (a JS number
/// holds those exactly) and does not look for control characters in the
/// key (a frame with one is not JSON, and `JSON.parse` reports it).
pub fn prefix(text: &str) -> Option<Prefix<'_>> {
    let rest = text.strip_prefix("{\"type\":\"")?;
    let mut found = None;
    for kind in [
        Kind::CorridorUpdate,
        Kind::AnchorUpdate,
        Kind::SnapshotUpdate,
    ] {
        if let Some(after) = rest
            .strip_prefix(kind.name())
            .and_then(|r| r.strip_prefix("\",\"seq\":"))
        {
            found = Some((kind, after));
        }
    }
    let (kind, rest) = found?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    // JSON has no leading zeros.
    if digits == 0 || (digits > 1 && rest.starts_with('0')) {
        return None;
    }
    let (number, rest) = (rest.get(..digits)?, rest.get(digits..)?);
    let mut seq: u64 = 0;
    for b in number.bytes() {
        seq = seq.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    let key = match kind.key() {
        None if rest.starts_with([',', '}']) => None,
        None => return None,
        Some(field) => {
            let rest = rest
                .strip_prefix(",\"")?
                .strip_prefix(field.name())?
                .strip_prefix("\":\"")?;
            let end = rest.find(|c: char| c == '"' || c == '\\' || c < ' ')?;
            if rest.as_bytes().get(end) != Some(&b'"') {
                return None;
            }
            Some(rest.get(..end)?)
        }
    };
    Some(Prefix { kind, seq, key })
}

/// Read a server frame.
///
/// One pass over the text: the whole of it is checked as JSON (so `JSON.parse`
/// of it cannot fail later), but only the top-level members named in the
/// protocol are kept, in fixed slots, so no tree is built; most frames are
/// filtered out unread by JS, and this runs for each.
pub fn classify(text: &str) -> Result<Frame<'_>, FrameError> {
    let mut slots: [Option<Json>; Field::ALL.len()] = [const { None }; Field::ALL.len()];
    let mut present: FieldSet = 0;
    let mut unknown = Vec::new();
    let object = json::members(text, |key, value| {
        // A repeated key keeps the last value, as `JSON.parse` does.
        match Field::from_name(&key) {
            Some(field) => {
                present |= field.bit();
                slots[field as usize] = Some(value);
            }
            None => unknown.push(key.into_owned()),
        }
    })
    .map_err(|e| FrameError::Malformed(crate::text::cat(&["not JSON: ", &e.message()])))?;
    let name = match (object, &slots[Field::Type as usize]) {
        (true, Some(Json::Str(name))) => name,
        _ => {
            return Err(FrameError::Malformed(
                "not a JSON object with a string `type`".into(),
            ))
        }
    };
    let kind = Kind::from_name(name).ok_or_else(|| FrameError::Unknown(String::from(&**name)))?;
    let mut bad = 0;
    for spec in kind.fields() {
        let ok = match &slots[spec.field as usize] {
            None => !spec.required,
            Some(Json::Null) if !spec.required => true,
            Some(v) => fits(v, spec.shape),
        };
        if !ok {
            bad |= spec.field.bit();
            // Read nothing from a field of the wrong shape.
            slots[spec.field as usize] = None;
        }
    }
    let allowed = FIELD_SETS[kind as usize];
    let extra = present & !allowed;
    let mut take = |field: Field| match slots[field as usize].take() {
        // Fields of another kind are reported, not read.
        Some(v) if allowed & field.bit() != 0 => Some(v),
        _ => None,
    };
    let key = kind.key().and_then(&mut take);
    let string = |v: Option<Json>| v.and_then(|v| v.as_str().map(str::to_owned));
    Ok(Frame {
        kind,
        seq: take(Field::Seq).and_then(|v| v.as_u64()),
        key: match key {
            Some(Json::Str(key)) => Some(key),
            _ => None,
        },
        connection_id: string(take(Field::ConnectionId)),
        heartbeat_ms: take(Field::HeartbeatMs).and_then(|v| v.as_u64()),
        timestamp: take(Field::Timestamp).and_then(|v| v.as_i64()),
        message: string(take(Field::Message)),
        code: string(take(Field::Code)),
        reason: take(Field::Reason).and_then(|v| v.as_str().map(ResyncReason::parse)),
        mismatch: Mismatch {
            bad,
            extra,
            unknown,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::schema::{counterexamples, example};
    use crate::protocol::ServerMessage;

    const SEED: &str = include_str!("../../protocol/seed-examples.json");

    fn exact(text: &str) -> Frame<'_> {
        let frame = classify(text).unwrap_or_else(|e| panic!("{e:?} for {text}"));
        assert!(frame.mismatch.is_empty(), "{:?} for {text}", frame.mismatch);
        frame
    }

    #[test]
    fn agrees_with_the_protocol_on_every_seed_example() {
        let examples: Vec<serde_json::Value> = serde_json::from_str(SEED).unwrap();
        for example in examples {
            let text = example.to_string();
            let full = ServerMessage::from_json(&text).unwrap();
            let frame = exact(&text);
            assert_eq!(Some(frame.kind), full.kind());
            assert_eq!(frame.seq, full.seq());
        }
    }

    /// The reader and the serde types agree on every field of every kind:
    /// a frame is exact for the reader exactly when serde accepts it.
    #[test]
    fn reader_and_serde_agree_on_every_field() {
        for kind in Kind::ALL {
            let text = example(kind);
            assert!(ServerMessage::from_json(text).is_ok());
            exact(text);
            for spec in kind.fields() {
                let mut frame: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text).unwrap();
                frame.remove(spec.field.name());
                let without = serde_json::Value::Object(frame.clone()).to_string();
                let serde_ok = ServerMessage::from_json(&without).is_ok();
                let got = classify(&without).unwrap();
                assert_eq!(got.mismatch.is_empty(), serde_ok, "{without}");
                assert_eq!(got.mismatch.bad != 0, spec.required, "{without}");
                for bad in counterexamples(spec.shape) {
                    frame.insert(spec.field.name().into(), serde_json::from_str(bad).unwrap());
                    let wrong = serde_json::Value::Object(frame.clone()).to_string();
                    assert!(ServerMessage::from_json(&wrong).is_err(), "{wrong}");
                    let got = classify(&wrong).unwrap();
                    assert_eq!(got.mismatch.bad, spec.field.bit(), "{wrong}");
                }
            }
        }
    }

    #[test]
    fn routing_fields_are_read() {
        let f = exact(
            r#"{"type":"corridor_update","corridor_id":"i","corridor_key":"A:B->C:D","success_rate":1,"volume_usd":2,"total_transactions":3,"seq":7}"#,
        );
        assert_eq!(
            (f.kind, f.seq, f.key.as_deref()),
            (Kind::CorridorUpdate, Some(7), Some("A:B->C:D"))
        );
        let f = exact(
            r#"{"type":"anchor_update","anchor_id":"x","name":"n","reliability_score":1,"status":"red"}"#,
        );
        assert_eq!(
            (f.kind, f.seq, f.key.as_deref()),
            (Kind::AnchorUpdate, None, Some("x"))
        );
        assert_eq!(
            exact(r#"{"type":"ping","timestamp":-5}"#).timestamp,
            Some(-5)
        );
        let f = exact(r#"{"type":"resync_required","reason":"gap"}"#);
        assert_eq!(f.reason, Some(ResyncReason::Gap));
        let f = exact(r#"{"type":"error","message":"m","code":"something_new"}"#);
        assert_eq!(f.code.as_deref(), Some("something_new"));
    }

    #[test]
    fn refuses_only_what_cannot_be_delivered() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"no_type":1}"#,
            r#"{"type":7}"#,
            r#""ping""#,
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

    /// The corridor frame of the backend the dashboard replaces: no
    /// `corridor_id` or metrics, asset fields instead. Delivered, routed by
    /// its key, and every difference named.
    #[test]
    fn a_known_type_with_missing_and_extra_fields_is_read_and_its_differences_named() {
        let text = r#"{"type":"corridor_update","corridor_key":"USDC:GA->EURC:GB","asset_a_code":"USDC","asset_a_issuer":"GA","asset_b_code":"EURC","asset_b_issuer":"GB"}"#;
        assert!(ServerMessage::from_json(text).is_err());
        let f = classify(text).unwrap();
        assert_eq!(
            (f.kind, f.key.as_deref(), f.seq),
            (Kind::CorridorUpdate, Some("USDC:GA->EURC:GB"), None)
        );
        assert_eq!(
            f.mismatch.bad,
            Field::CorridorId.bit()
                | Field::SuccessRate.bit()
                | Field::VolumeUsd.bit()
                | Field::TotalTransactions.bit()
        );
        assert_eq!(f.mismatch.extra, 0);
        assert_eq!(
            f.mismatch.unknown,
            [
                "asset_a_code",
                "asset_a_issuer",
                "asset_b_code",
                "asset_b_issuer"
            ]
        );
        // A protocol field of another kind is named as extra and not read.
        let f = classify(r#"{"type":"ping","timestamp":1,"seq":3,"reason":"gap"}"#).unwrap();
        assert_eq!(f.mismatch.extra, Field::Seq.bit() | Field::Reason.bit());
        assert_eq!((f.seq, f.reason), (None, None));
        // Only `type` is needed.
        for kind in Kind::ALL {
            let text = ["{\"type\":\"", kind.name(), "\"}"].concat();
            let f = classify(&text).unwrap();
            assert_eq!(f.kind, kind);
        }
        // A field of the wrong shape is reported and not used.
        let f = classify(r#"{"type":"anchor_update","anchor_id":7,"name":"n","reliability_score":1,"status":"red","seq":"9"}"#).unwrap();
        assert_eq!((f.key, f.seq), (None, None));
        assert_eq!(f.mismatch.bad, Field::AnchorId.bit() | Field::Seq.bit());
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
        let f = exact(
            r#"{"type":"anchor_update","anchor_id":"first","name":"n","reliability_score":1,"status":"red","anchor_id":"last"}"#,
        );
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
}

// proptest is a native-only dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
#[path = "frame_props.rs"]
mod props;
