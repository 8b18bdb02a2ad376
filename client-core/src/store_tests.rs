//! Behaviour of the keyed store, one test per rule.

use super::*;

fn corridor(key: &str, rate: u32, seq: u64, reference: Option<u32>) -> String {
    let r = reference.map_or(String::new(), |r| format!(r#","ref":{r}"#));
    format!(
        r#"{{"type":"corridor_update","corridor_id":"id-{key}","corridor_key":"{key}","success_rate":{rate},"volume_usd":1.50,"total_transactions":3,"seq":{seq}{r}}}"#
    )
}

fn value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_full_update_sets_the_key_and_an_older_or_equal_seq_is_stale() {
    let mut s = Store::new();
    assert_eq!(
        s.update(Map::Corridors, &corridor("A", 90, 5, None)),
        Ok(true)
    );
    assert_eq!(s.version(Map::Corridors, "A"), Some(5));
    assert_eq!(
        s.update(Map::Corridors, &corridor("A", 10, 5, None)),
        Ok(false)
    );
    assert_eq!(
        s.update(Map::Corridors, &corridor("A", 10, 4, None)),
        Ok(false)
    );
    assert_eq!(
        value(&s.text(Map::Corridors, "A").unwrap())["success_rate"],
        90
    );
    assert_eq!(
        s.update(Map::Corridors, &corridor("A", 10, 6, None)),
        Ok(true)
    );
    assert_eq!(
        value(&s.text(Map::Corridors, "A").unwrap())["success_rate"],
        10
    );
}

#[test]
fn record_text_is_the_complete_update_with_values_as_the_server_wrote_them() {
    let mut s = Store::new();
    s.update(Map::Corridors, &corridor(r#"A\"B"#, 90, 5, Some(1)))
        .unwrap();
    let text = s.text(Map::Corridors, "A\"B").unwrap();
    assert_eq!(
        text,
        r#"{"type":"corridor_update","corridor_id":"id-A\"B","corridor_key":"A\"B","success_rate":90,"volume_usd":1.50,"total_transactions":3,"seq":5}"#
    );
    let frame = crate::frame::classify(&text).unwrap();
    assert!(frame.mismatch.is_empty(), "{:?}", frame.mismatch);
}

#[test]
fn a_delta_is_completed_from_the_record_its_ref_names() {
    let mut s = Store::new();
    s.update(Map::Corridors, &corridor("A", 90, 5, Some(7)))
        .unwrap();
    let full = s
        .delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":7,"seq":9,"r":80.5}"#,
        )
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(
        full,
        r#"{"type":"corridor_update","corridor_id":"id-A","corridor_key":"A","success_rate":80.5,"volume_usd":1.50,"total_transactions":3,"seq":9}"#
    );
    assert_eq!(s.version(Map::Corridors, "A"), Some(9));
    // A delta with no changed field moves the version only.
    let full = s
        .delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":7,"seq":11,"conflated":true}"#,
        )
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(value(&full)["seq"], 11);
    assert_eq!(value(&full)["conflated"], true);
    assert_eq!(value(&full)["success_rate"], 80.5);
}

#[test]
fn a_delta_sets_the_update_fields_its_short_names_stand_for() {
    let mut s = Store::new();
    s.update(
        Map::Anchors,
        r#"{"type":"anchor_update","anchor_id":"x","name":"X","reliability_score":99,"status":"green","seq":3,"ref":4}"#,
    )
    .unwrap();
    let full = s
        .delta(
            Map::Anchors,
            r#"{"type":"anchor_delta","ref":4,"seq":5,"n":"Y","r":50.5,"s":"red","conflated":true}"#,
        )
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(
        full,
        r#"{"type":"anchor_update","anchor_id":"x","name":"Y","reliability_score":50.5,"status":"red","seq":5,"conflated":true}"#
    );
    s.update(Map::Corridors, &corridor("A", 90, 5, Some(7)))
        .unwrap();
    let full = s
        .delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":7,"seq":9,"r":1,"v":2,"n":3}"#,
        )
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(
        full,
        r#"{"type":"corridor_update","corridor_id":"id-A","corridor_key":"A","success_rate":1,"volume_usd":2,"total_transactions":3,"seq":9}"#
    );
    // A one-letter name of the other kind is not translated: `s` is no corridor field.
    let full = s
        .delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":7,"seq":10,"s":"red"}"#,
        )
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(value(&full)["s"], "red");
    assert!(value(&full).get("status").is_none());
}

