//! One socket per browser: the cross-tab election and relay, sans-IO.
//!
//! Every tab of one origin that uses the same URL and token runs a [`Tabs`]
//! next to its own connection [`Machine`]. The tab
//! holding a Web Lock (named by [`channel_name`]) is the *leader*: its
//! machine owns the real WebSocket, and it relays every server frame over a
//! `BroadcastChannel` of the same name, tagged with its fencing [`Epoch`].
//! Every other tab is a *follower*: its machine's socket is that relay. Each
//! tab keeps its own subscriptions and its own last delivered `seq`, so a
//! tab never delivers a `seq` at or below its last one, whoever relays it.
//!
//! Decisions made here (the glue in `src/browser/tabs.rs` only moves
//! [`TabEvent`]s in and [`TabAction`]s out):
//!
//! - **Election.** A tab that wants a socket asks for the lock and waits.
//!   The holder leads with epoch `max seen + 1` (ties broken by tab id). A
//!   leader beats every [`BEAT_MS`] (and each relayed frame counts as a
//!   beat); a follower that hears nothing from its leader for
//!   [`LEADER_TIMEOUT_MS`] takes the lock with `steal`, unless its own beat
//!   timer fired late (a throttled hidden tab: the leader's timer is likely
//!   throttled too). A leader that sees a higher epoch, or loses its lock,
//!   closes its socket and follows.
//! - **Fencing.** Frames and beats below the highest epoch seen are ignored.
//! - **Relay only to listeners.** The leader posts frames only while it
//!   knows another tab (one that reported within [`PEER_TIMEOUT_MS`]): a
//!   lone tab pays nothing for sharing (a `postMessage` of a 300-byte frame
//!   costs ~11 µs of main thread in Chromium). Frames are numbered per epoch,
//!   posted or not, and beats carry the count: a follower that sees a number
//!   skipped (its reports were late and the leader stopped relaying)
//!   detaches and attaches again, asking for a replay if it lacks updates.
//! - **Exactness.** Followers answer each beat with their last `seq` and
//!   their topics. A new leader opens its socket with `?since=` the lowest
//!   last `seq` of the live tabs (its own included); a follower attaches to
//!   a leader's stream only when it already has everything that stream has
//!   relayed (`last ≥ head`), else it asks (`need`) and the leader reopens
//!   from the lower `seq`. Replays that overlap are dropped by each tab's
//!   machine (`seq` ≤ its last). A replay the server no longer has gives
//!   every tab `onResync`, as without sharing.
//! - **Topics.** The leader asks the server for the union of every tab's
//!   topics and updates it when a tab reports a change, says goodbye
//!   (`pagehide`, release) or goes silent for [`PEER_TIMEOUT_MS`].
//! - **Back/forward cache and freezing.** On `pagehide` and `freeze` a tab
//!   says goodbye, releases or abandons its lock request and closes its
//!   socket (a held lock, an open socket or channel keep a page out of the
//!   bfcache); on `pageshow`/`resume` it joins again.
//!
//! Channel messages are short text lines (`\n`-separated fields), parsed
//! here; the relayed frame is the last field, untouched.

use crate::filter::{TopicPlan, TopicSet};
use crate::machine::{Action, Event, Machine};
use crate::protocol::Topic;
use crate::status::{ConnectionState, ErrorCode};
use crate::text::{cat, uint};
use crate::url;

/// Leader beat interval, ms. Default 1000.
pub const BEAT_MS: u64 = 1_000;
/// Silence from the leader after which a follower steals the lock, ms. 3000.
pub const LEADER_TIMEOUT_MS: u64 = 3_000;
/// Silence from a follower after which the leader drops its topics and
/// `seq`, ms. 30 000 (hidden tabs may answer late; see the README).
pub const PEER_TIMEOUT_MS: u64 = 30_000;

/// Channel and lock name for a socket URL and token: `stellar-insights-ws:2:`
/// (2: the version of the channel messages; tabs of a library version that
/// speaks another never share) and a 64-bit FNV-1a hash of both, in hex, so
/// different URLs or tokens never share and the token does not appear in
/// the name.
pub fn channel_name(url: &str, token: Option<&str>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = url
        .bytes()
        .chain([0u8])
        .chain(token.unwrap_or_default().bytes());
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut out = String::from("stellar-insights-ws:2:");
    for i in (0..16).rev() {
        out.push(char::from(
            b"0123456789abcdef"[((h >> (i * 4)) & 15) as usize],
        ));
    }
    out
}

/// A leader's fencing token: a counter, then the tab id to break ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Epoch {
    /// Leader generation, starting at 1.
    pub n: u64,
    /// Tab id of the leader.
    pub tab: u64,
}

