//! One benchmark client: a WebSocket that checks `seq` continuity, records the
//! delivery latency of every update, and (storm mode) reconnects with the wasm
//! client's own backoff policy and resumes with `?since=`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use stellar_insights_client_core::backoff::Backoff;
use stellar_insights_client_core::json::{self, Json};
use stellar_insights_client_core::url::with_query;
use stellar_insights_protocol::{ClientMessage, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::generate_request;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::round_robin;
use crate::receiver::Receivers;

/// How many times a client retries its first connection (not counted as storm attempts). Value 20.
const FIRST_CONNECT_TRIES: u32 = 20;
/// Read buffer per client socket, bytes. Value 8 KiB: frames are ~300 B, and
/// 10 000 clients with tungstenite's 128 KiB default would cost the load generator 1.3 GB.
const READ_BUFFER: usize = 8 * 1024;
/// Longest HTTP response head accepted on the upgrade (raw path), bytes. Value 16 KiB.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Microseconds since the Unix epoch: the clock the writer stamps updates with.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// What every client shares with the run that started it.
pub struct Shared {
    /// Server addresses; client `i` uses `servers[round_robin(i, len)]`, on every reconnect too.
    pub servers: Vec<SocketAddr>,
    /// Source addresses are spread over 127.0.0.1 ..= 127.0.0.<source_ips>. Default 1.
    pub source_ips: u8,
    /// Reconnect (and resume) after losing the connection; otherwise a loss is an error.
    pub reconnect: bool,
    /// Delay policy of reconnects: the wasm client's own.
    pub backoff: Backoff,
    /// Clients whose connection is currently established (`connected` received).
    pub connected: AtomicUsize,
    /// Reconnects that got their `connected` frame.
    pub resumes: AtomicUsize,
    /// Time (µs since the epoch) of every reconnect attempt, successful or not.
    pub attempts: Mutex<Vec<u64>>,
    /// Last seq the run expects every client to reach; set when writes end.
    pub final_seq: watch::Receiver<Option<u64>>,
    /// Turns true when the run gives up waiting: clients stop where they are.
    pub stop: watch::Receiver<bool>,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Delivery latency of each live `corridor_update`, µs.
    pub latencies_us: Vec<u32>,
    /// Updates received.
    pub deliveries: u64,
    /// Updates whose seq skipped ahead (each counts the missing seqs).
    pub missing: u64,
    /// Updates received at or below a seq already received.
    pub duplicates: u64,
    /// Seq of the first `connected` (the head when the client joined).
    pub joined_at: u64,
    /// Highest seq received.
    pub last_seq: u64,
    /// Reconnects whose `connected` did not say `resumed: true`.
    pub not_resumed: u64,
    /// `resync_required` frames (each means updates could not be replayed).
    pub resyncs: u64,
    /// Successful reconnects, each as µs since the epoch of its `connected`.
    pub resumed_at: Vec<u64>,
    /// The client hit the backoff's attempt limit.
    pub gave_up: bool,
    /// Protocol errors and unexpected frames, for the report.
    pub errors: Vec<String>,
}

impl Report {
    /// Keeps `e` for the report (the first five errors).
    pub fn error(&mut self, e: String) {
        if self.errors.len() < 5 {
            self.errors.push(e);
        }
    }
}

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Which receive path the clients use (`--client`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Receiver threads over `mio` and [`crate::frames`] (`receiver.rs`). The default.
    Raw,
    /// One tokio task per client on tokio-tungstenite, the path before issue 16 §4.
    Tungstenite,
}

/// An upgraded connection, for one receive path or the other.
enum Conn {
    Ws(Box<Ws>),
    /// The socket (non-blocking) and the bytes read past the HTTP response.
    Raw(std::net::TcpStream, Vec<u8>),
}

async fn connect(
    shared: &Shared,
    index: usize,
    since: Option<u64>,
    raw: bool,
) -> Result<Conn, String> {
    let host = 1 + (index % usize::from(shared.source_ips.max(1))) as u8;
    let server = shared.servers[round_robin(index, shared.servers.len())];
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)),
            0,
        ))
        .map_err(|e| format!("bind 127.0.0.{host}: {e}"))?;
    let stream = socket.connect(server).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let url = with_query(&format!("ws://{server}/ws"), None, since);
    if raw {
        let (stream, rest) = upgrade(stream, url).await?;
        return Ok(Conn::Raw(stream, rest));
    }
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        url,
        MaybeTlsStream::Plain(stream),
        Some(config),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Conn::Ws(Box::new(ws)))
}

