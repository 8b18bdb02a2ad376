//! Subscriptions and routing: which subscribers get a frame, and which server
//! topics the page as a whole needs.
//!
//! A [`Filter`] is what JS passes to `subscribe`. Its meaning:
//! - `types` lists the message types wanted; absent or empty means every
//!   server frame except `ping`/`pong` (the client answers those itself), unless
//!   key lists are given, which then imply their own update type
//!   (`corridorKeys` → `corridor_update`, `anchorIds` → `anchor_update`).
//! - `corridorKeys` / `anchorIds`, when non-empty, narrow `corridor_update` /
//!   `anchor_update` to those keys; other types are unaffected.

use crate::protocol::{ServerMessage, Topic};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;

/// Id of one subscriber, handed out by the caller. Unit-less counter.
pub type SubscriberId = u32;

/// A subscriber's filter as JS passes it to `subscribe`. Every field is
/// optional; the empty filter receives every frame but `ping`/`pong`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Message types wanted, e.g. `["corridor_update"]`. Default: all but ping/pong.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional, type = "MessageType[]"))]
    pub types: Option<Vec<String>>,
    /// Only `corridor_update`s with these `corridor_key`s. Default: any key.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub corridor_keys: Option<Vec<String>>,
    /// Only `anchor_update`s with these `anchor_id`s. Default: any id.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub anchor_ids: Option<Vec<String>>,
}

/// A filter named a message type that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown message type {:?} in filter; expected one of ",
            self.0
        )?;
        f.write_str(&KINDS.join(", "))
    }
}

impl std::error::Error for FilterError {}

/// Wire names of the server frame types, in bit order of [`kind_bit`].
const KINDS: [&str; 8] = [
    "connected",
    "ping",
    "pong",
    "snapshot_update",
    "corridor_update",
    "anchor_update",
    "error",
    "resync_required",
];
const PING_PONG: u16 = 0b110;
const ALL: u16 = (1 << KINDS.len()) - 1;

fn kind_bit(name: &str) -> Option<u16> {
    KINDS.iter().position(|k| *k == name).map(|i| 1 << i)
}

/// What the page needs from the server, as the union of all subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPlan {
    /// Every update: send no `subscribe` (the protocol's default).
    Everything,
    /// Only these topics (never empty, never covering all three kinds).
    Only(BTreeSet<Topic>),
}

#[derive(Debug, Clone)]
struct Matcher {
    kinds: u16,
    corridor_keys: BTreeSet<String>,
    anchor_ids: BTreeSet<String>,
}

impl Matcher {
    fn compile(filter: &Filter) -> Result<Self, FilterError> {
        let list =
            |v: &Option<Vec<String>>| -> BTreeSet<String> { v.iter().flatten().cloned().collect() };
        let corridor_keys = list(&filter.corridor_keys);
        let anchor_ids = list(&filter.anchor_ids);
        let mut kinds = 0;
        for name in filter.types.iter().flatten() {
            kinds |= kind_bit(name).ok_or_else(|| FilterError(name.clone()))?;
        }
        if kinds == 0 {
            if !corridor_keys.is_empty() {
                kinds |= kind_bit("corridor_update").unwrap_or(0);
            }
            if !anchor_ids.is_empty() {
                kinds |= kind_bit("anchor_update").unwrap_or(0);
            }
        }
        if kinds == 0 {
            kinds = ALL & !PING_PONG;
        }
        Ok(Matcher {
            kinds,
            corridor_keys,
            anchor_ids,
        })
    }

    fn wants(&self, msg: &ServerMessage) -> bool {
        let Some(bit) = kind_bit(msg.type_name()) else {
            return false;
        };
        if self.kinds & bit == 0 {
            return false;
        }
        match msg {
            ServerMessage::CorridorUpdate(u) => {
                self.corridor_keys.is_empty() || self.corridor_keys.contains(&u.corridor_key)
            }
            ServerMessage::AnchorUpdate(u) => {
                self.anchor_ids.is_empty() || self.anchor_ids.contains(&u.anchor_id)
            }
            _ => true,
        }
    }

    fn topics(&self, out: &mut BTreeSet<Topic>) {
        let has = |name| self.kinds & kind_bit(name).unwrap_or(0) != 0;
        if has("snapshot_update") {
            out.insert(Topic::Snapshots);
        }
        if has("corridor_update") {
            if self.corridor_keys.is_empty() {
                out.insert(Topic::Corridors);
            }
            out.extend(self.corridor_keys.iter().cloned().map(Topic::Corridor));
        }
        if has("anchor_update") {
            if self.anchor_ids.is_empty() {
                out.insert(Topic::Anchors);
            }
            out.extend(self.anchor_ids.iter().cloned().map(Topic::Anchor));
        }
    }
}

