//! `ClientOptions` from JS: checked and turned into a [`Config`].
//!
//! The glue reads the JS object field by field (`browser::read`); it maps
//! `maxReconnectAttempts: Infinity` to `null`, so both mean unlimited.

use crate::backoff::Backoff;
use crate::machine::Config;
use crate::status::{ClientError, ErrorCode};
use crate::url::{self, PageLocation};
use serde::{Deserialize, Deserializer};

/// Options of `configure()`; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ClientOptions {
    /// Full `ws://` or `wss://` URL; wins over everything. Default: none.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub url: Option<String>,
    /// Value of `NEXT_PUBLIC_WS_URL`, passed in by the shim. Default: none.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub env_url: Option<String>,
    /// Port of the page-host URL; wins over `envPort`. Default: none (8080).
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub port: Option<f64>,
    /// `NEXT_PUBLIC_WS_PORT` as the shim read it (`Number(value)`, so NaN for
    /// text that is not a number); checked here, and a bad value is an error
    /// naming the variable. Default: none.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub env_port: Option<f64>,
    /// Use the page's own port when neither a URL nor a port is given (a page
    /// served by the WebSocket server itself). Default: false (port 8080).
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub same_origin: Option<bool>,
    /// Sent as `?token=` (URL-encoded), never logged. Default: none.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub token: Option<String>,
    /// First `acquire()` opens the socket. Default: true.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub auto_connect: Option<bool>,
    /// Reconnect after a lost connection. Default: true.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub auto_reconnect: Option<bool>,
    /// Consecutive reconnect attempts; `null` or `Infinity` = unlimited. Default: 5.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "ts", tsify(optional, type = "number | null"))]
    pub max_reconnect_attempts: Option<Option<f64>>,
    /// Backoff base, ms. Default: 1000.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub reconnect_interval: Option<f64>,
    /// Backoff cap, ms. Default: 30000.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub max_reconnect_delay: Option<f64>,
    /// How long a connection must stay open before attempts reset, ms. Default: 5000.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub stable_after: Option<f64>,
    /// Silence allowed, in multiples of the server's `heartbeat_ms`. Default: 2.5.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub heartbeat_timeout_factor: Option<f64>,
    /// How long opening a socket may take, ms. Default: 10000.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub connect_timeout: Option<f64>,
    /// Messages queued while disconnected, count. Default: 100.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub send_queue_limit: Option<f64>,
    /// Share one socket among the tabs of this origin that use the same URL
    /// and token (the leader tab's; see the README, "One socket per
    /// browser"). `false`: one socket per tab. Browsers without Web Locks or
    /// `BroadcastChannel` always use one per tab. Default: true.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub share_across_tabs: Option<bool>,
    /// State mode: ask for the current records after every connect, keep the
    /// latest record per subscribed key (`state()`, `onState`), complete
    /// field deltas before delivery. Default: false.
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub state: Option<bool>,
}

/// Tell "field absent" (outer `None`) from "field is null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
    Option::<f64>::deserialize(d).map(Some)
}

fn invalid(message: String) -> ClientError {
    ClientError::new(ErrorCode::InvalidOptions, message)
}

/// A whole, non-negative number no larger than `max`.
fn count(name: &str, value: f64, max: f64) -> Result<f64, ClientError> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= max {
        Ok(value)
    } else {
        // Integers only in the message: float formatting would add ~15 KB of wasm.
        Err(invalid(crate::text::cat(&[
            name,
            " must be a whole number from 0 to ",
            &crate::text::uint(max as u64),
        ])))
    }
}

