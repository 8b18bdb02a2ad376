//! Server configuration, read from the environment (and a `.env` file).
//!
//! Every variable, its default and its unit is listed in `server/CONFIG.md`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid value {value:?} for {var}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// The value it had.
    pub value: String,
    /// What was expected.
    pub reason: &'static str,
}

/// All settings of one server process. `Debug` prints tokens as `REDACTED`.
#[derive(Clone)]
pub struct Config {
    /// `SERVER_HOST`: address to bind. Default `127.0.0.1`.
    pub host: IpAddr,
    /// `SERVER_PORT`: TCP port to bind. Default 8080; 0 picks a free port.
    pub port: u16,
    /// `DATABASE_URL`: `sqlite://<file>` or `postgres://user@host:port/db`. Default
    /// `sqlite://stellar-insights.db` (created on first start).
    pub database_url: String,
    /// `REDIS_URL`: Redis for scale-out (`redis://host:port/db`); updates go through a Redis
    /// stream so several instances share them. Default unset (in-process bus).
    pub redis_url: Option<String>,
    /// `REDIS_KEY_PREFIX`: prefix of every Redis key; instances of one deployment share it.
    /// Default `stellar-insights`.
    pub redis_key_prefix: String,
    /// `WS_AUTH_TOKEN`: token required as `?token=` on `/ws`. Default unset (no auth).
    pub ws_auth_token: Option<String>,
    /// `API_AUTH_TOKEN`: bearer token required for REST writes. Default unset (no auth).
    pub api_auth_token: Option<String>,
    /// `WS_PING_INTERVAL_SECS`: heartbeat interval, seconds (fractions allowed). Default 30.
    pub ping_interval: Duration,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins for REST CORS and the `/ws` Origin check.
    /// Default unset = any origin.
    pub cors_allowed_origins: Option<Vec<String>>,
    /// `UPDATE_LOG_RETENTION`: number of most recent updates kept for `?since=` replay. Default 10 000, minimum 1.
    pub update_log_retention: u64,
    /// `WS_MAX_FRAME_BYTES`: largest accepted client frame, bytes. Default 65 536.
    pub ws_max_frame_bytes: usize,
    /// `WS_MAX_CONNECTIONS_PER_IP`: open WebSocket connections allowed per client IP. Default 256.
    pub ws_max_connections_per_ip: usize,
    /// `WS_RATE_LIMIT_PER_SEC`: sustained client frames per second per connection. Default 50.
    pub ws_rate_limit_per_sec: u32,
    /// `WS_RATE_LIMIT_BURST`: client frames a connection may send at once above the rate. Default 100.
    pub ws_rate_limit_burst: u32,
    /// `WS_SEND_QUEUE`: update frames queued per connection whose socket is full before it counts as a
    /// slow consumer (also the hub's ring of published updates). Default 1024, updates.
    pub ws_send_queue: usize,
    /// `HTTP_BODY_LIMIT_BYTES`: largest accepted REST request body, bytes. Default 65 536.
    pub http_body_limit_bytes: usize,
    /// `STATIC_DIR`: directory of the dashboard's static export served at `/`. Default `www/out`.
    pub static_dir: PathBuf,
    /// `DEMO_MODE` (`true`/`1`) or the `--demo` flag: seed demo data and change it live. Default off.
    pub demo_mode: bool,
    /// `DEMO_TICK_MS`: interval between demo metric changes, ms. Default 1000.
    pub demo_tick: Duration,
    /// `DEMO_SNAPSHOT_SECS`: interval between demo snapshots, seconds. Default 60.
    pub demo_snapshot_interval: Duration,
    /// `TCP_SEND_BUFFER_BYTES`: kernel send buffer per accepted connection, bytes (SO_SNDBUF).
    /// Default unset = kernel autotuning (up to several MiB per slow client).
    pub tcp_send_buffer_bytes: Option<usize>,
    /// `SHUTDOWN_GRACE_SECS`: how long shutdown waits for WebSocket clients to take their close frame, seconds. Default 5.
    pub shutdown_grace: Duration,
    /// Horizon ingestion settings; `Some` when `INGEST=horizon`. Default `None` (`INGEST=off`).
    pub ingest: Option<IngestConfig>,
}

