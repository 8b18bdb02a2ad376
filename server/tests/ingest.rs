//! `INGEST=horizon` against a fake Horizon on loopback: the real binary ingests a
//! small hand-worked fixture served in Horizon's JSON format (pages of 2 records
//! linked by `_links.next`, successful and failed payments with `result_xdr`, path
//! payments strict send / receive, a create_account, a malformed record,
//! `trade_aggregations`), through a 429 with `Retry-After`, a page cut off mid-body,
//! and a SIGKILL followed by a restart. Once caught up (a page shorter than
//! `HORIZON_PAGE_LIMIT`), the server reads `/payments` as an event stream, which the
//! fake serves as Horizon does (`retry:`, `event: open` / `data: "hello"`, then one
//! `id: <paging_token>` / `data: <record>` event per payment, kept open); tests drop
//! it mid-event and slip a malformed event into it.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use common::process::{Server, Spec};
use common::{next_json, next_non_ping};
use serde_json::{json, Value};

const USDC_I: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
const EURC_I: &str = "GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2";
/// Records per fake page (Horizon's `limit` is 200; a short page means "caught up").
const PAGE: usize = 2;

/// Operation id (TOID) of operation 1 of transaction 1 in ledger `ledger`.
fn toid(ledger: u64) -> String {
    ((ledger << 32) | (1 << 12) | 1).to_string()
}