/// What happened to this tab, fed to [`Tabs::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum TabEvent {
    /// The local machine wants a socket (it asked to open one).
    Want,
    /// The local machine closed its socket or went idle.
    Unwant,
    /// The local subscriptions changed; this is what they need now.
    Topics(TopicPlan),
    /// The local machine dropped its relayed socket by itself (heartbeat
    /// timeout, `disconnect()`): frames are not fed until it attaches again.
    Detached,
    /// The lock was granted.
    LockGranted,
    /// The lock was taken by another tab (`steal`) or the request failed.
    LockLost,
    /// A text arrived on the channel.
    Message(String),
    /// The beat timer fired.
    Beat,
    /// Leader: the real socket's `connected` frame was handled; its id and
    /// heartbeat, ms.
    Connected {
        /// `connection_id` of the socket.
        connection_id: String,
        /// Server heartbeat, ms.
        heartbeat_ms: u64,
    },
    /// Leader: the real socket closed (or could not open).
    SocketClosed,
    /// `pagehide` or `freeze`: leave, release everything.
    Hide,
    /// `pageshow` or `resume`: join again if a socket is wanted.
    Show,
}

/// What the glue must do.
#[derive(Debug, Clone, PartialEq)]
pub enum TabAction {
    /// Request the lock (`steal` takes it from a holder; any pending request
    /// of this tab is abandoned first).
    RequestLock {
        /// Use `{ steal: true }`.
        steal: bool,
    },
    /// Release the lock if held and abandon a pending request.
    ReleaseLock,
    /// Post this text on the channel.
    Post(String),
    /// Become the leader: give the local machine a real socket, opened with
    /// this `?since=` (`None`: from the server's head).
    OpenReal {
        /// Resume point for the shared socket.
        since: Option<u64>,
    },
    /// Close the real socket (the local machine sees it close).
    CloseReal,
    /// Follower: the shared socket is open; open the local machine's
    /// virtual socket and feed it this `connected` frame.
    Attach(String),
    /// Follower, already attached: the leader changed; feed this `connected`
    /// frame (new connection id; the resume point does not move).
    Reattach(String),
    /// Follower: the shared socket is gone; the local machine sees a close.
    Detach,
    /// Follower: feed this relayed server frame to the local machine.
    Feed(String),
    /// Leader: send this text on the real socket (a follower's message).
    Send(String),
    /// Leader: the other tabs now need these topics (`None`: no other tab).
    Topics(Option<TopicPlan>),
    /// Role for the status: `Some(true)` leader, `Some(false)` follower.
    Role(Option<bool>),
    /// Start the beat timer (every [`BEAT_MS`]), or stop it.
    BeatTimer(bool),
}

#[derive(Debug, Clone, PartialEq)]
struct Peer {
    tab: u64,
    last: Option<u64>,
    plan: TopicPlan,
    heard_at: f64,
}

/// The current leader as a follower sees it.
#[derive(Debug, Clone, PartialEq)]
struct LeaderView {
    epoch: Epoch,
    open: bool,
    head: Option<u64>,
    /// Frames the leader had relayed (posted or not) at its beat.
    count: u64,
    heartbeat_ms: u64,
    connection_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    None,
    Asked,
    Held,
}

/// The leader's socket.
#[derive(Debug, Clone, PartialEq)]
struct Lead {
    epoch: Epoch,
    /// `?since=` of the socket being opened or open.
    since: Option<u64>,
    /// Set from `connected`: the socket is open.
    open: Option<(String, u64)>,
    /// Highest `seq` relayed on this socket (or its starting point).
    head: Option<u64>,
    /// Frames relayed under this epoch, posted or not (numbers them).
    count: u64,
    /// Topics last announced to the local machine.
    topics: Option<TopicPlan>,
    /// `last` of a `need` already answered by a reopen.
    reopened_for: Option<u64>,
}

/// The cross-tab state of one tab; see the module docs.
#[derive(Debug)]
pub struct Tabs {
    id: u64,
    want: bool,
    hidden: bool,
    lock: Lock,
    max: Epoch,
    lead: Option<Lead>,
    view: Option<LeaderView>,
    heard_at: f64,
    /// When the beat timer last fired (ms).
    ticked_at: f64,
    attached: bool,
    /// Attached: the number of the last frame of the current leader taken
    /// (or its beat's count when attaching).
    seen: u64,
    /// Frames of the current leader went by while not attached: the head of
    /// the last beat is stale; attach only at the next beat.
    stale: bool,
    asked_at_head: Option<Option<u64>>,
    plan: TopicPlan,
    peers: Vec<Peer>,
}

fn opt(v: Option<u64>) -> String {
    v.map(uint).unwrap_or_default()
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 10 + u64::from(b - b'0')))
}

/// `Some(None)` for an empty field, `Some(Some(n))` for digits, else `None`.
fn opt_num(s: &str) -> Option<Option<u64>> {
    if s.is_empty() {
        Some(None)
    } else {
        num(s).map(Some)
    }
}

fn plan_lines(plan: &TopicPlan) -> String {
    let mut out = String::new();
    match plan {
        TopicPlan::Everything => out.push('*'),
        TopicPlan::Only(set) => {
            for (i, t) in set.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                match t {
                    Topic::Snapshots => out.push('s'),
                    Topic::Corridors => out.push('c'),
                    Topic::Anchors => out.push('a'),
                    Topic::Corridor(k) => {
                        out.push('C');
                        out.push_str(k);
                    }
                    Topic::Anchor(k) => {
                        out.push('A');
                        out.push_str(k);
                    }
                }
            }
        }
    }
    out
}