/// Stellar network ingested from (`STELLAR_NETWORK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StellarNetwork {
    /// `public`: the main network. The default.
    Public,
    /// `testnet`: the test network.
    Testnet,
}

impl StellarNetwork {
    /// `"public"` or `"testnet"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StellarNetwork::Public => "public",
            StellarNetwork::Testnet => "testnet",
        }
    }

    /// SDF's Horizon for this network, the default `HORIZON_URL`.
    pub fn default_horizon_url(self) -> &'static str {
        match self {
            StellarNetwork::Public => "https://horizon.stellar.org",
            StellarNetwork::Testnet => "https://horizon-testnet.stellar.org",
        }
    }

    /// Issuer of Circle's USDC on this network: the USD reference for prices.
    pub fn usdc_issuer(self) -> &'static str {
        match self {
            StellarNetwork::Public => "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
            StellarNetwork::Testnet => "GBBD47IF6LWK7P7MDEVSCWR7DPUWV3NY3DTQEVFL4NAT4AQH3ZLLFLA5",
        }
    }
}

/// Settings of `INGEST=horizon` (see `server/CONFIG.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    /// `STELLAR_NETWORK`: `public` or `testnet`. Default `public`.
    pub network: StellarNetwork,
    /// `HORIZON_URL`: Horizon base URL, `http://` or `https://`, no trailing slash.
    /// Default SDF's Horizon of the network.
    pub horizon_url: String,
    /// `INGEST_START`: where a database without a stored cursor starts: `now` or a
    /// `paging_token` (digits). A stored cursor always wins. Default `now`.
    pub start: String,
    /// `HORIZON_REQUESTS_PER_HOUR`: most requests sent to Horizon per hour, all kinds. Default 3000.
    pub requests_per_hour: u32,
    /// `HORIZON_POLL_MS`: wait before reopening the event stream when Horizon ended it
    /// without a `retry:` field or refused it, ms. Default 5000.
    pub poll: Duration,
    /// `HORIZON_PAGE_LIMIT`: records per page while catching up, 1–200 (Horizon's
    /// maximum); a shorter page means caught up, and ingestion switches to the event
    /// stream. Default 200.
    pub page_limit: usize,
    /// `INGEST_FLUSH_MS`: interval of metric writes, ms: at most one update per corridor
    /// and per anchor per interval. Default 1000.
    pub flush: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            database_url: "sqlite://stellar-insights.db".into(),
            redis_url: None,
            redis_key_prefix: "stellar-insights".into(),
            ws_auth_token: None,
            api_auth_token: None,
            ping_interval: Duration::from_secs(30),
            cors_allowed_origins: None,
            update_log_retention: 10_000,
            ws_max_frame_bytes: 65_536,
            ws_max_connections_per_ip: 256,
            ws_rate_limit_per_sec: 50,
            ws_rate_limit_burst: 100,
            ws_send_queue: 1024,
            http_body_limit_bytes: 65_536,
            static_dir: PathBuf::from("www/out"),
            demo_mode: false,
            demo_tick: Duration::from_millis(1000),
            demo_snapshot_interval: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            tcp_send_buffer_bytes: None,
            ingest: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |t: &Option<String>| t.as_ref().map(|_| "REDACTED");
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &redact_userinfo(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_userinfo))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("ws_auth_token", &redact(&self.ws_auth_token))
            .field("api_auth_token", &redact(&self.api_auth_token))
            .field("ping_interval", &self.ping_interval)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("update_log_retention", &self.update_log_retention)
            .field("ws_max_frame_bytes", &self.ws_max_frame_bytes)
            .field("ws_max_connections_per_ip", &self.ws_max_connections_per_ip)
            .field("ws_rate_limit_per_sec", &self.ws_rate_limit_per_sec)
            .field("ws_rate_limit_burst", &self.ws_rate_limit_burst)
            .field("ws_send_queue", &self.ws_send_queue)
            .field("http_body_limit_bytes", &self.http_body_limit_bytes)
            .field("static_dir", &self.static_dir)
            .field("demo_mode", &self.demo_mode)
            .field("demo_tick", &self.demo_tick)
            .field("demo_snapshot_interval", &self.demo_snapshot_interval)
            .field("tcp_send_buffer_bytes", &self.tcp_send_buffer_bytes)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("ingest", &self.ingest)
            .finish()
    }
}

