//! # stellar-insights-ws
//!
//! The real-time layer of the Stellar Insights dashboard: the browser's one
//! WebSocket to `stellar-insights-server`, compiled to WebAssembly.
//!
//! Everything that decides is plain Rust that `cargo test` exercises natively:
//! [`protocol`] (the wire types, shared with the server). The browser glue
//! only moves events in and actions out.
#![deny(missing_docs)]

pub mod protocol;
