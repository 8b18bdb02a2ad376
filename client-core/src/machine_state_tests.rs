//! State mode of the machine: one test per behaviour.

use super::*;
use crate::filter::Filter;
use crate::status::ConnectionState;

const URL: &str = "ws://h:1/ws";

fn machine(state: bool) -> Machine {
    let mut m = Machine::new(
        Config {
            url: URL.into(),
            state,
            ..Config::default()
        },
        Box::new(|| 0.5),
    );
    m.subscribe(1, &Filter::default()).unwrap();
    m
}

fn connect(m: &mut Machine, head: u64) -> Vec<Action> {
    m.handle(0.0, Event::Acquire);
    m.handle(0.0, Event::Opened);
    m.handle(
        0.0,
        Event::Frame(format!(
            r#"{{"type":"connected","connection_id":"c","heartbeat_ms":1000,"seq":{head}}}"#
        )),
    )
}

fn frame(m: &mut Machine, text: &str) -> Vec<Action> {
    m.handle(0.0, Event::Frame(text.into()))
}

fn sends(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn delivered(actions: &[Action]) -> Vec<(String, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Deliver(d) => Some((String::clone(&d.text), d.rebuilt)),
            _ => None,
        })
        .collect()
}

fn errors(actions: &[Action]) -> Vec<(ErrorCode, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Error(e) => Some((e.code, e.message.clone())),
            _ => None,
        })
        .collect()
}

fn changed(actions: &[Action]) -> bool {
    actions.contains(&Action::StateChanged)
}

const STATE: &str = r#"{"type":"state","seq":10,"corridors":[{"corridor_id":"i","corridor_key":"A","success_rate":90,"volume_usd":5,"total_transactions":7,"ref":1}],"anchors":[{"anchor_id":"x","name":"X","reliability_score":99,"status":"green","ref":2}],"snapshot":{"snapshot_id":"s","epoch":3,"timestamp":"t","hash":"h"},"done":true}"#;

