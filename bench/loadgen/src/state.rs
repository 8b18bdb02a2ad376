//! `state` mode (issue 14, point 5): protocol v1 frames against state + field
//! deltas, side by side in one run, on one server.
//!
//! 1. Bytes on the wire (every byte the client's socket reads, WebSocket
//!    framing and heartbeats included; no compression on either side) for one
//!    minute of dashboard use, 12 corridors and 8 anchors each changing once a
//!    second, and per update in a stream of 2 000 updates/s. A v1 dashboard opens
//!    with `GET /api/corridors` + `GET /api/anchors` (their HTTP response bytes
//!    are counted) and subscribes; a state dashboard subscribes with
//!    `"state": true`. Both clients are connected at once and get the same writes.
//! 2. A throttled client: each client behind its own fault proxy
//!    (`server/tests/fault/proxy.rs`) at 20 kB/s while 200 updates/s stream
//!    (default `WS_SEND_QUEUE`). The v1 client is cut off (close 4001), reloads
//!    through REST and resumes with `?since=`, as the dashboard does; the state
//!    client stays connected. When the throttle ends (and the writes stop), the
//!    time until each client's table equals the database.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::harness::Options;
use crate::server::{Server, Storage};

#[path = "../../../server/tests/fault/proxy.rs"]
#[allow(dead_code)]
mod proxy;
#[path = "../../../server/tests/common/view.rs"]
mod view;

use view::{rest_table, View};

const V1_SUBSCRIBE: &str = r#"{"type":"subscribe","topics":["corridors","anchors","snapshots"]}"#;
const STATE_SUBSCRIBE: &str =
    r#"{"type":"subscribe","topics":["corridors","anchors","snapshots"],"state":true}"#;
/// Longest wait for a client to catch up with the last write. Value 60 s.
const CATCH_UP: Duration = Duration::from_secs(60);

/// A TCP stream that counts the bytes read from it.
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

type Ws = WebSocketStream<Counted>;

/// A client with a byte counter and a view of the table.
struct Client {
    ws: Ws,
    bytes: Arc<AtomicU64>,
    view: View,
    /// Bytes of REST loads (v1 page opens and reloads).
    rest_bytes: u64,
    /// Close 4001 (`slow_consumer`) cut-offs.
    cutoffs: u64,
}

async fn connect(addr: SocketAddr, query: &str) -> Result<(Ws, Arc<AtomicU64>), String> {
    let bytes = Arc::new(AtomicU64::new(0));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let stream = Counted {
        inner: tcp,
        read: bytes.clone(),
    };
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws{query}"), stream)
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    Ok((ws, bytes))
}

/// `GET path` over a fresh connection; returns (bytes read, JSON body).
async fn raw_get(addr: SocketAddr, path: &str) -> Result<(u64, Value), String> {
    let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body = serde_json::from_str(body).map_err(|e| format!("{path}: {e}"))?;
    Ok((out.len() as u64, body))
}

/// The page-open REST load of a v1 dashboard: corridors and anchors.
async fn rest_load(addr: SocketAddr) -> Result<(u64, Value), String> {
    let (a, corridors) = raw_get(addr, "/api/corridors").await?;
    let (b, anchors) = raw_get(addr, "/api/anchors").await?;
    Ok((a + b, rest_table(&corridors, &anchors)))
}

/// Fills a v1 view from a REST table (version 0: any update applies).
fn load_view(view: &mut View, table: &Value) {
    for (k, v) in table["corridors"].as_object().into_iter().flatten() {
        let mut r = v.clone();
        r["corridor_key"] = json!(k);
        view.corridors.insert(k.clone(), (r, 0));
    }
    for (k, v) in table["anchors"].as_object().into_iter().flatten() {
        let mut r = v.clone();
        r["anchor_id"] = json!(k);
        view.anchors.insert(k.clone(), (r, 0));
    }
}

impl Client {
    async fn v1(addr: SocketAddr) -> Result<Client, String> {
        let (rest_bytes, table) = rest_load(addr).await?;
        let (mut ws, bytes) = connect(addr, "").await?;
        ws.send(Message::Text(V1_SUBSCRIBE.into()))
            .await
            .map_err(|e| e.to_string())?;
        let mut view = View::default();
        load_view(&mut view, &table);
        let mut c = Client {
            ws,
            bytes,
            view,
            rest_bytes,
            cutoffs: 0,
        };
        c.next().await?; // connected
        Ok(c)
    }