impl Config {
    /// Reads `.env` (if present, without overriding the real environment), then the environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        let _ = dotenvy::dotenv();
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds a configuration from any variable source; unset or empty variables keep their default.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut c = Config::default();
        if let Some(v) = get("SERVER_HOST") {
            c.host = parse(&v, "SERVER_HOST", "an IP address")?;
        }
        if let Some(v) = get("SERVER_PORT") {
            c.port = parse(&v, "SERVER_PORT", "a port number 0-65535")?;
        }
        if let Some(v) = get("DATABASE_URL") {
            c.database_url = v;
        }
        check_database_url(&c.database_url)?;
        if let Some(v) = get("REDIS_URL") {
            if !(v.starts_with("redis://")
                || v.starts_with("rediss://")
                || v.starts_with("redis+unix://"))
            {
                return Err(err(
                    "REDIS_URL",
                    &redact_userinfo(&v),
                    "a redis://host:port URL",
                ));
            }
            c.redis_url = Some(v);
        }
        if let Some(v) = get("REDIS_KEY_PREFIX") {
            c.redis_key_prefix = v;
        }
        c.ws_auth_token = get("WS_AUTH_TOKEN");
        c.api_auth_token = get("API_AUTH_TOKEN");
        if let Some(v) = get("WS_PING_INTERVAL_SECS") {
            let secs: f64 = parse(&v, "WS_PING_INTERVAL_SECS", "a positive number of seconds")?;
            if !(secs.is_finite() && (0.05..=86_400.0).contains(&secs)) {
                return Err(err(
                    "WS_PING_INTERVAL_SECS",
                    &v,
                    "between 0.05 and 86400 seconds",
                ));
            }
            c.ping_interval = Duration::from_secs_f64(secs);
        }
        if let Some(v) = get("CORS_ALLOWED_ORIGINS") {
            let list: Vec<String> = v
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            if let Some(bad) = list.iter().find(|o| {
                *o != "*"
                    && !((o.starts_with("http://") || o.starts_with("https://"))
                        && o.bytes().all(|b| b.is_ascii_graphic()))
            }) {
                return Err(err(
                    "CORS_ALLOWED_ORIGINS",
                    bad,
                    "origins like http://host:port, comma-separated, or *",
                ));
            }
            // `*` anywhere means any origin, the same as leaving the variable unset.
            c.cors_allowed_origins =
                (!list.is_empty() && !list.iter().any(|o| o == "*")).then_some(list);
        }
        c.update_log_retention = positive(&get, "UPDATE_LOG_RETENTION", c.update_log_retention)?;
        c.ws_max_frame_bytes =
            positive(&get, "WS_MAX_FRAME_BYTES", c.ws_max_frame_bytes as u64)? as usize;
        c.ws_max_connections_per_ip = positive(
            &get,
            "WS_MAX_CONNECTIONS_PER_IP",
            c.ws_max_connections_per_ip as u64,
        )? as usize;
        c.ws_rate_limit_per_sec = small(&get, "WS_RATE_LIMIT_PER_SEC", c.ws_rate_limit_per_sec)?;
        c.ws_rate_limit_burst = small(&get, "WS_RATE_LIMIT_BURST", c.ws_rate_limit_burst)?;
        c.ws_send_queue = positive(&get, "WS_SEND_QUEUE", c.ws_send_queue as u64)? as usize;
        c.http_body_limit_bytes = positive(
            &get,
            "HTTP_BODY_LIMIT_BYTES",
            c.http_body_limit_bytes as u64,
        )? as usize;
        if let Some(v) = get("STATIC_DIR") {
            c.static_dir = PathBuf::from(v);
        }
        if let Some(v) = get("DEMO_MODE") {
            c.demo_mode = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err(err("DEMO_MODE", &v, "true or false")),
            };
        }
        c.demo_tick = Duration::from_millis(positive(&get, "DEMO_TICK_MS", 1000)?);
        c.demo_snapshot_interval = Duration::from_secs(positive(&get, "DEMO_SNAPSHOT_SECS", 60)?);
        if get("TCP_SEND_BUFFER_BYTES").is_some() {
            c.tcp_send_buffer_bytes = Some(positive(&get, "TCP_SEND_BUFFER_BYTES", 0)? as usize);
        }
        c.shutdown_grace = Duration::from_secs(positive(&get, "SHUTDOWN_GRACE_SECS", 5)?);
        c.ingest = ingest(&get, c.demo_mode)?;
        Ok(c)
    }

    /// Time a client may stay silent before the server closes it: 2.5 heartbeats.
    pub fn heartbeat_timeout(&self) -> Duration {
        self.ping_interval.mul_f64(2.5)
    }
}