fn parse_plan<'a>(lines: impl Iterator<Item = &'a str>) -> Option<TopicPlan> {
    let mut set = TopicSet::default();
    for line in lines {
        let mut chars = line.chars();
        let rest = || line.get(1..).unwrap_or_default().to_owned();
        set.insert(match chars.next()? {
            '*' => return Some(TopicPlan::Everything),
            's' => Topic::Snapshots,
            'c' => Topic::Corridors,
            'a' => Topic::Anchors,
            'C' => Topic::Corridor(rest()),
            'A' => Topic::Anchor(rest()),
            _ => return None,
        });
    }
    if set.is_empty() {
        return Some(TopicPlan::Everything);
    }
    Some(TopicPlan::Only(set))
}

fn union(plans: impl Iterator<Item = TopicPlan>) -> Option<TopicPlan> {
    let mut acc: Option<TopicPlan> = None;
    for plan in plans {
        acc = Some(match (acc, plan) {
            (Some(TopicPlan::Everything), _) | (_, TopicPlan::Everything) => TopicPlan::Everything,
            (None, p) => p,
            (Some(TopicPlan::Only(mut a)), TopicPlan::Only(b)) => {
                for t in b.iter() {
                    a.insert(t.clone());
                }
                TopicPlan::Only(a)
            }
        });
    }
    acc
}