fn value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn asks_for_state_after_every_connected_including_resumes() {
    let mut m = machine(true);
    let a = connect(&mut m, 4);
    assert_eq!(
        sends(&a),
        [r#"{"type":"subscribe","topics":["snapshots","corridors","anchors"],"state":true}"#]
    );
    frame(&mut m, STATE);
    m.handle(
        0.0,
        Event::Closed {
            code: 1006,
            reason: String::new(),
        },
    );
    let a = m.handle(0.0, Event::Timer(Timer::Reconnect));
    // The answer covered every subscribed topic: the resume starts at S.
    assert!(
        a.contains(&Action::Open(format!("{URL}?since=10"))),
        "{a:?}"
    );
    m.handle(0.0, Event::Opened);
    let a = frame(
        &mut m,
        r#"{"type":"connected","connection_id":"d","seq":12,"resumed":true}"#,
    );
    assert_eq!(sends(&a).len(), 1);
    assert!(sends(&a)[0].ends_with(r#""state":true}"#));
}

#[test]
fn without_state_mode_nothing_changes() {
    let mut m = machine(false);
    let a = connect(&mut m, 4);
    assert!(sends(&a).is_empty());
    // A state frame (not asked for) is delivered as it came, nothing kept.
    let a = frame(&mut m, STATE);
    assert_eq!(delivered(&a), [(String::from(STATE), false)]);
    assert!(m.store().is_empty());
    assert!(!changed(&a));
}

#[test]
fn state_fills_the_store_and_is_announced_not_delivered() {
    let mut m = machine(true);
    connect(&mut m, 4);
    let a = frame(&mut m, STATE);
    assert!(delivered(&a).is_empty());
    assert!(changed(&a));
    let all = value(&m.state_json());
    assert_eq!(all["corridors"]["A"]["success_rate"], 90);
    assert_eq!(all["corridors"]["A"]["seq"], 10);
    assert_eq!(all["anchors"]["x"]["status"], "green");
    assert_eq!(all["snapshot"]["epoch"], 3);
}

#[test]
fn a_delta_is_delivered_as_the_complete_update() {
    let mut m = machine(true);
    connect(&mut m, 4);
    frame(&mut m, STATE);
    let a = frame(
        &mut m,
        r#"{"type":"corridor_delta","ref":1,"seq":11,"v":6.5}"#,
    );
    let d = delivered(&a);
    assert_eq!(
        d,
        [(
            String::from(
                r#"{"type":"corridor_update","corridor_id":"i","corridor_key":"A","success_rate":90,"volume_usd":6.5,"total_transactions":7,"seq":11}"#
            ),
            true
        )]
    );
    assert!(changed(&a));
    assert_eq!(m.last_seq(), Some(11));
    assert_eq!(m.last_message().as_deref(), Some(&d[0].0));
    // A key filter routes the rebuilt update by its key.
    m.subscribe(
        2,
        &Filter {
            corridor_keys: Some(vec!["B".into()]),
            ..Filter::default()
        },
    )
    .unwrap();
    let a = frame(
        &mut m,
        r#"{"type":"corridor_delta","ref":1,"seq":12,"r":1}"#,
    );
    let to: Vec<Vec<u32>> = a
        .iter()
        .filter_map(|a| match a {
            Action::Deliver(d) => Some(d.to.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(to, [vec![1]]);
}

#[test]
fn updates_apply_per_key_version_so_stale_and_replayed_ones_are_not_delivered() {
    let mut m = machine(true);
    connect(&mut m, 4);
    frame(&mut m, STATE);
    let update = |seq: u64, key: &str, rate: u32| {
        format!(
            r#"{{"type":"corridor_update","corridor_id":"i","corridor_key":"{key}","success_rate":{rate},"volume_usd":1,"total_transactions":1,"seq":{seq}}}"#
        )
    };
    // Replayed below the state's S for A: stale.
    assert!(delivered(&frame(&mut m, &update(9, "A", 1))).is_empty());
    // Conflated frames come in key order: B at 15, then C at 13 (below the
    // last delivered seq, still new for C).
    assert_eq!(delivered(&frame(&mut m, &update(15, "B", 2))).len(), 1);
    assert_eq!(delivered(&frame(&mut m, &update(13, "C", 3))).len(), 1);
    assert!(delivered(&frame(&mut m, &update(13, "C", 3))).is_empty());
    assert_eq!(m.last_seq(), Some(15));
    assert_eq!(value(&m.state_json())["corridors"]["C"]["success_rate"], 3);
}

#[test]
fn an_unknown_ref_is_reported_dropped_and_the_kind_asked_for_again_once() {
    let mut m = machine(true);
    connect(&mut m, 4);
    frame(&mut m, STATE);
    let delta = r#"{"type":"anchor_delta","ref":9,"seq":11,"s":"red"}"#;
    let a = frame(&mut m, delta);
    assert!(delivered(&a).is_empty());
    assert_eq!(errors(&a).len(), 1);
    assert_eq!(errors(&a)[0].0, ErrorCode::StateMismatch);
    assert!(
        errors(&a)[0].1.contains("unknown ref 9"),
        "{:?}",
        errors(&a)
    );
    assert_eq!(
        sends(&a),
        [r#"{"type":"subscribe","topics":["anchors"],"state":true}"#]
    );
    // The same burst asks once; the answer re-arms it.
    assert!(sends(&frame(&mut m, delta)).is_empty());
    frame(
        &mut m,
        r#"{"type":"state","seq":12,"corridors":[],"anchors":[{"anchor_id":"y","name":"Y","reliability_score":1,"status":"red","ref":9}],"done":true}"#,
    );
    let a = frame(
        &mut m,
        r#"{"type":"anchor_delta","ref":9,"seq":13,"n":"Z"}"#,
    );
    assert_eq!(
        value(&delivered(&a)[0].0)["name"],
        "Z",
        "the re-requested state bound the ref"
    );
    assert_eq!(
        sends(&frame(
            &mut m,
            r#"{"type":"anchor_delta","ref":99,"seq":14}"#
        ))
        .len(),
        1
    );
    // Nothing held was lost: the first state's records are still there.
    assert_eq!(value(&m.state_json())["corridors"]["A"]["seq"], 10);
}

#[test]
fn a_malformed_state_chunk_is_reported_and_loses_nothing() {
    let mut m = machine(true);
    connect(&mut m, 4);
    frame(&mut m, STATE);
    let a = frame(
        &mut m,
        r#"{"type":"state","seq":20,"corridors":[{"corridor_id":"j","success_rate":1},{"corridor_id":"k","corridor_key":"K","success_rate":2,"volume_usd":1,"total_transactions":1}],"anchors":[],"done":true}"#,
    );
    let e = errors(&a);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, ErrorCode::StateMismatch);
    assert!(e[0].1.contains("without a string `corridor_key`"), "{e:?}");
    let all = value(&m.state_json());
    assert_eq!(all["corridors"]["K"]["seq"], 20);
    assert_eq!(
        all["corridors"]["A"]["seq"], 10,
        "A, not in this answer, is kept"
    );
    // A chunk without `seq` is refused whole: reported, nothing changed.
    let a = frame(
        &mut m,
        r#"{"type":"state","corridors":[{"corridor_id":"z","corridor_key":"A","success_rate":0,"volume_usd":0,"total_transactions":0}],"anchors":[],"done":true}"#,
    );
    assert!(errors(&a)
        .iter()
        .any(|(code, _)| *code == ErrorCode::StateMismatch));
    assert!(!changed(&a));
    assert_eq!(value(&m.state_json())["corridors"]["A"]["success_rate"], 90);
    assert_eq!(m.status().state, ConnectionState::Open);
}

#[test]
fn keys_no_subscriber_covers_are_dropped_and_new_topics_get_their_state() {
    let mut m = Machine::new(
        Config {
            url: URL.into(),
            state: true,
            ..Config::default()
        },
        Box::new(|| 0.5),
    );
    m.subscribe(
        1,
        &Filter {
            corridor_keys: Some(vec!["A".into()]),
            ..Filter::default()
        },
    )
    .unwrap();
    let a = connect(&mut m, 0);
    assert_eq!(
        sends(&a),
        [r#"{"type":"subscribe","topics":["corridor:A"],"state":true}"#]
    );
    frame(&mut m, STATE);
    let a = m
        .subscribe(
            2,
            &Filter {
                anchor_ids: Some(vec!["x".into()]),
                ..Filter::default()
            },
        )
        .unwrap();
    assert_eq!(
        sends(&a),
        [
            r#"{"type":"subscribe","topics":["anchor:x"]}"#,
            r#"{"type":"subscribe","topics":["anchor:x"],"state":true}"#
        ]
    );
    let a = m.unsubscribe(1);
    assert!(changed(&a));
    let all = value(&m.state_json());
    assert_eq!(all["corridors"], serde_json::json!({}));
    assert_eq!(all["anchors"]["x"]["status"], "green");
    assert_eq!(all["snapshot"], serde_json::Value::Null);
}

#[test]
fn state_mode_turned_on_while_connected_asks_at_once_and_only_once() {
    let mut m = machine(false);
    connect(&mut m, 4);
    let a = m.enable_state();
    assert_eq!(
        sends(&a),
        [r#"{"type":"subscribe","topics":["snapshots","corridors","anchors"],"state":true}"#]
    );
    assert!(m.enable_state().is_empty());
    assert!(m.config().state);
}

/// A follower tab gets a second `connected` without a socket of its own
/// opening when the leader (and so the server connection) changes: the old
/// connection's `ref`s must not name records on the new one.
#[test]
fn a_new_connected_without_a_new_socket_forgets_the_old_connections_refs() {
    let mut m = machine(true);
    connect(&mut m, 4);
    frame(&mut m, STATE);
    let a = frame(
        &mut m,
        r#"{"type":"corridor_delta","ref":1,"seq":11,"v":6}"#,
    );
    assert_eq!(delivered(&a).len(), 1, "{a:?}");
    // The new leader's connection: ref 1 is not corridor A there.
    let a = frame(
        &mut m,
        r#"{"type":"connected","connection_id":"d","heartbeat_ms":1000,"seq":12,"resumed":true}"#,
    );
    assert_eq!(sends(&a).len(), 1, "asks for state again: {a:?}");
    let a = frame(
        &mut m,
        r#"{"type":"corridor_delta","ref":1,"seq":13,"v":999}"#,
    );
    assert!(delivered(&a).is_empty(), "{a:?}");
    assert_eq!(errors(&a)[0].0, ErrorCode::StateMismatch);
    let corridor = value(&m.state_json())["corridors"]["A"]["volume_usd"].clone();
    assert_eq!(corridor, 6.0);
}
