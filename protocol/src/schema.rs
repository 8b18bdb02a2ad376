//! The shape of every server frame as data: its kinds, the top-level fields
//! they carry, which are required and how each must look.
//!
//! The client's frame reader (`stellar-insights-client-core::frame`) routes
//! and checks frames with these tables instead of building a
//! [`ServerMessage`](crate::ServerMessage); the tests below hold the tables
//! equal to the serde types, field by field, so the two cannot drift.

/// The `type` of a server frame this version knows, in the order of their
/// filter bits ([`Kind::bit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// `state`: a chunk of current records (state connections only)
    State,
    /// `corridor_delta`: changed corridor fields (state connections only)
    CorridorDelta,
    /// `anchor_delta`: changed anchor fields (state connections only)
    AnchorDelta,
}

/// Every top-level field of any server frame. The discriminant is the
/// field's bit in a [`FieldSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `type`: the tag, on every frame.
    Type,
    /// `seq`: of an update, or the server's head in `connected`.
    Seq,
    /// `corridor_key`: `CODE:ISSUER->CODE:ISSUER`, the routing key of corridor updates.
    CorridorKey,
    /// `anchor_id`: the routing key of anchor updates.
    AnchorId,
    /// `connection_id` of `connected`.
    ConnectionId,
    /// `protocol` version of `connected`.
    Protocol,
    /// `heartbeat_ms` of `connected`, ms.
    HeartbeatMs,
    /// `resumed` of `connected`.
    Resumed,
    /// `timestamp`: integer in `ping`/`pong`, RFC 3339 text in `snapshot_update`.
    Timestamp,
    /// `snapshot_id` of `snapshot_update`.
    SnapshotId,
    /// `epoch` of `snapshot_update`.
    Epoch,
    /// `hash` of `snapshot_update`.
    Hash,
    /// `corridor_id` of `corridor_update`.
    CorridorId,
    /// `success_rate` of `corridor_update`, percent.
    SuccessRate,
    /// `volume_usd` of `corridor_update`, US dollars.
    VolumeUsd,
    /// `total_transactions` of `corridor_update`.
    TotalTransactions,
    /// `name` of `anchor_update`.
    Name,
    /// `reliability_score` of `anchor_update`, 0–100.
    ReliabilityScore,
    /// `status` of `anchor_update`: `green`, `yellow` or `red`.
    Status,
    /// `message` of `error`.
    Message,
    /// `code` of `error` ([`ErrorCode`](crate::ErrorCode)).
    Code,
    /// `reason` of `resync_required` ([`ResyncReason`](crate::ResyncReason)).
    Reason,
    /// `ref`: connection-local number of a corridor or anchor (full updates
    /// and deltas on state connections).
    Ref,
    /// `conflated`: intermediate values of the key were skipped.
    Conflated,
    /// `corridors`: corridor records of a `state` chunk.
    Corridors,
    /// `anchors`: anchor records of a `state` chunk.
    Anchors,
    /// `snapshot`: the latest snapshot record of a `state` chunk.
    Snapshot,
    /// `done`: last chunk of a `state` answer.
    Done,
    /// `r` of a delta: `success_rate` in `corridor_delta`, `reliability_score`
    /// in `anchor_delta` ([`Kind::delta_field`]).
    DeltaR,
    /// `v` of `corridor_delta`: `volume_usd`.
    DeltaV,
    /// `n` of a delta: `total_transactions` in `corridor_delta`, `name` in
    /// `anchor_delta`.
    DeltaN,
    /// `s` of `anchor_delta`: `status`.
    DeltaS,
}

/// How a field's JSON value must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string.
    Str,
    /// A non-negative integer that fits `u64`.
    U64,
    /// A non-negative integer that fits `u32`.
    U32,
    /// An integer that fits `i64`.
    I64,
    /// Any JSON number.
    Num,
    /// `true` or `false`.
    Bool,
    /// One of the [`AnchorStatus`](crate::AnchorStatus) spellings.
    Status,
    /// A JSON array (its items are records the reader does not check).
    Array,
    /// A JSON object (a record the reader does not check).
    Object,
}

/// One field of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Which field.
    pub field: Field,
    /// How its value must look.
    pub shape: Shape,
    /// Required by the serde type; an optional field may also be absent or `null`.
    pub required: bool,
}

