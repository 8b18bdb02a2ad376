//! Scale-out harness: the shared services, server processes, a private Redis that a
//! test may kill, and a small TCP balancer in front of several instances.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::common::process::{Server, Spec};
use crate::common::{TestServer, WAIT};

/// Redis and PostgreSQL from `scripts/services.sh`.
pub struct Services {
    /// `TEST_REDIS_URL`.
    pub redis: String,
    /// `TEST_POSTGRES_URL` (admin database; tests create their own).
    pub postgres: String,
}

/// The services, or `None` (test skipped, loudly) when `TEST_REDIS_URL`/`TEST_POSTGRES_URL`
/// are unset outside CI. In CI (`CI=true`) unset is a failure.
pub fn services(test: &str) -> Option<Services> {
    let redis = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty());
    let postgres = std::env::var("TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.is_empty());
    match (redis, postgres) {
        (Some(redis), Some(postgres)) => Some(Services { redis, postgres }),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: TEST_REDIS_URL and TEST_POSTGRES_URL must be set in CI (scripts/services.sh start)")
        }
        _ => {
            // Straight to the stderr handle: the test harness captures `eprintln!`, and a
            // skip must be visible in a normal run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!! SKIPPED {test}: TEST_REDIS_URL / TEST_POSTGRES_URL unset.\n\
                 !!!!!!!! Run: set -a; eval \"$(scripts/services.sh start)\"; set +a\n"
            );
            None
        }
    }
}

/// A Redis key prefix no other test uses, so tests sharing one Redis stay independent.
pub fn unique_prefix() -> String {
    format!("si-test-{}", uuid::Uuid::new_v4().simple())
}

/// An in-process instance on the shared database and Redis.
pub async fn instance(database_url: &str, redis_url: &str, prefix: &str) -> TestServer {
    TestServer::with(|c| {
        c.database_url = database_url.to_owned();
        c.redis_url = Some(redis_url.to_owned());
        c.redis_key_prefix = prefix.to_owned();
    })
    .await
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary with `env` on a free port, in its own temporary directory so no stray
/// `.env` is read; SIGKILLed on drop.
pub fn spawn_server(env: &[(&str, &str)]) -> Server {
    Server::start(Spec::in_temp_dir().env(env))
}

/// A private `redis-server` a test can kill and restart on the same port.
pub struct RedisProcess {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl RedisProcess {
    /// Starts on `port` (a free one when `None`), without persistence, and waits until it accepts.
    pub async fn start(port: Option<u16>) -> RedisProcess {
        let port = port.unwrap_or_else(free_port);
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (installed by scripts/services.sh)");
        let deadline = tokio::time::Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        RedisProcess {
            child: Some(child),
            port,
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL; its data is gone (no persistence).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP balancer: each accepted connection goes to the next backend (round robin),
/// skipping backends that refuse, and is piped both ways.
pub struct Balancer {
    /// Where clients connect.
    pub addr: SocketAddr,
    last: Arc<Mutex<Option<usize>>>,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Starts in front of `backends`.
    pub async fn start(backends: Vec<SocketAddr>) -> Balancer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let last = Arc::new(Mutex::new(None));
        let chosen = last.clone();
        let task = tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut client, _)) = listener.accept().await {
                let mut picked = None;
                for i in 0..backends.len() {
                    let idx = (next + i) % backends.len();
                    let attempt = tokio::time::timeout(
                        Duration::from_secs(1),
                        TcpStream::connect(backends[idx]),
                    )
                    .await;
                    if let Ok(Ok(upstream)) = attempt {
                        picked = Some((idx, upstream));
                        break;
                    }
                }
                next += 1;
                let Some((idx, mut upstream)) = picked else {
                    continue;
                };
                *chosen.lock().unwrap() = Some(idx);
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        Balancer { addr, last, task }
    }

    /// Index of the backend the latest connection went to.
    pub fn last_backend(&self) -> Option<usize> {
        *self.last.lock().unwrap()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