/// The client side of the HTTP upgrade with tungstenite's request and accept
/// key, checked as tungstenite checks it (101, `Upgrade: websocket`,
/// `Connection: upgrade`, the accept key). Returns the socket as a std one
/// (still non-blocking) and whatever was read past the response.
async fn upgrade(
    mut stream: tokio::net::TcpStream,
    url: String,
) -> Result<(std::net::TcpStream, Vec<u8>), String> {
    let request = url.into_client_request().map_err(|e| e.to_string())?;
    let (bytes, key) = generate_request(request).map_err(|e| e.to_string())?;
    stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(512);
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        let parsed = resp
            .parse(&buf)
            .map_err(|e| format!("upgrade response: {e}"))?;
        if let httparse::Status::Complete(len) = parsed {
            check_upgrade(&resp, &key)?;
            let rest = buf[len..].to_vec();
            return Ok((stream.into_std().map_err(|e| e.to_string())?, rest));
        }
        if buf.len() > MAX_RESPONSE_HEAD {
            return Err(format!(
                "upgrade response head longer than {MAX_RESPONSE_HEAD} bytes"
            ));
        }
        if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("connection closed during the upgrade".into());
        }
    }
}

fn check_upgrade(resp: &httparse::Response<'_, '_>, key: &str) -> Result<(), String> {
    if resp.code != Some(101) {
        return Err(format!("upgrade refused: HTTP {}", resp.code.unwrap_or(0)));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return Err("upgrade response without Upgrade: websocket".into());
    }
    let connection = header("connection").and_then(|v| std::str::from_utf8(v).ok());
    if !connection.is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    }) {
        return Err("upgrade response without Connection: upgrade".into());
    }
    if header("sec-websocket-accept") != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
        return Err("upgrade response with a wrong Sec-WebSocket-Accept".into());
    }
    Ok(())
}

/// How a session ended.
pub enum End {
    /// Reached the final seq, or told to stop.
    Done,
    /// The connection broke.
    Lost,
}

/// Runs client `index` until it has the final seq or the run stops; with
/// `receivers`, its sessions run on them (`--client raw`), else on its own task.
pub async fn run(shared: Arc<Shared>, receivers: Option<Arc<Receivers>>, index: usize) -> Report {
    let mut report = Report::default();
    let mut first = true;
    let mut failures = 0u32;
    let mut stop = shared.stop.clone();
    loop {
        let since = (!first).then_some(report.last_seq);
        if since.is_some() {
            shared.attempts.lock().unwrap().push(now_us());
        }
        match connect(&shared, index, since, receivers.is_some()).await {
            Ok(conn) => {
                failures = 0;
                let end = match (conn, &receivers) {
                    (Conn::Raw(stream, rest), Some(r)) => {
                        let (end, r) = r
                            .session(stream, rest, std::mem::take(&mut report), first)
                            .await;
                        report = r;
                        end
                    }
                    (Conn::Ws(ws), _) => session(&shared, *ws, &mut report, first).await,
                    (Conn::Raw(..), None) => unreachable!("raw connections only with receivers"),
                };
                first = false;
                match end {
                    End::Done => return report,
                    End::Lost if !shared.reconnect => {
                        report.error("connection lost".into());
                        return report;
                    }
                    End::Lost => {}
                }
            }
            Err(e) if first && failures + 1 >= FIRST_CONNECT_TRIES => {
                report.error(format!("cannot connect: {e}"));
                return report;
            }
            Err(_) if first => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(_) => {}
        }
        if shared.backoff.is_exhausted_by(failures) {
            report.gave_up = true;
            return report;
        }
        failures += 1;
        let delay = shared.backoff.delay_ms(failures, fastrand::f64());
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
            _ = stop.wait_for(|s| *s) => return report,
        }
    }
}

