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

use crate::frame::Kind;
use crate::protocol::Topic;
use serde::Deserialize;
use std::fmt;

/// Id of one subscriber, handed out by the caller. Unit-less counter.
pub type SubscriberId = u32;

/// A subscriber's filter as JS passes it to `subscribe`. Every field is
/// optional; the empty filter receives every frame but `ping`/`pong`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Message types wanted, e.g. `["corridor_update"]`. Default: all but ping/pong.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional, type = "MessageType[]"))]
    pub types: Option<Vec<String>>,
    /// Only `corridor_update`s with these `corridor_key`s. Default: any key.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub corridor_keys: Option<Vec<String>>,
    /// Only `anchor_update`s with these `anchor_id`s. Default: any id.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub anchor_ids: Option<Vec<String>>,
}

/// A filter named a message type that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl FilterError {
    /// The error as shown to the user, listing the valid types.
    pub fn message(&self) -> String {
        let mut out = crate::text::cat(&[
            "unknown message type \"",
            &self.0,
            "\" in filter; expected one of",
        ]);
        for k in Kind::ALL {
            out.push(' ');
            out.push_str(k.name());
        }
        out
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for FilterError {}

const ALL: u16 = (1 << Kind::ALL.len()) - 1;

/// A sorted set of topics without duplicates. A `Vec` underneath: a
/// `BTreeSet` costs about 15 KB of wasm for sets of a handful of items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicSet(Vec<Topic>);

impl TopicSet {
    /// Add `topic` unless present.
    pub fn insert(&mut self, topic: Topic) {
        if let Err(at) = self.0.binary_search(&topic) {
            self.0.insert(at, topic);
        }
    }

    /// Whether `topic` is in the set.
    pub fn contains(&self, topic: &Topic) -> bool {
        self.0.binary_search(topic).is_ok()
    }

    /// Keep only the topics for which `keep` is true.
    pub fn retain(&mut self, keep: impl FnMut(&Topic) -> bool) {
        self.0.retain(keep);
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The topics in order.
    pub fn iter(&self) -> impl Iterator<Item = &Topic> {
        self.0.iter()
    }

    /// Topics of `self` that are not in `other`, in order.
    pub fn difference(&self, other: &TopicSet) -> Vec<Topic> {
        let mut out = Vec::new();
        for topic in &self.0 {
            if !other.contains(topic) {
                out.push(topic.clone());
            }
        }
        out
    }
}

impl FromIterator<Topic> for TopicSet {
    fn from_iter<I: IntoIterator<Item = Topic>>(iter: I) -> Self {
        let mut set = TopicSet::default();
        for topic in iter {
            set.insert(topic);
        }
        set
    }
}

/// What the page needs from the server, as the union of all subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicPlan {
    /// Every update: send no `subscribe` (the protocol's default).
    Everything,
    /// Only these topics (never empty, never covering all three kinds).
    Only(TopicSet),
}

#[derive(Debug, Clone)]
struct Matcher {
    kinds: u16,
    corridor_keys: Vec<String>,
    anchor_ids: Vec<String>,
}

impl Matcher {
    fn compile(filter: &Filter) -> Result<Self, FilterError> {
        let corridor_keys = filter.corridor_keys.clone().unwrap_or_default();
        let anchor_ids = filter.anchor_ids.clone().unwrap_or_default();
        let mut kinds = 0;
        for name in filter.types.iter().flatten() {
            kinds |= Kind::from_name(name)
                .ok_or_else(|| FilterError(name.clone()))?
                .bit();
        }
        if kinds == 0 {
            if !corridor_keys.is_empty() {
                kinds |= Kind::CorridorUpdate.bit();
            }
            if !anchor_ids.is_empty() {
                kinds |= Kind::AnchorUpdate.bit();
            }
        }
        if kinds == 0 {
            kinds = ALL & !(Kind::Ping.bit() | Kind::Pong.bit());
        }
        Ok(Matcher {
            kinds,
            corridor_keys,
            anchor_ids,
        })
    }

    fn wants(&self, kind: Kind, key: Option<&str>) -> bool {
        if self.kinds & kind.bit() == 0 {
            return false;
        }
        let allowed = match kind {
            Kind::CorridorUpdate => &self.corridor_keys,
            Kind::AnchorUpdate => &self.anchor_ids,
            _ => return true,
        };
        allowed.is_empty() || key.is_some_and(|k| allowed.iter().any(|a| a == k))
    }

    fn topics(&self, out: &mut TopicSet) {
        let has = |kind: Kind| self.kinds & kind.bit() != 0;
        if has(Kind::SnapshotUpdate) {
            out.insert(Topic::Snapshots);
        }
        if has(Kind::CorridorUpdate) {
            if self.corridor_keys.is_empty() {
                out.insert(Topic::Corridors);
            }
            for key in &self.corridor_keys {
                out.insert(Topic::Corridor(key.clone()));
            }
        }
        if has(Kind::AnchorUpdate) {
            if self.anchor_ids.is_empty() {
                out.insert(Topic::Anchors);
            }
            for id in &self.anchor_ids {
                out.insert(Topic::Anchor(id.clone()));
            }
        }
    }
}

/// The subscribers of the page and their compiled filters, in registration order.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: Vec<(SubscriberId, Matcher)>,
    /// Every corridor key and anchor id a filter names, sorted, once each:
    /// key `i` has id `i + 1` (see [`Registry::route_named`]).
    named: Vec<String>,
}

