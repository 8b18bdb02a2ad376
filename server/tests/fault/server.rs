//! The real server binary as a child process that can be SIGKILLed and
//! restarted on the same port and database.

pub use super::process::Server;
use super::process::Spec;

/// Starts the binary on a free port with the SQLite file `faults.db` in `dir`, logging
/// warnings and the server's own info lines, with `env` on top.
pub fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
    Server::start(
        Spec::sqlite(&dir.join("faults.db"))
            .env(&[("RUST_LOG", "warn,stellar_insights_server=info")])
            .env(env),
    )
}