async fn session(shared: &Shared, mut ws: Ws, report: &mut Report, first: bool) -> End {
    let mut final_seq = shared.final_seq.clone();
    let mut stop = shared.stop.clone();
    let mut online = Online(&shared.connected, false);
    loop {
        let msg = tokio::select! {
            msg = ws.next() => msg,
            _ = final_seq.changed() => {
                if done(report, *final_seq.borrow()) { break; }
                continue;
            }
            _ = stop.wait_for(|s| *s) => break,
        };
        let text = match msg {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return End::Lost,
            Some(Ok(_)) => continue,
        };
        let received = now_us();
        let target = *final_seq.borrow();
        match on_text(shared, report, &text, received, first, target) {
            Step::Continue => {}
            Step::Connected => online.set(),
            Step::Reply(pong) => {
                if ws.send(Message::text(pong)).await.is_err() {
                    return End::Lost;
                }
            }
            Step::Done => break,
        }
    }
    let _ = ws.close(None).await;
    End::Done
}

fn done(report: &Report, target: Option<u64>) -> bool {
    target.is_some_and(|f| report.last_seq >= f)
}

/// What a client does after one text frame.
pub enum Step {
    /// Nothing: read on.
    Continue,
    /// The `connected` frame: count the client as connected.
    Connected,
    /// Send this text frame (the `pong` to a `ping`).
    Reply(String),
    /// The client holds the final seq: close.
    Done,
}

/// Checks and records one text frame received at `received` (µs since the
/// epoch); `final_seq` is the run's last seq once known. Both receive paths
/// (tungstenite and raw) go through here, so they check exactly the same things.
pub fn on_text(
    shared: &Shared,
    report: &mut Report,
    text: &str,
    received: u64,
    first: bool,
    final_seq: Option<u64>,
) -> Step {
    if let Some((seq, sent_ms)) = fast_update(text) {
        on_update(report, seq, sent_ms, received);
        return if done(report, final_seq) {
            Step::Done
        } else {
            Step::Continue
        };
    }
    match ServerMessage::from_json(text) {
        Ok(ServerMessage::Connected { seq, resumed, .. }) => {
            let head = seq.unwrap_or(0);
            if first {
                report.joined_at = head;
                report.last_seq = head;
            } else {
                report.resumed_at.push(received);
                shared.resumes.fetch_add(1, Ordering::Relaxed);
                if resumed != Some(true) {
                    report.not_resumed += 1;
                }
            }
            Step::Connected
        }
        Ok(ServerMessage::Ping { timestamp }) => Step::Reply(
            ClientMessage::Pong {
                timestamp: Some(timestamp),
            }
            .to_json(),
        ),
        Ok(ServerMessage::ResyncRequired { reason }) => {
            report.resyncs += 1;
            report.error(format!("resync_required {reason:?}"));
            Step::Continue
        }
        Ok(msg) => match msg.seq() {
            Some(seq) => {
                let sent_ms = match &msg {
                    ServerMessage::CorridorUpdate(u) => Some(u.volume_usd),
                    _ => None,
                };
                on_update(report, seq, sent_ms, received);
                if done(report, final_seq) {
                    Step::Done
                } else {
                    Step::Continue
                }
            }
            None => {
                report.error(format!("unexpected frame {}", msg.type_name()));
                Step::Continue
            }
        },
        Err(e) => {
            report.error(format!("unparsable frame: {e}"));
            Step::Continue
        }
    }
}

/// Counts the client in [`Shared::connected`] from its `connected` frame until the session ends.
struct Online<'a>(&'a AtomicUsize, bool);

