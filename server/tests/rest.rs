//! REST API over a real socket: every endpoint, every bad-input class, auth, static files.

mod common;

use std::io::{Read, Write};

use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const USDC_ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

#[tokio::test]
async fn anchors_are_created_listed_fetched_and_metrics_recompute_score_and_status() {
    let server = TestServer::start().await;
    let (status, a) = server
        .post("/api/anchors", &json!({"name": "  Circle ", "stellar_account": USDC_ISSUER, "home_domain": "Circle.com"}))
        .await;
    assert_eq!(status, 201, "{a}");
    for field in [
        "id",
        "name",
        "stellar_account",
        "home_domain",
        "total_transactions",
        "successful_transactions",
        "failed_transactions",
        "total_volume_usd",
        "avg_settlement_time_ms",
        "reliability_score",
        "status",
        "created_at",
        "updated_at",
    ] {
        assert!(a.get(field).is_some(), "missing {field} in {a}");
    }
    assert_eq!(a["name"], "Circle", "names are trimmed");
    assert_eq!(a["home_domain"], "circle.com");
    assert_eq!(
        (a["reliability_score"].as_f64(), a["status"].as_str()),
        (Some(0.0), Some("red"))
    );
    let id = a["id"].as_str().unwrap();
    assert_eq!(
        server.get(&format!("/api/anchors/{id}")).await,
        (200, a.clone())
    );
    assert_eq!(server.get("/api/anchors").await, (200, json!([a.clone()])));

    let cases = [
        ((1000, 960, 40), 96.0, "green"),
        ((1000, 900, 100), 90.0, "yellow"),
        ((3, 2, 1), 66.67, "red"),
    ];
    for ((total, ok, failed), score, colour) in cases {
        let body = json!({"total_transactions": total, "successful_transactions": ok, "failed_transactions": failed,
                          "avg_settlement_time_ms": 1500.5, "volume_usd": 12345.67});
        let (status, updated) = server
            .put(&format!("/api/anchors/{id}/metrics"), &body)
            .await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!(updated["reliability_score"], score);
        assert_eq!(updated["status"], colour);
        assert_eq!(updated["total_volume_usd"], 12345.67);
        assert_eq!(updated["avg_settlement_time_ms"], 1500.5);
        assert_eq!(updated["total_transactions"], total);
    }
    let (_, fetched) = server.get(&format!("/api/anchors/{id}")).await;
    assert_eq!(fetched["status"], "red", "the update was stored");
    assert_eq!(server.seq().await, 4, "one logged update per write");
}

