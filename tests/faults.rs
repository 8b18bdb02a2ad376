//! The wasm client in real Chromium through the testkit's TCP fault proxy:
//! the server is SIGKILLed and restarted, the link is cut, and black-holed
//! (no bytes, no close, like a dead Wi-Fi link) while updates are written.
//! Every update must arrive exactly once, in order. Throttling until the
//! server's queue overflows and long runs are in the native fault test
//! (`server/tests/faults.rs`), which drives the same state machine.
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
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Fault rounds (kill, cut, black hole each), count.
const ROUNDS: u32 = 3;
/// Updates written while each fault is on, count (the testkit's replay log keeps 10).
const PER_FAULT: u32 = 2;

struct Fresh;

impl Drop for Fresh {
    fn drop(&mut self) {
        ws::reset();
        wasm_bindgen_futures::spawn_local(control("proxy/pass"));
    }
}

#[wasm_bindgen_test]
async fn every_update_arrives_once_in_order_across_kills_cuts_and_black_holes() {
    ws::reset();
    let options = client_options(&[
        ("url", JsValue::from_str(&proxy_ws())),
        ("reconnectInterval", 100.into()),
        ("maxReconnectAttempts", 1_000.into()),
        // Faults follow each other faster than `stableAfter`, so the attempt
        // count keeps growing: cap the backoff so a reconnect takes ≤ 1 s.
        ("maxReconnectDelay", 1_000.into()),
        ("connectTimeout", 2_000.into()),
    ]);
    ok(ws::configure(options));
    let _client = Fresh;
    control("server/start").await;
    control("proxy/pass").await;
    let updates = Recorder::new();
    let errors = Recorder::new();
    let resyncs = Recorder::new();
    let _e = ws::on_error(errors.function());
    let _r = ws::on_resync(resyncs.function());
    let _u = ok(ws::subscribe(
        object(&[("types", strings(&["corridor_update"]))]),
        updates.function(),
    ));
    ws::acquire();
    assert!(wait_for(5_000, ws::is_connected).await, "never connected");
    let (id, _) = create_corridor("FT").await;
    assert!(wait_for(5_000, || updates.len() == 1).await);
    let mut total = 0;
    let mut write = |n: u32| {
        let id = id.clone();
        let from = total;
        total += n;
        async move {
            for t in from + 1..=from + n {
                update_corridor(&id, t).await;
            }
        }
    };
    for round in 0..ROUNDS {
        // SIGKILL: the socket is reset, not closed; updates land while the
        // client is away and must come back as a replay.
        control("server/kill").await;
        write(PER_FAULT).await;
        assert!(
            wait_for(10_000, ws::is_connected).await,
            "round {round}: no reconnect after kill"
        );
        control("proxy/cut").await;
        write(PER_FAULT).await;
        assert!(
            wait_for(10_000, ws::is_connected).await,
            "round {round}: no reconnect after cut"
        );
        let timeouts = errors
            .strs("code")
            .iter()
            .filter(|c| *c == "heartbeat_timeout")
            .count();
        control("proxy/black_hole").await;
        write(PER_FAULT).await;
        // 1 s heartbeat: declared dead after 2.5 s of silence, through the
        // heartbeat, because TCP never reports anything.
        let noticed = wait_for(6_000, || {
            errors
                .strs("code")
                .iter()
                .filter(|c| *c == "heartbeat_timeout")
                .count()
                > timeouts
        })
        .await;
        control("proxy/pass").await;
        assert!(
            noticed,
            "round {round}: black hole not noticed: {:?}",
            errors.strs("code")
        );
        assert!(
            wait_for(10_000, ws::is_connected).await,
            "round {round}: no reconnect after black hole"
        );
    }
    let expected = 1 + (ROUNDS * 3 * PER_FAULT) as usize;
    assert!(
        wait_for(10_000, || updates.len() >= expected).await,
        "missing updates: got {:?}",
        updates.numbers("total_transactions")
    );
    sleep(500).await;
    let seqs = updates.numbers("seq");
    assert_eq!(seqs.len(), expected, "duplicates or extras: {seqs:?}");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1.0),
        "gap, duplicate or reordering: {seqs:?}"
    );
    let totals: Vec<f64> = updates.numbers("total_transactions")[1..].to_vec();
    let written: Vec<f64> = (1..=ROUNDS * 3 * PER_FAULT).map(f64::from).collect();
    assert_eq!(totals, written);
    assert_eq!(resyncs.len(), 0, "nothing here is beyond the replay log");
}
