//! Cross-tab sharing: unit tests of the messages and a simulated browser
//! (Web Locks, BroadcastChannel, sockets to a server with a replay log,
//! timers) in which tabs die, freeze and thaw at random.

use super::*;
use crate::filter::Filter;
use crate::machine::{Config, Timer};
use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};

#[test]
fn channel_names_differ_by_url_and_token_and_hide_the_token() {
    let a = channel_name("ws://h/ws", None);
    assert_eq!(a, channel_name("ws://h/ws", None));
    assert_ne!(a, channel_name("ws://h/ws", Some("t")));
    assert_ne!(a, channel_name("ws://h:1/ws", None));
    assert_ne!(
        channel_name("ws://h/ws", Some("a")),
        channel_name("ws://h/ws", Some("b"))
    );
    assert!(!channel_name("ws://h/ws", Some("secret")).contains("secret"));
}

#[test]
fn messages_round_trip() {
    let mut set = TopicSet::default();
    set.insert(Topic::Snapshots);
    set.insert(Topic::Corridor("USDC:G->EURC:G".into()));
    set.insert(Topic::Anchor("a1".into()));
    let mut t = Tabs::new(7);
    t.plan = TopicPlan::Only(set.clone());
    let r = t.report(Some(42), true);
    assert_eq!(
        parse(&r),
        Some(Msg::Report {
            tab: 7,
            last: Some(42),
            need: true,
            plan: TopicPlan::Only(set)
        })
    );
    t.plan = TopicPlan::Everything;
    assert_eq!(
        parse(&t.report(None, false)),
        Some(Msg::Report {
            tab: 7,
            last: None,
            need: false,
            plan: TopicPlan::Everything
        })
    );
    let e = Epoch { n: 3, tab: 9 };
    let mut f = frame_prefix(e, 12);
    f.push_str("{\"a\":\"x\ny\"}");
    assert_eq!(
        parse(&f),
        Some(Msg::Frame {
            epoch: e,
            count: 12,
            text: "{\"a\":\"x\ny\"}"
        })
    );
    assert_eq!(
        parse(&send_message(e, "hi")),
        Some(Msg::Send {
            epoch: e,
            text: "hi"
        })
    );
    assert_eq!(
        parse("B\n4\n9\n1\n17\n1000\n33\nc-1"),
        Some(Msg::Beat {
            epoch: Epoch { n: 4, tab: 9 },
            open: true,
            head: Some(17),
            heartbeat_ms: 1000,
            count: 33,
            connection_id: "c-1"
        })
    );
    for bad in [
        "",
        "X\n1",
        "F\n1\n",
        "F\nx\n1\n{}",
        "F\n1\n2\n{}",
        "F\n1\n2\nx\n{}",
        "R\n1\n\n0\n?",
        "B\n1\n2\n1",
        "B\n1\n2\n1\n5\n1000\nid",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}

#[test]
fn connected_frame_is_read_by_the_frame_reader() {
    let text = connected_frame("6f1c-\"x", 15_000, Some(12));
    let f = crate::frame::classify(&text).unwrap();
    assert_eq!(f.kind, crate::frame::Kind::Connected);
    assert_eq!(f.seq, Some(12));
    assert_eq!(f.heartbeat_ms, Some(15_000));
    assert_eq!(f.connection_id.as_deref(), Some("6f1c-x"));
    assert!(f.mismatch.is_empty(), "{:?}", f.mismatch);
}

// ---- simulated browser ----------------------------------------------------

const HEARTBEAT_MS: u64 = 1_000;

#[derive(Debug)]
enum In {
    Socket(u32, SockIn),
    Channel(String),
    Granted(u32),
    Lost(u32),
}

#[derive(Debug)]
enum SockIn {
    Opened,
    Text(String),
    Closed,
}

struct SimSocket {
    id: u32,
    tab: usize,
    topics: Option<TopicSet>,
    /// Client frames other than subscribe/unsubscribe, as received.
    sent: Vec<String>,
    /// Pings the server sent on this socket (count).
    pings: usize,
}

struct Tab {
    machine: Machine,
    shared: Shared,
    inbox: VecDeque<In>,
    socket: Option<u32>,
    timers: BTreeMap<u8, f64>,
    beat_at: Option<f64>,
    alive: bool,
    frozen: bool,
    hidden: bool,
    start: Option<u64>,
    delivered: Vec<u64>,
    keys: Vec<String>,
    resyncs: u32,
    /// Lock request generation; grants/losses of older ones are ignored.
    lock_gen: u32,
}

fn timer_slot(t: Timer) -> u8 {
    t as u8
}

fn timer_of(slot: u8) -> Timer {
    [
        Timer::Reconnect,
        Timer::ConnectTimeout,
        Timer::Heartbeat,
        Timer::Stable,
        Timer::Linger,
    ][slot as usize]
}

#[derive(Default)]
struct Lock {
    holder: Option<(usize, u32)>,
    waiting: Vec<(usize, u32)>,
}

struct Sim {
    now: f64,
    tabs: Vec<Tab>,
    log: Vec<(u64, String)>,
    sockets: Vec<SimSocket>,
    next_socket: u32,
    lock: Lock,
    opened: u32,
    max_open: usize,
    retention: usize,
    /// When the server pings every socket next (every `HEARTBEAT_MS`).
    next_ping: f64,
    /// Relayed frames posted on the channel.
    posted_frames: usize,
}

fn since_of(url: &str) -> Option<u64> {
    let at = url.find("since=")?;
    let digits: String = url[at + 6..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

impl Sim {
    fn new() -> Sim {
        Sim {
            now: 1_000.0,
            tabs: Vec::new(),
            log: Vec::new(),
            sockets: Vec::new(),
            next_socket: 1,
            lock: Lock::default(),
            opened: 0,
            max_open: 0,
            retention: usize::MAX,
            next_ping: 1_000.0 + HEARTBEAT_MS as f64,
            posted_frames: 0,
        }
    }

    fn head(&self) -> u64 {
        self.log.last().map_or(0, |(s, _)| *s)
    }

    /// A tab subscribed to corridor updates of `keys` (all when empty).
    fn spawn(&mut self, keys: &[&str]) -> usize {
        // Unlimited attempts (as the browser suite's page): a frozen leader
        // costs its followers failed attempts, and giving up after five is a
        // policy of its own, not what these tests are about.
        let config = Config {
            url: "ws://h/ws".into(),
            backoff: crate::backoff::Backoff {
                max_attempts: None,
                ..crate::backoff::Backoff::default()
            },
            ..Config::default()
        };
        let mut machine = Machine::new(config, Box::new(|| 0.5));
        let filter = Filter {
            types: Some(vec!["corridor_update".into()]),
            corridor_keys: (!keys.is_empty()).then(|| keys.iter().map(|k| k.to_string()).collect()),
            anchor_ids: None,
        };
        let i = self.tabs.len();
        let _ = machine.subscribe(1, &filter).unwrap();
        self.tabs.push(Tab {
            machine,
            shared: Shared::new(1_000 + i as u64),
            inbox: VecDeque::new(),
            socket: None,
            timers: BTreeMap::new(),
            beat_at: None,
            alive: true,
            frozen: false,
            hidden: false,
            start: None,
            delivered: Vec::new(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            resyncs: 0,
            lock_gen: 0,
        });
        let out = {
            let t = &mut self.tabs[i];
            let mut out = t.shared.topics_changed(&mut t.machine, self.now);
            let more = t.shared.handle(
                &mut t.machine,
                self.now,
                SharedEvent::Machine(Event::Acquire),
            );
            out.machine.extend(more.machine);
            out.tabs.extend(more.tabs);
            out
        };
        self.apply(i, out);
        i
    }

    fn open_sockets(&self) -> usize {
        self.sockets.len()
    }

    fn write(&mut self, key: &str) {
        let seq = self.head() + 1;
        let text = format!(
            r#"{{"type":"corridor_update","corridor_id":"c","corridor_key":"{key}","success_rate":1,"volume_usd":1,"total_transactions":1,"seq":{seq}}}"#
        );
        self.log.push((seq, key.to_string()));
        for s in &self.sockets {
            if s.topics.as_ref().is_none_or(|t| {
                t.contains(&Topic::Corridor(key.into())) || t.contains(&Topic::Corridors)
            }) {
                self.tabs[s.tab]
                    .inbox
                    .push_back(In::Socket(s.id, SockIn::Text(text.clone())));
            }
        }
    }

    /// `n` writes of `key`, each handed over before the next.
    fn write_n(&mut self, key: &str, n: usize) {
        for _ in 0..n {
            self.write(key);
            self.drain();
        }
    }

    /// The server restarts: every socket closes.
    fn restart(&mut self) {
        for s in std::mem::take(&mut self.sockets) {
            self.tabs[s.tab]
                .inbox
                .push_back(In::Socket(s.id, SockIn::Closed));
        }
    }

    fn ping_all(&mut self) {
        for s in &mut self.sockets {
            s.pings += 1;
            self.tabs[s.tab].inbox.push_back(In::Socket(
                s.id,
                SockIn::Text(r#"{"type":"ping","timestamp":1}"#.into()),
            ));
        }
    }

    fn grant(&mut self, who: (usize, u32)) {
        self.lock.holder = Some(who);
        self.tabs[who.0].inbox.push_back(In::Granted(who.1));
    }

    fn release_by(&mut self, tab: usize) {
        self.lock.waiting.retain(|(t, _)| *t != tab);
        if self.lock.holder.is_some_and(|(t, _)| t == tab) {
            self.lock.holder = None;
            if !self.lock.waiting.is_empty() {
                let next = self.lock.waiting.remove(0);
                self.grant(next);
            }
        }
    }

    fn close_socket_of(&mut self, tab: usize) {
        self.sockets.retain(|s| s.tab != tab);
        self.tabs[tab].socket = None;
    }

    fn apply(&mut self, i: usize, out: Out) {
        for a in out.tabs {
            match a {
                TabAction::RequestLock { steal } => {
                    // A new request abandons a pending one (AbortSignal).
                    self.lock.waiting.retain(|(t, _)| *t != i);
                    self.tabs[i].lock_gen += 1;
                    let who = (i, self.tabs[i].lock_gen);
                    if steal {
                        if let Some((old, g)) = self.lock.holder {
                            self.tabs[old].inbox.push_back(In::Lost(g));
                        }
                        self.grant(who);
                    } else if self.lock.holder.is_none() {
                        self.grant(who);
                    } else if self.lock.holder.is_some_and(|(t, _)| t == i) {
                        // Already holds it (from an older request): queue.
                        self.lock.waiting.push(who);
                    } else {
                        self.lock.waiting.push(who);
                    }
                }
                TabAction::ReleaseLock => {
                    self.tabs[i].lock_gen += 1;
                    self.release_by(i);
                }
                TabAction::Post(text) => {
                    self.posted_frames += usize::from(text.starts_with("F\n"));
                    for (j, t) in self.tabs.iter_mut().enumerate() {
                        if j != i && t.alive && !t.hidden {
                            t.inbox.push_back(In::Channel(text.clone()));
                        }
                    }
                }
                TabAction::BeatTimer(on) => {
                    self.tabs[i].beat_at = on.then_some(self.now + BEAT_MS as f64);
                }
                other => panic!("glue action expected, got {other:?}"),
            }
        }
        for a in out.machine {
            match a {
                Action::Open(url) => {
                    self.close_socket_of(i);
                    let id = self.next_socket;
                    self.next_socket += 1;
                    self.opened += 1;
                    self.sockets.push(SimSocket {
                        id,
                        tab: i,
                        topics: None,
                        sent: Vec::new(),
                        pings: 0,
                    });
                    self.max_open = self.max_open.max(self.sockets.len());
                    let head = self.head();
                    let since = since_of(&url);
                    let t = &mut self.tabs[i];
                    t.socket = Some(id);
                    t.inbox.push_back(In::Socket(id, SockIn::Opened));
                    t.inbox.push_back(In::Socket(
                        id,
                        SockIn::Text(format!(
                            r#"{{"type":"connected","connection_id":"c{id}","protocol":1,"heartbeat_ms":{HEARTBEAT_MS},"seq":{head},"resumed":{}}}"#,
                            since.is_some()
                        )),
                    ));
                    if let Some(since) = since {
                        let oldest = self.log.len().saturating_sub(self.retention);
                        let kept = &self.log[oldest..];
                        if since < head && kept.first().is_some_and(|(s, _)| *s > since + 1) {
                            t.inbox.push_back(In::Socket(
                                id,
                                SockIn::Text(
                                    r#"{"type":"resync_required","reason":"pruned"}"#.into(),
                                ),
                            ));
                        } else {
                            for (seq, key) in kept.iter().filter(|(s, _)| *s > since) {
                                t.inbox.push_back(In::Socket(id, SockIn::Text(format!(
                                    r#"{{"type":"corridor_update","corridor_id":"c","corridor_key":"{key}","success_rate":1,"volume_usd":1,"total_transactions":1,"seq":{seq}}}"#
                                ))));
                            }
                        }
                    }
                }
                Action::Close { .. } => self.close_socket_of(i),
                Action::Send(text) => {
                    if let Some(id) = self.tabs[i].socket {
                        let s = self.sockets.iter_mut().find(|s| s.id == id).unwrap();
                        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                        let topics = v["topics"].as_array().map(|a| {
                            a.iter()
                                .map(|t| t.as_str().unwrap().parse::<Topic>().unwrap())
                                .collect::<Vec<_>>()
                        });
                        match v["type"].as_str().unwrap() {
                            "subscribe" => {
                                let set = s.topics.get_or_insert_with(TopicSet::default);
                                for t in topics.unwrap() {
                                    set.insert(t);
                                }
                            }
                            "unsubscribe" => {
                                let gone = topics.unwrap();
                                if let Some(set) = s.topics.as_mut() {
                                    set.retain(|t| !gone.contains(t));
                                }
                            }
                            _ => s.sent.push(text),
                        }
                    }
                }
                Action::SetTimer(t, ms) => {
                    self.tabs[i]
                        .timers
                        .insert(timer_slot(t), self.now + ms as f64);
                }
                Action::CancelTimer(t) => {
                    self.tabs[i].timers.remove(&timer_slot(t));
                }
                Action::Deliver(d) => {
                    let t = &mut self.tabs[i];
                    if let Some(seq) = d.seq {
                        assert!(
                            t.delivered.last().is_none_or(|l| seq > *l),
                            "tab {i} delivered {seq} after {:?}",
                            t.delivered.last()
                        );
                        t.delivered.push(seq);
                    }
                }
                Action::Resync(_) => self.tabs[i].resyncs += 1,
                Action::Status(_) | Action::Error(_) | Action::StateChanged => {}
            }
        }
        let t = &mut self.tabs[i];
        if t.start.is_none() {
            t.start = t.machine.last_seq();
        }
    }

    fn feed(&mut self, i: usize, e: SharedEvent) {
        let t = &mut self.tabs[i];
        let out = t.shared.handle(&mut t.machine, self.now, e);
        self.apply(i, out);
    }

    /// Tab `i` handles its next queued input; false when there is none.
    fn step(&mut self, i: usize) -> bool {
        let t = &mut self.tabs[i];
        if !t.alive || t.frozen {
            return false;
        }
        let Some(input) = t.inbox.pop_front() else {
            return false;
        };
        let event = match input {
            In::Socket(id, _) if t.socket != Some(id) => return true,
            In::Socket(_, SockIn::Opened) => SharedEvent::Machine(Event::Opened),
            In::Socket(_, SockIn::Text(text)) => SharedEvent::SocketFrame(text),
            In::Socket(_, SockIn::Closed) => {
                t.socket = None;
                SharedEvent::Machine(Event::Closed {
                    code: 1012,
                    reason: "restart".into(),
                })
            }
            In::Channel(text) => SharedEvent::Tab(TabEvent::Message(text)),
            In::Granted(g) if g == t.lock_gen => SharedEvent::Tab(TabEvent::LockGranted),
            In::Granted(g) => {
                // An abandoned request granted anyway: give it back.
                let _ = g;
                if self
                    .lock
                    .holder
                    .is_some_and(|(h, hg)| h == i && hg != self.tabs[i].lock_gen)
                {
                    self.release_by(i);
                }
                return true;
            }
            In::Lost(g) if g == t.lock_gen => SharedEvent::Tab(TabEvent::LockLost),
            In::Lost(_) => return true,
        };
        self.feed(i, event);
        true
    }

    fn drain(&mut self) {
        let mut busy = true;
        while busy {
            busy = false;
            for i in 0..self.tabs.len() {
                while self.step(i) {
                    busy = true;
                }
            }
        }
    }

    /// Advance the clock by `ms`, firing due timers in order.
    fn advance(&mut self, ms: f64) {
        let end = self.now + ms;
        loop {
            let mut next: Option<(f64, usize, Option<u8>)> = None;
            for (i, t) in self.tabs.iter().enumerate() {
                if !t.alive || t.frozen {
                    continue;
                }
                for (slot, at) in &t.timers {
                    if *at <= end && next.is_none_or(|(n, _, _)| *at < n) {
                        next = Some((*at, i, Some(*slot)));
                    }
                }
                if let Some(at) = t.beat_at {
                    if at <= end && next.is_none_or(|(n, _, _)| at < n) {
                        next = Some((at, i, None));
                    }
                }
            }
            if self.next_ping <= end && next.is_none_or(|(n, _, _)| self.next_ping < n) {
                self.now = self.now.max(self.next_ping);
                self.next_ping += HEARTBEAT_MS as f64;
                self.ping_all();
                self.drain();
                continue;
            }
            let Some((at, i, slot)) = next else { break };
            self.now = self.now.max(at);
            match slot {
                Some(slot) => {
                    self.tabs[i].timers.remove(&slot);
                    self.feed(i, SharedEvent::Machine(Event::Timer(timer_of(slot))));
                }
                None => {
                    self.tabs[i].beat_at = Some(at + BEAT_MS as f64);
                    self.feed(i, SharedEvent::Tab(TabEvent::Beat));
                }
            }
            self.drain();
        }
        self.now = end;
    }

    /// `pagehide` into the back/forward cache: the channel is closed too.
    fn hide(&mut self, i: usize) {
        self.feed(i, SharedEvent::Tab(TabEvent::Hide));
        self.tabs[i].hidden = true;
    }

    /// `pageshow` from the cache (the machine sees the page visible again).
    fn show(&mut self, i: usize) {
        self.tabs[i].hidden = false;
        self.feed(i, SharedEvent::Tab(TabEvent::Show));
        self.feed(
            i,
            SharedEvent::Machine(Event::Visible { socket_open: false }),
        );
    }

    fn kill(&mut self, i: usize, polite: bool) {
        if !self.tabs[i].alive {
            return;
        }
        if polite && !self.tabs[i].frozen {
            self.feed(i, SharedEvent::Tab(TabEvent::Hide));
        }
        self.tabs[i].alive = false;
        self.close_socket_of(i);
        self.release_by(i);
    }

    fn leaders(&self) -> Vec<usize> {
        (0..self.tabs.len())
            .filter(|&i| self.tabs[i].alive && self.tabs[i].shared.tabs.is_leader())
            .collect()
    }

    /// Let everything settle: thaw nothing, just run time and queues.
    fn settle(&mut self, ms: f64) {
        let mut t = 0.0;
        while t < ms {
            self.drain();
            self.advance(100.0);
            t += 100.0;
        }
        self.drain();
    }

    /// Every live tab delivered each matching `seq` after its start exactly once, in order.
    fn assert_exact(&self) {
        for (i, t) in self.tabs.iter().enumerate() {
            if !t.alive || t.frozen || t.hidden {
                continue;
            }
            let start = t.start.expect("tab connected");
            let expected: Vec<u64> = self
                .log
                .iter()
                .filter(|(s, k)| *s > start && (t.keys.is_empty() || t.keys.contains(k)))
                .map(|(s, _)| *s)
                .collect();
            let got: Vec<u64> = t.delivered.iter().copied().filter(|s| *s > start).collect();
            assert_eq!(
                got,
                expected,
                "tab {i} (start {start}, resyncs {}) {:?} {:?}",
                t.resyncs,
                t.machine.status(),
                t.shared
            );
        }
    }
}

#[test]
fn ten_tabs_share_one_socket_and_each_gets_every_update_once() {
    let mut sim = Sim::new();
    for _ in 0..10 {
        sim.spawn(&[]);
        sim.drain();
    }
    sim.settle(2_000.0);
    assert_eq!(sim.open_sockets(), 1);
    assert_eq!(sim.opened, 1, "one socket was ever opened");
    assert_eq!(sim.leaders().len(), 1);
    for n in 0..50 {
        sim.write(if n % 2 == 0 { "A" } else { "B" });
        sim.drain();
    }
    sim.settle(2_000.0);
    sim.assert_exact();
    for t in &sim.tabs {
        assert_eq!(t.delivered.len(), 50);
        assert!(t.machine.is_connected());
    }
    let followers = sim
        .tabs
        .iter()
        .filter(|t| t.machine.status().leader == Some(false));
    assert_eq!(followers.count(), 9);
}

#[test]
fn a_lone_leader_posts_no_frames_and_relays_once_another_tab_joins() {
    let mut sim = Sim::new();
    sim.spawn(&[]);
    sim.settle(2_000.0);
    sim.write_n("A", 20);
    sim.settle(1_000.0);
    assert_eq!(sim.posted_frames, 0, "nobody listens: nothing posted");
    assert_eq!(sim.tabs[0].delivered.len(), 20);
    sim.spawn(&[]);
    sim.settle(2_000.0);
    sim.write_n("A", 20);
    sim.settle(1_000.0);
    assert!(sim.posted_frames >= 20, "{}", sim.posted_frames);
    assert_eq!(sim.opened, 1);
    sim.assert_exact();
    assert_eq!(sim.tabs[1].delivered.len(), 20);
    // The follower leaves: the leader stops posting again.
    sim.kill(1, true);
    sim.settle(1_000.0);
    let posted = sim.posted_frames;
    sim.write_n("A", 10);
    sim.settle(1_000.0);
    assert_eq!(sim.posted_frames, posted);
    assert_eq!(sim.tabs[0].delivered.len(), 50);
}

#[test]
fn a_follower_the_leader_stopped_relaying_to_attaches_again_and_misses_nothing() {
    let mut sim = Sim::new();
    sim.spawn(&[]);
    sim.spawn(&[]);
    sim.settle(2_000.0);
    let leader = sim.leaders()[0];
    let follower = 1 - leader;
    sim.write("A");
    sim.settle(500.0);
    // The follower stops answering beats for longer than the peer timeout:
    // the leader forgets it and stops posting frames.
    sim.tabs[follower].frozen = true;
    sim.settle(PEER_TIMEOUT_MS as f64 + 2_000.0);
    assert!(!sim.tabs[leader].shared.tabs.has_listeners());
    let posted = sim.posted_frames;
    sim.write_n("A", 10);
    sim.settle(500.0);
    assert_eq!(sim.posted_frames, posted, "no listener, no post");
    // It wakes up, sees frame numbers it never got, attaches again and the
    // leader replays what it lacks.
    sim.tabs[follower].frozen = false;
    sim.settle(8_000.0);
    sim.write("A");
    sim.settle(2_000.0);
    assert_eq!(sim.leaders(), vec![leader]);
    sim.assert_exact();
    assert_eq!(sim.tabs[follower].delivered.len(), 12);
}

#[test]
fn closing_the_leader_fifty_times_loses_and_repeats_nothing() {
    let mut sim = Sim::new();
    for _ in 0..4 {
        sim.spawn(&[]);
    }
    sim.settle(2_000.0);
    for round in 0..50 {
        for _ in 0..5 {
            sim.write("A");
            sim.drain();
        }
        let leader = sim.leaders()[0];
        // Some updates are still in flight on the channel when it dies.
        sim.write("A");
        sim.kill(leader, round % 2 == 0);
        sim.write("A");
        sim.spawn(&[]);
        sim.settle(1_500.0);
        assert_eq!(sim.leaders().len(), 1, "round {round}");
        assert_eq!(sim.open_sockets(), 1, "round {round}");
    }
    sim.assert_exact();
    // Replays overlapped what tabs had: dropped and counted, not delivered.
    let dropped: u64 = sim.tabs.iter().map(|t| t.machine.duplicates()).sum();
    assert!(dropped > 0);
}

#[test]
fn frozen_leader_is_replaced_after_the_timeout_and_steps_down_on_thaw() {
    let mut sim = Sim::new();
    for _ in 0..3 {
        sim.spawn(&[]);
    }
    sim.settle(2_000.0);
    let old = sim.leaders()[0];
    sim.tabs[old].frozen = true;
    let frozen_at = sim.now;
    let mut took_over = None;
    for _ in 0..100 {
        sim.write("A");
        sim.settle(100.0);
        let leaders: Vec<usize> = sim.leaders().into_iter().filter(|&l| l != old).collect();
        if !leaders.is_empty() && took_over.is_none() {
            took_over = Some(sim.now - frozen_at);
        }
    }
    let took = took_over.expect("a follower took over");
    assert!(
        took <= (LEADER_TIMEOUT_MS + 2 * BEAT_MS) as f64,
        "takeover after {took} ms"
    );
    // Thaw: it handles its queued socket frames and the channel, sees the
    // higher epoch and closes its socket.
    sim.tabs[old].frozen = false;
    sim.settle(3_000.0);
    assert_eq!(sim.leaders().len(), 1);
    assert!(!sim.tabs[old].shared.tabs.is_leader());
    assert_eq!(sim.open_sockets(), 1);
    for _ in 0..5 {
        sim.write("A");
    }
    sim.settle(1_000.0);
    sim.assert_exact();
}

#[test]
fn of_two_leaders_the_lower_epoch_steps_down_and_its_frames_are_ignored() {
    let mut sim = Sim::new();
    let a = sim.spawn(&[]);
    let b = sim.spawn(&[]);
    let c = sim.spawn(&[]);
    sim.settle(2_000.0);
    assert_eq!(sim.leaders(), vec![a]);
    // B takes the lock while A still leads (as a steal by a tab that missed
    // A's beats would): for a moment both lead.
    sim.feed(b, SharedEvent::Tab(TabEvent::LockGranted));
    assert_eq!(sim.leaders(), vec![a, b]);
    assert!(sim.tabs[b].shared.tabs.epoch() > sim.tabs[a].shared.tabs.epoch());
    sim.write("A");
    sim.settle(2_000.0);
    assert_eq!(
        sim.leaders(),
        vec![b],
        "A saw the higher epoch and stepped down"
    );
    assert_eq!(sim.open_sockets(), 1);
    sim.write("A");
    sim.settle(500.0);
    sim.assert_exact();
    assert_eq!(sim.tabs[c].delivered.len(), 2);
}

#[test]
fn a_follower_sends_through_the_leader_socket_and_answers_no_ping() {
    let mut sim = Sim::new();
    let a = sim.spawn(&[]);
    let b = sim.spawn(&[]);
    sim.settle(2_000.0);
    assert_eq!(sim.leaders(), vec![a]);
    let before = sim.sockets[0].sent.len();
    // Only the leader answers the server's pings.
    let pongs = sim.sockets[0]
        .sent
        .iter()
        .filter(|t| t.contains("pong"))
        .count();
    // One answer per ping (the followers relay nothing back), bar the last
    // ping, which may still be queued.
    let pings = sim.sockets[0].pings;
    assert!(
        pongs > 0 && (pongs == pings || pongs + 1 == pings),
        "{pongs} pongs, {pings} pings"
    );
    sim.feed(
        b,
        SharedEvent::Machine(Event::Send("{\"type\":\"hello\"}".into())),
    );
    sim.settle(200.0);
    let sent = &sim.sockets[0].sent[before..];
    assert!(sent.iter().any(|t| t == "{\"type\":\"hello\"}"), "{sent:?}");
    assert_eq!(
        sim.tabs[b].socket, None,
        "the follower has no socket of its own"
    );
}

#[test]
fn a_throttled_follower_does_not_take_over_on_a_late_tick() {
    let mut t = Tabs::new(1);
    let out = t.handle(0.0, None, TabEvent::Want);
    assert!(out.contains(&TabAction::RequestLock { steal: false }));
    // On time, silent leader: steal after the timeout.
    let mut tb = Tabs::new(2);
    tb.handle(0.0, None, TabEvent::Want);
    let mut stole = false;
    for k in 1..=5 {
        let out = tb.handle((k * BEAT_MS) as f64, None, TabEvent::Beat);
        stole |= out.contains(&TabAction::RequestLock { steal: true });
    }
    assert!(stole);
    // Throttled: one tick a minute never steals.
    for k in 1..=5 {
        let out = t.handle((k * 60_000) as f64, None, TabEvent::Beat);
        assert!(!out.contains(&TabAction::RequestLock { steal: true }));
    }
}

#[test]
fn leader_subscribes_the_union_and_drops_topics_of_a_closed_tab() {
    let mut sim = Sim::new();
    let a = sim.spawn(&["A"]);
    sim.settle(1_000.0);
    let b = sim.spawn(&["B"]);
    sim.settle(2_000.0);
    assert_eq!(sim.leaders(), vec![a]);
    let topics = |sim: &Sim| sim.sockets[0].topics.clone().unwrap();
    assert!(topics(&sim).contains(&Topic::Corridor("B".into())));
    assert!(topics(&sim).contains(&Topic::Corridor("A".into())));
    sim.write("B");
    sim.write("A");
    sim.settle(500.0);
    assert_eq!(sim.tabs[b].delivered.len(), 1);
    assert_eq!(sim.tabs[a].delivered.len(), 1);
    // B subscribes another key after joining.
    {
        let t = &mut sim.tabs[b];
        let filter = Filter {
            types: Some(vec!["corridor_update".into()]),
            corridor_keys: Some(vec!["C".into()]),
            anchor_ids: None,
        };
        let actions = t.machine.subscribe(2, &filter).unwrap();
        let mut out = t.shared.route_actions(&mut t.machine, sim.now, actions);
        let more = t.shared.topics_changed(&mut t.machine, sim.now);
        out.tabs.extend(more.tabs);
        out.machine.extend(more.machine);
        sim.tabs[b].keys.push("C".into());
        sim.apply(b, out);
    }
    sim.settle(500.0);
    assert!(topics(&sim).contains(&Topic::Corridor("C".into())));
    sim.write("C");
    sim.settle(500.0);
    assert_eq!(sim.tabs[b].delivered.len(), 2);
    sim.kill(b, true);
    sim.settle(500.0);
    assert!(!topics(&sim).contains(&Topic::Corridor("B".into())));
    assert!(!topics(&sim).contains(&Topic::Corridor("C".into())));
    assert!(topics(&sim).contains(&Topic::Corridor("A".into())));
}

#[test]
fn bfcache_hide_releases_everything_and_show_rejoins_from_its_own_seq() {
    let mut sim = Sim::new();
    let a = sim.spawn(&[]);
    let b = sim.spawn(&[]);
    sim.settle(2_000.0);
    assert_eq!(sim.leaders(), vec![a]);
    sim.hide(a);
    sim.settle(1_000.0);
    assert_eq!(sim.leaders(), vec![b]);
    assert!(sim.lock.holder.is_some_and(|(t, _)| t == b));
    assert!(sim.lock.waiting.iter().all(|(t, _)| *t != a));
    assert!(sim.tabs[a].socket.is_none());
    for _ in 0..5 {
        sim.write("A");
    }
    sim.settle(500.0);
    sim.show(a);
    sim.settle(3_000.0);
    sim.write("A");
    sim.settle(500.0);
    // A missed five updates while in the cache: the leader replays them.
    assert_eq!(sim.tabs[a].delivered.len(), 6);
    sim.assert_exact();
}

#[test]
fn followers_follow_the_shared_socket_through_a_server_restart() {
    let mut sim = Sim::new();
    for _ in 0..3 {
        sim.spawn(&[]);
    }
    sim.settle(2_000.0);
    sim.write("A");
    sim.drain();
    sim.restart();
    sim.drain();
    // Followers see the shared socket close (their status is honest).
    for t in &sim.tabs {
        assert!(!t.machine.is_connected());
    }
    sim.write("A");
    sim.settle(5_000.0);
    assert_eq!(sim.open_sockets(), 1);
    for t in &sim.tabs {
        assert!(t.machine.is_connected());
    }
    sim.write("A");
    sim.settle(500.0);
    sim.assert_exact();
    assert!(sim.tabs.iter().all(|t| t.delivered.len() == 3));
}

#[test]
fn a_replay_the_server_no_longer_has_gives_resync() {
    let mut sim = Sim::new();
    sim.retention = 3;
    let a = sim.spawn(&[]);
    let b = sim.spawn(&[]);
    sim.settle(2_000.0);
    sim.write("A");
    sim.settle(500.0);
    sim.hide(b);
    for _ in 0..10 {
        sim.write("A");
    }
    sim.settle(500.0);
    sim.show(b);
    sim.settle(3_000.0);
    assert!(sim.tabs[b].resyncs >= 1);
    assert_eq!(sim.leaders(), vec![a]);
    sim.write("A");
    sim.settle(500.0);
    assert_eq!(sim.tabs[b].delivered.last(), Some(&sim.head()));
    assert_eq!(sim.tabs[a].delivered.len(), 12);
}

#[derive(Debug, Clone)]
enum Op {
    Write,
    Step(usize),
    Advance(u16),
    Kill(usize, bool),
    Freeze(usize),
    Thaw(usize),
    Spawn,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Write),
        6 => (0..8usize).prop_map(Op::Step),
        4 => (1..2_500u16).prop_map(Op::Advance),
        1 => (0..8usize, any::<bool>()).prop_map(|(i, p)| Op::Kill(i, p)),
        1 => (0..8usize).prop_map(Op::Freeze),
        1 => (0..8usize).prop_map(Op::Thaw),
        1 => Just(Op::Spawn),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any interleaving of leader deaths, freezes, thaws, channel and socket
    /// messages and timers: every tab delivers each `seq` at most once and
    /// in order (checked on every delivery), and once everything has
    /// settled, every live tab has every update after its start.
    #[test]
    fn every_tab_delivers_each_seq_once_in_order(ops in prop::collection::vec(op(), 1..120)) {
        let mut sim = Sim::new();
        for _ in 0..3 {
            sim.spawn(&[]);
        }
        for op in ops {
            let n = sim.tabs.len();
            match op {
                Op::Write => sim.write("A"),
                Op::Step(i) => {
                    sim.step(i % n);
                }
                Op::Advance(ms) => sim.advance(f64::from(ms)),
                Op::Kill(i, polite) => {
                    if sim.tabs.iter().filter(|t| t.alive).count() > 1 {
                        sim.kill(i % n, polite);
                    }
                }
                Op::Freeze(i) => sim.tabs[i % n].frozen = true,
                Op::Thaw(i) => sim.tabs[i % n].frozen = false,
                Op::Spawn => {
                    if n < 8 {
                        sim.spawn(&[]);
                    }
                }
            }
        }
        for t in &mut sim.tabs {
            t.frozen = false;
        }
        sim.settle(8_000.0);
        sim.write("A");
        sim.settle(2_000.0);
        prop_assert_eq!(sim.leaders().len(), 1);
        prop_assert_eq!(sim.open_sockets(), 1);
        sim.assert_exact();
    }
}
