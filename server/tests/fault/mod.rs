//! Fault-test parts: a TCP fault proxy, a native client on the wasm client's
//! state machine, the real server binary under SIGKILL and restart, and the
//! REST calls these tests share.
#![allow(dead_code)]

pub mod client;
#[path = "../common/process.rs"]
pub mod process;
pub mod proxy;
pub mod rest;
pub mod server;
