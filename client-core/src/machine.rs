//! The connection state machine, sans-IO.
//!
//! [`Machine::handle`] takes an [`Event`] and the current time and returns the
//! [`Action`]s the browser glue must perform. No socket, timer or JS value is
//! touched here; see the crate docs for the state/transition table.
//!
//! An [`Action::Close`] always means "close and forget this socket": the
//! machine treats the socket as gone at once and the glue ignores anything
//! the old socket still reports (generation counter).

use crate::backoff::Backoff;
use crate::filter::{Filter, FilterError, Registry, SubscriberId, TopicPlan, TopicSet};
use crate::frame::{self, Field, FieldSet, FrameError, Kind, Mismatch};
use crate::outgoing;
use crate::protocol::ResyncReason;
use crate::protocol::Topic;
use crate::status::{ClientError, ConnectionState, ErrorCode, ResyncEvent, Status};
use crate::store::Store;
use crate::text::{cat, uint};
use crate::url;
use std::rc::Rc;

/// Heartbeat assumed until the server's `connected` says otherwise, ms. 30 000.
pub const DEFAULT_HEARTBEAT_MS: u64 = 30_000;
/// Close code for a normal, client-initiated close (RFC 6455). 1000.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close code when the peer went silent (heartbeat or connect timeout). 4000.
pub const CLOSE_TIMEOUT: u16 = crate::protocol::close_code::HEARTBEAT_TIMEOUT;

/// Settings of the machine; see `ClientOptions` for the JS side.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Base socket URL, without token or `since`. Default `ws://localhost:8080/ws`.
    pub url: String,
    /// Sent as `?token=`; never put in errors or logs. Default none.
    pub token: Option<String>,
    /// First `Acquire` opens the socket. Default true.
    pub auto_connect: bool,
    /// Reconnect after a lost connection. Default true.
    pub auto_reconnect: bool,
    /// Delay policy and attempt limit. Default [`Backoff::default`].
    pub backoff: Backoff,
    /// How long a connection must stay open before attempts reset, ms. Default 5000.
    pub stable_after_ms: u64,
    /// Silence allowed, in heartbeats, before the socket is declared dead. Default 2.5.
    pub heartbeat_timeout_factor: f64,
    /// How long opening a socket may take, ms. Default 10 000.
    pub connect_timeout_ms: u64,
    /// Messages kept while not open, count. Default 100.
    pub send_queue_limit: usize,
    /// Share the leader tab's socket with the other tabs (read by the
    /// browser glue; see [`crate::tabs`]). Default true.
    pub share_across_tabs: bool,
    /// State mode: after every `connected`, ask for the current records of
    /// the subscribed topics (`subscribe` with `state: true`), keep the latest
    /// record per key ([`crate::store`]), complete field deltas before
    /// delivery, and deliver an update only when it is newer than its key's
    /// version. Default false (protocol v1 frames only).
    pub state: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            url: "ws://localhost:8080/ws".into(),
            token: None,
            auto_connect: true,
            auto_reconnect: true,
            backoff: Backoff::default(),
            stable_after_ms: 5_000,
            heartbeat_timeout_factor: 2.5,
            connect_timeout_ms: 10_000,
            send_queue_limit: 100,
            share_across_tabs: true,
            state: false,
        }
    }
}

/// The machine's timers; at most one of each kind is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Next reconnect attempt.
    Reconnect,
    /// Socket took too long to open.
    ConnectTimeout,
    /// Check for silence from the server.
    Heartbeat,
    /// Connection has been open long enough to reset the attempt counter.
    Stable,
    /// Deferred close after the last release, so a release immediately
    /// followed by an acquire (React StrictMode) keeps the same socket.
    Linger,
}

/// Something that happened, fed to [`Machine::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A consumer started using the connection.
    Acquire,
    /// A consumer stopped using the connection.
    Release,
    /// Explicit `connect()`; also leaves `gave_up` and `closed`.
    Connect,
    /// Explicit `disconnect()`: close, no reconnect until `Connect`.
    Disconnect,
    /// Consumer text to send (queued while not open).
    Send(String),
    /// Consumer asked for a `ping` frame stamped with the current time.
    Ping,
    /// The socket opened.
    Opened,
    /// A text frame arrived.
    Frame(String),
    /// The socket closed (or failed to open).
    Closed {
        /// Close code (1006 for an abnormal close).
        code: u16,
        /// Close reason, possibly empty.
        reason: String,
    },
    /// A timer fired.
    Timer(Timer),
    /// The browser reports the network is back.
    Online,
    /// The browser reports the network is gone.
    Offline,
    /// The tab became visible again (or the page was restored from the bfcache).
    Visible {
        /// Whether the current socket, if any, is still in the OPEN state.
        socket_open: bool,
    },
}

