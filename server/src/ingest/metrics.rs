//! Pure metric computation for Horizon ingestion: parsing a Horizon payment
//! operation record, naming its failure reason, and rolling-window aggregation.
//!
//! Definitions (the system this replaces assumed every payment succeeded,
//! counted raw asset amounts as US dollars and never paginated):
//!
//! - **Corridor**: source asset → destination asset of one payment operation.
//!   A plain `payment` is asset → same asset; `path_payment_strict_send` and
//!   `path_payment_strict_receive` use `source_asset_*` → `asset_*`. The native
//!   asset is written `XLM` with issuer `native`.
//! - **Attempt**: one payment operation in a ledger, whether its transaction
//!   succeeded or failed (`include_failed=true`, `transaction_successful`).
//! - **Success**: an attempt whose transaction succeeded. **Success rate** =
//!   successes / attempts in percent, 2 decimals, 0 without attempts.
//! - **Failure reason**: the operation's result code as Horizon names it
//!   (`op_underfunded`, `op_too_few_offers`, ...), decoded from the
//!   transaction's `result_xdr`; the transaction's code (`tx_failed`, ...)
//!   when the operation's own code cannot be read.
//! - **USD volume**: sum over successful attempts of the amount received ×
//!   the USD price of the destination asset, or when that asset has no price,
//!   the amount sent × the price of the source asset. Prices come from the
//!   network (see [`PriceBook`]); an attempt with neither price adds nothing
//!   and is counted as *unpriced* instead.
//! - **Windows**: counts are kept in one-minute buckets (by ledger close time)
//!   and summed over the last [`WINDOW_24H_SECS`] and [`WINDOW_1H_SECS`],
//!   measured back from the close time of the newest ingested operation (not
//!   the wall clock, so catching up yields the same numbers as live ingestion).
//! - **Anchor**: an anchor's window counts every attempt whose source or
//!   destination asset it issued (once, even when it issued both).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine;
use serde_json::Value;

/// Length of the long window, seconds. Value 86 400 (24 h).
pub const WINDOW_24H_SECS: i64 = 86_400;
/// Length of the short window, seconds. Value 3 600 (1 h).
pub const WINDOW_1H_SECS: i64 = 3_600;
/// Width of one aggregation bucket, seconds. Value 60.
pub const BUCKET_SECS: i64 = 60;

/// A Stellar asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Asset {
    /// Lumens (XLM).
    Native,
    /// An issued asset.
    Credit {
        /// Asset code, 1–12 characters.
        code: String,
        /// Issuer account (`G...`).
        issuer: String,
    },
}

impl Asset {
    /// Code and issuer as stored in a corridor: `("XLM", "native")` for lumens.
    pub fn parts(&self) -> (&str, &str) {
        match self {
            Asset::Native => ("XLM", "native"),
            Asset::Credit { code, issuer } => (code, issuer),
        }
    }

    /// Issuer account, `None` for lumens.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Asset::Native => None,
            Asset::Credit { issuer, .. } => Some(issuer),
        }
    }

    /// `CODE:ISSUER` (`XLM:native` for lumens).
    pub fn key(&self) -> String {
        let (c, i) = self.parts();
        format!("{c}:{i}")
    }
}

/// One payment operation as read from Horizon's `/payments`.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    /// Horizon `paging_token` (the resume cursor).
    pub paging_token: String,
    /// Ledger close time, Unix seconds.
    pub at: i64,
    /// `transaction_successful`.
    pub successful: bool,
    /// Asset sent.
    pub source_asset: Asset,
    /// Amount sent, in stroops (10⁻⁷ units).
    pub source_amount: i64,
    /// Asset received.
    pub dest_asset: Asset,
    /// Amount received, in stroops.
    pub dest_amount: i64,
    /// Failure reason for a failed attempt (see the module docs), else `None`.
    pub failure: Option<String>,
}

impl Payment {
    /// `CODE:ISSUER->CODE:ISSUER`, the corridor key.
    pub fn corridor_key(&self) -> String {
        format!("{}->{}", self.source_asset.key(), self.dest_asset.key())
    }
}

/// Why a record was skipped as malformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed payment record: {0}")]
pub struct Malformed(pub String);

fn field<'a>(r: &'a Value, name: &str) -> Result<&'a str, Malformed> {
    r.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Malformed(format!("missing string field `{name}`")))
}

/// Parses a Horizon amount (`"12.3400000"`, at most 7 decimals) to stroops.
pub fn parse_amount(s: &str) -> Result<i64, Malformed> {
    let bad = || Malformed(format!("bad amount {s:?}"));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 7
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<7}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(10_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(bad)
}

