//! The dashboard's static export at `/`, or a hint page when it is not built.

use std::path::Path;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

use crate::AppState;

const NOT_BUILT: &str = "Stellar Insights server is running, but the dashboard is not built.\n\n\
Build it with:  cd www && npm ci && npm run build   (static export into www/out)\n\
or point STATIC_DIR at an existing export.\n\n\
The API is at /api/anchors, /api/corridors, /api/snapshots; live updates at /ws; health at /health.\n";

/// Adds the static fallback to `router`: files under `dir` (ServeDir resolves paths
/// inside `dir` only, so `..` cannot escape it), or the hint page when `dir/index.html` is missing.
pub fn attach(router: Router<AppState>, dir: &Path) -> Router<AppState> {
    if dir.join("index.html").is_file() {
        router.fallback_service(ServeDir::new(dir).append_index_html_on_directories(true))
    } else {
        tracing::warn!(dir = %dir.display(), "static dashboard not found; serving a hint page at /");
        router
            .route("/", get(not_built))
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
    }
}

async fn not_built() -> impl IntoResponse {
    ([("content-type", "text/plain; charset=utf-8")], NOT_BUILT)
}
