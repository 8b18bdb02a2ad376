//! The real `stellar-insights-server` binary as a child process: started, read for its
//! `listening on http://ADDR` line, signalled, waited for, and restarted on the same port
//! and data. Shared by the `common` and `fault` harnesses (each pulls this file in), so it
//! depends on nothing but std and `tempfile`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for the `listening on` line: a cold start on a busy machine is slow.
const LISTEN_WAIT: Duration = Duration::from_secs(30);

/// How to start the binary.
pub struct Spec {
    dir: PathBuf,
    /// Owned working directory, removed with the server.
    tmp: Option<tempfile::TempDir>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    clear_env: bool,
    keep_reading: bool,
}

impl Spec {
    /// Runs in `dir` (so only a `.env` placed there is read), with the environment cleared
    /// and these defaults, each overridable with [`Spec::env`]: `SERVER_PORT=0`,
    /// `STATIC_DIR=<dir>/no-dashboard` (absent: no dashboard), `RUST_LOG=info`.
    pub fn new(dir: &Path) -> Spec {
        Spec {
            dir: dir.to_owned(),
            tmp: None,
            args: Vec::new(),
            env: vec![
                ("SERVER_PORT".into(), "0".into()),
                (
                    "STATIC_DIR".into(),
                    dir.join("no-dashboard").display().to_string(),
                ),
                ("RUST_LOG".into(), "info".into()),
            ],
            clear_env: true,
            keep_reading: true,
        }
    }

    /// As [`Spec::new`] in a fresh temporary directory that lives as long as the server.
    pub fn in_temp_dir() -> Spec {
        let tmp = tempfile::tempdir().unwrap();
        let mut spec = Spec::new(tmp.path());
        spec.tmp = Some(tmp);
        spec
    }

    /// Same as [`Spec::new`] with `DATABASE_URL=sqlite://<db>` in the file's directory.
    pub fn sqlite(db: &Path) -> Spec {
        Spec::new(db.parent().unwrap())
            .env(&[("DATABASE_URL", &format!("sqlite://{}", db.display()))])
    }

    /// Adds variables; later ones win over earlier ones and over the defaults.
    pub fn env(mut self, vars: &[(&str, &str)]) -> Spec {
        self.env
            .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Command-line arguments (default: none).
    pub fn args(mut self, args: &[&str]) -> Spec {
        self.args = args.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Keeps the test's own environment under the variables set here (default: cleared).
    pub fn inherit_env(mut self) -> Spec {
        self.clear_env = false;
        self
    }

    /// Closes the read end of the server's stderr right after its `listening on` line (which
    /// is then not logged), as a log collector that died would (default: read to the end).
    pub fn stop_reading_after_listening(mut self) -> Spec {
        self.keep_reading = false;
        self
    }
}

/// A signal for [`Server::signal`].
#[derive(Clone, Copy, Debug)]
pub enum Signal {
    /// SIGTERM: graceful shutdown.
    Term,
    /// SIGKILL: no shutdown, no close frames, sockets reset by the kernel, as a crash.
    Kill,
}

/// The running (or exited) binary; SIGKILLed and reaped on drop.
pub struct Server {
    spec: Spec,
    child: Option<Child>,
    /// Where it listens; a restart keeps the port.
    pub addr: SocketAddr,
    /// Its stderr lines, across restarts.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary and waits (up to 30 s) for its `listening on` line.
    pub fn start(spec: Spec) -> Server {
        let mut server = Server {
            spec,
            child: None,
            addr: "127.0.0.1:0".parse().unwrap(),
            log: Arc::new(Mutex::new(Vec::new())),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let spec = &self.spec;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"));
        if spec.clear_env {
            cmd.env_clear();
        }
        cmd.args(&spec.args)
            .current_dir(&spec.dir)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if self.addr.port() != 0 {
            // A restart: clients and proxies in front keep pointing at the same port.
            cmd.env("SERVER_PORT", self.addr.port().to_string());
        }
        let mut child = cmd.spawn().expect("server binary starts");
        let stderr = child.stderr.take().unwrap();
        let keep_reading = spec.keep_reading;
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    let _ = tx.send(
                        addr.parse::<SocketAddr>()
                            .expect("listening address parses"),
                    );
                    if !keep_reading {
                        return;
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        self.addr = rx
            .recv_timeout(LISTEN_WAIT)
            .unwrap_or_else(|_| panic!("no listening line in {:?}", self.log.lock().unwrap()));
        self.child = Some(child);
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn child(&self) -> &Child {
        self.child.as_ref().expect("server process started")
    }

    /// Process id of the server.
    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// Sends `signal` without waiting for the exit.
    pub fn signal(&mut self, signal: Signal) {
        match signal {
            Signal::Kill => self.child.as_mut().unwrap().kill().unwrap(),
            Signal::Term => {
                let status = Command::new("kill")
                    .arg("-TERM")
                    .arg(self.pid().to_string())
                    .status()
                    .unwrap();
                assert!(status.success(), "kill -TERM failed: {status}");
            }
        }
    }

    /// Waits for the process to exit, failing the test after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap; a no-op once killed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGKILL, then starts it again with the same settings on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Whether the process is still running (false once it has exited or been killed).
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Resident set size of the process, KiB (from /proc; 0 when unreadable).
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Open file descriptors of the process, count (from /proc; 0 when unreadable).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
