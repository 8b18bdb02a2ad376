//! Plain Rust values from the JS objects passed to `configure` and `subscribe`.
//!
//! Read field by field with `Reflect` rather than through JSON and serde:
//! the deserializer would cost far more wasm than these few getters.

use crate::filter::Filter;
use crate::options::ClientOptions;
use crate::text::cat;
use js_sys::{Array, Reflect};
use wasm_bindgen::JsValue;

fn field(obj: &JsValue, name: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

fn string(obj: &JsValue, name: &str) -> Result<Option<String>, String> {
    let v = field(obj, name);
    if absent(&v) {
        return Ok(None);
    }
    v.as_string()
        .map(Some)
        .ok_or_else(|| cat(&["`", name, "` must be a string"]))
}

fn number(obj: &JsValue, name: &str) -> Result<Option<f64>, String> {
    let v = field(obj, name);
    if absent(&v) {
        return Ok(None);
    }
    v.as_f64()
        .map(Some)
        .ok_or_else(|| cat(&["`", name, "` must be a number"]))
}

fn boolean(obj: &JsValue, name: &str) -> Result<Option<bool>, String> {
    let v = field(obj, name);
    if absent(&v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| cat(&["`", name, "` must be true or false"]))
}

fn strings(obj: &JsValue, name: &str) -> Result<Option<Vec<String>>, String> {
    let v = field(obj, name);
    if absent(&v) {
        return Ok(None);
    }
    let error = || cat(&["`", name, "` must be an array of strings"]);
    if !Array::is_array(&v) {
        return Err(error());
    }
    // A loop, not `iter().map().collect::<Result<..>>()`: its adapter
    // chain costs ~0.4 KB more wasm.
    let array = Array::from(&v);
    let mut out = Vec::new();
    for i in 0..array.length() {
        out.push(array.get(i).as_string().ok_or_else(error)?);
    }
    Ok(Some(out))
}

fn object<'a>(v: &'a JsValue, what: &str) -> Result<Option<&'a JsValue>, String> {
    if absent(v) {
        Ok(None)
    } else if v.is_object() && !Array::is_array(v) {
        Ok(Some(v))
    } else {
        Err(cat(&[what, " must be an object"]))
    }
}

/// `ClientOptions` from a JS object; `undefined`/`null` give the defaults.
pub(crate) fn options(v: &JsValue) -> Result<ClientOptions, String> {
    let Some(o) = object(v, "options")? else {
        return Ok(ClientOptions::default());
    };
    let max = field(o, "maxReconnectAttempts");
    let max_reconnect_attempts = if max.is_undefined() {
        None
    } else if max.is_null() {
        Some(None)
    } else {
        match max.as_f64() {
            Some(n) if n == f64::INFINITY => Some(None),
            Some(n) => Some(Some(n)),
            None => return Err("`maxReconnectAttempts` must be a number or null".into()),
        }
    };
    Ok(ClientOptions {
        url: string(o, "url")?,
        env_url: string(o, "envUrl")?,
        port: number(o, "port")?,
        env_port: number(o, "envPort")?,
        same_origin: boolean(o, "sameOrigin")?,
        token: string(o, "token")?,
        auto_connect: boolean(o, "autoConnect")?,
        auto_reconnect: boolean(o, "autoReconnect")?,
        max_reconnect_attempts,
        reconnect_interval: number(o, "reconnectInterval")?,
        max_reconnect_delay: number(o, "maxReconnectDelay")?,
        stable_after: number(o, "stableAfter")?,
        heartbeat_timeout_factor: number(o, "heartbeatTimeoutFactor")?,
        connect_timeout: number(o, "connectTimeout")?,
        send_queue_limit: number(o, "sendQueueLimit")?,
        share_across_tabs: boolean(o, "shareAcrossTabs")?,
        state: boolean(o, "state")?,
    })
}

/// A `Filter` from a JS object; `undefined`/`null` give the empty filter.
pub(crate) fn filter(v: &JsValue) -> Result<Filter, String> {
    let Some(f) = object(v, "filter")? else {
        return Ok(Filter::default());
    };
    Ok(Filter {
        types: strings(f, "types")?,
        corridor_keys: strings(f, "corridorKeys")?,
        anchor_ids: strings(f, "anchorIds")?,
    })
}
