//! Measurement behind a design choice of the client: how a frame becomes the
//! JS object handed to subscribers. A benchmark, not a test: it asserts no
//! timing (the machine is shared and noisy). `bench/delivery.sh` runs it in a
//! release build and writes the printed numbers to `bench/RESULTS.md`.
// The size rules in clippy.toml are for the shipped client, not its tests.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]
#![cfg(target_arch = "wasm32")]

use serde::Serialize;
use stellar_insights_protocol::ServerMessage;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = JSON, js_name = parse)]
    fn parse_js(text: &JsValue) -> JsValue;
}

const FRAME: &str = r#"{"type":"corridor_update","corridor_id":"5f0c6a8e-3c1e-4d55-9a77-0b6f3c1d2e4f","corridor_key":"USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN->EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6FJY4ITNPP2","success_rate":99.25,"volume_usd":1234567.89,"total_transactions":100542,"seq":4242}"#;
const ROUNDS: u32 = 20_000;

fn now() -> f64 {
    web_sys::window().unwrap().performance().unwrap().now()
}

/// Microseconds per frame of `f`, best of 3 runs of `ROUNDS`.
fn per_frame(mut f: impl FnMut() -> JsValue) -> f64 {
    let sink = js_sys::Array::new();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = now();
        for i in 0..ROUNDS {
            let v = f();
            // Keep one result per run alive so the engine cannot skip work.
            if i == 0 {
                sink.push(&v);
            }
        }
        best = best.min((now() - start) * 1000.0 / ROUNDS as f64);
    }
    best
}

#[wasm_bindgen_test]
fn measure_delivery_paths() {
    let js_text = JsValue::from_str(FRAME);
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let typed = ServerMessage::from_json(FRAME).unwrap();

    let rust_parse_and_build = per_frame(|| {
        let msg = ServerMessage::from_json(FRAME).unwrap();
        msg.serialize(&serializer).unwrap()
    });
    let rust_build_only = per_frame(|| typed.serialize(&serializer).unwrap());
    let js_parse_socket_string = per_frame(|| parse_js(&js_text));
    let js_parse_copied_text = per_frame(|| js_sys::JSON::parse(FRAME).unwrap());

    console_log!(
        "MEASURE per corridor_update frame ({} bytes), best of 3 x {ROUNDS}: \
         Rust parse + serde-wasm-bindgen object {rust_parse_and_build:.3} us; \
         serde-wasm-bindgen object from an already parsed message {rust_build_only:.3} us; \
         JSON.parse of the socket's JS string {js_parse_socket_string:.3} us; \
         JSON.parse of text copied out of wasm {js_parse_copied_text:.3} us",
        FRAME.len()
    );
}