/// A set of [`Field`]s as bits (bit *n* = the field with discriminant *n*;
/// [`Field::ALL`] has 32, every bit is used).
pub type FieldSet = u32;

const fn req(field: Field, shape: Shape) -> FieldSpec {
    FieldSpec {
        field,
        shape,
        required: true,
    }
}

const fn opt(field: Field, shape: Shape) -> FieldSpec {
    FieldSpec {
        field,
        shape,
        required: false,
    }
}

impl Kind {
    /// Every kind, in bit order.
    pub const ALL: [Kind; 11] = [
        Kind::Connected,
        Kind::Ping,
        Kind::Pong,
        Kind::SnapshotUpdate,
        Kind::CorridorUpdate,
        Kind::AnchorUpdate,
        Kind::Error,
        Kind::ResyncRequired,
        Kind::State,
        Kind::CorridorDelta,
        Kind::AnchorDelta,
    ];

    /// The wire name (`"corridor_update"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Connected => "connected",
            Kind::Ping => "ping",
            Kind::Pong => "pong",
            Kind::SnapshotUpdate => "snapshot_update",
            Kind::CorridorUpdate => "corridor_update",
            Kind::AnchorUpdate => "anchor_update",
            Kind::Error => "error",
            Kind::ResyncRequired => "resync_required",
            Kind::State => "state",
            Kind::CorridorDelta => "corridor_delta",
            Kind::AnchorDelta => "anchor_delta",
        }
    }

    /// The kind with wire name `name`.
    pub fn from_name(name: &str) -> Option<Kind> {
        let mut i = 0;
        while i < Kind::ALL.len() {
            if Kind::ALL[i].name() == name {
                return Some(Kind::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// This kind's bit in a filter mask.
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Whether frames of this kind are updates (carry `seq` and, but for
    /// snapshots, a routing key). Deltas are not: they carry `seq` but name
    /// their key by `ref` ([`Kind::is_delta`]).
    pub const fn is_update(self) -> bool {
        matches!(
            self,
            Kind::SnapshotUpdate | Kind::CorridorUpdate | Kind::AnchorUpdate
        )
    }

    /// Whether frames of this kind are field deltas (`corridor_delta`,
    /// `anchor_delta`): `ref`, `seq` and only the changed fields.
    pub const fn is_delta(self) -> bool {
        matches!(self, Kind::CorridorDelta | Kind::AnchorDelta)
    }

    /// The update kind a delta rebuilds (`corridor_delta` → `corridor_update`).
    pub const fn delta_of(self) -> Option<Kind> {
        match self {
            Kind::CorridorDelta => Some(Kind::CorridorUpdate),
            Kind::AnchorDelta => Some(Kind::AnchorUpdate),
            _ => None,
        }
    }

    /// The update field that the changed-field member `short` of a delta of
    /// this kind sets: `corridor_delta` `r` → `success_rate`, `v` →
    /// `volume_usd`, `n` → `total_transactions`; `anchor_delta` `n` → `name`,
    /// `r` → `reliability_score`, `s` → `status`. `None` for any other name
    /// or kind. (Deltas are most of a state connection's bytes, so their
    /// changed fields have one-letter names; full frames keep the long ones.
    /// A `match` on the name: the smallest form in the wasm module.)
    pub fn delta_field(self, short: &str) -> Option<Field> {
        use Field as F;
        match (self, short.as_bytes()) {
            (Kind::CorridorDelta, b"r") => Some(F::SuccessRate),
            (Kind::CorridorDelta, b"v") => Some(F::VolumeUsd),
            (Kind::CorridorDelta, b"n") => Some(F::TotalTransactions),
            (Kind::AnchorDelta, b"n") => Some(F::Name),
            (Kind::AnchorDelta, b"r") => Some(F::ReliabilityScore),
            (Kind::AnchorDelta, b"s") => Some(F::Status),
            _ => None,
        }
    }

    /// The field that key filters and keyed topics route on.
    pub const fn key(self) -> Option<Field> {
        match self {
            Kind::CorridorUpdate => Some(Field::CorridorKey),
            Kind::AnchorUpdate => Some(Field::AnchorId),
            _ => None,
        }
    }

    /// The fields of this kind besides `type`, required ones first.
    pub const fn fields(self) -> &'static [FieldSpec] {
        use Field as F;
        use Shape as S;
        const CONNECTED: &[FieldSpec] = &[
            req(F::ConnectionId, S::Str),
            opt(F::Protocol, S::U64),
            opt(F::HeartbeatMs, S::U64),
            opt(F::Seq, S::U64),
            opt(F::Resumed, S::Bool),
        ];
        const PING_PONG: &[FieldSpec] = &[req(F::Timestamp, S::I64)];
        const SNAPSHOT: &[FieldSpec] = &[
            req(F::SnapshotId, S::Str),
            req(F::Epoch, S::U64),
            req(F::Timestamp, S::Str),
            req(F::Hash, S::Str),
            opt(F::Seq, S::U64),
            opt(F::Conflated, S::Bool),
        ];
        const CORRIDOR: &[FieldSpec] = &[
            req(F::CorridorId, S::Str),
            req(F::CorridorKey, S::Str),
            req(F::SuccessRate, S::Num),
            req(F::VolumeUsd, S::Num),
            req(F::TotalTransactions, S::U64),
            opt(F::Seq, S::U64),
            opt(F::Ref, S::U32),
            opt(F::Conflated, S::Bool),
        ];
        const ANCHOR: &[FieldSpec] = &[
            req(F::AnchorId, S::Str),
            req(F::Name, S::Str),
            req(F::ReliabilityScore, S::Num),
            req(F::Status, S::Status),
            opt(F::Seq, S::U64),
            opt(F::Ref, S::U32),
            opt(F::Conflated, S::Bool),
        ];
        const ERROR: &[FieldSpec] = &[req(F::Message, S::Str), opt(F::Code, S::Str)];
        const RESYNC: &[FieldSpec] = &[opt(F::Reason, S::Str)];
        const STATE: &[FieldSpec] = &[
            req(F::Seq, S::U64),
            req(F::Corridors, S::Array),
            req(F::Anchors, S::Array),
            req(F::Done, S::Bool),
            opt(F::Snapshot, S::Object),
        ];
        const CORRIDOR_DELTA: &[FieldSpec] = &[
            req(F::Ref, S::U32),
            req(F::Seq, S::U64),
            opt(F::DeltaR, S::Num),
            opt(F::DeltaV, S::Num),
            opt(F::DeltaN, S::U64),
            opt(F::Conflated, S::Bool),
        ];
        const ANCHOR_DELTA: &[FieldSpec] = &[
            req(F::Ref, S::U32),
            req(F::Seq, S::U64),
            opt(F::DeltaN, S::Str),
            opt(F::DeltaR, S::Num),
            opt(F::DeltaS, S::Status),
            opt(F::Conflated, S::Bool),
        ];
        match self {
            Kind::Connected => CONNECTED,
            Kind::Ping | Kind::Pong => PING_PONG,
            Kind::SnapshotUpdate => SNAPSHOT,
            Kind::CorridorUpdate => CORRIDOR,
            Kind::AnchorUpdate => ANCHOR,
            Kind::Error => ERROR,
            Kind::ResyncRequired => RESYNC,
            Kind::State => STATE,
            Kind::CorridorDelta => CORRIDOR_DELTA,
            Kind::AnchorDelta => ANCHOR_DELTA,
        }
    }

    /// The set of every field this kind may carry, `type` included.
    pub const fn field_set(self) -> FieldSet {
        let fields = self.fields();
        let mut set = Field::Type.bit();
        let mut i = 0;
        while i < fields.len() {
            set |= fields[i].field.bit();
            i += 1;
        }
        set
    }
}

impl Field {
    /// Every field, in bit order.
    pub const ALL: [Field; 32] = [
        Field::Type,
        Field::Seq,
        Field::CorridorKey,
        Field::AnchorId,
        Field::ConnectionId,
        Field::Protocol,
        Field::HeartbeatMs,
        Field::Resumed,
        Field::Timestamp,
        Field::SnapshotId,
        Field::Epoch,
        Field::Hash,
        Field::CorridorId,
        Field::SuccessRate,
        Field::VolumeUsd,
        Field::TotalTransactions,
        Field::Name,
        Field::ReliabilityScore,
        Field::Status,
        Field::Message,
        Field::Code,
        Field::Reason,
        Field::Ref,
        Field::Conflated,
        Field::Corridors,
        Field::Anchors,
        Field::Snapshot,
        Field::Done,
        Field::DeltaR,
        Field::DeltaV,
        Field::DeltaN,
        Field::DeltaS,
    ];

    /// The wire name (`"corridor_key"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Field::Type => "type",
            Field::Seq => "seq",
            Field::CorridorKey => "corridor_key",
            Field::AnchorId => "anchor_id",
            Field::ConnectionId => "connection_id",
            Field::Protocol => "protocol",
            Field::HeartbeatMs => "heartbeat_ms",
            Field::Resumed => "resumed",
            Field::Timestamp => "timestamp",
            Field::SnapshotId => "snapshot_id",
            Field::Epoch => "epoch",
            Field::Hash => "hash",
            Field::CorridorId => "corridor_id",
            Field::SuccessRate => "success_rate",
            Field::VolumeUsd => "volume_usd",
            Field::TotalTransactions => "total_transactions",
            Field::Name => "name",
            Field::ReliabilityScore => "reliability_score",
            Field::Status => "status",
            Field::Message => "message",
            Field::Code => "code",
            Field::Reason => "reason",
            Field::Ref => "ref",
            Field::Conflated => "conflated",
            Field::Corridors => "corridors",
            Field::Anchors => "anchors",
            Field::Snapshot => "snapshot",
            Field::Done => "done",
            Field::DeltaR => "r",
            Field::DeltaV => "v",
            Field::DeltaN => "n",
            Field::DeltaS => "s",
        }
    }

    /// This field's bit in a [`FieldSet`].
    pub const fn bit(self) -> FieldSet {
        1 << (self as u32)
    }

    /// The field named `name`. Runs for every top-level member of every frame
    /// the client reads: no two fields share their length, first and last
    /// byte (a test checks), so that triple finds the one candidate and one
    /// comparison confirms it.
    #[inline]
    pub fn from_name(name: &str) -> Option<Field> {
        let bytes = name.as_bytes();
        let (first, last) = (*bytes.first()?, bytes[bytes.len() - 1]);
        let mut i = 0;
        while i < Field::ALL.len() {
            let candidate = Field::ALL[i].name().as_bytes();
            if candidate.len() == bytes.len()
                && candidate[0] == first
                && candidate[candidate.len() - 1] == last
            {
                return (candidate == bytes).then_some(Field::ALL[i]);
            }
            i += 1;
        }
        None
    }
}

/// A frame of `kind` with every field set, as JSON text: for documentation
/// and for tests that check a reader against the serde types field by field.
pub const fn example(kind: Kind) -> &'static str {
    match kind {
        Kind::Connected => {
            r#"{"type":"connected","connection_id":"c","protocol":1,"heartbeat_ms":30000,"seq":4,"resumed":true}"#
        }
        Kind::Ping => r#"{"type":"ping","timestamp":1234567890}"#,
        Kind::Pong => r#"{"type":"pong","timestamp":-3}"#,
        Kind::SnapshotUpdate => {
            r#"{"type":"snapshot_update","snapshot_id":"s","epoch":2,"timestamp":"2026-01-01T00:00:00Z","hash":"ab","seq":5,"conflated":true}"#
        }
        Kind::CorridorUpdate => {
            r#"{"type":"corridor_update","corridor_id":"i","corridor_key":"A:G->B:G","success_rate":95.5,"volume_usd":10.25,"total_transactions":7,"seq":6,"ref":3,"conflated":true}"#
        }
        Kind::AnchorUpdate => {
            r#"{"type":"anchor_update","anchor_id":"a","name":"n","reliability_score":98.5,"status":"yellow","seq":7,"ref":4,"conflated":false}"#
        }
        Kind::Error => r#"{"type":"error","message":"m","code":"rate_limited"}"#,
        Kind::ResyncRequired => r#"{"type":"resync_required","reason":"gap"}"#,
        Kind::State => {
            r#"{"type":"state","seq":9,"corridors":[{"corridor_id":"i","corridor_key":"A:G->B:G","success_rate":95.5,"volume_usd":10.25,"total_transactions":7,"ref":1}],"anchors":[{"anchor_id":"a","name":"n","reliability_score":98.5,"status":"yellow","ref":2}],"snapshot":{"snapshot_id":"s","epoch":2,"timestamp":"2026-01-01T00:00:00Z","hash":"ab"},"done":true}"#
        }
        Kind::CorridorDelta => {
            r#"{"type":"corridor_delta","ref":1,"seq":10,"r":96.0,"v":11.5,"n":8,"conflated":true}"#
        }
        Kind::AnchorDelta => {
            r#"{"type":"anchor_delta","ref":2,"seq":11,"n":"m","r":99.0,"s":"green","conflated":true}"#
        }
    }
}

