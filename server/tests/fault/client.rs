//! A native client built from the wasm client's own state machine
//! (`stellar_insights_client_core::machine`): the same decisions, with tokio sockets
//! and timers instead of the browser's. Records what it delivers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use stellar_insights_client_core::filter::Filter;
use stellar_insights_client_core::machine::{Action, Config, Event, Machine, Timer};
use stellar_insights_client_core::protocol::ResyncReason;
use stellar_insights_client_core::status::{ConnectionState, ErrorCode};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// What the client saw, for the test's verdict.
#[derive(Debug, Default)]
pub struct Record {
    /// Every delivered update: (seq, frame JSON), in delivery order.
    pub delivered: Vec<(u64, String)>,
    /// Every `resync_required`: (reason, last delivered seq before it).
    pub resyncs: Vec<(Option<ResyncReason>, Option<u64>)>,
    /// Client errors by code.
    pub errors: HashMap<String, u32>,
    /// Sockets opened, count.
    pub opens: u32,
}

/// A running client; `stop` ends it and returns its record.
pub struct Client {
    /// `seq` of the last delivered update (0 before any).
    pub last_seq: Arc<AtomicU64>,
    /// Whether the machine is in state `open`.
    pub open: Arc<AtomicBool>,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Record>,
}

enum SocketEvent {
    Opened(mpsc::UnboundedSender<Message>),
    Frame(String),
    Closed(u16),
}

impl Client {
    /// Starts the machine on `url` with unlimited reconnects, subscribed to everything.
    pub fn start(config: Config) -> Client {
        Client::start_filtered(config, Filter::default())
    }

    /// Starts the machine with one subscriber using `filter` (mirrored to
    /// server topics, as in the browser).
    pub fn start_filtered(mut config: Config, filter: Filter) -> Client {
        config.backoff.max_attempts = None;
        let (stop, stop_rx) = oneshot::channel();
        let last_seq = Arc::new(AtomicU64::new(0));
        let seen = last_seq.clone();
        let open = Arc::new(AtomicBool::new(false));
        let is_open = open.clone();
        // The machine is single-threaded (`Rc`, as in the browser): give it
        // its own thread and runtime.
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(
                    tokio::task::LocalSet::new()
                        .run_until(drive(config, filter, stop_rx, seen, is_open)),
                )
        });
        Client {
            last_seq,
            open,
            stop,
            thread,
        }
    }

    /// Stops the client and returns what it recorded.
    pub async fn stop(self) -> Record {
        let _ = self.stop.send(());
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap()
    }
}

async fn drive(
    config: Config,
    filter: Filter,
    mut stop: oneshot::Receiver<()>,
    last_seq: Arc<AtomicU64>,
    open: Arc<AtomicBool>,
) -> Record {
    let start = Instant::now();
    let now = move || start.elapsed().as_secs_f64() * 1000.0;
    let mut machine = Machine::new(config, Box::new(rand_unit));
    let mut record = Record::default();
    let mut timers: HashMap<Timer, Instant> = HashMap::new();
    let (events_tx, mut events) = mpsc::unbounded_channel::<(u64, SocketEvent)>();
    let mut generation = 0u64;
    let mut socket: Option<(JoinHandle<()>, Option<mpsc::UnboundedSender<Message>>)> = None;
    let mut pending = machine.subscribe(1, &filter).unwrap();
    pending.extend(machine.handle(now(), Event::Acquire));
    loop {
        for action in pending.drain(..) {
            match action {
                Action::Open(url) => {
                    generation += 1;
                    record.opens += 1;
                    let tx = events_tx.clone();
                    let gen = generation;
                    socket = Some((tokio::spawn(run_socket(url, gen, tx)), None));
                }
                Action::Send(text) => {
                    if let Some((_, Some(out))) = &socket {
                        let _ = out.send(Message::Text(text.into()));
                    }
                }
                Action::Close { .. } => {
                    if let Some((task, _)) = socket.take() {
                        task.abort();
                    }
                    generation += 1; // ignore whatever the old socket still reports
                }
                Action::SetTimer(t, ms) => {
                    timers.insert(t, Instant::now() + Duration::from_millis(ms));
                }
                Action::CancelTimer(t) => {
                    timers.remove(&t);
                }
                Action::Deliver(d) => {
                    if let Some(seq) = d.seq {
                        record.delivered.push((seq, d.text.to_string()));
                        last_seq.store(seq, Ordering::Relaxed);
                    }
                }
                Action::Resync(r) => {
                    let before = record.delivered.last().map(|(s, _)| *s);
                    record.resyncs.push((r.reason, before));
                }
                Action::Error(e) => {
                    *record.errors.entry(code_name(e.code)).or_default() += 1;
                }
                Action::Status(s) => {
                    open.store(s.state == ConnectionState::Open, Ordering::Relaxed)
                }
                // State mode (not used by this v1 client).
                Action::StateChanged => {}
            }
        }
        let next = timers
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(t, at)| (*t, *at));
        let sleep = tokio::time::sleep_until(
            next.map_or(Instant::now() + Duration::from_secs(3600), |(_, at)| at),
        );
        tokio::select! {
            _ = &mut stop => break,
            _ = sleep => {
                let (t, _) = next.unwrap();
                timers.remove(&t);
                pending = machine.handle(now(), Event::Timer(t));
            }
            Some((gen, ev)) = events.recv() => {
                if gen != generation {
                    continue;
                }
                pending = match ev {
                    SocketEvent::Opened(out) => {
                        if let Some((_, slot)) = &mut socket {
                            *slot = Some(out);
                        }
                        machine.handle(now(), Event::Opened)
                    }
                    SocketEvent::Frame(text) => machine.handle(now(), Event::Frame(text)),
                    SocketEvent::Closed(code) => {
                        socket = None;
                        machine.handle(now(), Event::Closed { code, reason: String::new() })
                    }
                };
            }
        }
    }
    if let Some((task, _)) = socket.take() {
        task.abort();
    }
    record
}

fn code_name(code: ErrorCode) -> String {
    format!("{code:?}")
}

async fn run_socket(url: String, gen: u64, events: mpsc::UnboundedSender<(u64, SocketEvent)>) {
    let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await else {
        let _ = events.send((gen, SocketEvent::Closed(1006)));
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
    if events.send((gen, SocketEvent::Opened(out_tx))).is_err() {
        return;
    }
    let code = loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let _ = events.send((gen, SocketEvent::Frame(t.to_string())));
                }
                Some(Ok(Message::Close(frame))) => break frame.map_or(1005, |f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break 1006,
            },
            Some(out) = out_rx.recv() => {
                if sink.send(out).await.is_err() {
                    break 1006;
                }
            }
        }
    };
    let _ = events.send((gen, SocketEvent::Closed(code)));
}

/// Uniform in [0, 1) from the clock and a counter; jitter needs no quality.
fn rand_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
