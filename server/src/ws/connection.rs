//! One WebSocket connection: `connected`, optional replay, then a single task
//! that selects over client frames, the outgoing queue, heartbeat and shutdown.
//! Live updates come from a fan-out writer ([`super::fanout`]) that writes
//! them into the connection's `Outbox` (`outbox.rs`); a state connection (deltas,
//! conflation) takes them from the hub and sends them itself.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use futures_util::{FutureExt, SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use stellar_insights_protocol::{
    close_code, peek_type, ClientMessage, ErrorCode, ResyncReason, ServerMessage, Topic,
    TopicError, PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::Message;

use super::fanout::Shard;
use super::outbox::{Outbox, SplitIo, Trouble};
use crate::filter::Subscriptions;
use crate::hub::Update;
use crate::limits::IpGuard;
use crate::state::{KeyedState, Want};
use crate::AppState;

/// `resync_required` reason when updates were lost before reaching this instance.
/// Rows read per replay query. Value 512.
const REPLAY_BATCH: usize = 512;
/// How long a closing connection waits for the client's close reply. Value 1 s.
const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Bytes the connection's own sends (replay, state answers) may leave waiting
/// in its outbox before the next send waits for the socket. Value 64 KiB.
const SEND_HIGH_WATER: usize = 64 * 1024;

/// What the handler learned before the upgrade.
pub struct Params {
    /// Client address.
    pub peer: SocketAddr,
    /// `?since=`: last seq the client has.
    pub since: Option<u64>,
    /// `?topics=`: initial subscription (applies to the replay too).
    pub topics: Vec<Topic>,
    /// Counts the connection as open for its lifetime.
    pub open: OpenGuard,
    /// Holds the per-IP slot for the connection's lifetime.
    pub _ip_guard: IpGuard,
}

