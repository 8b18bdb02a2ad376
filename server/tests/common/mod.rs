//! Test harness: a real server on 127.0.0.1:0 with a temporary database: a SQLite file,
//! or a fresh PostgreSQL database when `TEST_STORE=postgres` (the same tests then run
//! against PostgreSQL; `TEST_POSTGRES_URL` names the server, see `scripts/services.sh`).
#![allow(dead_code)]

pub mod process;
pub mod view;

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use stellar_insights_server::{serve, Config};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A client TCP stream that, once `muted`, drops every byte written to it
/// (reporting it written) while reads go on: see [`TestServer::connect_mute`].
pub struct Mute {
    inner: TcpStream,
    /// When true, writes, flushes and shutdown do nothing.
    pub muted: bool,
}

impl AsyncRead for Mute {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Mute {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.muted {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.muted {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.muted {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A running server and the temporary directory holding its database.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            database_url: test_database_url(dir.path()).await,
            static_dir: dir.path().join("no-dashboard"),
            port: 0,
            ..Config::default()
        };
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            serve(config, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        let http = reqwest::Client::new();
        let server = TestServer {
            addr,
            dir,
            shutdown: Some(tx),
            handle: Some(handle),
            http,
        };
        // serve() opens the database before accepting; wait until it answers.
        let deadline = tokio::time::Instant::now() + WAIT;
        while server.http.get(server.url("/health")).send().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "server did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/ws{}", self.addr, query)
    }

    pub async fn connect(&self, query: &str) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(self.ws_url(query))
            .await
            .expect("websocket connects");
        ws
    }

    /// Connects and consumes the `connected` frame.
    pub async fn connect_ready(&self, query: &str) -> (Ws, Value) {
        let mut ws = self.connect(query).await;
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["type"], "connected", "{hello}");
        (ws, hello)
    }

    /// Connects and consumes `connected`, then mutes the client: it reads every
    /// frame but nothing it writes reaches the server any more, not even the
    /// protocol-level pongs tungstenite queues for each ping it reads. A
    /// client that answers nothing, as seen from the server.
    pub async fn connect_mute(&self, query: &str) -> WebSocketStream<Mute> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(
            self.ws_url(query),
            Mute {
                inner: tcp,
                muted: false,
            },
        )
        .await
        .expect("websocket connects");
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["type"], "connected", "{hello}");
        ws.get_mut().muted = true;
        ws
    }

    /// Status of a refused handshake (panics if it was accepted).
    pub async fn refused_status(&self, req: tungstenite::handshake::client::Request) -> u16 {
        match tokio_tungstenite::connect_async(req).await {
            Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("handshake was accepted"),
        }
    }

    pub fn request(&self, query: &str) -> tungstenite::handshake::client::Request {
        self.ws_url(query).into_client_request().unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let r = self
            .http
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PUT, path, body).await
    }

    /// Last sequence number issued, from `/health`.
    pub async fn seq(&self) -> u64 {
        self.get("/health").await.1["seq"].as_u64().unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Value of one metric line (`name` includes labels), 0 if absent.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0.0)
    }

    /// Creates an anchor with a fresh valid account; returns it.
    pub async fn create_anchor(&self, n: u8, name: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/anchors",
                &json!({"name": name, "stellar_account": account(n)}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    pub async fn create_corridor(&self, code: &str, n: u8) -> Value {
        let (status, body) = self
            .post(
                "/api/corridors",
                &json!({"source_asset_code": code, "source_asset_issuer": account(n),
                        "dest_asset_code": "EURC", "dest_asset_issuer": account(n.wrapping_add(100))}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Stops the server through its shutdown future and waits for `serve` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(WAIT, h)
                .await
                .expect("server stops in time")
                .unwrap();
        }
    }
}

/// Database for one test: SQLite in `dir` by default, a new PostgreSQL database with
/// `TEST_STORE=postgres`.
pub async fn test_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_STORE").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => format!("sqlite://{}", dir.join("test.db").display()),
        Ok("postgres") => fresh_postgres_database(&postgres_admin_url()).await,
        Ok(other) => panic!("TEST_STORE must be sqlite or postgres, not {other:?}"),
    }
}

/// `TEST_POSTGRES_URL`; panics with the command that provides it.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("TEST_STORE=postgres needs TEST_POSTGRES_URL: eval \"$(scripts/services.sh start)\"")
    })
}

/// Creates an empty database on the server of `admin_url`; returns its URL. The
/// throwaway cluster of `scripts/services.sh` is deleted as a whole by `stop`.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("si_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("TEST_POSTGRES_URL accepts connections");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let _ = admin.close().await;
    let (base, _) = admin_url
        .rsplit_once('/')
        .expect("TEST_POSTGRES_URL ends with /<database>");
    format!("{base}/{name}")
}

/// A valid Stellar account strkey derived from `n`.
pub fn account(n: u8) -> String {
    format!("{}", stellar_strkey::ed25519::PublicKey([n; 32]))
}

/// Next text frame as JSON (fails on close or after [`WAIT`]).
pub async fn next_json<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Value {
    loop {
        let msg = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("frame in time");
        match msg {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Next frame that is not a heartbeat `ping`.
pub async fn next_non_ping<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] != "ping" {
            return v;
        }
    }
}

/// Reads until the close frame; returns its code (fails after [`WAIT`]).
pub async fn close_code<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> u16 {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
            Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// Sends a ping and waits for its pong: proves the connection is open and that
/// every frame sent before it has been processed.
pub async fn round_trip(ws: &mut Ws, ts: i64) {
    send_text(ws, &json!({"type": "ping", "timestamp": ts}).to_string()).await;
    loop {
        let v = next_json(ws).await;
        if v["type"] == "pong" {
            assert_eq!(v["timestamp"], ts);
            return;
        }
        assert_eq!(
            v["type"], "ping",
            "unexpected frame while waiting for pong: {v}"
        );
    }
}
