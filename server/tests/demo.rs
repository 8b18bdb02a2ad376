//! Demo mode: seeding, live changes through the normal write path, snapshots.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;

fn demo(c: &mut stellar_insights_server::Config) {
    c.demo_mode = true;
    c.demo_tick = Duration::from_millis(50);
    c.demo_snapshot_interval = Duration::from_millis(400);
}

#[tokio::test]
async fn demo_mode_seeds_an_empty_database_and_changes_metrics_live() {
    let server = TestServer::with(demo).await;
    assert_eq!(server.get("/health").await.1["demo"], true);
    let deadline = Instant::now() + WAIT;
    let (anchors, corridors) = loop {
        let (_, a) = server.get("/api/anchors").await;
        let (_, c) = server.get("/api/corridors").await;
        if a.as_array().unwrap().len() == 8 && c.as_array().unwrap().len() == 12 {
            break (a, c);
        }
        assert!(Instant::now() < deadline, "seeding did not finish: {a} {c}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(anchors.as_array().unwrap().iter().any(
        |a| a["stellar_account"] == "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
    ));
    assert!(anchors
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["total_transactions"].as_u64().unwrap() > 0));
    assert!(corridors
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["corridor_key"].as_str().unwrap().contains("->")));

    let (mut ws, _) = server.connect_ready("").await;
    let mut kinds = HashSet::new();
    let deadline = Instant::now() + WAIT;
    while kinds.len() < 3 {
        assert!(Instant::now() < deadline, "saw only {kinds:?}");
        let f = next_non_ping(&mut ws).await;
        kinds.insert(f["type"].as_str().unwrap().to_owned());
    }
    let (_, later) = server.get("/api/anchors").await;
    let total = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["total_transactions"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert!(total(&later) > total(&anchors), "metrics keep changing");
    // Snapshots keep coming on their interval: wait for a second one rather
    // than assume one has been taken by now (the machine may be loaded).
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, latest) = server.get("/api/snapshots/latest").await;
        if latest["epoch"].as_u64().is_some_and(|epoch| epoch >= 2) {
            break;
        }
        assert!(Instant::now() < deadline, "no second snapshot: {latest}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn demo_mode_does_not_seed_a_database_that_has_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let plain = {
        let url = url.clone();
        TestServer::with(move |c| c.database_url = url).await
    };
    let mine = plain.create_anchor(1, "Mine").await;
    plain.stop().await;
    let server = TestServer::with(move |c| {
        demo(c);
        c.database_url = url;
    })
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, anchors) = server.get("/api/anchors").await;
        let list = anchors.as_array().unwrap();
        assert_eq!(list.len(), 1, "no demo anchors were added");
        assert_eq!(list[0]["id"], mine["id"]);
        if list[0]["total_transactions"].as_u64().unwrap() > 0 {
            break; // the demo drives the existing anchor instead
        }
        assert!(Instant::now() < deadline, "demo never ticked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        server
            .get("/api/corridors")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        0
    );
}
