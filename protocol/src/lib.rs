//! # stellar-insights-protocol
//!
//! Wire protocol v1 of the Stellar Insights real-time layer: the JSON frames
//! the server and the client exchange, defined once. It belongs to neither
//! side: the server (`stellar-insights-server`) serialises [`ServerMessage`]
//! and parses [`ClientMessage`] with serde; the client core
//! (`stellar-insights-client-core`) routes frames with the [`schema`] tables,
//! which tests hold equal to the serde types field by field. Resync reasons
//! and error codes are enums ([`ResyncReason`], [`ErrorCode`]) that keep
//! unknown values as `Other`. With the `ts` feature the types also emit their
//! TypeScript declarations (for the wasm package's `.d.ts`).
//!
//! One JSON object per WebSocket text frame, tagged by `"type"` in snake_case.
//! Every peer ignores fields it does not know. Fields added by protocol v1
//! over the seed protocol are `Option`s left out of the JSON when `None`, so a
//! seed frame (`protocol/seed-examples.json`) parses and re-serialises to
//! exactly the same fields.
//!
//! **State connections** (opt-in, additive): a client that sends `subscribe`
//! with `"state": true` ([`ClientMessage::Subscribe::state`]) gets the current
//! records of its topics as [`ServerMessage::State`] chunks ([`StateChunk`]:
//! one `seq` S, at most [`STATE_CHUNK`] records each), then live updates from
//! exactly S; corridors and anchors it was sent in full carry a
//! connection-local `ref`, and later changes of them come as
//! [`ServerMessage::CorridorDelta`] / [`ServerMessage::AnchorDelta`] with only
//! the changed fields, under one-letter names (`r`, `v`, `n`, `s`;
//! [`Kind::delta_field`]); when it falls behind it gets conflated catch-ups
//! (`conflated: true`) instead of `resync_required` + close 4001. None of this
//! reaches a connection that never asked for state. `server/CONFIG.md` has the
//! rules in full.
//!
//! ```
//! use stellar_insights_protocol::{ResyncReason, ServerMessage};
//!
//! let msg = ServerMessage::from_json(r#"{"type":"resync_required","reason":"gap"}"#).unwrap();
//! assert_eq!(msg, ServerMessage::ResyncRequired { reason: Some(ResyncReason::Gap) });
//! assert_eq!(msg.to_json(), r#"{"type":"resync_required","reason":"gap"}"#);
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub mod schema;
pub use schema::{Field, Kind};

/// Protocol version announced in [`ServerMessage::Connected::protocol`]. Value 1.
pub const PROTOCOL_VERSION: u32 = 1;

/// A frame sent by the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First frame of every connection.
    Connected {
        /// Server-assigned id of this connection (a UUID in practice).
        connection_id: String,
        /// Protocol version the server speaks ([`PROTOCOL_VERSION`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional))]
        protocol: Option<u32>,
        /// Server heartbeat interval in ms. Default on the server 30 000.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional))]
        heartbeat_ms: Option<u64>,
        /// Last sequence number the server has issued (0 when none yet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional))]
        seq: Option<u64>,
        /// True when the server is replaying from the client's `?since=`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional))]
        resumed: Option<bool>,
    },
    /// Heartbeat from the server; the client answers with [`ClientMessage::Pong`].
    Ping {
        /// Sender's clock, integer. The server sends seconds since the Unix
        /// epoch, the unit of the seed protocol's example (`1234567890`);
        /// peers echo it unchanged and need not know its unit.
        timestamp: i64,
    },
    /// Answer to a client [`ClientMessage::Ping`], echoing its timestamp.
    Pong {
        /// The client's timestamp, echoed unchanged.
        timestamp: i64,
    },
    /// A snapshot was generated.
    SnapshotUpdate(SnapshotUpdate),
    /// A corridor was created or its metrics changed.
    CorridorUpdate(CorridorUpdate),
    /// An anchor was created or its metrics changed.
    AnchorUpdate(AnchorUpdate),
    /// One chunk of the answer to a `subscribe` with `state: true` (state
    /// connections only): the current records as of `seq`.
    State(StateChunk),
    /// The changed fields of a corridor whose full record this connection
    /// already got (state connections only).
    CorridorDelta(CorridorDelta),
    /// The changed fields of an anchor whose full record this connection
    /// already got (state connections only).
    AnchorDelta(AnchorDelta),
    /// Something the client sent, or the connection, is in error.
    Error {
        /// Human-readable description.
        message: String,
        /// Stable snake_case error code.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional, type = "ServerErrorCode"))]
        code: Option<ErrorCode>,
    },
    /// The updates the client missed cannot be replayed: reload through REST.
    ResyncRequired {
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional, type = "ResyncReason"))]
        reason: Option<ResyncReason>,
    },
    /// A `type` this version does not know. Peers ignore it (forward compatibility).
    #[serde(other)]
    Unknown,
}