/// Why the connection ends, with the close frame to send.
struct Close(u16, &'static str);

struct Conn {
    socket: WebSocketStream<SplitIo>,
    /// The socket's outgoing queue, shared with the fan-out writer; holds the subscription.
    out: Arc<Outbox>,
    /// The writer delivering live updates while the connection is attached to one.
    shard: Option<Arc<Shard>>,
    state: AppState,
    /// Highest seq delivered (or skipped by filter) while not attached to a
    /// writer (the outbox keeps it meanwhile); live updates at or below it are duplicates.
    last_seq: u64,
    send_timeout: Duration,
    /// `Some` once the client sent `subscribe` with `"state": true` (for the
    /// connection's life): refs, last records, covered answers (see `state`).
    keyed: Option<KeyedState>,
    /// Set when the socket (rather than the hub or a timer) woke the task; see [`SocketWake`].
    socket_wake: Arc<SocketWake>,
    /// `socket_wake` as a waker, made once.
    socket_waker: Waker,
}

/// The waker the socket's reads register: it records that the socket has
/// something (a frame, a close, an error, or write room for a flush the read
/// started) and wakes the connection's task. Only then does `serve` poll the
/// socket, so an update does not pay for a read attempt on every connection
/// (tungstenite zero-fills its read buffer and walks four layers for each).
#[derive(Default)]
struct SocketWake {
    /// The socket has woken us since its last poll (starts `true`: poll once to register).
    woken: AtomicBool,
    /// The task to wake.
    task: AtomicWaker,
}

impl Wake for SocketWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// When the next heartbeat event is due: one timer for both the ping interval
/// and the silence deadline (a frame from the client only moves `heard`; the
/// timer is re-armed when it fires).
struct Heartbeat {
    interval: Duration,
    silence: Duration,
    next_ping: Instant,
    /// When the client last sent a frame (or the connection started).
    heard: Instant,
}

/// What a [`Heartbeat`] timer firing asks for.
enum Beat {
    /// Send a ping.
    Ping,
    /// The client has been silent for the whole silence span.
    Silent,
    /// Nothing yet (the deadline moved since the timer was armed).
    Nothing,
}

impl Heartbeat {
    fn new(now: Instant, interval: Duration, silence: Duration) -> Heartbeat {
        Heartbeat {
            interval,
            silence,
            next_ping: now + interval,
            heard: now,
        }
    }

    /// When the timer must fire next.
    fn due(&self) -> Instant {
        self.next_ping.min(self.heard + self.silence)
    }

    /// The timer fired at `now`. A late tick delays the next ping rather than
    /// sending a burst (as `MissedTickBehavior::Delay` did).
    fn fire(&mut self, now: Instant) -> Beat {
        if now >= self.heard + self.silence {
            Beat::Silent
        } else if now >= self.next_ping {
            self.next_ping = now + self.interval;
            Beat::Ping
        } else {
            Beat::Nothing
        }
    }
}

/// Keeps `stellar_ws_connections_open` and the shutdown wait in step with
/// live connections: made when the handler answers 101 (so a client that has
/// its handshake is counted), dropped when the connection ends.
pub struct OpenGuard(AppState);

impl OpenGuard {
    /// Counts a connection as open (and in `stellar_ws_connections_total`).
    pub fn new(state: &AppState) -> OpenGuard {
        state
            .metrics
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        state
            .metrics
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        OpenGuard(state.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
        self.0.connection_closed();
    }
}

/// Runs one connection to its end.
///
/// Not an `async fn`: everything the connection keeps is built here and
/// moved into the task once. An `async fn` would hold its arguments and the
/// `Conn` made from them side by side for the task's whole life (its future
/// was 5 336 B in the release build; now ~2 KB), and the start (log reads,
/// replay) and the state reads run in boxes of their own, so their database
/// futures do not size every connection's task either.
pub fn run(
    tcp: TcpStream,
    early: Bytes,
    config: WebSocketConfig,
    state: AppState,
    params: Params,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("ws", conn = %id, peer = %params.peer);
    let Params {
        since,
        topics,
        open,
        _ip_guard: ip_guard,
        ..
    } = params;
    let mut subs = Subscriptions::everything();
    if !topics.is_empty() {
        // The handler refused a `?topics=` over the cap before the upgrade.
        let _ = subs.subscribe(&topics);
    }
    let send_timeout = state.config.heartbeat_timeout();
    let socket_wake = Arc::new(SocketWake {
        woken: AtomicBool::new(true),
        task: AtomicWaker::new(),
    });
    let out = Arc::new(Outbox::new(tcp, subs));
    let io = SplitIo::new(Arc::clone(&out), early);
    // No handshake, no I/O: the future is ready at its first poll, so the
    // stream is built here rather than inside the task (see above).
    let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config))
        .now_or_never()
        .expect("a WebSocket over a raw socket is built without waiting");
    let mut conn = Conn {
        socket,
        out,
        shard: None,
        state,
        last_seq: 0,
        send_timeout,
        keyed: None,
        socket_waker: Waker::from(Arc::clone(&socket_wake)),
        socket_wake,
    };
    async move {
        let _open = open;
        let _ip_guard = ip_guard;
        tracing::debug!("connected");
        let close = match Box::pin(conn.start(id, since)).await {
            Ok(rx) => conn.serve(rx).await,
            Err(close) => close,
        };
        if let Some(Close(code, reason)) = close {
            tracing::debug!(code, reason, "closing");
            Box::pin(conn.close(code, reason)).await;
        }
        conn.abandon();
    }
    .instrument(span)
}

fn frame(msg: &ServerMessage) -> Message {
    Message::Text(msg.to_json().into())
}

fn error(code: ErrorCode, message: impl Into<String>) -> Message {
    frame(&ServerMessage::Error {
        message: message.into(),
        code: Some(code),
    })
}

/// `ping.timestamp`: seconds since the Unix epoch, the unit of the seed
/// protocol's example (`1234567890`). Clients echo it; the server never reads it back.
fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whether a read failed because the client's frame (or message) was over
/// `WS_MAX_FRAME_BYTES` (tungstenite's `CapacityError::MessageTooLong`).
fn is_frame_too_large(e: &tungstenite::Error) -> bool {
    matches!(
        e,
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong { .. })
    )
}

/// The first topic of a `subscribe`/`unsubscribe` frame that is not a valid
/// [`Topic`], when that is why the frame did not parse (the frame is otherwise
/// well formed: a JSON object whose `topics` is an array of strings).
fn invalid_topic(text: &str) -> Option<TopicError> {
    #[derive(serde::Deserialize)]
    struct Topics {
        topics: Vec<String>,
    }
    let Topics { topics } = serde_json::from_str(text).ok()?;
    topics.iter().find_map(|t| t.parse::<Topic>().err())
}