#[tokio::test]
async fn corridors_are_created_with_their_key_and_metrics_recompute_success_rate() {
    let server = TestServer::start().await;
    let dest = account(9);
    let (status, c) = server
        .post(
            "/api/corridors",
            &json!({"source_asset_code": "USDC", "source_asset_issuer": USDC_ISSUER,
                                         "dest_asset_code": "EURC", "dest_asset_issuer": dest}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(
        c["corridor_key"],
        format!("USDC:{USDC_ISSUER}->EURC:{dest}")
    );
    assert_eq!(
        (
            c["success_rate"].as_f64(),
            c["volume_usd"].as_f64(),
            c["total_transactions"].as_u64()
        ),
        (Some(0.0), Some(0.0), Some(0))
    );
    let id = c["id"].as_str().unwrap();
    let (status, u) = server
        .put(
            &format!("/api/corridors/{id}/metrics"),
            &json!({"total_transactions": 8, "successful_transactions": 7, "volume_usd": 99.5}),
        )
        .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["success_rate"], 87.5);
    assert_eq!(u["volume_usd"], 99.5);
    assert_eq!(
        server.get(&format!("/api/corridors/{id}")).await,
        (200, u.clone())
    );
    assert_eq!(server.get("/api/corridors").await, (200, json!([u])));
    let (status, dup) = server
        .post(
            "/api/corridors",
            &json!({"source_asset_code": "USDC", "source_asset_issuer": USDC_ISSUER,
                                         "dest_asset_code": "EURC", "dest_asset_issuer": dest}),
        )
        .await;
    assert_eq!((status, dup["field"].as_str()), (409, Some("corridor_key")));
}

fn canonical_hash(anchors: &Value, corridors: &Value) -> String {
    let mut a: Vec<Value> = anchors.as_array().unwrap().iter().map(|a| json!({
        "avg_settlement_time_ms": a["avg_settlement_time_ms"], "failed_transactions": a["failed_transactions"],
        "home_domain": a["home_domain"], "id": a["id"], "name": a["name"], "reliability_score": a["reliability_score"],
        "status": a["status"], "stellar_account": a["stellar_account"], "successful_transactions": a["successful_transactions"],
        "total_transactions": a["total_transactions"], "total_volume_usd": a["total_volume_usd"]})).collect();
    a.sort_by_key(|v| v["id"].as_str().unwrap().to_owned());
    let mut c: Vec<Value> = corridors.as_array().unwrap().iter().map(|c| json!({
        "corridor_key": c["corridor_key"], "id": c["id"], "success_rate": c["success_rate"],
        "successful_transactions": c["successful_transactions"], "total_transactions": c["total_transactions"],
        "volume_usd": c["volume_usd"]})).collect();
    c.sort_by_key(|v| v["id"].as_str().unwrap().to_owned());
    let text = json!({"anchors": a, "corridors": c}).to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[tokio::test]
async fn snapshots_take_the_next_epoch_and_a_reproducible_hash() {
    let server = TestServer::start().await;
    assert_eq!(server.get("/api/snapshots/latest").await.0, 404);
    assert_eq!(server.get("/api/snapshots").await, (200, json!([])));
    let (status, s1) = server.post("/api/snapshots", &json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(s1["epoch"], 1);
    assert_eq!(
        s1["hash"],
        hex::encode(Sha256::digest(br#"{"anchors":[],"corridors":[]}"#))
    );
    let a = server.create_anchor(1, "A").await;
    server.put(&format!("/api/anchors/{}/metrics", a["id"].as_str().unwrap()),
               &json!({"total_transactions": 3, "successful_transactions": 2, "failed_transactions": 1, "volume_usd": 0.1})).await;
    server.create_anchor(2, "B").await;
    server.create_corridor("USDC", 3).await;
    let empty_post = server
        .http
        .post(server.url("/api/snapshots"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty_post.status(), 201, "no body is needed");
    let s2: Value = empty_post.json().await.unwrap();
    assert_eq!(s2["epoch"], 2);
    assert_eq!(
        (s2["anchor_count"].as_u64(), s2["corridor_count"].as_u64()),
        (Some(2), Some(1))
    );
    let (_, anchors) = server.get("/api/anchors").await;
    let (_, corridors) = server.get("/api/corridors").await;
    assert_eq!(
        s2["hash"],
        canonical_hash(&anchors, &corridors),
        "hash recomputed from the REST data"
    );
    assert!(time::OffsetDateTime::parse(
        s2["timestamp"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    assert_eq!(server.get("/api/snapshots/latest").await, (200, s2.clone()));
    assert_eq!(server.get("/api/snapshots").await, (200, json!([s2, s1])));
    assert_eq!(
        server
            .get("/api/snapshots?limit=1")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        server.get("/api/snapshots?limit=0").await.1["field"],
        "limit"
    );
}

async fn raw_post(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: &'static str,
) -> (u16, Value) {
    let r = server
        .http
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn bad_input_gets_a_4xx_json_error_naming_the_field_and_writes_nothing() {
    let server = TestServer::with(|c| c.http_body_limit_bytes = 2048).await;
    let anchor = server.create_anchor(1, "Existing").await;
    let corridor = server.create_corridor("USDC", 2).await;
    let aid = anchor["id"].as_str().unwrap().to_owned();
    let cid = corridor["id"].as_str().unwrap().to_owned();
    let seq = server.seq().await;
    let before = (
        server.get("/api/anchors").await,
        server.get("/api/corridors").await,
    );

    for (body, ct) in [
        ("{not json", "application/json"),
        ("[1,2]", "application/json"),
        ("", "application/json"),
    ] {
        let (status, err) = raw_post(&server, "/api/anchors", ct, body).await;
        assert_eq!(status, 400, "{body:?}");
        assert!(err["error"].as_str().unwrap().len() > 5, "{err}");
    }
    let (status, err) = raw_post(&server, "/api/anchors", "text/plain", r#"{"name":"x"}"#).await;
    assert_eq!((status, err["error"].is_string()), (415, true));

    let mut bad_checksum = USDC_ISSUER.to_owned();
    bad_checksum.replace_range(55.., "M");
    let anchors = [
        (json!({"stellar_account": account(5)}), "name"),
        (json!({"name": 5, "stellar_account": account(5)}), "name"),
        (
            json!({"name": "   ", "stellar_account": account(5)}),
            "name",
        ),
        (
            json!({"name": "x".repeat(201), "stellar_account": account(5)}),
            "name",
        ),
        (json!({"name": "X"}), "stellar_account"),
        (
            json!({"name": "X", "stellar_account": bad_checksum}),
            "stellar_account",
        ),
        (
            json!({"name": "X", "stellar_account": "GABC"}),
            "stellar_account",
        ),
        (
            json!({"name": "X", "stellar_account": account(5), "home_domain": "not a domain"}),
            "home_domain",
        ),
    ];
    for (body, field) in anchors {
        let (status, err) = server.post("/api/anchors", &body).await;
        assert_eq!(
            (status, err["field"].as_str()),
            (422, Some(field)),
            "{body} -> {err}"
        );
    }
    let (status, err) = server
        .post(
            "/api/anchors",
            &json!({"name": "Dup", "stellar_account": account(1)}),
        )
        .await;
    assert_eq!(
        (status, err["field"].as_str()),
        (409, Some("stellar_account"))
    );

    let corridor_base = json!({"source_asset_code": "USDC", "source_asset_issuer": account(7), "dest_asset_code": "EURC", "dest_asset_issuer": account(8)});
    for (field, value) in [
        ("source_asset_code", json!("TOOLONGCODE13")),
        ("dest_asset_code", json!("")),
        ("dest_asset_code", json!("EU-R")),
        ("source_asset_issuer", json!("nope")),
        ("dest_asset_issuer", json!(null)),
        ("source_asset_code", json!(12)),
    ] {
        let mut body = corridor_base.clone();
        body[field] = value;
        let (status, err) = server.post("/api/corridors", &body).await;
        assert_eq!(
            (status, err["field"].as_str()),
            (422, Some(field)),
            "{body} -> {err}"
        );
    }

    let metric_cases = [
        (
            json!({"total_transactions": -1, "successful_transactions": 0, "failed_transactions": 0}),
            "total_transactions",
        ),
        (
            json!({"total_transactions": "10", "successful_transactions": 0, "failed_transactions": 0}),
            "total_transactions",
        ),
        (
            json!({"total_transactions": 10, "successful_transactions": 11, "failed_transactions": 0}),
            "successful_transactions",
        ),
        (
            json!({"total_transactions": 10, "successful_transactions": 5, "failed_transactions": -2}),
            "failed_transactions",
        ),
    ];
    for (body, field) in metric_cases {
        let (status, err) = server
            .put(&format!("/api/anchors/{aid}/metrics"), &body)
            .await;
        assert_eq!(
            (status, err["field"].as_str()),
            (422, Some(field)),
            "{body} -> {err}"
        );
    }
    for (body, field) in [
        (
            json!({"total_transactions": 1, "successful_transactions": 2, "volume_usd": 1}),
            "successful_transactions",
        ),
        (
            json!({"total_transactions": 1, "successful_transactions": 1}),
            "volume_usd",
        ),
        (
            json!({"total_transactions": 1, "successful_transactions": 1, "volume_usd": -5}),
            "volume_usd",
        ),
    ] {
        let (status, err) = server
            .put(&format!("/api/corridors/{cid}/metrics"), &body)
            .await;
        assert_eq!(
            (status, err["field"].as_str()),
            (422, Some(field)),
            "{body} -> {err}"
        );
    }

    let ok_metrics = json!({"total_transactions": 1, "successful_transactions": 1, "failed_transactions": 0, "volume_usd": 1});
    assert_eq!(
        server
            .put("/api/anchors/no-such-id/metrics", &ok_metrics)
            .await
            .0,
        404
    );
    assert_eq!(
        server
            .put("/api/corridors/no-such-id/metrics", &ok_metrics)
            .await
            .0,
        404
    );
    assert_eq!(
        server.get("/api/anchors/no-such-id").await,
        (404, json!({"error": "anchor not found"}))
    );
    assert_eq!(server.get("/api/corridors/no-such-id").await.0, 404);
    assert_eq!(server.get("/api/nothing-here").await.0, 404);

    let (status, err) = server
        .post(
            "/api/anchors",
            &json!({"name": "x".repeat(3000), "stellar_account": account(6)}),
        )
        .await;
    assert_eq!(status, 413, "{err}");
    assert!(err["error"].is_string());

    assert_eq!(server.seq().await, seq, "no update was logged");
    assert_eq!(
        (
            server.get("/api/anchors").await,
            server.get("/api/corridors").await
        ),
        before,
        "no record changed"
    );
}

#[tokio::test]
async fn api_auth_token_guards_writes_but_not_reads() {
    let server = TestServer::with(|c| c.api_auth_token = Some("api-secret".into())).await;
    let body = json!({"name": "A", "stellar_account": account(1)});
    let (status, err) = server.post("/api/anchors", &body).await;
    assert_eq!(status, 401);
    assert!(err["error"].is_string());
    for auth in [
        "Bearer wrong",
        "Bearer ",
        "api-secret",
        "Basic api-secret",
        "Bearer api-secret2",
    ] {
        let r = server
            .http
            .post(server.url("/api/anchors"))
            .header("authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{auth}");
    }
    assert_eq!(
        server
            .http
            .post(server.url("/api/snapshots"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(server.seq().await, 0, "refused writes log nothing");
    let r = server
        .http
        .post(server.url("/api/anchors"))
        .bearer_auth("api-secret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        server.get("/api/anchors").await.1.as_array().unwrap().len(),
        1,
        "reads need no token"
    );
}

#[tokio::test]
async fn health_and_metrics_report_state_with_the_documented_names() {
    let server = TestServer::start().await;
    let (status, health) = server.get("/health").await;
    assert_eq!(status, 200);
    let backend = if std::env::var("TEST_STORE").as_deref() == Ok("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(
        health,
        json!({"status": "ok", "database": "ok", "backend": backend, "redis": "disabled",
               "demo": false, "source": "rest", "seq": 0, "protocol": 1})
    );
    server.create_anchor(1, "A").await;
    let (_ws, _) = server.connect_ready("").await;
    let text = server.metrics().await;
    for name in [
        "stellar_ws_connections_open",
        "stellar_ws_frames_sent_total",
        "stellar_updates_broadcast_total",
        "stellar_ws_resyncs_total{reason=\"slow_consumer\"}",
        "stellar_ws_rejected_connections_total{reason=\"unauthorized\"}",
        "stellar_ingest_malformed_records_total",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing from\n{text}"
        );
    }
    assert!(text.contains("# TYPE stellar_ws_connections_open gauge"));
    assert_eq!(server.metric("stellar_ws_connections_open").await, 1.0);
    assert_eq!(server.metric("stellar_updates_broadcast_total").await, 1.0);
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let server =
        TestServer::with(|c| c.cors_allowed_origins = Some(vec!["http://dashboard.test".into()]))
            .await;
    let get = |origin: &'static str| {
        server
            .http
            .get(server.url("/api/anchors"))
            .header("origin", origin)
            .send()
    };
    let ok = get("http://dashboard.test").await.unwrap();
    assert_eq!(
        ok.headers().get("access-control-allow-origin").unwrap(),
        "http://dashboard.test"
    );
    let other = get("http://evil.test").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let open = TestServer::start().await;
    let any = open
        .http
        .get(open.url("/api/anchors"))
        .header("origin", "http://x.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        any.headers().get("access-control-allow-origin").unwrap(),
        "*",
        "unset = any origin"
    );
}

fn raw_get(addr: std::net::SocketAddr, target: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn static_dashboard_is_served_at_root_and_cannot_be_escaped() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir_all(out.join("_next/static")).unwrap();
    std::fs::write(out.join("index.html"), "<html>dashboard</html>").unwrap();
    std::fs::write(out.join("_next/static/app.js"), "console.log(1)").unwrap();
    std::fs::write(out.join("anchors.html"), "<html>anchors page</html>").unwrap();
    std::fs::write(root.path().join("secret.txt"), "TOP-SECRET").unwrap();
    std::fs::write(root.path().join("secret.html"), "TOP-SECRET page").unwrap();
    let server = TestServer::with(|c| c.static_dir = out.clone()).await;
    let index = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.text().await.unwrap(), "<html>dashboard</html>");
    let js = server
        .http
        .get(server.url("/_next/static/app.js"))
        .send()
        .await
        .unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert_eq!(
        server.get("/health").await.0,
        200,
        "API paths still win over static files"
    );
    let addr = server.addr;
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/_next/../../secret.txt",
        "/..%2fsecret.txt",
    ] {
        let resp = tokio::task::spawn_blocking(move || raw_get(addr, target))
            .await
            .unwrap();
        assert!(
            !resp.contains("TOP-SECRET"),
            "{target} escaped the static dir:\n{resp}"
        );
        assert!(!resp.starts_with("HTTP/1.1 200"), "{target}: {resp}");
    }
}

#[tokio::test]
async fn missing_dashboard_gets_a_plain_text_hint_at_root() {
    let server = TestServer::start().await;
    let r = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("npm run build") && text.contains("STATIC_DIR"),
        "{text}"
    );
    assert_eq!(
        server
            .http
            .get(server.url("/missing.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