#[test]
fn a_stale_delta_is_dropped_and_changes_nothing() {
    let mut s = Store::new();
    s.update(Map::Corridors, &corridor("A", 90, 5, Some(7)))
        .unwrap();
    let rev = s.revision();
    assert_eq!(
        s.delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":7,"seq":5,"r":1}"#
        ),
        Ok(None)
    );
    assert_eq!(s.revision(), rev);
    assert_eq!(
        value(&s.text(Map::Corridors, "A").unwrap())["success_rate"],
        90
    );
}

#[test]
fn a_delta_with_an_unknown_ref_is_refused_and_changes_nothing() {
    let mut s = Store::new();
    s.update(Map::Corridors, &corridor("A", 90, 5, Some(7)))
        .unwrap();
    let delta = r#"{"type":"corridor_delta","ref":8,"seq":9,"r":1}"#;
    assert_eq!(
        s.delta(Map::Corridors, delta),
        Err(StoreError::UnknownRef(Map::Corridors, 8))
    );
    // A ref of the other map is unknown for this one.
    assert_eq!(
        s.delta(
            Map::Anchors,
            r#"{"type":"anchor_delta","ref":7,"seq":9,"s":"red"}"#
        ),
        Err(StoreError::UnknownRef(Map::Anchors, 7))
    );
    // A new connection forgets every ref, not the records.
    s.new_connection();
    assert_eq!(
        s.delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":7,"seq":9}"#
        ),
        Err(StoreError::UnknownRef(Map::Corridors, 7))
    );
    assert_eq!(s.version(Map::Corridors, "A"), Some(5));
    assert!(StoreError::UnknownRef(Map::Corridors, 8)
        .message()
        .contains("unknown ref 8 (corridors)"));
}

#[test]
fn a_delta_without_ref_or_seq_or_not_json_is_malformed() {
    let mut s = Store::new();
    for bad in [
        r#"{"type":"corridor_delta","seq":9}"#,
        r#"{"type":"corridor_delta","ref":1}"#,
        r#"{"type":"corridor_delta","ref":"1","seq":9}"#,
        r#"{"type":"corridor_delta","ref":1,"seq":9"#,
        "[1]",
    ] {
        assert!(
            matches!(s.delta(Map::Corridors, bad), Err(StoreError::Malformed(_))),
            "{bad}"
        );
    }
}