/// Payload of a `snapshot_update` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct SnapshotUpdate {
    /// Deployment-wide sequence number of this update (absent in a
    /// [`StateChunk`] record). Serialised first, then the routing key
    /// (`corridor_key`, `anchor_id`): a client routes an update from the
    /// first bytes of its text (see `client-core`'s `frame::prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub seq: Option<u64>,
    /// Snapshot id (UUID).
    pub snapshot_id: String,
    /// Epoch number, increasing by one per snapshot.
    pub epoch: u64,
    /// When the snapshot was taken, RFC 3339.
    pub timestamp: String,
    /// SHA-256 of the snapshot's canonical JSON, lowercase hex.
    pub hash: String,
    /// `true` when the server skipped older snapshots to catch a slow state
    /// connection up ([conflation](StateChunk#conflation)); absent otherwise
    /// and always absent on v1 connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub conflated: Option<bool>,
}

/// Payload of a `corridor_update` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct CorridorUpdate {
    /// Deployment-wide sequence number of this update (absent in a
    /// [`StateChunk`] record). Serialised first, then the routing key
    /// (`corridor_key`, `anchor_id`): a client routes an update from the
    /// first bytes of its text (see `client-core`'s `frame::prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub seq: Option<u64>,
    /// `CODE:ISSUER->CODE:ISSUER`.
    pub corridor_key: String,
    /// Corridor id (UUID).
    pub corridor_id: String,
    /// Successful share of transactions, percent (0–100).
    pub success_rate: f64,
    /// Volume in US dollars.
    pub volume_usd: f64,
    /// Number of transactions.
    pub total_transactions: u64,
    /// Connection-local number of this corridor, the base later
    /// [`CorridorDelta`]s name (state connections only; absent on v1
    /// connections).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub r#ref: Option<u32>,
    /// `true` when intermediate values of this corridor were skipped
    /// ([conflation](StateChunk#conflation)); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub conflated: Option<bool>,
}

/// Payload of an `anchor_update` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AnchorUpdate {
    /// Deployment-wide sequence number of this update (absent in a
    /// [`StateChunk`] record). Serialised first, then the routing key
    /// (`corridor_key`, `anchor_id`): a client routes an update from the
    /// first bytes of its text (see `client-core`'s `frame::prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub seq: Option<u64>,
    /// Anchor id (UUID).
    pub anchor_id: String,
    /// Display name.
    pub name: String,
    /// Reliability score, 0–100.
    pub reliability_score: f64,
    /// Traffic-light status derived from the score.
    pub status: AnchorStatus,
    /// Connection-local number of this anchor, the base later
    /// [`AnchorDelta`]s name (state connections only; absent on v1
    /// connections).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub r#ref: Option<u32>,
    /// `true` when intermediate values of this anchor were skipped
    /// ([conflation](StateChunk#conflation)); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub conflated: Option<bool>,
}

/// Records per [`StateChunk`] at most (corridors, anchors and the snapshot
/// together). Value 256.
pub const STATE_CHUNK: usize = 256;

