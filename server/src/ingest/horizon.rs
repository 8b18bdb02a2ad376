//! The Horizon HTTP client: request budget, 429 / `Retry-After`, retries, pages and
//! the `text/event-stream` of `/payments` (parsed by `sse-stream`).

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use serde_json::Value;

use super::metrics::Asset;
use crate::config::IngestConfig;
use crate::AppState;

/// Wait after a 429 without a usable `Retry-After`, seconds. Value 10.
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 10;
/// Longest wait honoured from `Retry-After`, seconds. Value 3600.
pub const MAX_RETRY_AFTER_SECS: u64 = 3600;
/// First wait after a failed or cut-off response; doubles up to [`MAX_BACKOFF`]. Value 250 ms.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest wait between retries of a failed response. Value 60 s.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Timeout of one request. Value 30 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Events of one `/payments` event stream, as `sse-stream` decodes them.
pub type Events = sse_stream::SseStream<reqwest::Body>;

/// How one request went, after the budget and any 429 waits.
enum Answer {
    /// 2xx.
    Ok(reqwest::Response),
    /// Another 4xx: asking again the same way will not help.
    Refused,
    /// 5xx or no answer: worth retrying after a backoff.
    Failed(String),
}

/// Shutdown began while waiting for Horizon.
#[derive(Debug)]
pub struct Stopped;

/// One page of a Horizon collection.
#[derive(Debug)]
pub struct Page {
    /// `_embedded.records`.
    pub records: Vec<Value>,
    /// `_links.next.href`, when present.
    pub next: Option<String>,
}

/// A Horizon server.
pub struct Horizon {
    base: String,
    http: reqwest::Client,
    budget: DefaultDirectRateLimiter,
    page_limit: usize,
    state: AppState,
}

impl Horizon {
    /// A client of `cfg.horizon_url` within `cfg.requests_per_hour`.
    pub fn new(cfg: &IngestConfig, state: AppState) -> Horizon {
        let per_hour = NonZeroU32::new(cfg.requests_per_hour).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(Duration::from_secs(3600) / per_hour.get())
            .unwrap_or_else(|| Quota::per_second(per_hour))
            .allow_burst(NonZeroU32::MIN);
        Horizon {
            base: cfg.horizon_url.clone(),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .user_agent(concat!("stellar-insights/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("the HTTP client builds"),
            budget: RateLimiter::direct(quota),
            page_limit: cfg.page_limit,
            state,
        }
    }

    /// `/payments` from `cursor`, ascending, `HORIZON_PAGE_LIMIT` a page, failed ones
    /// included, with their transactions. The event stream uses the same URL.
    pub fn payments_url(&self, cursor: &str) -> String {
        format!(
            "{}/payments?cursor={cursor}&order=asc&limit={}&include_failed=true&join=transactions",
            self.base, self.page_limit
        )
    }

    /// `paging_token` of the newest payment (`"0"` when there is none): what `INGEST_START=now`
    /// starts after. Resolved once, so paging never depends on how Horizon reads `cursor=now`.
    pub async fn newest_token(&self) -> Result<String, Stopped> {
        let url = format!(
            "{}/payments?order=desc&limit=1&include_failed=true",
            self.base
        );
        let page = self.page(&url).await?;
        Ok(page
            .records
            .first()
            .and_then(|r| r.get("paging_token"))
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_owned())
    }

    async fn sleep(&self, d: Duration) -> Result<(), Stopped> {
        let mut stop = self.state.shutdown_signal();
        tokio::select! {
            _ = crate::until_shutdown(&mut stop) => Err(Stopped),
            _ = tokio::time::sleep(d) => Ok(()),
        }
    }

    /// Sends one GET within the budget (`Accept: text/event-stream` and `Last-Event-ID`
    /// when `stream_from` is set); a 429 waits `Retry-After` and asks again.
    async fn request(&self, url: &str, stream_from: Option<&str>) -> Result<Answer, Stopped> {
        let m = Arc::clone(&self.state.metrics);
        loop {
            {
                let mut stop = self.state.shutdown_signal();
                tokio::select! {
                    _ = crate::until_shutdown(&mut stop) => return Err(Stopped),
                    _ = self.budget.until_ready() => {}
                }
            }
            m.ingest_requests.fetch_add(1, Ordering::Relaxed);
            let mut req = self.http.get(url);
            if let Some(id) = stream_from {
                // A stream has no overall timeout: it stays open while ledgers close.
                req = req
                    .header(reqwest::header::ACCEPT, "text/event-stream")
                    .header("Last-Event-ID", id)
                    .timeout(Duration::from_secs(365 * 24 * 3600));
            }
            return Ok(match req.send().await {
                Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                    let secs = r
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
                        .min(MAX_RETRY_AFTER_SECS);
                    m.ingest_rate_limited.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url, retry_after_secs = secs, "Horizon rate limit (429)");
                    self.sleep(Duration::from_secs(secs)).await?;
                    continue;
                }
                Ok(r) if r.status().is_client_error() => {
                    tracing::warn!(url, status = %r.status(), "Horizon refused the request");
                    Answer::Refused
                }
                Ok(r) if !r.status().is_success() => {
                    Answer::Failed(format!("status {}", r.status()))
                }
                Ok(r) => Answer::Ok(r),
                Err(e) => Answer::Failed(format!("request failed: {e}")),
            });
        }
    }