impl Online<'_> {
    fn set(&mut self) {
        if !self.1 {
            self.1 = true;
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Online<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// `(seq, volume_usd)` of an update frame, read with the wasm client's own
/// JSON reader: it borrows instead of building a `ServerMessage`, which keeps
/// the load generator's CPU per frame low (it shares the cores with the server).
/// `None` for any other frame; those take the full typed parse.
fn fast_update(text: &str) -> Option<(u64, Option<f64>)> {
    let v = json::parse(text).ok()?;
    let kind = v.get("type")?.as_str()?;
    if !matches!(
        kind,
        "corridor_update" | "anchor_update" | "snapshot_update"
    ) {
        return None;
    }
    let seq = v.get("seq")?.as_u64()?;
    let sent_ms = match (kind, v.get("volume_usd")) {
        ("corridor_update", Some(Json::Num(n))) => Some(n.parse().ok()?),
        ("corridor_update", _) => return None,
        _ => None,
    };
    Some((seq, sent_ms))
}

fn on_update(report: &mut Report, seq: u64, sent_ms: Option<f64>, received_us: u64) {
    report.deliveries += 1;
    if seq <= report.last_seq {
        report.duplicates += 1;
        return;
    }
    report.missing += seq - report.last_seq - 1;
    report.last_seq = seq;
    if let Some(sent_ms) = sent_ms {
        // The writer puts its send time (ms since the epoch, µs fraction) in volume_usd.
        let sent_us = (sent_ms * 1000.0).round() as u64;
        if sent_us > 0 && received_us >= sent_us {
            report
                .latencies_us
                .push((received_us - sent_us).min(u32::MAX as u64) as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_insights_protocol::CorridorUpdate;

    #[test]
    fn fast_read_agrees_with_the_typed_parse() {
        let frame = ServerMessage::CorridorUpdate(CorridorUpdate {
            corridor_id: "c".into(),
            corridor_key: "USDC:G->EURC:G".into(),
            success_rate: 100.0,
            volume_usd: 1_764_106_000_123.456,
            total_transactions: 7,
            seq: Some(42),
            r#ref: None,
            conflated: None,
        })
        .to_json();
        assert_eq!(fast_update(&frame), Some((42, Some(1_764_106_000_123.456))));
        assert_eq!(fast_update(r#"{"type":"ping","timestamp":1}"#), None);
        // An update without seq is not taken as one: the typed parse reports it.
        assert_eq!(
            fast_update(r#"{"type":"snapshot_update","snapshot_id":"s"}"#),
            None
        );
    }

    /// `check_upgrade` on `head` (an HTTP response head) for the request key `key`.
    fn upgrade_check(head: &str, key: &str) -> Result<(), String> {
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut resp = httparse::Response::new(&mut headers);
        assert!(resp.parse(head.as_bytes()).unwrap().is_complete());
        check_upgrade(&resp, key)
    }

    #[test]
    fn the_raw_upgrade_accepts_only_a_proper_101() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        // RFC 6455 §1.3's example key and accept value.
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                  Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert_eq!(upgrade_check(ok, key), Ok(()));
        let e = upgrade_check("HTTP/1.1 401 Unauthorized\r\n\r\n", key).unwrap_err();
        assert!(e.contains("HTTP 401"), "{e}");
        let e = upgrade_check(&ok.replace("Upgrade: websocket", "Upgrade: h2c"), key).unwrap_err();
        assert!(e.contains("Upgrade: websocket"), "{e}");
        let e = upgrade_check(&ok.replace("keep-alive, Upgrade", "close"), key).unwrap_err();
        assert!(e.contains("Connection: upgrade"), "{e}");
        let e = upgrade_check(ok, "another key").unwrap_err();
        assert!(e.contains("Sec-WebSocket-Accept"), "{e}");
    }

    #[test]
    fn gaps_and_duplicates_are_counted_not_hidden() {
        let mut r = Report {
            last_seq: 10,
            ..Report::default()
        };
        for seq in [11, 12, 15, 15, 13, 16] {
            on_update(&mut r, seq, None, 0);
        }
        assert_eq!(r.missing, 2, "13 and 14 skipped between 12 and 15");
        assert_eq!(r.duplicates, 2, "15 again, then 13 after 15");
        assert_eq!(r.last_seq, 16);
        assert_eq!(r.deliveries, 6);
    }

    #[test]
    fn latency_is_receive_time_minus_the_stamped_send_time() {
        let mut r = Report::default();
        on_update(&mut r, 1, Some(1_000.5), 1_003_000);
        assert_eq!(r.latencies_us, vec![2_500]);
    }
}