fn asset(r: &Value, prefix: &str) -> Result<Asset, Malformed> {
    match field(r, &format!("{prefix}asset_type"))? {
        "native" => Ok(Asset::Native),
        "credit_alphanum4" | "credit_alphanum12" => Ok(Asset::Credit {
            code: field(r, &format!("{prefix}asset_code"))?.to_owned(),
            issuer: field(r, &format!("{prefix}asset_issuer"))?.to_owned(),
        }),
        other => Err(Malformed(format!("unknown asset type {other:?}"))),
    }
}

fn unix_seconds(s: &str) -> Result<i64, Malformed> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| Malformed(format!("bad created_at {s:?}")))
}

/// Reads one record of `/payments?include_failed=true&join=transactions`.
/// `Ok(None)` for operation types that are not payments (`create_account`,
/// `account_merge`, ...), which are not corridor traffic.
pub fn parse_record(r: &Value) -> Result<Option<Payment>, Malformed> {
    let kind = field(r, "type")?;
    let op_type = match kind {
        "payment" => 1,
        "path_payment_strict_receive" => 2,
        "path_payment_strict_send" => 13,
        _ => return Ok(None),
    };
    let paging_token = field(r, "paging_token")?.to_owned();
    let at = unix_seconds(field(r, "created_at")?)?;
    let successful = r
        .get("transaction_successful")
        .and_then(Value::as_bool)
        .ok_or_else(|| Malformed("missing `transaction_successful`".into()))?;
    let dest_asset = asset(r, "")?;
    let dest_amount = parse_amount(field(r, "amount")?)?;
    let (source_asset, source_amount) = if op_type == 1 {
        (dest_asset.clone(), dest_amount)
    } else {
        (
            asset(r, "source_")?,
            parse_amount(field(r, "source_amount")?)?,
        )
    };
    let failure = if successful {
        None
    } else {
        let xdr = r
            .get("transaction")
            .and_then(|t| t.get("result_xdr"))
            .and_then(Value::as_str);
        let index = field(r, "id")?
            .parse::<u64>()
            .map(|id| (id & 0xFFF) as usize)
            .ok()
            .and_then(|i| i.checked_sub(1));
        Some(match (xdr, index) {
            (Some(x), Some(i)) => failure_reason(x, i),
            _ => "unknown".to_owned(),
        })
    };
    Ok(Some(Payment {
        paging_token,
        at,
        successful,
        source_asset,
        source_amount,
        dest_asset,
        dest_amount,
        failure,
    }))
}

/// Reads big-endian XDR words.
struct Xdr<'a>(&'a [u8]);

impl Xdr<'_> {
    fn i32(&mut self) -> Option<i32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(i32::from_be_bytes(*head))
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.0 = self.0.get(n..)?;
        Some(())
    }
}

fn tx_code_name(code: i32) -> &'static str {
    match code {
        0 => "tx_success",
        -1 => "tx_failed",
        -2 => "tx_too_early",
        -3 => "tx_too_late",
        -4 => "tx_missing_operation",
        -5 => "tx_bad_seq",
        -6 => "tx_bad_auth",
        -7 => "tx_insufficient_balance",
        -8 => "tx_no_source_account",
        -9 => "tx_insufficient_fee",
        -10 => "tx_bad_auth_extra",
        -11 => "tx_internal_error",
        -12 => "tx_not_supported",
        -14 => "tx_bad_sponsorship",
        -15 => "tx_bad_minseq_age_or_gap",
        -16 => "tx_malformed",
        -17 => "tx_soroban_invalid",
        _ => "tx_unknown",
    }
}

fn op_outer_name(code: i32) -> &'static str {
    match code {
        -1 => "op_bad_auth",
        -2 => "op_no_source_account",
        -3 => "op_not_supported",
        -4 => "op_too_many_subentries",
        -5 => "op_exceeded_work_limit",
        -6 => "op_too_many_sponsoring",
        _ => "op_unknown",
    }
}

