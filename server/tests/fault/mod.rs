//! Fault-test parts: a TCP fault proxy, a native client on the wasm client's
//! state machine, and the real server binary under SIGKILL and restart.
#![allow(dead_code)]

pub mod client;
pub mod proxy;
pub mod server;