    async fn state(addr: SocketAddr) -> Result<Client, String> {
        let (mut ws, bytes) = connect(addr, "").await?;
        ws.send(Message::Text(STATE_SUBSCRIBE.into()))
            .await
            .map_err(|e| e.to_string())?;
        let mut c = Client {
            ws,
            bytes,
            view: View::default(),
            rest_bytes: 0,
            cutoffs: 0,
        };
        while c.view.answers == 0 {
            c.next().await?;
        }
        Ok(c)
    }

    /// Reads one frame into the view; `Ok(false)` on a close 4001 (slow consumer).
    async fn next(&mut self) -> Result<bool, String> {
        loop {
            match tokio::time::timeout(CATCH_UP, self.ws.next()).await {
                Err(_) => return Err("no frame for 60 s".into()),
                Ok(None) => return Err("connection ended".into()),
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(Some(Ok(Message::Text(t)))) => {
                    let f: Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
                    if f["type"] == "resync_required" || f["type"] == "error" {
                        continue; // the close follows
                    }
                    self.view.apply(&f);
                    return Ok(true);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let code = frame.map(|f| u16::from(f.code));
                    return match code {
                        Some(4001) => Ok(false),
                        other => Err(format!("closed with {other:?}")),
                    };
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Reads until the view has seen `seq`. A v1 client cut off with 4001
    /// reloads through REST and resumes with `?since=` (at `addr`), as the dashboard does.
    async fn catch_up(&mut self, seq: u64, addr: SocketAddr) -> Result<(), String> {
        while self.view.max_seq < seq {
            if !self.next().await? {
                self.cutoffs += 1;
                self.reload(addr).await?;
            }
        }
        Ok(())
    }

    async fn reload(&mut self, addr: SocketAddr) -> Result<(), String> {
        let (rest_bytes, table) = rest_load(addr).await?;
        self.rest_bytes += rest_bytes;
        load_view(&mut self.view, &table);
        let since = self.view.max_seq;
        let (mut ws, bytes) = connect(addr, &format!("?since={since}")).await?;
        ws.send(Message::Text(V1_SUBSCRIBE.into()))
            .await
            .map_err(|e| e.to_string())?;
        // Bytes of the new socket add to the old one's.
        bytes.fetch_add(self.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
        self.ws = ws;
        self.bytes = bytes;
        Ok(())
    }

    fn read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Creates 12 corridors and 8 anchors; returns their REST paths for metric writes.
async fn dashboard(http: &reqwest::Client, base: &str) -> Result<Vec<String>, String> {
    let account = |b: u8| {
        stellar_strkey::ed25519::PublicKey([b; 32])
            .to_string()
            .as_str()
            .to_owned()
    };
    // POSTs `body` to `/api/<kind>` and returns the new record's metrics path.
    let create = |kind: &'static str, body: Value| {
        let http = http.clone();
        async move {
            let r = json_of(http.post(format!("{base}/api/{kind}")).json(&body)).await?;
            let id = r["id"]
                .as_str()
                .ok_or_else(|| format!("{kind}: no id in {r}"))?;
            Ok::<_, String>(format!("{base}/api/{kind}/{id}/metrics"))
        }
    };
    let mut paths = Vec::new();
    for n in 0..12u8 {
        let body = json!({"source_asset_code": format!("C{n:02}"), "source_asset_issuer": account(n + 1),
                          "dest_asset_code": "EURC", "dest_asset_issuer": account(n + 101)});
        paths.push(create("corridors", body).await?);
    }
    for n in 0..8u8 {
        let body = json!({"name": format!("Anchor {n}"), "stellar_account": account(n + 50)});
        paths.push(create("anchors", body).await?);
    }
    Ok(paths)
}

/// One realistic metric change of record `path` (the `i`-th write): counts grow,
/// rates and volume move.
fn change(path: &str, i: u64) -> Value {
    let total = 1000 + i * 7;
    if path.contains("/anchors/") {
        let ok = total - (i * 37) % 120;
        json!({"total_transactions": total, "successful_transactions": ok, "failed_transactions": total - ok})
    } else {
        json!({"total_transactions": total, "successful_transactions": total - (i * 13) % 90,
               "volume_usd": (i * 7919 % 100_000) as f64 * 10.25})
    }
}

/// Writes round-robin over `paths` at `rate` writes/s (spread over `tasks`
/// concurrent writers) until `stop`; returns the writes done.
async fn write(paths: &[String], rate: u32, tasks: u32, stop: Arc<AtomicBool>) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (paths, stop, done) = (paths.to_vec(), stop.clone(), done.clone());
        let period = Duration::from_secs_f64(f64::from(tasks) / f64::from(rate));
        handles.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut i = u64::from(t);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let path = &paths[i as usize % paths.len()];
                if let Ok(r) = http.put(path).json(&change(path, i)).send().await {
                    if r.status().is_success() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += u64::from(tasks);
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    done.load(Ordering::Relaxed)
}

/// Writes for `secs` at `rate`; returns (writes, seconds taken).
async fn write_for(paths: &[String], rate: u32, secs: f64) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = (rate / 100).clamp(1, 32);
    let writer = tokio::spawn({
        let (paths, stop) = (paths.to_vec(), stop.clone());
        async move { write(&paths, rate, tasks, stop).await }
    });
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let n = writer.await.unwrap_or(0);
    (n, start.elapsed().as_secs_f64())
}

/// Sends `request` and decodes its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let r = request.send().await.map_err(|e| e.to_string())?;
    r.json().await.map_err(|e| e.to_string())
}

async fn head(http: &reqwest::Client, base: &str) -> Result<u64, String> {
    let h = json_of(http.get(format!("{base}/health"))).await?;
    h["seq"].as_u64().ok_or_else(|| "no seq in /health".into())
}

/// Both clients read concurrently (a client that is not read would fall behind) until `seq`.
async fn drain(v1: &mut Client, st: &mut Client, seq: u64, addr: SocketAddr) -> Result<(), String> {
    let (a, b) = tokio::join!(v1.catch_up(seq, addr), st.catch_up(seq, addr));
    a.and(b)
}

/// Wire bytes of the two modes over one phase.
#[derive(Debug, Clone, Copy)]
pub struct Bytes {
    /// Updates written in the phase.
    pub updates: u64,
    /// Seconds the phase's writes took.
    pub secs: f64,
    /// v1: page-open REST bytes, then WebSocket bytes of the phase.
    pub v1_open: u64,
    pub v1_live: u64,
    /// State: connect + state answer bytes, then WebSocket bytes of the phase.
    pub state_open: u64,
    pub state_live: u64,
}

/// Result of the throttled-client run.
#[derive(Debug, Clone)]
pub struct Throttled {
    pub updates: u64,
    pub secs: f64,
    pub v1_cutoffs: u64,
    pub v1_reload_bytes: u64,
    pub state_cutoffs: u64,
    pub conflations: u64,
    pub conflated_frames: usize,
    /// Throttle end → table equal to the database.
    pub v1_converged: Duration,
    pub state_converged: Duration,
}

/// Everything the mode measured.
pub struct Outcome {
    pub minute: Bytes,
    pub stream: Bytes,
    pub throttled: Throttled,
}

async fn phase(addr: SocketAddr, paths: &[String], rate: u32, secs: f64) -> Result<Bytes, String> {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let mut v1 = Client::v1(addr).await?;
    let mut st = Client::state(addr).await?;
    let (v1_open, state_open) = (v1.rest_bytes + v1.read(), st.read());
    let (v1_start, st_start) = (v1.read(), st.read());
    // Readers run while the writer writes, as on a dashboard.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = tokio::time::timeout(Duration::from_millis(50), async {
                    tokio::select! { r = v1.next() => r, r = st.next() => r }
                })
                .await;
            }
            (v1, st)
        })
    };
    let (updates, took) = write_for(paths, rate, secs).await;
    stop.store(true, Ordering::Relaxed);
    let (mut v1, mut st) = reader.await.map_err(|e| e.to_string())?;
    let last = head(&http, &base).await?;
    drain(&mut v1, &mut st, last, addr).await?;
    let (_, table) = rest_load(addr).await?;
    if v1.view.table() != table || st.view.table() != table {
        return Err("a client's table differs from the database after the phase".into());
    }
    Ok(Bytes {
        updates,
        secs: took,
        v1_open,
        v1_live: v1.read() - v1_start,
        state_open,
        state_live: st.read() - st_start,
    })
}

