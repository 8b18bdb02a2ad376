//! `INGEST=horizon`: corridor and anchor metrics computed from a Stellar Horizon
//! server's payment operations, written through the service layer.
//!
//! How it reads Horizon: pages to catch up, then the event stream. `INGEST_START=now`
//! is resolved once to the newest payment's `paging_token` (`order=desc&limit=1`). It
//! asks `/payments?cursor=C&order=asc&limit=200&include_failed=true&join=transactions`
//! and follows each page's `_links.next` while pages are full; the first shorter page
//! means it caught up, and it opens the same URL with `Accept: text/event-stream`
//! (and `Last-Event-ID` = the cursor). Each stream event's `id` is a `paging_token`
//! and its `data` one record; `event: open` / `"hello"` and other named events carry
//! none. A stream that ends or drops is reopened from the last record counted, after
//! its `retry:` (else `HORIZON_POLL_MS`), or with backoff when it failed without a
//! record. Prices come from `/trade_aggregations` (see [`horizon::Horizon::usd_price`]).
//! Every request, a stream (re)connect included, waits for the
//! `HORIZON_REQUESTS_PER_HOUR` budget; a 429 waits `Retry-After`; a failed or cut-off
//! page is retried from the same URL with backoff, so nothing of a partial page is
//! counted; a partial stream event is never delivered by the parser.
//!
//! How it writes: records are added to in-memory one-minute buckets
//! ([`metrics::Windows`]); every `INGEST_FLUSH_MS` one write transaction stores the
//! changed buckets, the changed corridors' and anchors' 24 h metrics (through
//! [`crate::service`], so each change gets its update-log row and reaches clients
//! like a REST write) and the `paging_token` of the last record counted. A restart,
//! even after SIGKILL, reloads the buckets and resumes from that cursor: nothing is
//! counted twice or skipped. Metric definitions: [`metrics`].

pub mod horizon;
pub mod metrics;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::IngestConfig;
use crate::error::ApiError;
use crate::model::{AnchorMetrics, CorridorMetrics, NewAnchor, NewCorridor};
use crate::{demo, service, store, AppState};
use horizon::{Horizon, Stopped};
use metrics::{Asset, Payment, PriceBook, Windows, WINDOW_24H_SECS};

/// Name of the payments cursor in `ingest_cursor`.
pub const PAYMENTS_STREAM: &str = "payments";
/// How long a fetched USD price is used before it is asked again. Value 15 min.
pub const PRICE_TTL: Duration = Duration::from_secs(900);

/// Ingestion state between flushes.
struct Ingest {
    state: AppState,
    horizon: Horizon,
    windows: Windows,
    prices: PriceBook,
    priced_at: HashMap<Asset, Instant>,
    usdc: Asset,
    /// Anchor account → anchor id.
    anchors: HashMap<String, String>,
    anchor_accounts: BTreeSet<String>,
    /// Corridor key → corridor id.
    corridors: HashMap<String, String>,
    /// Token of the last record counted.
    pending_cursor: Option<String>,
    /// Token stored by the last flush.
    stored_cursor: Option<String>,
}

/// Runs ingestion until shutdown; errors are logged and retried.
pub async fn run(state: AppState, cfg: IngestConfig) {
    let mut shutdown = state.shutdown_signal();
    let ingest = async {
        loop {
            match run_once(&state, &cfg).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, "horizon ingestion failed; restarting in 5 s");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    };
    tokio::select! {
        _ = crate::until_shutdown(&mut shutdown) => {}
        _ = ingest => {}
    }
}