/// A frame to hand to some subscribers.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The frame's JSON text as received.
    pub text: Rc<String>,
    /// The frame's type.
    pub kind: Kind,
    /// The `seq` of an update frame.
    pub seq: Option<u64>,
    /// Subscribers to call, in registration order (never empty).
    pub to: Vec<SubscriberId>,
    /// The text was rebuilt by the client (a field delta completed), so it
    /// is not the socket's frame.
    pub rebuilt: bool,
}

/// Something the glue must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a new socket to this URL (it carries the token: never log it).
    Open(String),
    /// Send a text frame on the open socket.
    Send(String),
    /// Close the current socket and forget it.
    Close {
        /// Close code (1000 or 4000).
        code: u16,
        /// Close reason.
        reason: String,
    },
    /// Start (or restart) a timer, ms from now.
    SetTimer(Timer, u64),
    /// Cancel a timer if pending.
    CancelTimer(Timer),
    /// The status changed: call `onStatus` callbacks.
    Status(Status),
    /// Call these subscribers with this frame.
    Deliver(Delivery),
    /// Call `onError` callbacks.
    Error(ClientError),
    /// Call `onResync` callbacks.
    Resync(ResyncEvent),
    /// The keyed state changed (state mode): call `onState` callbacks.
    StateChanged,
}

/// The connection state machine of the page's one socket.
pub struct Machine {
    config: Config,
    rng: Box<dyn FnMut() -> f64>,
    state: ConnectionState,
    refs: u32,
    failures: u32,
    delay_ms: Option<u64>,
    next_attempt_at: Option<u64>,
    online: bool,
    socket: bool,
    linger: bool,
    connection_id: Option<String>,
    heartbeat_ms: u64,
    last_frame_at: f64,
    last_seq: Option<u64>,
    server_head: Option<u64>,
    /// Oldest first; only ever flushed whole, so a `Vec` (a `VecDeque`
    /// costs ~0.5 KB more wasm).
    queue: Vec<String>,
    registry: Registry,
    sent_topics: Option<TopicSet>,
    last_message: Option<Rc<String>>,
    /// The last message was an update routed from its prefix
    /// ([`Machine::named_update`]): the glue holds its text.
    last_elsewhere: bool,
    /// Update kinds (bits by [`Kind`]) whose last full read on this
    /// connection matched the protocol exactly: only those are routed from
    /// their prefix.
    verified: u32,
    reported: Status,
    /// Schema differences already reported, per kind (see [`Machine::warn_schema`]).
    warned: SchemaWarnings,
    /// Cross-tab sharing (see [`crate::tabs`]): what this tab is, shown in the status.
    role: Option<bool>,
    /// A follower tab: its socket is the leader's, so it never answers pings
    /// nor sends topics itself (the leader does both for every tab).
    follower: bool,
    /// Topics other tabs need on the shared socket (leader only).
    shared: Option<TopicPlan>,
    /// Updates dropped because their `seq` was at or below the last delivered one (count).
    duplicates: u64,
    /// State mode's store and requests.
    live: state::Live,
}

/// Schema differences already reported: protocol fields per kind as bits, and
/// names outside the protocol per kind, at most [`MAX_WARNED_NAMES`] of them
/// (so a server that invents names forever cannot grow the client's memory;
/// past the cap such names are no longer reported).
#[derive(Default)]
struct SchemaWarnings {
    fields: [FieldSet; Kind::ALL.len()],
    names: Vec<(Kind, String)>,
}

/// Most names outside the protocol remembered as reported. Default 64 names.
pub const MAX_WARNED_NAMES: usize = 64;