/// The subscribers of the page and their compiled filters, in registration order.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: Vec<(SubscriberId, Matcher)>,
}

impl Registry {
    /// Add (or replace) subscriber `id`. A filter naming an unknown type is
    /// rejected and leaves the registry unchanged.
    pub fn add(&mut self, id: SubscriberId, filter: &Filter) -> Result<(), FilterError> {
        let matcher = Matcher::compile(filter)?;
        self.remove(id);
        self.entries.push((id, matcher));
        Ok(())
    }

    /// Remove subscriber `id`; `false` when it was not registered.
    pub fn remove(&mut self, id: SubscriberId) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(i, _)| *i != id);
        self.entries.len() != before
    }

    /// Remove every subscriber.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no subscribers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The subscribers to call for `msg`, in registration order.
    pub fn route(&self, msg: &ServerMessage) -> Vec<SubscriberId> {
        self.entries
            .iter()
            .filter(|(_, m)| m.wants(msg))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The server topics the subscribers need together.
    pub fn plan(&self) -> TopicPlan {
        let mut topics = BTreeSet::new();
        for (_, m) in &self.entries {
            m.topics(&mut topics);
        }
        if topics.contains(&Topic::Corridors) {
            topics.retain(|t| !matches!(t, Topic::Corridor(_)));
        }
        if topics.contains(&Topic::Anchors) {
            topics.retain(|t| !matches!(t, Topic::Anchor(_)));
        }
        let everything = [Topic::Snapshots, Topic::Corridors, Topic::Anchors]
            .iter()
            .all(|t| topics.contains(t));
        // No subscriber wanting updates at all: keep the protocol default rather
        // than subscribing to nothing, so `lastMessage()` still sees updates.
        if everything || topics.is_empty() {
            TopicPlan::Everything
        } else {
            TopicPlan::Only(topics)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AnchorStatus, AnchorUpdate, CorridorUpdate, SnapshotUpdate};

    fn corridor(key: &str) -> ServerMessage {
        ServerMessage::CorridorUpdate(CorridorUpdate {
            corridor_id: "c".into(),
            corridor_key: key.into(),
            success_rate: 99.0,
            volume_usd: 1.0,
            total_transactions: 1,
            seq: Some(1),
        })
    }

    fn anchor(id: &str) -> ServerMessage {
        ServerMessage::AnchorUpdate(AnchorUpdate {
            anchor_id: id.into(),
            name: "n".into(),
            reliability_score: 90.0,
            status: AnchorStatus::Green,
            seq: Some(2),
        })
    }

    fn snapshot() -> ServerMessage {
        ServerMessage::SnapshotUpdate(SnapshotUpdate {
            snapshot_id: "s".into(),
            epoch: 1,
            timestamp: "2026-01-01T00:00:00Z".into(),
            hash: "h".into(),
            seq: Some(3),
        })
    }

    fn filter(types: &[&str], corridors: &[&str], anchors: &[&str]) -> Filter {
        let v = |xs: &[&str]| Some(xs.iter().map(|s| s.to_string()).collect());
        Filter {
            types: v(types),
            corridor_keys: v(corridors),
            anchor_ids: v(anchors),
        }
    }

    fn topics(ts: &[&str]) -> TopicPlan {
        TopicPlan::Only(ts.iter().map(|t| t.parse().unwrap()).collect())
    }

    #[test]
    fn empty_filter_gets_everything_but_ping_and_pong() {
        let mut r = Registry::default();
        r.add(1, &Filter::default()).unwrap();
        for msg in [
            corridor("A"),
            anchor("x"),
            snapshot(),
            ServerMessage::ResyncRequired { reason: None },
        ] {
            assert_eq!(r.route(&msg), [1], "{msg:?}");
        }
        assert!(r.route(&ServerMessage::Ping { timestamp: 1 }).is_empty());
        assert!(r.route(&ServerMessage::Pong { timestamp: 1 }).is_empty());
        assert_eq!(r.plan(), TopicPlan::Everything);
    }

    #[test]
    fn type_filter_delivers_only_listed_types() {
        let mut r = Registry::default();
        r.add(1, &filter(&["corridor_update", "connected"], &[], &[]))
            .unwrap();
        assert_eq!(r.route(&corridor("A")), [1]);
        assert!(r.route(&anchor("x")).is_empty());
        assert!(r.route(&snapshot()).is_empty());
        let connected = ServerMessage::from_json(r#"{"type":"connected","connection_id":"c"}"#);
        assert_eq!(r.route(&connected.unwrap()), [1]);
        assert_eq!(r.plan(), topics(&["corridors"]));
    }

    #[test]
    fn key_filter_narrows_its_update_type_only() {
        let mut r = Registry::default();
        r.add(
            1,
            &filter(&["corridor_update", "snapshot_update"], &["A"], &[]),
        )
        .unwrap();
        assert_eq!(r.route(&corridor("A")), [1]);
        assert!(r.route(&corridor("B")).is_empty());
        assert_eq!(r.route(&snapshot()), [1]);
        assert_eq!(r.plan(), topics(&["snapshots", "corridor:A"]));
    }

    #[test]
    fn key_lists_without_types_imply_their_update_types() {
        let mut r = Registry::default();
        r.add(1, &filter(&[], &["A"], &["x"])).unwrap();
        assert_eq!(r.route(&corridor("A")), [1]);
        assert_eq!(r.route(&anchor("x")), [1]);
        assert!(r.route(&anchor("y")).is_empty());
        assert!(r.route(&snapshot()).is_empty());
        assert_eq!(r.plan(), topics(&["anchor:x", "corridor:A"]));
    }

    #[test]
    fn ping_is_delivered_when_listed_explicitly() {
        let mut r = Registry::default();
        r.add(1, &filter(&["ping"], &[], &[])).unwrap();
        assert_eq!(r.route(&ServerMessage::Ping { timestamp: 1 }), [1]);
    }

    #[test]
    fn routes_to_every_matching_subscriber_in_order() {
        let mut r = Registry::default();
        r.add(7, &filter(&[], &["A"], &[])).unwrap();
        r.add(3, &Filter::default()).unwrap();
        r.add(5, &filter(&["anchor_update"], &[], &[])).unwrap();
        assert_eq!(r.route(&corridor("A")), [7, 3]);
        assert_eq!(r.route(&anchor("x")), [3, 5]);
    }

    #[test]
    fn unknown_type_in_filter_is_rejected_and_changes_nothing() {
        let mut r = Registry::default();
        r.add(1, &filter(&["corridor_update"], &[], &[])).unwrap();
        let err = r
            .add(1, &filter(&["corridor_updates"], &[], &[]))
            .unwrap_err();
        assert!(err.to_string().contains("corridor_updates"));
        assert_eq!(r.route(&corridor("A")), [1]);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn whole_kind_topic_absorbs_its_key_topics() {
        let mut r = Registry::default();
        r.add(1, &filter(&[], &["A"], &[])).unwrap();
        r.add(2, &filter(&["corridor_update"], &[], &[])).unwrap();
        assert_eq!(r.plan(), topics(&["corridors"]));
    }

    #[test]
    fn union_covering_all_kinds_means_no_subscribe() {
        let mut r = Registry::default();
        r.add(1, &filter(&["snapshot_update"], &[], &[])).unwrap();
        r.add(2, &filter(&["corridor_update", "anchor_update"], &[], &[]))
            .unwrap();
        assert_eq!(r.plan(), TopicPlan::Everything);
    }

    #[test]
    fn subscribers_wanting_no_updates_keep_the_default() {
        let mut r = Registry::default();
        assert_eq!(r.plan(), TopicPlan::Everything);
        r.add(1, &filter(&["connected", "error"], &[], &[]))
            .unwrap();
        assert_eq!(r.plan(), TopicPlan::Everything);
    }

    #[test]
    fn removing_a_subscriber_stops_its_delivery_and_topics() {
        let mut r = Registry::default();
        r.add(1, &filter(&[], &["A"], &[])).unwrap();
        r.add(2, &filter(&[], &[], &["x"])).unwrap();
        assert!(r.remove(1));
        assert!(!r.remove(1));
        assert!(r.route(&corridor("A")).is_empty());
        assert_eq!(r.plan(), topics(&["anchor:x"]));
    }

    #[test]
    fn filter_json_uses_camel_case_and_tolerates_missing_fields() {
        let f: Filter =
            serde_json::from_str(r#"{"types":["anchor_update"],"anchorIds":["x"]}"#).unwrap();
        assert_eq!(
            f,
            filter(&["anchor_update"], &[], &["x"]).with_no_corridors()
        );
        let f: Filter = serde_json::from_str("{}").unwrap();
        assert_eq!(f, Filter::default());
    }

    impl Filter {
        fn with_no_corridors(mut self) -> Self {
            self.corridor_keys = None;
            self
        }
    }
}