/// The complaint about a `subscribe` frame's `state` when that member is
/// present but not a boolean (or `null`, which means absent).
fn invalid_state(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get("state")? {
        serde_json::Value::Bool(_) | serde_json::Value::Null => None,
        other => Some(format!(
            "subscribe: state must be a boolean (true asks for the current records), not {other}"
        )),
    }
}

impl Conn {
    /// Sends a frame; `Err` when the client is gone or has not taken what
    /// waits before it within the timeout. The frame goes into the outbox at
    /// once (tungstenite never waits on it); the send then waits while more
    /// than `high` bytes are queued (the timeout's timer only when it must wait).
    async fn send_within(&mut self, msg: Message, high: usize) -> Result<(), Option<Close>> {
        if self.socket.send(msg).await.is_err() {
            return Err(None);
        }
        self.state.metrics.frames_sent.add(1);
        let out = Arc::clone(&self.out);
        let mut room = pin!(std::future::poll_fn(|cx| out.poll_room(high, cx)));
        let first = std::future::poll_fn(|cx| Poll::Ready(room.as_mut().poll(cx))).await;
        let done = match first {
            Poll::Ready(done) => done,
            Poll::Pending => match tokio::time::timeout(self.send_timeout, room).await {
                Ok(done) => done,
                Err(_) => {
                    tracing::debug!("send stalled past the heartbeat timeout");
                    return Err(None);
                }
            },
        };
        done.map_err(|_| None)
    }

    /// Sends a frame (see [`Conn::send_within`]), letting up to 64 KiB wait.
    async fn send(&mut self, msg: Message) -> Result<(), Option<Close>> {
        self.send_within(msg, SEND_HIGH_WATER).await
    }

    /// Takes live delivery back from the fan-out writer (if it has it) and
    /// waits for its answer: the writer sends nothing more, and `last_seq` is
    /// what it delivered.
    async fn leave(&mut self) {
        if self.shard.take().is_some() {
            self.out.ask_detach();
            let out = Arc::clone(&self.out);
            self.last_seq = std::future::poll_fn(|cx| out.poll_detached(cx)).await;
        }
    }

    /// The connection ends: the writer lets go of it at its next look (nothing waits for that).
    fn abandon(&mut self) {
        if self.shard.take().is_some() {
            self.out.ask_detach();
        }
    }

    /// Hands live delivery to a fan-out writer (`rx` goes with it); `Some(rx)`
    /// back when the writers have stopped and the connection keeps delivering itself.
    fn join(
        &mut self,
        rx: tokio::sync::broadcast::Receiver<Arc<Update>>,
    ) -> Option<tokio::sync::broadcast::Receiver<Arc<Update>>> {
        match self.state.fanout.join(&self.out, self.last_seq, rx) {
            Ok(shard) => {
                self.shard = Some(shard);
                None
            }
            Err(rx) => Some(rx),
        }
    }

    /// Live delivery from the writer back to this task, for a state
    /// subscription: a receiver of the hub, then the log's updates after
    /// what the writer delivered, so nothing falls between.
    async fn deliver_here(
        &mut self,
        rx: &mut Option<tokio::sync::broadcast::Receiver<Arc<Update>>>,
    ) -> Result<(), Option<Close>> {
        if self.shard.is_none() {
            return Ok(());
        }
        *rx = Some(self.state.hub.subscribe());
        self.leave().await;
        let after = self.last_seq;
        Box::pin(self.replay(after)).await
    }

