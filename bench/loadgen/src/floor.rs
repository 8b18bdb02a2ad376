//! The floor of the fan-out benchmark (issue 16, point 1): the least any server
//! must do to deliver one update to N WebSocket clients on loopback, run as a
//! process of its own in the same run as the server, so the server's figures can
//! be read as ratios to it.
//!
//! `stellar-insights-loadgen floor-server` listens on `SERVER_HOST:SERVER_PORT`
//! and answers exactly what the harness uses of the real server, with no
//! framework and no database: the WebSocket upgrade on `/ws` (handshake, then a
//! `connected` frame), `POST /api/corridors` (remembers the corridor),
//! `PUT /api/corridors/{id}/metrics` (numbers the update and fans it out),
//! `GET /health` (head seq) and `GET /metrics` (empty). Each update's frame is
//! serialised and framed once (server-to-client frames are unmasked, so the bytes
//! are the same for every client) and written with one blocking `write` per socket
//! by one writer thread per core, each owning its share of the sockets. That is
//! the kernel's loopback path plus one copy into each socket buffer: what is left
//! when every user-space cost a server could remove is gone.
//!
//! The frames are the real server's (`stellar-insights-protocol` serialises them),
//! so the clients check and time them exactly as they check the server's.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use stellar_insights_protocol::{CorridorUpdate, ServerMessage};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Longest request head (request line and headers) accepted, bytes. Value 16 KiB.
const MAX_HEAD: usize = 16 * 1024;
/// Longest request body accepted, bytes. Value 64 KiB.
const MAX_BODY: usize = 64 * 1024;
/// Id of the one corridor the floor knows (the harness creates one). A fixed UUID.
const CORRIDOR_ID: &str = "00000000-0000-4000-8000-000000000001";

/// A WebSocket text frame from server to client (FIN, opcode 1, unmasked), RFC 6455 §5.2.
pub fn text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 10);
    frame.push(0x81);
    match payload.len() {
        n if n < 126 => frame.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            frame.push(126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    frame
}

/// What the writer threads are told.
enum Cmd {
    /// A client whose handshake and `connected` frame are written: send it every later frame.
    Add(TcpStream),
    /// One update's frame, for every socket of the thread.
    Frame(Arc<[u8]>),
}

/// The numbering and the routing to writer threads, under one lock so every
/// thread receives frames in seq order and a client added at head `h` gets
/// exactly the frames after `h`.
struct Head {
    seq: u64,
    corridor_key: String,
    next_shard: usize,
    shards: Vec<Sender<Cmd>>,
}

type Shared = Arc<Mutex<Head>>;

/// Runs the floor server on `addr` until the process is killed.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    let threads = thread::available_parallelism().map_or(1, usize::from);
    let shards = (0..threads)
        .map(|_| {
            let (tx, rx) = mpsc::channel::<Cmd>();
            thread::spawn(move || {
                let mut sockets: Vec<TcpStream> = Vec::new();
                for cmd in rx {
                    match cmd {
                        Cmd::Add(s) => sockets.push(s),
                        // A client that went away is dropped, as the server drops it.
                        Cmd::Frame(f) => sockets.retain_mut(|s| s.write_all(&f).is_ok()),
                    }
                }
            });
            tx
        })
        .collect();
    let shared: Shared = Arc::new(Mutex::new(Head {
        seq: 0,
        corridor_key: String::new(),
        next_shard: 0,
        shards,
    }));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            let _ = connection(stream, &shared);
        });
    }
    Ok(())
}

/// One parsed request.
struct Request {
    method: String,
    path: String,
    ws_key: Option<String>,
    body: Vec<u8>,
}