/// Check `o` and turn it into a [`Config`], resolving the socket URL against `page`.
pub fn to_config(o: ClientOptions, page: Option<&PageLocation>) -> Result<Config, ClientError> {
    let d = Config::default();
    let ms = |name: &str, v: Option<f64>, default: u64| -> Result<u64, ClientError> {
        v.map_or(Ok(default), |v| {
            count(name, v, 86_400_000.0).map(|v| v as u64)
        })
    };
    // The port option, else NEXT_PUBLIC_WS_PORT; without either,
    // url::resolve takes the page's own port (`sameOrigin`) or 8080.
    let port = match (o.port, o.env_port) {
        (Some(p), _) => Some(count("port", p, 65_535.0)? as u16),
        (None, Some(p)) => Some(count("NEXT_PUBLIC_WS_PORT", p, 65_535.0)? as u16),
        (None, None) => None,
    };
    let url = url::resolve(
        o.url.as_deref(),
        o.env_url.as_deref(),
        port,
        o.same_origin.unwrap_or(false),
        page,
    )
    .map_err(|e| invalid(e.message()))?;
    let max_attempts = match o.max_reconnect_attempts {
        None => d.backoff.max_attempts,
        Some(None) => None,
        Some(Some(n)) => Some(count("maxReconnectAttempts", n, u32::MAX as f64)? as u32),
    };
    let factor = o
        .heartbeat_timeout_factor
        .unwrap_or(d.heartbeat_timeout_factor);
    if !(factor.is_finite() && factor >= 1.0) {
        return Err(invalid(
            "heartbeatTimeoutFactor must be a number of at least 1".into(),
        ));
    }
    let base_ms = ms("reconnectInterval", o.reconnect_interval, d.backoff.base_ms)?;
    let cap_ms = ms("maxReconnectDelay", o.max_reconnect_delay, d.backoff.cap_ms)?;
    Ok(Config {
        url,
        token: o.token.filter(|t| !t.is_empty()),
        auto_connect: o.auto_connect.unwrap_or(d.auto_connect),
        auto_reconnect: o.auto_reconnect.unwrap_or(d.auto_reconnect),
        backoff: Backoff {
            base_ms,
            cap_ms,
            max_attempts,
        },
        stable_after_ms: ms("stableAfter", o.stable_after, d.stable_after_ms)?,
        heartbeat_timeout_factor: factor,
        connect_timeout_ms: ms("connectTimeout", o.connect_timeout, d.connect_timeout_ms)?,
        send_queue_limit: match o.send_queue_limit {
            Some(n) => count("sendQueueLimit", n, 1_000_000.0)? as usize,
            None => d.send_queue_limit,
        },
        share_across_tabs: o.share_across_tabs.unwrap_or(d.share_across_tabs),
        state: o.state.unwrap_or(d.state),
    })
}

#[cfg(test)]
mod tests {
    /// Options from JSON text, checked like [`to_config`].
    fn parse(json: &str, page: Option<&PageLocation>) -> Result<Config, ClientError> {
        let o: ClientOptions = serde_json::from_str(json)
            .map_err(|e| invalid(format!("options are not a valid ClientOptions object: {e}")))?;
        to_config(o, page)
    }

    use super::*;

    fn page() -> PageLocation {
        PageLocation {
            protocol: "http:".into(),
            host: "localhost:3000".into(),
        }
    }

    #[test]
    fn empty_options_give_the_documented_defaults() {
        let c = parse("{}", Some(&page())).unwrap();
        assert_eq!(
            c,
            Config {
                url: "ws://localhost:8080/ws".into(),
                ..Config::default()
            }
        );
    }

