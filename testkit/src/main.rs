//! Control server for the wasm client's browser tests (loopback only).
//!
//! Runs the real `stellar-insights-server` binary as a child process (1 s
//! heartbeat, replay log of 10 updates, SQLite database in a given directory) and lets the tests in the
//! browser stop, start and restart it over HTTP. It also serves WebSocket
//! fixtures no real server would produce: a silent peer and a misbehaving one.
//! With `--proxy-port` it also runs the TCP fault proxy of the server's fault
//! tests in front of the server (cut, black hole, pass) and can SIGKILL it.
//!
//! Usage: `stellar-insights-testkit --server-bin PATH --server-port N
//! --control-port N --data-dir DIR [--proxy-port N]`. SIGTERM or SIGINT stop
//! the child and exit.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tower_http::cors::CorsLayer;

// One fault proxy for the native and the browser fault tests.
#[allow(dead_code)]
#[path = "../../server/tests/fault/proxy.rs"]
mod proxy;

/// Command-line settings.
#[derive(Debug, Clone)]
struct Args {
    server_bin: PathBuf,
    server_port: u16,
    control_port: u16,
    data_dir: PathBuf,
    proxy_port: Option<u16>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut bin, mut port, mut control, mut dir, mut proxy) = (None, None, None, None, None);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--server-bin" => bin = Some(PathBuf::from(value)),
            "--server-port" => port = Some(value.parse().map_err(|_| "bad --server-port")?),
            "--control-port" => control = Some(value.parse().map_err(|_| "bad --control-port")?),
            "--data-dir" => dir = Some(PathBuf::from(value)),
            "--proxy-port" => proxy = Some(value.parse().map_err(|_| "bad --proxy-port")?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        server_bin: bin.ok_or("--server-bin is required")?,
        server_port: port.ok_or("--server-port is required")?,
        control_port: control.ok_or("--control-port is required")?,
        data_dir: dir.ok_or("--data-dir is required")?,
        proxy_port: proxy,
    })
}

struct Kit {
    args: Args,
    child: Mutex<Option<Child>>,
    proxy: Option<proxy::Proxy>,
}

impl Kit {
    async fn start(&self) -> Result<(), String> {
        let mut child = self.child.lock().await;
        if let Some(c) = child.as_mut() {
            if c.try_wait().map_err(|e| e.to_string())?.is_none() {
                return Ok(()); // already running
            }
        }
        let db = self.args.data_dir.join("server.db");
        let spawned = Command::new(&self.args.server_bin)
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", self.args.server_port.to_string())
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("WS_PING_INTERVAL_SECS", "1")
            // Small, so a test can outrun the replay log and get `resync_required`.
            .env("UPDATE_LOG_RETENTION", "10")
            .env("RUST_LOG", "warn")
            .current_dir(&self.args.data_dir)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.args.server_bin.display()))?;
        // The script's cleanup reads this in case the kit itself is killed.
        if let Some(pid) = spawned.id() {
            let _ = std::fs::write(self.args.data_dir.join("server.pid"), pid.to_string());
        }
        *child = Some(spawned);
        // Listening means ready: the server binds only after its store is open.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.args.server_port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err("server did not start listening within 5 s".into())
    }

    /// SIGKILL: no close frames, no shutdown; the kernel resets the sockets.
    async fn kill(&self) -> Result<(), String> {
        let Some(mut child) = self.child.lock().await.take() else {
            return Ok(());
        };
        child.kill().await.map_err(|e| e.to_string())
    }

    async fn stop(&self) -> Result<(), String> {
        let Some(mut child) = self.child.lock().await.take() else {
            return Ok(());
        };
        // SIGTERM first so the server closes its sockets with 1001 like a real
        // deployment; SIGKILL only if it does not exit in time.
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(8), child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => child.kill().await.map_err(|e| e.to_string()),
        }
    }
}

type Shared = Arc<Kit>;

async fn kill_restart(State(kit): State<Shared>) -> (StatusCode, String) {
    let killed = kit.kill().await;
    reply(killed.and(kit.start().await))
}

fn set_proxy(kit: &Kit, f: impl FnOnce(&proxy::Proxy)) -> (StatusCode, String) {
    match &kit.proxy {
        Some(p) => {
            f(p);
            (StatusCode::OK, "ok".into())
        }
        None => (StatusCode::NOT_FOUND, "no --proxy-port given".into()),
    }
}

async fn proxy_cut(State(kit): State<Shared>) -> (StatusCode, String) {
    set_proxy(&kit, |p| p.cut())
}

async fn proxy_black_hole(State(kit): State<Shared>) -> (StatusCode, String) {
    set_proxy(&kit, |p| p.set(proxy::Mode::BlackHole))
}

async fn proxy_pass(State(kit): State<Shared>) -> (StatusCode, String) {
    set_proxy(&kit, |p| p.set(proxy::Mode::Pass))
}

