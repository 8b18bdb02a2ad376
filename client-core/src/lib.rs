//! # stellar-insights-client-core
//!
//! The sans-IO core of the Stellar Insights WebSocket client: everything that
//! decides, as plain Rust with no browser or wasm dependency, so `cargo test`
//! exercises it natively. The wasm package (`stellar-insights-ws`, the root
//! crate) feeds it browser events and performs the actions it returns; the
//! fault tests and the load generator drive the same machine over tokio
//! sockets.
//!
//! | module | what it decides |
//! |---|---|
//! | [`machine`] | the connection state machine: `handle(Event) -> actions` |
//! | [`backoff`] | reconnect delays (exponential, full jitter, capped) |
//! | [`filter`] | what each subscriber wants, and the server topics that cover it |
//! | [`frame`] | the cheap read of a server frame that routes it |
//! | [`json`] | the small JSON reader behind it |
//! | [`outgoing`] | the frames sent to the server |
//! | [`url`] | which URL to open |
//! | [`options`] | the JS options, checked |
//! | [`status`] | the status and error values the JS API reports |
//! | [`tabs`] | one socket per browser: leader election, relay, handover |
//! | [`store`] | the latest record per key of a state connection (versions, refs, deltas) |
//!
//! The wire types come from [`protocol`] (`stellar-insights-protocol`,
//! re-exported), which the server uses too.
//!
//! ```
//! use stellar_insights_client_core::machine::{Action, Config, Event, Machine};
//!
//! let mut machine = Machine::new(Config::default(), Box::new(|| 0.5));
//! let actions = machine.handle(0.0, Event::Connect);
//! assert!(actions.iter().any(|a| matches!(a, Action::Open(_))));
//! ```
//!
//! ## Connection states and transitions
//!
//! | from | event | to | actions |
//! |---|---|---|---|
//! | idle | `Acquire` (first, `autoConnect`) or `Connect` | connecting | open socket (`?token=`, `?since=`), connect timer |
//! | any | `Acquire` while the linger timer runs | same | cancel linger (StrictMode remount keeps the socket) |
//! | any | last `Release` | same | linger timer (0 ms) |
//! | any but idle | linger timer, still no consumer | idle | close 1000, cancel timers |
//! | connecting | `Opened` | open | cancel connect timer; heartbeat + stable timers; `subscribe` (topic union); flush send queue |
//! | connecting | connect timer | reconnecting / gave_up | `connect_timeout` error, close 4000, backoff |
//! | connecting, open | `Closed` | reconnecting / gave_up / closed | `socket_error`; backoff timer, or `gave_up` error, or closed when `autoReconnect` is off |
//! | open | `Frame` ping | open | send `pong` |
//! | open | `Frame` update with `seq` ≤ last delivered | open | nothing (de-duplication) |
//! | open | `Frame` connected / update / error / resync_required | open | deliver to matching subscribers; `server_error`; resync event |
//! | open | `Frame` malformed / unknown type | open | `malformed_frame` / `unknown_type` error |
//! | open | heartbeat timer, silent ≥ factor × `heartbeat_ms` | reconnecting / gave_up | `heartbeat_timeout` error, close 4000, backoff |
//! | open | heartbeat timer, frames since | open | re-arm for the remaining time |
//! | open | stable timer | open | attempt counter reset |
//! | reconnecting | reconnect timer, online | connecting | open socket |
//! | reconnecting | `Online`, `Visible`, `Connect` | connecting | cancel reconnect timer, open socket at once |
//! | reconnecting | `Offline` | reconnecting | cancel reconnect timer (no attempt while offline) |
//! | open | `Visible` with a dead socket | connecting | close, open a new socket at once |
//! | gave_up, closed | `Connect` | connecting | attempts reset, open socket |
//! | any | `Disconnect` | closed | close 1000, cancel timers |
//! | any | `Send` | same | send when open, else queue; full queue → `queue_overflow` |
//!
//! Backoff: attempt *n* (1-based) waits a uniform random delay in
//! `[0, min(cap, base · 2^n)]`; after `maxReconnectAttempts` failed
//! attempts without a connection that stayed open for `stableAfter` ms the
//! client gives up.
#![deny(missing_docs)]
// Size rules (see clippy.toml): str slicing pulls char `Debug` formatting and
// Unicode tables in through its panic path; `get` does not. Tests are exempt.
#![cfg_attr(not(test), deny(clippy::string_slice))]
#![cfg_attr(
    test,
    allow(
        clippy::disallowed_macros,
        clippy::disallowed_methods,
        clippy::disallowed_types
    )
)]

pub use stellar_insights_protocol as protocol;

pub mod backoff;
pub mod filter;
pub mod frame;
pub mod json;
pub mod machine;
pub mod options;
pub mod outgoing;
pub mod status;
pub mod store;
pub mod tabs;
pub mod text;
pub mod url;
