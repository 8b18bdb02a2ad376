//! Client frames (any bytes) into the server's parse and subscription logic,
//! exactly as `ws::connection` applies them. Must never panic; the
//! subscription set stays within its cap whatever is sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stellar_insights_server::filter::Subscriptions;
use stellar_insights_server::hub::{Update, UpdateKind};
use stellar_insights_protocol::{peek_type, ClientMessage};

fuzz_target!(|data: &[u8]| {
    let mut subs = Subscriptions::everything();
    for chunk in data.split(|b| *b == 0xff) {
        let Ok(text) = std::str::from_utf8(chunk) else {
            continue; // a binary frame: answered without parsing
        };
        let _ = peek_type(text);
        match ClientMessage::from_json(text) {
            Ok(ClientMessage::Subscribe { topics }) => {
                let _ = subs.subscribe(&topics);
            }
            Ok(ClientMessage::Unsubscribe { topics }) => subs.unsubscribe(&topics),
            Ok(_) => {}
            Err(e) => {
                let _ = e.to_string();
            }
        }
        assert!(subs.key_count() <= stellar_insights_server::filter::MAX_KEYS);
        for kind in [
            UpdateKind::Snapshot,
            UpdateKind::Corridor,
            UpdateKind::Anchor,
        ] {
            let update = Update {
                seq: 1,
                kind,
                key: "k".into(),
                json: "{}".into(),
            };
            let _ = subs.matches(&update);
        }
    }
});
