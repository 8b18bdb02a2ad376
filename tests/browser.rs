//! The wasm client in real Chromium against the real server (and the
//! testkit's fixtures). Run through `scripts/test-browser.sh`.
//!
//! The client is a page-global singleton: every test starts with `reset()`.
// The size rules in clippy.toml are for the shipped client, not its tests.
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
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Resets the client when dropped, so no callback of a finished test (whose
/// closures are gone) is still registered.
/// `reset()`, then `configure({url, ...extra})`. Bind the result first in the
/// test (`let _client = fresh(..)`): it drops last and resets again.
#[must_use]
fn fresh(url: &str, extra: &[(&str, JsValue)]) -> Fresh {
    ws::reset();
    let mut pairs = vec![("url", JsValue::from_str(url))];
    pairs.extend(extra.iter().cloned());
    ok(ws::configure(client_options(&pairs)));
    Fresh
}

fn filter_types(types: &[&str]) -> JsValue {
    object(&[("types", strings(types))])
}

fn state() -> String {
    str_field(&ws::status(), "state")
}

/// States of recorded statuses, consecutive repeats merged (a status is also
/// emitted when only `connectionId` changes).
fn states(statuses: &Recorder) -> Vec<String> {
    let mut states = statuses.strs("state");
    states.dedup();
    states
}

fn codes(errors: &Recorder) -> Vec<String> {
    errors.strs("code")
}

fn dispatch_window_event(name: &str) {
    let event = web_sys::Event::new(name).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

async fn wait_open_connections(expected: i64, ms: u32) -> i64 {
    let start = js_sys::Date::now();
    loop {
        let n = open_connections().await;
        if n == expected || js_sys::Date::now() - start > ms as f64 {
            return n;
        }
        sleep(20).await;
    }
}

#[wasm_bindgen_test]
async fn connects_and_receives_connected() {
    let _client = fresh(&server_ws(), &[]);
    let connected = Recorder::new();
    let _sub = ok(ws::subscribe(
        filter_types(&["connected"]),
        connected.function(),
    ));
    ws::acquire();
    assert!(
        wait_for(5_000, || connected.len() == 1).await,
        "no connected frame"
    );
    let frame = &connected.all()[0];
    assert_eq!(str_field(frame, "type"), "connected");
    assert_eq!(num_field(frame, "protocol"), 1.0);
    assert_eq!(num_field(frame, "heartbeat_ms"), 1_000.0);
    assert!(ws::is_connected());
    assert_eq!(ws::connection_id(), Some(str_field(frame, "connection_id")));
    assert_eq!(state(), "open");
}

#[wasm_bindgen_test]
async fn answers_ping_so_the_server_keeps_it_open_with_a_1s_heartbeat() {
    let _client = fresh(&server_ws(), &[]);
    let statuses = Recorder::new();
    let _s = ws::on_status(statuses.function());
    ws::acquire();
    assert!(wait_for(5_000, || ws::connection_id().is_some()).await);
    let id = ws::connection_id();
    let pongs = server_metric("stellar_ws_json_pongs_total").await;
    // The server closes a client silent for 2.5 heartbeats (2.5 s). The
    // browser answers its protocol pings by itself; the JSON pings are the
    // client's to answer, and it does.
    sleep(4_000).await;
    assert!(ws::is_connected());
    let answered = server_metric("stellar_ws_json_pongs_total").await - pongs;
    assert!(
        answered >= 3,
        "{answered} JSON pongs in 4 s of 1 s heartbeats"
    );
    assert_eq!(ws::connection_id(), id, "the connection was replaced");
    assert_eq!(states(&statuses), ["connecting", "open"]);
}

#[wasm_bindgen_test]
async fn type_filter_and_key_filter_deliver_exactly_the_matching_updates() {
    let _client = fresh(&server_ws(), &[]);
    let seen = Recorder::new();
    let _seen = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        seen.function(),
    ));
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    let (id1, key1) = create_corridor("KA").await;
    let (id2, key2) = create_corridor("KB").await;
    // Both creations delivered before the filtered subscribers start.
    assert!(wait_for(5_000, || seen.len() == 2).await);
    let anchors = Recorder::new();
    let keyed = Recorder::new();
    let corridors = Recorder::new();
    let _a = ok(ws::subscribe(
        filter_types(&["anchor_update"]),
        anchors.function(),
    ));
    let keyed_filter = object(&[("corridorKeys", strings(&[&key1]))]);
    let _k = ok(ws::subscribe(keyed_filter, keyed.function()));
    let _c = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        corridors.function(),
    ));
    sleep(200).await; // let `subscribe` reach the server
    update_corridor(&id2, 5).await;
    update_corridor(&id1, 7).await;
    let anchor_id = create_anchor().await;
    assert!(
        wait_for(5_000, || anchors.len() >= 1
            && keyed.len() >= 1
            && corridors.len() >= 2)
        .await
    );
    sleep(300).await; // anything extra would arrive now
    assert_eq!(anchors.strs("type"), ["anchor_update"]);
    assert_eq!(anchors.strs("anchor_id"), [anchor_id]);
    assert_eq!(keyed.strs("corridor_key"), std::slice::from_ref(&key1));
    assert_eq!(num_field(&keyed.all()[0], "total_transactions"), 7.0);
    assert_eq!(corridors.strs("corridor_key"), [key2, key1]);
}