/// `TransactionResult` XDR of a failed transaction whose one operation of type `op_type` returned `code`.
fn failed_xdr(op_type: i32, code: i32) -> String {
    let mut b = Vec::new();
    b.extend(100i64.to_be_bytes());
    b.extend((-1i32).to_be_bytes());
    b.extend(1i32.to_be_bytes());
    b.extend(0i32.to_be_bytes());
    b.extend(op_type.to_be_bytes());
    b.extend(code.to_be_bytes());
    b.extend(0i32.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn credit(prefix: &str, code: &str, issuer: &str) -> Vec<(String, Value)> {
    vec![
        (format!("{prefix}asset_type"), json!("credit_alphanum4")),
        (format!("{prefix}asset_code"), json!(code)),
        (format!("{prefix}asset_issuer"), json!(issuer)),
    ]
}

fn native(prefix: &str) -> Vec<(String, Value)> {
    vec![(format!("{prefix}asset_type"), json!("native"))]
}

/// A `/payments` record as Horizon returns it with `join=transactions`.
fn record(
    ledger: u64,
    kind: &str,
    at: &str,
    ok: bool,
    fields: Vec<(String, Value)>,
    xdr: Option<String>,
) -> Value {
    let id = toid(ledger);
    let mut r = json!({
        "_links": {"self": {"href": format!("/operations/{id}")}},
        "id": id, "paging_token": id, "type": kind,
        "type_i": match kind { "payment" => 1, "path_payment_strict_receive" => 2, "create_account" => 0, _ => 13 },
        "created_at": at, "transaction_hash": format!("{ledger:064x}"),
        "transaction_successful": ok,
        "from": "GBXGQJWVLWOYHFLVTKWV5FGHA3LNYY2JQKM7OAJAUEQFU6LPCSEFVXON",
        "to": "GAXTGVNWM7PYNSJOBCAJMMZ3UGEOUAHKFGTKR3VORMNCUJBKJLRZT7X5",
        "transaction": {"hash": format!("{ledger:064x}"), "successful": ok,
            "result_xdr": xdr.unwrap_or_else(|| "AAAAAAAAAGQAAAAAAAAAAQAAAAAAAAABAAAAAAAAAAA=".into())}
    });
    let o = r.as_object_mut().unwrap();
    for (k, v) in fields {
        o.insert(k, v);
    }
    r
}

/// The hand-worked fixture (the same operations as the unit test in `ingest::metrics`),
/// in token order, plus a create_account and a malformed payment.
fn fixture() -> Vec<Value> {
    let mut f = Vec::new();
    let with = |mut a: Vec<(String, Value)>, b: Vec<(String, Value)>| {
        a.extend(b);
        a
    };
    let amt = |k: &str, v: &str| vec![(k.to_owned(), json!(v))];
    f.push(record(
        100,
        "payment",
        "2026-11-30T10:00:05Z",
        true,
        with(credit("", "USDC", USDC_I), amt("amount", "10.0000000")),
        None,
    ));
    f.push(record(
        101,
        "payment",
        "2026-11-30T10:00:40Z",
        false,
        with(credit("", "USDC", USDC_I), amt("amount", "5.0000000")),
        Some(failed_xdr(1, -2)),
    ));
    f.push(record(
        102,
        "path_payment_strict_send",
        "2026-11-30T10:30:00Z",
        true,
        with(
            with(native("source_"), amt("source_amount", "100.0000000")),
            with(credit("", "USDC", USDC_I), amt("amount", "9.9000000")),
        ),
        None,
    ));
    f.push(record(
        103,
        "path_payment_strict_receive",
        "2026-11-30T10:45:00Z",
        true,
        with(
            with(
                credit("source_", "EURC", EURC_I),
                amt("source_amount", "20.0000000"),
            ),
            with(native(""), amt("amount", "200.0000000")),
        ),
        None,
    ));
    // Malformed: an amount Horizon never writes.
    f.push(record(
        104,
        "payment",
        "2026-11-30T10:47:00Z",
        true,
        with(credit("", "USDC", USDC_I), amt("amount", "1,5")),
        None,
    ));
    f.push(record(
        105,
        "path_payment_strict_send",
        "2026-11-30T10:50:00Z",
        false,
        with(
            with(native("source_"), amt("source_amount", "50.0000000")),
            with(credit("", "USDC", USDC_I), amt("amount", "0.0000000")),
        ),
        Some(failed_xdr(13, -10)),
    ));
    f.push(record(
        106,
        "create_account",
        "2026-11-30T10:55:00Z",
        true,
        vec![("starting_balance".into(), json!("5.0000000"))],
        None,
    ));
    f.push(record(
        107,
        "payment",
        "2026-11-30T11:00:30Z",
        true,
        with(credit("", "EURC", EURC_I), amt("amount", "3.0000000")),
        None,
    ));
    f
}

/// How the fake misbehaves.
#[derive(Default, Clone)]
struct Faults {
    /// Answer the first request for the page after this cursor with 429 `Retry-After: 1`.
    rate_limit_after: Option<String>,
    /// Cut off the first answer for the page after this cursor mid-body.
    drop_after: Option<String>,
    /// Delay of every `/payments` page answer.
    delay: Duration,
    /// How many fixture records page requests see (the rest arrive through the event
    /// stream only, as if later ledgers closed). `None`: all of them.
    paged: Option<usize>,
    /// Delay before each record event of the stream.
    stream_delay: Duration,
    /// Cut the first stream off after the record with this token, in the middle of the
    /// next event.
    drop_stream_after: Option<String>,
    /// Send an event whose data is not JSON after the record with this token.
    garbage_after: Option<String>,
}

/// The token of the malformed stream event (between 104 and 105, unique).
fn garbage_token() -> String {
    (toid(104).parse::<u64>().unwrap() + 1).to_string()
}

#[derive(Default)]
struct Seen {
    /// (when, cursor, status) of every `/payments` request.
    payments: Vec<(Instant, String, u16)>,
    /// (`cursor` query parameter, `Last-Event-ID` header) of every stream request.
    streams: Vec<(String, Option<String>)>,
    /// Tokens of the record events sent on streams, in order.
    streamed: Vec<String>,
    trade_aggregations: usize,
}

#[derive(Clone)]
struct Fake {
    records: Arc<Vec<Value>>,
    faults: Arc<Mutex<Faults>>,
    seen: Arc<Mutex<Seen>>,
    base: String,
}

/// One SSE event as Horizon writes it.
fn sse_event(id: &str, data: &str) -> String {
    format!("id: {id}\ndata: {data}\n\n")
}

/// `/payments` with `Accept: text/event-stream`: Horizon's preamble, then the records
/// after `Last-Event-ID` (else `cursor`), then the stream stays open.
fn payment_stream(fake: Fake, cursor: String, last_event_id: Option<String>) -> Response {
    let faults = {
        let mut f = fake.faults.lock().unwrap();
        let now = f.clone();
        f.drop_stream_after = None;
        now
    };
    fake.seen
        .lock()
        .unwrap()
        .streams
        .push((cursor.clone(), last_event_id.clone()));
    let after: u64 = last_event_id.unwrap_or(cursor).parse().unwrap_or(0);
    let records: Vec<Value> = fake
        .records
        .iter()
        .filter(|r| token(r) > after)
        .cloned()
        .collect();
    let preamble = Bytes::from_static(b"retry: 100\nevent: open\ndata: \"hello\"\n\n");
    let events = futures_util::stream::unfold(
        (records.into_iter(), Some(preamble), false),
        move |(mut rest, first, cut)| {
            let fake = fake.clone();
            let faults = faults.clone();
            async move {
                if let Some(p) = first {
                    return Some((Ok(p), (rest, None, cut)));
                }
                if cut {
                    // Let the bytes already sent reach the client before the connection breaks.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Some((
                        Err(std::io::Error::other("connection dropped")),
                        (rest, None, false),
                    ));
                }
                let Some(r) = rest.next() else {
                    // Caught up: Horizon keeps the stream open while no ledger closes.
                    futures_util::future::pending::<()>().await;
                    return None;
                };
                tokio::time::sleep(faults.stream_delay).await;
                let t = r["paging_token"].as_str().unwrap().to_owned();
                fake.seen.lock().unwrap().streamed.push(t.clone());
                let mut out = sse_event(&t, &r.to_string());
                if faults.garbage_after.as_deref() == Some(t.as_str()) {
                    out += &sse_event(&garbage_token(), "{\"id\": \"oops\", \"type\":");
                }
                if faults.drop_stream_after.as_deref() == Some(t.as_str()) {
                    // Then half of the next event (the parser must not deliver it), then the cut.
                    if let Some(next) = rest.as_slice().first() {
                        let e =
                            sse_event(next["paging_token"].as_str().unwrap(), &next.to_string());
                        let half = Bytes::from(e[..e.len() / 2].to_owned());
                        return Some((Ok(Bytes::from(out)), (rest, Some(half), true)));
                    }
                }
                Some((Ok(Bytes::from(out)), (rest, None, false)))
            }
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(events))
        .unwrap()
}

fn token(r: &Value) -> u64 {
    r["paging_token"].as_str().unwrap().parse().unwrap()
}

async fn payments(
    State(fake): State<Fake>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let header_str = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if header_str("accept").is_some_and(|a| a.contains("text/event-stream")) {
        let cursor = q.get("cursor").cloned().unwrap_or_default();
        return payment_stream(fake, cursor, header_str("last-event-id"));
    }
    if q.get("order").map(String::as_str) == Some("desc") {
        // INGEST_START=now asks for the newest payment only.
        assert_eq!(q.get("limit").map(String::as_str), Some("1"));
        let newest = fake.records.last().cloned().unwrap();
        fake.seen
            .lock()
            .unwrap()
            .payments
            .push((Instant::now(), "desc".into(), 200));
        return (
            [(header::CONTENT_TYPE, "application/hal+json")],
            json!({"_links": {}, "_embedded": {"records": [newest]}}).to_string(),
        )
            .into_response();
    }
    let cursor = q.get("cursor").cloned().unwrap_or_default();
    let faults = fake.faults.lock().unwrap().clone();
    tokio::time::sleep(faults.delay).await;
    let after: u64 = cursor.parse().unwrap_or(0);
    let page: Vec<Value> = fake
        .records
        .iter()
        .take(faults.paged.unwrap_or(usize::MAX))
        .filter(|r| token(r) > after)
        .take(q.get("limit").map_or(PAGE, |l| l.parse().unwrap()))
        .cloned()
        .collect();
    let next_cursor = page.last().map_or(cursor.clone(), |r| {
        r["paging_token"].as_str().unwrap().to_owned()
    });
    let limit = q.get("limit").cloned().unwrap_or_else(|| PAGE.to_string());
    let link = |c: &str| json!({"href": format!("{}/payments?cursor={c}&order=asc&limit={limit}&include_failed=true&join=transactions", fake.base)});
    let body = json!({
        "_links": {"self": link(&cursor), "next": link(&next_cursor), "prev": link(&cursor)},
        "_embedded": {"records": page}
    })
    .to_string();
    let mut f = fake.faults.lock().unwrap();
    let mut seen = fake.seen.lock().unwrap();
    if f.rate_limit_after.as_deref() == Some(cursor.as_str()) {
        f.rate_limit_after = None;
        seen.payments.push((Instant::now(), cursor, 429));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "1")],
            json!({"type": "https://stellar.org/horizon-errors/rate_limit_exceeded", "title": "Rate Limit Exceeded", "status": 429}).to_string(),
        )
            .into_response();
    }
    if f.drop_after.as_deref() == Some(cursor.as_str()) {
        f.drop_after = None;
        seen.payments.push((Instant::now(), cursor, 200));
        let half = Bytes::from(body[..body.len() / 2].to_owned());
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            vec![Ok(half), Err(std::io::Error::other("connection dropped"))];
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/hal+json")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
    }
    seen.payments.push((Instant::now(), cursor, 200));
    ([(header::CONTENT_TYPE, "application/hal+json")], body).into_response()
}