/// Horizon's name of a payment / path payment result code (operation types 1, 2, 13).
fn payment_code_name(op_type: i32, code: i32) -> &'static str {
    match (op_type, code) {
        (_, 0) => "op_success",
        (_, -1) => "op_malformed",
        (_, -2) => "op_underfunded",
        (_, -3) => "op_src_no_trust",
        (_, -4) => "op_src_not_authorized",
        (_, -5) => "op_no_destination",
        (_, -6) => "op_no_trust",
        (_, -7) => "op_not_authorized",
        (_, -8) => "op_line_full",
        (_, -9) => "op_no_issuer",
        (2 | 13, -10) => "op_too_few_offers",
        (2 | 13, -11) => "op_cross_self",
        (2, -12) => "op_over_source_max",
        (13, -12) => "op_under_dest_min",
        _ => "op_unknown",
    }
}

/// The failure reason of operation `index` (0-based) of a failed transaction, from
/// its base64 `result_xdr` (`TransactionResult`). Reads the operation results in
/// order; stops at the transaction's code when an earlier result has a body this
/// reader does not skip (anything but a void or a successful plain payment).
pub fn failure_reason(result_xdr: &str, index: usize) -> String {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(result_xdr) else {
        return "unknown".to_owned();
    };
    let mut x = Xdr(&bytes);
    let read = |x: &mut Xdr| -> Option<String> {
        x.skip(8)?; // feeCharged
        let mut code = x.i32()?;
        if code == 1 || code == -13 {
            // Fee bump: innerResultPair { hash, InnerTransactionResult { fee, code, ... } }.
            x.skip(32 + 8)?;
            code = x.i32()?;
        }
        if code != 0 && code != -1 {
            return Some(tx_code_name(code).to_owned());
        }
        let count = x.i32()? as usize;
        for i in 0..count {
            let outer = x.i32()?;
            if outer != 0 {
                if i == index {
                    return Some(op_outer_name(outer).to_owned());
                }
                continue;
            }
            let op_type = x.i32()?;
            let inner = x.i32()?;
            if i == index {
                return Some(if matches!(op_type, 1 | 2 | 13) {
                    payment_code_name(op_type, inner).to_owned()
                } else {
                    format!("op_type_{op_type}_code_{inner}")
                });
            }
            // Skippable: a plain payment's result is void in every arm.
            if op_type != 1 {
                return None;
            }
        }
        None
    };
    read(&mut x).unwrap_or_else(|| tx_code_name(-1).to_owned())
}

/// USD prices per whole unit of an asset.
#[derive(Debug, Clone, Default)]
pub struct PriceBook {
    prices: HashMap<Asset, f64>,
}

impl PriceBook {
    /// Records (or replaces) an asset's USD price; `None` marks it as known to have no price.
    pub fn set(&mut self, asset: Asset, usd: Option<f64>) {
        match usd {
            Some(p) => self.prices.insert(asset, p),
            None => self.prices.remove(&asset),
        };
    }

    /// USD price of one unit, when known.
    pub fn get(&self, asset: &Asset) -> Option<f64> {
        self.prices.get(asset).copied()
    }

    /// USD value of a successful payment (see the module docs), `None` when unpriced.
    pub fn usd_value(&self, p: &Payment) -> Option<f64> {
        let units = |stroops: i64| stroops as f64 / 1e7;
        self.get(&p.dest_asset)
            .map(|price| units(p.dest_amount) * price)
            .or_else(|| {
                self.get(&p.source_asset)
                    .map(|price| units(p.source_amount) * price)
            })
    }
}

/// Counts of one key (corridor or anchor) in one bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    /// Attempts.
    pub attempts: i64,
    /// Successful attempts.
    pub successes: i64,
    /// USD volume of priced successful attempts.
    pub volume_usd: f64,
    /// Successful attempts without a USD price.
    pub unpriced: i64,
    /// Failed attempts by failure reason.
    pub failures: BTreeMap<String, i64>,
}

/// A window's totals for one key.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Attempts.
    pub attempts: i64,
    /// Successful attempts.
    pub successes: i64,
    /// Percent 0–100, 2 decimals; 0 without attempts.
    pub success_rate: f64,
    /// USD volume, rounded to cents.
    pub volume_usd: f64,
    /// Successful attempts without a USD price.
    pub unpriced: i64,
    /// Failed attempts by failure reason.
    pub failures: BTreeMap<String, i64>,
}

impl Summary {
    /// The most frequent failure reason (ties: alphabetically first), if any.
    pub fn top_failure(&self) -> Option<(&str, i64)> {
        self.failures
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, v)| (k.as_str(), *v))
    }
}

/// Key under which anchor `account`'s counts are kept.
pub fn anchor_key(account: &str) -> String {
    format!("anchor:{account}")
}

/// Rolling-window counters per key, in [`BUCKET_SECS`] buckets.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    buckets: BTreeMap<(String, i64), Bucket>,
    /// Close time of the newest operation added, Unix seconds (0 before any).
    pub latest: i64,
    dirty: BTreeSet<(String, i64)>,
}