/// Reads `DATABASE_URL` the way [`crate::store::connect`] will, so that a bad
/// one stops the server at start (exit code 2) rather than failing later: the
/// scheme must be `sqlite:` or `postgres://`/`postgresql://`, the URL must parse
/// as connect options, and a SQLite file's directory must exist (the file itself
/// is created on first start).
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    use sqlx::postgres::PgConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;

    let bad = |reason| err("DATABASE_URL", &redact_userinfo(url), reason);
    if crate::store::is_postgres_url(url) {
        return PgConnectOptions::from_str(url)
            .map(drop)
            .map_err(|_| bad("a postgres://user:password@host:port/database URL"));
    }
    if !url.starts_with("sqlite:") {
        return Err(bad(
            "a sqlite://<file> or postgres://user:password@host:port/database URL",
        ));
    }
    let options = SqliteConnectOptions::from_str(url).map_err(|_| {
        bad("a sqlite://<file> URL (percent-encoded; ?mode= one of ro, rw, rwc, memory)")
    })?;
    match options.get_filename().parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(bad("a SQLite file in a directory that exists"))
        }
        _ => Ok(()),
    }
}

/// `url` with any `user:password@` part replaced, so credentials never reach a log.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}REDACTED{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn ingest(
    get: &impl Fn(&str) -> Option<String>,
    demo_mode: bool,
) -> Result<Option<IngestConfig>, ConfigError> {
    match get("INGEST").map(|v| (v.to_ascii_lowercase(), v)) {
        None => return Ok(None),
        Some((l, _)) if l == "off" => return Ok(None),
        Some((l, v)) if l != "horizon" => return Err(err("INGEST", &v, "off or horizon")),
        Some((_, v)) if demo_mode => {
            return Err(err(
                "INGEST",
                &v,
                "off when DEMO_MODE is on (pick one source)",
            ))
        }
        Some(_) => {}
    }
    let network = match get("STELLAR_NETWORK").map(|v| (v.to_ascii_lowercase(), v)) {
        None => StellarNetwork::Public,
        Some((l, _)) if l == "public" => StellarNetwork::Public,
        Some((l, _)) if l == "testnet" => StellarNetwork::Testnet,
        Some((_, v)) => return Err(err("STELLAR_NETWORK", &v, "public or testnet")),
    };
    let horizon_url = match get("HORIZON_URL") {
        None => network.default_horizon_url().to_owned(),
        Some(v) => {
            let rest = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"));
            if !rest.is_some_and(|r| {
                !r.is_empty() && !r.contains(['?', '#']) && r.bytes().all(|b| b.is_ascii_graphic())
            }) {
                return Err(err(
                    "HORIZON_URL",
                    &redact_userinfo(&v),
                    "an http:// or https:// base URL without query",
                ));
            }
            v.trim_end_matches('/').to_owned()
        }
    };
    let start = match get("INGEST_START") {
        None => "now".to_owned(),
        Some(v) if v == "now" || (v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit())) => v,
        Some(v) => return Err(err("INGEST_START", &v, "now or a paging_token (digits)")),
    };
    Ok(Some(IngestConfig {
        network,
        horizon_url,
        start,
        requests_per_hour: small(get, "HORIZON_REQUESTS_PER_HOUR", 3000)?,
        poll: Duration::from_millis(positive(get, "HORIZON_POLL_MS", 5000)?),
        page_limit: match small(get, "HORIZON_PAGE_LIMIT", 200)? {
            n @ 1..=200 => n as usize,
            n => return Err(err("HORIZON_PAGE_LIMIT", &n.to_string(), "1 to 200")),
        },
        flush: Duration::from_millis(positive(get, "INGEST_FLUSH_MS", 1000)?),
    }))
}

