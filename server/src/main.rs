//! `stellar-insights-server`: reads the configuration, binds, serves until SIGINT/SIGTERM.

use std::io::IsTerminal;
use std::process::ExitCode;

use stellar_insights_server::{serve, shutdown_signal, Config};

/// mimalloc instead of glibc's malloc (issue 16 §2): with 10 000 connections
/// glibc's heap is fragmented by the buffers each upgrade frees, and every
/// allocation of a REST request walked its bins (`malloc_consolidate`,
/// `unlink_chunk`): several % of the server's CPU during fan-out (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        // A log line that cannot be written is dropped. Otherwise the
        // subscriber reports the failure with `eprintln!`, which panics when
        // stderr itself is the broken pipe, and a panic in the task logging
        // "shutting down" left the server running after SIGTERM.
        .log_internal_errors(false)
        .init();
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::args().skip(1).any(|a| a == "--demo") {
        if config.ingest.is_some() {
            eprintln!("configuration error: --demo and INGEST=horizon exclude each other (pick one source)");
            return ExitCode::from(2);
        }
        config.demo_mode = true;
    }
    let listener = match tokio::net::TcpListener::bind((config.host, config.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot bind {}:{}: {e}", config.host, config.port);
            return ExitCode::FAILURE;
        }
    };
    match serve(config, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