#[test]
fn state_sets_every_record_at_s_unless_the_key_is_newer() {
    let mut s = Store::new();
    s.update(Map::Corridors, &corridor("B", 1, 20, None))
        .unwrap();
    let state = r#"{"type":"state","seq":12,"corridors":[
        {"corridor_id":"a","corridor_key":"A","success_rate":5,"volume_usd":1,"total_transactions":2,"ref":1},
        {"corridor_id":"b","corridor_key":"B","success_rate":6,"volume_usd":1,"total_transactions":2,"ref":2}],
      "anchors":[{"anchor_id":"x","name":"X","reliability_score":99,"status":"green","ref":3}],
      "snapshot":{"snapshot_id":"s","epoch":4,"timestamp":"t","hash":"h"},"done":true}"#;
    let chunk = s.state(state).unwrap();
    assert_eq!(
        chunk,
        StateChunk {
            seq: 12,
            done: true,
            applied: 3,
            errors: vec![]
        }
    );
    assert_eq!(s.version(Map::Corridors, "A"), Some(12));
    assert_eq!(s.version(Map::Corridors, "B"), Some(20));
    assert_eq!(s.version(Map::Snapshot, ""), Some(12));
    // Its refs are bound: a delta on B (newer than 20) applies to B's record.
    let full = s
        .delta(
            Map::Corridors,
            r#"{"type":"corridor_delta","ref":2,"seq":21,"v":9}"#,
        )
        .unwrap()
        .unwrap()
        .text;
    assert_eq!(value(&full)["success_rate"], 1);
    assert_eq!(value(&full)["volume_usd"], 9);
    let all = value(&s.to_json());
    assert_eq!(all["corridors"]["A"]["type"], "corridor_update");
    assert_eq!(all["corridors"]["A"]["seq"], 12);
    assert_eq!(all["corridors"]["B"]["seq"], 21);
    assert_eq!(all["anchors"]["x"]["status"], "green");
    assert_eq!(all["snapshot"]["epoch"], 4);
    assert_eq!(all["snapshot"]["type"], "snapshot_update");
    assert_eq!(all["synced"], true);
}

#[test]
fn a_malformed_state_record_is_reported_and_the_others_applied() {
    let mut s = Store::new();
    let state = r#"{"type":"state","seq":3,"corridors":[
        {"corridor_id":"a","success_rate":5},
        7,
        {"corridor_id":"b","corridor_key":"B","success_rate":6}],
      "anchors":{"not":"a list"},"done":false}"#;
    let chunk = s.state(state).unwrap();
    assert_eq!((chunk.seq, chunk.done, chunk.applied), (3, false, 1));
    assert_eq!(chunk.errors.len(), 3, "{:?}", chunk.errors);
    let messages: Vec<String> = chunk.errors.iter().map(StoreError::message).collect();
    assert!(
        messages[0].contains("without a string `corridor_key`"),
        "{messages:?}"
    );
    assert!(messages[1].contains("not a JSON object"), "{messages:?}");
    assert!(
        messages[2].contains("`anchors` is not an array"),
        "{messages:?}"
    );
    assert_eq!(s.version(Map::Corridors, "B"), Some(3));
}

#[test]
fn a_state_frame_without_seq_or_not_json_changes_nothing() {
    let mut s = Store::new();
    for bad in [
        r#"{"type":"state","corridors":[{"corridor_key":"A"}],"done":true}"#,
        r#"{"type":"state","seq":"3","corridors":[]}"#,
        r#"{"type":"state","seq":3,"corridors":[}"#,
    ] {
        assert!(
            matches!(s.state(bad), Err(StoreError::Malformed(_))),
            "{bad}"
        );
    }
    assert!(s.is_empty());
    assert_eq!(s.revision(), 0);
}

#[test]
fn retain_drops_keys_and_their_refs() {
    let mut s = Store::new();
    s.update(Map::Corridors, &corridor("A", 1, 1, Some(1)))
        .unwrap();
    s.update(Map::Corridors, &corridor("B", 1, 2, Some(2)))
        .unwrap();
    s.retain(|_, key| key == "B");
    assert_eq!((s.len(Map::Corridors), s.refs()), (1, 1));
    assert_eq!(
        s.delta(Map::Corridors, r#"{"ref":1,"seq":5}"#),
        Err(StoreError::UnknownRef(Map::Corridors, 1))
    );
    let rev = s.revision();
    s.retain(|_, _| true);
    assert_eq!(s.revision(), rev, "nothing removed, nothing changed");
    s.clear();
    assert!(s.is_empty());
    assert!(s.revision() > rev);
}

#[test]
fn empty_state_is_three_empty_maps() {
    assert_eq!(
        Store::new().to_json(),
        r#"{"corridors":{},"anchors":{},"snapshot":null,"synced":false}"#
    );
}