/// XLM trades at 0.10 USDC; nothing else has trades.
async fn trade_aggregations(
    State(fake): State<Fake>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    fake.seen.lock().unwrap().trade_aggregations += 1;
    assert_eq!(
        q.get("counter_asset_code").map(String::as_str),
        Some("USDC")
    );
    assert_eq!(
        q.get("counter_asset_issuer").map(String::as_str),
        Some(USDC_I)
    );
    let records = if q.get("base_asset_type").map(String::as_str) == Some("native") {
        json!([{"timestamp": "1796029200000", "trade_count": "12", "base_volume": "1000.0000000",
            "counter_volume": "100.0000000", "avg": "0.1000000", "high": "0.1000000",
            "low": "0.1000000", "open": "0.1000000", "close": "0.1000000"}])
    } else {
        json!([])
    };
    (
        [(header::CONTENT_TYPE, "application/hal+json")],
        json!({"_links": {}, "_embedded": {"records": records}}).to_string(),
    )
        .into_response()
}

async fn start_fake(faults: Faults) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let fake = Fake {
        records: Arc::new(fixture()),
        faults: Arc::new(Mutex::new(faults)),
        seen: Arc::default(),
        base: format!("http://{addr}"),
    };
    let app = Router::new()
        .route("/payments", get(payments))
        .route("/trade_aggregations", get(trade_aggregations))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

