//! # stellar-insights-ws
//!
//! The wasm package of the Stellar Insights real-time layer: the browser's one
//! WebSocket to `stellar-insights-server`, built into `pkg/` by
//! `scripts/build-wasm.sh` (wasm-pack, `--target web`).
//!
//! This crate is glue only. Everything that decides (the connection state
//! machine, backoff, filters, the frame reader, URLs, options) lives in
//! `stellar-insights-client-core` and the wire types in
//! `stellar-insights-protocol`; both are plain Rust tested natively. Here,
//! `bindings` is the JS API (`configure`, `acquire`/`release`,
//! `connect`/`disconnect`, `subscribe`, `onStatus`, `onError`, `onResync`,
//! the getters) and `browser` turns web-sys events into machine events and
//! machine actions into web-sys calls. The allocator is `talc` (see
//! `bench/README.md`, "Allocator").
//!
//! From JS:
//!
//! ```js
//! import init, { configure, acquire, subscribe } from 'stellar-insights-ws';
//! await init();
//! configure({ url: 'ws://127.0.0.1:8080/ws' });
//! const unsubscribe = subscribe({ types: ['corridor_update'] }, (msg) => console.log(msg.success_rate));
//! acquire();
//! ```
//!
//! Each frame crosses into wasm once, through the crate's own `onmessage`
//! listener (inline JS in `browser/socket.rs`) and a raw wasm export. An
//! update in the server's member order (`type`, `seq`, key first) is read
//! there in JS and handed to wasm as numbers (kind, `seq`, the key's id), so
//! its text is never copied into wasm and a frame nobody wants is never read
//! further; any other frame is copied into a reused buffer in wasm memory and
//! read whole. Subscribers get `JSON.parse` of the socket's own string,
//! parsed once per frame and only when someone wants it. Sizes and per-frame costs are measured in `bench/` (`bench/README.md`,
//! `bench/RESULTS.md`), not here.
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

#[cfg(target_arch = "wasm32")]
use stellar_insights_client_core::{filter, frame, machine, options, status, tabs, text, url};

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
