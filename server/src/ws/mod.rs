//! `GET /ws`: checks done before the upgrade (Origin, token, query, per-IP cap),
//! then one task per connection (see [`connection`]), whose live updates a
//! fan-out writer sends (see [`fanout`]).

pub mod connection;
pub mod fanout;
pub(crate) mod outbox;
pub mod state_read;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use stellar_insights_protocol::Topic;

use crate::auth::token_matches;
use crate::error::ErrorBody;
use crate::metrics::RejectReason;
use crate::AppState;

/// The request's upgrade, taken before axum's [`WebSocketUpgrade`] checks the
/// request: the checks and their refusals stay axum's, the upgraded connection
/// comes back as its `TcpStream` (see [`connection::run`]).
pub struct RawUpgrade(Option<hyper::upgrade::OnUpgrade>);

impl<S: Send + Sync> FromRequestParts<S> for RawUpgrade {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RawUpgrade(
            parts.extensions.get::<hyper::upgrade::OnUpgrade>().cloned(),
        ))
    }
}

/// Read buffer of each connection, bytes. Value 1 KiB. tungstenite's default
/// (128 KiB) is zero-filled on the first read, so it is resident for every
/// connection: 1.3 GB at 10 000 clients (4 KiB until issue 16's memory
/// target, ≤ 8 KiB per connection). Clients send small frames (pongs,
/// subscriptions); a larger one (up to `WS_MAX_FRAME_BYTES`) still fits, the
/// buffer grows for it.
const READ_BUFFER_BYTES: usize = 1024;

fn refuse(state: &AppState, reason: RejectReason, status: StatusCode, error: &str) -> Response {
    state.metrics.reject(reason);
    tracing::debug!(?reason, "websocket request refused");
    (
        status,
        Json(ErrorBody {
            error: error.to_owned(),
            field: None,
        }),
    )
        .into_response()
}

/// Whether the request's `Origin` may connect: any when `CORS_ALLOWED_ORIGINS` is unset;
/// requests without `Origin` (non-browser clients) are allowed, since Origin only guards browsers.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let (Some(allowed), Some(origin)) = (
        &state.config.cors_allowed_origins,
        headers.get(header::ORIGIN),
    ) else {
        return true;
    };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

/// The `/ws` handler.
pub async fn ws_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    RawUpgrade(upgrade): RawUpgrade,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if state.is_shutting_down() {
        return refuse(
            &state,
            RejectReason::ShuttingDown,
            StatusCode::SERVICE_UNAVAILABLE,
            "server is shutting down",
        );
    }
    if !origin_allowed(&state, &headers) {
        return refuse(
            &state,
            RejectReason::Origin,
            StatusCode::FORBIDDEN,
            "origin not allowed",
        );
    }
    let Ok(Query(params)) = query else {
        return refuse(
            &state,
            RejectReason::BadRequest,
            StatusCode::BAD_REQUEST,
            "malformed query string",
        );
    };
    if let Some(expected) = state.config.ws_auth_token.as_deref() {
        let given = params.get("token").map(String::as_str).unwrap_or("");
        if given.is_empty() || !token_matches(expected, given) {
            return refuse(
                &state,
                RejectReason::Unauthorized,
                StatusCode::UNAUTHORIZED,
                "missing or wrong token",
            );
        }
    }
    let since = match params.get("since").map(|s| s.parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return refuse(
                &state,
                RejectReason::BadRequest,
                StatusCode::BAD_REQUEST,
                "since must be a non-negative integer",
            )
        }
    };
    let topics: Result<Vec<Topic>, _> = match params.get("topics") {
        None => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::parse)
            .collect(),
    };
    let Ok(topics) = topics else {
        return refuse(
            &state,
            RejectReason::BadRequest,
            StatusCode::BAD_REQUEST,
            "topics must be a comma-separated list of topics",
        );
    };
    let keyed = topics
        .iter()
        .filter(|t| matches!(t, Topic::Corridor(_) | Topic::Anchor(_)))
        .count();
    if keyed > crate::filter::MAX_KEYS {
        return refuse(
            &state,
            RejectReason::BadRequest,
            StatusCode::BAD_REQUEST,
            "topics names more keyed topics than the server allows per connection (1024)",
        );
    }
    if let Err(rejection) = ws {
        state.metrics.reject(RejectReason::BadRequest);
        return rejection.into_response();
    }
    // axum's extractor accepted the request: an HTTP/1.1 upgrade (this server
    // serves no HTTP/2) with a `Sec-WebSocket-Key` and version 13.
    let (Some(upgrade), Some(key)) = (upgrade, headers.get(header::SEC_WEBSOCKET_KEY)) else {
        return refuse(
            &state,
            RejectReason::BadRequest,
            StatusCode::UPGRADE_REQUIRED,
            "connection is not upgradable",
        );
    };
    let Some(ip_guard) = state.ip_limiter.try_acquire(peer.ip()) else {
        return refuse(
            &state,
            RejectReason::PerIpLimit,
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from this address",
        );
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let open = connection::OpenGuard::new(&state);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade failed");
                return;
            }
        };
        // `axum::serve` on a `TcpListener` hands hyper-util `TokioIo<TcpStream>`
        // (which wraps it once more while it tells HTTP/1 from HTTP/2).
        type Io = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
        let Ok(parts) = hyper_util::server::conn::auto::upgrade::downcast::<Io>(upgraded) else {
            tracing::error!("websocket upgrade: the connection is not a TCP stream");
            return;
        };
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(state.config.ws_max_frame_bytes))
            .max_frame_size(Some(state.config.ws_max_frame_bytes))
            .read_buffer_size(READ_BUFFER_BYTES)
            // Every frame goes to the outbox at once (it queues what the socket does not take).
            .write_buffer_size(0);
        connection::run(
            parts.io.into_inner(),
            parts.read_buf,
            config,
            state,
            connection::Params {
                peer,
                since,
                topics,
                open,
                _ip_guard: ip_guard,
            },
        )
        .await;
    });
    #[allow(clippy::declare_interior_mutable_const)]
    const UPGRADE: HeaderValue = HeaderValue::from_static("upgrade");
    #[allow(clippy::declare_interior_mutable_const)]
    const WEBSOCKET: HeaderValue = HeaderValue::from_static("websocket");
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, UPGRADE),
            (header::UPGRADE, WEBSOCKET),
            (
                header::SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
            ),
        ],
    )
        .into_response()
}
