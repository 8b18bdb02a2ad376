//! The bytes going out on one WebSocket connection, in one ordered queue that
//! two parties write to: the connection's task (through tungstenite: pings,
//! answers, errors, state answers, the close frame) and a fan-out writer (the
//! live updates' frames, encoded once per update and written as the same bytes
//! to every connection; see [`super::fanout`]).
//!
//! One party at a time owns the socket's write side; only the owner writes
//! to it, so frames never interleave:
//!
//! - **The writer** owns it while the connection is attached and nothing waits
//!   in the queue. It then writes each update with one `send(2)` from its own
//!   per-connection record ([`Entry`]) without touching the outbox at all: at
//!   10 000 clients that first touch of each connection's memory was most of
//!   the server's user time per delivery. What the task sends meanwhile is
//!   queued and the writer is told ([`Outbox::mark_dirty`]); it writes it
//!   before its next update.
//! - **The task** owns it otherwise: before the connection is attached, after
//!   it detached, and whenever the socket was full. It writes what waits when
//!   the socket has room, and hands the socket back to the writer once the
//!   queue is empty. The writer only ever appends to the queue then, whole
//!   frames, at most `WS_SEND_QUEUE` of them (one more makes the client slow).
//!
//! Every change of owner, subscription or attachment happens under the
//! outbox's lock and reaches the writer through its shard's dirty list, which
//! it reads before each update.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;

use super::fanout::Shard;
use crate::filter::Subscriptions;
use crate::hub::{Update, UpdateKind};

/// A server-to-client text frame (FIN, unmasked) holding `payload`: the same
/// bytes for every client. Formatted by tungstenite's own frame writer.
pub(crate) fn text_frame(payload: &[u8]) -> Bytes {
    let frame = Frame::message(
        Bytes::copy_from_slice(payload),
        OpCode::Data(Data::Text),
        true,
    );
    let mut out = Vec::with_capacity(frame.len());
    frame
        .format(&mut out)
        .expect("formatting into a Vec cannot fail");
    out.into()
}

/// One connection's socket and its outgoing queue.
pub(crate) struct Outbox {
    tcp: TcpStream,
    state: Mutex<OutState>,
    /// The connection's task: woken when it owns a non-empty queue, when the
    /// writer let go of the connection (detached, too slow), or when a write failed.
    task: AtomicWaker,
}

/// What an [`Outbox`] holds under its lock.
pub(crate) struct OutState {
    /// Frames not yet written, whole, in order; `head` bytes of the first are written.
    queue: VecDeque<Bytes>,
    head: usize,
    /// Bytes in `queue` not yet written.
    queued_bytes: usize,
    /// The connection's topics (the task changes them; the writer keeps a copy).
    pub(crate) subs: Subscriptions,
    /// While attached: the seq the connection was attached at; once detached,
    /// the highest seq the writer delivered (or skipped by the filter).
    last_seq: u64,
    /// The writer this connection is attached to (`None` when detached).
    shard: Option<Arc<Shard>>,
    /// The writer holds an [`Entry`] for this connection, at `slot`.
    admitted: bool,
    slot: usize,
    /// The writer owns the write side (see the module docs).
    writer_owns: bool,
    /// The task asked to take live delivery back.
    detach_asked: bool,
    /// Something changed since the writer last looked (it is on the dirty list).
    dirty: bool,
    /// `subs` changed since the writer copied them.
    subs_changed: bool,
    /// The writer found the client more than `WS_SEND_QUEUE` frames behind
    /// (or its own receiver lagged) and let go of it.
    slow: bool,
    /// A write failed: the client is gone.
    failed: bool,
}

/// The writer's record of one attached connection: everything a delivery
/// needs, kept in the writer's own array so an update touches no
/// connection's memory but this.
///
/// 32 bytes: an update walks the array in order, two entries per cache line.
pub(crate) struct Entry {
    /// Highest seq delivered or skipped by the filter.
    last_seq: u64,
    fd: RawFd,
    /// The writer does not own the write side (or must look first): deliver under the lock.
    blocked: bool,
    /// Kinds every update of which goes to the connection: bit `kind_bit(kind)`.
    kinds: u8,
    out: Arc<Outbox>,
    /// The writer's copy of the connection's topics, when they name keys
    /// (otherwise `kinds` says everything).
    keyed: Option<Box<Subscriptions>>,
}

