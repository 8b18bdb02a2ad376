//! Unit and property tests of [`KeyedState`]: a model of the database, the
//! update log, the live stream and the client (per-key versions) checks that
//! state + live (+ conflated catch-ups) ends equal to the database with no
//! update applied twice, for any interleaving.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};
use stellar_insights_protocol::AnchorStatus;

fn corridor(key: &str, rate: f64, volume: f64, total: u64, seq: Option<u64>) -> CorridorUpdate {
    CorridorUpdate {
        corridor_id: ["id-", key].concat(),
        corridor_key: key.into(),
        success_rate: rate,
        volume_usd: volume,
        total_transactions: total,
        seq,
        r#ref: None,
        conflated: None,
    }
}

fn anchor(id: &str, score: f64, status: AnchorStatus, seq: Option<u64>) -> AnchorUpdate {
    AnchorUpdate {
        anchor_id: id.into(),
        name: ["Anchor ", id].concat(),
        reliability_score: score,
        status,
        seq,
        r#ref: None,
        conflated: None,
    }
}

#[test]
fn first_update_of_a_key_is_full_with_a_ref_then_deltas_carry_only_changed_fields() {
    let mut k = KeyedState::default();
    let first = k.outgoing(
        &ServerMessage::CorridorUpdate(corridor("A", 1.0, 2.0, 3, Some(5))),
        false,
    );
    assert_eq!(
        first.to_json(),
        r#"{"type":"corridor_update","seq":5,"corridor_key":"A","corridor_id":"id-A","success_rate":1.0,"volume_usd":2.0,"total_transactions":3,"ref":1}"#
    );
    let second = k.outgoing(
        &ServerMessage::CorridorUpdate(corridor("A", 1.0, 2.5, 3, Some(6))),
        false,
    );
    assert_eq!(
        second.to_json(),
        r#"{"type":"corridor_delta","ref":1,"seq":6,"v":2.5}"#
    );
    // No change: still a frame, it moves the key's version.
    let same = k.outgoing(
        &ServerMessage::CorridorUpdate(corridor("A", 1.0, 2.5, 3, Some(7))),
        false,
    );
    assert_eq!(
        same.to_json(),
        r#"{"type":"corridor_delta","ref":1,"seq":7}"#
    );
    let other = k.outgoing(
        &ServerMessage::AnchorUpdate(anchor("x", 99.0, AnchorStatus::Green, Some(8))),
        false,
    );
    assert!(matches!(
        other,
        ServerMessage::AnchorUpdate(AnchorUpdate { r#ref: Some(2), .. })
    ));
    let moved = k.outgoing(
        &ServerMessage::AnchorUpdate(anchor("x", 90.0, AnchorStatus::Yellow, Some(9))),
        true,
    );
    assert_eq!(
        moved.to_json(),
        r#"{"type":"anchor_delta","ref":2,"seq":9,"r":90.0,"s":"yellow","conflated":true}"#
    );
    assert_eq!(k.keys(), 2);
}

#[test]
fn state_answers_are_chunked_at_256_records_with_one_seq_and_done_last() {
    let mut k = KeyedState::default();
    let read = StateRead {
        seq: 42,
        corridors: (0..300)
            .map(|i| corridor(&format!("C{i:03}"), 1.0, 1.0, 1, None))
            .collect(),
        anchors: (0..10)
            .map(|i| anchor(&format!("a{i}"), 1.0, AnchorStatus::Red, None))
            .collect(),
        snapshot: None,
        newest: HashMap::new(),
    };
    let chunks = k.answer(read, Want::of_topics(&[Topic::Corridors, Topic::Anchors]));
    assert_eq!(chunks.len(), 2);
    let mut refs = HashSet::new();
    for (i, c) in chunks.iter().enumerate() {
        let ServerMessage::State(c) = c else {
            panic!("{c:?}")
        };
        assert_eq!(c.seq, 42);
        assert!(c.corridors.len() + c.anchors.len() <= STATE_CHUNK);
        assert_eq!(c.done, i == chunks.len() - 1);
        for r in c
            .corridors
            .iter()
            .map(|c| c.r#ref)
            .chain(c.anchors.iter().map(|a| a.r#ref))
        {
            assert!(refs.insert(r.unwrap()));
        }
        assert!(c.corridors.iter().all(|c| c.seq.is_none()));
    }
    assert_eq!(refs.len(), 310);
    // An empty state is one chunk, done.
    let empty = KeyedState::default().answer(StateRead::default(), Want::default());
    assert_eq!(
        empty.iter().map(ServerMessage::to_json).collect::<Vec<_>>(),
        [r#"{"type":"state","seq":0,"corridors":[],"anchors":[],"done":true}"#]
    );
}

#[test]
fn an_answer_covers_only_its_topics_and_only_up_to_its_seq() {
    let mut k = KeyedState::default();
    k.answer(
        StateRead {
            seq: 10,
            ..StateRead::default()
        },
        Want::of_topics(&[Topic::Corridor("A".into())]),
    );
    assert!(k.covers(UpdateKind::Corridor, "A", 10, 3));
    assert!(!k.covers(UpdateKind::Corridor, "A", 11, 3));
    assert!(!k.covers(UpdateKind::Corridor, "B", 9, 3));
    assert!(!k.covers(UpdateKind::Anchor, "A", 9, 3));
    // Once the stream passed S the coverage is gone (nothing at or below it can come).
    assert!(!k.covers(UpdateKind::Corridor, "A", 10, 10));
}

#[test]
fn pending_answers_stay_bounded_and_merge_to_the_lowest_seq() {
    let mut k = KeyedState::default();
    for i in 0..100u64 {
        let key = format!("K{}", i % 5);
        k.answer(
            StateRead {
                seq: 50 + i,
                ..StateRead::default()
            },
            Want::of_topics(&[Topic::Corridor(key)]),
        );
        assert!(k.covered.len() <= MAX_COVERED);
    }
    // Merged: every answered key is covered up to the lowest pending S, no higher.
    assert!(k.covers(UpdateKind::Corridor, "K3", 50, 0));
    assert!(!k.covers(UpdateKind::Corridor, "K9", 50, 0));
    let low = k.covered.iter().map(|(s, _)| *s).min().unwrap();
    assert!(!k.covers(UpdateKind::Corridor, "K1", 149 + 1, 0));
    assert!(low <= 50 + 100 - MAX_COVERED as u64);
}

#[test]
fn conflation_resends_only_changed_keys_in_seq_order() {
    let mut k = KeyedState::default();
    let want = Want::of_topics(&[Topic::Corridors, Topic::Snapshots]);
    let read = StateRead {
        seq: 5,
        corridors: vec![
            corridor("A", 1.0, 1.0, 1, None),
            corridor("B", 2.0, 2.0, 2, None),
        ],
        ..StateRead::default()
    };
    k.answer(read, want);
    let mut newest = HashMap::new();
    newest.insert((UpdateKind::Corridor, "B".to_owned()), 9);
    newest.insert((UpdateKind::Corridor, "C".to_owned()), 8);
    let frames = k.conflate(StateRead {
        seq: 9,
        corridors: vec![
            corridor("A", 1.0, 1.0, 1, None),
            corridor("B", 3.0, 2.0, 2, None),
            corridor("C", 4.0, 4.0, 4, None),
        ],
        snapshot: None,
        anchors: vec![],
        newest,
    });
    let json: Vec<String> = frames.iter().map(ServerMessage::to_json).collect();
    assert_eq!(
        json,
        [
            r#"{"type":"corridor_update","seq":8,"corridor_key":"C","corridor_id":"id-C","success_rate":4.0,"volume_usd":4.0,"total_transactions":4,"ref":3,"conflated":true}"#,
            r#"{"type":"corridor_delta","ref":2,"seq":9,"r":3.0,"conflated":true}"#,
        ]
    );
}

// ---- property test: a model of database, log, stream and client ----

const CORRIDORS: [&str; 3] = ["A", "B", "C"];
const ANCHORS: [&str; 2] = ["x", "y"];

#[derive(Debug, Clone)]
enum Op {
    /// Write a corridor (index, value) or an anchor.
    WriteCorridor(usize, u8),
    WriteAnchor(usize, u8),
    /// The connection takes the next live update from its queue.
    Deliver,
    /// `subscribe` with state for these topics (index into `topic_choices`).
    State(Vec<usize>),
    /// The live ring drops the oldest `n` queued updates and the connection conflates.
    Lag(usize),
}

fn topic_choices() -> Vec<Topic> {
    vec![
        Topic::Corridors,
        Topic::Anchors,
        Topic::Corridor("B".into()),
        Topic::Anchor("y".into()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..CORRIDORS.len(), 0u8..4).prop_map(|(i, v)| Op::WriteCorridor(i, v)),
        2 => (0..ANCHORS.len(), 0u8..4).prop_map(|(i, v)| Op::WriteAnchor(i, v)),
        4 => Just(Op::Deliver),
        1 => proptest::collection::vec(0..4usize, 1..3).prop_map(Op::State),
        1 => (0usize..6).prop_map(Op::Lag),
    ]
}

fn corridor_value(key: &str, v: u8) -> CorridorUpdate {
    // Small value ranges so some writes change nothing and some change one field.
    corridor(
        key,
        f64::from(v % 2),
        f64::from(v / 2),
        u64::from(v % 3),
        None,
    )
}

fn anchor_value(id: &str, v: u8) -> AnchorUpdate {
    let status = [AnchorStatus::Red, AnchorStatus::Green][usize::from(v % 2)];
    anchor(id, f64::from(v / 2), status, None)
}

#[derive(Default)]
struct Model {
    seq: u64,
    corridors: BTreeMap<String, CorridorUpdate>,
    anchors: BTreeMap<String, AnchorUpdate>,
    /// (seq, kind, key, full frame with seq)
    log: Vec<(u64, UpdateKind, String, ServerMessage)>,
}

impl Model {
    fn write(&mut self, msg: ServerMessage) -> (u64, UpdateKind, String, ServerMessage) {
        self.seq += 1;
        let seq = self.seq;
        let (kind, key, msg) = match msg {
            ServerMessage::CorridorUpdate(c) => {
                self.corridors.insert(c.corridor_key.clone(), c.clone());
                let key = c.corridor_key.clone();
                (
                    UpdateKind::Corridor,
                    key,
                    ServerMessage::CorridorUpdate(CorridorUpdate {
                        seq: Some(seq),
                        ..c
                    }),
                )
            }
            ServerMessage::AnchorUpdate(a) => {
                self.anchors.insert(a.anchor_id.clone(), a.clone());
                let key = a.anchor_id.clone();
                (
                    UpdateKind::Anchor,
                    key,
                    ServerMessage::AnchorUpdate(AnchorUpdate {
                        seq: Some(seq),
                        ..a
                    }),
                )
            }
            other => unreachable!("{other:?}"),
        };
        let row = (seq, kind, key, msg);
        self.log.push(row.clone());
        row
    }

    /// One read transaction: the wanted records and S; `newest` above `after`.
    fn read(&self, want: &Want, after: u64) -> StateRead {
        let mut read = StateRead {
            seq: self.seq,
            corridors: self.corridors.values().cloned().collect(),
            anchors: self.anchors.values().cloned().collect(),
            snapshot: None,
            newest: HashMap::new(),
        };
        want.retain(&mut read);
        for (seq, kind, key, _) in &self.log {
            if *seq > after {
                read.newest.insert((*kind, key.clone()), *seq);
            }
        }
        read
    }
}

/// The client: per-key value and version; every applied (key, seq) once.
#[derive(Default)]
struct Client {
    corridors: BTreeMap<String, (CorridorUpdate, u64)>,
    anchors: BTreeMap<String, (AnchorUpdate, u64)>,
    refs: HashMap<u32, (UpdateKind, String)>,
    applied: HashSet<(String, u64)>,
}

/// Sets `key` to `record` at `version` when it is fresh for the key; an update
/// (not a state record) must be above the version and is applied once.
fn apply<T>(
    map: &mut BTreeMap<String, (T, u64)>,
    applied: &mut HashSet<(String, u64)>,
    key: String,
    record: T,
    version: u64,
    is_update: bool,
) {
    let current = map.get(&key).map_or(0, |(_, v)| *v);
    let fresh = if is_update {
        version > current
    } else {
        version >= current
    };
    if fresh {
        if is_update {
            assert!(
                applied.insert((key.clone(), version)),
                "{key} seq {version} applied twice"
            );
        }
        map.insert(key, (record, version));
    }
}

impl Client {
    fn apply_corridor(&mut self, c: CorridorUpdate, version: u64, is_update: bool) {
        let key = c.corridor_key.clone();
        apply(
            &mut self.corridors,
            &mut self.applied,
            key,
            bare_corridor(&c),
            version,
            is_update,
        );
    }

    fn apply_anchor(&mut self, a: AnchorUpdate, version: u64, is_update: bool) {
        let key = a.anchor_id.clone();
        apply(
            &mut self.anchors,
            &mut self.applied,
            key,
            bare_anchor(&a),
            version,
            is_update,
        );
    }

    fn receive(&mut self, msg: ServerMessage) {
        // Every frame goes through its JSON, as on the wire.
        let msg = ServerMessage::from_json(&msg.to_json()).unwrap();
        match msg {
            ServerMessage::State(chunk) => {
                for c in chunk.corridors {
                    self.refs.insert(
                        c.r#ref.unwrap(),
                        (UpdateKind::Corridor, c.corridor_key.clone()),
                    );
                    self.apply_corridor(c, chunk.seq, false);
                }
                for a in chunk.anchors {
                    self.refs
                        .insert(a.r#ref.unwrap(), (UpdateKind::Anchor, a.anchor_id.clone()));
                    self.apply_anchor(a, chunk.seq, false);
                }
            }
            ServerMessage::CorridorUpdate(c) => {
                let r = c
                    .r#ref
                    .expect("full updates to state connections carry a ref");
                self.refs
                    .insert(r, (UpdateKind::Corridor, c.corridor_key.clone()));
                let seq = c.seq.unwrap();
                self.apply_corridor(c, seq, true);
            }
            ServerMessage::AnchorUpdate(a) => {
                let r = a
                    .r#ref
                    .expect("full updates to state connections carry a ref");
                self.refs
                    .insert(r, (UpdateKind::Anchor, a.anchor_id.clone()));
                let seq = a.seq.unwrap();
                self.apply_anchor(a, seq, true);
            }
            ServerMessage::CorridorDelta(d) => {
                let (_, key) = self
                    .refs
                    .get(&d.r#ref)
                    .expect("delta for a known ref")
                    .clone();
                let (base, _) = self.corridors.get(&key).expect("base of a delta").clone();
                let full = CorridorUpdate {
                    success_rate: d.success_rate.unwrap_or(base.success_rate),
                    volume_usd: d.volume_usd.unwrap_or(base.volume_usd),
                    total_transactions: d.total_transactions.unwrap_or(base.total_transactions),
                    ..base
                };
                self.apply_corridor(full, d.seq, true);
            }
            ServerMessage::AnchorDelta(d) => {
                let (_, key) = self
                    .refs
                    .get(&d.r#ref)
                    .expect("delta for a known ref")
                    .clone();
                let (base, _) = self.anchors.get(&key).expect("base of a delta").clone();
                let full = AnchorUpdate {
                    name: d.name.unwrap_or(base.name.clone()),
                    reliability_score: d.reliability_score.unwrap_or(base.reliability_score),
                    status: d.status.unwrap_or(base.status),
                    ..base
                };
                self.apply_anchor(full, d.seq, true);
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The connection: its subscription, last delivered seq, keyed state, live queue.
struct Conn {
    subscribed: Vec<Topic>,
    last_seq: u64,
    keyed: KeyedState,
    queue: std::collections::VecDeque<(u64, UpdateKind, String, ServerMessage)>,
}

impl Conn {
    fn wants(&self, kind: UpdateKind, key: &str) -> bool {
        Want::of_topics(&self.subscribed).wants(kind, key)
    }

    fn deliver(&mut self, client: &mut Client) {
        let Some((seq, kind, key, msg)) = self.queue.pop_front() else {
            return;
        };
        if seq <= self.last_seq {
            return;
        }
        assert_eq!(seq, self.last_seq + 1, "the live stream has no hole");
        let covered = self.keyed.covers(kind, &key, seq, self.last_seq);
        self.last_seq = seq;
        if self.wants(kind, &key) && !covered {
            client.receive(self.keyed.outgoing(&msg, false));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn state_then_live_equals_the_database_with_no_update_applied_twice(
        writes_before in proptest::collection::vec((0..CORRIDORS.len(), 0u8..4), 0..4),
        first in proptest::collection::vec(0..4usize, 1..4),
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let mut db = Model::default();
        for (i, v) in writes_before {
            db.write(ServerMessage::CorridorUpdate(corridor_value(CORRIDORS[i], v)));
        }
        // The connection subscribes to live updates at `connected` (head = db.seq).
        let mut conn = Conn {
            subscribed: Vec::new(),
            last_seq: db.seq,
            keyed: KeyedState::default(),
            queue: Default::default(),
        };
        let mut client = Client::default();
        let choices = topic_choices();
        let state = |conn: &mut Conn, client: &mut Client, db: &Model, picks: &[usize]| {
            let topics: Vec<Topic> = picks.iter().map(|i| choices[*i].clone()).collect();
            conn.subscribed.extend(topics.iter().cloned());
            let want = Want::of_topics(&topics);
            let read = db.read(&want, 0);
            for chunk in conn.keyed.answer(read, want) {
                client.receive(chunk);
            }
        };
        state(&mut conn, &mut client, &db, &first);
        for op in ops {
            match op {
                Op::WriteCorridor(i, v) => {
                    let row = db.write(ServerMessage::CorridorUpdate(corridor_value(CORRIDORS[i], v)));
                    conn.queue.push_back(row);
                }
                Op::WriteAnchor(i, v) => {
                    let row = db.write(ServerMessage::AnchorUpdate(anchor_value(ANCHORS[i], v)));
                    conn.queue.push_back(row);
                }
                Op::Deliver => conn.deliver(&mut client),
                Op::State(picks) => state(&mut conn, &mut client, &db, &picks),
                Op::Lag(n) => {
                    for _ in 0..n.min(conn.queue.len()) {
                        conn.queue.pop_front();
                    }
                    let read = db.read(&Want::of_topics(&conn.subscribed), conn.last_seq);
                    let seq = read.seq;
                    for frame in conn.keyed.conflate(read) {
                        client.receive(frame);
                    }
                    conn.last_seq = conn.last_seq.max(seq);
                }
            }
        }
        while !conn.queue.is_empty() {
            conn.deliver(&mut client);
        }
        let want = Want::of_topics(&conn.subscribed);
        let expected: BTreeMap<String, CorridorUpdate> = db.corridors.iter()
            .filter(|(k, _)| want.wants(UpdateKind::Corridor, k))
            .map(|(k, v)| (k.clone(), v.clone())).collect();
        let got: BTreeMap<String, CorridorUpdate> = client.corridors.iter()
            .map(|(k, (v, _))| (k.clone(), v.clone())).collect();
        prop_assert_eq!(got, expected);
        let expected: BTreeMap<String, AnchorUpdate> = db.anchors.iter()
            .filter(|(k, _)| want.wants(UpdateKind::Anchor, k))
            .map(|(k, v)| (k.clone(), v.clone())).collect();
        let got: BTreeMap<String, AnchorUpdate> = client.anchors.iter()
            .map(|(k, (v, _))| (k.clone(), v.clone())).collect();
        prop_assert_eq!(got, expected);
        prop_assert!(conn.keyed.keys() <= CORRIDORS.len() + ANCHORS.len());
    }
}
