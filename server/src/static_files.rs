//! The dashboard's static export at `/`, or a hint page when it is not built.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tower::service_fn;
use tower::ServiceExt;
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
        let pages = dir.to_path_buf();
        let html_page = service_fn(move |req: Request| html_page(pages.clone(), req));
        router.fallback_service(
            ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .fallback(html_page),
        )
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

/// Next.js exports the page `/anchors` as `anchors.html`: retry an extension-less
/// path with `.html`, through `ServeDir` again so its path checks still apply.
async fn html_page(dir: PathBuf, mut req: Request) -> Result<axum::response::Response, Infallible> {
    let path = req.uri().path();
    let last = path.rsplit('/').next().unwrap_or("");
    if last.is_empty() || last.contains('.') {
        return Ok((StatusCode::NOT_FOUND, "not found\n").into_response());
    }
    let Ok(uri) = format!("{path}.html").parse::<Uri>() else {
        return Ok((StatusCode::NOT_FOUND, "not found\n").into_response());
    };
    *req.uri_mut() = uri;
    let resp = ServeDir::new(dir).oneshot(req).await?;
    Ok(resp.map(axum::body::Body::new))
}
