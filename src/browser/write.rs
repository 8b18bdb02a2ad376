//! JS objects for `onStatus`, `onError` and `onResync`, built with `Reflect`.
//!
//! Their shapes are the serde/tsify declarations in [`crate::status`]; building
//! them directly keeps serde_json's serializer out of the wasm module.

use crate::status::{ConnectionStatus, ResyncEvent, WsError};
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

fn set(obj: &Object, key: &str, value: JsValue) {
    // Cannot fail on a plain, extensible object.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value);
}

fn set_opt(obj: &Object, key: &str, value: Option<JsValue>) {
    if let Some(value) = value {
        set(obj, key, value);
    }
}

/// A `ConnectionStatus` object.
pub(crate) fn status(s: &ConnectionStatus) -> JsValue {
    let o = Object::new();
    set(&o, "state", s.state.as_str().into());
    set(&o, "attempt", s.attempt.into());
    set_opt(&o, "delayMs", s.delay_ms.map(|v| (v as f64).into()));
    set_opt(
        &o,
        "nextAttemptAt",
        s.next_attempt_at.map(|v| (v as f64).into()),
    );
    set_opt(
        &o,
        "connectionId",
        s.connection_id.as_deref().map(JsValue::from_str),
    );
    set_opt(&o, "lastSeq", s.last_seq.map(|v| (v as f64).into()));
    set_opt(&o, "leader", s.leader.map(JsValue::from_bool));
    o.into()
}

/// A `WsError` object.
pub(crate) fn error(e: &WsError) -> JsValue {
    let o = Object::new();
    set(&o, "code", e.code.as_str().into());
    set(&o, "message", e.message.as_str().into());
    o.into()
}

/// A `ResyncEvent` object.
pub(crate) fn resync(r: &ResyncEvent) -> JsValue {
    let o = Object::new();
    set_opt(
        &o,
        "reason",
        r.reason.as_ref().map(|r| JsValue::from_str(r.as_str())),
    );
    o.into()
}