impl Machine {
    /// A machine in state `idle`. `rng` returns values in `[0, 1)` for the
    /// backoff jitter (`Math.random` in the browser, fixed values in tests).
    pub fn new(config: Config, rng: Box<dyn FnMut() -> f64>) -> Self {
        let mut m = Machine {
            config,
            rng,
            state: ConnectionState::Idle,
            refs: 0,
            failures: 0,
            delay_ms: None,
            next_attempt_at: None,
            online: true,
            socket: false,
            linger: false,
            connection_id: None,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            last_frame_at: 0.0,
            last_seq: None,
            server_head: None,
            queue: Vec::new(),
            registry: Registry::default(),
            sent_topics: None,
            last_message: None,
            last_elsewhere: false,
            verified: 0,
            warned: SchemaWarnings::default(),
            role: None,
            follower: false,
            shared: None,
            duplicates: 0,
            live: state::Live::default(),
            reported: Status {
                state: ConnectionState::Idle,
                attempt: 0,
                delay_ms: None,
                next_attempt_at: None,
                connection_id: None,
                last_seq: None,
                leader: None,
            },
        };
        m.reported = m.status();
        m
    }

    /// Replace the settings; they take effect on the next connection attempt.
    pub fn configure(&mut self, config: Config) {
        self.config = config;
    }

