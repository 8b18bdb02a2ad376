//! The machine's state mode ([`Config::state`]): it asks for the current
//! records after every `connected`, keeps them in a [`Store`], completes
//! field deltas before delivery and lets each key's version (not the global
//! last `seq`) decide what is new. See [`crate::store`] for the rules.

use super::*;
use crate::store::{Map, StoreError};

/// State requests remembered as unanswered per connection, count. 16 (the
/// server answers past that many merged into one).
const MAX_PENDING_STATE: usize = 16;

/// What the state-mode part of the machine keeps.
#[derive(Default)]
pub(super) struct Live {
    pub(super) store: Store,
    /// State answers asked for on this connection and not yet complete, in
    /// the order asked: `true` for one covering every subscribed topic.
    requests: Vec<bool>,
    /// Maps re-requested after an unknown `ref` (bit per [`Map`]), so a burst
    /// of such deltas asks once.
    rerequested: u8,
    /// The store's revision last announced with [`Action::StateChanged`].
    announced: u64,
}

impl Machine {
    /// The server topics of this connection, spelled out (never subscribed:
    /// everything, i.e. the three kinds).
    fn planned_topics(&self) -> Vec<Topic> {
        match &self.sent_topics {
            Some(topics) => topics.iter().cloned().collect(),
            None => vec![Topic::Snapshots, Topic::Corridors, Topic::Anchors],
        }
    }

    /// A new socket opened: its `ref`s start afresh.
    pub(super) fn live_opened(&mut self) {
        self.live.store.new_connection();
        self.live.requests.clear();
        self.live.rerequested = 0;
    }

    /// `connected` arrived: ask for the state of everything subscribed.
    pub(super) fn live_connected(&mut self, out: &mut Vec<Action>) {
        if self.config.state {
            let topics = self.planned_topics();
            self.request_state(&topics, true, out);
        }
    }

    fn request_state(&mut self, topics: &[Topic], full: bool, out: &mut Vec<Action>) {
        if !topics.is_empty() {
            // Bounded: the oldest are forgotten (see `live_state`).
            if self.live.requests.len() >= MAX_PENDING_STATE {
                self.live.requests.remove(0);
            }
            self.live.requests.push(full);
            out.push(Action::Send(outgoing::subscribe_state(topics)));
        }
    }

    /// Topics were added while open: their state too.
    pub(super) fn live_added(&mut self, added: &[Topic], out: &mut Vec<Action>) {
        if self.config.state && self.connection_id.is_some() {
            self.request_state(added, false, out);
        }
    }

    /// Keep only the keys the connection's topics still cover.
    pub(super) fn live_trim(&mut self, topics: &TopicSet) {
        self.live.store.retain(|map, key| match map {
            Map::Snapshot => topics.contains(&Topic::Snapshots),
            Map::Corridors => {
                topics.contains(&Topic::Corridors)
                    || topics.contains(&Topic::Corridor(String::from(key)))
            }
            Map::Anchors => {
                topics.contains(&Topic::Anchors)
                    || topics.contains(&Topic::Anchor(String::from(key)))
            }
        });
    }

    /// Announce a changed store once per event.
    pub(super) fn live_announce(&mut self, out: &mut Vec<Action>) {
        let revision = self.live.store.revision();
        if revision != self.live.announced {
            self.live.announced = revision;
            out.push(Action::StateChanged);
        }
    }

    fn mismatch(&self, error: &StoreError, out: &mut Vec<Action>) {
        out.push(Action::Error(ClientError::new(
            ErrorCode::StateMismatch,
            error.message(),
        )));
    }

    /// A full update on a state connection: whether to deliver it (its `seq`
    /// is newer than the key's version).
    #[inline(never)]
    pub(super) fn live_update(&mut self, kind: Kind, text: &str, seq: Option<u64>) -> bool {
        let Some(map) = Map::of_update(kind) else {
            return true;
        };
        // The frame reader accepted the text: the store reads it too.
        let fresh = self.live.store.update(map, text).unwrap_or(true);
        if fresh {
            if let Some(seq) = seq {
                self.last_seq = self.last_seq.max(Some(seq));
            }
        }
        fresh
    }

    /// A `state` chunk.
    #[inline(never)]
    pub(super) fn live_state(&mut self, text: &str, out: &mut Vec<Action>) {
        let chunk = match self.live.store.state(text) {
            Ok(chunk) => chunk,
            Err(e) => return self.mismatch(&e, out),
        };
        for e in &chunk.errors {
            self.mismatch(e, out);
        }
        if chunk.done {
            // An answer that covered every subscribed topic brings the client
            // up to S: a resume need not replay below it. (A server may merge
            // many pending requests into one answer: then later ones are
            // never answered on their own, which costs only that move.)
            if !self.live.requests.is_empty() && self.live.requests.remove(0) {
                self.last_seq = self.last_seq.max(Some(chunk.seq));
            }
            // Any complete answer may re-arm re-requests: at worst one more.
            self.live.rerequested = 0;
        }
    }

    /// A field delta: the complete update to deliver, if it applies.
    #[inline(never)]
    pub(super) fn live_delta(&mut self, kind: Kind, text: &str, out: &mut Vec<Action>) {
        let map = if kind == Kind::CorridorDelta {
            Map::Corridors
        } else {
            Map::Anchors
        };
        let rebuilt = match self.live.store.delta(map, text) {
            Ok(Some(rebuilt)) => rebuilt,
            Ok(None) => return,
            Err(e) => {
                self.mismatch(&e, out);
                if let StoreError::UnknownRef(..) = e {
                    self.rerequest(map, out);
                }
                return;
            }
        };
        self.last_seq = self.last_seq.max(Some(rebuilt.seq));
        let kind = map.update_kind();
        let to = self.registry.route(kind, Some(&rebuilt.key));
        let text = Rc::new(rebuilt.text);
        self.last_message = Some(text.clone());
        if !to.is_empty() {
            out.push(Action::Deliver(Delivery {
                text,
                kind,
                seq: Some(rebuilt.seq),
                to,
                rebuilt: true,
            }));
        }
    }

    /// Ask again for the state of every subscribed topic of `map`'s kind,
    /// once until the answers arrive.
    fn rerequest(&mut self, map: Map, out: &mut Vec<Action>) {
        let bit = 1 << map as u8;
        if self.live.rerequested & bit != 0 {
            return;
        }
        self.live.rerequested |= bit;
        let topics: Vec<Topic> = self
            .planned_topics()
            .into_iter()
            .filter(|t| match map {
                Map::Corridors => matches!(t, Topic::Corridors | Topic::Corridor(_)),
                _ => matches!(t, Topic::Anchors | Topic::Anchor(_)),
            })
            .collect();
        self.request_state(&topics, false, out);
    }

    /// Turn state mode on (or keep it on): when connected, ask for the state
    /// at once rather than after the next `connected`. The server keeps a
    /// connection in state mode for its life, so it is never turned off.
    pub fn enable_state(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.config.state {
            self.config.state = true;
            if self.connection_id.is_some() {
                self.live_connected(&mut out);
            }
        }
        out
    }

    /// The current records as one JSON object (see [`Store::to_json`]).
    pub fn state_json(&self) -> String {
        self.live.store.to_json()
    }

    /// The keyed store (state mode).
    pub fn store(&self) -> &Store {
        &self.live.store
    }
}

#[cfg(test)]
#[path = "machine_state_tests.rs"]
mod tests;