async fn throttled(addr: SocketAddr, paths: &[String], secs: f64) -> Result<Throttled, String> {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let (p1, p2) = (
        proxy::Proxy::start(addr).await,
        proxy::Proxy::start(addr).await,
    );
    let mut v1 = Client::v1(p1.addr).await?;
    let page_open = v1.rest_bytes;
    let mut st = Client::state(p2.addr).await?;
    p1.set(proxy::Mode::Throttle(20_000));
    p2.set(proxy::Mode::Throttle(20_000));
    let conflations_before = metric(&http, &base, "stellar_ws_conflations_total").await;
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let (a1, a2) = (p1.addr, p2.addr);
        tokio::spawn(async move {
            let mut state_cut = 0;
            while !stop.load(Ordering::Relaxed) {
                let step = tokio::time::timeout(Duration::from_millis(50), async {
                    tokio::select! { r = v1.next() => (1, r), r = st.next() => (2, r) }
                })
                .await;
                match step {
                    Ok((1, Ok(false))) => {
                        v1.cutoffs += 1;
                        let _ = v1.reload(a1).await;
                    }
                    Ok((_, Ok(false))) => {
                        state_cut += 1;
                        let _ = st.reload(a2).await;
                    }
                    _ => {}
                }
            }
            (v1, st, state_cut)
        })
    };
    let (updates, took) = write_for(paths, 200, secs).await;
    stop.store(true, Ordering::Relaxed);
    let (mut v1, mut st, state_cutoffs) = reader.await.map_err(|e| e.to_string())?;
    let last = head(&http, &base).await?;
    let (_, table) = rest_load(addr).await?;
    p1.set(proxy::Mode::Pass);
    p2.set(proxy::Mode::Pass);
    let released = Instant::now();
    let (a, b) = tokio::join!(
        async {
            v1.catch_up(last, p1.addr).await?;
            Ok::<_, String>(released.elapsed())
        },
        async {
            st.catch_up(last, p2.addr).await?;
            Ok::<_, String>(released.elapsed())
        }
    );
    let (v1_converged, state_converged) = (a?, b?);
    if v1.view.table() != table || st.view.table() != table {
        return Err("throttled: a client's table differs from the database".into());
    }
    let conflations =
        metric(&http, &base, "stellar_ws_conflations_total").await - conflations_before;
    Ok(Throttled {
        updates,
        secs: took,
        v1_cutoffs: v1.cutoffs,
        v1_reload_bytes: v1.rest_bytes - page_open,
        state_cutoffs,
        conflations,
        conflated_frames: st.view.conflated,
        v1_converged,
        state_converged,
    })
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> u64 {
    let Ok(r) = http.get(format!("{base}/metrics")).send().await else {
        return 0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0, |v| v as u64)
}

