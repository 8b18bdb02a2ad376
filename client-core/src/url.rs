//! Which URL the socket opens.
//!
//! Order: an explicit `url`, else the `NEXT_PUBLIC_WS_URL` value the shim
//! passes in (`envUrl`), else the page's host name with a port (chosen by
//! `options::to_config`: the `port` option, else `NEXT_PUBLIC_WS_PORT` as
//! written (`envPort`), else the page's own port when `sameOrigin`, else
//! 8080), `ws:` or `wss:` following the page's `http:`/`https:`, path `/ws`:
//! the old TypeScript layer's default. The token and the resume point are added as query parameters
//! when the socket opens; error messages only ever show [`redact`]ed URLs.

use crate::text::{cat, uint};
use std::fmt;

/// Default port of the WebSocket server when neither URL is given. 8080.
pub const DEFAULT_PORT: u16 = 8080;

/// The parts of the page's `location` the resolution needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageLocation {
    /// `location.protocol`, e.g. `"https:"`.
    pub protocol: String,
    /// `location.host`: the host name, then `:port` unless the page is on
    /// its scheme's default port; e.g. `"example.com:3000"` or `"[::1]"`.
    pub host: String,
}

impl PageLocation {
    /// [`host`](Self::host) without its `:port`, e.g. `"example.com"` or `"[::1]"`.
    pub fn hostname(&self) -> &str {
        let host = self.host.as_str();
        match host.bytes().rposition(|b| b == b':') {
            Some(colon) if !host.ends_with(']') => host.get(..colon).unwrap_or(host),
            _ => host,
        }
    }
}

/// Why no socket URL could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// The given URL does not start with `ws://` or `wss://` or has no host.
    NotWebSocket(String),
    /// No URL was given and there is no page location to derive one from.
    NoLocation,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl UrlError {
    /// The error as shown to the user; a URL in it is [`redact`]ed.
    pub fn message(&self) -> String {
        match self {
            UrlError::NotWebSocket(url) => cat(&[
                "WebSocket URL \"",
                &redact(url),
                "\" must start with ws:// or wss:// and name a host",
            ]),
            UrlError::NoLocation => {
                "no WebSocket URL given and no page location to derive one from; pass `url`".into()
            }
        }
    }
}

impl std::error::Error for UrlError {}

/// The base socket URL (no token, no resume point).
///
/// `url` wins, then `env_url`; empty strings count as absent, because an unset
/// `NEXT_PUBLIC_*` variable reaches the shim as `""`. Then the page's host
/// name with `port`; without a port, the page's own host and port when
/// `same_origin`, else [`DEFAULT_PORT`].
pub fn resolve(
    url: Option<&str>,
    env_url: Option<&str>,
    port: Option<u16>,
    same_origin: bool,
    page: Option<&PageLocation>,
) -> Result<String, UrlError> {
    let given = [url, env_url]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|s| !s.is_empty());
    if let Some(url) = given {
        let rest = url
            .strip_prefix("wss://")
            .or_else(|| url.strip_prefix("ws://"));
        return match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with(['/', '?', '#']) => {
                Ok(url.to_owned())
            }
            _ => Err(UrlError::NotWebSocket(url.to_owned())),
        };
    }
    let page = page.ok_or(UrlError::NoLocation)?;
    if page.host.is_empty() {
        return Err(UrlError::NoLocation);
    }
    let scheme = if page.protocol == "https:" {
        "wss://"
    } else {
        "ws://"
    };
    Ok(match port {
        None if same_origin => cat(&[scheme, &page.host, "/ws"]),
        _ => cat(&[
            scheme,
            page.hostname(),
            ":",
            &uint(port.unwrap_or(DEFAULT_PORT).into()),
            "/ws",
        ]),
    })
}

/// `base` with `token` and `since` appended as query parameters.
pub fn with_query(base: &str, token: Option<&str>, since: Option<u64>) -> String {
    let mut url = base.to_owned();
    let mut sep = if position(base, b'?').is_some() {
        '&'
    } else {
        '?'
    };
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        url.push(sep);
        url.push_str("token=");
        url.push_str(&encode_component(token));
        sep = '&';
    }
    if let Some(since) = since {
        url.push(sep);
        url.push_str("since=");
        url.push_str(&uint(since));
    }
    url
}

/// `url` with the value of any `token` query parameter replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some(q) = position(url, b'?') else {
        return url.to_owned();
    };
    let mut out = String::from(url.get(..=q).unwrap_or_default());
    let mut rest = url.get(q + 1..).unwrap_or_default();
    loop {
        let end = position(rest, b'&').unwrap_or(rest.len());
        let pair = rest.get(..end).unwrap_or_default();
        out.push_str(if pair.starts_with("token=") {
            "token=***"
        } else {
            pair
        });
        match rest.get(end + 1..) {
            Some(next) => {
                out.push('&');
                rest = next;
            }
            None => return out,
        }
    }
}

