//! `stellar-insights-server`: REST API, update log and WebSocket fan-out of the
//! Stellar Insights real-time layer. See `server/CONFIG.md` for the REST API and
//! the WebSocket behaviour, the README's "Server configuration" table for every
//! variable, `server/SCALE.md` for several instances on Redis, and the protocol
//! crate (`protocol/src/lib.rs`, `stellar-insights-protocol`) for the wire format.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod broadcast;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod error;
pub mod filter;
pub mod hub;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod redis_bus;
pub mod service;
pub mod state;
pub mod static_files;
pub mod store;
pub mod validate;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method, Request};
use axum::routing::{any, get, put};
use axum::serve::ListenerExt;
use axum::{middleware, Router};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

use cluster::UpdateLog;
pub use config::Config;
use error::ServeError;
use hub::Hub;
use limits::IpLimiter;
use metrics::Metrics;
use redis_bus::RedisBus;
use store::Db;

/// Everything handlers share; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Settings.
    pub config: Arc<Config>,
    /// Database pool.
    pub db: Db,
    /// The global update log (`?since=`, `connected.seq`, `/health`).
    pub log: UpdateLog,
    /// The Redis stream client when `REDIS_URL` is set.
    pub redis: Option<Arc<RedisBus>>,
    /// Update fan-out.
    pub hub: Arc<Hub>,
    /// The writers that send live updates to WebSocket connections (one per core).
    pub fanout: Arc<ws::fanout::Fanout>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Per-IP WebSocket cap.
    pub ip_limiter: Arc<IpLimiter>,
    shutdown: Arc<watch::Sender<bool>>,
    closed: Arc<Notify>,
}

impl AppState {
    /// Opens the database (creating and migrating it) and builds the shared state.
    pub async fn new(config: Config) -> Result<AppState, ServeError> {
        let db = store::connect(&config.database_url).await?;
        let redis = match &config.redis_url {
            Some(url) => Some(Arc::new(RedisBus::new(
                url,
                &config.redis_key_prefix,
                config.update_log_retention,
            )?)),
            None => None,
        };
        let log = match &redis {
            Some(bus) => UpdateLog::Redis {
                bus: Arc::clone(bus),
                db: db.clone(),
            },
            None => UpdateLog::Local(db.clone()),
        };
        // Updates up to `last` were published before this process started.
        let (_, last) = log.bounds().await?;
        let hub = Arc::new(Hub::new(config.ws_send_queue, last));
        let metrics = Arc::new(Metrics::default());
        let shutdown = Arc::new(watch::channel(false).0);
        let writers = std::thread::available_parallelism().map_or(1, usize::from);
        let fanout = Arc::new(ws::fanout::Fanout::start(
            &hub,
            writers,
            config.ws_send_queue,
            Arc::clone(&metrics),
            shutdown.subscribe(),
        ));
        Ok(AppState {
            log,
            redis,
            hub,
            fanout,
            ip_limiter: Arc::new(IpLimiter::new(config.ws_max_connections_per_ip)),
            metrics,
            shutdown,
            closed: Arc::new(Notify::new()),
            config: Arc::new(config),
            db,
        })
    }

    /// Tells every connection and the relay to finish.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// After a write's commit returned (the write began its transaction at `started`):
    /// single instance, hands its update to the hub's publisher task (sent in seq order,
    /// see `hub`); with Redis,
    /// wakes the relay that numbers it through the stream (its `seq` is an outbox row id).
    pub(crate) fn committed(&self, mut update: hub::Update, started: std::time::Instant) {
        let now = std::time::Instant::now();
        self.metrics.write_commit.observe(now - started);
        if self.redis.is_some() {
            self.hub.wake();
            return;
        }
        update.committed_at = Some(now);
        self.hub.publish_committed(update);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A receiver that changes to `true` at shutdown.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn connection_closed(&self) {
        self.closed.notify_waiters();
    }

    /// Waits until no WebSocket connection is open, or `grace` has passed.
    async fn wait_for_connections(&self, grace: Duration) {
        let _ = tokio::time::timeout(grace, async {
            loop {
                let notified = self.closed.notified();
                if self
                    .metrics
                    .connections_open
                    .load(std::sync::atomic::Ordering::Relaxed)
                    <= 0
                {
                    return;
                }
                notified.await;
            }
        })
        .await;
    }
}

fn cors(config: &Config) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]);
    match &config.cors_allowed_origins {
        None => layer.allow_origin(AllowOrigin::any()),
        Some(list) => layer.allow_origin(AllowOrigin::list(
            list.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
        )),
    }
}