/// Payload of a `state` frame: one chunk of the server's answer to a
/// `subscribe` with `"state": true`.
///
/// The records are the database's values with every update `seq <= S`
/// applied and none above, read in one transaction (`S` = [`StateChunk::seq`],
/// the same in every chunk of one answer). A chunk holds at most
/// [`STATE_CHUNK`] records; the last one has `done: true` (an empty state is
/// one chunk with empty arrays and `done: true`). Records carry no `seq` of
/// their own; corridor and anchor records carry their connection-local `ref`.
///
/// After the answer the connection sends no update with `seq <= S` for the
/// topics the answer covered; other topics are not affected. A client applies
/// an update or delta to a key only when its `seq` is above the key's version
/// (the `S` of the state that delivered the key, or the `seq` of the update
/// that last set it), which makes replays and repeated state requests
/// idempotent.
///
/// # Conflation
///
/// A state connection that falls behind is not closed (v1 connections get
/// `resync_required` `slow_consumer` and close 4001): the server re-reads the
/// current records of the connection's topics and sends each key whose value
/// changed since it last sent it, as a full update or a delta with
/// `"conflated": true` and the `seq` of that key's newest update, then
/// continues live. Intermediate values were skipped; the value is the newest.
///
/// ```
/// use stellar_insights_protocol::{ServerMessage, StateChunk};
///
/// let text = r#"{"type":"state","seq":9,"corridors":[],"anchors":[],"done":true}"#;
/// let msg = ServerMessage::from_json(text).unwrap();
/// assert!(matches!(&msg, ServerMessage::State(StateChunk { seq: 9, done: true, .. })));
/// assert_eq!(msg.to_json(), text);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct StateChunk {
    /// `S`: the update log's highest `seq` in the read transaction the records
    /// come from.
    pub seq: u64,
    /// Corridor records (no `seq`, with `ref`), by `corridor_key`.
    pub corridors: Vec<CorridorUpdate>,
    /// Anchor records (no `seq`, with `ref`), by `anchor_id`.
    pub anchors: Vec<AnchorUpdate>,
    /// The latest snapshot (no `seq`), in one chunk of the answer when the
    /// `snapshots` topic was asked for and a snapshot exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub snapshot: Option<SnapshotUpdate>,
    /// `true` on the last chunk of the answer.
    pub done: bool,
}

/// Payload of a `corridor_delta` frame: the fields of a corridor that changed
/// since the record this connection last got for its `ref`. The client
/// rebuilds the full [`CorridorUpdate`] (`corridor_id`, `corridor_key` from
/// the base, `seq` from the delta) before any callback sees it; a delta whose
/// `ref` it does not know is dropped and the client asks for state again.
///
/// The changed fields have one-letter wire names (deltas are most of a state
/// connection's bytes): `r` = `success_rate`, `v` = `volume_usd`, `n` =
/// `total_transactions` ([`Kind::delta_field`](schema::Kind::delta_field)
/// maps them); `type`, `ref`, `seq` and `conflated` keep their names, and full
/// frames keep every name.
///
/// ```
/// use stellar_insights_protocol::ServerMessage;
///
/// let text = r#"{"type":"corridor_delta","ref":1,"seq":13,"r":96.0,"v":11.5,"n":8}"#;
/// let ServerMessage::CorridorDelta(d) = ServerMessage::from_json(text).unwrap() else {
///     unreachable!()
/// };
/// assert_eq!((d.success_rate, d.volume_usd, d.total_transactions), (Some(96.0), Some(11.5), Some(8)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct CorridorDelta {
    /// Connection-local number of the corridor (from its full record).
    #[serde(rename = "ref")]
    pub r#ref: u32,
    /// Deployment-wide sequence number of this update.
    pub seq: u64,
    /// New success rate, percent, when it changed. Wire name `r`.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub success_rate: Option<f64>,
    /// New volume in US dollars, when it changed. Wire name `v`.
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub volume_usd: Option<f64>,
    /// New number of transactions, when it changed. Wire name `n`.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub total_transactions: Option<u64>,
    /// `true` when intermediate values were skipped ([conflation](StateChunk#conflation)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub conflated: Option<bool>,
}

/// Payload of an `anchor_delta` frame: the fields of an anchor that changed
/// since the record this connection last got for its `ref` (see
/// [`CorridorDelta`] for the rules). Wire names of the changed fields: `n` =
/// `name`, `r` = `reliability_score`, `s` = `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
pub struct AnchorDelta {
    /// Connection-local number of the anchor (from its full record).
    #[serde(rename = "ref")]
    pub r#ref: u32,
    /// Deployment-wide sequence number of this update.
    pub seq: u64,
    /// New display name, when it changed. Wire name `n`.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub name: Option<String>,
    /// New reliability score, 0–100, when it changed. Wire name `r`.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub reliability_score: Option<f64>,
    /// New status, when it changed. Wire name `s`.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub status: Option<AnchorStatus>,
    /// `true` when intermediate values were skipped ([conflation](StateChunk#conflation)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub conflated: Option<bool>,
}