/// The binary ingesting from `fake`, on SQLite in `dir` (or a fresh PostgreSQL database
/// with `TEST_STORE=postgres`).
async fn spec(fake: &Fake, dir: &std::path::Path) -> Spec {
    let db = common::test_database_url(dir).await;
    Spec::new(dir).env(&[
        ("DATABASE_URL", &db),
        ("INGEST", "horizon"),
        ("HORIZON_URL", &fake.base),
        ("INGEST_START", "0"),
        ("HORIZON_POLL_MS", "50"),
        ("HORIZON_PAGE_LIMIT", &PAGE.to_string()),
        ("INGEST_FLUSH_MS", "100"),
        ("HORIZON_REQUESTS_PER_HOUR", "360000"),
    ])
}

async fn get_json(server: &Server, path: &str) -> Value {
    reqwest::get(server.url(path))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn metric(server: &Server, name: &str) -> f64 {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// Waits until the fake has served the last record (asked for the page after it, or
/// sent it on a stream) and the corridor of that record was written.
async fn wait_done(server: &Server, fake: &Fake) {
    let last = toid(107);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let served = {
            let seen = fake.seen.lock().unwrap();
            seen.payments.iter().any(|(_, c, _)| *c == last) || seen.streamed.contains(&last)
        };
        let c = corridor_map(&get_json(server, "/api/corridors").await);
        let eurc = c.get(&format!("EURC:{EURC_I}->EURC:{EURC_I}")).cloned();
        if served && eurc.is_some_and(|e| e.0 == 1) {
            return;
        }
        assert!(Instant::now() < deadline, "ingestion did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// corridor_key → (total, successful, success_rate, volume_usd).
fn corridor_map(v: &Value) -> std::collections::BTreeMap<String, (i64, i64, f64, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["corridor_key"].as_str().unwrap().to_owned(),
                (
                    c["total_transactions"].as_i64().unwrap(),
                    c["successful_transactions"].as_i64().unwrap(),
                    c["success_rate"].as_f64().unwrap(),
                    c["volume_usd"].as_f64().unwrap(),
                ),
            )
        })
        .collect()
}

/// account → (total, successful, failed, volume, score, status).
fn anchor_map(v: &Value) -> std::collections::BTreeMap<String, (i64, i64, i64, f64, f64, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["stellar_account"].as_str().unwrap().to_owned(),
                (
                    a["total_transactions"].as_i64().unwrap(),
                    a["successful_transactions"].as_i64().unwrap(),
                    a["failed_transactions"].as_i64().unwrap(),
                    a["total_volume_usd"].as_f64().unwrap(),
                    a["reliability_score"].as_f64().unwrap(),
                    a["status"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect()
}

/// The hand-worked answer (see `ingest::metrics` tests for the working).
async fn assert_hand_worked_totals(server: &Server) {
    let usdc = format!("USDC:{USDC_I}");
    let eurc = format!("EURC:{EURC_I}");
    let xlm = "XLM:native";
    let c = corridor_map(&get_json(server, "/api/corridors").await);
    let expected: std::collections::BTreeMap<String, (i64, i64, f64, f64)> = [
        (format!("{usdc}->{usdc}"), (2, 1, 50.0, 10.0)),
        (format!("{xlm}->{usdc}"), (2, 1, 50.0, 9.9)),
        (format!("{eurc}->{xlm}"), (1, 1, 100.0, 20.0)),
        (format!("{eurc}->{eurc}"), (1, 1, 100.0, 0.0)),
    ]
    .into();
    assert_eq!(c, expected);
    let a = anchor_map(&get_json(server, "/api/anchors").await);
    assert_eq!(a[USDC_I], (4, 2, 2, 19.9, 50.0, "red".to_owned()));
    assert_eq!(a[EURC_I], (2, 2, 0, 20.0, 100.0, "green".to_owned()));
    // Configured anchors without traffic stay at zero.
    assert_eq!(a.len(), 8);
    assert_eq!(
        a["GDSTRSHXHGJ7ZIVRBXEYE5Q74XUVCUSEKEBR7UCHEUUEK72N7I7KJ6JH"].0,
        0
    ); // Windows and failure reasons: the 1 h window starts after 11:00:30 - 1 h, at minute 10:01.
    let w = get_json(server, "/api/ingest/corridors").await;
    let by_key = |k: &str| {
        w.as_array()
            .unwrap()
            .iter()
            .find(|r| r["corridor_key"] == k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} missing in {w}"))
    };
    let uu = by_key(&format!("{usdc}->{usdc}"));
    assert_eq!(uu["top_failure_reason"], "op_underfunded");
    assert_eq!(uu["window_24h"]["failures"], json!({"op_underfunded": 1}));
    assert_eq!(uu["window_1h"]["attempts"], 0);
    let xu = by_key(&format!("{xlm}->{usdc}"));
    assert_eq!(xu["top_failure_reason"], "op_too_few_offers");
    assert_eq!(xu["window_1h"]["attempts"], 2);
    assert_eq!(xu["window_1h"]["volume_usd"], 9.9);
    let ee = by_key(&format!("{eurc}->{eurc}"));
    assert_eq!(ee["window_24h"]["unpriced"], 1);
    assert_eq!(ee["top_failure_reason"], Value::Null);
    assert_eq!(w.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn fixture_is_ingested_exactly_through_429_a_cut_page_and_a_malformed_record() {
    let fake = start_fake(Faults {
        rate_limit_after: Some(toid(101)),
        drop_after: Some(toid(103)),
        ..Faults::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(spec(&fake, dir.path()).await);
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/ws?since=0", server.port()))
            .await
            .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    assert_eq!(
        get_json(&server, "/health").await["source"],
        "horizon-public"
    );
    wait_done(&server, &fake).await;
    assert_hand_worked_totals(&server).await;

    // 429: counted, and the same page asked again only after Retry-After (1 s).
    assert_eq!(
        metric(&server, "stellar_ingest_rate_limited_total").await,
        1.0
    );
    assert!(
        metric(&server, "stellar_ingest_errors_total").await >= 1.0,
        "{:?}",
        server.log.lock().unwrap()
    );
    // One malformed record skipped and counted; the 6 payments around it counted.
    assert_eq!(
        metric(&server, "stellar_ingest_malformed_records_total").await,
        1.0
    );
    assert_eq!(metric(&server, "stellar_ingest_records_total").await, 6.0);
    {
        let seen = fake.seen.lock().unwrap();
        let limited: Vec<_> = seen
            .payments
            .iter()
            .filter(|(_, c, _)| *c == toid(101))
            .collect();
        assert_eq!(
            limited.len(),
            2,
            "{:?}",
            seen.payments
                .iter()
                .map(|p| (&p.1, p.2))
                .collect::<Vec<_>>()
        );
        assert_eq!(limited[0].2, 429);
        assert!(limited[1].0 - limited[0].0 >= Duration::from_millis(990));
        // The cut-off page was retried from the same cursor and counted once.
        let dropped = seen
            .payments
            .iter()
            .filter(|(_, c, _)| *c == toid(103))
            .count();
        assert_eq!(dropped, 2);
        // Prices: one trade_aggregations request per priced asset (XLM, EURC), not per payment.
        assert_eq!(seen.trade_aggregations, 2);
    }
    // Caught up (the page after 107 is empty): it follows the event stream from 107.
    wait_stream(&fake, 1).await;
    assert_eq!(
        fake.seen.lock().unwrap().streams[0],
        (toid(107), Some(toid(107)))
    );

    // Every update reached the WebSocket client, in increasing seq; the last
    // corridor update of each corridor carries its final numbers.
    let mut last_seq = 0;
    let mut finals = std::collections::BTreeMap::new();
    let head = get_json(&server, "/health").await["seq"].as_u64().unwrap();
    loop {
        let m = next_non_ping(&mut ws).await;
        let seq = m["seq"].as_u64().unwrap();
        assert!(seq > last_seq, "seq {seq} after {last_seq}");
        last_seq = seq;
        if m["type"] == "corridor_update" {
            finals.insert(
                m["corridor_key"].as_str().unwrap().to_owned(),
                m["total_transactions"].as_i64().unwrap(),
            );
        }
        if seq >= head {
            break;
        }
    }
    assert_eq!(finals[&format!("EURC:{EURC_I}->EURC:{EURC_I}")], 1);
    assert_eq!(finals[&format!("USDC:{USDC_I}->USDC:{USDC_I}")], 2);
}

/// Waits until the server opened `n` event streams.
async fn wait_stream(fake: &Fake, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.seen.lock().unwrap().streams.len() < n {
        assert!(Instant::now() < deadline, "no event stream opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn event_stream_delivers_payments_exactly_and_a_malformed_event_is_skipped_and_counted() {
    // Pages show 100 and 101 only (one full page, then an empty one): the rest comes by stream.
    let fake = start_fake(Faults {
        paged: Some(2),
        garbage_after: Some(toid(104)),
        ..Faults::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(spec(&fake, dir.path()).await);
    wait_done(&server, &fake).await;
    assert_hand_worked_totals(&server).await;
    // The malformed record (104) and the malformed event after it: skipped, counted.
    assert_eq!(
        metric(&server, "stellar_ingest_malformed_records_total").await,
        2.0
    );
    assert_eq!(metric(&server, "stellar_ingest_records_total").await, 6.0);
    let seen = fake.seen.lock().unwrap();
    // One stream, opened after the last paged record, carrying the other six.
    assert_eq!(seen.streams, vec![(toid(101), Some(toid(101)))]);
    assert_eq!(seen.streamed, (102..=107).map(toid).collect::<Vec<_>>());
    let pages: Vec<&str> = seen.payments.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(pages, vec!["0".to_owned(), toid(101)]);
}

#[tokio::test]
async fn dropped_event_stream_reconnects_from_the_last_cursor_with_identical_totals() {
    let fake = start_fake(Faults {
        paged: Some(0),
        drop_stream_after: Some(toid(103)),
        ..Faults::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(spec(&fake, dir.path()).await);
    wait_done(&server, &fake).await;
    assert_hand_worked_totals(&server).await;
    assert_eq!(metric(&server, "stellar_ingest_records_total").await, 6.0);
    assert!(metric(&server, "stellar_ingest_errors_total").await >= 1.0);
    // The budget counts each stream (re)connect as one request, like a page.
    let requests = metric(&server, "stellar_ingest_requests_total").await;
    let seen = fake.seen.lock().unwrap();
    // First from the start, then from the last record of the cut stream (103), whose
    // half-sent next event (104) was not delivered: 104 is streamed once, afterwards.
    assert_eq!(
        seen.streams,
        vec![
            ("0".to_owned(), Some("0".to_owned())),
            (toid(103), Some(toid(103)))
        ]
    );
    assert_eq!(seen.streamed, (100..=107).map(toid).collect::<Vec<_>>());
    let asked = seen.payments.len() + seen.streams.len() + seen.trade_aggregations;
    assert_eq!(requests, asked as f64);
}

#[tokio::test]
async fn sigkill_mid_ingestion_and_restart_gives_the_uninterrupted_totals() {
    // Everything comes by event stream, one record every 300 ms.
    let fake = start_fake(Faults {
        paged: Some(0),
        stream_delay: Duration::from_millis(300),
        ..Faults::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(spec(&fake, dir.path()).await);
    // Kill once some, but not all, of the fixture has been committed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let flushed = metric(&server, "stellar_ingest_flushes_total").await;
        if flushed >= 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no flush");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.restart(); // SIGKILL, then the same binary on the same database
    let sent_before = fake.seen.lock().unwrap().streamed.len();
    assert!(
        sent_before < 8,
        "killed after the whole fixture was streamed ({sent_before} records)"
    );
    wait_done(&server, &fake).await;
    assert_hand_worked_totals(&server).await;
    // It resumed from the stored cursor instead of starting over.
    let seen = fake.seen.lock().unwrap();
    let restarted = seen.streams.last().unwrap();
    assert_ne!(restarted.0, "0", "restart began again from the start");
    assert_eq!(restarted.1.as_ref(), Some(&restarted.0));
}

#[test]
fn bad_ingest_settings_exit_with_code_2_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (vars, named) in [
        (
            vec![("INGEST", "horizon"), ("STELLAR_NETWORK", "mainnet")],
            "STELLAR_NETWORK",
        ),
        (
            vec![("INGEST", "horizon"), ("HORIZON_URL", "horizon.example")],
            "HORIZON_URL",
        ),
        (
            vec![("INGEST", "horizon"), ("INGEST_START", "latest")],
            "INGEST_START",
        ),
        (vec![("INGEST", "stream")], "INGEST"),
        (vec![("INGEST", "horizon"), ("DEMO_MODE", "true")], "INGEST"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"))
            .env_clear()
            .current_dir(dir.path())
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{vars:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{vars:?}: {stderr}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stellar-insights-server"))
        .env_clear()
        .current_dir(dir.path())
        .env("INGEST", "horizon")
        .arg("--demo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("INGEST=horizon"));
    assert!(!dir.path().join("stellar-insights.db").exists());
}

#[tokio::test]
async fn start_now_begins_after_the_newest_payment() {
    let fake = start_fake(Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        spec(&fake, dir.path())
            .await
            .env(&[("INGEST_START", "now")]),
    );
    wait_stream(&fake, 1).await;
    let cursors: Vec<String> = fake
        .seen
        .lock()
        .unwrap()
        .payments
        .iter()
        .map(|p| p.1.clone())
        .collect();
    // The newest token, one (empty) page after it, then the stream from it.
    assert_eq!(cursors, vec!["desc".to_owned(), toid(107)]);
    assert_eq!(
        fake.seen.lock().unwrap().streams,
        vec![(toid(107), Some(toid(107)))]
    );
    // Nothing before the start is counted.
    assert_eq!(metric(&server, "stellar_ingest_records_total").await, 0.0);
    assert_eq!(get_json(&server, "/api/corridors").await, json!([]));
}
