//! Which URL the socket opens.
//!
//! Order: an explicit `url`, else the `NEXT_PUBLIC_WS_URL` value the shim
//! passes in (`envUrl`), else the page's host name with a [`port`] (the
//! `port` option, else `NEXT_PUBLIC_WS_PORT` as given (`envPort`), else the
//! page's own port when `sameOrigin`, else 8080), `ws:` or `wss:` following
//! the page's `http:`/`https:`, path `/ws`: the old TypeScript layer's
//! default. The token and the resume point are added as query parameters
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
    /// `location.hostname`, e.g. `"example.com"` or `"[::1]"`.
    pub hostname: String,
    /// `location.port`, e.g. `"3000"`; empty for the scheme's default port.
    pub port: String,
}

/// Why no socket URL could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// The given URL does not start with `ws://` or `wss://` or has no host.
    NotWebSocket(String),
    /// No URL was given and there is no page location to derive one from.
    NoLocation,
    /// `NEXT_PUBLIC_WS_PORT` (`envPort`) is not a port number from 1 to 65535.
    BadPort(String),
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
            UrlError::BadPort(raw) => cat(&[
                "NEXT_PUBLIC_WS_PORT must be a port number from 1 to 65535, got \"",
                raw,
                "\"",
            ]),
        }
    }
}

impl std::error::Error for UrlError {}

/// The base socket URL (no token, no resume point).
///
/// `url` wins, then `env_url`; empty strings count as absent, because an unset
/// `NEXT_PUBLIC_*` variable reaches the shim as `""`.
pub fn resolve(
    url: Option<&str>,
    env_url: Option<&str>,
    port: Option<u16>,
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
    if page.hostname.is_empty() {
        return Err(UrlError::NoLocation);
    }
    let scheme = if page.protocol == "https:" {
        "wss"
    } else {
        "ws"
    };
    let port = port.unwrap_or(DEFAULT_PORT);
    Ok(cat(&[
        scheme,
        "://",
        &page.hostname,
        ":",
        &uint(port.into()),
        "/ws",
    ]))
}

/// The port of the page-host URL, from the first of: `explicit` (the
/// `port` option), `env_port` (the raw `NEXT_PUBLIC_WS_PORT` text, blank =
/// unset), the page's own port when `same_origin` (80 or 443 when the page
/// names none), else `None` ([`DEFAULT_PORT`] then applies).
pub fn port(
    explicit: Option<u16>,
    env_port: Option<&str>,
    same_origin: bool,
    page: Option<&PageLocation>,
) -> Result<Option<u16>, UrlError> {
    let env = match env_port.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(parse_port(raw).ok_or_else(|| UrlError::BadPort(raw.to_owned()))?),
        None => None,
    };
    if explicit.is_some() || env.is_some() {
        return Ok(explicit.or(env));
    }
    Ok(page.filter(|_| same_origin).map(|page| {
        parse_port(&page.port).unwrap_or(if page.protocol == "https:" { 443 } else { 80 })
    }))
}

/// A port number from 1 to 65535 written in decimal digits only. A plain
/// fold: `str::parse` brings its generic integer parser along (wasm bytes).
fn parse_port(raw: &str) -> Option<u16> {
    if raw.is_empty() || raw.len() > 5 {
        return None;
    }
    let mut value: u32 = 0;
    for b in raw.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    u16::try_from(value).ok().filter(|p| *p != 0)
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
            hostname: host.into(),
            port: String::new(),
        }
    }

    fn page_on(protocol: &str, host: &str, port: &str) -> PageLocation {
        PageLocation {
            port: port.into(),
            ..page(protocol, host)
        }
    }

    #[test]
    fn port_option_wins_then_env_port_then_same_origin_then_none() {
        let p = page_on("http:", "h", "3000");
        assert_eq!(port(Some(1), Some("2"), true, Some(&p)), Ok(Some(1)));
        assert_eq!(port(None, Some(" 9001 "), true, Some(&p)), Ok(Some(9001)));
        assert_eq!(port(None, Some(""), true, Some(&p)), Ok(Some(3000)));
        assert_eq!(port(None, None, false, Some(&p)), Ok(None));
    }

    #[test]
    fn same_origin_without_a_page_port_uses_the_scheme_default() {
        let https = page("https:", "dash.example");
        assert_eq!(port(None, None, true, Some(&https)), Ok(Some(443)));
        assert_eq!(
            port(None, None, true, Some(&page("http:", "h"))),
            Ok(Some(80))
        );
        assert_eq!(port(None, None, true, None), Ok(None));
    }

    #[test]
    fn a_bad_env_port_is_an_error_that_names_the_variable_and_the_value() {
        for bad in ["abc", "0", "70000", "80a", "-1", "123456", "+80"] {
            let err = port(None, Some(bad), false, None).unwrap_err();
            assert_eq!(err, UrlError::BadPort(bad.into()));
            assert_eq!(
                err.message(),
                format!("NEXT_PUBLIC_WS_PORT must be a port number from 1 to 65535, got \"{bad}\"")
            );
        }
    }

    #[test]
    fn the_old_layers_default_url_with_nothing_configured() {
        // Page served by `next start` on 3000, server on 8080: not the page's port.
        let p = page_on("http:", "app.local", "3000");
        let port = port(None, None, false, Some(&p)).unwrap();
        assert_eq!(
            resolve(None, None, port, Some(&p)).unwrap(),
            "ws://app.local:8080/ws"
        );
        let p = page_on("https:", "app.local", "3000");
        assert_eq!(
            resolve(None, None, None, Some(&p)).unwrap(),
            "wss://app.local:8080/ws"
        );
    }

    #[test]
    fn explicit_url_wins_over_env_and_page() {
        let p = page("https:", "dash.example");
        let got = resolve(Some("ws://a:1/ws"), Some("ws://b:2/ws"), Some(9), Some(&p));
        assert_eq!(got.unwrap(), "ws://a:1/ws");
    }

    #[test]
    fn env_url_is_used_when_no_explicit_url() {
        let got = resolve(None, Some("wss://b/ws"), None, None);
        assert_eq!(got.unwrap(), "wss://b/ws");
        let got = resolve(Some(""), Some("wss://b/ws"), None, None);
        assert_eq!(got.unwrap(), "wss://b/ws");
    }

    #[test]
    fn page_host_with_default_port_and_scheme_of_the_page() {
        let got = resolve(None, Some(""), None, Some(&page("http:", "localhost")));
        assert_eq!(got.unwrap(), "ws://localhost:8080/ws");
        let got = resolve(None, None, Some(443), Some(&page("https:", "dash.example")));
        assert_eq!(got.unwrap(), "wss://dash.example:443/ws");
        let got = resolve(None, None, None, Some(&page("http:", "[::1]")));
        assert_eq!(got.unwrap(), "ws://[::1]:8080/ws");
    }

    #[test]
    fn non_websocket_urls_are_rejected_without_showing_the_token() {
        for bad in ["http://a/ws", "ws://", "ws:///ws", "localhost:8080"] {
            assert!(
                matches!(
                    resolve(Some(bad), None, None, None),
                    Err(UrlError::NotWebSocket(_))
                ),
                "{bad}"
            );
        }
        let err = resolve(Some("https://h/ws?token=s3cret"), None, None, None).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn no_url_and_no_page_is_an_error() {
        assert_eq!(resolve(None, None, None, None), Err(UrlError::NoLocation));
        let blank = page("file:", "");
        assert_eq!(
            resolve(None, None, None, Some(&blank)),
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