/// Values of the wrong shape for `shape`, as JSON text: what a reader must
/// refuse for a field of that shape (the tests hold serde to the same).
pub const fn counterexamples(shape: Shape) -> &'static [&'static str] {
    match shape {
        Shape::Str => &["5", "true", "[]"],
        Shape::U64 => &["-1", "1.5", "\"1\""],
        Shape::U32 => &["-1", "1.5", "\"1\"", "4294967296"],
        Shape::I64 => &["1.5", "\"1\"", "9.3e18"],
        Shape::Num => &["\"1\"", "false"],
        Shape::Bool => &["1", "\"true\""],
        Shape::Status => &["\"blue\"", "1"],
        Shape::Array => &["{}", "\"[]\"", "1"],
        Shape::Object => &["[]", "\"{}\"", "1"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerMessage;
    use serde_json::{Map, Value};

    fn full(kind: Kind) -> Value {
        serde_json::from_str(example(kind)).unwrap()
    }

    fn wrong(shape: Shape) -> Vec<Value> {
        counterexamples(shape)
            .iter()
            .map(|t| serde_json::from_str(t).unwrap())
            .collect()
    }

    /// (short field, update field) of each field of a delta kind that
    /// [`Kind::delta_field`] translates.
    fn delta_pairs(kind: Kind) -> Vec<(Field, Field)> {
        kind.fields()
            .iter()
            .filter_map(|s| Some((s.field, kind.delta_field(s.field.name())?)))
            .collect()
    }

    fn parses(v: &Value) -> bool {
        ServerMessage::from_json(&v.to_string()).is_ok()
    }

    #[test]
    fn every_kind_serialises_exactly_its_fields() {
        for kind in Kind::ALL {
            let example = full(kind);
            let msg = ServerMessage::from_json(&example.to_string()).unwrap();
            assert_eq!(msg.kind(), Some(kind));
            assert_eq!(msg.type_name(), kind.name());
            let back = serde_json::to_value(&msg).unwrap();
            let mut names: Vec<&str> = back
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            names.sort_unstable();
            let mut expected: Vec<&str> = Field::ALL
                .iter()
                .filter(|f| kind.field_set() & f.bit() != 0)
                .map(|f| f.name())
                .collect();
            expected.sort_unstable();
            assert_eq!(names, expected, "{}", kind.name());
        }
    }

    #[test]
    fn required_and_optional_fields_agree_with_serde() {
        for kind in Kind::ALL {
            for spec in kind.fields() {
                let mut without: Map<String, Value> = full(kind).as_object().unwrap().clone();
                without.remove(spec.field.name());
                assert_eq!(
                    parses(&Value::Object(without.clone())),
                    !spec.required,
                    "{} without {}",
                    kind.name(),
                    spec.field.name()
                );
                if !spec.required {
                    without.insert(spec.field.name().into(), Value::Null);
                    assert!(
                        parses(&Value::Object(without)),
                        "{} with null {}",
                        kind.name(),
                        spec.field.name()
                    );
                }
            }
        }
    }

    #[test]
    fn shapes_agree_with_serde() {
        for kind in Kind::ALL {
            for spec in kind.fields() {
                // `code` and `reason` take any string (unknown values are `Other`).
                for bad in wrong(spec.shape) {
                    let mut frame = full(kind);
                    frame[spec.field.name()] = bad.clone();
                    assert!(
                        !parses(&frame),
                        "{} accepts {} = {bad}",
                        kind.name(),
                        spec.field.name()
                    );
                }
            }
        }
    }

    #[test]
    fn every_field_belongs_to_some_kind_and_keys_are_required_strings() {
        let union = Kind::ALL.iter().fold(0, |set, k| set | k.field_set());
        assert_eq!(
            union,
            FieldSet::MAX >> (FieldSet::BITS as usize - Field::ALL.len())
        );
        for kind in Kind::ALL {
            if let Some(key) = kind.key() {
                assert!(
                    kind.fields().contains(&req(key, Shape::Str)),
                    "{}",
                    kind.name()
                );
            }
            assert_eq!(
                kind.is_update() || kind.is_delta(),
                kind.fields().iter().any(|s| s.field == Field::Seq)
                    && !matches!(kind, Kind::Connected | Kind::State)
            );
            if let Some(update) = kind.delta_of() {
                // A delta carries only fields of the update it rebuilds, under
                // their own names or (the changed fields) their short ones.
                let pairs = delta_pairs(kind);
                assert_eq!(pairs.len(), 3, "{}", kind.name());
                let mut short = 0;
                for (s, long) in &pairs {
                    short |= s.bit();
                    assert_eq!(s.name().len(), 1);
                    let spec =
                        |k: Kind, f: Field| k.fields().iter().find(|x| x.field == f).copied();
                    // Optional in the delta, with the update's shape.
                    let (d, u) = (spec(kind, *s).unwrap(), spec(update, *long).unwrap());
                    assert_eq!((d.shape, d.required, u.required), (u.shape, false, true));
                }
                let theirs = update.field_set();
                assert_eq!(kind.field_set() & !theirs & !short, 0, "{}", kind.name());
                assert_eq!(theirs & short, 0, "{}", kind.name());
            }
            // No other name, and no name for another kind, is translated.
            for f in Field::ALL {
                let expected = delta_pairs(kind).iter().find(|(s, _)| *s == f).map(|p| p.1);
                assert_eq!(
                    kind.delta_field(f.name()),
                    expected,
                    "{} {}",
                    kind.name(),
                    f.name()
                );
            }
        }
        // Short names are for deltas only.
        let short =
            Field::DeltaR.bit() | Field::DeltaV.bit() | Field::DeltaN.bit() | Field::DeltaS.bit();
        for kind in Kind::ALL {
            assert_eq!(
                kind.field_set() & short != 0,
                kind.is_delta(),
                "{}",
                kind.name()
            );
        }
    }

    /// Each short member of a delta sets, in the serde type, the field of the
    /// update that [`Kind::delta_field`] names (the Rust fields are named as
    /// the update's members).
    #[test]
    fn delta_short_names_set_the_update_fields_delta_field_names() {
        use serde_json::json;
        for kind in [Kind::CorridorDelta, Kind::AnchorDelta] {
            let update = full(kind.delta_of().unwrap());
            for (short, long) in delta_pairs(kind) {
                let mut frame = json!({"type": kind.name(), "ref": 1, "seq": 2});
                frame[short.name()] = update[long.name()].clone();
                let got = match ServerMessage::from_json(&frame.to_string()).unwrap() {
                    ServerMessage::CorridorDelta(d) => json!({
                        "success_rate": d.success_rate,
                        "volume_usd": d.volume_usd,
                        "total_transactions": d.total_transactions,
                    }),
                    ServerMessage::AnchorDelta(d) => json!({
                        "name": d.name,
                        "reliability_score": d.reliability_score,
                        "status": d.status,
                    }),
                    other => panic!("{other:?}"),
                };
                for (name, value) in got.as_object().unwrap() {
                    let expected = if name == long.name() {
                        update[long.name()].clone()
                    } else {
                        Value::Null
                    };
                    assert_eq!(*value, expected, "{frame}: {name}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip_and_fields_are_unique_by_length_first_and_last_byte() {
        let triple = |s: &str| (s.len(), s.as_bytes()[0], s.as_bytes()[s.len() - 1]);
        for (i, field) in Field::ALL.iter().enumerate() {
            assert_eq!(*field as usize, i);
            assert_eq!(Field::from_name(field.name()), Some(*field));
            for other in &Field::ALL[i + 1..] {
                let (a, b) = (field.name(), other.name());
                assert!(triple(a) != triple(b), "{a} and {b}");
            }
        }
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
            assert_eq!(Kind::from_name(kind.name()), Some(*kind));
        }
        for name in [
            "",
            "typf",
            "corridor_kex",
            "unknown",
            "conflates",
            "x",
            "rr",
        ] {
            assert_eq!(Field::from_name(name), None);
            assert_eq!(Kind::from_name(name), None);
        }
    }
}
