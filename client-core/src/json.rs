//! A small, strict JSON reader (RFC 8259) for server frames.
//!
//! Why not `serde_json` here: its deserializer, with the error formatting it
//! drags in (floats, `Debug` of strings, `io::Error`), was more than half of
//! the wasm module. Frames are small and only a few fields are read, so a
//! borrowed tree is enough. Numbers stay as their source text and are only
//! converted when read. Nesting is limited, so hostile input cannot exhaust
//! the stack.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting of arrays/objects accepted. 64.
pub const MAX_DEPTH: usize = 64;

/// A parsed JSON value borrowing from the source text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as its (grammar-checked) source text.
    Num(&'a str),
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// An array.
    Arr(Vec<Json<'a>>),
    /// An object's members in source order.
    Obj(Vec<(Cow<'a, str>, Json<'a>)>),
}

/// Why the text is not JSON: what was wrong and the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What was expected or found.
    pub what: &'static str,
    /// Byte offset in the text (0-based).
    pub at: usize,
}

impl JsonError {
    /// What went wrong and where, e.g. `invalid number at byte 7`.
    pub fn message(&self) -> String {
        crate::text::cat(&[self.what, " at byte ", &crate::text::uint(self.at as u64)])
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for JsonError {}

impl<'a> Json<'a> {
    /// Member `key` of an object (the last one if repeated, as `JSON.parse`
    /// does, so Rust routes on the same value JS will see); `None` otherwise.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Obj(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an unsigned integer, if it is a number without fraction
    /// or exponent that fits in a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => whole(n),
            _ => None,
        }
    }

    /// The value as a signed integer, if it is a number without fraction or
    /// exponent that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Num(n) => match n.strip_prefix('-') {
                Some(magnitude) => 0i64.checked_sub_unsigned(whole(magnitude)?),
                None => i64::try_from(whole(n)?).ok(),
            },
            _ => None,
        }
    }

    /// Whether this is a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Json::Num(_))
    }
}

/// Digits only, fitting a `u64`. Not `str::parse`: its generic integer
/// parser costs about 1 KB of wasm for the two integer types read here.
fn whole(digits: &str) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0u64, |value, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        value.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Parse one JSON text (surrounding whitespace allowed, nothing else).
pub fn parse(text: &str) -> Result<Json<'_>, JsonError> {
    let mut p = Parser::new(text, true);
    let value = p.value(0)?;
    p.end()?;
    Ok(value)
}

/// Check that `text` is one JSON text and, if it is an object, call `member`
/// with each top-level member in source order, without building a tree.
///
/// Nested arrays and objects are fully checked but handed over empty (their
/// contents are not kept), so a frame costs no allocation beyond strings that
/// contain escapes. Returns whether the text is an object; `member` may have
/// been called for members before an error further on.
pub fn members<'a>(
    text: &'a str,
    mut member: impl FnMut(Cow<'a, str>, Json<'a>),
) -> Result<bool, JsonError> {
    let top = entries(text, &mut |key, value, _| {
        if let Some(key) = key {
            member(key, value)
        }
    })?;
    Ok(top == Top::Object)
}

/// What a JSON text is at its top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Top {
    /// An object.
    Object,
    /// An array.
    Array,
    /// Anything else.
    Scalar,
}

/// One entry of [`entries`]: the member name (`None` for an array item),
/// the value (nested arrays and objects emptied) and its source text.
pub type Entry<'e, 'a> = &'e mut dyn FnMut(Option<Cow<'a, str>>, Json<'a>, &'a str);