/// Anchor health as a traffic light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum AnchorStatus {
    /// Healthy.
    Green,
    /// Degraded.
    Yellow,
    /// Failing.
    Red,
}

impl AnchorStatus {
    /// The wire spelling: `green`, `yellow` or `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnchorStatus::Green => "green",
            AnchorStatus::Yellow => "yellow",
            AnchorStatus::Red => "red",
        }
    }
}

/// A frame sent by a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Answer to a server [`ServerMessage::Ping`], echoing its timestamp.
    Pong {
        /// The server's timestamp, echoed unchanged. Optional: the server
        /// accepts a bare `{"type":"pong"}` (it never reads the value; any
        /// frame counts as liveness).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional))]
        timestamp: Option<i64>,
    },
    /// Liveness probe; the server answers [`ServerMessage::Pong`].
    Ping {
        /// Client clock, integer (ms since the Unix epoch in practice).
        timestamp: i64,
    },
    /// Add topics to this connection's subscription.
    Subscribe {
        /// Topics to add.
        topics: Vec<Topic>,
        /// `true`: also send the current records of these topics
        /// ([`ServerMessage::State`]) and make this a state connection for the
        /// rest of its life (deltas, `ref`, conflation instead of close 4001).
        /// Default (absent) false: a v1 subscription.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", tsify(optional))]
        state: Option<bool>,
    },
    /// Remove topics from this connection's subscription.
    Unsubscribe {
        /// Topics to remove.
        topics: Vec<Topic>,
    },
    /// A `type` this version does not know.
    #[serde(other)]
    Unknown,
}

impl ServerMessage {
    /// The kind of this frame (`None` for [`ServerMessage::Unknown`]).
    pub fn kind(&self) -> Option<Kind> {
        Some(match self {
            ServerMessage::Connected { .. } => Kind::Connected,
            ServerMessage::Ping { .. } => Kind::Ping,
            ServerMessage::Pong { .. } => Kind::Pong,
            ServerMessage::SnapshotUpdate(_) => Kind::SnapshotUpdate,
            ServerMessage::CorridorUpdate(_) => Kind::CorridorUpdate,
            ServerMessage::AnchorUpdate(_) => Kind::AnchorUpdate,
            ServerMessage::State(_) => Kind::State,
            ServerMessage::CorridorDelta(_) => Kind::CorridorDelta,
            ServerMessage::AnchorDelta(_) => Kind::AnchorDelta,
            ServerMessage::Error { .. } => Kind::Error,
            ServerMessage::ResyncRequired { .. } => Kind::ResyncRequired,
            ServerMessage::Unknown => return None,
        })
    }

    /// The `type` tag of this frame as it appears on the wire (`"unknown"` for [`ServerMessage::Unknown`]).
    pub fn type_name(&self) -> &'static str {
        self.kind().map_or("unknown", Kind::name)
    }

    /// Sequence number of an update or delta frame (`S` of a `state` chunk),
    /// `None` for other frames.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ServerMessage::SnapshotUpdate(u) => u.seq,
            ServerMessage::CorridorUpdate(u) => u.seq,
            ServerMessage::AnchorUpdate(u) => u.seq,
            ServerMessage::State(s) => Some(s.seq),
            ServerMessage::CorridorDelta(d) => Some(d.seq),
            ServerMessage::AnchorDelta(d) => Some(d.seq),
            _ => None,
        }
    }

    /// Parse one text frame. Unknown `type` values give [`ServerMessage::Unknown`];
    /// a frame that is not JSON, or a known type with missing or wrong-typed
    /// fields, is an error.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serialise to the JSON text of one frame.
    pub fn to_json(&self) -> String {
        // Serialising these types cannot fail: no maps with non-string keys,
        // no non-finite floats are produced by the server's own code paths;
        // a NaN becomes `null` rather than an error in serde_json.
        serde_json::to_string(self).expect("ServerMessage serialises")
    }
}

