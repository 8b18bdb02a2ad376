//! The real binary: crash and restart on the same database, signals, and logs.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::process::{Server, Signal, Spec};
use common::{account, close_code, next_json, next_non_ping};
use serde_json::json;

/// Longest wait for the process to exit after a signal.
const EXIT_WAIT: Duration = Duration::from_secs(15);

/// The binary on a SQLite file `db`, with `env` on top.
fn spawn(db: &Path, env: &[(&str, &str)]) -> Server {
    Server::start(Spec::sqlite(db).env(env))
}

async fn health(server: &Server) -> serde_json::Value {
    reqwest::get(server.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post_anchor(server: &Server, n: u8) -> u16 {
    let r = reqwest::Client::new()
        .post(server.url("/api/anchors"))
        .bearer_auth("api-SECRET-456")
        .json(&json!({"name": format!("A{n}"), "stellar_account": account(n)}))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[tokio::test]
async fn restart_after_sigkill_replays_unseen_updates_and_seq_keeps_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data.db");
    let mut first = spawn(&db, &[]);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws", first.port()))
            .await
            .unwrap();
    assert_eq!(next_json(&mut ws).await["seq"], 0);
    for n in 1..=3 {
        assert_eq!(post_anchor(&first, n).await, 201);
        assert_eq!(next_non_ping(&mut ws).await["seq"], u64::from(n));
    }
    // Two more the client never reads, then a crash without any shutdown.
    for n in 4..=5 {
        assert_eq!(post_anchor(&first, n).await, 201);
    }
    first.signal(Signal::Kill);
    first.wait_exit(EXIT_WAIT);
    drop(ws);

    let second = spawn(&db, &[]);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws?since=3", second.port()))
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
    assert_eq!(post_anchor(&second, 6).await, 201);
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
    let base = format!("ws://127.0.0.1:{}/ws", server.port());
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
    assert_eq!(post_anchor(&server, 1).await, 201);
    assert_eq!(next_non_ping(&mut ws).await["type"], "anchor_update");
    server.signal(Signal::Term);
    assert_eq!(close_code(&mut ws).await, 1001);
    assert!(
        server.wait_exit(EXIT_WAIT).success(),
        "graceful exit code 0"
    );
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
    let server = Server::start(
        Spec::sqlite(&dir.path().join("unused.db"))
            .env(&cmd_env)
            .args(&["--demo"]),
    );
    let health = health(&server).await;
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
    let health = health(&server).await;
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

#[test]
fn bad_database_url_exits_with_code_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "mysql://app:db-secret@localhost/si",
        "postgres://app:db-secret@localhost:notaport/si",
        "sqlite://no-such-dir/si.db",
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"))
            .env_clear()
            .current_dir(dir.path())
            .env("SERVER_PORT", "0")
            .env("DATABASE_URL", url)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A URL that got through would leave a server running: give up after EXIT_WAIT.
        let deadline = std::time::Instant::now() + EXIT_WAIT;
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{url}: the server started");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(stderr.contains("DATABASE_URL"), "{url}: {stderr}");
        assert!(!stderr.contains("db-secret"), "{url}: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
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
    let mut server = Server::start(
        Spec::sqlite(&db)
            .env(&[("RUST_LOG", "debug")])
            .stop_reading_after_listening(),
    );
    // The pipe's read end is closed once the reader thread returns; requests
    // make the server log into it until a write fails.
    for _ in 0..20 {
        let r = reqwest::get(server.url("/health")).await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.signal(Signal::Term);
    let exit = server.wait_exit(EXIT_WAIT);
    assert!(exit.success(), "exit status {exit}");
}
