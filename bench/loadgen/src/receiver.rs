//! The raw receive path (`--client raw`, the default): a few receiver threads,
//! each owning many client sockets through one `mio` poll, read every ready
//! socket into one 64 KiB buffer per thread and parse the frames in place
//! ([`crate::frames`]). The checks are the tungstenite path's (`client::on_text`);
//! what goes is a task, a waker and three `select!` branches per client, and
//! tungstenite's per-message allocation and zeroed 8 KiB buffer per socket.
//!
//! A client's task still connects and does the HTTP upgrade (async, with its
//! backoff); it then hands the socket, the bytes read past the upgrade and its
//! [`Report`] to a thread and awaits the session's end, to reconnect or return.

use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::client::{now_us, on_text, End, Report, Shared, Step};
use crate::frames::{FrameReader, Msg};

/// Read buffer of one receiver thread, shared by all its sockets, bytes. Value 64 KiB.
const SCRATCH: usize = 64 * 1024;
/// Longest a thread sleeps in its poll before it looks at the run's stop and final seq. Value 50 ms.
const TICK: Duration = Duration::from_millis(50);
/// Token of a thread's waker (new sessions waiting in its channel).
const WAKE: Token = Token(usize::MAX);

/// A socket whose upgrade is done, on its way to a receiver thread.
struct Handoff {
    stream: std::net::TcpStream,
    /// Bytes read past the HTTP response (often the `connected` frame).
    rest: Vec<u8>,
    report: Report,
    first: bool,
    done: oneshot::Sender<(End, Report)>,
}

