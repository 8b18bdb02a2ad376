//! The shared protocol guarantee, checked at random: whatever
//! `protocol::ServerMessage` the server serialises with serde, the client's
//! own reader ([`super::classify`]) accepts it and reads the same routing
//! fields (type, `seq`, key) and control fields.

use super::*;
use crate::protocol::{
    AnchorStatus, AnchorUpdate, CorridorUpdate, ErrorCode, ResyncReason, ServerMessage,
    SnapshotUpdate,
};
use proptest::prelude::*;

/// Any string, including quotes, backslashes, control characters and
/// non-BMP characters, which serde escapes or writes raw.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-zA-Z0-9:>\\-\"\\\\\n\u{1F600}é]{0,40}"]
}

fn number() -> impl Strategy<Value = f64> {
    // serde_json writes non-finite floats as null, which the protocol rejects
    // on both sides; real metrics are finite.
    any::<f64>().prop_filter("finite", |x| x.is_finite())
}

fn message() -> impl Strategy<Value = ServerMessage> {
    let seq = proptest::option::of(any::<u64>());
    prop_oneof![
        (
            text(),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
            seq.clone(),
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(connection_id, protocol, heartbeat_ms, seq, resumed)| {
                ServerMessage::Connected {
                    connection_id,
                    protocol,
                    heartbeat_ms,
                    seq,
                    resumed,
                }
            }),
        any::<i64>().prop_map(|timestamp| ServerMessage::Ping { timestamp }),
        any::<i64>().prop_map(|timestamp| ServerMessage::Pong { timestamp }),
        (text(), any::<u64>(), text(), text(), seq.clone()).prop_map(
            |(snapshot_id, epoch, timestamp, hash, seq)| {
                ServerMessage::SnapshotUpdate(SnapshotUpdate {
                    snapshot_id,
                    epoch,
                    timestamp,
                    hash,
                    seq,
                    conflated: None,
                })
            }
        ),
        (
            text(),
            text(),
            number(),
            number(),
            any::<u64>(),
            seq.clone()
        )
            .prop_map(
                |(corridor_id, corridor_key, success_rate, volume_usd, total_transactions, seq)| {
                    ServerMessage::CorridorUpdate(CorridorUpdate {
                        corridor_id,
                        corridor_key,
                        success_rate,
                        volume_usd,
                        total_transactions,
                        seq,
                        r#ref: None,
                        conflated: None,
                    })
                }
            ),
        (
            text(),
            text(),
            number(),
            prop_oneof![
                Just(AnchorStatus::Green),
                Just(AnchorStatus::Yellow),
                Just(AnchorStatus::Red)
            ],
            seq
        )
            .prop_map(|(anchor_id, name, reliability_score, status, seq)| {
                ServerMessage::AnchorUpdate(AnchorUpdate {
                    anchor_id,
                    name,
                    reliability_score,
                    status,
                    seq,
                    r#ref: None,
                    conflated: None,
                })
            }),
        (text(), proptest::option::of(text())).prop_map(|(message, code)| ServerMessage::Error {
            message,
            code: code.map(|c| ErrorCode::parse(&c)),
        }),
        proptest::option::of(text()).prop_map(|reason| ServerMessage::ResyncRequired {
            reason: reason.map(|r| ResyncReason::parse(&r)),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn client_reader_reads_every_serde_serialised_server_message(msg in message()) {
        let text = msg.to_json();
        let frame = classify(&text).map_err(|e| TestCaseError::fail(format!("{e:?} for {text}")))?;
        prop_assert_eq!(Some(frame.kind), msg.kind());
        prop_assert!(frame.mismatch.is_empty(), "{:?} for {}", frame.mismatch, text);
        prop_assert_eq!(frame.seq, msg.seq().or(match &msg {
            ServerMessage::Connected { seq, .. } => *seq,
            _ => None,
        }));
        let (key, connection_id, heartbeat_ms, timestamp, message, code, reason) = match &msg {
            ServerMessage::CorridorUpdate(u) => (Some(u.corridor_key.clone()), None, None, None, None, None, None),
            ServerMessage::AnchorUpdate(u) => (Some(u.anchor_id.clone()), None, None, None, None, None, None),
            ServerMessage::Connected { connection_id, heartbeat_ms, .. } => {
                (None, Some(connection_id.clone()), *heartbeat_ms, None, None, None, None)
            }
            ServerMessage::Ping { timestamp } | ServerMessage::Pong { timestamp } => {
                (None, None, None, Some(*timestamp), None, None, None)
            }
            ServerMessage::Error { message, code } => (None, None, None, None, Some(message.clone()), code.as_ref().map(|c| c.as_str().to_owned()), None),
            ServerMessage::ResyncRequired { reason } => (None, None, None, None, None, None, reason.clone()),
            _ => (None, None, None, None, None, None, None),
        };
        prop_assert_eq!(frame.key.map(|k| k.into_owned()), key);
        prop_assert_eq!(frame.connection_id, connection_id);
        prop_assert_eq!(frame.heartbeat_ms, heartbeat_ms);
        prop_assert_eq!(frame.timestamp, timestamp);
        prop_assert_eq!(frame.message, message);
        prop_assert_eq!(frame.code, code);
        prop_assert_eq!(frame.reason, reason);
    }
}

/// A frame with its members in another order, or with spaces between tokens,
/// as another server might write it.
fn reshaped(text: &str, swap: bool, spaced: bool) -> String {
    let mut v: Vec<(String, serde_json::Value)> =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .unwrap()
            .into_iter()
            .collect();
    if swap && v.len() > 2 {
        let last = v.len() - 1;
        v.swap(1, last);
    }
    let sep = if spaced { ", " } else { "," };
    let members: Vec<String> = v
        .iter()
        .map(|(k, x)| format!("{}:{}", serde_json::to_string(k).unwrap(), x))
        .collect();
    format!("{{{}}}", members.join(sep))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every update the server serialises routes from its prefix alone, to
    /// what the full read gives; whenever the prefix reader answers for any
    /// text (our frames, reordered or spaced ones, cut ones), it agrees with
    /// the full read of the whole text (when that text is JSON).
    #[test]
    fn the_prefix_routes_like_the_full_read(
        msg in message(),
        swap in any::<bool>(),
        spaced in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = msg.to_json();
        let full = classify(&text).unwrap();
        let ours = prefix(&text);
        let escaped_key = full.key.as_ref().is_some_and(|k| matches!(k, Cow::Owned(_)));
        match (msg.kind(), msg.seq()) {
            (Some(Kind::SnapshotUpdate | Kind::CorridorUpdate | Kind::AnchorUpdate), Some(seq)) if !escaped_key => {
                let p = ours.ok_or_else(|| TestCaseError::fail(format!("no prefix for {text}")))?;
                prop_assert_eq!(Some(p.kind), msg.kind());
                prop_assert_eq!(p.seq, seq);
                prop_assert_eq!(p.key, full.key.as_deref());
            }
            _ => prop_assert_eq!(ours, None, "{}", text),
        }
        let other = reshaped(&text, swap, spaced);
        if let Some(p) = prefix(&other) {
            let f = classify(&other).unwrap();
            prop_assert_eq!((p.kind, Some(p.seq), p.key), (f.kind, f.seq, f.key.as_deref()));
        }
        // A prefix of the text: the reader answers only when the key is
        // complete in it, and then as for the whole text.
        let at = cut.index(text.len() + 1);
        if let Some(head) = text.get(..at) {
            if let Some(p) = prefix(head) {
                prop_assert_eq!(Some(p), ours);
            }
        }
    }
}

#[test]
fn prefixes_that_are_not_the_servers_order_go_to_the_full_read() {
    let ok = r#"{"type":"corridor_update","seq":7,"corridor_key":"A:G->B:G","corridor_id":"i"}"#;
    assert_eq!(
        prefix(ok),
        Some(Prefix {
            kind: Kind::CorridorUpdate,
            seq: 7,
            key: Some("A:G->B:G")
        })
    );
    assert_eq!(
        prefix(r#"{"type":"snapshot_update","seq":3}"#).map(|p| (p.kind, p.seq, p.key)),
        Some((Kind::SnapshotUpdate, 3, None))
    );
    for other in [
        r#"{"type":"corridor_update","corridor_key":"A","seq":7}"#,
        r#"{ "type":"corridor_update","seq":7,"corridor_key":"A"}"#,
        r#"{"type":"corridor_update","seq":07,"corridor_key":"A"}"#,
        r#"{"type":"corridor_update","seq":7.0,"corridor_key":"A"}"#,
        r#"{"type":"corridor_update","seq":-7,"corridor_key":"A"}"#,
        r#"{"type":"corridor_update","seq":18446744073709551616,"corridor_key":"A"}"#,
        r#"{"type":"corridor_update","seq":7,"corridor_key":"A\"B"}"#,
        r#"{"type":"corridor_update","seq":7,"corridor_key":"A"#,
        r#"{"type":"corridor_update","seq":7,"anchor_id":"A"}"#,
        r#"{"type":"anchor_update","seq":7,"corridor_key":"A"}"#,
        r#"{"type":"snapshot_update","seq":7 }"#,
        r#"{"type":"corridor_delta","seq":7,"ref":1}"#,
        r#"{"type":"connected","seq":7}"#,
        r#"{"type":"corridor_updates","seq":7,"corridor_key":"A"}"#,
    ] {
        assert_eq!(prefix(other), None, "{other}");
    }
}