/// The `connected` frame a follower's machine gets when it attaches: the
/// shared socket's id and heartbeat, and `seq` = what the stream has
/// relayed so far (a tab that has delivered nothing starts there).
pub fn connected_frame(connection_id: &str, heartbeat_ms: u64, head: Option<u64>) -> String {
    let mut out = cat(&[r#"{"type":"connected","connection_id":""#]);
    for c in connection_id.chars() {
        // Ids are UUIDs; anything that would need escaping is dropped.
        if c != '"' && c != '\\' && c >= ' ' {
            out.push(c);
        }
    }
    out.push_str(r#"","protocol":1,"heartbeat_ms":"#);
    out.push_str(&uint(heartbeat_ms));
    if let Some(head) = head {
        out.push_str(r#","seq":"#);
        out.push_str(&uint(head));
    }
    out.push_str(r#","resumed":false}"#);
    out
}

/// A message on the channel, parsed.
#[derive(Debug, Clone, PartialEq)]
enum Msg<'a> {
    /// Leader beat / state.
    Beat {
        epoch: Epoch,
        open: bool,
        head: Option<u64>,
        heartbeat_ms: u64,
        count: u64,
        connection_id: &'a str,
    },
    /// A relayed server frame, the `count`-th of its epoch.
    Frame {
        epoch: Epoch,
        count: u64,
        text: &'a str,
    },
    /// A tab's report.
    Report {
        tab: u64,
        last: Option<u64>,
        need: bool,
        plan: TopicPlan,
    },
    /// A tab leaves.
    Bye { tab: u64 },
    /// A follower's message for the leader's socket.
    Send { epoch: Epoch, text: &'a str },
}

/// The first `N` `\n`-terminated fields and the rest. (An array, not
/// indexing into a `Vec`: a bounds-check panic would pull `core::fmt` into
/// the wasm.)
fn split_n<const N: usize>(text: &str) -> Option<([&str; N], &str)> {
    let mut fields = [""; N];
    let mut rest = text;
    for field in fields.iter_mut() {
        let at = rest.find('\n')?;
        *field = rest.get(..at)?;
        rest = rest.get(at + 1..)?;
    }
    Some((fields, rest))
}

fn parse(text: &str) -> Option<Msg<'_>> {
    let epoch = |n: &str, tab: &str| {
        Some(Epoch {
            n: num(n)?,
            tab: num(tab)?,
        })
    };
    match text.get(..2)? {
        "B\n" => {
            let ([n, tab, open, head, hb, count], id) = split_n(text.get(2..)?)?;
            Some(Msg::Beat {
                epoch: epoch(n, tab)?,
                open: open == "1",
                head: opt_num(head)?,
                heartbeat_ms: num(hb)?,
                count: num(count)?,
                connection_id: id,
            })
        }
        "F\n" => {
            let ([n, tab, count], text) = split_n(text.get(2..)?)?;
            Some(Msg::Frame {
                epoch: epoch(n, tab)?,
                count: num(count)?,
                text,
            })
        }
        "S\n" => {
            let ([n, tab], text) = split_n(text.get(2..)?)?;
            Some(Msg::Send {
                epoch: epoch(n, tab)?,
                text,
            })
        }
        "R\n" => {
            let mut lines = text.get(2..)?.split('\n');
            Some(Msg::Report {
                tab: num(lines.next()?)?,
                last: opt_num(lines.next()?)?,
                need: lines.next()? == "1",
                plan: parse_plan(lines)?,
            })
        }
        "Q\n" => Some(Msg::Bye {
            tab: num(text.get(2..)?)?,
        }),
        _ => None,
    }
}

/// The prefix of the `count`-th relayed frame of `epoch`; the frame text
/// follows it.
pub fn frame_prefix(epoch: Epoch, count: u64) -> String {
    cat(&[
        "F\n",
        &uint(epoch.n),
        "\n",
        &uint(epoch.tab),
        "\n",
        &uint(count),
        "\n",
    ])
}

/// A follower's message for the leader's socket, as posted on the channel.
pub fn send_message(epoch: Epoch, text: &str) -> String {
    cat(&["S\n", &uint(epoch.n), "\n", &uint(epoch.tab), "\n", text])
}

impl Tabs {
    /// A tab with id `id` (random, e.g. `Math.random() * 2^53`), wanting nothing yet.
    pub fn new(id: u64) -> Tabs {
        Tabs {
            id,
            want: false,
            hidden: false,
            lock: Lock::None,
            max: Epoch::default(),
            lead: None,
            view: None,
            heard_at: 0.0,
            ticked_at: 0.0,
            attached: false,
            seen: 0,
            stale: false,
            asked_at_head: None,
            plan: TopicPlan::Everything,
            peers: Vec::new(),
        }
    }

    /// This tab's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether this tab leads (owns the real socket).
    pub fn is_leader(&self) -> bool {
        self.lead.is_some()
    }

    /// The leader's epoch this tab follows or leads with (highest seen).
    pub fn epoch(&self) -> Epoch {
        self.max
    }

    /// Leader: record a frame of the real socket (`last` = the local
    /// machine's last `seq` after it) and return the prefix to post it with
    /// ([`frame_prefix`]), or `None` when no other tab is known to listen
    /// (the frame is counted all the same) or this tab does not lead.
    pub fn relayed(&mut self, last: Option<u64>) -> Option<String> {
        let lead = self.lead.as_mut()?;
        lead.head = lead.head.max(last);
        lead.count += 1;
        // `peers`, not `has_listeners()`: `lead` borrows `self.lead`.
        (!self.peers.is_empty()).then(|| frame_prefix(lead.epoch, lead.count))
    }

    /// Whether another tab is known to listen (reported within
    /// [`PEER_TIMEOUT_MS`], not gone): the leader relays frames only then.
    pub fn has_listeners(&self) -> bool {
        !self.peers.is_empty()
    }

    /// The `?since=` for the shared socket: the lowest last `seq` of this
    /// tab (`last`) and of the live tabs that reported one.
    pub fn since(&self, last: Option<u64>) -> Option<u64> {
        let mut since = last;
        for p in &self.peers {
            if let Some(l) = p.last {
                since = Some(since.map_or(l, |s| s.min(l)));
            }
        }
        since
    }

    /// Leader: the local machine opens the real socket now; returns its
    /// `?since=` ([`Tabs::since`]) and records it as the stream's start.
    pub fn opening(&mut self, last: Option<u64>) -> Option<u64> {
        let since = self.since(last);
        if let Some(lead) = self.lead.as_mut() {
            lead.since = since;
            lead.open = None;
            lead.head = since;
        }
        since
    }

    /// Feed one event at `now` (ms); `last` is the local machine's last
    /// delivered `seq`.
    pub fn handle(&mut self, now: f64, last: Option<u64>, event: TabEvent) -> Vec<TabAction> {
        let mut out = Vec::new();
        match event {
            TabEvent::Want => {
                if !self.want {
                    self.want = true;
                    if !self.hidden {
                        self.join(now, last, &mut out);
                    }
                } else if self.lead.is_none() {
                    // The local machine asks for a socket again (it lost
                    // its virtual one): attach anew when the stream allows.
                    self.attached = false;
                    self.try_attach(last, &mut out);
                }
            }
            TabEvent::Unwant => {
                if self.want {
                    self.leave(&mut out);
                    self.want = false;
                    out.push(TabAction::BeatTimer(false));
                    out.push(TabAction::Role(None));
                }
            }
            TabEvent::Detached => self.attached = false,
            TabEvent::Topics(plan) => {
                if plan != self.plan {
                    self.plan = plan;
                    if self.want && !self.hidden && self.lead.is_none() {
                        out.push(TabAction::Post(self.report(last, false)));
                    }
                }
            }
            TabEvent::LockGranted => {
                if !self.want || self.hidden {
                    self.lock = Lock::None;
                    out.push(TabAction::ReleaseLock);
                } else {
                    self.lock = Lock::Held;
                    self.lead_now(now, last, &mut out);
                }
            }
            TabEvent::LockLost => {
                self.lock = Lock::None;
                if self.lead.is_some() {
                    self.step_down(&mut out);
                }
                if self.want && !self.hidden {
                    self.lock = Lock::Asked;
                    out.push(TabAction::RequestLock { steal: false });
                }
            }
            TabEvent::Message(text) => {
                if self.want && !self.hidden {
                    if let Some(msg) = parse(&text) {
                        self.message(now, last, msg, &mut out);
                    }
                }
            }
            TabEvent::Beat => self.beat(now, last, &mut out),
            TabEvent::Connected {
                connection_id,
                heartbeat_ms,
            } => {
                if let Some(lead) = self.lead.as_mut() {
                    lead.open = Some((connection_id, heartbeat_ms));
                    if lead.since.is_none() {
                        lead.head = last;
                    }
                    let beat = self.beat_message();
                    out.push(TabAction::Post(beat));
                }
            }
            TabEvent::SocketClosed => {
                if let Some(lead) = self.lead.as_mut() {
                    if lead.open.take().is_some() {
                        let beat = self.beat_message();
                        out.push(TabAction::Post(beat));
                    }
                }
            }
            TabEvent::Hide => {
                if !self.hidden {
                    self.hidden = true;
                    if self.want {
                        self.leave(&mut out);
                        out.push(TabAction::BeatTimer(false));
                    }
                }
            }
            TabEvent::Show => {
                if self.hidden {
                    self.hidden = false;
                    if self.want {
                        self.join(now, last, &mut out);
                    }
                }
            }
        }
        out
    }

    fn join(&mut self, now: f64, last: Option<u64>, out: &mut Vec<TabAction>) {
        self.heard_at = now;
        self.ticked_at = now;
        self.lock = Lock::Asked;
        out.push(TabAction::Role(Some(false)));
        out.push(TabAction::RequestLock { steal: false });
        out.push(TabAction::Post(self.report(last, false)));
        out.push(TabAction::BeatTimer(true));
    }

    /// Say goodbye and drop the socket, the lock and the leader view.
    fn leave(&mut self, out: &mut Vec<TabAction>) {
        out.push(TabAction::Post(cat(&["Q\n", &uint(self.id)])));
        if self.lead.take().is_some() {
            out.push(TabAction::CloseReal);
        }
        if self.attached {
            self.attached = false;
            out.push(TabAction::Detach);
        }
        self.lock = Lock::None;
        out.push(TabAction::ReleaseLock);
        self.view = None;
        self.asked_at_head = None;
        self.peers.clear();
    }

    fn lead_now(&mut self, now: f64, last: Option<u64>, out: &mut Vec<TabAction>) {
        self.expire(now);
        let epoch = Epoch {
            n: self.max.n + 1,
            tab: self.id,
        };
        self.max = epoch;
        self.view = None;
        if self.attached {
            // The follower's virtual socket becomes a real one.
            self.attached = false;
            out.push(TabAction::Detach);
        }
        let since = self.since(last);
        self.lead = Some(Lead {
            epoch,
            since,
            open: None,
            head: since,
            count: 0,
            topics: None,
            reopened_for: None,
        });
        out.push(TabAction::Role(Some(true)));
        // Announce the epoch at once: an old leader steps down, followers
        // stop taking its frames.
        out.push(TabAction::Post(self.beat_message()));
        out.push(TabAction::OpenReal { since });
        self.push_topics(out);
    }

    fn step_down(&mut self, out: &mut Vec<TabAction>) {
        if self.lead.take().is_some() {
            out.push(TabAction::CloseReal);
            out.push(TabAction::Role(Some(false)));
        }
        if self.lock == Lock::Held {
            self.lock = Lock::None;
            out.push(TabAction::ReleaseLock);
        }
    }

    fn beat_message(&self) -> String {
        let Some(lead) = &self.lead else {
            return String::new();
        };
        let (id, hb) = match &lead.open {
            Some((id, hb)) => (id.as_str(), *hb),
            None => ("", 0),
        };
        cat(&[
            "B\n",
            &uint(lead.epoch.n),
            "\n",
            &uint(lead.epoch.tab),
            "\n",
            if lead.open.is_some() { "1" } else { "0" },
            "\n",
            &opt(lead.head),
            "\n",
            &uint(hb),
            "\n",
            &uint(lead.count),
            "\n",
            id,
        ])
    }

    fn report(&self, last: Option<u64>, need: bool) -> String {
        cat(&[
            "R\n",
            &uint(self.id),
            "\n",
            &opt(last),
            "\n",
            if need { "1" } else { "0" },
            "\n",
            &plan_lines(&self.plan),
        ])
    }

    fn push_topics(&mut self, out: &mut Vec<TabAction>) {
        let union = union(self.peers.iter().map(|p| p.plan.clone()));
        if let Some(lead) = self.lead.as_mut() {
            if lead.topics != union {
                lead.topics = union.clone();
                out.push(TabAction::Topics(union));
            }
        }
    }

    fn expire(&mut self, now: f64) {
        self.peers
            .retain(|p| now - p.heard_at <= PEER_TIMEOUT_MS as f64);
    }

    fn beat(&mut self, now: f64, last: Option<u64>, out: &mut Vec<TabAction>) {
        if !self.want || self.hidden {
            return;
        }
        self.expire(now);
        // A beat timer that fires late means this tab's timers are
        // throttled (hidden tab, intensive throttling after 5 minutes), and
        // the leader's beat timer likely is too: no takeover on this tick.
        let late = now - self.ticked_at > (2 * BEAT_MS) as f64;
        self.ticked_at = now;
        if self.lead.is_some() {
            out.push(TabAction::Post(self.beat_message()));
            self.push_topics(out);
            return;
        }
        if !late && now - self.heard_at > LEADER_TIMEOUT_MS as f64 && self.lock != Lock::Held {
            // The leader (or whoever holds the lock without beating) is
            // frozen, stuck or gone without a word: take the lock over.
            self.heard_at = now;
            self.lock = Lock::Asked;
            out.push(TabAction::RequestLock { steal: true });
        }
        let _ = last;
    }

    /// Follower: attach to the current leader's open stream if this tab has
    /// everything it relayed; else ask the leader to replay from `last`.
    fn try_attach(&mut self, last: Option<u64>, out: &mut Vec<TabAction>) {
        let Some(view) = &self.view else { return };
        if self.attached || self.stale || !view.open || self.lead.is_some() {
            return;
        }
        if last.is_none() || last >= view.head {
            self.attached = true;
            self.seen = view.count;
            self.asked_at_head = None;
            out.push(TabAction::Attach(connected_frame(
                &view.connection_id,
                view.heartbeat_ms,
                view.head,
            )));
        } else if self.asked_at_head != Some(view.head) {
            self.asked_at_head = Some(view.head);
            out.push(TabAction::Post(self.report(last, true)));
        }
    }

    fn message(&mut self, now: f64, last: Option<u64>, msg: Msg<'_>, out: &mut Vec<TabAction>) {
        match msg {
            Msg::Beat {
                epoch,
                open,
                head,
                heartbeat_ms,
                count,
                connection_id,
            } => {
                if epoch < self.max {
                    return; // A deposed leader: fenced off.
                }
                if let Some(lead) = &self.lead {
                    if lead.epoch == epoch {
                        return;
                    }
                    // A newer leader: this one steps down and follows.
                    self.step_down(out);
                    self.lock = Lock::Asked;
                    out.push(TabAction::RequestLock { steal: false });
                }
                let new_leader = epoch > self.max;
                self.max = epoch;
                self.heard_at = now;
                self.stale = false;
                let view = LeaderView {
                    epoch,
                    open,
                    head,
                    count,
                    heartbeat_ms,
                    connection_id: connection_id.into(),
                };
                let changed_socket = self
                    .view
                    .as_ref()
                    .is_none_or(|v| v.connection_id != view.connection_id || v.open != view.open);
                self.view = Some(view);
                if self.attached && changed_socket {
                    // Stay attached across a handover when this tab has all
                    // the new stream relayed; seq de-duplication drops the
                    // replay's overlap.
                    match &self.view {
                        Some(v) if v.open && (last.is_none() || last >= v.head) => {
                            self.seen = v.count;
                            out.push(TabAction::Reattach(connected_frame(
                                &v.connection_id,
                                v.heartbeat_ms,
                                v.head,
                            )));
                        }
                        Some(v) if !v.open && new_leader => {}
                        _ => {
                            self.attached = false;
                            out.push(TabAction::Detach);
                        }
                    }
                } else if self.attached && count > self.seen {
                    // Frames this tab was never sent (the leader stopped
                    // relaying, having not heard from it): attach again.
                    self.attached = false;
                    out.push(TabAction::Detach);
                }
                self.try_attach(last, out);
                // Every beat is answered: the leader learns `seq` and topics.
                out.push(TabAction::Post(self.report(last, false)));
            }
            Msg::Frame { epoch, count, text } => {
                if epoch < self.max || self.lead.is_some() {
                    return;
                }
                if epoch > self.max {
                    // Frames of a leader whose state is not known yet: its
                    // beat comes first on its channel, so this is a tab that
                    // just joined; wait for the next beat.
                    return;
                }
                self.heard_at = now;
                if self.attached && count == self.seen + 1 {
                    self.seen = count;
                    out.push(TabAction::Feed(text.into()));
                } else if self.attached {
                    // Frames before this one were not posted (see the
                    // Beat arm): attach again at the next beat.
                    self.attached = false;
                    self.stale = true;
                    out.push(TabAction::Detach);
                } else {
                    self.stale = true;
                }
            }
            Msg::Report {
                tab,
                last: peer_last,
                need,
                plan,
            } => {
                let peer = Peer {
                    tab,
                    last: peer_last,
                    plan,
                    heard_at: now,
                };
                match self.peers.iter_mut().find(|p| p.tab == tab) {
                    Some(p) => *p = peer,
                    None => {
                        self.peers.push(peer);
                        if self.lead.is_some() {
                            // A tab joined: tell it about the socket now
                            // rather than at the next beat.
                            out.push(TabAction::Post(self.beat_message()));
                        }
                    }
                }
                self.push_topics(out);
                let since = self.since(last);
                if let Some(lead) = self.lead.as_mut() {
                    if need && peer_last < lead.head && lead.reopened_for != peer_last {
                        // A tab misses part of what this socket relayed:
                        // reopen from the lowest `seq` any tab needs.
                        lead.reopened_for = peer_last;
                        lead.since = since;
                        lead.open = None;
                        lead.head = since;
                        out.push(TabAction::CloseReal);
                        out.push(TabAction::Post(self.beat_message()));
                        out.push(TabAction::OpenReal { since });
                    }
                }
            }
            Msg::Bye { tab } => {
                self.peers.retain(|p| p.tab != tab);
                self.push_topics(out);
                if self.view.as_ref().is_some_and(|v| v.epoch.tab == tab) {
                    // The leader left; the lock goes to a waiting tab. Stay
                    // attached (status open) until the new leader's beat.
                    self.view = None;
                    self.heard_at = now;
                }
            }
            Msg::Send { epoch, text } => {
                if self.lead.as_ref().is_some_and(|l| l.epoch == epoch) {
                    out.push(TabAction::Send(text.into()));
                }
            }
        }
    }
}

/// Input of [`Shared::handle`]: a connection event or a cross-tab event.
#[derive(Debug, Clone, PartialEq)]
pub enum SharedEvent {
    /// For the local machine (the real socket's events included, but not
    /// its text frames: those are [`SharedEvent::SocketFrame`]).
    Machine(Event),
    /// A text frame of the real socket (leader): delivered here, relayed.
    SocketFrame(String),
    /// For the election and relay.
    Tab(TabEvent),
}

/// What the glue does with [`Shared::handle`]'s result: `machine` as
/// without sharing (`Open`, `Close`, `Send` are the real socket's), then
/// `tabs`' lock, channel and timer actions ([`TabAction::RequestLock`],
/// [`TabAction::ReleaseLock`], [`TabAction::Post`], [`TabAction::BeatTimer`]).
#[derive(Debug, Default)]
pub struct Out {
    /// Actions of the local machine, socket ones only for a real socket.
    pub machine: Vec<Action>,
    /// Lock, channel and beat-timer actions.
    pub tabs: Vec<TabAction>,
}

/// The local [`Machine`] and [`Tabs`] wired together: routes the machine's
/// socket actions to the real socket (leader) or to the relay (follower),
/// and the election's decisions back into the machine. Plain Rust: the
/// browser glue and the native tests drive the same code.
#[derive(Debug)]
pub struct Shared {
    /// The election and relay state.
    pub tabs: Tabs,
    /// The machine asked for a socket that is not there yet (follower).
    pending_open: bool,
    /// A real socket exists (leader).
    real: bool,
}

fn wants(machine: &Machine) -> bool {
    !matches!(
        machine.status().state,
        ConnectionState::Idle | ConnectionState::Closed | ConnectionState::GaveUp
    )
}

impl Shared {
    /// Sharing for tab `id`; see [`Tabs::new`].
    pub fn new(id: u64) -> Shared {
        Shared {
            tabs: Tabs::new(id),
            pending_open: false,
            real: false,
        }
    }

    /// Whether the local machine's socket is the leader's relay (follower).
    pub fn is_follower(&self) -> bool {
        !self.tabs.is_leader()
    }

    /// Feed `event` at `now` (ms since the epoch) to `machine` or the election.
    pub fn handle(&mut self, machine: &mut Machine, now: f64, event: SharedEvent) -> Out {
        let mut out = Out::default();
        match event {
            SharedEvent::Machine(e @ Event::Closed { .. }) if self.real => {
                // The real socket closed by itself: followers hear it.
                self.real = false;
                self.machine_event(machine, now, e, &mut out);
                self.tab_event(machine, now, TabEvent::SocketClosed, &mut out);
            }
            SharedEvent::Machine(e) => self.machine_event(machine, now, e, &mut out),
            SharedEvent::SocketFrame(text) => {
                let had_id = machine.status().connection_id.is_some();
                let relay = self.real && self.tabs.is_leader();
                // The text is copied only when another tab will get it.
                let copy = (relay && self.tabs.has_listeners()).then(|| text.clone());
                let actions = machine.handle(now, Event::Frame(text));
                let id = machine.status().connection_id;
                match (had_id, id) {
                    (false, Some(connection_id)) => {
                        let event = TabEvent::Connected {
                            connection_id,
                            heartbeat_ms: machine.heartbeat_ms(),
                        };
                        self.tab_event(machine, now, event, &mut out);
                    }
                    _ => {
                        if relay {
                            if let (Some(mut post), Some(text)) =
                                (self.tabs.relayed(machine.last_seq()), copy)
                            {
                                post.push_str(&text);
                                out.tabs.push(TabAction::Post(post));
                            }
                        }
                    }
                }
                self.route(machine, now, actions, &mut out);
            }
            SharedEvent::Tab(e) => self.tab_event(machine, now, e, &mut out),
        }
        out
    }

    /// An update of the real socket routed from its prefix by `route`
    /// (e.g. [`Machine::named_update`]): `None` when
    /// the whole frame must go through [`Shared::handle`] (no real socket
    /// here, other tabs to relay it to, or the machine needs the text).
    pub fn prefix_frame<R>(
        &mut self,
        machine: &mut Machine,
        route: impl FnOnce(&mut Machine) -> Option<R>,
    ) -> Option<R> {
        if !self.real || self.tabs.has_listeners() {
            return None;
        }
        let routed = route(machine)?;
        // Counted (and the stream's head moved) as every relayed frame is.
        let _ = self.tabs.relayed(machine.last_seq());
        Some(routed)
    }

    /// The local subscriptions changed (after `Machine::subscribe` or
    /// `unsubscribe`): tell the leader.
    pub fn topics_changed(&mut self, machine: &mut Machine, now: f64) -> Out {
        let plan = machine.topic_plan();
        self.handle(machine, now, SharedEvent::Tab(TabEvent::Topics(plan)))
    }

    /// Route actions of the machine given from outside [`Shared::handle`]
    /// (`subscribe`, `unsubscribe`, `reset`).
    pub fn route_actions(&mut self, machine: &mut Machine, now: f64, actions: Vec<Action>) -> Out {
        let mut out = Out::default();
        self.route(machine, now, actions, &mut out);
        out
    }

    fn machine_event(&mut self, machine: &mut Machine, now: f64, e: Event, out: &mut Out) {
        let actions = machine.handle(now, e);
        self.route(machine, now, actions, out);
    }

    /// The machine loses its socket without an error report (a handover is
    /// not a failure the app must hear about).
    fn quiet_close(&mut self, machine: &mut Machine, now: f64, out: &mut Out) {
        let mut actions = machine.handle(
            now,
            Event::Closed {
                code: 1001,
                reason: "shared socket handover".into(),
            },
        );
        actions.retain(|a| !matches!(a, Action::Error(e) if e.code == ErrorCode::SocketError));
        self.route(machine, now, actions, out);
    }

    fn route(&mut self, machine: &mut Machine, now: f64, actions: Vec<Action>, out: &mut Out) {
        let mut asked = false;
        for action in actions {
            match action {
                Action::Open(_) if self.tabs.is_leader() => self.machine_open(machine, now, out),
                Action::Open(_) => {
                    self.pending_open = true;
                    asked = true;
                }
                Action::Close { code, reason } => {
                    self.pending_open = false;
                    if self.real {
                        self.real = false;
                        out.machine.push(Action::Close { code, reason });
                        self.tab_event(machine, now, TabEvent::SocketClosed, out);
                    } else {
                        self.tab_event(machine, now, TabEvent::Detached, out);
                    }
                }
                Action::Send(text) if !self.real => {
                    if !self.tabs.is_leader() {
                        let post = send_message(self.tabs.epoch(), &text);
                        out.tabs.push(TabAction::Post(post));
                    }
                }
                other => out.machine.push(other),
            }
        }
        let want = wants(machine);
        if want != self.tabs.want {
            let event = if want {
                TabEvent::Want
            } else {
                TabEvent::Unwant
            };
            self.tab_event(machine, now, event, out);
        } else if asked {
            self.tab_event(machine, now, TabEvent::Want, out);
        }
    }

    fn tab_event(&mut self, machine: &mut Machine, now: f64, e: TabEvent, out: &mut Out) {
        let actions = self.tabs.handle(now, machine.last_seq(), e);
        for action in actions {
            match action {
                TabAction::OpenReal { .. } => {
                    if self.pending_open {
                        self.machine_open(machine, now, out);
                    } else {
                        if matches!(
                            machine.status().state,
                            ConnectionState::Open | ConnectionState::Connecting
                        ) {
                            self.quiet_close(machine, now, out);
                        }
                        if machine.status().state == ConnectionState::Reconnecting {
                            self.machine_event(machine, now, Event::Connect, out);
                        }
                    }
                }
                TabAction::CloseReal => {
                    if self.real {
                        self.real = false;
                        out.machine.push(Action::Close {
                            code: 1000,
                            reason: "tab handover".into(),
                        });
                        self.quiet_close(machine, now, out);
                    }
                }
                TabAction::Attach(connected) => {
                    if self.pending_open {
                        self.pending_open = false;
                        self.machine_event(machine, now, Event::Opened, out);
                        self.machine_event(machine, now, Event::Frame(connected), out);
                    } else if machine.status().state == ConnectionState::Reconnecting {
                        // Connect opens (virtually) at once; `Want` attaches.
                        self.machine_event(machine, now, Event::Connect, out);
                    }
                }
                TabAction::Reattach(connected) => {
                    if machine.is_connected() && !self.real {
                        self.machine_event(machine, now, Event::Frame(connected), out);
                    }
                }
                TabAction::Detach => {
                    if !self.real && !self.pending_open && machine.is_connected() {
                        self.quiet_close(machine, now, out);
                    }
                }
                TabAction::Feed(text) => {
                    if !self.real {
                        self.machine_event(machine, now, Event::Frame(text), out);
                    }
                }
                TabAction::Send(text) => {
                    if self.real {
                        out.machine.push(Action::Send(text));
                    }
                }
                TabAction::Topics(plan) => {
                    let actions = machine.set_shared_topics(plan);
                    self.route(machine, now, actions, out);
                }
                TabAction::Role(role) => {
                    let actions = machine.set_role(role);
                    self.route(machine, now, actions, out);
                }
                other => out.tabs.push(other),
            }
        }
    }

    /// Leader with a pending machine open: open the real socket now.
    fn machine_open(&mut self, machine: &mut Machine, now: f64, out: &mut Out) {
        let _ = now;
        let since = self.tabs.opening(machine.last_seq());
        let config = machine.config();
        let url = url::with_query(&config.url, config.token.as_deref(), since);
        self.real = true;
        self.pending_open = false;
        out.machine.push(Action::Open(url));
    }
}

#[cfg(test)]
#[path = "tabs_tests.rs"]
mod tests;
