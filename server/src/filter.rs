//! A connection's subscription, matched against an update's kind and key only.

use std::collections::HashSet;

use stellar_insights_protocol::Topic;

use crate::hub::{Update, UpdateKind};
use crate::state::Want;

/// Keyed topics (`corridor:<key>` plus `anchor:<id>`) one connection may hold,
/// count. Value 1024. Without a cap a client could grow server memory by
/// ~64 KiB of keys per frame, 50 frames a second, for as long as it stays.
pub const MAX_KEYS: usize = 1024;

/// `subscribe` named more keyed topics than [`MAX_KEYS`] allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyKeys {
    /// Keyed topics that were not added, count.
    pub refused: usize,
}

/// Topics a connection wants. Starts as "everything" (no `subscribe` yet, seed behaviour).
#[derive(Debug, Default, Clone)]
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

    /// Adds topics. Keyed topics beyond [`MAX_KEYS`] are refused (the rest
    /// are still added) and counted in the error.
    pub fn subscribe(&mut self, topics: &[Topic]) -> Result<(), TooManyKeys> {
        self.make_explicit(false);
        let mut refused = 0;
        for t in topics {
            let keyed = matches!(t, Topic::Corridor(_) | Topic::Anchor(_));
            if keyed && self.key_count() >= MAX_KEYS && !self.has(t) {
                refused += 1;
                continue;
            }
            self.set(t, true);
        }
        if refused == 0 {
            Ok(())
        } else {
            Err(TooManyKeys { refused })
        }
    }

    /// Keyed topics held, count (at most [`MAX_KEYS`]).
    pub fn key_count(&self) -> usize {
        self.corridor_keys.len() + self.anchor_ids.len()
    }

    fn has(&self, t: &Topic) -> bool {
        match t {
            Topic::Corridor(k) => self.corridor_keys.contains(k),
            Topic::Anchor(id) => self.anchor_ids.contains(id),
            _ => false,
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

    /// Whether the subscription holds `t` itself (a keyed topic refused over
    /// [`MAX_KEYS`] is not held; `corridors` does not hold `corridor:<key>`).
    pub fn holds(&self, t: &Topic) -> bool {
        if !self.explicit {
            return true;
        }
        match t {
            Topic::Snapshots => self.snapshots,
            Topic::Corridors => self.corridors,
            Topic::Anchors => self.anchors,
            _ => self.has(t),
        }
    }

    /// The records this subscription covers, for a conflated catch-up.
    pub fn want(&self) -> Want {
        if !self.explicit {
            return Want {
                snapshot: true,
                corridors: Some(None),
                anchors: Some(None),
            };
        }
        let sel = |all: bool, keys: &HashSet<String>| match (all, keys.is_empty()) {
            (true, _) => Some(None),
            (false, true) => None,
            (false, false) => Some(Some(keys.iter().cloned().collect())),
        };
        Want {
            snapshot: self.snapshots,
            corridors: sel(self.corridors, &self.corridor_keys),
            anchors: sel(self.anchors, &self.anchor_ids),
        }
    }

    /// Whether every update of `kind` goes to this connection, whatever its key.
    pub fn wants_all(&self, kind: UpdateKind) -> bool {
        !self.explicit
            || match kind {
                UpdateKind::Snapshot => self.snapshots,
                UpdateKind::Corridor => self.corridors,
                UpdateKind::Anchor => self.anchors,
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
        Update::new(1, kind, key, "{}".into())
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
        assert_eq!(
            s.subscribe(&[Topic::Snapshots, Topic::Corridor("K1".into())]),
            Ok(())
        );
        assert!(s.matches(&upd(UpdateKind::Snapshot, "s")));
        assert!(s.matches(&upd(UpdateKind::Corridor, "K1")));
        assert!(!s.matches(&upd(UpdateKind::Corridor, "K2")));
        assert!(!s.matches(&upd(UpdateKind::Anchor, "a")));
        s.unsubscribe(&[Topic::Corridor("K1".into())]);
        assert!(!s.matches(&upd(UpdateKind::Corridor, "K1")));
    }

    #[test]
    fn keyed_topics_beyond_the_cap_are_refused_and_counted() {
        let mut s = Subscriptions::everything();
        let topics: Vec<Topic> = (0..MAX_KEYS + 10)
            .map(|i| Topic::Corridor(format!("K{i}")))
            .collect();
        assert_eq!(s.subscribe(&topics), Err(TooManyKeys { refused: 10 }));
        assert_eq!(s.key_count(), MAX_KEYS);
        assert!(s.matches(&upd(UpdateKind::Corridor, "K0")));
        assert!(!s.matches(&upd(UpdateKind::Corridor, &format!("K{}", MAX_KEYS))));
        // Re-subscribing a held key and kind topics still work at the cap.
        assert_eq!(
            s.subscribe(&[Topic::Corridor("K0".into()), Topic::Anchors]),
            Ok(())
        );
        s.unsubscribe(&[Topic::Corridor("K0".into())]);
        assert_eq!(s.subscribe(&[Topic::Anchor("A".into())]), Ok(()));
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
