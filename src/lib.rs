//! # stellar-insights-ws
//!
//! The real-time layer of the Stellar Insights dashboard: the browser's one
//! WebSocket to `stellar-insights-server`, compiled to WebAssembly.
//!
//! Everything that decides is plain Rust that `cargo test` exercises natively:
//! [`protocol`] (the wire types, shared with the server), [`backoff`] (reconnect
//! delays), [`filter`] (subscriptions and server topics), [`frame`] (the cheap
//! parse that routes frames), [`json`] (its reader), [`outgoing`] (frames
//! to the server), [`url`] (which URL to
//! open), [`options`] (the JS options, checked) and [`machine`] (the connection
//! state machine). The browser glue (`browser`, `bindings`, wasm32 only) only
//! moves events in and actions out.
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
//!
//! ## Build, size and delivery path
//!
//! `wasm-pack build --target web --release` (wasm-pack 0.15.1, binaryen
//! 132's `wasm-opt` from `tools/`, with `-Oz` and the flags in
//! `[package.metadata.wasm-pack.profile.release]`) writes `pkg/`. The
//! workspace `[profile.release]` is size-tuned (`opt-level = "z"`, fat LTO,
//! one codegen unit); `stellar-insights-server` overrides `opt-level = 3`.
//! Its dependencies are compiled at "z", but with fat LTO the server's link
//! step re-optimises the whole program at the binary crate's level (not
//! benchmarked here; a `[profile.release.package."*"]` override would also
//! grow the wasm, so it was not added). `scripts/build-wasm.sh` then minifies
//! the JS glue with esbuild (its docs stay in the `.d.ts`). Measured
//! 2026-11-26 (`cd bench && npm run size`): `stellar_insights_ws_bg.wasm`
//! 33.5 KB gzip -9 + `stellar_insights_ws.js` (with the crate's inline JS
//! bundled in) 4.4 KB = 37.9 KB gzipped, under the 40 KB aim, built with
//! stable Rust. The one-crossing frame path below costs 1.1 KB of that
//! (UTF-8 check of the copied text 0.4 KB, inlined parser helpers 0.2 KB,
//! the listener's JS 0.25 KB); it was 36.8 KB without it. It was 51.5 KB: a
//! smaller allocator replaced dlmalloc (-3.0 KB; talc now, +0.5 KB, see
//! `bench/README.md`), the JSON reader stopped indexing `str` (whose panic
//! path pulled char `Debug` and Unicode tables, -3.9 KB),
//! wasm-opt got the passes listed in Cargo.toml (-0.6 KB); then, from 44.1 KB:
//! the minified glue (-2.5 KB), messages built without `core::fmt` (no
//! `format!`, own integer writer in `text`, -1.4 KB), the send queue as a
//! `Vec` flushed whole (-1.0 KB), plain loops instead of iterator-adapter
//! chains (-0.9 KB), integers and `\u` escapes read without
//! `str::parse`/`from_str_radix` (-0.5 KB), URL redaction without `str`
//! pattern search (-0.3 KB), and smaller cuts (-0.5 KB; `bench/README.md`
//! lists each). What remains is mostly the machine and glue, std's panic
//! formatting (reachable on stable through std's panic handler only), and
//! wasm-bindgen's closure/ABI shims. The
//! module has no serde code: frames are read by the crate's own [`json`]
//! reader, JS options by `Reflect`, and outgoing frames are written by
//! [`outgoing`]; with serde_json it was 93 KB gzipped.
//!
//! A frame becomes the JS object subscribers get by `JSON.parse` of the very
//! JS string the socket delivered, once per frame, shared by all subscribers,
//! and only when at least one subscriber wants it (routing uses the Rust-side
//! read of `type`/`seq`/key). Measured per 305-byte `corridor_update` in
//! headless Chromium, release build (`tests/measure.rs`): `JSON.parse` of the
//! socket string 0.34 µs; `JSON.parse` of text copied out of wasm 0.71 µs;
//! serde-wasm-bindgen object from an already parsed Rust message 1.14 µs,
//! 2.04 µs including the typed Rust parse.
//!
//! Each frame crosses into wasm once: the crate's own `onmessage` listener
//! (inline JS in `browser/socket.rs`) copies the text into a reused buffer in
//! wasm memory and calls a raw wasm export with its length. Routing a frame
//! that no subscriber wants costs about 1.3 µs of main-thread time per
//! 300-byte frame in headless Chromium here, against 0.6 µs for a bare
//! `JSON.parse` + `Map` client (`bench/dispatch`, the replay table).
#![deny(missing_docs)]

pub mod backoff;
pub mod filter;
pub mod frame;
pub mod json;
pub mod machine;
pub mod options;
pub mod outgoing;
pub mod protocol;
pub mod status;
pub mod url;

mod text;

#[cfg(target_arch = "wasm32")]
pub mod bindings;

// talc instead of std's dlmalloc, for size (bench/README.md, "Allocator").
// Its `TalcSyncCell` takes no lock and is sound only where one thread runs
// the module, hence the cfg: with `atomics`, std's allocator stays.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static HEAP: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
#[cfg(target_arch = "wasm32")]
mod browser;