async fn run_once(state: &AppState, cfg: &IngestConfig) -> Result<(), ApiError> {
    let horizon = Horizon::new(cfg, state.clone());
    let mut ing = Ingest {
        usdc: Asset::Credit {
            code: "USDC".into(),
            issuer: cfg.network.usdc_issuer().into(),
        },
        state: state.clone(),
        horizon,
        windows: Windows::default(),
        prices: PriceBook::default(),
        priced_at: HashMap::new(),
        anchors: HashMap::new(),
        anchor_accounts: BTreeSet::new(),
        corridors: HashMap::new(),
        pending_cursor: None,
        stored_cursor: None,
    };
    ing.prices.set(ing.usdc.clone(), Some(1.0));
    ing.load().await?;
    let cursor = match store::ingest::cursor(&state.db, PAYMENTS_STREAM).await? {
        Some(stored) => stored,
        None if cfg.start == "now" => {
            let Ok(newest) = ing.horizon.newest_token().await else {
                return Ok(());
            };
            ing.pending_cursor = Some(newest.clone());
            newest
        }
        None => cfg.start.clone(),
    };
    tracing::info!(
        network = cfg.network.as_str(),
        horizon = %cfg.horizon_url,
        cursor = %cursor,
        "horizon ingestion started"
    );
    let mut url = ing.horizon.payments_url(&cursor);
    let mut last_flush = Instant::now();
    // Catch up by pages while they are full.
    loop {
        let Ok(page) = ing.horizon.page(&url).await else {
            return Ok(());
        };
        let caught_up = page.records.len() < cfg.page_limit;
        for record in &page.records {
            if ing.record(record).await.is_err() {
                return Ok(());
            }
        }
        if let Some(next) = page.next {
            url = next;
        }
        if caught_up || last_flush.elapsed() >= cfg.flush {
            tokio::time::sleep_until(last_flush + cfg.flush).await;
            ing.flush().await?;
            last_flush = Instant::now();
        }
        if caught_up {
            break;
        }
    }
    ing.stream(cfg, cursor).await
}

