//! The real server binary as a child process that can be SIGKILLed and
//! restarted on the same port and database.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server binary, its settings and, while it runs, its process.
pub struct ServerProc {
    db: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Where it listens (fixed after the first start).
    pub addr: SocketAddr,
}

impl ServerProc {
    /// Starts the binary on a free port with a SQLite file in `dir` and `env` on top.
    pub fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> ServerProc {
        let mut s = ServerProc {
            db: dir.join("faults.db"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"));
        cmd.env_clear()
            .current_dir(self.db.parent().unwrap())
            .env("SERVER_PORT", self.addr.port().to_string())
            .env("DATABASE_URL", format!("sqlite://{}", self.db.display()))
            .env("STATIC_DIR", self.db.parent().unwrap().join("no-dashboard"))
            .env("RUST_LOG", "warn,stellar_insights_server=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("server binary starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server logs its listening address");
        self.addr = addr.parse().expect("listening address parses");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no close frames, sockets reset by the kernel.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same port and database.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Whether the process is still running (false once it has exited).
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Resident set size of the process, KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.child.as_ref().unwrap().id(), "VmRSS:")
    }

    /// Open file descriptors of the process, count (from /proc).
    pub fn open_fds(&self) -> usize {
        let pid = self.child.as_ref().unwrap().id();
        std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
    }
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.kill();
    }
}