    /// Counts a failed response, logs it and waits `backoff`, which then doubles up to
    /// [`MAX_BACKOFF`].
    pub async fn failed(
        &self,
        url: &str,
        failure: &str,
        backoff: &mut Duration,
    ) -> Result<(), Stopped> {
        self.state
            .metrics
            .ingest_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(url, error = %failure, retry_in = ?*backoff, "Horizon request failed");
        self.sleep(*backoff).await?;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        Ok(())
    }

    /// GETs `url` as JSON: waits for the budget, honours 429 `Retry-After`, retries
    /// failed or cut-off responses with backoff. `Ok(None)` for another 4xx answer.
    pub async fn get_json(&self, url: &str) -> Result<Option<Value>, Stopped> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let failure = match self.request(url, None).await? {
                Answer::Refused => return Ok(None),
                Answer::Failed(f) => f,
                Answer::Ok(r) => match r.bytes().await {
                    Ok(body) => match serde_json::from_slice(&body) {
                        Ok(v) => return Ok(Some(v)),
                        Err(e) => format!("unreadable body: {e}"),
                    },
                    Err(e) => format!("response cut off: {e}"),
                },
            };
            self.failed(url, &failure, &mut backoff).await?;
        }
    }

    /// Opens the event stream of `/payments` after `cursor` (in the URL and as
    /// `Last-Event-ID`): one request of the budget. Failed attempts are retried with
    /// backoff; `Ok(None)` when Horizon refuses it (4xx other than 429).
    pub async fn open_stream(&self, cursor: &str) -> Result<Option<Events>, Stopped> {
        let url = self.payments_url(cursor);
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.request(&url, Some(cursor)).await? {
                Answer::Refused => return Ok(None),
                Answer::Ok(r) => {
                    let body = axum::http::Response::<reqwest::Body>::from(r).into_body();
                    return Ok(Some(sse_stream::SseStream::new(body)));
                }
                Answer::Failed(f) => self.failed(&url, &f, &mut backoff).await?,
            }
        }
    }

    /// One page at `url`. A page without `_embedded.records` is retried like a failed
    /// response (it is not a page), a refused request (4xx) too.
    pub async fn page(&self, url: &str) -> Result<Page, Stopped> {
        loop {
            if let Some(v) = self.get_json(url).await? {
                if let Some(records) = v
                    .pointer("/_embedded/records")
                    .and_then(Value::as_array)
                    .cloned()
                {
                    let next = v
                        .pointer("/_links/next/href")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    return Ok(Page { records, next });
                }
            }
            self.state
                .metrics
                .ingest_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(url, "Horizon answer is not a page; retrying");
            self.sleep(MAX_BACKOFF.min(Duration::from_secs(5))).await?;
        }
    }

    /// USD price of one unit of `asset`: the `close` of the newest hourly
    /// `/trade_aggregations` bucket of `asset` against `usdc` (taken as $1) in the 24 h
    /// before `at` (Unix seconds). `None` when there was no trade or no usable answer.
    pub async fn usd_price(
        &self,
        asset: &Asset,
        usdc: &Asset,
        at: i64,
    ) -> Result<Option<f64>, Stopped> {
        const HOUR_MS: i64 = 3_600_000;
        let end = (at * 1000).div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS;
        let start = end - 25 * HOUR_MS;
        let url = format!(
            "{}/trade_aggregations?{}&{}&resolution={HOUR_MS}&start_time={start}&end_time={end}&order=desc&limit=1",
            self.base,
            asset_params("base", asset),
            asset_params("counter", usdc),
        );
        let Some(v) = self.get_json(&url).await? else {
            return Ok(None);
        };
        let price = v
            .pointer("/_embedded/records/0/close")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|p| p.is_finite() && *p > 0.0);
        Ok(price)
    }
}

/// `{side}_asset_type=...&{side}_asset_code=...&{side}_asset_issuer=...`.
fn asset_params(side: &str, asset: &Asset) -> String {
    match asset {
        Asset::Native => format!("{side}_asset_type=native"),
        Asset::Credit { code, issuer } => {
            let kind = if code.len() <= 4 {
                "credit_alphanum4"
            } else {
                "credit_alphanum12"
            };
            format!(
                "{side}_asset_type={kind}&{side}_asset_code={code}&{side}_asset_issuer={issuer}"
            )
        }
    }
}
