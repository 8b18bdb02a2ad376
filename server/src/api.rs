//! REST handlers: read the body with `validate`, write through `service`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::model::{Anchor, Corridor, Snapshot};
use crate::validate::{self, JsonObject};
use crate::{service, store, AppState};

type ApiResult<T> = Result<T, ApiError>;

/// `GET /health`: `{"status","database","redis","demo","source","seq","protocol"}`; `source` is
/// what feeds the data: `demo`, `rest` (REST writes only) or `horizon-public` / `horizon-testnet`.
///
/// `status` is `ok`, or `degraded` when Redis is configured but unreachable (the instance
/// still serves its clients; writes wait in the outbox); 503 when the database is down.
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let redis = match &state.redis {
        None => "disabled",
        Some(bus) if bus.ping().await => "ok",
        Some(_) => "unavailable",
    };
    if let Err(e) = state.db.ping().await {
        tracing::error!(error = %e, "health check: database unavailable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "unavailable", "error": "database unavailable",
                        "database": "unavailable", "redis": redis}),
            ),
        );
    }
    let seq = match state.log.bounds().await {
        Ok((_, issued)) => issued,
        Err(_) => state.hub.published_seq(),
    };
    let status = if redis == "unavailable" {
        "degraded"
    } else {
        "ok"
    };
    (
        StatusCode::OK,
        Json(json!({
            "status": status,
            "database": "ok",
            "backend": state.db.backend(),
            "redis": redis,
            "demo": state.config.demo_mode,
            "source": match (&state.config.ingest, state.config.demo_mode) {
                (Some(i), _) => format!("horizon-{}", i.network.as_str()),
                (None, true) => "demo".to_owned(),
                (None, false) => "rest".to_owned(),
            },
            "seq": seq,
            "protocol": stellar_insights_protocol::PROTOCOL_VERSION,
        })),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(),
    )
}

/// `GET /api/anchors`.
pub async fn list_anchors(State(state): State<AppState>) -> ApiResult<Json<Vec<Anchor>>> {
    Ok(Json(store::list_anchors(&state.db).await?))
}

/// `POST /api/anchors`: 201 with the anchor.
pub async fn create_anchor(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<impl IntoResponse> {
    let new = validate::new_anchor(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_anchor(&state, new).await?),
    ))
}

/// `GET /api/anchors/{id}`.
pub async fn get_anchor(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Anchor>> {
    store::find_anchor(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("anchor"))
}

/// `PUT /api/anchors/{id}/metrics`: 200 with the updated anchor.
pub async fn update_anchor_metrics(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Anchor>> {
    let m = validate::anchor_metrics(&body)?;
    Ok(Json(service::update_anchor_metrics(&state, &id, m).await?))
}

/// `GET /api/corridors`.
pub async fn list_corridors(State(state): State<AppState>) -> ApiResult<Json<Vec<Corridor>>> {
    Ok(Json(store::list_corridors(&state.db).await?))
}

/// `POST /api/corridors`: 201 with the corridor.
pub async fn create_corridor(
    State(state): State<AppState>,
    JsonObject(body): JsonObject,
) -> ApiResult<impl IntoResponse> {
    let new = validate::new_corridor(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_corridor(&state, new).await?),
    ))
}

/// `GET /api/corridors/{id}`.
pub async fn get_corridor(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Corridor>> {
    store::find_corridor(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("corridor"))
}

/// `PUT /api/corridors/{id}/metrics`: 200 with the updated corridor.
pub async fn update_corridor_metrics(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Corridor>> {
    let m = validate::corridor_metrics(&body)?;
    Ok(Json(
        service::update_corridor_metrics(&state, &id, m).await?,
    ))
}

/// Query of `GET /api/snapshots`.
#[derive(Debug, Deserialize)]
pub struct SnapshotQuery {
    /// Most snapshots returned, newest first. Default 100, maximum 1000.
    pub limit: Option<String>,
}

/// `GET /api/snapshots?limit=`: newest first.
pub async fn list_snapshots(
    State(state): State<AppState>,
    Query(q): Query<SnapshotQuery>,
) -> ApiResult<Json<Vec<Snapshot>>> {
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::invalid(
                    "limit",
                    "limit must be an integer from 1 to 1000",
                ))
            }
        },
    };
    Ok(Json(store::list_snapshots(&state.db, limit).await?))
}

/// `GET /api/snapshots/latest`: 404 before the first snapshot.
pub async fn latest_snapshot(State(state): State<AppState>) -> ApiResult<Json<Snapshot>> {
    store::latest_snapshot(&state.db)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("snapshot"))
}

/// `POST /api/snapshots`: 201 with the new snapshot (no body needed).
pub async fn create_snapshot(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_snapshot(&state).await?),
    ))
}

/// Query of the history endpoints.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// How far back, minutes, 1–[`store::history::RETENTION_MINUTES`]. Default 60.
    pub minutes: Option<String>,
}

/// `minutes` of a history query, checked: 400 naming the parameter when it is not an
/// integer from 1 to the retention.
fn history_since(q: &HistoryQuery) -> ApiResult<(i64, i64)> {
    let max = store::history::RETENTION_MINUTES;
    let minutes = match q.minutes.as_deref() {
        None => max,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(ApiError::BadQuery {
                    message: format!("minutes must be an integer from 1 to {max}, not {s:?}"),
                    field: "minutes",
                })
            }
        },
    };
    Ok((minutes, service::now_ms() - minutes * 60_000))
}

/// `GET /api/corridors/{key}/history?minutes=`: the corridor's values over the last
/// `minutes` (default and most 60), one point per 10 s step in which it was written,
/// oldest first: `{"corridor_key","minutes","step_ms","points":[{"t","success_rate",
/// "volume_usd","total_transactions"}]}`. `{key}` is the corridor key (URL-encoded) or
/// its id; 404 when it names no corridor.
pub async fn corridor_history(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let (minutes, since) = history_since(&q)?;
    let id = store::history::corridor_id(&state.db, &key)
        .await?
        .ok_or(ApiError::NotFound("corridor"))?;
    let points = store::history::points(&state.db, &id, since).await?;
    let corridor_key = store::find_corridor(&state.db, &id)
        .await?
        .map(|c| c.corridor_key)
        .ok_or(ApiError::NotFound("corridor"))?;
    Ok(Json(json!({
        "corridor_key": corridor_key,
        "minutes": minutes,
        "step_ms": store::history::STEP_MS,
        "points": points,
    })))
}

/// `GET /api/corridors/history?minutes=`: the same for every corridor, for the sparklines:
/// `{"minutes","step_ms","corridors":{"<corridor_key>":[points]}}`; a corridor without a
/// point in the span is left out.
pub async fn corridors_history(
    State(state): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let (minutes, since) = history_since(&q)?;
    let mut corridors = serde_json::Map::new();
    for (key, point) in store::history::all_points(&state.db, since).await? {
        let series = corridors
            .entry(key)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(points) = series {
            points.push(json!(point));
        }
    }
    Ok(Json(json!({
        "minutes": minutes,
        "step_ms": store::history::STEP_MS,
        "corridors": corridors,
    })))
}

/// Any other `/api/...` path: JSON 404 instead of the dashboard.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}