#[wasm_bindgen_test]
async fn two_subscribers_share_one_socket() {
    let _client = fresh(&server_ws(), &[]);
    assert_eq!(
        wait_open_connections(0, 3_000).await,
        0,
        "sockets of earlier tests still open"
    );
    let a = Recorder::new();
    let b = Recorder::new();
    ws::acquire();
    ws::acquire();
    let _a = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        a.function(),
    ));
    let _b = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        b.function(),
    ));
    assert!(wait_for(5_000, ws::is_connected).await);
    assert_eq!(wait_open_connections(1, 2_000).await, 1);
    create_corridor("SH").await;
    // 10 s: once, under heavy load from other processes, 5 s was not enough.
    assert!(
        wait_for(10_000, || a.len() == 1 && b.len() == 1).await,
        "a got {}, b got {}",
        a.len(),
        b.len()
    );
    assert_eq!(open_connections().await, 1);
}

#[wasm_bindgen_test]
async fn releasing_one_consumer_keeps_the_socket_for_the_other() {
    let _client = fresh(&server_ws(), &[]);
    ws::acquire();
    ws::acquire();
    assert!(wait_for(5_000, || ws::connection_id().is_some()).await);
    let id = ws::connection_id();
    ws::release();
    sleep(300).await;
    assert!(ws::is_connected());
    assert_eq!(ws::connection_id(), id);
    let rec = Recorder::new();
    let _s = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        rec.function(),
    ));
    create_corridor("RL").await;
    assert!(
        wait_for(5_000, || rec.len() == 1).await,
        "remaining consumer gets nothing"
    );
    ws::release();
    assert!(wait_for(1_000, || state() == "idle").await);
    assert!(!ws::is_connected());
}

#[wasm_bindgen_test]
async fn reconnects_after_server_restart_and_resumes_once_in_order() {
    let _client = fresh(&server_ws(), &[("reconnectInterval", 100.into())]);
    control("server/start").await; // in case an earlier run left it stopped
    let updates = Recorder::new();
    let connected = Recorder::new();
    let _u = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        updates.function(),
    ));
    let _c = ok(ws::subscribe(
        filter_types(&["connected"]),
        connected.function(),
    ));
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    let (id, _) = create_corridor("RS").await;
    assert!(wait_for(5_000, || updates.len() == 1).await);
    // Offline: the client must not try to reconnect, so the next updates are
    // certainly written while it is away and must come back as a replay.
    dispatch_window_event("offline");
    control("server/stop").await;
    assert!(wait_for(5_000, || state() == "reconnecting").await);
    control("server/start").await;
    for total in 1..=3 {
        update_corridor(&id, total).await;
    }
    sleep(300).await;
    assert_eq!(state(), "reconnecting", "attempted while offline");
    dispatch_window_event("online");
    assert!(
        wait_for(5_000, || updates.len() >= 4).await,
        "replay missing"
    );
    sleep(500).await;
    let all = updates.all();
    let seqs: Vec<f64> = all.iter().map(|u| num_field(u, "seq")).collect();
    assert_eq!(seqs.len(), 4, "duplicates or extras: {seqs:?}");
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "out of order: {seqs:?}"
    );
    let totals: Vec<f64> = all[1..]
        .iter()
        .map(|u| num_field(u, "total_transactions"))
        .collect();
    assert_eq!(totals, [1.0, 2.0, 3.0]);
    assert_eq!(connected.len(), 2);
    assert_eq!(field(&connected.all()[1], "resumed").as_bool(), Some(true));
    assert_eq!(ws::last_seq(), Some(seqs[3]));
}

