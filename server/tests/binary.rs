//! The real binary: crash and restart on the same database, signals, and logs.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{account, close_code, next_json, next_non_ping};
use serde_json::json;

struct Proc {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

fn spawn(db: &std::path::Path, env: &[(&str, &str)]) -> Proc {
    spawn_with_args(db, env, &[])
}

fn spawn_with_args(db: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Proc {
    spawn_logging(db, env, args, true)
}

/// `keep_reading: false` closes the read end of the server's stderr right
/// after its `listening on` line, as a log collector that died would.
fn spawn_logging(
    db: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
    keep_reading: bool,
) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"));
    cmd.args(args)
        .env_clear()
        .current_dir(db.parent().unwrap())
        .env("SERVER_PORT", "0")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("STATIC_DIR", db.parent().unwrap().join("no-dashboard"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(port) = line
                .split("listening on http://")
                .nth(1)
                .and_then(|a| a.rsplit(':').next())
            {
                let _ = tx.send(port.trim().parse::<u16>().unwrap());
                if !keep_reading {
                    return;
                }
            }
            sink.lock().unwrap().push(line);
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("no listening line in {:?}", log.lock().unwrap()));
    Proc { child, port, log }
}

impl Proc {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn post_anchor(&self, n: u8) -> u16 {
        let r = reqwest::Client::new()
            .post(self.url("/api/anchors"))
            .bearer_auth("api-SECRET-456")
            .json(&json!({"name": format!("A{n}"), "stellar_account": account(n)}))
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn restart_after_sigkill_replays_unseen_updates_and_seq_keeps_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    let mut first = spawn(&db, &[]);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", first.port))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["seq"], 0);
    for n in 1..=3 {
        assert_eq!(first.post_anchor(n).await, 201);
        assert_eq!(next_non_ping(&mut ws).await["seq"], u64::from(n));
    }
    // Two more the client never reads, then a crash without any shutdown.
    for n in 4..=5 {
        assert_eq!(first.post_anchor(n).await, 201);
    }
    first.child.kill().unwrap(); // SIGKILL
    first.wait_exit();
    drop(ws);

    let second = spawn(&db, &[]);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws?since=3", second.port))
            .await
            .unwrap();
    let hello = next_json(&mut ws).await;
    assert_eq!(
        (hello["resumed"].as_bool(), hello["seq"].as_u64()),
        (Some(true), Some(5)),
        "{hello}"
    );
    let replayed = [next_non_ping(&mut ws).await, next_non_ping(&mut ws).await];
    assert_eq!(
        replayed
            .iter()
            .map(|f| f["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(replayed[1]["name"], "A5");
    assert_eq!(second.post_anchor(6).await, 201);
    assert_eq!(
        next_non_ping(&mut ws).await["seq"],
        6,
        "numbering continues after the restart"
    );
}

#[tokio::test]
async fn tokens_never_appear_in_logs_and_sigterm_closes_clients_with_1001() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    let mut server = spawn(
        &db,
        &[
            ("RUST_LOG", "trace"),
            ("WS_AUTH_TOKEN", "tok-SECRET-123"),
            ("API_AUTH_TOKEN", "api-SECRET-456"),
        ],
    );
    let base = format!("ws://127.0.0.1:{}/ws", server.port);
    assert!(
        tokio_tungstenite::connect_async(format!("{base}?token=WRONG-SECRET-789"))
            .await
            .is_err()
    );
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{base}?since=0&token=tok-SECRET-123"))
            .await
            .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(server.post_anchor(1).await, 201);
    assert_eq!(next_non_ping(&mut ws).await["type"], "anchor_update");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(close_code(&mut ws).await, 1001);
    assert!(server.wait_exit().success(), "graceful exit code 0");
    std::thread::sleep(Duration::from_millis(100)); // let the reader thread take the last lines
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.contains("token=REDACTED"),
        "the request URI is logged, redacted:\n{log}"
    );
    assert!(
        !log.contains("SECRET"),
        "a token leaked into the log:\n{log}"
    );
    assert!(log.contains("stopped"));
}

#[tokio::test]
async fn demo_flag_turns_demo_mode_on_and_default_database_file_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd_env: Vec<(&str, &str)> = vec![("DEMO_TICK_MS", "100")];
    // DATABASE_URL is overridden to the default relative file, created in the working directory.
    cmd_env.push(("DATABASE_URL", ""));
    let server = spawn_with_args(&dir.path().join("unused.db"), &cmd_env, &["--demo"]);
    let health: serde_json::Value = reqwest::get(server.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["demo"], true);
    assert!(
        dir.path().join("stellar-insights.db").is_file(),
        "default sqlite://stellar-insights.db created on first start"
    );
}

#[tokio::test]
async fn dotenv_file_in_the_working_directory_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "DEMO_MODE=true\nDEMO_TICK_MS=5000\n",
    )
    .unwrap();
    let server = spawn(&dir.path().join("data.db"), &[]);
    let health: serde_json::Value = reqwest::get(server.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["demo"], true);
}

#[test]
fn bad_configuration_exits_with_code_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"))
        .env_clear()
        .current_dir(dir.path())
        .env("WS_PING_INTERVAL_SECS", "often")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WS_PING_INTERVAL_SECS") && stderr.contains("often"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("stellar-insights.db").exists(),
        "nothing is created before the configuration is valid"
    );
}

/// Found by the soak: a server whose stderr reader had gone kept running
/// after SIGTERM. Writing "shutting down" failed with EPIPE, the log
/// subscriber reported that with `eprintln!`, which panicked on the same
/// broken stderr, and the panic ended the task that was shutting down. At
/// `debug` the same panic came from request logging: before the fix this test
/// fails earlier, on a refused connection, because the server has died.
#[tokio::test]
async fn sigterm_stops_the_server_even_when_its_stderr_is_a_broken_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    let mut server = spawn_logging(&db, &[("RUST_LOG", "debug")], &[], false);
    // The pipe's read end is closed once the reader thread returns; requests
    // make the server log into it until a write fails.
    for _ in 0..20 {
        let r = reqwest::get(server.url("/health")).await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(server.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.wait_exit();
    assert!(exit.success(), "exit status {exit}");
}