/// The bit of `kind` in [`Entry::kinds`].
fn kind_bit(kind: UpdateKind) -> u8 {
    match kind {
        UpdateKind::Anchor => 1,
        UpdateKind::Corridor => 2,
        UpdateKind::Snapshot => 4,
    }
}

/// `subs` as an entry keeps it: the kinds wanted whole, and the topics if they name keys.
fn filter_of(subs: &Subscriptions) -> (u8, Option<Box<Subscriptions>>) {
    let kinds = [
        UpdateKind::Anchor,
        UpdateKind::Corridor,
        UpdateKind::Snapshot,
    ]
    .into_iter()
    .filter(|k| subs.wants_all(*k))
    .fold(0, |bits, k| bits | kind_bit(k));
    let keyed = (subs.key_count() > 0).then(|| Box::new(subs.clone()));
    (kinds, keyed)
}

/// What a fan-out writer's offer did with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Written to the socket whole.
    Written,
    /// Queued (the socket was full or earlier frames wait).
    Queued,
    /// Not for this connection: already delivered, or filtered out.
    Skipped,
    /// The connection is gone from the writer (slow, or its socket failed).
    Gone,
}

/// Why the task was woken ([`Outbox::poll_trouble`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// More than `WS_SEND_QUEUE` frames waited: the writer let go of the connection.
    Slow,
    /// A write failed: the client is gone.
    Failed,
}

/// `send(2)` of `bytes` on `fd`, never blocking: bytes written, or `WouldBlock`.
fn send(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: `fd` is the socket of an `Outbox` that the caller holds an `Arc`
    // of (an `Entry` keeps its `out`), so it is open for the borrow's length.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    socket2::SockRef::from(&fd).send(bytes)
}

impl Outbox {
    /// The outbox of `tcp`, delivering `subs`' topics.
    pub(crate) fn new(tcp: TcpStream, subs: Subscriptions) -> Outbox {
        Outbox {
            tcp,
            state: Mutex::new(OutState {
                queue: VecDeque::new(),
                head: 0,
                queued_bytes: 0,
                subs,
                last_seq: 0,
                shard: None,
                admitted: false,
                slot: 0,
                writer_owns: false,
                detach_asked: false,
                dirty: false,
                subs_changed: false,
                slow: false,
                failed: false,
            }),
            task: AtomicWaker::new(),
        }
    }

    /// The state under the lock (uncontended but for a fan-out writer passing by).
    pub(crate) fn lock(&self) -> MutexGuard<'_, OutState> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts this outbox on its writer's dirty list (once until the writer looks).
    fn mark_dirty(self: &Arc<Self>, s: &mut OutState) {
        if s.dirty {
            return;
        }
        if let Some(shard) = &s.shard {
            s.dirty = true;
            shard.dirty(Arc::clone(self));
        }
    }

    /// Changes the subscription with `change` (its result is returned); the
    /// writer takes the new topics before its next update.
    pub(crate) fn change_subs<T>(
        self: &Arc<Self>,
        change: impl FnOnce(&mut Subscriptions) -> T,
    ) -> T {
        let mut s = self.lock();
        let result = change(&mut s.subs);
        s.subs_changed = true;
        self.mark_dirty(&mut s);
        result
    }

    /// Attaches to the writer of `shard`: updates above `last_seq` are its to send
    /// once it admits the connection (the task keeps the write side until then).
    pub(crate) fn attach(&self, shard: Arc<Shard>, last_seq: u64) {
        let mut s = self.lock();
        s.shard = Some(shard);
        s.last_seq = last_seq;
        s.detach_asked = false;
    }

    /// Asks the writer to let go of this connection (it answers before its next update).
    pub(crate) fn ask_detach(self: &Arc<Self>) {
        let mut s = self.lock();
        if s.shard.is_some() {
            s.detach_asked = true;
            self.mark_dirty(&mut s);
        }
    }