    /// The current settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current status.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            attempt: match self.state {
                ConnectionState::Connecting | ConnectionState::Reconnecting => self.failures,
                _ => 0,
            },
            delay_ms: self.delay_ms,
            next_attempt_at: self.next_attempt_at,
            connection_id: self.connection_id.clone(),
            last_seq: self.last_seq,
            leader: self.role,
        }
    }

    /// Whether the socket is open.
    pub fn is_connected(&self) -> bool {
        self.state == ConnectionState::Open
    }

    /// `seq` of the last update delivered.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Text of the last frame other than `ping`/`pong`; `None` also when
    /// that frame was routed from its prefix (see
    /// [`Machine::last_message_elsewhere`]).
    pub fn last_message(&self) -> Option<Rc<String>> {
        self.last_message.clone()
    }

    /// Whether the last frame other than `ping`/`pong` was an update routed
    /// from its prefix ([`Machine::named_update`]), whose text only the glue
    /// holds.
    pub fn last_message_elsewhere(&self) -> bool {
        self.last_elsewhere
    }

    /// Route an update from its routing fields without reading the rest of
    /// its text, as the browser glue reads them from a frame in the server's
    /// order ([`frame::prefix`]): `kind`, `seq` and the key by its id in
    /// [`Machine::named_keys`] (0: a key no filter names). Does what
    /// [`Event::Frame`] does for an update on a v1 connection, for a kind
    /// that already matched the protocol exactly in a full read on this
    /// connection (so a server whose frames differ still gets its one
    /// warning per kind and field; later frames are not read past their
    /// prefix). `None` when the whole frame must be read: not open, state
    /// mode (the store needs the record), or the kind not checked yet;
    /// `Some(false)` for a `seq` already delivered (dropped, counted);
    /// `Some(true)` when taken: it is the last message now, and `to` holds
    /// the subscribers that want it (none: filtered out).
    pub fn named_update(
        &mut self,
        now: f64,
        kind: Kind,
        seq: u64,
        key: u32,
        to: &mut Vec<SubscriberId>,
    ) -> Option<bool> {
        to.clear();
        let taken = self.admit(now, kind, seq)?;
        if taken {
            self.registry.route_named(kind, key, to);
        }
        Some(taken)
    }

    /// The corridor keys and anchor ids the subscribers' filters name,
    /// sorted: the key at index `i` has id `i + 1` in
    /// [`Machine::named_update`].
    pub fn named_keys(&self) -> &[String] {
        self.registry.named_keys()
    }

    /// The common part of the prefix paths: `None` when the frame must be
    /// read whole, `false` for a duplicate (counted), `true` when the update
    /// is taken (resume point and last message move).
    fn admit(&mut self, now: f64, kind: Kind, seq: u64) -> Option<bool> {
        if self.state != ConnectionState::Open
            || self.config.state
            || self.verified & (1 << kind as u32) == 0
        {
            return None;
        }
        self.last_frame_at = now;
        if self.last_seq.is_some_and(|last| seq <= last) {
            self.duplicates += 1;
            return Some(false);
        }
        self.last_seq = Some(seq);
        self.last_message = None;
        self.last_elsewhere = true;
        Some(true)
    }

    /// Consumers currently holding the connection (count).
    pub fn refs(&self) -> u32 {
        self.refs
    }

    /// Updates dropped as already delivered (`seq` at or below the last
    /// delivered one, e.g. the overlap of a replay after a tab handover), count.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// What this page's subscribers need from the server.
    pub fn topic_plan(&self) -> TopicPlan {
        self.registry.plan()
    }

    /// The server's heartbeat interval as last announced, ms. Default [`DEFAULT_HEARTBEAT_MS`].
    pub fn heartbeat_ms(&self) -> u64 {
        self.heartbeat_ms
    }

    /// Cross-tab role: `None` when not sharing, `Some(true)` for the tab that
    /// owns the socket, `Some(false)` for a follower, whose socket is the
    /// leader's relay: it answers no pings and sends no topics. Reported in
    /// the status (`leader`).
    pub fn set_role(&mut self, role: Option<bool>) -> Vec<Action> {
        self.role = role;
        self.follower = role == Some(false);
        let mut out = Vec::new();
        self.report(&mut out);
        out
    }

    /// Leader only: the topics the other tabs need (`None`: none); the
    /// server is asked for the union with this page's own.
    pub fn set_shared_topics(&mut self, others: Option<TopicPlan>) -> Vec<Action> {
        self.shared = others;
        let mut out = Vec::new();
        self.sync_topics(&mut out);
        out
    }

    /// Messages waiting for the socket to open (count).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Register subscriber `id`; when open, tell the server about new topics.
    pub fn subscribe(
        &mut self,
        id: SubscriberId,
        filter: &Filter,
    ) -> Result<Vec<Action>, FilterError> {
        self.registry.add(id, filter)?;
        let mut out = Vec::new();
        self.sync_topics(&mut out);
        self.live_announce(&mut out);
        Ok(out)
    }

    /// Remove subscriber `id`; when open, tell the server about dropped topics.
    pub fn unsubscribe(&mut self, id: SubscriberId) -> Vec<Action> {
        let mut out = Vec::new();
        if self.registry.remove(id) {
            self.sync_topics(&mut out);
            self.live_announce(&mut out);
        }
        out
    }

    /// Back to a fresh `idle` machine with the same settings: closes the
    /// socket, forgets subscribers, queue, consumers and the resume point
    /// (the browser's online state is kept).
    pub fn reset(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.shut_down(ConnectionState::Idle, "reset", &mut out);
        if self.linger {
            self.linger = false;
            out.push(Action::CancelTimer(Timer::Linger));
        }
        self.refs = 0;
        self.registry.clear();
        self.queue.clear();
        self.last_seq = None;
        self.server_head = None;
        self.last_message = None;
        self.last_elsewhere = false;
        self.live.store.clear();
        // `online` stays: it is the browser's state, not the client's.
        self.report(&mut out);
        out
    }

    /// Feed one event; `now` is the `Date.now()` clock in ms.
    pub fn handle(&mut self, now: f64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Acquire => {
                self.refs += 1;
                if self.linger {
                    self.linger = false;
                    out.push(Action::CancelTimer(Timer::Linger));
                }
                if self.config.auto_connect && self.state == ConnectionState::Idle {
                    self.failures = 0;
                    self.start_connect(now, &mut out);
                }
            }
            Event::Release => {
                if self.refs > 0 {
                    self.refs -= 1;
                    if self.refs == 0 {
                        self.linger = true;
                        out.push(Action::SetTimer(Timer::Linger, 0));
                    }
                }
            }
            Event::Timer(Timer::Linger) => {
                self.linger = false;
                if self.refs == 0 {
                    self.shut_down(ConnectionState::Idle, "released", &mut out);
                }
            }
            Event::Connect => match self.state {
                ConnectionState::Connecting | ConnectionState::Open => {}
                ConnectionState::Reconnecting => {
                    out.push(Action::CancelTimer(Timer::Reconnect));
                    self.start_connect(now, &mut out);
                }
                _ => {
                    self.failures = 0;
                    self.start_connect(now, &mut out);
                }
            },
            Event::Disconnect => {
                self.shut_down(ConnectionState::Closed, "client disconnect", &mut out)
            }
            Event::Send(text) => self.send(text, &mut out),
            Event::Ping => {
                self.send(outgoing::ping(now as i64), &mut out);
            }
            Event::Opened => self.opened(now, &mut out),
            Event::Frame(text) => self.frame(now, text, &mut out),
            Event::Closed { code, reason } => {
                if self.socket {
                    self.socket = false;
                    let message = if self.state == ConnectionState::Open {
                        cat(&[
                            "connection closed by peer (code ",
                            &uint(code.into()),
                            ") ",
                            &reason,
                        ])
                    } else {
                        cat(&["could not connect to ", &url::redact(&self.config.url)])
                    };
                    out.push(Action::Error(ClientError::new(
                        ErrorCode::SocketError,
                        message.trim_end(),
                    )));
                    self.lost(now, &mut out);
                }
            }
            Event::Timer(Timer::Reconnect) => {
                if self.state == ConnectionState::Reconnecting {
                    self.start_connect(now, &mut out);
                }
            }
            Event::Timer(Timer::ConnectTimeout) => {
                if self.state == ConnectionState::Connecting && self.socket {
                    out.push(Action::Error(ClientError::new(
                        ErrorCode::ConnectTimeout,
                        cat(&[
                            "socket did not open within ",
                            &uint(self.config.connect_timeout_ms),
                            " ms",
                        ]),
                    )));
                    self.drop_socket(CLOSE_TIMEOUT, "connect timeout", &mut out);
                    self.lost(now, &mut out);
                }
            }
            Event::Timer(Timer::Heartbeat) => self.check_heartbeat(now, &mut out),
            Event::Timer(Timer::Stable) => {
                if self.state == ConnectionState::Open {
                    self.failures = 0;
                }
            }
            Event::Online => {
                self.online = true;
                if self.state == ConnectionState::Reconnecting {
                    out.push(Action::CancelTimer(Timer::Reconnect));
                    self.start_connect(now, &mut out);
                }
            }
            Event::Offline => {
                self.online = false;
                if self.state == ConnectionState::Reconnecting && self.delay_ms.is_some() {
                    out.push(Action::CancelTimer(Timer::Reconnect));
                    self.delay_ms = None;
                    self.next_attempt_at = None;
                }
            }
            Event::Visible { socket_open } => {
                if self.state == ConnectionState::Open && !socket_open {
                    self.drop_socket(CLOSE_NORMAL, "socket found dead", &mut out);
                    self.lost(now, &mut out);
                }
                if self.state == ConnectionState::Reconnecting && self.online {
                    out.push(Action::CancelTimer(Timer::Reconnect));
                    self.start_connect(now, &mut out);
                }
            }
        }
        self.report(&mut out);
        out
    }

    fn report(&mut self, out: &mut Vec<Action>) {
        self.live_announce(out);
        let now = self.status();
        let changed = now.state != self.reported.state
            || now.leader != self.reported.leader
            || now.attempt != self.reported.attempt
            || now.delay_ms != self.reported.delay_ms
            || now.connection_id != self.reported.connection_id;
        // `last_seq` moves with every update; it is read through `status()`.
        self.reported = now.clone();
        if changed {
            out.push(Action::Status(now));
        }
    }

    fn start_connect(&mut self, now: f64, out: &mut Vec<Action>) {
        if !self.online {
            // No attempt while offline: `Online` starts it.
            self.state = ConnectionState::Reconnecting;
            self.delay_ms = None;
            self.next_attempt_at = None;
            return;
        }
        let _ = now;
        let url = url::with_query(
            &self.config.url,
            self.config.token.as_deref(),
            self.last_seq,
        );
        self.state = ConnectionState::Connecting;
        self.delay_ms = None;
        self.next_attempt_at = None;
        self.socket = true;
        self.sent_topics = None;
        out.push(Action::Open(url));
        out.push(Action::SetTimer(
            Timer::ConnectTimeout,
            self.config.connect_timeout_ms,
        ));
    }

    fn heartbeat_timeout_ms(&self) -> f64 {
        self.heartbeat_ms as f64 * self.config.heartbeat_timeout_factor
    }

    fn opened(&mut self, now: f64, out: &mut Vec<Action>) {
        if self.state != ConnectionState::Connecting || !self.socket {
            return;
        }
        self.state = ConnectionState::Open;
        self.last_frame_at = now;
        self.live_opened();
        out.push(Action::CancelTimer(Timer::ConnectTimeout));
        out.push(Action::SetTimer(
            Timer::Heartbeat,
            self.heartbeat_timeout_ms().ceil() as u64,
        ));
        out.push(Action::SetTimer(Timer::Stable, self.config.stable_after_ms));
        self.sync_topics(out);
        for text in std::mem::take(&mut self.queue) {
            out.push(Action::Send(text));
        }
    }

    fn send(&mut self, text: String, out: &mut Vec<Action>) {
        if self.state == ConnectionState::Open {
            out.push(Action::Send(text));
        } else if self.queue.len() < self.config.send_queue_limit {
            self.queue.push(text);
        } else {
            out.push(Action::Error(ClientError::new(
                ErrorCode::QueueOverflow,
                cat(&[
                    "send queue full (",
                    &uint(self.config.send_queue_limit as u64),
                    " messages) while disconnected; message dropped",
                ]),
            )));
        }
    }

    /// Bring the server's topic set of this connection in line with the subscribers.
    fn sync_topics(&mut self, out: &mut Vec<Action>) {
        if self.state != ConnectionState::Open || self.follower {
            return;
        }
        let plan = match (self.registry.plan(), &self.shared) {
            (TopicPlan::Only(mut own), Some(TopicPlan::Only(others))) => {
                for t in others.iter() {
                    own.insert(t.clone());
                }
                TopicPlan::Only(own)
            }
            (_, Some(TopicPlan::Everything)) => TopicPlan::Everything,
            (own, _) => own,
        };
        let target = match (plan, &self.sent_topics) {
            // Never subscribed on this connection: the server already sends everything.
            (TopicPlan::Everything, None) => return,
            (TopicPlan::Everything, Some(_)) => {
                [Topic::Snapshots, Topic::Corridors, Topic::Anchors]
                    .into_iter()
                    .collect()
            }
            (TopicPlan::Only(topics), _) => topics,
        };
        // First `subscribe` on this connection: the server sends everything
        // until then, so the whole target is added and nothing removed.
        let (add, remove) = match &self.sent_topics {
            None => (target.difference(&TopicSet::default()), Vec::new()),
            Some(sent) => (target.difference(sent), sent.difference(&target)),
        };
        if !add.is_empty() {
            out.push(Action::Send(outgoing::subscribe(&add)));
            self.live_added(&add, out);
        }
        if !remove.is_empty() {
            out.push(Action::Send(outgoing::unsubscribe(&remove)));
        }
        self.live_trim(&target);
        self.sent_topics = Some(target);
    }

    fn frame(&mut self, now: f64, text: String, out: &mut Vec<Action>) {
        if self.state != ConnectionState::Open {
            return;
        }
        self.last_frame_at = now;
        let frame = match frame::classify(&text) {
            Ok(frame) => frame,
            Err(FrameError::Unknown(kind)) => {
                out.push(Action::Error(ClientError::new(
                    ErrorCode::UnknownType,
                    cat(&["ignored a frame of unknown type \"", &kind, "\""]),
                )));
                return;
            }
            Err(FrameError::Malformed(why)) => {
                // The first 80 chars, borrowed rather than collected char by char.
                let end = text.char_indices().nth(80).map_or(text.len(), |(i, _)| i);
                let preview = text.get(..end).unwrap_or_default();
                out.push(Action::Error(ClientError::new(
                    ErrorCode::MalformedFrame,
                    cat(&["ignored a malformed frame (", &why, "): ", preview]),
                )));
                return;
            }
        };
        let kind = frame.kind;
        if !frame.mismatch.is_empty() {
            self.warn_schema(kind, &frame.mismatch, out);
            self.verified &= !(1 << kind as u32);
        } else if matches!(
            kind,
            Kind::SnapshotUpdate | Kind::CorridorUpdate | Kind::AnchorUpdate
        ) {
            self.verified |= 1 << kind as u32;
        }
        match kind {
            Kind::Ping if self.follower => {}
            Kind::Ping => {
                let pong = outgoing::pong(frame.timestamp.unwrap_or_default());
                out.push(Action::Send(pong));
            }
            Kind::Connected => {
                // A new connection (perhaps to another server): each update
                // kind is read in full once more before prefix routing.
                self.verified = 0;
                self.connection_id = frame.connection_id.clone();
                self.server_head = frame.seq;
                // A client that has delivered nothing yet is in step with the
                // head the server reports: if this socket drops before the
                // first update, the next one must still ask `?since=` for
                // what was written in between. Later `connected` frames never
                // move an existing resume point (a replay may be pending).
                if self.last_seq.is_none() {
                    self.last_seq = frame.seq;
                }
                if let Some(ms) = frame.heartbeat_ms.filter(|ms| *ms > 0) {
                    self.heartbeat_ms = ms;
                    out.push(Action::SetTimer(
                        Timer::Heartbeat,
                        self.heartbeat_timeout_ms().ceil() as u64,
                    ));
                }
                // Every `connected` starts a server connection, whose `ref`s
                // start afresh: a follower tab gets a new `connected` (no
                // socket open) when the leader, and so the connection, changes.
                self.live_opened();
                self.live_connected(out);
            }
            Kind::Error => {
                // The server's own words, as the old layer's `onError(message)`
                // got them (the frame reader guarantees a `message`); the
                // frame itself, with its `code`, goes to `error` subscribers.
                out.push(Action::Error(ClientError::new(
                    ErrorCode::ServerError,
                    frame.message.clone().unwrap_or_default(),
                )));
            }
            Kind::ResyncRequired => {
                // Only `future_seq` and `pruned` are about the `?since=` this
                // socket asked for: no replay follows and updates continue
                // after the server's head (below our resume point after a
                // store reset). Every other reason, `slow_consumer` and `gap`
                // among them, comes mid-stream or mid-replay with updates
                // still to follow: keep the resume point so the next
                // `?since=` replays exactly what was missed and nothing is
                // delivered twice.
                match &frame.reason {
                    Some(ResyncReason::FutureSeq) => self.last_seq = self.server_head,
                    Some(ResyncReason::Pruned) => {
                        self.last_seq = self.last_seq.max(self.server_head);
                    }
                    _ => {}
                }
                out.push(Action::Resync(ResyncEvent {
                    reason: frame.reason.clone(),
                }));
            }
            Kind::SnapshotUpdate | Kind::CorridorUpdate | Kind::AnchorUpdate
                if self.config.state =>
            {
                // Each key's version decides (conflated frames come in key
                // order, not `seq` order).
                if !self.live_update(kind, &text, frame.seq) {
                    return;
                }
            }
            Kind::State if self.config.state => return self.live_state(&text, out),
            Kind::CorridorDelta | Kind::AnchorDelta if self.config.state => {
                return self.live_delta(kind, &text, out)
            }
            Kind::SnapshotUpdate | Kind::CorridorUpdate | Kind::AnchorUpdate => {
                if let Some(seq) = frame.seq {
                    if self.last_seq.is_some_and(|last| seq <= last) {
                        // Already delivered (replay overlap): never twice.
                        self.duplicates += 1;
                        return;
                    }
                    self.last_seq = Some(seq);
                }
            }
            // State frames and deltas come only to connections that asked
            // for state (`subscribe` with `state: true`); without state mode
            // they are delivered as they came.
            Kind::Pong | Kind::State | Kind::CorridorDelta | Kind::AnchorDelta => {}
        }
        let to = self.registry.route(kind, frame.key.as_deref());
        let seq = frame.seq;
        // Shared by `lastMessage()` and the delivery without copying the text.
        let text = Rc::new(text);
        if !matches!(kind, Kind::Ping | Kind::Pong) {
            self.last_message = Some(text.clone());
            self.last_elsewhere = false;
        }
        if !to.is_empty() {
            let seq = seq.filter(|_| {
                matches!(
                    kind,
                    Kind::SnapshotUpdate | Kind::CorridorUpdate | Kind::AnchorUpdate
                )
            });
            out.push(Action::Deliver(Delivery {
                text,
                kind,
                seq,
                to,
                rebuilt: false,
            }));
        }
    }

    /// Report how a delivered frame differs from the protocol, once per kind
    /// and field: `corridor_update frame differs from protocol v1 (delivered
    /// as it came): missing or invalid corridor_id, volume_usd; unexpected
    /// asset_code`.
    fn warn_schema(&mut self, kind: Kind, mismatch: &Mismatch, out: &mut Vec<Action>) {
        let seen = &mut self.warned.fields[kind as usize];
        let (bad, extra) = (mismatch.bad & !*seen, mismatch.extra & !*seen);
        *seen |= bad | extra;
        let (mut invalid, mut unexpected): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        for field in Field::ALL {
            if bad & field.bit() != 0 {
                invalid.push(field.name());
            }
            if extra & field.bit() != 0 {
                unexpected.push(field.name());
            }
        }
        for name in &mismatch.unknown {
            let mut known = false;
            for (k, n) in &self.warned.names {
                known |= *k == kind && n == name;
            }
            if !known && self.warned.names.len() < MAX_WARNED_NAMES {
                self.warned.names.push((kind, name.clone()));
                unexpected.push(name);
            }
        }
        if invalid.is_empty() && unexpected.is_empty() {
            return;
        }
        let mut text = cat(&[
            kind.name(),
            " frame differs from protocol v1 (delivered as it came)",
        ]);
        for (label, names) in [
            ("missing or invalid ", invalid),
            ("unexpected ", unexpected),
        ] {
            for (i, name) in names.into_iter().enumerate() {
                let sep = if i > 0 {
                    ", "
                } else if text.ends_with(')') {
                    ": "
                } else {
                    "; "
                };
                text.push_str(sep);
                if i == 0 {
                    text.push_str(label);
                }
                text.push_str(name);
            }
        }
        out.push(Action::Error(ClientError::new(
            ErrorCode::SchemaMismatch,
            text,
        )));
    }

    fn check_heartbeat(&mut self, now: f64, out: &mut Vec<Action>) {
        if self.state != ConnectionState::Open {
            return;
        }
        let timeout = self.heartbeat_timeout_ms();
        let silent = now - self.last_frame_at;
        if silent + 1.0 < timeout {
            // Frames arrived since the timer was set: check again when the
            // current silence would reach the limit. Cheaper than re-arming a
            // browser timer on every frame.
            out.push(Action::SetTimer(
                Timer::Heartbeat,
                (timeout - silent).ceil() as u64,
            ));
            return;
        }
        out.push(Action::Error(ClientError::new(
            ErrorCode::HeartbeatTimeout,
            cat(&["no frame from the server for ", &uint(silent as u64), " ms"]),
        )));
        self.drop_socket(CLOSE_TIMEOUT, "heartbeat timeout", out);
        self.lost(now, out);
    }

    fn drop_socket(&mut self, code: u16, reason: &str, out: &mut Vec<Action>) {
        if self.socket {
            self.socket = false;
            out.push(Action::Close {
                code,
                reason: reason.into(),
            });
        }
    }

    /// The socket is gone without the user asking: schedule the next attempt or give up.
    fn lost(&mut self, now: f64, out: &mut Vec<Action>) {
        for t in [Timer::ConnectTimeout, Timer::Heartbeat, Timer::Stable] {
            out.push(Action::CancelTimer(t));
        }
        self.connection_id = None;
        if !self.config.auto_reconnect {
            self.state = ConnectionState::Closed;
            return;
        }
        if self.config.backoff.is_exhausted_by(self.failures) {
            self.state = ConnectionState::GaveUp;
            out.push(Action::Error(ClientError::new(
                ErrorCode::GaveUp,
                cat(&[
                    "gave up after ",
                    &uint(self.failures.into()),
                    " reconnect attempts; call connect() to retry",
                ]),
            )));
            return;
        }
        self.failures += 1;
        let delay = self.config.backoff.delay_ms(self.failures, (self.rng)());
        self.state = ConnectionState::Reconnecting;
        if self.online {
            self.delay_ms = Some(delay);
            self.next_attempt_at = Some((now.max(0.0) as u64).saturating_add(delay));
            out.push(Action::SetTimer(Timer::Reconnect, delay));
        } else {
            self.delay_ms = None;
            self.next_attempt_at = None;
        }
    }

    fn shut_down(&mut self, state: ConnectionState, reason: &str, out: &mut Vec<Action>) {
        self.drop_socket(CLOSE_NORMAL, reason, out);
        for t in [
            Timer::Reconnect,
            Timer::ConnectTimeout,
            Timer::Heartbeat,
            Timer::Stable,
        ] {
            out.push(Action::CancelTimer(t));
        }
        self.state = state;
        self.failures = 0;
        self.delay_ms = None;
        self.next_attempt_at = None;
        self.connection_id = None;
    }
}

#[path = "machine_state.rs"]
mod state;

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