#[wasm_bindgen_test]
async fn gives_up_after_max_reconnect_attempts_against_a_closed_port() {
    let _client = fresh(
        &closed_port_ws(),
        &[
            ("maxReconnectAttempts", 2.into()),
            ("reconnectInterval", 50.into()),
            ("maxReconnectDelay", 100.into()),
        ],
    );
    let errors = Recorder::new();
    let statuses = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _s = ws::on_status(statuses.function());
    ws::acquire();
    assert!(
        wait_for(10_000, || state() == "gave_up").await,
        "never gave up"
    );
    let codes = codes(&errors);
    assert_eq!(
        codes.iter().filter(|c| *c == "socket_error").count(),
        3,
        "{codes:?}"
    );
    assert_eq!(codes.last().map(String::as_str), Some("gave_up"));
    let attempts: Vec<f64> = statuses
        .all()
        .iter()
        .filter(|s| str_field(s, "state") == "reconnecting")
        .map(|s| num_field(s, "attempt"))
        .collect();
    assert_eq!(attempts, [1.0, 2.0]);
    sleep(300).await;
    assert_eq!(state(), "gave_up", "attempted again after giving up");
}

#[wasm_bindgen_test]
async fn heartbeat_timeout_reconnects_when_the_server_goes_silent() {
    let _client = fresh(&fixture_ws("silent"), &[("reconnectInterval", 50.into())]);
    let errors = Recorder::new();
    let connected = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _c = ok(ws::subscribe(
        filter_types(&["connected"]),
        connected.function(),
    ));
    ws::acquire();
    // heartbeat_ms 200 → declared dead after 500 ms of silence.
    assert!(
        wait_for(5_000, || connected.len() >= 2).await,
        "did not reconnect"
    );
    assert!(
        errors.has("code", "heartbeat_timeout"),
        "{:?}",
        codes(&errors)
    );
}

#[wasm_bindgen_test]
async fn throwing_callback_does_not_stop_delivery_to_others() {
    let _client = fresh(&server_ws(), &[]);
    let errors = Recorder::new();
    let _e = ws::on_error(errors.function());
    let thrower = js_sys::Function::new_with_args("msg", "throw new Error('subscriber exploded')");
    let good = Recorder::new();
    let _t = ok(ws::subscribe(filter_types(&["corridor_update"]), thrower));
    let _g = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        good.function(),
    ));
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    create_corridor("TH").await;
    create_corridor("TH").await;
    assert!(
        wait_for(5_000, || good.len() == 2).await,
        "delivery stopped"
    );
    let thrown: Vec<String> = errors
        .all()
        .iter()
        .filter(|e| str_field(e, "code") == "callback_error")
        .map(|e| str_field(e, "message"))
        .collect();
    assert_eq!(thrown.len(), 2, "{thrown:?}");
    assert!(thrown[0].contains("subscriber exploded"), "{thrown:?}");
    assert!(ws::is_connected());
}