/// How long an open event stream may deliver nothing before it is reopened (a
/// connection that died silently would otherwise wait forever). Value 5 min.
pub const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether `s` can be a `paging_token` (1–20 digits): anything else never becomes the
/// cursor, so a garbled id cannot make every later request a 400.
fn is_paging_token(s: &str) -> bool {
    (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Why one event stream ended.
enum StreamEnd {
    /// Horizon closed it, or it was idle for [`STREAM_IDLE_TIMEOUT`]: reopen after `retry:`.
    Closed,
    /// The connection dropped or the body could not be decoded.
    Failed(String),
}

/// `GET /api/ingest/corridors`: per corridor seen by Horizon ingestion, the 24 h and
/// 1 h windows (attempts, successes, success rate, USD volume, unpriced successes,
/// failures by result code) and the top failure reason, from the stored buckets.
/// Sorted by corridor key; `[]` when nothing was ever ingested into this database
/// (rows ingested earlier stay listed after `INGEST` is turned off).
pub async fn corridor_windows(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let mut w = Windows::default();
    for (key, minute, bucket) in store::ingest::buckets(&state.db).await? {
        w.restore(key, minute, bucket);
    }
    let rows: Vec<serde_json::Value> = w
        .keys()
        .into_iter()
        .filter(|k| !k.starts_with("anchor:"))
        .map(|key| {
            let day = w.summary(key, WINDOW_24H_SECS);
            let hour = w.summary(key, metrics::WINDOW_1H_SECS);
            serde_json::json!({
                "corridor_key": key,
                "top_failure_reason": day.top_failure().map(|(r, _)| r),
                "window_24h": day,
                "window_1h": hour,
            })
        })
        .collect();
    Ok(axum::Json(serde_json::Value::Array(rows)))
}

impl Ingest {
    /// Creates the configured anchors that are missing, reads corridor ids and stored buckets.
    async fn load(&mut self) -> Result<(), ApiError> {
        let existing = store::list_anchors(&self.state.db).await?;
        for (name, account, domain, _) in demo::ANCHORS {
            let id = match existing.iter().find(|a| a.stellar_account == account) {
                Some(a) => a.id.clone(),
                None => {
                    let new = NewAnchor {
                        name: name.into(),
                        stellar_account: account.into(),
                        home_domain: Some(domain.into()),
                    };
                    service::create_anchor(&self.state, new).await?.id
                }
            };
            self.anchors.insert(account.to_owned(), id);
            self.anchor_accounts.insert(account.to_owned());
        }
        for c in store::list_corridors(&self.state.db).await? {
            self.corridors.insert(c.corridor_key, c.id);
        }
        for (key, minute, bucket) in store::ingest::buckets(&self.state.db).await? {
            self.windows.restore(key, minute, bucket);
        }
        Ok(())
    }

    /// Follows the event stream from the last record counted, reopening it whenever it
    /// ends, until shutdown. Flushes every `INGEST_FLUSH_MS` meanwhile.
    async fn stream(&mut self, cfg: &IngestConfig, start: String) -> Result<(), ApiError> {
        let mut backoff = horizon::FIRST_BACKOFF;
        let mut retry: Option<Duration> = None;
        let mut last_flush = Instant::now();
        loop {
            let from = self.pending_cursor.clone().unwrap_or_else(|| start.clone());
            let Ok(opened) = self.horizon.open_stream(&from).await else {
                return Ok(());
            };
            let Some(mut events) = opened else {
                // Refused (4xx): nothing to read; ask again later.
                tokio::time::sleep(cfg.poll).await;
                continue;
            };
            tracing::debug!(cursor = %from, "horizon event stream opened");
            let mut counted_any = false;
            let mut idle_until = Instant::now() + STREAM_IDLE_TIMEOUT;
            let end = loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(idle_until) => {
                        tracing::info!(cursor = ?self.pending_cursor, "Horizon event stream idle; reopening");
                        break StreamEnd::Closed;
                    }
                    ev = futures_util::StreamExt::next(&mut events) => match ev {
                        None => break StreamEnd::Closed,
                        Some(Err(e)) => break StreamEnd::Failed(e.to_string()),
                        Some(Ok(sse)) => {
                            idle_until = Instant::now() + STREAM_IDLE_TIMEOUT;
                            if let Some(ms) = sse.retry {
                                retry = Some(Duration::from_millis(ms));
                            }
                            match self.event(sse).await {
                                Ok(true) => counted_any = true,
                                Ok(false) => {}
                                Err(Stopped) => return Ok(()),
                            }
                        }
                    },
                    _ = tokio::time::sleep_until(last_flush + cfg.flush) => {
                        self.flush().await?;
                        last_flush = Instant::now();
                    }
                }
            };
            drop(events);
            self.flush().await?;
            last_flush = Instant::now();
            let url = self.horizon.payments_url(&from);
            let wait = match end {
                StreamEnd::Closed => {
                    backoff = horizon::FIRST_BACKOFF;
                    retry.unwrap_or(cfg.poll)
                }
                StreamEnd::Failed(e) if counted_any => {
                    // It delivered before dropping: reconnect as EventSource would.
                    self.state
                        .metrics
                        .ingest_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url, error = %e, "Horizon event stream dropped; reopening");
                    backoff = horizon::FIRST_BACKOFF;
                    retry.unwrap_or(horizon::FIRST_BACKOFF)
                }
                StreamEnd::Failed(e) => {
                    if self.horizon.failed(&url, &e, &mut backoff).await.is_err() {
                        return Ok(());
                    }
                    Duration::ZERO
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Handles one stream event: `Ok(true)` when it was a record (counted or malformed).
    /// `event: open` (`data: "hello"`), other named events and events without data are
    /// skipped; `data` that is not a JSON object is logged, counted as malformed and
    /// skipped, and its `id` still advances the cursor.
    async fn event(&mut self, sse: sse_stream::Sse) -> Result<bool, Stopped> {
        if sse.event.as_deref().is_some_and(|e| e != "message") {
            if sse.event.as_deref() != Some("open") {
                tracing::debug!(event = ?sse.event, data = ?sse.data, "Horizon stream event skipped");
            }
            return Ok(false);
        }
        let Some(data) = sse.data else {
            return Ok(false);
        };
        match serde_json::from_str::<serde_json::Value>(&data) {
            Ok(record) if record.is_object() => {
                self.record(&record).await?;
            }
            other => {
                let error = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "not a JSON object".to_owned(),
                };
                tracing::warn!(id = ?sse.id, %error, "skipping malformed Horizon stream event");
                self.state
                    .metrics
                    .ingest_malformed
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(id) = sse.id.filter(|i| is_paging_token(i)) {
                    self.pending_cursor = Some(id);
                }
            }
        }
        Ok(true)
    }

    /// Counts one record (or counts it as malformed); advances the pending cursor.
    async fn record(&mut self, record: &serde_json::Value) -> Result<(), Stopped> {
        let m = std::sync::Arc::clone(&self.state.metrics);
        let token = record.get("paging_token").and_then(|t| t.as_str());
        match metrics::parse_record(record) {
            Ok(Some(p)) => {
                if p.successful {
                    self.price(&p, &p.source_asset).await?;
                    self.price(&p, &p.dest_asset).await?;
                }
                self.windows.add(&p, &self.prices, &self.anchor_accounts);
                m.ingest_records.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(paging_token = ?token, error = %e, "skipping malformed Horizon record");
                m.ingest_malformed.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(t) = token.filter(|t| is_paging_token(t)) {
            self.pending_cursor = Some(t.to_owned());
        }
        Ok(())
    }

    /// Makes sure `asset` has a price no older than [`PRICE_TTL`] (or is known to have none).
    async fn price(&mut self, p: &Payment, asset: &Asset) -> Result<(), Stopped> {
        if *asset == self.usdc
            || self
                .priced_at
                .get(asset)
                .is_some_and(|t| t.elapsed() < PRICE_TTL)
        {
            return Ok(());
        }
        let price = self.horizon.usd_price(asset, &self.usdc, p.at).await?;
        self.prices.set(asset.clone(), price);
        self.priced_at.insert(asset.clone(), Instant::now());
        Ok(())
    }

    /// One transaction: changed buckets, changed corridors' and anchors' metrics, cursor.
    async fn flush(&mut self) -> Result<(), ApiError> {
        let Some(cursor) = self.pending_cursor.clone() else {
            return Ok(());
        };
        let changed = self.windows.take_dirty();
        if changed.is_empty() && self.stored_cursor.as_ref() == Some(&cursor) {
            return Ok(());
        }
        let (keep_from, aged_out) = self.windows.prune();
        let mut keys: BTreeSet<String> = changed.iter().map(|(k, _, _)| k.clone()).collect();
        // Keys that lost a bucket to the window's end get their smaller totals published too.
        keys.extend(aged_out);
        for key in keys.iter().filter(|k| !k.starts_with("anchor:")) {
            if !self.corridors.contains_key(key) {
                let Some((s, d)) = key.split_once("->") else {
                    continue;
                };
                let (Some((sc, si)), Some((dc, di))) = (s.split_once(':'), d.split_once(':'))
                else {
                    continue;
                };
                let new = NewCorridor {
                    source_asset_code: sc.into(),
                    source_asset_issuer: si.into(),
                    dest_asset_code: dc.into(),
                    dest_asset_issuer: di.into(),
                };
                let c = service::create_corridor(&self.state, new).await?;
                self.corridors.insert(key.clone(), c.id);
            }
        }
        let mut tx = store::begin_write(&self.state.db).await?;
        for (key, minute, bucket) in &changed {
            store::ingest::put_bucket(&mut tx, key, *minute, bucket).await?;
        }
        store::ingest::prune_buckets(&mut tx, keep_from).await?;
        for key in &keys {
            let s = self.windows.summary(key, WINDOW_24H_SECS);
            if let Some(account) = key.strip_prefix("anchor:") {
                let Some(id) = self.anchors.get(account) else {
                    continue;
                };
                let m = AnchorMetrics {
                    total_transactions: s.attempts,
                    successful_transactions: s.successes,
                    failed_transactions: s.attempts - s.successes,
                    avg_settlement_time_ms: None,
                    volume_usd: Some(s.volume_usd),
                };
                service::update_anchor_metrics_in(&mut tx, id, m).await?;
            } else if let Some(id) = self.corridors.get(key) {
                let m = CorridorMetrics {
                    total_transactions: s.attempts,
                    successful_transactions: s.successes,
                    volume_usd: s.volume_usd,
                };
                service::update_corridor_metrics_in(&mut tx, id, m).await?;
            }
        }
        store::ingest::set_cursor(&mut tx, PAYMENTS_STREAM, &cursor, &service::now_rfc3339())
            .await?;
        tx.commit().await?;
        self.state.hub.wake();
        self.stored_cursor = Some(cursor.clone());
        self.state
            .metrics
            .ingest_flushes
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(cursor = %cursor, keys = keys.len(), "horizon ingestion flushed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_paging_token;

    #[test]
    fn only_digits_become_the_cursor() {
        for ok in ["0", "12884905985", "18446744073709551615"] {
            assert!(is_paging_token(ok), "{ok}");
        }
        for bad in ["", "now", "12a", "-1", "1 2", "123456789012345678901"] {
            assert!(!is_paging_token(bad), "{bad}");
        }
    }
}
