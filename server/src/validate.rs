//! Reading and checking REST bodies field by field, so every error names its field.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::model::{AnchorMetrics, CorridorMetrics, NewAnchor, NewCorridor};

/// Longest accepted anchor name, characters. Value 200.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest accepted home domain, bytes (DNS limit). Value 253.
pub const MAX_DOMAIN_LEN: usize = 253;

/// A request body that is a JSON object. Rejections are [`ApiError`]s.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| match r {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::TooLarge
            }
            r => ApiError::Malformed(format!("cannot read body: {r}")),
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::Malformed("body must be a JSON object".into())),
            Err(e) => Err(ApiError::Malformed(format!("malformed JSON: {e}"))),
        }
    }
}

fn present<'a>(m: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    m.get(field).filter(|v| !v.is_null())
}

fn required<'a>(m: &'a Map<String, Value>, field: &str) -> Result<&'a Value, ApiError> {
    present(m, field).ok_or_else(|| ApiError::invalid(field, format!("missing field {field}")))
}

fn string(v: &Value, field: &str) -> Result<String, ApiError> {
    v.as_str()
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} must be a string")))
}

/// A non-negative integer that fits the store's signed 64-bit columns.
fn count(m: &Map<String, Value>, field: &str) -> Result<i64, ApiError> {
    let v = required(m, field)?;
    v.as_u64()
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| ApiError::invalid(field, format!("{field} must be a non-negative integer")))
}

/// A finite, non-negative number, if present.
fn amount(m: &Map<String, Value>, field: &str) -> Result<Option<f64>, ApiError> {
    match present(m, field) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
            _ => Err(ApiError::invalid(
                field,
                format!("{field} must be a non-negative number"),
            )),
        },
    }
}

/// A Stellar account public key (`G...`), checksum included.
pub fn stellar_account(v: &Value, field: &str) -> Result<String, ApiError> {
    let s = string(v, field)?;
    match stellar_strkey::ed25519::PublicKey::from_string(&s) {
        Ok(_) => Ok(s),
        Err(_) => Err(ApiError::invalid(
            field,
            format!("{field} is not a valid Stellar public key (G..., 56 chars, valid checksum)"),
        )),
    }
}

/// An asset code: 1 to 12 ASCII letters or digits.
pub fn asset_code(v: &Value, field: &str) -> Result<String, ApiError> {
    let s = string(v, field)?;
    if (1..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s)
    } else {
        Err(ApiError::invalid(
            field,
            format!("{field} must be 1-12 ASCII letters or digits"),
        ))
    }
}

fn successful_within_total(total: i64, successful: i64) -> Result<(), ApiError> {
    if successful > total {
        return Err(ApiError::invalid(
            "successful_transactions",
            "successful_transactions must not exceed total_transactions",
        ));
    }
    Ok(())
}

/// `POST /api/anchors` body.
pub fn new_anchor(m: &Map<String, Value>) -> Result<NewAnchor, ApiError> {
    let name = string(required(m, "name")?, "name")?;
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid(
            "name",
            format!("name must be 1-{MAX_NAME_CHARS} characters"),
        ));
    }
    let stellar_account = stellar_account(required(m, "stellar_account")?, "stellar_account")?;
    let home_domain = match present(m, "home_domain") {
        None => None,
        Some(v) => {
            let d = string(v, "home_domain")?.to_ascii_lowercase();
            let ok = !d.is_empty()
                && d.len() <= MAX_DOMAIN_LEN
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && !d.starts_with(['.', '-'])
                && !d.ends_with(['.', '-']);
            if !ok {
                return Err(ApiError::invalid(
                    "home_domain",
                    "home_domain must be a host name such as example.com",
                ));
            }
            Some(d)
        }
    };
    Ok(NewAnchor {
        name,
        stellar_account,
        home_domain,
    })
}