    #[test]
    fn every_option_is_applied() {
        let c = parse(
            r#"{"url":"wss://x/ws","token":"t","autoConnect":false,"autoReconnect":false,
                "maxReconnectAttempts":9,"reconnectInterval":10,"maxReconnectDelay":20,
                "stableAfter":30,"heartbeatTimeoutFactor":3,"connectTimeout":40,"sendQueueLimit":2,
                "shareAcrossTabs":false,"state":true}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            c,
            Config {
                url: "wss://x/ws".into(),
                token: Some("t".into()),
                auto_connect: false,
                auto_reconnect: false,
                backoff: Backoff {
                    base_ms: 10,
                    cap_ms: 20,
                    max_attempts: Some(9)
                },
                stable_after_ms: 30,
                heartbeat_timeout_factor: 3.0,
                connect_timeout_ms: 40,
                send_queue_limit: 2,
                share_across_tabs: false,
                state: true,
            }
        );
    }

    #[test]
    fn null_max_attempts_means_unlimited() {
        let c = parse(r#"{"maxReconnectAttempts":null}"#, Some(&page())).unwrap();
        assert_eq!(c.backoff.max_attempts, None);
    }

    #[test]
    fn port_and_env_url_feed_url_resolution() {
        let c = parse(r#"{"port":9001}"#, Some(&page())).unwrap();
        assert_eq!(c.url, "ws://localhost:9001/ws");
        let c = parse(r#"{"envUrl":"ws://e/ws","port":1}"#, Some(&page())).unwrap();
        assert_eq!(c.url, "ws://e/ws");
    }

    #[test]
    fn env_port_and_same_origin_feed_url_resolution() {
        let c = parse(r#"{"envPort":9001,"sameOrigin":true}"#, Some(&page())).unwrap();
        assert_eq!(c.url, "ws://localhost:9001/ws");
        let c = parse(r#"{"sameOrigin":true}"#, Some(&page())).unwrap();
        assert_eq!(c.url, "ws://localhost:3000/ws");
        let c = parse(r#"{"port":7,"envPort":9001}"#, Some(&page())).unwrap();
        assert_eq!(c.url, "ws://localhost:7/ws");
        let c = parse(r#"{"sameOrigin":true}"#, None).unwrap_err();
        assert_eq!(c.code, ErrorCode::InvalidOptions);
        let https = PageLocation {
            protocol: "https:".into(),
            host: "h".into(),
        };
        let c = parse(r#"{"sameOrigin":true}"#, Some(&https)).unwrap();
        assert_eq!(c.url, "wss://h/ws");
        // NaN (Number("80a")) cannot be written in JSON: to_config sees it directly.
        let nan = ClientOptions {
            env_port: Some(f64::NAN),
            ..ClientOptions::default()
        };
        let err = to_config(nan, Some(&page())).unwrap_err();
        assert_eq!(
            err.message,
            "NEXT_PUBLIC_WS_PORT must be a whole number from 0 to 65535"
        );
        for bad in ["70000", "-1", "80.5"] {
            let json = format!(r#"{{"envPort":{bad}}}"#);
            let err = parse(&json, Some(&page())).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidOptions);
            assert_eq!(
                err.message, "NEXT_PUBLIC_WS_PORT must be a whole number from 0 to 65535",
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_values_are_rejected_with_the_field_name() {
        for (json, field) in [
            (r#"{"reconnectInterval":-1}"#, "reconnectInterval"),
            (r#"{"maxReconnectAttempts":1.5}"#, "maxReconnectAttempts"),
            (r#"{"port":70000}"#, "port"),
            (
                r#"{"heartbeatTimeoutFactor":0.5}"#,
                "heartbeatTimeoutFactor",
            ),
            (r#"{"sendQueueLimit":-3}"#, "sendQueueLimit"),
            (r#"{"url":"http://x"}"#, "ws://"),
            (r#"{"autoConnect":"yes"}"#, "ClientOptions"),
            ("[]", "ClientOptions"),
        ] {
            let err = parse(json, Some(&page())).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidOptions);
            assert!(err.message.contains(field), "{json}: {}", err.message);
        }
    }

    #[test]
    fn errors_name_the_field_and_the_bound_in_exact_words() {
        for (json, message) in [
            (r#"{"port":70000}"#, "port must be a whole number from 0 to 65535"),
            (
                r#"{"reconnectInterval":-1}"#,
                "reconnectInterval must be a whole number from 0 to 86400000",
            ),
            (
                r#"{"maxReconnectAttempts":1.5}"#,
                "maxReconnectAttempts must be a whole number from 0 to 4294967295",
            ),
            (
                r#"{"sendQueueLimit":-3}"#,
                "sendQueueLimit must be a whole number from 0 to 1000000",
            ),
            (
                r#"{"url":"http://x/ws?token=s3cret"}"#,
                "WebSocket URL \"http://x/ws?token=***\" must start with ws:// or wss:// and name a host",
            ),
        ] {
            assert_eq!(parse(json, Some(&page())).unwrap_err().message, message);
        }
        assert_eq!(
            parse("{}", None).unwrap_err().message,
            "no WebSocket URL given and no page location to derive one from; pass `url`"
        );
    }

    #[test]
    fn token_never_appears_in_option_errors() {
        let err = parse(
            r#"{"url":"http://x/ws?token=s3cret","token":"s3cret"}"#,
            Some(&page()),
        )
        .unwrap_err();
        assert!(!err.message.contains("s3cret"), "{}", err.message);
    }
}