/// Reads one request from `stream` (keep-alive: `buf` carries what was read past it). `None` at EOF.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let httparse::Status::Complete(head_len) =
            req.parse(buf).map_err(|e| invalid(&e.to_string()))?
        {
            let header = |name: &str| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .map(str::trim)
            };
            let body_len: usize = header("content-length")
                .map(|v| v.parse().map_err(|_| invalid("bad content-length")))
                .transpose()?
                .unwrap_or(0);
            if body_len > MAX_BODY {
                return Err(invalid("body too large"));
            }
            let ws_key = header("sec-websocket-key").map(str::to_owned);
            let method = req.method.unwrap_or_default().to_owned();
            let path = req.path.unwrap_or_default();
            let path = path.split('?').next().unwrap_or_default().to_owned();
            while buf.len() < head_len + body_len {
                if read_more(stream, buf)? == 0 {
                    return Err(invalid("body cut short"));
                }
            }
            let body = buf[head_len..head_len + body_len].to_vec();
            buf.drain(..head_len + body_len);
            return Ok(Some(Request {
                method,
                path,
                ws_key,
                body,
            }));
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if read_more(stream, buf)? == 0 {
            return Ok(None);
        }
    }
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())
}

/// Serves one TCP connection: HTTP requests until EOF, or one WebSocket upgrade.
fn connection(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(1024);
    while let Some(req) = read_request(&mut stream, &mut buf)? {
        let json = "application/json";
        match (req.method.as_str(), req.path.as_str(), req.ws_key) {
            ("GET", "/ws", Some(key)) => return upgrade(stream, &key, shared),
            ("GET", "/health", _) => {
                let seq = shared.lock().unwrap().seq;
                respond(
                    &mut stream,
                    "200 OK",
                    json,
                    &format!(r#"{{"status":"ok","seq":{seq}}}"#),
                )?
            }
            ("GET", "/metrics", _) => respond(&mut stream, "200 OK", "text/plain", "")?,
            ("POST", "/api/corridors", _) => {
                let v: serde_json::Value = serde_json::from_slice(&req.body)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let asset = |code: &str, issuer: &str| {
                    format!(
                        "{}:{}",
                        v[code].as_str().unwrap_or_default(),
                        v[issuer].as_str().unwrap_or_default()
                    )
                };
                let key = format!(
                    "{}->{}",
                    asset("source_asset_code", "source_asset_issuer"),
                    asset("dest_asset_code", "dest_asset_issuer")
                );
                shared.lock().unwrap().corridor_key = key;
                respond(
                    &mut stream,
                    "201 Created",
                    json,
                    &format!(r#"{{"id":"{CORRIDOR_ID}"}}"#),
                )?
            }
            ("PUT", path, _) if path == format!("/api/corridors/{CORRIDOR_ID}/metrics") => {
                match publish(shared, &req.body) {
                    Ok(()) => respond(&mut stream, "200 OK", json, "{}")?,
                    Err(e) => respond(
                        &mut stream,
                        "400 Bad Request",
                        json,
                        &serde_json::json!({ "error": e }).to_string(),
                    )?,
                }
            }
            _ => respond(
                &mut stream,
                "404 Not Found",
                json,
                r#"{"error":"not found"}"#,
            )?,
        }
    }
    Ok(())
}

/// Completes the handshake, sends `connected` with the head seq, and hands the
/// socket to a writer thread, all under the head lock.
fn upgrade(mut stream: TcpStream, key: &str, shared: &Shared) -> io::Result<()> {
    let mut head = shared.lock().unwrap();
    let accept = derive_accept_key(key.as_bytes());
    let connected = ServerMessage::Connected {
        connection_id: format!("floor-{}", stream.peer_addr()?),
        protocol: Some(1),
        heartbeat_ms: Some(30_000),
        seq: Some(head.seq),
        resumed: Some(false),
    }
    .to_json();
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&text_frame(connected.as_bytes()));
    stream.write_all(&out)?;
    let shard = head.next_shard % head.shards.len();
    head.next_shard += 1;
    head.shards[shard]
        .send(Cmd::Add(stream))
        .map_err(|_| io::Error::other("writer thread gone"))
}

/// Numbers one write and hands its frame, encoded once, to every writer thread.
fn publish(shared: &Shared, body: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let num = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("{k}: expected a number"))
    };
    let (total, ok, volume) = (
        num("total_transactions")?,
        num("successful_transactions")?,
        num("volume_usd")?,
    );
    let mut head = shared.lock().unwrap();
    head.seq += 1;
    let json = ServerMessage::CorridorUpdate(CorridorUpdate {
        corridor_id: CORRIDOR_ID.into(),
        corridor_key: head.corridor_key.clone(),
        success_rate: if total > 0.0 { 100.0 * ok / total } else { 0.0 },
        volume_usd: volume,
        total_transactions: total as u64,
        seq: Some(head.seq),
        r#ref: None,
        conflated: None,
    })
    .to_json();
    let frame: Arc<[u8]> = text_frame(json.as_bytes()).into();
    for shard in &head.shards {
        let _ = shard.send(Cmd::Frame(Arc::clone(&frame)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    async fn json(request: reqwest::RequestBuilder) -> serde_json::Value {
        request.send().await.unwrap().json().await.unwrap()
    }

    #[test]
    fn frames_carry_the_length_in_the_form_rfc_6455_asks_for() {
        assert_eq!(text_frame(b"hi"), [0x81, 2, b'h', b'i']);
        let mid = text_frame(&[b'x'; 300]);
        assert_eq!(mid[..4], [0x81, 126, 1, 44]);
        assert_eq!(mid.len(), 304);
        let big = text_frame(&vec![b'x'; 70_000]);
        assert_eq!(big[..2], [0x81, 127]);
        assert_eq!(u64::from_be_bytes(big[2..10].try_into().unwrap()), 70_000);
    }

    /// The floor against a real WebSocket client and a real HTTP client on loopback:
    /// what the harness relies on (connected head, numbered updates in order, health).
    #[tokio::test]
    async fn a_client_gets_connected_then_every_write_in_seq_order() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        thread::spawn(move || serve(addr));
        let base = format!("http://{addr}");
        let http = reqwest::Client::new();
        let mut up = false;
        for _ in 0..100 {
            if http.get(format!("{base}/health")).send().await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(up, "floor never answered /health");
        let created = json(
            http.post(format!("{base}/api/corridors"))
                .json(&serde_json::json!({
                    "source_asset_code": "USDC", "source_asset_issuer": "GA",
                    "dest_asset_code": "EURC", "dest_asset_issuer": "GB",
                })),
        )
        .await;
        let id = created["id"].as_str().unwrap().to_owned();
        let put = |n: u64| {
            http.put(format!("{base}/api/corridors/{id}/metrics"))
                .json(&serde_json::json!({
                    "total_transactions": n * 2, "successful_transactions": n, "volume_usd": 1.5,
                }))
                .send()
        };
        assert!(put(1).await.unwrap().status().is_success());
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?since=0"))
            .await
            .unwrap();
        let next = |m: Option<Result<Message, _>>| match m {
            Some(Ok(Message::Text(t))) => ServerMessage::from_json(&t).unwrap(),
            other => panic!("expected a text frame, got {other:?}"),
        };
        match next(ws.next().await) {
            ServerMessage::Connected { seq, .. } => assert_eq!(seq, Some(1)),
            other => panic!("expected connected, got {other:?}"),
        }
        for n in 2..=4 {
            assert!(put(n).await.unwrap().status().is_success());
        }
        for n in 2..=4u64 {
            match next(ws.next().await) {
                ServerMessage::CorridorUpdate(u) => {
                    assert_eq!(u.seq, Some(n));
                    assert_eq!(u.corridor_key, "USDC:GA->EURC:GB");
                    assert_eq!(u.total_transactions, n * 2);
                    assert_eq!(u.success_rate, 50.0);
                }
                other => panic!("expected corridor_update, got {other:?}"),
            }
        }
        let health = json(http.get(format!("{base}/health"))).await;
        assert_eq!(health["seq"], 4);
        let bad = http
            .put(format!("{base}/api/corridors/{id}/metrics"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }
}