impl ClientMessage {
    /// Parse one text frame; see [`ServerMessage::from_json`] for the rules.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serialise to the JSON text of one frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ClientMessage serialises")
    }
}

/// The `type` tag of a frame, read without parsing the rest of it.
///
/// Used to name an unknown type in error reports. `None` when the text is not
/// a JSON object with a string `type`.
pub fn peek_type(text: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<TypeOnly>(text).ok().map(|t| t.kind)
}

/// A subscription topic.
///
/// Wire form: `snapshots`, `corridors`, `anchors`, `corridor:<corridor_key>`,
/// `anchor:<anchor_id>`. No `subscribe` at all means every topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Every `snapshot_update`.
    Snapshots,
    /// Every `corridor_update`.
    Corridors,
    /// Every `anchor_update`.
    Anchors,
    /// `corridor_update`s of one corridor, by `corridor_key`.
    Corridor(String),
    /// `anchor_update`s of one anchor, by `anchor_id`.
    Anchor(String),
}

/// Why a topic string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError(pub String);

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown topic {:?}: expected snapshots, corridors, anchors, corridor:<key> or anchor:<id>",
            self.0
        )
    }
}

impl std::error::Error for TopicError {}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "snapshots" => Ok(Topic::Snapshots),
            "corridors" => Ok(Topic::Corridors),
            "anchors" => Ok(Topic::Anchors),
            _ => match s.split_once(':') {
                Some(("corridor", key)) if !key.is_empty() => Ok(Topic::Corridor(key.to_owned())),
                Some(("anchor", id)) if !id.is_empty() => Ok(Topic::Anchor(id.to_owned())),
                _ => Err(TopicError(s.to_owned())),
            },
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Snapshots => f.write_str("snapshots"),
            Topic::Corridors => f.write_str("corridors"),
            Topic::Anchors => f.write_str("anchors"),
            Topic::Corridor(key) => write!(f, "corridor:{key}"),
            Topic::Anchor(id) => write!(f, "anchor:{id}"),
        }
    }
}

impl Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "ts")]
#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const TS_TOPIC: &str = r#"
/** A subscription topic: `snapshots`, `corridors`, `anchors`, `corridor:<corridor_key>` or `anchor:<anchor_id>`. */
export type Topic = "snapshots" | "corridors" | "anchors" | `corridor:${string}` | `anchor:${string}`;
"#;

impl Topic {
    /// Whether an update frame belongs to this topic.
    pub fn matches(&self, msg: &ServerMessage) -> bool {
        match (self, msg) {
            (Topic::Snapshots, ServerMessage::SnapshotUpdate(_)) => true,
            (Topic::Corridors, ServerMessage::CorridorUpdate(_)) => true,
            (Topic::Anchors, ServerMessage::AnchorUpdate(_)) => true,
            (Topic::Corridor(key), ServerMessage::CorridorUpdate(u)) => *key == u.corridor_key,
            (Topic::Anchor(id), ServerMessage::AnchorUpdate(u)) => *id == u.anchor_id,
            _ => false,
        }
    }
}

/// Declares a wire string enum: the known values as variants, plus
/// `Other(String)` for values this version does not know (kept verbatim, so a
/// newer peer's value survives a round trip).
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident, $ts:literal { $($(#[$vdoc:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version does not know, as it came.
            Other(String),
        }

        impl $name {
            /// Every known value, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(other) => other,
                }
            }

            /// The value spelled `s` on the wire; unknown spellings give `Other`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok($name::parse(&s))
            }
        }

        #[cfg(feature = "ts")]
        #[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
        const _: &str = concat!(
            "/** Wire values of `", $ts, "`; other strings may come from newer servers. */\n",
            "export type ", $ts, " = ", $("\"", $wire, "\" | ",)* "(string & {});\n"
        );
    };
}