/// Runs the three measurements on one server (SQLite).
pub async fn measure(
    opts: &Options,
    minute_secs: f64,
    stream_secs: f64,
    throttle_secs: f64,
) -> Result<Outcome, String> {
    let dir = std::env::temp_dir().join(format!("stellar-loadgen-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?;
    let mut server = Server::start(&opts.server_bin, &dir, &Storage::Sqlite, addr, 64).await?;
    let http = reqwest::Client::new();
    let paths = dashboard(&http, &format!("http://{addr}")).await?;
    eprintln!("state: dashboard minute, 20 changes/s for {minute_secs} s");
    let minute = phase(addr, &paths, 20, minute_secs).await?;
    eprintln!("state: 2000 updates/s for {stream_secs} s");
    let stream = phase(addr, &paths, 2000, stream_secs).await?;
    // The throttled run uses the server's default send queue (1024), not the load generator's,
    // and a bounded kernel send buffer (autotuning would hide megabytes of backlog per client).
    server
        .restart_with(&[
            ("WS_SEND_QUEUE", "1024"),
            ("TCP_SEND_BUFFER_BYTES", "16384"),
        ])
        .await?;
    eprintln!("state: throttled clients (20 kB/s) under 200 updates/s for {throttle_secs} s");
    let throttled = throttled(addr, &paths, throttle_secs).await?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Outcome {
        minute,
        stream,
        throttled,
    })
}

fn kb(b: u64) -> String {
    format!("{:.1} kB", b as f64 / 1000.0)
}

/// The RESULTS.md section.
pub fn report(o: &Outcome) -> String {
    let m = &o.minute;
    let per_min = |open: u64, live: u64| open as f64 + live as f64 * 60.0 / m.secs;
    let (v1_min, st_min) = (
        per_min(m.v1_open, m.v1_live),
        per_min(m.state_open, m.state_live),
    );
    let s = &o.stream;
    let t = &o.throttled;
    let per = |b: u64, n: u64| format!("{:.1} B", b as f64 / n.max(1) as f64);
    let rows = vec![
        vec![
            "minute of dashboard use (12 corridors + 8 anchors, 1 change/s each)".into(),
            format!(
                "{} + {} = {}",
                kb(m.v1_open),
                kb((m.v1_live as f64 * 60.0 / m.secs) as u64),
                kb(v1_min as u64)
            ),
            format!(
                "{} + {} = {}",
                kb(m.state_open),
                kb((m.state_live as f64 * 60.0 / m.secs) as u64),
                kb(st_min as u64)
            ),
            format!("{:.1} %", 100.0 * st_min / v1_min),
        ],
        vec![
            format!(
                "per update, dashboard ({} updates in {:.1} s)",
                m.updates, m.secs
            ),
            per(m.v1_live, m.updates),
            per(m.state_live, m.updates),
            format!(
                "{:.1} %",
                100.0 * m.state_live as f64 / m.v1_live.max(1) as f64
            ),
        ],
        vec![
            format!(
                "per update, stream ({} updates in {:.1} s = {:.0}/s)",
                s.updates,
                s.secs,
                s.updates as f64 / s.secs
            ),
            per(s.v1_live, s.updates),
            per(s.state_live, s.updates),
            format!(
                "{:.1} %",
                100.0 * s.state_live as f64 / s.v1_live.max(1) as f64
            ),
        ],
    ];
    let bytes = crate::results::table(
        &[
            "",
            "v1 frames (REST load + updates)",
            "state + deltas (answer + updates)",
            "state / v1",
        ],
        &rows,
    );
    let throttle = crate::results::table(
        &["20 kB/s client, 200 updates/s", "v1", "state + deltas"],
        &[
            vec![
                "cut off (close 4001)".into(),
                t.v1_cutoffs.to_string(),
                t.state_cutoffs.to_string(),
            ],
            vec![
                "REST reload bytes after cut-offs".into(),
                kb(t.v1_reload_bytes),
                "0".into(),
            ],
            vec![
                "conflated catch-ups / flagged frames".into(),
                "-".into(),
                format!("{} / {}", t.conflations, t.conflated_frames),
            ],
            vec![
                "throttle end → table = database".into(),
                format!("{:.1} ms", t.v1_converged.as_secs_f64() * 1000.0),
                format!("{:.1} ms", t.state_converged.as_secs_f64() * 1000.0),
            ],
        ],
    );
    format!(
        "Bytes read by the client's socket (WebSocket framing and heartbeats included, no compression), \
         both clients connected to one server process (`--server-bin`, SQLite) at once. v1 opens with `GET /api/corridors` + \
         `GET /api/anchors` (HTTP response bytes) and subscribes; state subscribes with `\"state\": true` \
         (its open cost is the upgrade, `connected` and the state answer).\n\n{bytes}\n\n\
         Throttled run: each client behind its own fault proxy (`server/tests/fault/proxy.rs`, 20 kB/s \
         server → client), {} writes in {:.1} s, default `WS_SEND_QUEUE` (1024), `TCP_SEND_BUFFER_BYTES=16384`. On close 4001 the v1 client \
         reloads through REST and resumes with `?since=`. The writes stop when the throttle ends; convergence = \
         until the client's table equals `GET /api/corridors` + `/api/anchors`.\n\n{throttle}\n",
        t.updates, t.secs
    )
}
