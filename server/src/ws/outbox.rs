//! The bytes going out on one WebSocket connection, in one ordered queue that
//! two parties write to: the connection's task (through tungstenite: pings,
//! answers, errors, state answers, the close frame) and a fan-out writer (the
//! live updates' frames, encoded once per update and written as the same bytes
//! to every connection; see [`super::fanout`]).
//!
//! A frame is written at once with a non-blocking `write` when nothing is queued
//! before it; what the socket does not take waits in the queue, whole frames in
//! order, and the connection's task writes it when the socket has room. Frames
//! never interleave: both parties append whole frames under the queue's lock.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;

use crate::filter::Subscriptions;

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
    /// The connection's task: woken when the queue stops being empty, when
    /// the writer finds the client too slow, or when a write failed.
    task: AtomicWaker,
}

/// What an [`Outbox`] holds under its lock.
pub(crate) struct OutState {
    /// Frames not yet written, whole, in order; `head` bytes of the first are written.
    queue: VecDeque<Bytes>,
    head: usize,
    /// Bytes in `queue` not yet written.
    queued_bytes: usize,
    /// The connection's topics (the writer filters with them; the task changes them).
    pub(crate) subs: Subscriptions,
    /// While attached to a fan-out writer: highest seq delivered or skipped by the filter.
    pub(crate) last_seq: u64,
    /// Whether a fan-out writer delivers live updates to this connection.
    attached: bool,
    /// The writer found the client more than `WS_SEND_QUEUE` frames behind and
    /// stopped feeding it (it is detached).
    slow: bool,
    /// A write failed: the client is gone.
    failed: bool,
}