fn err(var: &'static str, value: &str, reason: &'static str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_owned(),
        reason,
    }
}

fn parse<T: std::str::FromStr>(
    v: &str,
    var: &'static str,
    reason: &'static str,
) -> Result<T, ConfigError> {
    v.parse().map_err(|_| err(var, v, reason))
}

fn positive(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(err(var, &v, "a positive integer")),
        },
    }
}

fn small(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    let n = positive(get, var, default as u64)?;
    u32::try_from(n).map_err(|_| err(var, &n.to_string(), "at most 4294967295"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = from(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.ping_interval, Duration::from_secs(30));
        assert_eq!(c.heartbeat_timeout(), Duration::from_secs(75));
        assert_eq!(c.update_log_retention, 10_000);
        assert!(c.cors_allowed_origins.is_none() && c.ws_auth_token.is_none() && !c.demo_mode);
    }

    #[test]
    fn values_are_parsed_and_origins_split() {
        let c = from(&[
            ("WS_PING_INTERVAL_SECS", "1.5"),
            ("CORS_ALLOWED_ORIGINS", "http://a.test, http://b.test/,"),
            ("WS_AUTH_TOKEN", "  "),
            ("DEMO_MODE", "TRUE"),
        ])
        .unwrap();
        assert_eq!(c.ping_interval, Duration::from_millis(1500));
        assert_eq!(
            c.cors_allowed_origins.unwrap(),
            vec!["http://a.test", "http://b.test"]
        );
        assert!(
            c.ws_auth_token.is_none(),
            "a blank token must not enable auth with an empty secret"
        );
        assert!(c.demo_mode);
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let c = from(&[
            ("WS_AUTH_TOKEN", "ws-secret"),
            ("API_AUTH_TOKEN", "api-secret"),
        ])
        .unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("secret") && text.contains("REDACTED"),
            "{text}"
        );
    }

    #[test]
    fn redis_settings_are_read_and_credentials_never_printed() {
        let c = from(&[
            ("REDIS_URL", "redis://user:pw-secret@10.0.0.1:6379/2"),
            ("REDIS_KEY_PREFIX", "prod"),
            ("DATABASE_URL", "postgres://app:db-secret@db:5432/si"),
        ])
        .unwrap();
        assert_eq!(
            c.redis_url.as_deref(),
            Some("redis://user:pw-secret@10.0.0.1:6379/2")
        );
        assert_eq!(c.redis_key_prefix, "prod");
        let text = format!("{c:?}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("redis://REDACTED@10.0.0.1:6379/2"), "{text}");
        assert_eq!(from(&[]).unwrap().redis_key_prefix, "stellar-insights");
    }

    #[test]
    fn a_redis_url_without_the_redis_scheme_is_refused_without_echoing_credentials() {
        let e = from(&[("REDIS_URL", "http://u:pw-secret@host:6379")]).unwrap_err();
        assert_eq!(e.var, "REDIS_URL");
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn good_database_urls_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let in_dir = format!("sqlite://{}", dir.path().join("new.db").display());
        for url in [
            "sqlite://stellar-insights.db",
            "sqlite:relative.db",
            "sqlite::memory:",
            "sqlite://?mode=memory",
            &in_dir,
            "postgres://app:pw@db.internal:5432/si",
            "postgresql://localhost/si?sslmode=disable",
        ] {
            let c = from(&[("DATABASE_URL", url)]).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(c.database_url, url);
        }
    }

    #[test]
    fn a_bad_database_url_is_refused_naming_the_variable_without_echoing_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let missing_dir = format!(
            "sqlite://{}",
            dir.path().join("no-such-dir").join("x.db").display()
        );
        for url in [
            // Unknown schemes: MySQL, a typo, a bare path, HTTP.
            "mysql://app:db-secret@host/si",
            "postgress://app:db-secret@host/si",
            "/var/lib/si.db",
            "http://app:db-secret@host/si",
            // Unparseable.
            "postgres://app:db-secret@host:notaport/si",
            "postgres://app:db-secret@[::1/si",
            "sqlite://%ff.db",
            "sqlite://si.db?mode=bogus",
            // A SQLite file whose directory does not exist.
            &missing_dir,
        ] {
            let e = from(&[("DATABASE_URL", url)]).unwrap_err();
            assert_eq!(e.var, "DATABASE_URL", "{url}");
            let text = e.to_string();
            assert!(text.contains("DATABASE_URL"), "{text}");
            assert!(!text.contains("db-secret"), "{text}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("SERVER_PORT", "70000"),
            ("WS_SEND_QUEUE", "0"),
            ("WS_PING_INTERVAL_SECS", "-1"),
            ("DEMO_MODE", "maybe"),
            ("INGEST", "kafka"),
        ] {
            let e = from(&[(k, v)]).unwrap_err();
            assert_eq!(e.var, k);
            assert!(e.to_string().contains(k));
        }
    }

    #[test]
    fn ingest_is_off_by_default_and_horizon_settings_are_checked() {
        assert!(from(&[]).unwrap().ingest.is_none());
        assert!(from(&[("INGEST", "off")]).unwrap().ingest.is_none());
        let i = from(&[("INGEST", "horizon"), ("STELLAR_NETWORK", "testnet")])
            .unwrap()
            .ingest
            .unwrap();
        assert_eq!(i.network, StellarNetwork::Testnet);
        assert_eq!(i.horizon_url, "https://horizon-testnet.stellar.org");
        assert_eq!((i.start.as_str(), i.requests_per_hour), ("now", 3000));
        assert_eq!(i.page_limit, 200);
        assert_eq!(
            (i.poll, i.flush),
            (Duration::from_secs(5), Duration::from_secs(1))
        );
        let i = from(&[
            ("INGEST", "horizon"),
            ("HORIZON_URL", "http://127.0.0.1:9000/"),
            ("INGEST_START", "12884905985"),
        ])
        .unwrap()
        .ingest
        .unwrap();
        assert_eq!(i.network, StellarNetwork::Public);
        assert_eq!(
            (i.horizon_url.as_str(), i.start.as_str()),
            ("http://127.0.0.1:9000", "12884905985")
        );
        for (k, v) in [
            ("STELLAR_NETWORK", "mainnet"),
            ("HORIZON_URL", "ftp://x"),
            ("HORIZON_URL", "http://h/?a=1"),
            ("INGEST_START", "yesterday"),
            ("HORIZON_REQUESTS_PER_HOUR", "0"),
            ("HORIZON_POLL_MS", "-5"),
            ("INGEST_FLUSH_MS", "x"),
            ("HORIZON_PAGE_LIMIT", "201"),
            ("HORIZON_PAGE_LIMIT", "0"),
        ] {
            let e = from(&[("INGEST", "horizon"), (k, v)]).unwrap_err();
            assert_eq!(e.var, k, "{v}");
        }
        let e = from(&[("INGEST", "horizon"), ("DEMO_MODE", "true")]).unwrap_err();
        assert_eq!(e.var, "INGEST");
    }
}