impl Windows {
    /// Restores a bucket read from the database (not marked dirty).
    pub fn restore(&mut self, key: String, minute: i64, b: Bucket) {
        self.latest = self.latest.max(minute * BUCKET_SECS);
        self.buckets.insert((key, minute), b);
    }

    /// Counts one payment for its corridor and for each of `anchors` that issued one of its assets.
    pub fn add(&mut self, p: &Payment, prices: &PriceBook, anchors: &BTreeSet<String>) {
        let minute = p.at.div_euclid(BUCKET_SECS);
        self.latest = self.latest.max(p.at);
        let usd = p.successful.then(|| prices.usd_value(p)).flatten();
        let mut keys = vec![p.corridor_key()];
        let issuers: BTreeSet<&str> = [p.source_asset.issuer(), p.dest_asset.issuer()]
            .into_iter()
            .flatten()
            .filter(|i| anchors.contains(*i))
            .collect();
        keys.extend(issuers.into_iter().map(anchor_key));
        for key in keys {
            let b = self.buckets.entry((key.clone(), minute)).or_default();
            b.attempts += 1;
            if p.successful {
                b.successes += 1;
                match usd {
                    Some(v) => b.volume_usd += v,
                    None => b.unpriced += 1,
                }
            } else {
                let reason = p.failure.clone().unwrap_or_else(|| "unknown".into());
                *b.failures.entry(reason).or_default() += 1;
            }
            self.dirty.insert((key, minute));
        }
    }

    /// Totals of `key` over the last `window_secs` before [`Windows::latest`].
    pub fn summary(&self, key: &str, window_secs: i64) -> Summary {
        let from = (self.latest - window_secs).div_euclid(BUCKET_SECS) + 1;
        let mut s = Summary::default();
        for (_, b) in self
            .buckets
            .range((key.to_owned(), from)..=(key.to_owned(), i64::MAX))
        {
            s.attempts += b.attempts;
            s.successes += b.successes;
            s.volume_usd += b.volume_usd;
            s.unpriced += b.unpriced;
            for (k, v) in &b.failures {
                *s.failures.entry(k.clone()).or_default() += v;
            }
        }
        s.success_rate = crate::model::success_rate(s.successes, s.attempts);
        s.volume_usd = (s.volume_usd * 100.0).round() / 100.0;
        s
    }