impl Registry {
    /// Add (or replace) subscriber `id`. A filter naming an unknown type is
    /// rejected and leaves the registry unchanged.
    pub fn add(&mut self, id: SubscriberId, filter: &Filter) -> Result<(), FilterError> {
        let matcher = Matcher::compile(filter)?;
        self.entries.retain(|(i, _)| *i != id);
        self.entries.push((id, matcher));
        self.name_keys();
        Ok(())
    }

    /// Remove subscriber `id`; `false` when it was not registered.
    pub fn remove(&mut self, id: SubscriberId) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(i, _)| *i != id);
        self.name_keys();
        self.entries.len() != before
    }

    /// Remove every subscriber.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.named.clear();
    }

    fn name_keys(&mut self) {
        self.named.clear();
        for (_, m) in &self.entries {
            for key in m.corridor_keys.iter().chain(&m.anchor_ids) {
                // Sorted insertion: a sort would cost more wasm.
                if let Err(at) = self.named.binary_search(key) {
                    self.named.insert(at, key.clone());
                }
            }
        }
    }

    /// Every corridor key and anchor id some filter names, sorted; the key
    /// at index `i` has id `i + 1` in [`Registry::route_named`]. Changes
    /// only when subscribers are added or removed.
    pub fn named_keys(&self) -> &[String] {
        &self.named
    }

    /// [`Registry::route_into`] for the key with id `key` in
    /// [`Registry::named_keys`]; 0 (or any id not there) is a key no filter
    /// names, which only subscribers without a key list want.
    pub fn route_named(&self, kind: Kind, key: u32, to: &mut Vec<SubscriberId>) {
        let name = (key as usize)
            .checked_sub(1)
            .and_then(|i| self.named.get(i));
        self.route_into(kind, name.map(String::as_str), to);
    }

    /// Number of subscribers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no subscribers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The subscribers to call for a frame of `kind` with `key` (`corridor_key`
    /// or `anchor_id`), in registration order.
    pub fn route(&self, kind: Kind, key: Option<&str>) -> Vec<SubscriberId> {
        let mut to = Vec::new();
        self.route_into(kind, key, &mut to);
        to
    }

    /// [`Registry::route`] into `to` (cleared first), reusing its buffer.
    pub fn route_into(&self, kind: Kind, key: Option<&str>, to: &mut Vec<SubscriberId>) {
        to.clear();
        // A loop: the filter/map/collect chain costs ~0.3 KB more wasm.
        for (id, m) in &self.entries {
            if m.wants(kind, key) {
                to.push(*id);
            }
        }
    }

    /// The server topics the subscribers need together.
    pub fn plan(&self) -> TopicPlan {
        let mut topics = TopicSet::default();
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

    type Msg = (Kind, Option<&'static str>);

    fn corridor(key: &'static str) -> Msg {
        (Kind::CorridorUpdate, Some(key))
    }

    fn anchor(id: &'static str) -> Msg {
        (Kind::AnchorUpdate, Some(id))
    }

    fn snapshot() -> Msg {
        (Kind::SnapshotUpdate, None)
    }

    fn other(kind: Kind) -> Msg {
        (kind, None)
    }

    fn route(r: &Registry, (kind, key): Msg) -> Vec<SubscriberId> {
        r.route(kind, key)
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
            other(Kind::ResyncRequired),
        ] {
            assert_eq!(route(&r, msg), [1], "{msg:?}");
        }
        assert!(route(&r, other(Kind::Ping)).is_empty());
        assert!(route(&r, other(Kind::Pong)).is_empty());
        assert_eq!(r.plan(), TopicPlan::Everything);
    }

    #[test]
    fn type_filter_delivers_only_listed_types() {
        let mut r = Registry::default();
        r.add(1, &filter(&["corridor_update", "connected"], &[], &[]))
            .unwrap();
        assert_eq!(route(&r, corridor("A")), [1]);
        assert!(route(&r, anchor("x")).is_empty());
        assert!(route(&r, snapshot()).is_empty());
        assert_eq!(route(&r, other(Kind::Connected)), [1]);
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
        assert_eq!(route(&r, corridor("A")), [1]);
        assert!(route(&r, corridor("B")).is_empty());
        assert_eq!(route(&r, snapshot()), [1]);
        assert_eq!(r.plan(), topics(&["snapshots", "corridor:A"]));
    }

    #[test]
    fn key_lists_without_types_imply_their_update_types() {
        let mut r = Registry::default();
        r.add(1, &filter(&[], &["A"], &["x"])).unwrap();
        assert_eq!(route(&r, corridor("A")), [1]);
        assert_eq!(route(&r, anchor("x")), [1]);
        assert!(route(&r, anchor("y")).is_empty());
        assert!(route(&r, snapshot()).is_empty());
        assert_eq!(r.plan(), topics(&["anchor:x", "corridor:A"]));
    }

    #[test]
    fn ping_is_delivered_when_listed_explicitly() {
        let mut r = Registry::default();
        r.add(1, &filter(&["ping"], &[], &[])).unwrap();
        assert_eq!(route(&r, other(Kind::Ping)), [1]);
    }

    #[test]
    fn routes_to_every_matching_subscriber_in_order() {
        let mut r = Registry::default();
        r.add(7, &filter(&[], &["A"], &[])).unwrap();
        r.add(3, &Filter::default()).unwrap();
        r.add(5, &filter(&["anchor_update"], &[], &[])).unwrap();
        assert_eq!(route(&r, corridor("A")), [7, 3]);
        assert_eq!(route(&r, anchor("x")), [3, 5]);
    }

    #[test]
    fn unknown_type_in_filter_is_rejected_and_changes_nothing() {
        let mut r = Registry::default();
        r.add(1, &filter(&["corridor_update"], &[], &[])).unwrap();
        let err = r
            .add(1, &filter(&["corridor_updates"], &[], &[]))
            .unwrap_err();
        assert!(err.to_string().contains("corridor_updates"));
        assert_eq!(route(&r, corridor("A")), [1]);
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn unknown_type_error_lists_every_type() {
        assert_eq!(
            FilterError("x".into()).to_string(),
            "unknown message type \"x\" in filter; expected one of connected ping pong \
             snapshot_update corridor_update anchor_update error resync_required state \
             corridor_delta anchor_delta"
        );
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
        assert!(route(&r, corridor("A")).is_empty());
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
