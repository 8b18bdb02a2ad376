//! The browser client in the soak: `bench/soak/browser.mjs` runs the real
//! wasm client from `pkg/` in headless Chromium against a WebSocket URL and
//! answers one JSON sample per line asked on its stdin. Dropping [`Browser`]
//! ends node and, through it, Chromium, on every exit path of the test
//! (a failed assert unwinds through the drop; if the test process itself
//! dies, node sees its stdin close and exits on its own).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// How long Chromium may take to start and load the page.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one sample may take (a forced GC and a page evaluate).
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One sample of the page, as `browser.mjs` prints it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BrowserSample {
    /// Wasm linear memory, bytes (`memory.buffer.byteLength`; never shrinks).
    pub wasm_bytes: u64,
    /// Used JS heap right after a forced GC, bytes.
    pub js_heap_bytes: u64,
    /// `corridor_update`s delivered to the subscriber so far, count.
    pub delivered: u64,
    /// `seq` of the last delivered update (0 before any).
    pub last_seq: u64,
    /// Deliveries whose `seq` was not above the previous one, count.
    pub seq_violations: u64,
    /// Transitions to state `open`, count.
    pub opens: u64,
    /// `onResync` calls, count.
    pub resyncs: u64,
    /// `onError` calls by error code.
    pub errors: BTreeMap<String, u64>,
}

/// The running node script; see the module doc.
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

/// The repository root (the parent of `server/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

impl Browser {
    /// Starts the page on `ws_url` and waits until the client is subscribed.
    /// Panics with what to run when `pkg/` or `bench/node_modules` is missing.
    pub fn start(ws_url: &str) -> Browser {
        Browser::start_in(&repo_root(), ws_url)
    }

    /// [`Browser::start`] for the repository checked out at `root`.
    pub fn start_in(root: &Path, ws_url: &str) -> Browser {
        let wasm = root.join("pkg/stellar_insights_ws_bg.wasm");
        assert!(
            wasm.exists(),
            "soak browser: {} is missing: run scripts/build-wasm.sh (or SOAK_BROWSER=0 to skip the browser)",
            wasm.display()
        );
        let playwright = root.join("bench/node_modules/playwright-core");
        assert!(
            playwright.exists(),
            "soak browser: {} is missing: run `npm ci` in bench/ (or SOAK_BROWSER=0 to skip the browser)",
            playwright.display()
        );
        let mut child = Command::new("node")
            .arg("soak/browser.mjs")
            .arg(ws_url)
            .current_dir(root.join("bench"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("soak browser: `node` runs (Node 20 on PATH)");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut browser = Browser {
            stdin: child.stdin.take(),
            child,
            lines,
        };
        let ready = browser.next_line(READY_TIMEOUT, "start");
        assert_eq!(
            ready, r#"{"ready":true}"#,
            "soak browser: unexpected first line"
        );
        browser
    }

    fn next_line(&mut self, timeout: Duration, what: &str) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(_) => panic!(
                "soak browser: no {what} line within {timeout:?} (node {}; see its stderr above)",
                match self.child.try_wait() {
                    Ok(Some(status)) => format!("exited: {status}"),
                    _ => "still running".to_owned(),
                }
            ),
        }
    }

    /// Asks for one sample and waits for it (blocking, at most 30 s).
    pub fn sample(&mut self) -> BrowserSample {
        let asked = self
            .stdin
            .as_mut()
            .map(|s| s.write_all(b"\n").and_then(|()| s.flush()));
        assert!(
            matches!(asked, Some(Ok(()))),
            "soak browser: node no longer reads its stdin"
        );
        let line = self.next_line(SAMPLE_TIMEOUT, "sample");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("soak browser: bad sample line {line:?}: {e}"))
    }
}

impl Browser {
    fn exits_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // EOF on stdin: node closes Chromium itself (a SIGKILL of node would
        // orphan Chromium, which runs in its own process group).
        drop(self.stdin.take());
        if self.exits_within(Duration::from_secs(10)) {
            return;
        }
        // Stuck: SIGTERM still lets Playwright close Chromium; SIGKILL last.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        if self.exits_within(Duration::from_secs(5)) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
