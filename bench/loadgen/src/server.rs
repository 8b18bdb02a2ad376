//! The server under test as a child process: its own release binary, so the
//! RSS and CPU read from `/proc/<pid>` are the server's alone.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// How long a (re)started server may take to answer `/health`. Value 30 s.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where an instance keeps its data and how it hears of other instances' writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    /// A fresh SQLite file of its own and the in-process bus: the default deployment.
    Sqlite,
    /// A shared PostgreSQL database and the Redis bus (`server/SCALE.md`); every
    /// instance of one deployment gets the same three values.
    Shared {
        /// `DATABASE_URL` of a database created for this run.
        database_url: String,
        /// `REDIS_URL`.
        redis_url: String,
        /// `REDIS_KEY_PREFIX`, unique per run so runs never see each other's keys.
        key_prefix: String,
    },
}

/// A running `stellar-insights-server` on loopback.
pub struct Server {
    bin: PathBuf,
    /// Storage variables (`DATABASE_URL`, and `REDIS_*` when shared).
    storage_env: Vec<(&'static str, String)>,
    /// Address the server listens on (fixed, so a restart reuses it).
    pub addr: SocketAddr,
    max_per_ip: usize,
    /// Variables set last, over the defaults above (see [`Server::restart_with`]).
    extra_env: Vec<(&'static str, String)>,
    child: Option<Child>,
}

/// Counters read from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcStats {
    /// Resident set size, bytes.
    pub rss: u64,
    /// Peak resident set size since start (`VmHWM`), bytes.
    pub hwm: u64,
    /// User-mode CPU time since start, seconds.
    pub user_secs: f64,
    /// Kernel-mode CPU time since start, seconds.
    pub sys_secs: f64,
}

impl Server {
    /// Starts `bin` on `addr` with `storage` (SQLite: a fresh file in `dir`),
    /// allowing `max_per_ip` WebSocket connections per client address.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        storage: &Storage,
        addr: SocketAddr,
        max_per_ip: usize,
    ) -> Result<Server, String> {
        let storage_env = storage_env(storage, dir, addr);
        if matches!(storage, Storage::Sqlite) {
            if let Some((_, url)) = storage_env.first() {
                let file = url.trim_start_matches("sqlite://");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{file}{suffix}"));
                }
            }
        }
        let mut server = Server {
            bin: bin.to_owned(),
            storage_env,
            addr,
            max_per_ip,
            extra_env: Vec::new(),
            child: None,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new(&self.bin)
            .env("SERVER_HOST", self.addr.ip().to_string())
            .env("SERVER_PORT", self.addr.port().to_string())
            // An exported REDIS_URL would put a SQLite instance on someone's bus.
            .env_remove("REDIS_URL")
            .env_remove("REDIS_KEY_PREFIX")
            .envs(self.storage_env.iter().map(|(k, v)| (k, v)))
            .env("WS_MAX_CONNECTIONS_PER_IP", self.max_per_ip.to_string())
            // One broadcast slot per update; a storm's replay plus live writes fit easily.
            .env("WS_SEND_QUEUE", "4096")
            .env("UPDATE_LOG_RETENTION", "1000000")
            .env(
                "RUST_LOG",
                "warn,stellar_insights_server::static_files=error",
            )
            .env("STATIC_DIR", "/nonexistent")
            .envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        self.wait_healthy().await
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let url = format!("http://{}/health", self.addr);
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("server exited at start: {status}"));
            }
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("server not healthy after {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// SIGKILL, as in a crash: no close frames, the kernel resets every socket.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the binary again on the same port and database.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.kill().await;
        self.spawn().await
    }

    /// Starts the binary again with `env` set over the defaults (e.g. the default
    /// `WS_SEND_QUEUE` instead of the load generator's 4096).
    pub async fn restart_with(&mut self, env: &[(&'static str, &str)]) -> Result<(), String> {
        self.extra_env = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.restart().await
    }

    /// Reads the server's `/proc` counters.
    pub fn stats(&self) -> Option<ProcStats> {
        self.pid().and_then(proc_stats)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// The variables that put an instance on `storage`. SQLite: a file per port in
/// `dir`, so instances of one run never share a file; shared: the same three
/// values for every instance.
fn storage_env(storage: &Storage, dir: &Path, addr: SocketAddr) -> Vec<(&'static str, String)> {
    match storage {
        Storage::Sqlite => {
            let db = dir.join(format!("loadgen-{}.db", addr.port()));
            vec![("DATABASE_URL", format!("sqlite://{}", db.display()))]
        }
        Storage::Shared {
            database_url,
            redis_url,
            key_prefix,
        } => vec![
            ("DATABASE_URL", database_url.clone()),
            ("REDIS_URL", redis_url.clone()),
            ("REDIS_KEY_PREFIX", key_prefix.clone()),
        ],
    }
}

/// `/proc/<pid>` counters of any process (the load generator's own too).
pub fn proc_stats(pid: u32) -> Option<ProcStats> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |v| v * 1024)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15 (1-based).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ProcStats {
        rss: kib("VmRSS:"),
        hwm: kib("VmHWM:"),
        user_secs: utime as f64 / hz,
        sys_secs: stime as f64 / hz,
    })
}

/// Raises this process's open-file limit to its hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit the calls read and write.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_instances_get_a_file_per_port_and_no_redis() {
        let dir = Path::new("/tmp/run");
        let env = storage_env(&Storage::Sqlite, dir, "127.0.0.1:4100".parse().unwrap());
        assert_eq!(
            env,
            vec![(
                "DATABASE_URL",
                "sqlite:///tmp/run/loadgen-4100.db".to_owned()
            )]
        );
    }

    #[test]
    fn shared_instances_get_the_same_database_redis_and_prefix() {
        let shared = Storage::Shared {
            database_url: "postgres://postgres@127.0.0.1:5432/loadgen_1_cluster".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            key_prefix: "loadgen-1-cluster".into(),
        };
        let a = storage_env(
            &shared,
            Path::new("/tmp"),
            "127.0.0.1:4101".parse().unwrap(),
        );
        let b = storage_env(
            &shared,
            Path::new("/tmp"),
            "127.0.0.1:4102".parse().unwrap(),
        );
        assert_eq!(a, b, "the port must not change what instances share");
        assert_eq!(
            a,
            vec![
                (
                    "DATABASE_URL",
                    "postgres://postgres@127.0.0.1:5432/loadgen_1_cluster".to_owned()
                ),
                ("REDIS_URL", "redis://127.0.0.1:6379".to_owned()),
                ("REDIS_KEY_PREFIX", "loadgen-1-cluster".to_owned()),
            ]
        );
    }
}
