//! State mode of the wasm client in real Chromium: against the real server
//! (current records on subscribe, then complete updates rebuilt from field
//! deltas) and against a peer sending bad state input. Run through
//! `scripts/test-browser.sh`.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use stellar_insights_ws::bindings as ws;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[must_use]
fn fresh_state(url: &str) -> Fresh {
    ws::reset();
    ok(ws::configure(client_options(&[
        ("url", JsValue::from_str(url)),
        ("state", JsValue::TRUE),
    ])));
    Fresh
}

fn get(value: &JsValue, path: &[&str]) -> JsValue {
    let mut v = value.clone();
    for key in path {
        v = js_sys::Reflect::get(&v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    }
    v
}

fn number(value: &JsValue, path: &[&str]) -> Option<f64> {
    get(value, path).as_f64()
}

#[wasm_bindgen_test]
async fn state_mode_gets_current_records_on_subscribe_then_complete_updates_from_deltas() {
    let _client = fresh_state(&server_ws());
    let (id, key) = create_corridor("ST").await;
    let updates = Recorder::new();
    let changes = Recorder::new();
    let errors = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _u = ok(ws::subscribe(
        object(&[("types", strings(&["corridor_update"]))]),
        updates.function(),
    ));
    let _c = ws::on_state(changes.function());
    ws::acquire();
    // The record written before the socket opened comes in the state answer.
    assert!(
        wait_for(5_000, || get(&ws::state(), &["synced"]).is_truthy()).await,
        "no state answer"
    );
    let state = ws::state();
    assert_eq!(
        str_field(&get(&state, &["corridors", &key]), "corridor_id"),
        id
    );
    assert!(changes.len() >= 1);
    // A metrics change reaches the subscriber as a complete corridor_update,
    // whatever the wire carried (the server sends a delta to this connection).
    let (status, text) = http(
        "PUT",
        &format!("{}/api/corridors/{id}/metrics", server_http()),
        Some(r#"{"total_transactions":200,"successful_transactions":150,"volume_usd":12345.5}"#),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        wait_for(5_000, || updates
            .all()
            .iter()
            .any(|u| str_field(u, "corridor_key") == key))
        .await,
        "no update for {key}"
    );
    let update = updates
        .all()
        .into_iter()
        .find(|u| str_field(u, "corridor_key") == key)
        .unwrap();
    assert_eq!(str_field(&update, "type"), "corridor_update");
    assert_eq!(str_field(&update, "corridor_id"), id);
    assert_eq!(number(&update, &["success_rate"]), Some(75.0));
    assert_eq!(number(&update, &["volume_usd"]), Some(12345.5));
    assert_eq!(number(&update, &["total_transactions"]), Some(200.0));
    let seq = number(&update, &["seq"]).expect("seq");
    let record = get(&ws::state(), &["corridors", &key]);
    assert_eq!(number(&record, &["success_rate"]), Some(75.0));
    assert_eq!(number(&record, &["seq"]), Some(seq));
    assert_eq!(ws::last_seq(), Some(seq));
    // The same object until the state changes (a useSyncExternalStore snapshot).
    assert!(js_sys::Object::is(&ws::state(), &ws::state()));
    assert!(errors.all().is_empty(), "{:?}", errors.all());
}

#[wasm_bindgen_test]
async fn bad_state_input_is_reported_and_loses_nothing() {
    let _client = fresh_state(&fixture_ws("state_misbehaving"));
    let errors = Recorder::new();
    let updates = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _u = ok(ws::subscribe(
        object(&[("types", strings(&["corridor_update"]))]),
        updates.function(),
    ));
    ws::acquire();
    // The delta on the ref the re-requested state bound arrives last.
    assert!(
        wait_for(5_000, || updates.len() == 2).await,
        "got {} of 2 updates; errors {:?}",
        updates.len(),
        errors.all()
    );
    let messages: Vec<String> = errors
        .all()
        .iter()
        .filter(|e| str_field(e, "code") == "state_mismatch")
        .map(|e| str_field(e, "message"))
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages[0].contains("without a string `corridor_key`"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("needs an integer `seq`"),
        "{messages:?}"
    );
    assert!(messages[2].contains("unknown ref 99"), "{messages:?}");
    // Good records of the bad chunk were kept; the refused chunk changed nothing.
    let state = ws::state();
    let a = get(&state, &["corridors", "A"]);
    assert_eq!(number(&a, &["success_rate"]), Some(90.0));
    assert_eq!(number(&a, &["volume_usd"]), Some(6.5));
    assert_eq!(number(&a, &["seq"]), Some(6.0));
    assert_eq!(
        str_field(&get(&state, &["anchors", "x"]), "status"),
        "green"
    );
    // The delta on A was delivered complete; the one on ref 99 only after the
    // client asked again and the answer bound it to B.
    let first = &updates.all()[0];
    assert_eq!(
        (
            str_field(first, "corridor_key"),
            number(first, &["volume_usd"])
        ),
        ("A".to_owned(), Some(6.5))
    );
    let second = &updates.all()[1];
    assert_eq!(str_field(second, "corridor_key"), "B");
    assert_eq!(number(second, &["total_transactions"]), Some(4.0));
    assert_eq!(number(second, &["success_rate"]), Some(50.0));
    assert!(ws::is_connected());
}