/// `PUT /api/anchors/{id}/metrics` body.
pub fn anchor_metrics(m: &Map<String, Value>) -> Result<AnchorMetrics, ApiError> {
    let total = count(m, "total_transactions")?;
    let successful = count(m, "successful_transactions")?;
    let failed = count(m, "failed_transactions")?;
    successful_within_total(total, successful)?;
    if successful.checked_add(failed).is_none_or(|sum| sum > total) {
        return Err(ApiError::invalid(
            "failed_transactions",
            "successful_transactions + failed_transactions must not exceed total_transactions",
        ));
    }
    Ok(AnchorMetrics {
        total_transactions: total,
        successful_transactions: successful,
        failed_transactions: failed,
        avg_settlement_time_ms: amount(m, "avg_settlement_time_ms")?,
        volume_usd: amount(m, "volume_usd")?,
    })
}

/// `POST /api/corridors` body.
pub fn new_corridor(m: &Map<String, Value>) -> Result<NewCorridor, ApiError> {
    Ok(NewCorridor {
        source_asset_code: asset_code(required(m, "source_asset_code")?, "source_asset_code")?,
        source_asset_issuer: stellar_account(
            required(m, "source_asset_issuer")?,
            "source_asset_issuer",
        )?,
        dest_asset_code: asset_code(required(m, "dest_asset_code")?, "dest_asset_code")?,
        dest_asset_issuer: stellar_account(required(m, "dest_asset_issuer")?, "dest_asset_issuer")?,
    })
}

/// `PUT /api/corridors/{id}/metrics` body.
pub fn corridor_metrics(m: &Map<String, Value>) -> Result<CorridorMetrics, ApiError> {
    let total = count(m, "total_transactions")?;
    let successful = count(m, "successful_transactions")?;
    successful_within_total(total, successful)?;
    let volume_usd = amount(m, "volume_usd")?
        .ok_or_else(|| ApiError::invalid("volume_usd", "missing field volume_usd"))?;
    Ok(CorridorMetrics {
        total_transactions: total,
        successful_transactions: successful,
        volume_usd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USDC_ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn strkey_checksum_is_enforced() {
        assert!(stellar_account(&json!(USDC_ISSUER), "a").is_ok());
        let mut bad = USDC_ISSUER.to_owned();
        bad.replace_range(55.., "M");
        assert!(
            stellar_account(&json!(bad), "a").is_err(),
            "last char changed breaks the checksum"
        );
        assert!(stellar_account(
            &json!("SA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"),
            "a"
        )
        .is_err());
        assert!(stellar_account(&json!(42), "a").is_err());
    }

    #[test]
    fn asset_codes_are_one_to_twelve_alphanumerics() {
        for ok in ["X", "USDC", "ABCDEFGHIJ12"] {
            assert!(asset_code(&json!(ok), "c").is_ok(), "{ok}");
        }
        for bad in ["", "ABCDEFGHIJ123", "US-D", "ÜSD", "US D"] {
            assert!(asset_code(&json!(bad), "c").is_err(), "{bad}");
        }
    }

    #[test]
    fn anchor_metrics_reject_inconsistent_counts_naming_the_field() {
        let ok = json!({"total_transactions": 10, "successful_transactions": 7, "failed_transactions": 3});
        assert!(anchor_metrics(ok.as_object().unwrap()).is_ok());
        let cases = [
            (
                json!({"total_transactions": -1, "successful_transactions": 0, "failed_transactions": 0}),
                "total_transactions",
            ),
            (
                json!({"total_transactions": 1.5, "successful_transactions": 0, "failed_transactions": 0}),
                "total_transactions",
            ),
            (
                json!({"total_transactions": 5, "successful_transactions": 6, "failed_transactions": 0}),
                "successful_transactions",
            ),
            (
                json!({"total_transactions": 5, "successful_transactions": 3, "failed_transactions": 3}),
                "failed_transactions",
            ),
            (
                json!({"total_transactions": 5, "successful_transactions": 3}),
                "failed_transactions",
            ),
            (
                json!({"total_transactions": 5, "successful_transactions": 3, "failed_transactions": 0, "volume_usd": -2}),
                "volume_usd",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                field_of(anchor_metrics(body.as_object().unwrap()).unwrap_err()),
                field,
                "{body}"
            );
        }
    }
}