wire_enum! {
    /// Stable `code` of an [`ServerMessage::Error`] frame (TypeScript: `ServerErrorCode`).
    ErrorCode, "ServerErrorCode" {
        /// The frame was not valid JSON or not a valid client message.
        InvalidMessage = "invalid_message",
        /// The frame's `type` is not one the server handles.
        UnknownType = "unknown_type",
        /// A `subscribe`/`unsubscribe` named a topic that does not exist.
        InvalidTopic = "invalid_topic",
        /// A `subscribe` would take the connection over the server's cap on keyed
        /// topics; the topics over the cap are not added, the connection stays open.
        TooManyTopics = "too_many_topics",
        /// The frame exceeded the size limit; the connection is closed.
        FrameTooLarge = "frame_too_large",
        /// The client sent frames faster than the rate limit allows.
        RateLimited = "rate_limited",
        /// Binary frames are not part of the protocol.
        BinaryNotSupported = "binary_not_supported",
        /// The client was silent for longer than 2.5 heartbeats; the connection is closed.
        HeartbeatTimeout = "heartbeat_timeout",
    }
}

wire_enum! {
    /// Stable `reason` of a [`ServerMessage::ResyncRequired`] frame (TypeScript: `ResyncReason`).
    ResyncReason, "ResyncReason" {
        /// `?since=` is older than the oldest retained update. Sent right after
        /// `connected`; no replay follows, live updates continue after the head
        /// `connected` reported.
        Pruned = "pruned",
        /// `?since=` is ahead of the server's last sequence number (the store was
        /// reset); the server continues from its own head.
        FutureSeq = "future_seq",
        /// The client read too slowly and its send queue overflowed; the server
        /// closes with [`close_code::SLOW_CONSUMER`] and the client resumes.
        SlowConsumer = "slow_consumer",
        /// Updates were lost between the last one sent and the next (mid-stream
        /// or mid-replay: pruning raced the replay, or a Redis stream entry no
        /// store still holds); the updates after the hole follow.
        Gap = "gap",
    }
}

/// WebSocket close codes used by the server.
pub mod close_code {
    /// Server shutting down (RFC 6455 "going away").
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation (RFC 6455), e.g. rate limit, bad origin.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// Message too big (RFC 6455).
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Client did not answer heartbeats in time (application range).
    pub const HEARTBEAT_TIMEOUT: u16 = 4000;
    /// Client's send queue overflowed; it must resync (application range).
    pub const SLOW_CONSUMER: u16 = 4001;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const SEED: &str = include_str!("../seed-examples.json");

    #[test]
    fn every_seed_example_round_trips_with_the_same_fields() {
        let examples: Vec<Value> = serde_json::from_str(SEED).unwrap();
        assert_eq!(examples.len(), 7);
        for example in examples {
            let msg: ServerMessage = serde_json::from_value(example.clone())
                .unwrap_or_else(|e| panic!("{example} does not parse: {e}"));
            assert_ne!(msg, ServerMessage::Unknown, "{example} parsed as unknown");
            let back = serde_json::to_value(&msg).unwrap();
            assert_eq!(back, example, "re-serialised fields differ");
            assert_eq!(msg.type_name(), example["type"]);
        }
    }