#[wasm_bindgen_test]
async fn malformed_unknown_and_binary_frames_are_reported_and_the_socket_stays_open() {
    let _client = fresh(&fixture_ws("misbehaving"), &[]);
    let errors = Recorder::new();
    let statuses = Recorder::new();
    let updates = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _s = ws::on_status(statuses.function());
    let _u = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        updates.function(),
    ));
    ws::acquire();
    assert!(
        wait_for(5_000, || updates.len() == 3).await,
        "got {} of 3 corridor updates",
        updates.len()
    );
    assert_eq!(
        codes(&errors),
        [
            "malformed_frame",
            "unknown_type",
            "malformed_frame",
            "schema_mismatch"
        ]
    );
    assert!(errors.all()[1].is_object());
    assert!(str_field(&errors.all()[1], "message").contains("market_update"));
    assert!(str_field(&errors.all()[2], "message").contains("binary frame"));
    assert_eq!(
        str_field(&errors.all()[3], "message"),
        "corridor_update frame differs from protocol v1 (delivered as it came): missing or invalid \
         corridor_id, success_rate, volume_usd, total_transactions; unexpected asset_a_code, \
         asset_a_issuer, asset_b_code, asset_b_issuer"
    );
    // The backend's frame reaches subscribers as it came, twice (warned once).
    for legacy in &updates.all()[..2] {
        assert_eq!(str_field(legacy, "asset_a_code"), "USDC");
        assert!(str_field(legacy, "corridor_key").starts_with("USDC:GA5Z"));
    }
    assert_eq!(
        str_field(&updates.all()[2], "corridor_key"),
        "MAL:GA->FORMED:GB"
    );
    sleep(1_500).await;
    assert!(ws::is_connected());
    assert_eq!(states(&statuses), ["connecting", "open"]);
}

/// Updates routed from their first bytes in JS (the server's member order)
/// reach exactly the subscribers the full read would give them; everything
/// else falls back to the full read (see the fixture `prefix` in testkit).
#[wasm_bindgen_test]
async fn updates_routed_from_their_prefix_reach_exactly_the_right_subscribers() {
    let _client = fresh(&fixture_ws("prefix"), &[]);
    let errors = Recorder::new();
    let all = Recorder::new();
    let named = Recorder::new();
    let anchors = Recorder::new();
    let snapshots = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _a = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        all.function(),
    ));
    let _n = ok(ws::subscribe(
        object(&[
            ("types", strings(&["corridor_update"])),
            ("corridorKeys", strings(&["K:1", "A\"B", "K:é"])),
        ]),
        named.function(),
    ));
    let _k = ok(ws::subscribe(
        object(&[
            ("types", strings(&["anchor_update"])),
            ("anchorIds", strings(&["a1"])),
        ]),
        anchors.function(),
    ));
    let throws = js_sys::Function::new_no_args("throw new Error('boom')");
    let _t = ok(ws::subscribe(filter_types(&["anchor_update"]), throws));
    let _s = ok(ws::subscribe(
        filter_types(&["snapshot_update"]),
        snapshots.function(),
    ));
    ws::acquire();
    let big = 1_234_567_890_123_456.0;
    assert!(
        wait_for(5_000, || ws::last_seq() == Some(big)).await,
        "last seq {:?}",
        ws::last_seq()
    );
    assert_eq!(all.numbers("seq"), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, big]);
    assert_eq!(named.numbers("seq"), [1.0, 2.0, 4.0, 5.0, 6.0, big]);
    assert_eq!(named.strs("corridor_key")[2], "A\"B");
    assert_eq!(named.strs("corridor_key")[4], "K:é");
    assert_eq!(anchors.numbers("seq"), [7.0, 8.0]);
    assert_eq!(snapshots.numbers("seq"), [10.0, 11.0]);
    // Three anchors to the throwing subscriber (the first delivered from
    // wasm, two from the listener: the same report), then the text
    // `JSON.parse` rejects (seq 12, routed from its prefix).
    assert_eq!(
        codes(&errors),
        [
            "callback_error",
            "callback_error",
            "callback_error",
            "malformed_frame"
        ]
    );
    let messages = errors.strs("message");
    assert!(
        messages[..3]
            .iter()
            .all(|m| m == "subscriber callback threw: boom"),
        "{messages:?}"
    );
    assert!(
        messages[3].starts_with("frame rejected by JSON.parse"),
        "{messages:?}"
    );
    let last = ws::last_message();
    assert_eq!(num_field(&last, "seq"), big);
    assert!(js_sys::Object::is(&last, &ws::last_message()));
    assert!(ws::is_connected());
}

fn wasm_memory_bytes() -> u32 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
}

