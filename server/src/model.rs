//! Records as stored and as returned by the REST API, and the pure rules that derive scores.

use serde::Serialize;
use stellar_insights_protocol::AnchorStatus;

/// An anchor (a business that issues assets on Stellar), as returned by `/api/anchors`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Anchor {
    /// UUID v4.
    pub id: String,
    /// Display name, 1–200 characters.
    pub name: String,
    /// Stellar public key (`G...`, checksummed strkey).
    pub stellar_account: String,
    /// Home domain (SEP-1 `stellar.toml` host). Default none.
    pub home_domain: Option<String>,
    /// Transactions counted. Default 0.
    pub total_transactions: i64,
    /// Successful transactions. Default 0.
    pub successful_transactions: i64,
    /// Failed transactions. Default 0.
    pub failed_transactions: i64,
    /// Volume, US dollars. Default 0.
    pub total_volume_usd: f64,
    /// Average settlement time, ms. Default none.
    pub avg_settlement_time_ms: Option<f64>,
    /// Reliability score 0–100, see [`reliability_score`]. Default 0.
    pub reliability_score: f64,
    /// `green` / `yellow` / `red`, see [`status_for`]. Default `red` (no traffic yet).
    pub status: String,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}

/// A payment corridor between two assets, as returned by `/api/corridors`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Corridor {
    /// UUID v4.
    pub id: String,
    /// `CODE:ISSUER->CODE:ISSUER`, unique.
    pub corridor_key: String,
    /// Source asset code, 1–12 ASCII alphanumerics.
    pub source_asset_code: String,
    /// Source asset issuer, Stellar public key.
    pub source_asset_issuer: String,
    /// Destination asset code, 1–12 ASCII alphanumerics.
    pub dest_asset_code: String,
    /// Destination asset issuer, Stellar public key.
    pub dest_asset_issuer: String,
    /// Transactions counted. Default 0.
    pub total_transactions: i64,
    /// Successful transactions. Default 0.
    pub successful_transactions: i64,
    /// Percent 0–100, see [`success_rate`]. Default 0.
    pub success_rate: f64,
    /// Volume, US dollars. Default 0.
    pub volume_usd: f64,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}

/// A hashed, epoch-numbered record of all metrics, as returned by `/api/snapshots`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Snapshot {
    /// UUID v4.
    pub id: String,
    /// 1 for the first snapshot, then +1 each.
    pub epoch: i64,
    /// When it was taken, RFC 3339 UTC.
    pub timestamp: String,
    /// SHA-256 (lowercase hex) of the canonical JSON of all anchors and corridors; see `store::canonical_json`.
    pub hash: String,
    /// Anchors covered.
    pub anchor_count: i64,
    /// Corridors covered.
    pub corridor_count: i64,
}

/// A validated `POST /api/anchors` body.
#[derive(Debug, Clone)]
pub struct NewAnchor {
    /// Display name.
    pub name: String,
    /// Stellar public key.
    pub stellar_account: String,
    /// Home domain, optional.
    pub home_domain: Option<String>,
}

/// A validated `PUT /api/anchors/{id}/metrics` body.
#[derive(Debug, Clone, Copy)]
pub struct AnchorMetrics {
    /// Transactions counted.
    pub total_transactions: i64,
    /// Successful transactions, at most `total_transactions`.
    pub successful_transactions: i64,
    /// Failed transactions; successful + failed at most total.
    pub failed_transactions: i64,
    /// Average settlement time, ms; `None` keeps the stored value.
    pub avg_settlement_time_ms: Option<f64>,
    /// Volume, US dollars; `None` keeps the stored value.
    pub volume_usd: Option<f64>,
}

/// A validated `POST /api/corridors` body.
#[derive(Debug, Clone)]
pub struct NewCorridor {
    /// Source asset code.
    pub source_asset_code: String,
    /// Source asset issuer.
    pub source_asset_issuer: String,
    /// Destination asset code.
    pub dest_asset_code: String,
    /// Destination asset issuer.
    pub dest_asset_issuer: String,
}

impl NewCorridor {
    /// `CODE:ISSUER->CODE:ISSUER`.
    pub fn key(&self) -> String {
        format!(
            "{}:{}->{}:{}",
            self.source_asset_code,
            self.source_asset_issuer,
            self.dest_asset_code,
            self.dest_asset_issuer
        )
    }
}

/// A validated `PUT /api/corridors/{id}/metrics` body.
#[derive(Debug, Clone, Copy)]
pub struct CorridorMetrics {
    /// Transactions counted.
    pub total_transactions: i64,
    /// Successful transactions, at most `total_transactions`.
    pub successful_transactions: i64,
    /// Volume, US dollars.
    pub volume_usd: f64,
}

/// Score at or above which an anchor is `green`. Value 95.
pub const GREEN_MIN_SCORE: f64 = 95.0;
/// Score at or above which an anchor is `yellow` (below [`GREEN_MIN_SCORE`]). Value 80.
pub const YELLOW_MIN_SCORE: f64 = 80.0;

/// Percent of successful transactions, rounded to 2 decimals; 0 when there is no traffic.
pub fn success_rate(successful: i64, total: i64) -> f64 {
    if total <= 0 {
        return 0.0;
    }
    round2(100.0 * successful as f64 / total as f64)
}

/// Anchor reliability score 0–100: the success rate in percent, rounded to 2 decimals.
/// An anchor without traffic scores 0: there is no evidence of reliability yet.
pub fn reliability_score(m: &AnchorMetrics) -> f64 {
    success_rate(m.successful_transactions, m.total_transactions)
}

/// Traffic light for a score: `green` >= 95, `yellow` >= 80, `red` below.
pub fn status_for(score: f64) -> AnchorStatus {
    if score >= GREEN_MIN_SCORE {
        AnchorStatus::Green
    } else if score >= YELLOW_MIN_SCORE {
        AnchorStatus::Yellow
    } else {
        AnchorStatus::Red
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_rate_is_a_rounded_percentage_and_zero_without_traffic() {
        assert_eq!(success_rate(0, 0), 0.0);
        assert_eq!(success_rate(2, 3), 66.67);
        assert_eq!(success_rate(10, 10), 100.0);
    }

    #[test]
    fn status_thresholds_are_inclusive() {
        assert_eq!(status_for(95.0), AnchorStatus::Green);
        assert_eq!(status_for(94.99), AnchorStatus::Yellow);
        assert_eq!(status_for(80.0), AnchorStatus::Yellow);
        assert_eq!(status_for(79.99), AnchorStatus::Red);
    }
}
