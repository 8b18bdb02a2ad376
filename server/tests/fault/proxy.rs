//! A TCP fault proxy for tests, loopback only: forwards bytes between clients
//! and one upstream address, and on command cuts every connection, black-holes
//! them (stops forwarding without closing, like a dead Wi-Fi link), delays or
//! throttles the server-to-client direction.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How bytes move right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Forward at once.
    Pass,
    /// Read nothing, write nothing, close nothing.
    BlackHole,
    /// Hold each server-to-client chunk this long.
    Delay(Duration),
    /// Server-to-client at most this many bytes per second.
    Throttle(u64),
}

/// Upstream receive buffer, bytes: small, so a throttled client pushes back
/// on the server within a few frames instead of megabytes of kernel buffers.
const UPSTREAM_RCVBUF: u32 = 4096;

/// A running proxy; dropping it stops accepting and ends every connection.
pub struct Proxy {
    /// Address clients connect to.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    cuts: watch::Sender<u64>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (any free port) and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        Proxy::start_on(0, upstream).await.unwrap()
    }

    /// Listens on 127.0.0.1:`port` (0: any free port) and forwards to `upstream`.
    pub async fn start_on(port: u16, upstream: SocketAddr) -> std::io::Result<Proxy> {
        assert!(upstream.ip().is_loopback(), "fault proxy is loopback only");
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (mode, mode_rx) = watch::channel(Mode::Pass);
        let (cuts, cuts_rx) = watch::channel(0u64);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (mode, cuts) = (mode_rx.clone(), cuts_rx.clone());
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let sock = TcpSocket::new_v4().unwrap();
                    let _ = sock.set_recv_buffer_size(UPSTREAM_RCVBUF);
                    let Ok(server) = sock.connect(upstream).await else {
                        return; // upstream down: the client sees a closed socket
                    };
                    let _ = server.set_nodelay(true);
                    pipe(client, server, mode, cuts).await;
                });
            }
        });
        Ok(Proxy {
            addr,
            mode,
            cuts,
            accept,
        })
    }

    /// Applies `mode` to every connection, current and future.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every current connection at once (both sides see EOF/RST).
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    mode: watch::Receiver<Mode>,
    mut cuts: watch::Receiver<u64>,
) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    cuts.mark_unchanged();
    tokio::select! {
        _ = forward(cr, sw, mode.clone(), false) => {}
        _ = forward(sr, cw, mode, true) => {}
        _ = cuts.changed() => {}
    }
    // Dropping both halves of both streams closes them.
}

async fn forward(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut mode: watch::Receiver<Mode>,
    downstream: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // A black hole stops reading too, so TCP buffers fill as on a dead link.
        while *mode.borrow_and_update() == Mode::BlackHole {
            if mode.changed().await.is_err() {
                return;
            }
        }
        let current = *mode.borrow();
        let want = match current {
            Mode::Throttle(bps) if downstream => (bps as usize / 20).clamp(1, buf.len()),
            _ => buf.len(),
        };
        let n = match from.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if downstream {
            match current {
                Mode::Delay(d) => tokio::time::sleep(d).await,
                Mode::Throttle(bps) => {
                    tokio::time::sleep(Duration::from_secs_f64(n as f64 / bps.max(1) as f64)).await
                }
                _ => {}
            }
        }
        // Bytes read before a black hole began are held, not delivered.
        while *mode.borrow_and_update() == Mode::BlackHole {
            if mode.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