    /// Completes once no writer holds this connection: the highest seq the
    /// writer delivered (or skipped), or what the task set at attach if it
    /// never was admitted.
    pub(crate) fn poll_detached(&self, cx: &mut Context<'_>) -> Poll<u64> {
        self.task.register(cx.waker());
        let s = self.lock();
        if s.shard.is_none() {
            Poll::Ready(s.last_seq)
        } else {
            Poll::Pending
        }
    }

    /// Writes queued bytes until the queue is empty or the socket is full
    /// (the caller owns the write side).
    fn flush_locked(&self, s: &mut OutState) -> io::Result<()> {
        while let Some(front) = s.queue.front() {
            match self.tcp.try_write(&front[s.head..]) {
                Ok(n) => {
                    s.queued_bytes -= n;
                    if s.head + n == front.len() {
                        s.queue.pop_front();
                        s.head = 0;
                    } else {
                        s.head += n;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    s.failed = true;
                    return Err(e);
                }
            }
        }
        if s.queue.capacity() > 64 {
            // A backlog's queue is not kept for the connection's life.
            s.queue = VecDeque::new();
        }
        Ok(())
    }

    /// The task's write (a frame tungstenite formatted, or several): written
    /// now if the task owns the write side and nothing waits, else queued (a
    /// copy) for whoever owns it. Never blocks; the task bounds what waits
    /// with [`Outbox::poll_room`].
    fn write_or_queue(self: &Arc<Self>, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.lock();
        if s.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut written = 0;
        if !s.writer_owns && s.queue.is_empty() {
            match self.tcp.try_write(bytes) {
                Ok(n) => written = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    s.failed = true;
                    return Err(e);
                }
            }
        }
        if written < bytes.len() {
            s.queue.push_back(Bytes::copy_from_slice(&bytes[written..]));
            s.queued_bytes += bytes.len() - written;
            if s.writer_owns {
                self.mark_dirty(&mut s);
            }
        }
        Ok(())
    }

    /// The task's flush while it owns the write side; an empty queue goes back
    /// to the writer (if attached and admitted).
    fn task_flush(self: &Arc<Self>, s: &mut OutState) -> io::Result<()> {
        if s.writer_owns {
            return Ok(());
        }
        self.flush_locked(s)?;
        if s.queue.is_empty() && s.admitted && !s.detach_asked {
            s.writer_owns = true;
            self.mark_dirty(s);
        }
        Ok(())
    }

    /// Waits until at most `high` bytes are queued (writing them when the task
    /// owns the write side; the writer writes them otherwise and wakes the task).
    pub(crate) fn poll_room(
        self: &Arc<Self>,
        high: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.task.register(cx.waker());
        loop {
            {
                let mut s = self.lock();
                if s.failed {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                self.task_flush(&mut s)?;
                if s.queued_bytes <= high {
                    return Poll::Ready(Ok(()));
                }
                if s.writer_owns {
                    return Poll::Pending;
                }
            }
            ready!(self.tcp.poll_write_ready(cx))?;
        }
    }

    /// The task's watch over the queue: writes what waits whenever the task
    /// owns the write side and the socket has room, and completes when the
    /// writer let go of a slow client or a write failed. Pending otherwise.
    pub(crate) fn poll_trouble(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<Trouble> {
        self.task.register(cx.waker());
        loop {
            {
                let mut s = self.lock();
                if s.failed {
                    return Poll::Ready(Trouble::Failed);
                }
                if s.slow {
                    return Poll::Ready(Trouble::Slow);
                }
                if self.task_flush(&mut s).is_err() {
                    return Poll::Ready(Trouble::Failed);
                }
                if s.writer_owns || s.queue.is_empty() {
                    return Poll::Pending;
                }
            }
            match self.tcp.poll_write_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    self.lock().failed = true;
                    return Poll::Ready(Trouble::Failed);
                }
            }
        }
    }
}

/// The writer's side: admitting a connection, reading its changes, delivering.
impl Entry {
    /// Admits `out` as the writer's `slot`-th connection; `None` if the task
    /// took it back (or it failed) before the writer got to it.
    pub(crate) fn admit(out: Arc<Outbox>, slot: usize) -> Option<Entry> {
        let mut s = out.lock();
        if s.detach_asked || s.failed || s.shard.is_none() {
            s.shard = None;
            drop(s);
            out.task.wake();
            return None;
        }
        s.admitted = true;
        s.slot = slot;
        s.dirty = false;
        s.subs_changed = false;
        // The task keeps the write side while its own frames wait.
        s.writer_owns = s.queue.is_empty();
        let (kinds, keyed) = filter_of(&s.subs);
        let entry = Entry {
            fd: out.tcp.as_raw_fd(),
            last_seq: s.last_seq,
            kinds,
            keyed,
            blocked: !s.writer_owns,
            out: Arc::clone(&out),
        };
        drop(s);
        Some(entry)
    }