/// What a fan-out writer's [`Outbox::offer`] did with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Written to the socket whole.
    Written,
    /// Queued (the socket was full or earlier frames wait); the task writes it later.
    Queued,
    /// Not for this connection: already delivered, or filtered out.
    Skipped,
    /// The connection left, is too slow, or its socket failed: drop it from the writer.
    Gone,
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
                attached: false,
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

    /// Hands live delivery to a fan-out writer; updates above `last_seq` are its to send.
    pub(crate) fn attach(&self, last_seq: u64) {
        let mut s = self.lock();
        s.attached = true;
        s.last_seq = last_seq;
    }

    /// Takes live delivery back from the writer: the highest seq it delivered
    /// (or skipped). The writer sends nothing more to this connection.
    pub(crate) fn detach(&self) -> u64 {
        let mut s = self.lock();
        s.attached = false;
        s.last_seq
    }

    /// Whether a fan-out writer still delivers to this connection.
    pub(crate) fn is_attached(&self) -> bool {
        self.lock().attached
    }

    /// The writer cannot deliver what this connection is owed (its receiver
    /// lagged): it must resync, like a client that fell behind.
    pub(crate) fn make_slow(&self) {
        let mut s = self.lock();
        s.slow = true;
        s.attached = false;
        drop(s);
        self.task.wake();
    }

    /// A fan-out writer offers `update` (its frame `frame`, and the gap
    /// notice `gap` to send first when the update skips seqs). At most `limit`
    /// frames wait in the queue; one more makes the client slow.
    pub(crate) fn offer(
        &self,
        update: &crate::hub::Update,
        frame: &Bytes,
        gap: &Bytes,
        limit: usize,
        on_gap: impl FnOnce(u64),
    ) -> Offered {
        let mut s = self.lock();
        if !s.attached {
            return Offered::Gone;
        }
        if update.seq <= s.last_seq {
            return Offered::Skipped;
        }
        let from = std::mem::replace(&mut s.last_seq, update.seq);
        if update.seq > from + 1 {
            on_gap(from);
            if self.push(&mut s, gap, limit) == Offered::Gone {
                return Offered::Gone;
            }
        }
        if !s.subs.matches(update) {
            return Offered::Skipped;
        }
        self.push(&mut s, frame, limit)
    }

    /// Writes `frame` now if nothing waits before it, else queues it (a shared
    /// handle, not a copy).
    fn push(&self, s: &mut OutState, frame: &Bytes, limit: usize) -> Offered {
        if !s.queue.is_empty() {
            if s.queue.len() >= limit {
                s.slow = true;
                s.attached = false;
                self.task.wake();
                return Offered::Gone;
            }
            s.queued_bytes += frame.len();
            s.queue.push_back(frame.clone());
            return Offered::Queued;
        }
        match self.tcp.try_write(frame) {
            Ok(n) if n == frame.len() => Offered::Written,
            Ok(n) => {
                s.queue.push_back(frame.clone());
                s.head = n;
                s.queued_bytes = frame.len() - n;
                self.task.wake();
                Offered::Queued
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                s.queue.push_back(frame.clone());
                s.queued_bytes = frame.len();
                self.task.wake();
                Offered::Queued
            }
            Err(_) => {
                s.failed = true;
                s.attached = false;
                self.task.wake();
                Offered::Gone
            }
        }
    }

    /// The task's write (a frame tungstenite formatted, or several): written
    /// now if nothing waits, else copied into the queue. Never blocks; the
    /// task bounds what waits with [`Outbox::poll_room`].
    fn write_or_queue(&self, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.lock();
        if s.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let mut written = 0;
        if s.queue.is_empty() {
            match self.tcp.try_write(bytes) {
                Ok(n) => written = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    s.failed = true;
                    s.attached = false;
                    return Err(e);
                }
            }
        }
        if written < bytes.len() {
            s.queue.push_back(Bytes::copy_from_slice(&bytes[written..]));
            s.queued_bytes += bytes.len() - written;
        }
        Ok(())
    }

    /// Writes queued bytes until the queue is empty or the socket is full.
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
                    s.attached = false;
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

    /// Writes what the queue holds until at most `high` bytes wait; pending
    /// (woken when the socket has room) until then.
    pub(crate) fn poll_room(&self, high: usize, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            {
                let mut s = self.lock();
                if s.failed {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                self.flush_locked(&mut s)?;
                if s.queued_bytes <= high {
                    return Poll::Ready(Ok(()));
                }
            }
            ready!(self.tcp.poll_write_ready(cx))?;
        }
    }

    /// The task's watch over the queue: writes what waits whenever the socket
    /// has room, and completes when something needs the task: the writer
    /// found the client too slow, or a write failed. Pending otherwise.
    pub(crate) fn poll_trouble(&self, cx: &mut Context<'_>) -> Poll<Trouble> {
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
                if self.flush_locked(&mut s).is_err() {
                    return Poll::Ready(Trouble::Failed);
                }
                if s.queue.is_empty() {
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

/// What [`Outbox::poll_trouble`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// More than `WS_SEND_QUEUE` frames waited: the writer stopped feeding the connection.
    Slow,
    /// A write failed: the client is gone.
    Failed,
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
        // The queue is the outbox's to drain (see `Outbox::poll_room`).
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Update, UpdateKind};
    use futures_util::{SinkExt, StreamExt};
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
        socket2::SockRef::from(&server)
            .set_send_buffer_size(4096)
            .unwrap();
        socket2::SockRef::from(client.as_ref().unwrap())
            .set_recv_buffer_size(4096)
            .unwrap();
        (server, client.unwrap())
    }

    fn update(seq: u64) -> Update {
        let json = format!(
            r#"{{"type":"corridor_update","seq":{seq},"pad":"{}"}}"#,
            "x".repeat(300)
        );
        Update::new(seq, UpdateKind::Corridor, "k", json)
    }

    fn offer(out: &Outbox, u: &Update, limit: usize) -> Offered {
        let gap = text_frame(br#"{"type":"resync_required","reason":"gap"}"#);
        out.offer(u, &text_frame(u.json.as_bytes()), &gap, limit, |_| {})
    }

    /// Drains the outbox as the connection's task does, until it is empty.
    async fn drain(out: &Outbox) {
        std::future::poll_fn(|cx| out.poll_room(0, cx))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn writer_and_task_frames_arrive_whole_and_in_order_through_a_full_socket() {
        let (server, client) = pair().await;
        let out = Arc::new(Outbox::new(server, Subscriptions::everything()));
        out.attach(0);
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
            match offer(&out, &u, usize::MAX) {
                Offered::Written => {}
                Offered::Queued => queued += 1,
                other => panic!("update {seq}: {other:?}"),
            }
            expected.push(u.json.to_string());
            if seq % 3 == 0 {
                let text = format!("task {seq}");
                task.send(Message::text(text.clone())).await.unwrap();
                expected.push(text);
            }
        }
        assert!(
            queued > 0,
            "the socket never filled: the test shows nothing"
        );
        let reader = tokio::spawn(async move {
            let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            let mut got = Vec::new();
            while got.len() < 800 {
                match client.next().await {
                    Some(Ok(Message::Text(t))) => got.push(t.to_string()),
                    other => panic!("after {} frames: {other:?}", got.len()),
                }
            }
            got
        });
        drain(&out).await;
        assert_eq!(reader.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn a_client_over_the_queue_limit_is_made_slow_and_detached() {
        let (server, _client) = pair().await;
        let out = Outbox::new(server, Subscriptions::everything());
        out.attach(0);
        let limit = 8;
        let mut seq = 0;
        let gone_at = loop {
            seq += 1;
            assert!(seq < 10_000, "never made slow");
            if offer(&out, &update(seq), limit) == Offered::Gone {
                break seq;
            }
        };
        assert!(!out.is_attached(), "the writer lets go of a slow client");
        assert_eq!(
            offer(&out, &update(gone_at + 1), limit),
            Offered::Gone,
            "nothing more is queued"
        );
        assert_eq!(out.lock().queue.len(), limit, "exactly the limit waits");
        let trouble = std::future::poll_fn(|cx| match out.poll_trouble(cx) {
            Poll::Pending => panic!("the task is not told"),
            ready => ready,
        })
        .await;
        assert_eq!(trouble, Trouble::Slow);
    }

    #[tokio::test]
    async fn a_skipped_seq_sends_the_gap_notice_first_and_duplicates_are_skipped() {
        let (server, client) = pair().await;
        let out = Outbox::new(server, Subscriptions::everything());
        out.attach(4);
        assert_eq!(
            offer(&out, &update(4), 8),
            Offered::Skipped,
            "already delivered"
        );
        assert_eq!(offer(&out, &update(5), 8), Offered::Written);
        assert_eq!(offer(&out, &update(7), 8), Offered::Written);
        assert_eq!(out.detach(), 7);
        assert_eq!(offer(&out, &update(8), 8), Offered::Gone, "detached");
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            match client.next().await {
                Some(Ok(Message::Text(t))) => got.push(t.to_string()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got[0], update(5).json.to_string());
        assert_eq!(got[1], r#"{"type":"resync_required","reason":"gap"}"#);
        assert_eq!(got[2], update(7).json.to_string());
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