/// The HTTP router: REST, `/ws`, `/health`, `/metrics`, and the dashboard at `/`.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/anchors",
            get(api::list_anchors).post(api::create_anchor),
        )
        .route("/api/anchors/{id}", get(api::get_anchor))
        .route("/api/anchors/{id}/metrics", put(api::update_anchor_metrics))
        .route(
            "/api/corridors",
            get(api::list_corridors).post(api::create_corridor),
        )
        .route("/api/corridors/history", get(api::corridors_history))
        .route("/api/corridors/{id}", get(api::get_corridor))
        .route("/api/corridors/{id}/history", get(api::corridor_history))
        .route(
            "/api/corridors/{id}/metrics",
            put(api::update_corridor_metrics),
        )
        .route(
            "/api/snapshots",
            get(api::list_snapshots).post(api::create_snapshot),
        )
        .route("/api/snapshots/latest", get(api::latest_snapshot))
        .route("/api/ingest/corridors", get(ingest::corridor_windows))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_token,
        ))
        .route("/api", any(api::not_found))
        .route("/api/{*rest}", any(api::not_found))
        .layer(DefaultBodyLimit::max(state.config.http_body_limit_bytes));
    let router = Router::new()
        .route("/health", get(api::health))
        .route("/metrics", get(api::metrics))
        .route("/ws", get(ws::ws_handler))
        .merge(api);
    static_files::attach(router, &state.config.static_dir)
        .layer(cors(&state.config))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            // The URI goes through redaction: `?token=` must never reach a log line.
            tracing::info_span!("http", method = %req.method(), uri = %auth::redact_uri(req.uri()))
        }))
        .with_state(state)
}

/// Runs the server on `listener` until `shutdown` completes, then closes every
/// WebSocket with 1001, lets in-flight requests finish and stops the relay.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let state = AppState::new(config).await?;
    let mut relays = Vec::new();
    match &state.redis {
        None => {
            relays.push(tokio::spawn(
                Arc::clone(&state.hub)
                    .run_publisher(Arc::clone(&state.metrics), state.shutdown_signal()),
            ));
            relays.push(tokio::spawn(Arc::clone(&state.hub).run_relay(
                state.db.clone(),
                state.config.update_log_retention,
                Arc::clone(&state.metrics),
                state.shutdown_signal(),
            )));
        }
        Some(bus) => {
            relays.push(tokio::spawn(cluster::run_relay(
                Arc::clone(&state.hub),
                Arc::clone(bus),
                state.db.clone(),
                state.config.update_log_retention,
                state.shutdown_signal(),
            )));
            relays.push(tokio::spawn(cluster::run_tail(
                Arc::clone(&state.hub),
                Arc::clone(bus),
                state.db.clone(),
                Arc::clone(&state.metrics),
                state.shutdown_signal(),
            )));
        }
    }
    let demo = state
        .config
        .demo_mode
        .then(|| tokio::spawn(demo::run(state.clone())));
    let ingest = state
        .config
        .ingest
        .clone()
        .map(|cfg| tokio::spawn(ingest::run(state.clone(), cfg)));
    let on_signal = state.clone();
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down");
        on_signal.begin_shutdown();
    };
    tracing::info!("listening on http://{}", listener.local_addr()?);
    let send_buffer = state.config.tcp_send_buffer_bytes;
    let listener = listener.tap_io(move |stream| {
        // Small frames (pings, updates) must not wait for Nagle.
        let _ = stream.set_nodelay(true);
        if let Some(bytes) = send_buffer {
            if let Err(e) = socket2::SockRef::from(&*stream).set_send_buffer_size(bytes) {
                tracing::warn!(error = %e, "cannot set TCP send buffer size");
            }
        }
    });
    axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(graceful)
    .await?;
    state
        .wait_for_connections(state.config.shutdown_grace)
        .await;
    if let Some(demo) = demo {
        let _ = demo.await;
    }
    if let Some(ingest) = ingest {
        let _ = ingest.await;
    }
    for relay in relays {
        let _ = relay.await;
    }
    state.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes once `rx` reads `true`, including when it already did before the call.
pub(crate) async fn until_shutdown(rx: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, so callers stay `Send`.
    let _ = rx.wait_for(|stop| *stop).await.map(|_| ());
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
