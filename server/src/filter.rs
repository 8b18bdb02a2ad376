//! A connection's subscription, matched against an update's kind and key only.

use std::collections::HashSet;

use stellar_insights_ws::protocol::Topic;

use crate::hub::{Update, UpdateKind};

/// Topics a connection wants. Starts as "everything" (no `subscribe` yet, seed behaviour).
#[derive(Debug, Default)]
pub struct Subscriptions {
    explicit: bool,
    snapshots: bool,
    corridors: bool,
    anchors: bool,
    corridor_keys: HashSet<String>,
    anchor_ids: HashSet<String>,
}

impl Subscriptions {
    /// Everything, until the first `subscribe` or `unsubscribe`.
    pub fn everything() -> Subscriptions {
        Subscriptions::default()
    }

    // The first change turns "everything" into an explicit set: empty before a
    // subscribe, all three kinds before an unsubscribe.
    fn make_explicit(&mut self, all: bool) {
        if !self.explicit {
            self.explicit = true;
            self.snapshots = all;
            self.corridors = all;
            self.anchors = all;
        }
    }

    /// Adds topics.
    pub fn subscribe(&mut self, topics: &[Topic]) {
        self.make_explicit(false);
        for t in topics {
            self.set(t, true);
        }
    }

    /// Removes topics. Removing `corridor:<key>` does not carve it out of `corridors`.
    pub fn unsubscribe(&mut self, topics: &[Topic]) {
        self.make_explicit(true);
        for t in topics {
            self.set(t, false);
        }
    }

    fn set(&mut self, t: &Topic, on: bool) {
        match t {
            Topic::Snapshots => self.snapshots = on,
            Topic::Corridors => self.corridors = on,
            Topic::Anchors => self.anchors = on,
            Topic::Corridor(k) if on => {
                self.corridor_keys.insert(k.clone());
            }
            Topic::Corridor(k) => {
                self.corridor_keys.remove(k);
            }
            Topic::Anchor(id) if on => {
                self.anchor_ids.insert(id.clone());
            }
            Topic::Anchor(id) => {
                self.anchor_ids.remove(id);
            }
        }
    }

    /// Whether `update` goes to this connection.
    pub fn matches(&self, update: &Update) -> bool {
        if !self.explicit {
            return true;
        }
        match update.kind {
            UpdateKind::Snapshot => self.snapshots,
            UpdateKind::Corridor => self.corridors || self.corridor_keys.contains(&*update.key),
            UpdateKind::Anchor => self.anchors || self.anchor_ids.contains(&*update.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upd(kind: UpdateKind, key: &str) -> Update {
        Update {
            seq: 1,
            kind,
            key: key.into(),
            json: "{}".into(),
        }
    }

    #[test]
    fn no_subscription_means_everything() {
        let s = Subscriptions::everything();
        assert!(
            s.matches(&upd(UpdateKind::Snapshot, "s")) && s.matches(&upd(UpdateKind::Anchor, "a"))
        );
    }

    #[test]
    fn subscribe_narrows_by_kind_and_key() {
        let mut s = Subscriptions::everything();
        s.subscribe(&[Topic::Snapshots, Topic::Corridor("K1".into())]);
        assert!(s.matches(&upd(UpdateKind::Snapshot, "s")));
        assert!(s.matches(&upd(UpdateKind::Corridor, "K1")));
        assert!(!s.matches(&upd(UpdateKind::Corridor, "K2")));
        assert!(!s.matches(&upd(UpdateKind::Anchor, "a")));
        s.unsubscribe(&[Topic::Corridor("K1".into())]);
        assert!(!s.matches(&upd(UpdateKind::Corridor, "K1")));
    }

    #[test]
    fn unsubscribe_first_removes_from_everything() {
        let mut s = Subscriptions::everything();
        s.unsubscribe(&[Topic::Anchors]);
        assert!(!s.matches(&upd(UpdateKind::Anchor, "a")));
        assert!(
            s.matches(&upd(UpdateKind::Corridor, "k"))
                && s.matches(&upd(UpdateKind::Snapshot, "s"))
        );
    }
}