    /// Whether `update` goes to this connection.
    fn wants(&self, update: &Update) -> bool {
        self.kinds & kind_bit(update.kind) != 0
            || self.keyed.as_ref().is_some_and(|subs| subs.matches(update))
    }

    /// Tells the entry it moved to `slot` (the writer filled a hole with it).
    pub(crate) fn moved_to(&self, slot: usize) {
        self.out.lock().slot = slot;
    }

    /// The writer looks at a connection on its dirty list. `Some(slot)` when
    /// the entry at `slot` must go (the task detached, or the socket failed);
    /// the task is answered.
    pub(crate) fn look(out: &Arc<Outbox>, entries: &mut [Entry]) -> Option<usize> {
        let mut s = out.lock();
        s.dirty = false;
        if !s.admitted {
            return None;
        }
        let slot = s.slot;
        let entry = &mut entries[slot];
        if s.detach_asked || s.failed {
            release(&mut s, entry.last_seq);
            drop(s);
            out.task.wake();
            return Some(slot);
        }
        if s.subs_changed {
            (entry.kinds, entry.keyed) = filter_of(&s.subs);
            s.subs_changed = false;
        }
        if s.writer_owns && !s.queue.is_empty() {
            // The task's frames, queued while the writer owned the socket.
            if out.flush_locked(&mut s).is_err() {
                release(&mut s, entry.last_seq);
                drop(s);
                out.task.wake();
                return Some(slot);
            }
            if !s.queue.is_empty() {
                s.writer_owns = false;
            }
            out.task.wake();
        }
        entry.blocked = !s.writer_owns;
        None
    }

    /// Lets go of the connection at shutdown, telling the task what was delivered.
    pub(crate) fn release(self) {
        let mut s = self.out.lock();
        release(&mut s, self.last_seq);
        drop(s);
        self.out.task.wake();
    }

    /// The writer offers `update` (its frame `frame`; `gap` is sent first when
    /// the update skips seqs). At most `limit` frames may wait in the queue.
    pub(crate) fn offer(
        &mut self,
        update: &Update,
        frame: &Bytes,
        gap: &Bytes,
        limit: usize,
        on_gap: impl FnOnce(u64),
    ) -> Offered {
        if update.seq <= self.last_seq {
            return Offered::Skipped;
        }
        let from = std::mem::replace(&mut self.last_seq, update.seq);
        let gapped = update.seq > from + 1;
        if gapped {
            on_gap(from);
        }
        if !self.wants(update) && !gapped {
            return Offered::Skipped;
        }
        if !self.blocked && !gapped {
            // The common case: the writer owns the socket and the queue is empty.
            match send(self.fd, frame) {
                Ok(n) if n == frame.len() => return Offered::Written,
                Ok(n) => return self.stalled(frame.slice(n..), true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.stalled(frame.clone(), false)
                }
                Err(_) => return self.fail(),
            }
        }
        if gapped {
            let offered = self.locked_push(gap, limit);
            if offered == Offered::Gone || !self.wants(update) {
                return offered;
            }
        }
        self.locked_push(frame, limit)
    }

    /// A `send` of the writer's took only part of a frame, or none: the rest
    /// waits in the queue (before the task's frames if part is on the wire)
    /// and the task takes the write side until it is written.
    fn stalled(&mut self, rest: Bytes, started: bool) -> Offered {
        let out = Arc::clone(&self.out);
        let mut s = out.lock();
        s.queued_bytes += rest.len();
        if started {
            s.queue.push_front(rest);
            s.head = 0;
        } else {
            s.queue.push_back(rest);
        }
        s.writer_owns = false;
        self.blocked = true;
        drop(s);
        out.task.wake();
        Offered::Queued
    }