struct Shard {
    tx: Option<mpsc::Sender<Handoff>>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

/// The receiver threads of one run. Dropping it ends them (sessions still
/// open are dropped; by then every client task has its report back).
pub struct Receivers {
    shards: Vec<Shard>,
    next: AtomicUsize,
}

impl Receivers {
    /// Starts `threads` receiver threads (at least one).
    pub fn start(shared: &Arc<Shared>, threads: usize) -> io::Result<Receivers> {
        let threads = threads.max(1);
        let mut shards = Vec::with_capacity(threads);
        for i in 0..threads {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
            let (tx, rx) = mpsc::channel();
            let shared = Arc::clone(shared);
            let thread = thread::Builder::new()
                .name(format!("receiver-{i}"))
                .spawn(move || Thread::new(poll, rx, shared).run())?;
            shards.push(Shard {
                tx: Some(tx),
                waker,
                thread: Some(thread),
            });
        }
        Ok(Receivers {
            shards,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs one session on a receiver thread: `stream` (non-blocking, upgraded),
    /// `rest` the bytes already read past the upgrade. Returns how it ended and the report.
    pub async fn session(
        &self,
        stream: std::net::TcpStream,
        rest: Vec<u8>,
        report: Report,
        first: bool,
    ) -> (End, Report) {
        let (done, ended) = oneshot::channel();
        let shard = &self.shards[self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len()];
        let handoff = Handoff {
            stream,
            rest,
            report,
            first,
            done,
        };
        let sent = shard.tx.as_ref().is_some_and(|tx| tx.send(handoff).is_ok());
        if sent && shard.waker.wake().is_ok() {
            if let Ok(ended) = ended.await {
                return ended;
            }
        }
        let mut report = Report::default();
        report.error("receiver thread gone: this client's report is lost".into());
        (End::Done, report)
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        for s in &mut self.shards {
            s.tx = None;
            let _ = s.waker.wake();
        }
        for s in &mut self.shards {
            if let Some(t) = s.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// One established connection on a receiver thread.
struct Session {
    stream: TcpStream,
    reader: FrameReader,
    report: Report,
    first: bool,
    /// Counted in [`Shared::connected`].
    online: bool,
    /// Frames (pongs) the socket did not take yet.
    out: Vec<u8>,
    done: oneshot::Sender<(End, Report)>,
}

/// `frame` masked with a random key and encoded by tungstenite: a client must
/// mask every frame it sends (RFC 6455 §5.3).
pub fn masked(mut frame: Frame) -> Vec<u8> {
    frame.header_mut().mask = Some(fastrand::u32(..).to_ne_bytes());
    let mut out = Vec::with_capacity(frame.len());
    frame
        .format(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

impl Session {
    /// Sends `bytes` now, or as soon as the socket takes them.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(bytes);
        self.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Handles the bytes of one read, received at `received` (µs since the epoch).
    /// `Some` when the session is over.
    fn bytes(
        &mut self,
        data: &[u8],
        received: u64,
        shared: &Shared,
        final_seq: Option<u64>,
    ) -> Option<End> {
        let mut end = None;
        let mut replies: Vec<Vec<u8>> = Vec::new();
        let (report, first, online) = (&mut self.report, self.first, &mut self.online);
        let fed = self.reader.feed(data, |msg| match msg {
            Msg::Text(text) => match on_text(shared, report, text, received, first, final_seq) {
                Step::Continue => ControlFlow::Continue(()),
                Step::Connected => {
                    if !*online {
                        *online = true;
                        shared.connected.fetch_add(1, Ordering::Relaxed);
                    }
                    ControlFlow::Continue(())
                }
                Step::Reply(text) => {
                    let frame = Frame::message(text.into_bytes(), OpCode::Data(Data::Text), true);
                    replies.push(masked(frame));
                    ControlFlow::Continue(())
                }
                Step::Done => {
                    end = Some(End::Done);
                    ControlFlow::Break(())
                }
            },
            Msg::Ping(payload) => {
                replies.push(masked(Frame::pong(payload.to_vec())));
                ControlFlow::Continue(())
            }
            // The tungstenite path ends the session on a close frame too.
            Msg::Close(_) => {
                end = Some(End::Lost);
                ControlFlow::Break(())
            }
            Msg::Binary(_) | Msg::Pong(_) => ControlFlow::Continue(()),
        });
        if let Err(e) = fed {
            self.report.error(format!("bad frame: {e}"));
            return Some(End::Lost);
        }
        for r in replies {
            if self.send(&r).is_err() {
                return Some(End::Lost);
            }
        }
        end
    }

    /// Reads what the socket holds. With `all`, until the socket says
    /// `WouldBlock` or closes; otherwise until a read comes back short of the
    /// buffer: the queue was then empty, and any byte that arrives later
    /// raises a new edge (the saved `read` is the `EAGAIN` one). A peer's
    /// close raises `read_closed`, which asks for `all`.
    fn read(
        &mut self,
        scratch: &mut [u8],
        all: bool,
        shared: &Shared,
        final_seq: Option<u64>,
    ) -> Option<End> {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return Some(End::Lost),
                Ok(n) => {
                    // One clock read per read: every frame in these bytes was already here.
                    let received = now_us();
                    if let Some(end) = self.bytes(&scratch[..n], received, shared, final_seq) {
                        return Some(end);
                    }
                    if n < scratch.len() && !all {
                        return None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Some(End::Lost),
            }
        }
    }
}

struct Thread {
    poll: Poll,
    rx: mpsc::Receiver<Handoff>,
    shared: Arc<Shared>,
    sessions: Vec<Option<Session>>,
    free: Vec<usize>,
    scratch: Vec<u8>,
}

impl Thread {
    fn new(poll: Poll, rx: mpsc::Receiver<Handoff>, shared: Arc<Shared>) -> Thread {
        Thread {
            poll,
            rx,
            shared,
            sessions: Vec::new(),
            free: Vec::new(),
            scratch: vec![0; SCRATCH],
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut final_seen = None;
        loop {
            if let Err(e) = self.poll.poll(&mut events, Some(TICK)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("loadgen: receiver poll failed: {e}");
                return;
            }
            let final_seq = *self.shared.final_seq.borrow();
            for ev in &events {
                if ev.token() == WAKE {
                    if !self.adopt(final_seq) {
                        return;
                    }
                    continue;
                }
                let i = ev.token().0;
                let Some(s) = self.sessions.get_mut(i).and_then(Option::as_mut) else {
                    continue;
                };
                let mut end = None;
                if ev.is_writable() && !s.out.is_empty() && s.flush().is_err() {
                    end = Some(End::Lost);
                }
                if end.is_none() && (ev.is_readable() || ev.is_read_closed() || ev.is_error()) {
                    let all = ev.is_read_closed() || ev.is_error();
                    end = s.read(&mut self.scratch, all, &self.shared, final_seq);
                }
                if let Some(end) = end {
                    self.end(i, end);
                }
            }
            if *self.shared.stop.borrow() {
                self.end_where(|_| true);
            } else if final_seq != final_seen {
                final_seen = final_seq;
                // Clients already at the final seq learn it here, as `final_seq.changed()` told them.
                self.end_where(|s| final_seq.is_some_and(|f| s.report.last_seq >= f));
            }
        }
    }

    /// Registers the sessions waiting in the channel; false once the run dropped its [`Receivers`].
    fn adopt(&mut self, final_seq: Option<u64>) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(h) => self.add(h, final_seq),
                Err(mpsc::TryRecvError::Empty) => return true,
                Err(mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn add(&mut self, h: Handoff, final_seq: Option<u64>) {
        let i = self.free.pop().unwrap_or_else(|| {
            self.sessions.push(None);
            self.sessions.len() - 1
        });
        let mut s = Session {
            stream: TcpStream::from_std(h.stream),
            reader: FrameReader::default(),
            report: h.report,
            first: h.first,
            online: false,
            out: Vec::new(),
            done: h.done,
        };
        let registered = self.poll.registry().register(
            &mut s.stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        );
        let end = match registered {
            Err(e) => {
                s.report.error(format!("cannot poll the socket: {e}"));
                Some(End::Lost)
            }
            Ok(()) => s
                .bytes(&h.rest, now_us(), &self.shared, final_seq)
                // Whatever came before the registration: read it all now.
                .or_else(|| s.read(&mut self.scratch, true, &self.shared, final_seq))
                // A reconnect after the final seq was set, already holding it (the
                // tungstenite path's `final_seq.changed()` fires at once there too).
                .or_else(|| {
                    final_seq
                        .is_some_and(|f| s.report.last_seq >= f)
                        .then_some(End::Done)
                }),
        };
        self.sessions[i] = Some(s);
        if let Some(end) = end {
            self.end(i, end);
        }
    }

    fn end_where(&mut self, cond: impl Fn(&Session) -> bool) {
        for i in 0..self.sessions.len() {
            if self.sessions[i].as_ref().is_some_and(&cond) {
                self.end(i, End::Done);
            }
        }
    }

    /// Ends session `i`: a close frame when the client is done, then the report back to its task.
    fn end(&mut self, i: usize, end: End) {
        let Some(mut s) = self.sessions[i].take() else {
            return;
        };
        self.free.push(i);
        if matches!(end, End::Done) {
            let _ = s.send(&masked(Frame::close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))));
        }
        let _ = self.poll.registry().deregister(&mut s.stream);
        if s.online {
            self.shared.connected.fetch_sub(1, Ordering::Relaxed);
        }
        let _ = s.done.send((end, s.report));
    }
}
