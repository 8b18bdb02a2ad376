//! Helpers of the browser tests: where the servers are, HTTP calls, waiting,
//! and JS callbacks that record what they receive.
//!
//! Ports come from `scripts/test-browser.sh` at compile time.
#![allow(dead_code)]

use js_sys::{Function, Object, Reflect};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Resets the page's client when dropped: bind one first in a test
/// (`let _client = ...`) so it drops last and leaves a clean client.
pub struct Fresh;

impl Drop for Fresh {
    fn drop(&mut self) {
        stellar_insights_ws::bindings::reset();
    }
}

/// The value of an API call that must succeed; the JS error in the panic otherwise.
pub fn ok<T>(r: Result<T, JsError>) -> T {
    r.unwrap_or_else(|e| panic!("{:?}", JsValue::from(e)))
}

fn port(value: Option<&'static str>, name: &str) -> &'static str {
    value.unwrap_or_else(|| {
        panic!("{name} is not set: run the browser tests through scripts/test-browser.sh")
    })
}

/// Port of the real `stellar-insights-server`.
pub fn server_port() -> &'static str {
    port(option_env!("SI_SERVER_PORT"), "SI_SERVER_PORT")
}

/// `http://127.0.0.1:<server>`.
pub fn server_http() -> String {
    format!("http://127.0.0.1:{}", server_port())
}

/// `ws://127.0.0.1:<server>/ws`.
pub fn server_ws() -> String {
    format!("ws://127.0.0.1:{}/ws", server_port())
}

/// `http://127.0.0.1:<testkit>`.
pub fn control_http() -> String {
    format!(
        "http://127.0.0.1:{}",
        port(option_env!("SI_CONTROL_PORT"), "SI_CONTROL_PORT")
    )
}

/// A testkit WebSocket fixture, e.g. `silent`.
pub fn fixture_ws(name: &str) -> String {
    format!(
        "ws://127.0.0.1:{}/fixture/{name}",
        port(option_env!("SI_CONTROL_PORT"), "SI_CONTROL_PORT")
    )
}

/// `ws://127.0.0.1:<proxy>/ws`: the server through the testkit's fault proxy.
pub fn proxy_ws() -> String {
    format!(
        "ws://127.0.0.1:{}/ws",
        port(option_env!("SI_PROXY_PORT"), "SI_PROXY_PORT")
    )
}

/// A loopback port nothing listens on.
pub fn closed_port_ws() -> String {
    format!(
        "ws://127.0.0.1:{}/ws",
        port(option_env!("SI_CLOSED_PORT"), "SI_CLOSED_PORT")
    )
}

/// Wait `ms` milliseconds.
pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Poll `cond` every 10 ms for up to `ms`; whether it became true.
pub async fn wait_for(ms: u32, mut cond: impl FnMut() -> bool) -> bool {
    let start = js_sys::Date::now();
    loop {
        if cond() {
            return true;
        }
        if js_sys::Date::now() - start > ms as f64 {
            return false;
        }
        sleep(10).await;
    }
}

/// An HTTP request; returns status and body text. Panics on network errors.
pub async fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
        let headers = web_sys::Headers::new().unwrap();
        headers.set("content-type", "application/json").unwrap();
        init.set_headers(&headers);
    }
    let request = web_sys::Request::new_with_str_and_init(url, &init).unwrap();
    let window = web_sys::window().unwrap();
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .unwrap_or_else(|e| panic!("{method} {url} failed: {e:?}"))
        .dyn_into()
        .unwrap();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap();
    (response.status(), text.as_string().unwrap_or_default())
}

/// `POST` to the testkit's control API (`server/stop`, ...); panics unless 200.
pub async fn control(path: &str) {
    let (status, body) = http("POST", &format!("{}/{path}", control_http()), None).await;
    assert_eq!(status, 200, "control {path}: {body}");
}