    /// Keys changed since the last [`Windows::take_dirty`], with their changed buckets.
    pub fn take_dirty(&mut self) -> Vec<(String, i64, Bucket)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|(k, m)| {
                let b = self.buckets.get(&(k.clone(), m))?.clone();
                Some((k, m, b))
            })
            .collect()
    }

    /// Forgets buckets that fell out of the 24 h window; returns the first minute kept
    /// and the keys that lost a bucket (their published totals changed).
    pub fn prune(&mut self) -> (i64, BTreeSet<String>) {
        let keep_from = (self.latest - WINDOW_24H_SECS).div_euclid(BUCKET_SECS) + 1;
        let mut changed = BTreeSet::new();
        self.buckets.retain(|(k, m), _| {
            let keep = *m >= keep_from;
            if !keep {
                changed.insert(k.clone());
            }
            keep
        });
        (keep_from, changed)
    }

    /// Every key with a bucket in the window.
    pub fn keys(&self) -> BTreeSet<&str> {
        self.buckets.keys().map(|(k, _)| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USDC_I: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";
    const EURC_I: &str = "GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2";

    /// `TransactionResult` of a failed transaction whose single operation
    /// (type `op_type`) returned `code`: fee 100, txFAILED, one opINNER result.
    fn failed_xdr(op_type: i32, code: i32) -> String {
        let mut b = Vec::new();
        b.extend(100i64.to_be_bytes());
        b.extend((-1i32).to_be_bytes());
        b.extend(1i32.to_be_bytes());
        b.extend(0i32.to_be_bytes());
        b.extend(op_type.to_be_bytes());
        b.extend(code.to_be_bytes());
        b.extend(0i32.to_be_bytes()); // ext
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn credit(code: &str, issuer: &str) -> Asset {
        Asset::Credit {
            code: code.into(),
            issuer: issuer.into(),
        }
    }

    #[test]
    fn amounts_parse_to_stroops_and_bad_ones_are_refused() {
        assert_eq!(parse_amount("12.3400000").unwrap(), 123_400_000);
        assert_eq!(parse_amount("5").unwrap(), 50_000_000);
        assert_eq!(parse_amount("0.0000001").unwrap(), 1);
        for bad in ["", "-1", "1.00000001", "1e5", "abc", ".5"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failure_reasons_are_read_from_result_xdr() {
        assert_eq!(failure_reason(&failed_xdr(1, -2), 0), "op_underfunded");
        assert_eq!(failure_reason(&failed_xdr(2, -12), 0), "op_over_source_max");
        assert_eq!(failure_reason(&failed_xdr(13, -12), 0), "op_under_dest_min");
        assert_eq!(failure_reason(&failed_xdr(13, -10), 0), "op_too_few_offers");
        // tx-level failure without operation results
        let mut b = Vec::new();
        b.extend(100i64.to_be_bytes());
        b.extend((-5i32).to_be_bytes());
        b.extend(0i32.to_be_bytes());
        let bad_seq = base64::engine::general_purpose::STANDARD.encode(b);
        assert_eq!(failure_reason(&bad_seq, 0), "tx_bad_seq");
        assert_eq!(failure_reason("!!", 0), "unknown");
        // index past the results: falls back to the transaction's code
        assert_eq!(failure_reason(&failed_xdr(1, -2), 3), "tx_failed");
    }

    #[test]
    fn records_parse_by_type_and_malformed_ones_are_refused() {
        let pay = json!({"id": "12884905985", "paging_token": "12884905985", "type": "payment",
            "created_at": "2026-11-30T10:00:05Z", "transaction_successful": true,
            "asset_type": "credit_alphanum4", "asset_code": "USDC", "asset_issuer": USDC_I,
            "amount": "10.0000000"});
        let p = parse_record(&pay).unwrap().unwrap();
        assert_eq!(p.corridor_key(), format!("USDC:{USDC_I}->USDC:{USDC_I}"));
        assert_eq!((p.source_amount, p.dest_amount), (100_000_000, 100_000_000));
        let create = json!({"type": "create_account", "paging_token": "1"});
        assert_eq!(parse_record(&create).unwrap(), None);
        let mut no_amount = pay.clone();
        no_amount.as_object_mut().unwrap().remove("amount");
        assert!(parse_record(&no_amount).is_err());
        assert!(parse_record(&json!({"type": 5})).is_err());
    }

    /// Hand-worked fixture. Prices: USDC = 1, XLM = 0.10, EURC has none.
    /// Minute 0 is 10:00 on 2026-11-30; the newest operation is at 11:00:30.
    ///
    /// | # | time     | corridor     | ok | sent / received     | USD                 |
    /// |---|----------|--------------|----|---------------------|---------------------|
    /// | 1 | 10:00:05 | USDC→USDC    | ✓  | 10 / 10             | 10 × 1 = 10         |
    /// | 2 | 10:00:40 | USDC→USDC    | ✗ op_underfunded | 5 | —                  |
    /// | 3 | 10:30:00 | XLM→USDC     | ✓  | 100 XLM / 9.9 USDC  | 9.9 × 1 = 9.9       |
    /// | 4 | 10:45:00 | EURC→XLM     | ✓  | 20 EURC / 200 XLM   | 200 × 0.1 = 20      |
    /// | 5 | 10:50:00 | XLM→USDC     | ✗ op_too_few_offers | | —                   |
    /// | 6 | 11:00:30 | EURC→EURC    | ✓  | 3 / 3               | unpriced            |
    ///
    /// 24 h window: everything. 1 h window: buckets after minute (11:00:30 − 1 h) = 10:00,
    /// i.e. from 10:01 on: #3–#6.
    /// USDC→USDC 24 h: 2 attempts, 1 success, 50 %, $10, op_underfunded 1; 1 h: nothing.
    /// XLM→USDC 24 h: 2, 1, 50 %, $9.90, op_too_few_offers 1.
    /// EURC→XLM: 1, 1, 100 %, $20. EURC→EURC: 1, 1, 100 %, $0, 1 unpriced.
    /// Anchor Circle USDC (issues USDC): #1, #2, #3, #5 → 4 attempts, 2 successes, $19.90.
    /// Anchor Circle EURC: #4, #6 → 2 attempts, 2 successes, $20, 1 unpriced.
    #[test]
    fn hand_worked_fixture_gives_exact_window_metrics() {
        let usdc = credit("USDC", USDC_I);
        let eurc = credit("EURC", EURC_I);
        let t0 = unix_seconds("2026-11-30T10:00:00Z").unwrap();
        let mk =
            |n: i64, dt: i64, s: &Asset, sa: i64, d: &Asset, da: i64, fail: Option<&str>| Payment {
                paging_token: n.to_string(),
                at: t0 + dt,
                successful: fail.is_none(),
                source_asset: s.clone(),
                source_amount: sa * 10_000_000,
                dest_asset: d.clone(),
                dest_amount: da,
                failure: fail.map(str::to_owned),
            };
        let ops = [
            mk(1, 5, &usdc, 10, &usdc, 100_000_000, None),
            mk(2, 40, &usdc, 5, &usdc, 50_000_000, Some("op_underfunded")),
            mk(3, 1800, &Asset::Native, 100, &usdc, 99_000_000, None),
            mk(4, 2700, &eurc, 20, &Asset::Native, 2_000_000_000, None),
            mk(
                5,
                3000,
                &Asset::Native,
                50,
                &usdc,
                0,
                Some("op_too_few_offers"),
            ),
            mk(6, 3630, &eurc, 3, &eurc, 30_000_000, None),
        ];
        let mut prices = PriceBook::default();
        prices.set(usdc.clone(), Some(1.0));
        prices.set(Asset::Native, Some(0.1));
        prices.set(eurc.clone(), None);
        let anchors: BTreeSet<String> = [USDC_I.to_owned(), EURC_I.to_owned()].into();
        let mut w = Windows::default();
        for p in &ops {
            w.add(p, &prices, &anchors);
        }
        let key = |s: &Asset, d: &Asset| format!("{}->{}", s.key(), d.key());
        let day = w.summary(&key(&usdc, &usdc), WINDOW_24H_SECS);
        assert_eq!(
            (
                day.attempts,
                day.successes,
                day.success_rate,
                day.volume_usd
            ),
            (2, 1, 50.0, 10.0)
        );
        assert_eq!(day.top_failure(), Some(("op_underfunded", 1)));
        assert_eq!(w.summary(&key(&usdc, &usdc), WINDOW_1H_SECS).attempts, 0);
        let xu = w.summary(&key(&Asset::Native, &usdc), WINDOW_24H_SECS);
        assert_eq!((xu.attempts, xu.successes, xu.volume_usd), (2, 1, 9.9));
        assert_eq!(xu.top_failure(), Some(("op_too_few_offers", 1)));
        assert_eq!(w.summary(&key(&Asset::Native, &usdc), WINDOW_1H_SECS), xu);
        let ex = w.summary(&key(&eurc, &Asset::Native), WINDOW_24H_SECS);
        assert_eq!(
            (ex.attempts, ex.success_rate, ex.volume_usd),
            (1, 100.0, 20.0)
        );
        let ee = w.summary(&key(&eurc, &eurc), WINDOW_1H_SECS);
        assert_eq!((ee.attempts, ee.volume_usd, ee.unpriced), (1, 0.0, 1));
        let a = w.summary(&anchor_key(USDC_I), WINDOW_24H_SECS);
        assert_eq!((a.attempts, a.successes, a.volume_usd), (4, 2, 19.9));
        let e = w.summary(&anchor_key(EURC_I), WINDOW_24H_SECS);
        assert_eq!(
            (e.attempts, e.successes, e.volume_usd, e.unpriced),
            (2, 2, 20.0, 1)
        );
        // Dirty buckets: 5 corridor buckets (#1 and #2 share one), 3 USDC and 2 EURC anchor buckets.
        assert_eq!(w.take_dirty().len(), 5 + 3 + 2);
        assert!(w.take_dirty().is_empty());
    }

    #[test]
    fn buckets_older_than_a_day_leave_the_window_and_are_pruned() {
        let usdc = credit("USDC", USDC_I);
        let p = |at: i64| Payment {
            paging_token: at.to_string(),
            at,
            successful: true,
            source_asset: usdc.clone(),
            source_amount: 1,
            dest_asset: usdc.clone(),
            dest_amount: 1,
            failure: None,
        };
        let mut w = Windows::default();
        let none = BTreeSet::new();
        w.add(&p(0), &PriceBook::default(), &none);
        w.add(&p(WINDOW_24H_SECS), &PriceBook::default(), &none);
        let key = p(0).corridor_key();
        assert_eq!(w.summary(&key, WINDOW_24H_SECS).attempts, 1);
        assert_eq!(w.prune(), (1, BTreeSet::from([key.clone()])));
        assert_eq!(w.summary(&key, i64::MAX / 2).attempts, 1);
    }
}