/// Check that `text` is one JSON text and call `entry` with each top-level
/// member of an object, or item of an array, in source order: the value as
/// [`members`] gives it and its exact source text (nested values whole), so
/// the state store keeps and re-emits records as the server wrote them.
/// Not generic, so every caller shares one copy in the wasm module.
pub fn entries<'a>(text: &'a str, entry: Entry<'_, 'a>) -> Result<Top, JsonError> {
    let mut p = Parser::new(text, false);
    p.skip_ws();
    let (top, close) = match p.peek() {
        Some(b'{') => (Top::Object, b'}'),
        Some(b'[') => (Top::Array, b']'),
        _ => {
            p.value(0)?;
            p.end()?;
            return Ok(Top::Scalar);
        }
    };
    p.at += 1;
    if !p.eat(close) {
        loop {
            let key = if top == Top::Object {
                p.skip_ws();
                if p.peek() != Some(b'"') {
                    return Err(p.error("expected a string key"));
                }
                let key = p.string()?;
                if !p.eat(b':') {
                    return Err(p.error("expected `:`"));
                }
                Some(key)
            } else {
                None
            };
            p.skip_ws();
            let start = p.at;
            let value = p.value(1)?;
            entry(key, value, p.text(start));
            if p.eat(close) {
                break;
            }
            if !p.eat(b',') {
                return Err(p.error(if top == Top::Object {
                    "expected `,` or `}`"
                } else {
                    "expected `,` or `]`"
                }));
            }
        }
    }
    p.end()?;
    Ok(top)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// Whether arrays and objects keep their contents (else checked only).
    keep: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, keep: bool) -> Parser<'a> {
        Parser {
            src,
            bytes: src.as_bytes(),
            at: 0,
            keep,
        }
    }

    fn end(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        if self.at != self.bytes.len() {
            return Err(self.error("trailing characters"));
        }
        Ok(())
    }

    fn error(&self, what: &'static str) -> JsonError {
        JsonError { what, at: self.at }
    }

    /// The source from `from` to the current position. Both are always at
    /// ASCII bytes, so `get` never fails; it is used instead of indexing
    /// because str indexing's panic path pulls char `Debug` formatting and
    /// Unicode tables (about 1 KB gzipped) into the wasm module.
    fn text(&self, from: usize) -> &'a str {
        self.src.get(from..self.at).unwrap_or_default()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, JsonError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, JsonError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.at += 1;
        let mut members = Vec::new();
        if self.eat(b'}') {
            return Ok(Json::Obj(members));
        }
        loop {
            let member = self.member(depth)?;
            if self.keep {
                members.push(member);
            }
            if self.eat(b'}') {
                return Ok(Json::Obj(members));
            }
            if !self.eat(b',') {
                return Err(self.error("expected `,` or `}`"));
            }
        }
    }

    /// `"key": value`, at `depth`.
    fn member(&mut self, depth: usize) -> Result<(Cow<'a, str>, Json<'a>), JsonError> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string key"));
        }
        let key = self.string()?;
        if !self.eat(b':') {
            return Err(self.error("expected `:`"));
        }
        Ok((key, self.value(depth)?))
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.at += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Json::Arr(items));
        }
        loop {
            let item = self.value(depth)?;
            if self.keep {
                items.push(item);
            }
            if self.eat(b']') {
                return Ok(Json::Arr(items));
            }
            if !self.eat(b',') {
                return Err(self.error("expected `,` or `]`"));
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Json<'a>, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(Json::Num(self.text(start)))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        // By hand: `u32::from_str_radix` is another generic integer parser.
        let invalid = || self.error("invalid \\u escape");
        let hex = self.bytes.get(self.at..self.at + 4).ok_or_else(invalid)?;
        let mut code = 0;
        for &b in hex {
            code = code * 16 + char::from(b).to_digit(16).ok_or_else(invalid)?;
        }
        self.at += 4;
        Ok(code)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1; // opening quote
        let start = self.at;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            // Stops only at ASCII bytes, never inside a UTF-8 sequence.
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match b {
                b'"' => {
                    let tail = self.text(run);
                    self.at += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(self.text(run));
                    self.at += 1;
                    let esc = self
                        .peek()
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.at += 1;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.bytes[self.at..].starts_with(b"\\u") {
                                    return Err(self.error("lone surrogate in \\u escape"));
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.error("lone surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code)
                                .ok_or_else(|| self.error("lone surrogate in \\u escape"))?
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    s.push(c);
                    run = self.at;
                }
                0..=0x1f => return Err(self.error("control character in string")),
                // Skip to the next byte that ends, escapes or breaks the string.
                _ => {
                    self.at += 1;
                    while let Some(&b) = self.bytes.get(self.at) {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.at += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_value() {
        let v = parse(r#" {"a":[1,-2.5e3,true,false,null],"b":{"c":"d"},"e":""} "#).unwrap();
        assert_eq!(
            v.get("a"),
            Some(&Json::Arr(vec![
                Json::Num("1"),
                Json::Num("-2.5e3"),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ]))
        );
        assert_eq!(
            v.get("b").and_then(|b| b.get("c")).and_then(Json::as_str),
            Some("d")
        );
        assert_eq!(v.get("e").and_then(Json::as_str), Some(""));
        assert_eq!(v.get("zzz"), None);
    }

    #[test]
    fn repeated_keys_resolve_to_the_last_like_json_parse() {
        let v = parse(r#"{"type":"ping","type":"error"}"#).unwrap();
        assert_eq!(v.get("type").and_then(Json::as_str), Some("error"));
    }

    #[test]
    fn members_yields_top_level_members_in_order_with_nested_values_emptied() {
        let mut seen = Vec::new();
        let text = r#" {"a":1,"b":{"c":[1,2]},"d\u0041":[3],"a":"x"} "#;
        assert_eq!(members(text, |k, v| seen.push((k, v))), Ok(true));
        assert_eq!(
            seen,
            [
                ("a".into(), Json::Num("1")),
                ("b".into(), Json::Obj(Vec::new())),
                ("dA".into(), Json::Arr(Vec::new())),
                ("a".into(), Json::Str("x".into())),
            ]
        );
    }

    #[test]
    fn members_reports_a_non_object_without_calling_back() {
        for text in ["[1,{\"a\":2}]", "\"s\"", " 7 ", "null"] {
            let mut calls = 0;
            assert_eq!(members(text, |_, _| calls += 1), Ok(false), "{text}");
            assert_eq!(calls, 0);
        }
    }

    #[test]
    fn members_still_rejects_invalid_json_anywhere_in_the_text() {
        for bad in [
            r#"{"a":{"b":[1,}]}"#,
            r#"{"a":[tru]}"#,
            r#"{"a":{"b":"\x"}}"#,
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"[1,]"#,
            "{\"a\":\"\u{1}\"}",
        ] {
            assert!(members(bad, |_, _| {}).is_err(), "{bad}");
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(
            members(&deep, |_, _| {}).map_err(|e| e.what),
            Err("nesting too deep")
        );
    }

    #[test]
    fn entries_keep_each_values_source_text() {
        let text = r#" {"a" : 1.50e2, "b":{"c":[1, 2]},"d\u0041":"x\"y", "e":[ {"k":1} , 2 ]} "#;
        let mut seen = Vec::new();
        let top = entries(text, &mut |k, v, raw| seen.push((k, v, raw))).unwrap();
        assert_eq!(top, Top::Object);
        assert_eq!(
            seen,
            [
                (Some("a".into()), Json::Num("1.50e2"), "1.50e2"),
                (Some("b".into()), Json::Obj(vec![]), r#"{"c":[1, 2]}"#),
                (Some("dA".into()), Json::Str("x\"y".into()), r#""x\"y""#),
                (Some("e".into()), Json::Arr(vec![]), r#"[ {"k":1} , 2 ]"#),
            ]
        );
        let mut items = Vec::new();
        let top = entries(seen[3].2, &mut |k, _, raw| items.push((k, raw))).unwrap();
        assert_eq!(top, Top::Array);
        assert_eq!(items, [(None, r#"{"k":1}"#), (None, "2")]);
        assert_eq!(entries("[]", &mut |_, _, _| panic!()), Ok(Top::Array));
        assert_eq!(entries(" 7 ", &mut |_, _, _| panic!()), Ok(Top::Scalar));
        for bad in [
            r#"{"a":1,}"#,
            r#"{"a":[1,}]}"#,
            "[1,]",
            "[1] x",
            r#"{"a" 1}"#,
            "[1 2]",
        ] {
            assert!(entries(bad, &mut |_, _, _| {}).is_err(), "{bad}");
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unescapes_strings_including_surrogate_pairs() {
        let v = parse(r#""a\"b\\c\/d\n\t\u00e9\ud83d\ude00é""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c/d\n\té😀é"));
    }

    #[test]
    fn integers_are_read_exactly() {
        assert_eq!(Json::Num("18446744073709551615").as_u64(), Some(u64::MAX));
        assert_eq!(Json::Num("18446744073709551616").as_u64(), None);
        assert_eq!(Json::Num("-5").as_u64(), None);
        assert_eq!(Json::Num("-5").as_i64(), Some(-5));
        assert_eq!(Json::Num("1.0").as_u64(), None);
        assert_eq!(Json::Num("1e3").as_i64(), None);
        assert_eq!(Json::Num("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(Json::Num("9223372036854775807").as_i64(), Some(i64::MAX));
        assert_eq!(Json::Num("9223372036854775808").as_i64(), None);
        assert_eq!(Json::Num("-9223372036854775809").as_i64(), None);
        assert_eq!(Json::Num("-0").as_i64(), Some(0));
        assert_eq!(Json::Num("").as_u64(), None);
        assert_eq!(Json::Num("-").as_i64(), None);
    }

    #[test]
    fn rejects_invalid_json_with_a_position() {
        for (bad, at) in [
            ("", 0),
            ("{", 1),
            ("{\"a\" 1}", 5),
            ("[1,]", 3),
            ("01", 1),
            ("1.", 2),
            ("-", 1),
            ("\"abc", 4),
            ("\"\\x\"", 3),
            ("\"\\ud800\"", 7),
            ("\"\\u12G4\"", 3),
            ("\"\\u12\"", 3),
            ("\"\\u0é00\"", 3),
            ("\"\\u+123\"", 3),
            ("\"a\u{1}\"", 2),
            ("tru", 0),
            ("{} x", 3),
            ("{'a':1}", 1),
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.at, at, "{bad:?}: {err}");
        }
        assert_eq!(parse(r#""\u00E9\u00e9""#).unwrap(), Json::Str("éé".into()));
        assert_eq!(
            parse("[1,]").unwrap_err().to_string(),
            "expected a value at byte 3"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).unwrap_err().what, "nesting too deep");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn agrees_with_serde_json_on_valid_documents() {
        for text in [
            r#"{"type":"corridor_update","success_rate":99.5,"n":[1,2,{"x":null}]}"#,
            r#""\u0041\u00df\u6771\ud801\udc37""#,
            "[]",
            "-0.0e-0",
        ] {
            assert!(parse(text).is_ok(), "{text}");
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_ok(),
                "{text}"
            );
        }
        let ours = parse(r#""\u0041\u00df\u6771\ud801\udc37""#).unwrap();
        let theirs: String = serde_json::from_str(r#""\u0041\u00df\u6771\ud801\udc37""#).unwrap();
        assert_eq!(ours.as_str(), Some(theirs.as_str()));
    }
}