/// Value of the server's metric `name` (a gauge or counter without labels).
pub async fn server_metric(name: &str) -> i64 {
    let (_, text) = http("GET", &format!("{}/metrics", server_http()), None).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// Value of the server's `stellar_ws_connections_open` gauge.
pub async fn open_connections() -> i64 {
    server_metric("stellar_ws_connections_open").await
}

/// A fresh asset code (1–12 alphanumerics), so tests never collide.
pub fn unique_code(prefix: &str) -> String {
    let n = (js_sys::Math::random() * 1e7) as u32;
    format!("{prefix}{n}")
}

/// A random, valid Stellar account id (`G...` strkey with CRC16 checksum).
pub fn random_account() -> String {
    let mut payload = vec![6u8 << 3];
    payload.extend((0..32).map(|_| (js_sys::Math::random() * 256.0) as u8));
    let mut crc: u16 = 0;
    for byte in &payload {
        crc ^= (*byte as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    payload.extend(crc.to_le_bytes());
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut buffer, mut bits) = (String::new(), 0u32, 0);
    for byte in payload {
        buffer = (buffer << 8) | byte as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    out
}

const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

/// Create a corridor through REST (broadcasts a `corridor_update`); returns `(id, corridor_key)`.
pub async fn create_corridor(prefix: &str) -> (String, String) {
    let (src, dst) = (unique_code(prefix), unique_code(prefix));
    let body = format!(
        r#"{{"source_asset_code":"{src}","source_asset_issuer":"{ISSUER}","dest_asset_code":"{dst}","dest_asset_issuer":"{ISSUER}"}}"#
    );
    let (status, text) = http(
        "POST",
        &format!("{}/api/corridors", server_http()),
        Some(&body),
    )
    .await;
    assert_eq!(status, 201, "create corridor: {text}");
    let v = js_sys::JSON::parse(&text).unwrap();
    (str_field(&v, "id"), str_field(&v, "corridor_key"))
}

/// Update a corridor's metrics through REST (broadcasts a `corridor_update`).
pub async fn update_corridor(id: &str, total: u32) {
    let body = format!(
        r#"{{"total_transactions":{total},"successful_transactions":{total},"volume_usd":{total}.5}}"#
    );
    let url = format!("{}/api/corridors/{id}/metrics", server_http());
    let (status, text) = http("PUT", &url, Some(&body)).await;
    assert_eq!(status, 200, "update corridor: {text}");
}

/// Create an anchor through REST (broadcasts an `anchor_update`); returns its id.
pub async fn create_anchor() -> String {
    let body = format!(
        r#"{{"name":"{}","stellar_account":"{}"}}"#,
        unique_code("Anchor"),
        random_account()
    );
    let (status, text) = http(
        "POST",
        &format!("{}/api/anchors", server_http()),
        Some(&body),
    )
    .await;
    assert_eq!(status, 201, "create anchor: {text}");
    str_field(&js_sys::JSON::parse(&text).unwrap(), "id")
}

/// `obj[name]`.
pub fn field(obj: &JsValue, name: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[name]` as a string ("" when not one).
pub fn str_field(obj: &JsValue, name: &str) -> String {
    field(obj, name).as_string().unwrap_or_default()
}

/// `obj[name]` as a number (NaN when not one).
pub fn num_field(obj: &JsValue, name: &str) -> f64 {
    field(obj, name).as_f64().unwrap_or(f64::NAN)
}

/// A JS object from `(key, value)` pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

/// The options object for `configure`: `pairs`, plus `shareAcrossTabs: false`
/// when the suite is built with `SI_SHARE_ACROSS_TABS=false`
/// (`scripts/test-browser.sh` runs it once with sharing, the default, and once
/// without).
pub fn client_options(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = object(pairs);
    if option_env!("SI_SHARE_ACROSS_TABS") == Some("false") {
        Reflect::set(&o, &JsValue::from_str("shareAcrossTabs"), &JsValue::FALSE).unwrap();
    }
    o
}

/// A JS array of strings.
pub fn strings(items: &[&str]) -> JsValue {
    items
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect::<js_sys::Array>()
        .into()
}

/// A JS callback that records every argument it gets.
pub struct Recorder {
    items: Rc<RefCell<Vec<JsValue>>>,
    closure: Closure<dyn FnMut(JsValue)>,
}

impl Recorder {
    /// A new, empty recorder.
    pub fn new() -> Recorder {
        let items = Rc::new(RefCell::new(Vec::new()));
        let sink = items.clone();
        let closure = Closure::new(move |v: JsValue| sink.borrow_mut().push(v));
        Recorder { items, closure }
    }

    /// The JS function to register.
    pub fn function(&self) -> Function {
        self.closure.as_ref().unchecked_ref::<Function>().clone()
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<JsValue> {
        self.items.borrow().clone()
    }

    /// Number of calls so far.
    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    /// `name` field of every recorded value, as strings.
    pub fn strs(&self, name: &str) -> Vec<String> {
        self.all().iter().map(|v| str_field(v, name)).collect()
    }

    /// `name` field of every recorded value, as numbers.
    pub fn numbers(&self, name: &str) -> Vec<f64> {
        self.all().iter().map(|v| num_field(v, name)).collect()
    }

    /// Whether some recorded value has the number `value` in `name`.
    pub fn has_number(&self, name: &str, value: f64) -> bool {
        self.numbers(name).contains(&value)
    }

    /// Whether some recorded value has `name` == `value`.
    pub fn has(&self, name: &str, value: &str) -> bool {
        self.strs(name).iter().any(|v| v == value)
    }
}