/// Where the ASCII byte `b` first occurs in `s`. A plain loop: `str`'s
/// char search (`split`, `contains`) brings `memchr` along, ~0.6 KB of wasm.
fn position(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// Percent-encode everything but RFC 3986 unreserved characters, as JS
/// `encodeURIComponent` does for the characters a token may contain.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(protocol: &str, host: &str) -> PageLocation {
        PageLocation {
            protocol: protocol.into(),
            host: host.into(),
        }
    }

    #[test]
    fn hostname_is_the_host_without_its_port() {
        for (host, name) in [
            ("example.com", "example.com"),
            ("example.com:3000", "example.com"),
            ("[::1]", "[::1]"),
            ("[::1]:8080", "[::1]"),
            ("127.0.0.1:41234", "127.0.0.1"),
        ] {
            assert_eq!(page("http:", host).hostname(), name, "{host}");
        }
    }

    #[test]
    fn same_origin_is_the_page_host_and_port_unless_a_port_is_given() {
        let p = page("http:", "127.0.0.1:41234");
        assert_eq!(
            resolve(None, None, None, true, Some(&p)).unwrap(),
            "ws://127.0.0.1:41234/ws"
        );
        let p = page("https:", "dash.example");
        assert_eq!(
            resolve(None, None, None, true, Some(&p)).unwrap(),
            "wss://dash.example/ws"
        );
        assert_eq!(
            resolve(None, None, Some(9001), true, Some(&p)).unwrap(),
            "wss://dash.example:9001/ws"
        );
    }

    #[test]
    fn the_old_layers_default_url_with_nothing_configured() {
        // Page served by `next start` on 3000, server on 8080: not the page's port.
        let p = page("http:", "app.local:3000");
        assert_eq!(
            resolve(None, None, None, false, Some(&p)).unwrap(),
            "ws://app.local:8080/ws"
        );
        let p = page("https:", "app.local:3000");
        assert_eq!(
            resolve(None, None, None, false, Some(&p)).unwrap(),
            "wss://app.local:8080/ws"
        );
    }

    #[test]
    fn explicit_url_wins_over_env_and_page() {
        let p = page("https:", "dash.example");
        let got = resolve(
            Some("ws://a:1/ws"),
            Some("ws://b:2/ws"),
            Some(9),
            false,
            Some(&p),
        );
        assert_eq!(got.unwrap(), "ws://a:1/ws");
    }

    #[test]
    fn env_url_is_used_when_no_explicit_url() {
        let got = resolve(None, Some("wss://b/ws"), None, false, None);
        assert_eq!(got.unwrap(), "wss://b/ws");
        let got = resolve(Some(""), Some("wss://b/ws"), None, false, None);
        assert_eq!(got.unwrap(), "wss://b/ws");
    }

    #[test]
    fn page_host_with_default_port_and_scheme_of_the_page() {
        let got = resolve(
            None,
            Some(""),
            None,
            false,
            Some(&page("http:", "localhost")),
        );
        assert_eq!(got.unwrap(), "ws://localhost:8080/ws");
        let got = resolve(
            None,
            None,
            Some(443),
            false,
            Some(&page("https:", "dash.example")),
        );
        assert_eq!(got.unwrap(), "wss://dash.example:443/ws");
        let got = resolve(None, None, None, false, Some(&page("http:", "[::1]")));
        assert_eq!(got.unwrap(), "ws://[::1]:8080/ws");
    }

    #[test]
    fn non_websocket_urls_are_rejected_without_showing_the_token() {
        for bad in ["http://a/ws", "ws://", "ws:///ws", "localhost:8080"] {
            assert!(
                matches!(
                    resolve(Some(bad), None, None, false, None),
                    Err(UrlError::NotWebSocket(_))
                ),
                "{bad}"
            );
        }
        let err = resolve(Some("https://h/ws?token=s3cret"), None, None, false, None).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn no_url_and_no_page_is_an_error() {
        assert_eq!(
            resolve(None, None, None, false, None),
            Err(UrlError::NoLocation)
        );
        let blank = page("file:", "");
        assert_eq!(
            resolve(None, None, None, false, Some(&blank)),
            Err(UrlError::NoLocation)
        );
    }

    #[test]
    fn token_is_url_encoded_and_since_appended() {
        assert_eq!(
            with_query("ws://h/ws", Some("a b&c=d/é"), Some(42)),
            "ws://h/ws?token=a%20b%26c%3Dd%2F%C3%A9&since=42"
        );
        assert_eq!(
            with_query("ws://h/ws?x=1", None, Some(0)),
            "ws://h/ws?x=1&since=0"
        );
        assert_eq!(with_query("ws://h/ws", Some(""), None), "ws://h/ws");
    }

    #[test]
    fn redact_hides_only_the_token() {
        assert_eq!(
            redact("ws://h/ws?token=abc&since=3"),
            "ws://h/ws?token=***&since=3"
        );
        assert_eq!(redact("ws://h/ws"), "ws://h/ws");
    }

    #[test]
    fn redact_treats_every_pair_as_splitting_on_ampersand_and_equals_would() {
        // The split-based definition the byte loop must agree with.
        let by_split = |url: &str| match url.split_once('?') {
            None => url.to_owned(),
            Some((head, query)) => {
                let pairs: Vec<&str> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some(("token", _)) => "token=***",
                        _ => pair,
                    })
                    .collect();
                format!("{head}?{}", pairs.join("&"))
            }
        };
        for url in [
            "ws://h/ws?",
            "ws://h/ws?token=",
            "ws://h/ws?token",
            "ws://h/ws?a=1&token=x&tokenx=2&token&=&",
            "ws://h/ws?&&token=a=b&",
            "ws://ü/ws?token=é&x=ü?token=2",
            "wss://h:1/ws?since=4&token=s3cret",
        ] {
            assert_eq!(redact(url), by_split(url), "{url}");
        }
        assert_eq!(
            redact("ws://h/ws?a=1&token=x&tokenx=2&token&=&"),
            "ws://h/ws?a=1&token=***&tokenx=2&token&=&"
        );
    }
}