    /// The next client frame, polling the socket only when it has woken the
    /// task since its last poll (see [`SocketWake`]).
    fn poll_socket(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, tungstenite::Error>>> {
        self.socket_wake.task.register(cx.waker());
        if !self.socket_wake.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let mut socket_cx = Context::from_waker(&self.socket_waker);
        let next = self.socket.poll_next_unpin(&mut socket_cx);
        if next.is_ready() {
            // More frames may be buffered: poll again next time.
            self.socket_wake.woken.store(true, Ordering::Release);
        }
        next
    }

    async fn resync(&mut self, reason: ResyncReason) -> Result<(), Option<Close>> {
        self.state.metrics.resync(&reason);
        self.send(frame(&ServerMessage::ResyncRequired {
            reason: Some(reason),
        }))
        .await
    }

    async fn deliver(&mut self, update: &Update) -> Result<(), Option<Close>> {
        if update.seq <= self.last_seq {
            return Ok(());
        }
        if update.seq > self.last_seq + 1 {
            // Updates were lost upstream (e.g. Redis lost entries the database no longer
            // holds either): the client must reload rather than silently miss them.
            tracing::info!(
                from = self.last_seq,
                to = update.seq,
                "gap in the update stream"
            );
            self.resync(ResyncReason::Gap).await?;
        }
        let delivered = std::mem::replace(&mut self.last_seq, update.seq);
        if !self.out.lock().subs.matches(update) {
            return Ok(());
        }
        let msg = match &mut self.keyed {
            None => Message::Text(update.json.clone()),
            Some(keyed) => {
                if keyed.covers(update.kind, &update.key, update.seq, delivered) {
                    // Already in a `state` answer this client got.
                    return Ok(());
                }
                match update.message() {
                    Some(parsed) => frame(&keyed.outgoing(parsed, false)),
                    // Not reachable: the hub's frames are the server's own serialisation.
                    None => Message::Text(update.json.clone()),
                }
            }
        };
        self.send(msg).await?;
        update.sent(&self.state.metrics);
        Ok(())
    }

    /// Answers `subscribe` with `"state": true`: the current records of the
    /// topics it named (those the subscription holds) as of one `S`, in chunks.
    async fn send_state(&mut self, topics: &[Topic]) -> Result<(), Option<Close>> {
        let held: Vec<Topic> = {
            let out = self.out.lock();
            topics
                .iter()
                .filter(|t| out.subs.holds(t))
                .cloned()
                .collect()
        };
        let want = Want::of_topics(&held);
        let read = super::state_read::read_state(&self.state, &want, None)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "state read failed");
                Some(Close(1011, "internal error"))
            })?;
        let chunks = self.keyed.get_or_insert_default().answer(read, want);
        for chunk in &chunks {
            self.send(frame(chunk)).await?;
        }
        Ok(())
    }

    /// A state connection fell behind the live stream: instead of close 4001,
    /// re-read the current records of its subscription (bounded by keys) and
    /// send each key that changed, flagged `conflated`; live updates continue
    /// above the read's `S`.
    async fn conflate(&mut self) -> Result<(), Option<Close>> {
        let want = self.out.lock().subs.want();
        let read = super::state_read::read_state(&self.state, &want, Some(self.last_seq))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "conflation read failed");
                Some(Close(1011, "internal error"))
            })?;
        let seq = read.seq;
        let frames = self.keyed.get_or_insert_default().conflate(read);
        self.state
            .metrics
            .conflations
            .fetch_add(1, Ordering::Relaxed);
        for msg in &frames {
            self.send(frame(msg)).await?;
        }
        self.last_seq = self.last_seq.max(seq);
        Ok(())
    }

    /// Subscribes to live updates first, then sends `connected` and replays
    /// `seq > since` from the log, so nothing falls between replay and live.
    async fn start(
        &mut self,
        id: String,
        since: Option<u64>,
    ) -> Result<tokio::sync::broadcast::Receiver<Arc<Update>>, Option<Close>> {
        let rx = self.state.hub.subscribe();
        let (oldest, issued) = self.state.log.bounds().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the update log");
            Some(Close(1011, "internal error"))
        })?;
        let resync = since.and_then(|since| {
            if since > issued {
                Some(ResyncReason::FutureSeq)
            } else if since < issued && oldest.is_some_and(|lo| since + 1 < lo) {
                Some(ResyncReason::Pruned)
            } else {
                None
            }
        });
        let resumed = since.is_some() && resync.is_none();
        self.send(frame(&ServerMessage::Connected {
            connection_id: id,
            protocol: Some(PROTOCOL_VERSION),
            heartbeat_ms: Some(self.state.config.ping_interval.as_millis() as u64),
            seq: Some(issued),
            resumed: Some(resumed),
        }))
        .await?;
        self.last_seq = if resumed {
            since.unwrap_or(issued)
        } else {
            issued
        };
        if let Some(reason) = resync {
            self.resync(reason).await?;
        } else if let Some(since) = since {
            self.replay(since).await?;
        }
        Ok(rx)
    }

    async fn replay(&mut self, since: u64) -> Result<(), Option<Close>> {
        let mut after = since;
        loop {
            let rows = self
                .state
                .log
                .after(after, REPLAY_BATCH)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "replay failed");
                    Some(Close(1011, "internal error"))
                })?;
            for row in &rows {
                // The log has no holes (see `store::log`): a hole means pruning raced
                // the replay, or (Redis) entries no store still holds. Either way the
                // updates after it follow, so it is a `gap`, not `pruned` (which
                // promises the client that no replay follows).
                if row.seq as u64 != after + 1 {
                    self.resync(ResyncReason::Gap).await?;
                    // Already told; delivering the next one must not report the same hole.
                    self.last_seq = self.last_seq.max(row.seq as u64 - 1);
                }
                after = row.seq as u64;
                match Update::from_logged(row) {
                    Ok(update) => self.deliver(&update).await?,
                    Err(e) => {
                        tracing::error!(seq = row.seq, error = %e, "skipping unreadable update log row");
                        self.last_seq = after;
                    }
                }
            }
            if rows.len() < REPLAY_BATCH {
                return Ok(());
            }
        }
    }

    async fn serve(&mut self, rx: tokio::sync::broadcast::Receiver<Arc<Update>>) -> Option<Close> {
        let config = Arc::clone(&self.state.config);
        let mut shutdown = self.state.shutdown_signal();
        // Made once: a fresh `wait_for` per wake-up would lock the shared watch twice.
        let mut shutdown = pin!(crate::until_shutdown(&mut shutdown));
        let mut beat = Heartbeat::new(
            Instant::now(),
            config.ping_interval,
            config.heartbeat_timeout(),
        );
        let mut timer = pin!(sleep_until(beat.due()));
        let quota = Quota::per_second(
            NonZeroU32::new(config.ws_rate_limit_per_sec).unwrap_or(NonZeroU32::MIN),
        )
        .allow_burst(NonZeroU32::new(config.ws_rate_limit_burst).unwrap_or(NonZeroU32::MIN));
        let limiter: DefaultDirectRateLimiter = RateLimiter::direct(quota);
        // `None` while a fan-out writer delivers the live updates.
        let mut rx = self.join(rx);
        let out = Arc::clone(&self.out);
        loop {
            let step = tokio::select! {
                biased;
                // wait_for also sees a shutdown that began before this task subscribed.
                _ = &mut shutdown => {
                    // Flush what is already published, then say goodbye.
                    if let Some(shard) = self.shard.clone() {
                        shard.drained().await;
                        self.leave().await;
                    }
                    while let Some(Ok(update)) = rx.as_mut().map(|rx| rx.try_recv()) {
                        if let Err(close) = self.deliver(&update).await {
                            return close;
                        }
                    }
                    return Some(Close(close_code::GOING_AWAY, "server shutting down"));
                }
                incoming = std::future::poll_fn(|cx| self.poll_socket(cx)) => {
                    beat.heard = Instant::now();
                    match incoming {
                        None | Some(Ok(Message::Close(_))) => return None,
                        Some(Ok(msg)) => self.on_frame(msg, &limiter, &mut rx).await,
                        Some(Err(e)) => return self.on_read_error(e).await,
                    }
                }
                // Writes what waits in the outbox whenever the socket has room.
                trouble = std::future::poll_fn(|cx| out.poll_trouble(cx)) => match trouble {
                    Trouble::Failed => return None,
                    Trouble::Slow => {
                        self.leave().await;
                        tracing::info!("slow consumer");
                        let _ = self.resync(ResyncReason::SlowConsumer).await;
                        return Some(Close(close_code::SLOW_CONSUMER, "slow consumer: resync required"));
                    }
                },
                () = &mut timer => {
                    let step = match beat.fire(Instant::now()) {
                        Beat::Ping => self.heartbeat().await,
                        Beat::Silent => {
                            let _ = self.send(error(ErrorCode::HeartbeatTimeout, "no frame received for 2.5 heartbeats")).await;
                            return Some(Close(close_code::HEARTBEAT_TIMEOUT, "heartbeat timeout"));
                        }
                        Beat::Nothing => Ok(()),
                    };
                    timer.as_mut().reset(beat.due());
                    step
                }
                // Last, so a steady stream of updates cannot starve the heartbeat timers.
                update = async { rx.as_mut().expect("guarded by rx.is_some()").recv().await }, if rx.is_some() => match update {
                    Ok(update) => self.deliver(&update).await,
                    Err(RecvError::Lagged(missed)) if self.keyed.is_some() => {
                        tracing::debug!(missed, "slow state consumer: conflating");
                        Box::pin(self.conflate()).await
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "slow consumer");
                        let _ = self.resync(ResyncReason::SlowConsumer).await;
                        return Some(Close(close_code::SLOW_CONSUMER, "slow consumer: resync required"));
                    }
                    Err(RecvError::Closed) => return Some(Close(close_code::GOING_AWAY, "server shutting down")),
                },
            };
            if let Err(close) = step {
                return close;
            }
        }
    }

    /// One heartbeat: a JSON `ping` (browser clients answer it) and a WebSocket
    /// protocol ping, which browsers, `wscat` and most WebSocket libraries answer
    /// by themselves. Either answer, like any frame, counts as liveness.
    async fn heartbeat(&mut self) -> Result<(), Option<Close>> {
        self.send(frame(&ServerMessage::Ping {
            timestamp: now_secs(),
        }))
        .await?;
        self.send(Message::Ping(Bytes::new())).await
    }

    async fn on_frame(
        &mut self,
        msg: Message,
        limiter: &DefaultDirectRateLimiter,
        rx: &mut Option<tokio::sync::broadcast::Receiver<Arc<Update>>>,
    ) -> Result<(), Option<Close>> {
        self.state
            .metrics
            .frames_received
            .fetch_add(1, Ordering::Relaxed);
        // Control frames count too: tungstenite answers each ping with a pong, so an
        // unlimited ping flood would cost as much as a data flood.
        let over_limit = limiter.check().is_err();
        let text = match msg {
            _ if over_limit => None,
            // Control frames only prove liveness.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => return Ok(()),
            Message::Text(text) => Some(text),
            Message::Binary(_) | Message::Frame(_) => None,
        };
        if over_limit {
            self.send(error(
                ErrorCode::RateLimited,
                "too many frames: rate limit exceeded, closing",
            ))
            .await?;
            return Err(Some(Close(
                close_code::POLICY_VIOLATION,
                "rate limit exceeded",
            )));
        }
        let Some(text) = text else {
            return self
                .send(error(
                    ErrorCode::BinaryNotSupported,
                    "binary frames are not supported; send JSON text",
                ))
                .await;
        };
        match ClientMessage::from_json(&text) {
            Ok(ClientMessage::Pong { .. }) => {
                self.state
                    .metrics
                    .json_pongs
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(ClientMessage::Ping { timestamp }) => {
                self.send(frame(&ServerMessage::Pong { timestamp })).await
            }
            Ok(ClientMessage::Subscribe { topics, state }) => {
                let added = self.out.change_subs(|subs| subs.subscribe(&topics));
                if let Err(e) = added {
                    self.send(error(
                        ErrorCode::TooManyTopics,
                        format!(
                            "{} keyed topics not added: at most {} per connection",
                            e.refused,
                            crate::filter::MAX_KEYS
                        ),
                    ))
                    .await?;
                }
                if state == Some(true) {
                    // Deltas and conflation are this connection's own: it sends
                    // its live updates itself from now on.
                    self.deliver_here(rx).await?;
                    Box::pin(self.send_state(&topics)).await?;
                }
                Ok(())
            }
            Ok(ClientMessage::Unsubscribe { topics }) => {
                self.out.change_subs(|subs| subs.unsubscribe(&topics));
                Ok(())
            }
            Ok(ClientMessage::Unknown) => {
                let kind = peek_type(&text).unwrap_or_default();
                self.send(error(
                    ErrorCode::UnknownType,
                    format!("unknown message type {kind:?}"),
                ))
                .await
            }
            Err(e) => {
                let kind = peek_type(&text);
                let topic_error = match kind.as_deref() {
                    Some("subscribe" | "unsubscribe") => invalid_topic(&text),
                    _ => None,
                };
                let state_error = match kind.as_deref() {
                    Some("subscribe") => invalid_state(&text),
                    _ => None,
                };
                let reply = match (topic_error, state_error) {
                    (Some(bad), _) => error(ErrorCode::InvalidTopic, bad.to_string()),
                    (None, Some(why)) => error(ErrorCode::InvalidMessage, why),
                    (None, None) => error(
                        ErrorCode::InvalidMessage,
                        format!("cannot parse frame: {e}"),
                    ),
                };
                self.send(reply).await
            }
        }
    }

    async fn on_read_error(&mut self, e: tungstenite::Error) -> Option<Close> {
        if !is_frame_too_large(&e) {
            return None;
        }
        let max = self.state.config.ws_max_frame_bytes;
        let _ = self
            .send(error(
                ErrorCode::FrameTooLarge,
                format!("frame larger than {max} bytes"),
            ))
            .await;
        Some(Close(close_code::MESSAGE_TOO_BIG, "frame too large"))
    }

    /// Sends the close frame after what waits in the outbox (within the send
    /// timeout), then waits briefly for the client's reply, so the TCP close
    /// does not reset the connection under frames the client has not read.
    async fn close(&mut self, code: u16, reason: &'static str) {
        // Nothing from the writer may follow the close frame.
        self.leave().await;
        let frame = CloseFrame {
            code: code.into(),
            reason: reason.into(),
        };
        if self
            .send_within(Message::Close(Some(frame)), 0)
            .await
            .is_err()
        {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_LINGER, async {
            while let Some(Ok(msg)) = self.socket.next().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // A connection that ends without `close` (the client left) lets go of its writer too.
        self.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::error::{CapacityError, ProtocolError};

    #[test]
    fn only_a_message_over_the_limit_is_frame_too_large() {
        let too_long = tungstenite::Error::Capacity(CapacityError::MessageTooLong {
            size: 2000,
            max_size: 1024,
        });
        assert!(is_frame_too_large(&too_long));
        for other in [
            tungstenite::Error::Capacity(CapacityError::TooManyHeaders),
            tungstenite::Error::Protocol(ProtocolError::UnmaskedFrameFromClient),
            tungstenite::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
            tungstenite::Error::ConnectionClosed,
        ] {
            assert!(!is_frame_too_large(&other));
        }
    }

    #[test]
    fn one_heartbeat_timer_pings_on_time_and_times_out_only_after_silence() {
        let (ms, t0) = (Duration::from_millis, Instant::now());
        let mut beat = Heartbeat::new(t0, ms(100), ms(250));
        assert_eq!(beat.due(), t0 + ms(100));
        assert!(matches!(beat.fire(t0 + ms(100)), Beat::Ping));
        // A frame at 150 ms moves the silence deadline, not the timer.
        beat.heard = t0 + ms(150);
        assert!(matches!(beat.fire(t0 + ms(199)), Beat::Nothing));
        // Late by 30 ms: the next ping is one interval after this one, no burst.
        assert!(matches!(beat.fire(t0 + ms(230)), Beat::Ping));
        assert_eq!(beat.due(), t0 + ms(330));
        assert!(matches!(beat.fire(t0 + ms(330)), Beat::Ping));
        assert_eq!(beat.due(), t0 + ms(400), "silence deadline: 150 + 250 ms");
        assert!(matches!(beat.fire(t0 + ms(400)), Beat::Silent));
    }

    #[test]
    fn a_state_that_is_not_a_boolean_is_named() {
        let why = invalid_state(r#"{"type":"subscribe","topics":[],"state":"yes"}"#).unwrap();
        assert!(why.contains("state must be a boolean"), "{why}");
        for ok in [
            r#"{"type":"subscribe","topics":[],"state":true}"#,
            r#"{"type":"subscribe","topics":[],"state":null}"#,
            r#"{"type":"subscribe","topics":[]}"#,
        ] {
            assert_eq!(invalid_state(ok), None, "{ok}");
        }
    }

    #[test]
    fn a_bad_topic_is_told_apart_from_other_bad_subscribe_frames() {
        let bad = invalid_topic(r#"{"type":"subscribe","topics":["anchors","nope"]}"#);
        assert_eq!(bad, Some(TopicError("nope".into())));
        for text in [
            r#"{"type":"subscribe","topics":["anchors"]}"#,
            r#"{"type":"subscribe","topics":"anchors"}"#,
            r#"{"type":"subscribe","topics":["anchors",5]}"#,
            r#"{"type":"subscribe"}"#,
            "not json",
        ] {
            assert_eq!(invalid_topic(text), None, "{text}");
        }
    }
}