    /// The writer's `send` failed: the client is gone.
    fn fail(&mut self) -> Offered {
        let out = Arc::clone(&self.out);
        let mut s = out.lock();
        s.failed = true;
        release(&mut s, self.last_seq);
        drop(s);
        out.task.wake();
        Offered::Gone
    }

    /// Delivers `frame` under the lock: written if the writer owns the socket
    /// and nothing waits, else queued (a shared handle, not a copy).
    fn locked_push(&mut self, frame: &Bytes, limit: usize) -> Offered {
        let out = Arc::clone(&self.out);
        let mut s = out.lock();
        if s.failed || s.detach_asked {
            // Answered at the writer's next look at its dirty list.
            return Offered::Skipped;
        }
        if s.writer_owns {
            if out.flush_locked(&mut s).is_err() {
                release(&mut s, self.last_seq);
                drop(s);
                out.task.wake();
                return Offered::Gone;
            }
            if s.queue.is_empty() {
                self.blocked = false;
                drop(s);
                return match send(self.fd, frame) {
                    Ok(n) if n == frame.len() => Offered::Written,
                    Ok(n) => self.stalled(frame.slice(n..), true),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.stalled(frame.clone(), false)
                    }
                    Err(_) => self.fail(),
                };
            }
            s.writer_owns = false;
            self.blocked = true;
            out.task.wake();
        }
        if s.queue.len() >= limit {
            s.slow = true;
            release(&mut s, self.last_seq);
            drop(s);
            out.task.wake();
            return Offered::Gone;
        }
        s.queued_bytes += frame.len();
        s.queue.push_back(frame.clone());
        Offered::Queued
    }

    /// The writer's receiver lagged: this connection missed updates and must resync.
    pub(crate) fn make_slow(self) {
        let mut s = self.out.lock();
        s.slow = true;
        release(&mut s, self.last_seq);
        drop(s);
        self.out.task.wake();
    }
}

/// The writer lets go of a connection: the task owns the socket again and
/// learns the last seq delivered.
fn release(s: &mut OutState, last_seq: u64) {
    s.last_seq = last_seq;
    s.shard = None;
    s.admitted = false;
    s.writer_owns = false;
    s.detach_asked = false;
}

/// The socket as tungstenite sees it: reads from the TCP stream (after the
/// bytes hyper read past the upgrade request), writes into the [`Outbox`].
pub(crate) struct SplitIo {
    out: Arc<Outbox>,
    /// Bytes the HTTP layer read after the upgrade request, read first.
    early: Bytes,
}

impl SplitIo {
    /// tungstenite's side of `out`; `early` are bytes already read from the socket.
    pub(crate) fn new(out: Arc<Outbox>, early: Bytes) -> SplitIo {
        // An empty `Bytes` cut from hyper's read buffer still holds the whole
        // buffer (8 KiB or more) for the connection's life: let go of it.
        let early = if early.is_empty() {
            Bytes::new()
        } else {
            early
        };
        SplitIo { out, early }
    }
}