#[wasm_bindgen_test]
async fn connect_disconnect_cycles_leave_wasm_memory_unchanged() {
    let _client = fresh(&server_ws(), &[]);
    let mut after_warmup = 0;
    for cycle in 0..200 {
        ws::connect();
        assert!(
            wait_for(3_000, ws::is_connected).await,
            "cycle {cycle} did not open"
        );
        ws::disconnect();
        assert_eq!(state(), "closed");
        if cycle == 19 {
            after_warmup = wasm_memory_bytes();
        }
    }
    assert_eq!(wasm_memory_bytes(), after_warmup, "wasm memory grew");
    assert_eq!(
        wait_open_connections(0, 3_000).await,
        0,
        "server still sees sockets"
    );
}

async fn metric(name: &str) -> f64 {
    let (_, text) = http("GET", &format!("{}/metrics", server_http()), None).await;
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[wasm_bindgen_test]
async fn strict_mode_remount_opens_one_socket() {
    let _client = fresh(&server_ws(), &[]);
    assert_eq!(wait_open_connections(0, 3_000).await, 0);
    let before = metric("stellar_ws_connections_total").await;
    // React StrictMode: mount, unmount, mount again in the same task.
    ws::acquire();
    ws::release();
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    sleep(300).await;
    assert_eq!(metric("stellar_ws_connections_total").await - before, 1.0);
    assert_eq!(open_connections().await, 1);
}

#[wasm_bindgen_test]
async fn messages_sent_before_the_socket_opens_are_flushed_on_open() {
    let _client = fresh(&server_ws(), &[]);
    let pongs = Recorder::new();
    let _p = ok(ws::subscribe(filter_types(&["pong"]), pongs.function()));
    // Queued while idle: a typed object and a raw string.
    let ping = object(&[("type", "ping".into()), ("timestamp", 11.into())]);
    ok(ws::send(ping));
    ok(ws::send(JsValue::from_str(
        r#"{"type":"ping","timestamp":22}"#,
    )));
    ws::acquire();
    assert!(
        wait_for(5_000, || pongs.len() == 2).await,
        "queued pings not answered"
    );
    let stamps: Vec<f64> = pongs
        .all()
        .iter()
        .map(|p| num_field(p, "timestamp"))
        .collect();
    assert_eq!(stamps, [11.0, 22.0]);
    ws::ping();
    assert!(
        wait_for(5_000, || pongs.len() == 3).await,
        "ping() not answered"
    );
}

#[wasm_bindgen_test]
async fn invalid_options_throw_and_keep_the_previous_ones() {
    let _client = fresh(&server_ws(), &[]);
    let errors = Recorder::new();
    let _e = ws::on_error(errors.function());
    let bad = object(&[("url", "http://127.0.0.1/ws?token=s3cret".into())]);
    let thrown = ws::configure(bad)
        .err()
        .map(JsValue::from)
        .expect("did not throw");
    let message = str_field(&thrown, "message");
    assert!(message.contains("ws://"), "{message}");
    assert!(!message.contains("s3cret"), "token leaked: {message}");
    assert_eq!(codes(&errors), ["invalid_options"]);
    let bad_filter = object(&[("types", strings(&["corridor_updates"]))]);
    assert!(ws::subscribe(bad_filter, Recorder::new().function()).is_err());
    // The earlier, valid options are still in force.
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
}

#[wasm_bindgen_test]
async fn callback_calling_disconnect_during_a_failure_leaves_the_client_closed() {
    let _client = fresh(&closed_port_ws(), &[("reconnectInterval", 20.into())]);
    let statuses = Recorder::new();
    let _s = ws::on_status(statuses.function());
    // An app that gives up on the first socket error, from inside onError.
    let on_error = Closure::<dyn FnMut(JsValue)>::new(|e: JsValue| {
        if str_field(&e, "code") == "socket_error" {
            ws::disconnect();
        }
    });
    let _e = ws::on_error(
        on_error
            .as_ref()
            .unchecked_ref::<js_sys::Function>()
            .clone(),
    );
    ws::acquire();
    assert!(wait_for(5_000, || state() == "closed").await);
    sleep(300).await; // a stale reconnect timer would fire by now
    assert_eq!(state(), "closed");
    assert_eq!(states(&statuses).last().map(String::as_str), Some("closed"));
    assert!(
        !statuses.has("state", "reconnecting"),
        "{:?}",
        states(&statuses)
    );
}

#[wasm_bindgen_test]
async fn pruned_gap_fires_on_resync_and_live_delivery_continues() {
    let _client = fresh(&server_ws(), &[]);
    let resyncs = Recorder::new();
    let updates = Recorder::new();
    let _r = ws::on_resync(resyncs.function());
    let _u = ok(ws::subscribe(
        filter_types(&["corridor_update"]),
        updates.function(),
    ));
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    let (id, _) = create_corridor("RY").await;
    assert!(wait_for(5_000, || updates.len() == 1).await);
    ws::disconnect();
    // The testkit's server keeps 10 updates for replay: 15 outrun it.
    for total in 1..=15 {
        update_corridor(&id, total).await;
    }
    ws::connect();
    assert!(
        wait_for(5_000, || resyncs.len() == 1).await,
        "no resync event"
    );
    assert_eq!(str_field(&resyncs.all()[0], "reason"), "pruned");
    update_corridor(&id, 99).await;
    assert!(wait_for(5_000, || updates.has_number("total_transactions", 99.0)).await);
    sleep(300).await;
    // Nothing from the pruned gap is replayed piecemeal: the app reloads via REST.
    assert_eq!(
        updates.len(),
        2,
        "{:?}",
        updates.numbers("total_transactions")
    );
}

#[wasm_bindgen_test]
async fn visible_tab_reconnects_at_once_instead_of_waiting_out_the_backoff() {
    let _client = fresh(
        &server_ws(),
        &[
            ("reconnectInterval", 60_000.into()),
            ("maxReconnectDelay", 60_000.into()),
            ("maxReconnectAttempts", JsValue::NULL),
        ],
    );
    control("server/start").await;
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    control("server/stop").await;
    // Wait for a backoff long enough to tell "at once" from "on the timer".
    assert!(
        wait_for(20_000, || state() == "reconnecting"
            && num_field(&ws::status(), "delayMs") > 3_000.0)
        .await
    );
    let next_attempt_at = num_field(&ws::status(), "nextAttemptAt");
    control("server/start").await;
    let event = web_sys::Event::new("visibilitychange").unwrap();
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .dispatch_event(&event)
        .unwrap();
    assert!(wait_for(5_000, ws::is_connected).await, "did not reconnect");
    assert!(
        js_sys::Date::now() < next_attempt_at,
        "waited for the backoff timer"
    );
}

/// Frames are copied into wasm memory by the client's own listener: ASCII by
/// a JS loop, anything else by `TextEncoder`, into a buffer that grows with
/// the largest frame. Names with 2-, 3- and 4-byte UTF-8 characters (a
/// surrogate pair in JS), a long one that makes the buffer grow, and a short
/// ASCII one after it must all arrive exactly as written.
#[wasm_bindgen_test]
async fn non_ascii_and_growing_frames_arrive_exactly_as_written() {
    let _client = fresh(&server_ws(), &[]);
    let seen = Recorder::new();
    let _s = ok(ws::subscribe(
        filter_types(&["anchor_update"]),
        seen.function(),
    ));
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await);
    let long: String = "Zürich € 東京 💶 ".chars().cycle().take(195).collect();
    let names = [
        "Ünïcødé Anchor 💶".to_owned(),
        long.trim_end().to_owned(),
        unique_code("Ascii"),
        format!("{} — again", long.chars().take(60).collect::<String>()),
    ];
    for name in &names {
        let body = js_sys::JSON::stringify(&object(&[
            ("name", JsValue::from_str(name)),
            ("stellar_account", JsValue::from_str(&random_account())),
        ]))
        .unwrap();
        let (status, text) = http(
            "POST",
            &format!("{}/api/anchors", server_http()),
            Some(&String::from(body)),
        )
        .await;
        assert_eq!(status, 201, "create anchor {name:?}: {text}");
    }
    assert!(wait_for(5_000, || seen.len() == names.len()).await);
    assert_eq!(seen.strs("name"), names);
    // The last anchors were routed from their first bytes: the message is
    // the listener's string, parsed once.
    let last = ws::last_message();
    assert_eq!(str_field(&last, "name"), names[3]);
    assert!(js_sys::Object::is(&last, &ws::last_message()));
}
