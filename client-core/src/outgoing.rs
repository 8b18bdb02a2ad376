//! The client's frames as JSON text, written by hand.
//!
//! Identical to [`crate::protocol::ClientMessage::to_json`] (a test holds the
//! two together) but without serde_json's serializer and error machinery,
//! which would be the only serde_json code left in the wasm module.

use crate::protocol::Topic;
use crate::text::{cat, int};

/// Append `s` as the inside of a JSON string literal, escaped exactly as
/// serde_json does.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
}

/// A topic's wire string in two parts (`Topic`'s `Display`, without
/// `core::fmt`); the first part never needs escaping.
fn wire(topic: &Topic) -> [&str; 2] {
    match topic {
        Topic::Snapshots => ["snapshots", ""],
        Topic::Corridors => ["corridors", ""],
        Topic::Anchors => ["anchors", ""],
        Topic::Corridor(key) => ["corridor:", key],
        Topic::Anchor(id) => ["anchor:", id],
    }
}

fn stamped(kind: &str, timestamp: i64) -> String {
    cat(&[
        r#"{"type":""#,
        kind,
        r#"","timestamp":"#,
        &int(timestamp),
        "}",
    ])
}

/// `{"type":"pong","timestamp":…}`: the answer to a server ping.
pub fn pong(timestamp: i64) -> String {
    stamped("pong", timestamp)
}

/// `{"type":"ping","timestamp":…}`: a liveness probe.
pub fn ping(timestamp: i64) -> String {
    stamped("ping", timestamp)
}

fn topics(kind: &str, topics: &[Topic]) -> String {
    let mut out = cat(&[r#"{"type":""#, kind, r#"","topics":["#]);
    for (i, topic) in topics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let [head, rest] = wire(topic);
        out.push('"');
        out.push_str(head);
        push_escaped(&mut out, rest);
        out.push('"');
    }
    out.push_str("]}");
    out
}

/// `{"type":"subscribe","topics":[…]}`.
pub fn subscribe(list: &[Topic]) -> String {
    topics("subscribe", list)
}

/// `{"type":"subscribe","topics":[…],"state":true}`: the topics and their
/// current records (a state connection).
pub fn subscribe_state(list: &[Topic]) -> String {
    let mut out = topics("subscribe", list);
    out.truncate(out.len() - 1);
    out.push_str(r#","state":true}"#);
    out
}

/// `{"type":"unsubscribe","topics":[…]}`.
pub fn unsubscribe(list: &[Topic]) -> String {
    topics("unsubscribe", list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ClientMessage;

    #[test]
    fn matches_the_protocol_serialisation_byte_for_byte() {
        let tricky = Topic::Corridor("A\"B\\C\n\t\u{1}\u{1f}é😀\u{7f}:X->Y".into());
        let list = vec![
            Topic::Snapshots,
            Topic::Corridors,
            Topic::Anchors,
            tricky,
            Topic::Anchor("id\"".into()),
        ];
        assert_eq!(
            subscribe(&list),
            ClientMessage::Subscribe {
                topics: list.clone(),
                state: None,
            }
            .to_json()
        );
        assert_eq!(
            subscribe_state(&list),
            ClientMessage::Subscribe {
                topics: list.clone(),
                state: Some(true),
            }
            .to_json()
        );
        assert_eq!(
            unsubscribe(&list),
            ClientMessage::Unsubscribe { topics: list }.to_json()
        );
        assert_eq!(
            subscribe(&[]),
            ClientMessage::Subscribe {
                topics: vec![],
                state: None
            }
            .to_json()
        );
        for t in [0, -1, i64::MIN, i64::MAX] {
            assert_eq!(
                pong(t),
                ClientMessage::Pong { timestamp: Some(t) }.to_json()
            );
            assert_eq!(ping(t), ClientMessage::Ping { timestamp: t }.to_json());
        }
    }
}