    #[test]
    fn seed_examples_parse_into_the_expected_variants() {
        let examples: Vec<ServerMessage> = serde_json::from_str(SEED).unwrap();
        assert!(
            matches!(&examples[0], ServerMessage::SnapshotUpdate(s) if s.epoch == 123 && s.hash == "abc123...")
        );
        assert!(
            matches!(&examples[1], ServerMessage::CorridorUpdate(c) if c.corridor_key == "USDC:issuer->EURC:issuer" && c.total_transactions == 1000)
        );
        assert!(
            matches!(&examples[2], ServerMessage::AnchorUpdate(a) if a.status == AnchorStatus::Green && a.reliability_score == 98.5)
        );
        assert_eq!(
            examples[3],
            ServerMessage::Ping {
                timestamp: 1234567890
            }
        );
        assert_eq!(
            examples[4],
            ServerMessage::Pong {
                timestamp: 1234567890
            }
        );
        assert!(
            matches!(&examples[5], ServerMessage::Connected { connection_id, seq: None, .. } if connection_id == "uuid")
        );
        assert!(matches!(
            &examples[6],
            ServerMessage::Error { code: None, .. }
        ));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let msg = ServerMessage::from_json(
            r#"{"type":"ping","timestamp":5,"extra":{"nested":[1,2]},"another":"x"}"#,
        )
        .unwrap();
        assert_eq!(msg, ServerMessage::Ping { timestamp: 5 });
        let msg =
            ClientMessage::from_json(r#"{"type":"subscribe","topics":["anchors"],"v":2}"#).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Subscribe {
                topics: vec![Topic::Anchors],
                state: None,
            }
        );
    }

    #[test]
    fn unknown_type_parses_as_unknown_not_error() {
        let msg = ServerMessage::from_json(r#"{"type":"market_update","price":1}"#).unwrap();
        assert_eq!(msg, ServerMessage::Unknown);
        assert_eq!(
            peek_type(r#"{"type":"market_update","price":1}"#).as_deref(),
            Some("market_update")
        );
        let msg = ClientMessage::from_json(r#"{"type":"hello"}"#).unwrap();
        assert_eq!(msg, ClientMessage::Unknown);
    }

    #[test]
    fn malformed_frames_are_errors() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"no_type":1}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"ping","timestamp":"soon"}"#,
            r#"{"type":"anchor_update","anchor_id":"a","name":"n","reliability_score":1,"status":"blue"}"#,
        ] {
            assert!(
                ServerMessage::from_json(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
        assert!(ClientMessage::from_json(r#"{"type":"subscribe","topics":["nope"]}"#).is_err());
        assert!(ClientMessage::from_json(r#"{"type":"subscribe","topics":"anchors"}"#).is_err());
    }

    #[test]
    fn v1_additions_are_serialised_when_present() {
        let msg = ServerMessage::Connected {
            connection_id: "c".into(),
            protocol: Some(PROTOCOL_VERSION),
            heartbeat_ms: Some(30_000),
            seq: Some(42),
            resumed: Some(false),
        };
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            json!({"type":"connected","connection_id":"c","protocol":1,"heartbeat_ms":30000,"seq":42,"resumed":false})
        );
        let msg = ServerMessage::ResyncRequired {
            reason: Some(ResyncReason::Pruned),
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"resync_required","reason":"pruned"}"#
        );
        assert_eq!(
            ServerMessage::from_json(r#"{"type":"resync_required"}"#)
                .unwrap()
                .type_name(),
            "resync_required"
        );
    }

    #[test]
    fn client_messages_have_the_documented_json() {
        let sub = ClientMessage::Subscribe {
            topics: vec![
                Topic::Snapshots,
                Topic::Corridor("USDC:GA->EURC:GB".into()),
                Topic::Anchor("id-1".into()),
            ],
            state: None,
        };
        assert_eq!(
            sub.to_json(),
            r#"{"type":"subscribe","topics":["snapshots","corridor:USDC:GA->EURC:GB","anchor:id-1"]}"#
        );
        assert_eq!(ClientMessage::from_json(&sub.to_json()).unwrap(), sub);
        assert_eq!(
            ClientMessage::Pong { timestamp: Some(7) }.to_json(),
            r#"{"type":"pong","timestamp":7}"#
        );
    }

    #[test]
    fn subscribe_with_state_is_opt_in_and_checked() {
        let text = r#"{"type":"subscribe","topics":["corridors","anchors"],"state":true}"#;
        let msg = ClientMessage::from_json(text).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Subscribe {
                topics: vec![Topic::Corridors, Topic::Anchors],
                state: Some(true),
            }
        );
        assert_eq!(msg.to_json(), text);
        // A v1 subscribe has no `state` and re-serialises without it.
        let v1 = ClientMessage::from_json(r#"{"type":"subscribe","topics":[]}"#).unwrap();
        assert_eq!(v1.to_json(), r#"{"type":"subscribe","topics":[]}"#);
        for bad in [r#""yes""#, "1", "[]"] {
            let text = ["{\"type\":\"subscribe\",\"topics\":[],\"state\":", bad, "}"].concat();
            assert!(ClientMessage::from_json(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn state_frames_and_deltas_have_the_documented_json() {
        let chunk = ServerMessage::State(StateChunk {
            seq: 12,
            corridors: vec![CorridorUpdate {
                corridor_id: "i".into(),
                corridor_key: "A:G->B:G".into(),
                success_rate: 90.0,
                volume_usd: 1.5,
                total_transactions: 4,
                seq: None,
                r#ref: Some(1),
                conflated: None,
            }],
            anchors: vec![],
            snapshot: None,
            done: true,
        });
        assert_eq!(
            chunk.to_json(),
            r#"{"type":"state","seq":12,"corridors":[{"corridor_key":"A:G->B:G","corridor_id":"i","success_rate":90.0,"volume_usd":1.5,"total_transactions":4,"ref":1}],"anchors":[],"done":true}"#
        );
        assert_eq!(chunk.seq(), Some(12));
        let delta = ServerMessage::CorridorDelta(CorridorDelta {
            r#ref: 1,
            seq: 13,
            success_rate: None,
            volume_usd: Some(2.0),
            total_transactions: None,
            conflated: Some(true),
        });
        assert_eq!(
            delta.to_json(),
            r#"{"type":"corridor_delta","ref":1,"seq":13,"v":2.0,"conflated":true}"#
        );
        assert_eq!(ServerMessage::from_json(&delta.to_json()).unwrap(), delta);
        // A delta with no changed field is still a frame: it moves the key's version.
        let empty = ServerMessage::AnchorDelta(AnchorDelta {
            r#ref: 2,
            seq: 14,
            name: None,
            reliability_score: None,
            status: None,
            conflated: None,
        });
        assert_eq!(
            empty.to_json(),
            r#"{"type":"anchor_delta","ref":2,"seq":14}"#
        );
        assert_eq!(empty.seq(), Some(14));
        // Every changed field under its one-letter name; the full frames' long
        // names are unknown members of a delta (ignored, as every unknown field).
        let full = ServerMessage::AnchorDelta(AnchorDelta {
            r#ref: 2,
            seq: 15,
            name: Some("N".into()),
            reliability_score: Some(97.5),
            status: Some(AnchorStatus::Red),
            conflated: None,
        });
        assert_eq!(
            full.to_json(),
            r#"{"type":"anchor_delta","ref":2,"seq":15,"n":"N","r":97.5,"s":"red"}"#
        );
        assert_eq!(ServerMessage::from_json(&full.to_json()).unwrap(), full);
        let long = r#"{"type":"corridor_delta","ref":1,"seq":16,"success_rate":1.0,"volume_usd":2.0,"total_transactions":3}"#;
        assert_eq!(
            ServerMessage::from_json(long).unwrap(),
            ServerMessage::CorridorDelta(CorridorDelta {
                r#ref: 1,
                seq: 16,
                success_rate: None,
                volume_usd: None,
                total_transactions: None,
                conflated: None,
            })
        );
    }

    #[test]
    fn a_pong_without_timestamp_parses() {
        // `wscat` users and clients of the system we replace answer `{"type":"pong"}`.
        for text in [r#"{"type":"pong"}"#, r#"{"type":"pong","timestamp":null}"#] {
            assert_eq!(
                ClientMessage::from_json(text).unwrap(),
                ClientMessage::Pong { timestamp: None },
                "{text}"
            );
        }
        assert_eq!(
            ClientMessage::Pong { timestamp: None }.to_json(),
            r#"{"type":"pong"}"#
        );
    }

    #[test]
    fn topics_parse_display_and_match() {
        for s in [
            "snapshots",
            "corridors",
            "anchors",
            "corridor:A:B->C:D",
            "anchor:x",
        ] {
            assert_eq!(s.parse::<Topic>().unwrap().to_string(), s);
        }
        for bad in ["", "corridor:", "anchor:", "snapshot", "x:y"] {
            assert!(bad.parse::<Topic>().is_err(), "{bad:?}");
        }
        let c = ServerMessage::CorridorUpdate(CorridorUpdate {
            corridor_id: "1".into(),
            corridor_key: "A:B->C:D".into(),
            success_rate: 1.0,
            volume_usd: 2.0,
            total_transactions: 3,
            seq: Some(9),
            r#ref: None,
            conflated: None,
        });
        assert!(Topic::Corridors.matches(&c));
        assert!(Topic::Corridor("A:B->C:D".into()).matches(&c));
        assert!(!Topic::Corridor("other".into()).matches(&c));
        assert!(!Topic::Anchors.matches(&c));
        assert_eq!(c.seq(), Some(9));
    }
}