fn reply(result: Result<(), String>) -> (StatusCode, String) {
    match result {
        Ok(()) => (StatusCode::OK, "ok".into()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn stop(State(kit): State<Shared>) -> (StatusCode, String) {
    reply(kit.stop().await)
}

async fn start(State(kit): State<Shared>) -> (StatusCode, String) {
    reply(kit.start().await)
}

async fn restart(State(kit): State<Shared>) -> (StatusCode, String) {
    let stopped = kit.stop().await;
    reply(stopped.and(kit.start().await))
}

/// Seconds since the Unix epoch: the `ping.timestamp` unit of the seed
/// protocol, which the server follows too.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Accepts, announces a 200 ms heartbeat, then never sends again.
async fn silent(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket: WebSocket| async move {
        let hello = r#"{"type":"connected","connection_id":"silent","protocol":1,"heartbeat_ms":200,"seq":0}"#;
        if socket.send(Message::Text(hello.into())).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = socket.recv().await {}
    })
}

/// Sends a malformed frame, an unknown type, a binary frame, twice the
/// corridor frame of the backend the dashboard replaces (no `corridor_id` or
/// metrics, asset fields instead: delivered, one schema warning) and a valid
/// update, then keeps the connection alive with pings until the client leaves.
async fn misbehaving(ws: WebSocketUpgrade) -> Response {
    const LEGACY_CORRIDOR: &str = r#"{"type":"corridor_update","corridor_key":"USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN->EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2","asset_a_code":"USDC","asset_a_issuer":"GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN","asset_b_code":"EURC","asset_b_issuer":"GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2"}"#;
    ws.on_upgrade(|socket: WebSocket| async move {
        let frames = [
            Message::Text(r#"{"type":"connected","connection_id":"misbehaving","protocol":1,"heartbeat_ms":1000,"seq":0}"#.into()),
            Message::Text("{not json".into()),
            Message::Text(r#"{"type":"market_update","price":1}"#.into()),
            Message::Binary(vec![0x7b, 0x7d].into()),
            Message::Text(LEGACY_CORRIDOR.into()),
            Message::Text(LEGACY_CORRIDOR.into()),
            Message::Text(r#"{"type":"corridor_update","corridor_id":"c1","corridor_key":"MAL:GA->FORMED:GB","success_rate":99.5,"volume_usd":10.0,"total_transactions":4,"seq":1}"#.into()),
        ];
        send_then_ping(socket, frames).await;
    })
}

/// Sends `frames`, then keeps the connection alive with pings until the
/// client leaves.
async fn send_then_ping(mut socket: WebSocket, frames: impl IntoIterator<Item = Message>) {
    for frame in frames {
        if socket.send(frame).await.is_err() {
            return;
        }
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            msg = socket.recv() => if !matches!(msg, Some(Ok(_))) { return },
            _ = tick.tick() => {
                let ping = format!(r#"{{"type":"ping","timestamp":{}}}"#, now_secs());
                if socket.send(Message::Text(ping.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Updates that exercise the client's routing from a frame's first bytes
/// (`type`, `seq`, key: the server's order): the first of each kind (read
/// whole), later ones routed in JS, a duplicate, a key no filter names, a key
/// with an escape, one in another member order, a non-ASCII key, a subscriber
/// that throws, a text `JSON.parse` rejects, and a `seq` of 16 digits (read
/// whole: more than the JS reader takes). Sent at once, then pings.
async fn prefix(ws: WebSocketUpgrade) -> Response {
    let corridor = |seq: u64, key: &str| {
        format!(
            r#"{{"type":"corridor_update","seq":{seq},"corridor_key":"{key}","corridor_id":"c{seq}","success_rate":99.5,"volume_usd":10.0,"total_transactions":4}}"#
        )
    };
    let anchor = |seq: u64, id: &str| {
        format!(
            r#"{{"type":"anchor_update","seq":{seq},"anchor_id":"{id}","name":"A","reliability_score":99.0,"status":"green"}}"#
        )
    };
    let snapshot = |seq: u64| {
        format!(
            r#"{{"type":"snapshot_update","seq":{seq},"snapshot_id":"s{seq}","epoch":{seq},"timestamp":"2026-11-30T00:00:00Z","hash":"ab"}}"#
        )
    };
    let frames = [
        r#"{"type":"connected","connection_id":"prefix","protocol":1,"heartbeat_ms":1000,"seq":0}"#.to_owned(),
        corridor(1, "K:1"),
        corridor(2, "K:1"),
        corridor(3, "K:2"),
        corridor(2, "K:1"),
        corridor(4, r#"A\"B"#),
        r#"{"type":"corridor_update","corridor_id":"c5","corridor_key":"K:1","success_rate":99.5,"volume_usd":10.0,"total_transactions":4,"seq":5}"#.to_owned(),
        corridor(6, "K:é"),
        anchor(7, "a1"),
        anchor(8, "a1"),
        anchor(9, "a2"),
        snapshot(10),
        snapshot(11),
        r#"{"type":"corridor_update","seq":12,"corridor_key":"K:1","corridor_id":"#.to_owned(),
        corridor(1_234_567_890_123_456, "K:1"),
    ];
    ws.on_upgrade(|socket: WebSocket| async move {
        send_then_ping(socket, frames.map(|f| Message::Text(f.into()))).await;
    })
}

/// A state peer that sends what no server should: a state record without
/// its key, a state chunk without `seq`, a delta whose `ref` it never bound.
/// It answers the client's `subscribe … state:true` frames, and the second
/// one (the client's re-request after the unknown `ref`) with a state chunk
/// that binds that `ref`, then a delta on it (so the delta's delivery shows
/// the client asked again).
async fn state_misbehaving(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket: WebSocket| async move {
        let connected = r#"{"type":"connected","connection_id":"state-misbehaving","protocol":1,"heartbeat_ms":1000,"seq":0}"#;
        if socket.send(Message::Text(connected.into())).await.is_err() {
            return;
        }
        let mut state_requests = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                msg = socket.recv() => {
                    let Some(Ok(Message::Text(text))) = msg else {
                        if matches!(msg, Some(Ok(_))) { continue } else { return }
                    };
                    let mut frames: Vec<String> = Vec::new();
                    if text.contains(r#""state":true"#) {
                        state_requests += 1;
                        if state_requests == 1 {
                            frames.extend([
                                r#"{"type":"state","seq":5,"corridors":[{"corridor_id":"a","corridor_key":"A","success_rate":90,"volume_usd":5,"total_transactions":7,"ref":1},{"corridor_id":"nokey","success_rate":1,"volume_usd":1,"total_transactions":1,"ref":2}],"anchors":[],"done":false}"#.to_owned(),
                                r#"{"type":"state","corridors":[{"corridor_id":"z","corridor_key":"A","success_rate":0,"volume_usd":0,"total_transactions":0}],"anchors":[],"done":false}"#.to_owned(),
                                r#"{"type":"state","seq":5,"corridors":[],"anchors":[{"anchor_id":"x","name":"X","reliability_score":99,"status":"green","ref":3}],"done":true}"#.to_owned(),
                                r#"{"type":"corridor_delta","ref":1,"seq":6,"v":6.5}"#.to_owned(),
                                r#"{"type":"corridor_delta","ref":99,"seq":7,"r":1}"#.to_owned(),
                            ]);
                        } else if state_requests == 2 {
                            frames.extend([
                                r#"{"type":"state","seq":8,"corridors":[{"corridor_id":"b","corridor_key":"B","success_rate":50,"volume_usd":2,"total_transactions":3,"ref":99}],"anchors":[],"done":true}"#.to_owned(),
                                r#"{"type":"corridor_delta","ref":99,"seq":9,"n":4}"#.to_owned(),
                            ]);
                        }
                    }
                    for frame in frames {
                        if socket.send(Message::Text(frame.into())).await.is_err() {
                            return;
                        }
                    }
                }
                _ = tick.tick() => {
                    let ping = format!(r#"{{"type":"ping","timestamp":{}}}"#, now_secs());
                    if socket.send(Message::Text(ping.into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
}

fn app(kit: Shared) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/server/stop", post(stop))
        .route("/server/start", post(start))
        .route("/server/restart", post(restart))
        .route("/server/kill", post(kill_restart))
        .route("/proxy/cut", post(proxy_cut))
        .route("/proxy/black_hole", post(proxy_black_hole))
        .route("/proxy/pass", post(proxy_pass))
        .route("/fixture/silent", get(silent))
        .route("/fixture/misbehaving", get(misbehaving))
        .route("/fixture/prefix", get(prefix))
        .route("/fixture/state_misbehaving", get(state_misbehaving))
        .layer(CorsLayer::permissive())
        .with_state(kit)
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stellar-insights-testkit: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    // The child runs in the data directory: a relative binary path would break.
    let args = Args {
        server_bin: std::fs::canonicalize(&args.server_bin).unwrap_or(args.server_bin),
        ..args
    };
    let proxy = match args.proxy_port {
        None => None,
        Some(port) => {
            let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], args.server_port));
            match proxy::Proxy::start_on(port, upstream).await {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("stellar-insights-testkit: cannot bind proxy port: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
    };
    let kit = Arc::new(Kit {
        args: args.clone(),
        child: Mutex::new(None),
        proxy,
    });
    if let Err(e) = kit.start().await {
        eprintln!("stellar-insights-testkit: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", args.control_port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("stellar-insights-testkit: cannot bind control port: {e}");
            let _ = kit.stop().await;
            return std::process::ExitCode::FAILURE;
        }
    };
    let served = axum::serve(listener, app(kit.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    let stopped = kit.stop().await;
    match (served, stopped) {
        (Ok(()), Ok(())) => std::process::ExitCode::SUCCESS,
        (s, t) => {
            eprintln!("stellar-insights-testkit: serve {s:?}, stop {t:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