impl AsyncRead for SplitIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early[..n]);
            self.early.advance(n);
            if self.early.is_empty() {
                self.early = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(self.out.tcp.poll_read_ready(cx))?;
            match self.out.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SplitIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // All or nothing, so the queue only ever holds whole frames between
        // tungstenite's and the writer's (tungstenite writes its buffer of
        // whole frames in one call).
        Poll::Ready(self.out.write_or_queue(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The queue is drained by its owner (see `Outbox::poll_room`).
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use stellar_insights_protocol::Topic;
    use tokio_tungstenite::WebSocketStream;
    use tungstenite::protocol::Role;
    use tungstenite::Message;

    /// A connected loopback pair: the server end with a small send buffer
    /// (so the socket fills after a few frames), and the client end.
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, (server, _)) =
            tokio::join!(client, async { listener.accept().await.unwrap() });
        let client = client.unwrap();
        socket2::SockRef::from(&server)
            .set_send_buffer_size(4096)
            .unwrap();
        socket2::SockRef::from(&client)
            .set_recv_buffer_size(4096)
            .unwrap();
        (server, client)
    }

    fn update(seq: u64) -> Update {
        let json = format!(
            r#"{{"type":"corridor_update","seq":{seq},"pad":"{}"}}"#,
            "x".repeat(300)
        );
        Update::new(seq, UpdateKind::Corridor, "k", json)
    }

    const GAP: &[u8] = br#"{"type":"resync_required","reason":"gap"}"#;

    fn offer(entry: &mut Entry, u: &Update, limit: usize) -> Offered {
        entry.offer(
            u,
            &text_frame(u.json.as_bytes()),
            &text_frame(GAP),
            limit,
            |_| {},
        )
    }

    /// An outbox attached at `seq` to a shard whose writer the test plays, and its entry.
    fn attached(tcp: TcpStream, seq: u64) -> (Arc<Shard>, Arc<Outbox>, Entry) {
        let shard = Shard::detached_for_tests();
        let out = Arc::new(Outbox::new(tcp, Subscriptions::everything()));
        out.attach(Arc::clone(&shard), seq);
        let entry = Entry::admit(Arc::clone(&out), 0).expect("admitted");
        (shard, out, entry)
    }

    /// The writer's look at its dirty list; the slots it must remove.
    fn look(shard: &Shard, entries: &mut [Entry]) -> Vec<usize> {
        shard
            .take_dirty()
            .iter()
            .filter_map(|out| Entry::look(out, entries))
            .collect()
    }

    async fn read_texts(client: TcpStream, n: usize) -> Vec<String> {
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let mut got = Vec::new();
        while got.len() < n {
            match client.next().await {
                Some(Ok(Message::Text(t))) => got.push(t.to_string()),
                other => panic!("after {} frames: {other:?}", got.len()),
            }
        }
        got
    }

    #[tokio::test]
    async fn writer_and_task_frames_arrive_whole_and_in_order_through_a_full_socket() {
        let (server, client) = pair().await;
        let (shard, out, entry) = attached(server, 0);
        let mut entries = vec![entry];
        let mut task = WebSocketStream::from_raw_socket(
            SplitIo::new(Arc::clone(&out), Bytes::new()),
            Role::Server,
            None,
        )
        .await;
        let mut expected = Vec::new();
        let mut queued = 0;
        for seq in 1..=600u64 {
            let u = update(seq);
            match offer(&mut entries[0], &u, usize::MAX) {
                Offered::Written => {}
                Offered::Queued => queued += 1,
                other => panic!("update {seq}: {other:?}"),
            }
            expected.push(u.json.to_string());
            if seq % 3 == 0 {
                let text = format!("task {seq}");
                task.send(Message::text(text.clone())).await.unwrap();
                expected.push(text);
                assert!(look(&shard, &mut entries).is_empty());
            }
        }
        assert!(
            queued > 0,
            "the socket never filled: the test shows nothing"
        );
        let reader = tokio::spawn(read_texts(client, 800));
        // The task writes what waits once the socket has room, then hands it back.
        std::future::poll_fn(|cx| out.poll_room(0, cx))
            .await
            .unwrap();
        assert_eq!(reader.await.unwrap(), expected);
        assert!(
            out.lock().writer_owns,
            "an empty queue goes back to the writer"
        );
        assert!(look(&shard, &mut entries).is_empty());
        assert!(!entries[0].blocked, "the writer writes directly again");
    }

    #[tokio::test]
    async fn a_client_over_the_queue_limit_is_made_slow_and_let_go() {
        let (server, _client) = pair().await;
        let (_shard, out, mut entry) = attached(server, 0);
        let limit = 8;
        let mut seq = 0;
        loop {
            seq += 1;
            assert!(seq < 10_000, "never made slow");
            if offer(&mut entry, &update(seq), limit) == Offered::Gone {
                break;
            }
        }
        assert_eq!(out.lock().queue.len(), limit, "exactly the limit waits");
        assert!(out.lock().shard.is_none(), "the writer let go");
        let trouble = std::future::poll_fn(|cx| match out.poll_trouble(cx) {
            Poll::Pending => panic!("the task is not told"),
            ready => ready,
        })
        .await;
        assert_eq!(trouble, Trouble::Slow);
        let last = std::future::poll_fn(|cx| out.poll_detached(cx)).await;
        assert_eq!(
            last, seq,
            "the task learns what the writer delivered or queued"
        );
    }

    #[tokio::test]
    async fn a_skipped_seq_sends_the_gap_notice_first_and_duplicates_are_skipped() {
        let (server, client) = pair().await;
        let (shard, out, entry) = attached(server, 4);
        let mut entries = vec![entry];
        assert_eq!(
            offer(&mut entries[0], &update(4), 8),
            Offered::Skipped,
            "already delivered"
        );
        assert_eq!(offer(&mut entries[0], &update(5), 8), Offered::Written);
        assert_eq!(offer(&mut entries[0], &update(7), 8), Offered::Written);
        out.ask_detach();
        assert!(
            std::future::poll_fn(|cx| Poll::Ready(out.poll_detached(cx)))
                .await
                .is_pending(),
            "detached only when the writer answers"
        );
        assert_eq!(
            look(&shard, &mut entries),
            vec![0],
            "the writer drops the entry"
        );
        assert_eq!(std::future::poll_fn(|cx| out.poll_detached(cx)).await, 7);
        let got = read_texts(client, 3).await;
        assert_eq!(got[0], update(5).json.to_string());
        assert_eq!(got[1].as_bytes(), GAP);
        assert_eq!(got[2], update(7).json.to_string());
    }

    #[tokio::test]
    async fn a_subscription_change_reaches_the_writer_at_its_next_look() {
        let (server, _client) = pair().await;
        let (shard, out, entry) = attached(server, 0);
        let mut entries = vec![entry];
        out.change_subs(|subs| subs.subscribe(&[Topic::Anchors]))
            .unwrap();
        assert_eq!(
            offer(&mut entries[0], &update(1), 8),
            Offered::Written,
            "not looked yet"
        );
        assert!(look(&shard, &mut entries).is_empty());
        assert_eq!(
            offer(&mut entries[0], &update(2), 8),
            Offered::Skipped,
            "filtered out"
        );
    }

    #[tokio::test]
    async fn a_detach_before_admission_is_answered_at_admission() {
        let (server, _client) = pair().await;
        let shard = Shard::detached_for_tests();
        let out = Arc::new(Outbox::new(server, Subscriptions::everything()));
        out.attach(Arc::clone(&shard), 9);
        out.ask_detach();
        assert!(
            look(&shard, &mut []).is_empty(),
            "not admitted: nothing to remove"
        );
        assert!(Entry::admit(Arc::clone(&out), 0).is_none());
        assert_eq!(std::future::poll_fn(|cx| out.poll_detached(cx)).await, 9);
    }

    #[test]
    fn an_entry_is_32_bytes_and_filters_as_the_subscription_does() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
        let update = |kind, key: &str| Update::new(1, kind, key, "{}".into());
        let mut subs = Subscriptions::everything();
        let cases = [
            vec![],
            vec![Topic::Anchors],
            vec![Topic::Corridor("c1".into())],
            vec![Topic::Snapshots, Topic::Anchor("a1".into())],
        ];
        for topics in cases {
            if !topics.is_empty() {
                subs.subscribe(&topics).unwrap();
            }
            let (kinds, keyed) = filter_of(&subs);
            for u in [
                update(UpdateKind::Anchor, "a1"),
                update(UpdateKind::Anchor, "a2"),
                update(UpdateKind::Corridor, "c1"),
                update(UpdateKind::Corridor, "c2"),
                update(UpdateKind::Snapshot, "s"),
            ] {
                let wants =
                    kinds & kind_bit(u.kind) != 0 || keyed.as_ref().is_some_and(|s| s.matches(&u));
                assert_eq!(wants, subs.matches(&u), "{topics:?} {:?} {}", u.kind, u.key);
            }
        }
    }

    #[test]
    fn text_frames_are_what_tungstenite_reads_for_every_length_class() {
        for len in [0usize, 125, 126, 65_535, 65_536] {
            let payload = "a".repeat(len);
            let frame = text_frame(payload.as_bytes());
            let header = match len {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            };
            assert_eq!(frame.len(), header + len, "{len}");
            let mut ws = tungstenite::WebSocket::from_raw_socket(
                std::io::Cursor::new(frame.to_vec()),
                Role::Client,
                None,
            );
            assert_eq!(ws.read().unwrap(), Message::text(payload), "{len}");
        }
    }
}
