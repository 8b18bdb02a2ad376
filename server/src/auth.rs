//! Token checks (constant time) and token redaction for logs.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::AppState;

/// Whether `given` equals `expected`, in time independent of where they differ
/// and of their lengths (both are hashed to 32 bytes first).
pub fn token_matches(expected: &str, given: &str) -> bool {
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.ct_eq(&b).into()
}

/// Middleware: when `API_AUTH_TOKEN` is set, write methods need `Authorization: Bearer <token>`.
pub async fn require_api_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.config.api_auth_token.as_deref() else {
        return next.run(req).await;
    };
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !given.is_empty() && token_matches(expected, given) {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// The request target with the value of every `token` query parameter replaced by
/// `REDACTED`, for logs and tracing spans.
pub fn redact_uri(uri: &axum::http::Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            if name.eq_ignore_ascii_case("token") || name.to_ascii_lowercase().contains("token") {
                format!("{name}=REDACTED")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_is_exact() {
        assert!(token_matches("s3cret", "s3cret"));
        for wrong in ["", "s3cre", "s3cret ", "S3cret", "s3cret-and-more"] {
            assert!(!token_matches("s3cret", wrong), "{wrong:?}");
        }
    }

    #[test]
    fn redaction_hides_every_token_parameter() {
        let uri: axum::http::Uri = "/ws?since=4&token=abc%20def&x=1&TOKEN=zz&access_token=q"
            .parse()
            .unwrap();
        let s = redact_uri(&uri);
        assert_eq!(
            s,
            "/ws?since=4&token=REDACTED&x=1&TOKEN=REDACTED&access_token=REDACTED"
        );
        assert_eq!(redact_uri(&"/health".parse().unwrap()), "/health");
    }
}
