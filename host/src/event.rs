//! One Okta System Log event, parsed once and shared by every stage.
//!
//! The original JSON bytes are kept as they came (they go to Wazuh inside the
//! envelope without re-serializing); the parsed tree serves detections and
//! alert summaries. The tree is a `sonic_rs::Value`: one arena per event, so
//! parsing and dropping cost a fraction of a `serde_json::Value` tree of
//! small allocations (measured in `cargo bench -p oktawatch-bench`), and
//! keys keep the event's own order. Okta's odd shapes are taken as they are: `published` in
//! ISO or space-separated form, `"redacted"` or missing; placeholder or
//! missing `uuid`s (then the event is keyed by a hash of its content).

use chrono::{DateTime, NaiveDateTime};
pub use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Value};
use std::fmt::Write as _;

/// A parsed event: its bytes, its tree and the keys the pipeline needs.
#[derive(Debug)]
pub struct Event {
    /// The event's JSON exactly as received (compact, one line).
    raw: Box<str>,
    /// The parsed tree.
    value: Value,
    /// `uuid` when it is a real UUID, else `h:<hash of the content>`.
    key: String,
    /// `published` in ms since the epoch, when it could be read.
    published_ms: Option<i64>,
    /// Which path brought the event.
    origin: Origin,
    /// The fields nearly every stage reads (each detection call's head, the
    /// event-type index), looked up once at parse while the tree is hot.
    head: Head,
}

/// `eventType` ("" when missing or not a string) and the three strings of a
/// detection call's head.
#[derive(Debug, Default)]
struct Head {
    event_type: Box<str>,
    outcome_result: Option<Box<str>>,
    actor_alternate_id: Option<Box<str>>,
    client_ip: Option<Box<str>>,
}

/// Which path brought an event: its message says so when it is not the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Polled from the System Log API (or replayed from a file or a backfill).
    #[default]
    Poll,
    /// Pushed to the event hook listener (by whoever holds the hook secret).
    Hook,
}

/// Why a line or array element is not an event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("not JSON: {0}")]
    NotJson(#[from] sonic_rs::Error),
    #[error("not a JSON object")]
    NotObject,
    /// Nested deeper than [`MAX_DEPTH`]: refused before any recursive parser sees it.
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// How deep an event's JSON may nest. Okta's events nest under 10 levels;
/// every recursive parser and serializer in the host is safe far beyond this.
pub const MAX_DEPTH: usize = 64;

/// True when `text` nests objects/arrays deeper than `max` levels. A flat
/// scan that knows strings and escapes: no recursion, no allocation, so any
/// input, however deep or malformed, costs one pass (two at most). Strings
/// (most of an event's bytes) are skipped with `memchr`, to their closing
/// quote or next escape: a byte-at-a-time loop over them cost more than the
/// parse itself.
pub fn too_deep(text: &[u8], max: usize) -> bool {
    // No more openers in all than the bound (an Okta event has a few dozen):
    // it cannot nest deeper.
    if memchr::memchr2_iter(b'{', b'[', text).take(max + 1).count() <= max {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                // Inside the string: to its closing quote, hopping over escapes.
                loop {
                    let Some(j) = text.get(i..).and_then(|rest| memchr::memchr2(b'"', b'\\', rest)) else {
                        // Unclosed: nothing after it counts.
                        return false;
                    };
                    i += j;
                    if text[i] == b'\\' {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

impl Event {
    /// Parses one event from its JSON text.
    pub fn parse(text: &str) -> Result<Event, EventError> {
        if too_deep(text.as_bytes(), MAX_DEPTH) {
            return Err(EventError::TooDeep);
        }
        let value: Value = sonic_rs::from_str(text)?;
        if !value.is_object() {
            return Err(EventError::NotObject);
        }
        // Datagrams and NDJSON need one line: re-serialize only when the
        // source was pretty-printed (strings cannot hold raw newlines).
        let raw: Box<str> = if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_some() {
            sonic_rs::to_string(&value).expect("a parsed value serializes").into()
        } else {
            text.trim().into()
        };
        Ok(Self::from_parts(raw, value))
    }

    fn from_parts(raw: Box<str>, value: Value) -> Event {
        let key = match value.get("uuid").and_then(|v| v.as_str()) {
            Some(u) if is_real_uuid(u) => u.to_ascii_lowercase(),
            _ => format!("h:{:032x}", xxhash_rust::xxh3::xxh3_128(raw.as_bytes())),
        };
        let published_ms = value.get("published").and_then(|v| v.as_str()).and_then(parse_published);
        let text = |path: &str| lookup(&value, path).and_then(|v| v.as_str()).map(Box::<str>::from);
        let head = Head {
            event_type: value.get("eventType").and_then(|v| v.as_str()).unwrap_or("").into(),
            outcome_result: text("outcome.result"),
            actor_alternate_id: text("actor.alternateId"),
            client_ip: text("client.ipAddress"),
        };
        Event { raw, value, key, published_ms, origin: Origin::Poll, head }
    }

    /// The same event, marked as brought by `origin`.
    pub fn with_origin(mut self, origin: Origin) -> Event {
        self.origin = origin;
        self
    }

    /// Which path brought the event.
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// The JSON text as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }
    pub fn value(&self) -> &Value {
        &self.value
    }
    /// The event as a `serde_json` tree (a fresh parse: for rare paths such as shrinking).
    /// Cannot fail for an event that [`Event::parse`] accepted (at most [`MAX_DEPTH`]
    /// levels, below serde_json's own limit); an empty object stands in if it ever did.
    pub fn to_serde(&self) -> serde_json::Value {
        serde_json::from_str(&self.raw).unwrap_or_else(|_| serde_json::Value::Object(Default::default()))
    }
    /// The dedup key: the uuid, or a content hash for events without a real one.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// `eventType`, or "" when missing or not a string.
    pub fn event_type(&self) -> &str {
        &self.head.event_type
    }
    /// `outcome.result` when it is a string.
    pub fn outcome_result(&self) -> Option<&str> {
        self.head.outcome_result.as_deref()
    }
    /// `actor.alternateId` when it is a string.
    pub fn actor_alternate_id(&self) -> Option<&str> {
        self.head.actor_alternate_id.as_deref()
    }
    /// `client.ipAddress` when it is a string.
    pub fn client_ip(&self) -> Option<&str> {
        self.head.client_ip.as_deref()
    }
    pub fn uuid(&self) -> Option<&str> {
        self.value.get("uuid").and_then(|v| v.as_str())
    }
    /// `published` in ms, when readable.
    pub fn published_ms(&self) -> Option<i64> {
        self.published_ms
    }
    /// `published` as written in the event (string or other JSON).
    pub fn published_text(&self) -> Option<String> {
        let v = self.value.get("published")?;
        match v.get_type() {
            JsonType::String => v.as_str().map(str::to_string),
            JsonType::Null => None,
            _ => sonic_rs::to_string(v).ok(),
        }
    }

    /// A value by dotted path: `actor.alternateId`, `target[0].type`, `a.b[2][1]`.
    /// A key containing dots can be reached when the whole rest matches a key.
    pub fn lookup(&self, path: &str) -> Option<&Value> {
        lookup(&self.value, path)
    }
}

/// Walks a dotted path with `[n]` indexes.
pub fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(root);
    }
    let mut cur = root;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let idx: usize = after[..end].trim().parse().ok()?;
            cur = cur.as_array()?.get(idx)?;
            rest = &after[end + 1..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let obj = cur.as_object()?;
        let Some(end) = rest.find(['.', '[']) else {
            // The last segment: one lookup, hit or miss.
            return obj.get(&rest);
        };
        // Keys with dots (Okta's debugData has none today, but be lenient):
        // when the segment is not a key, the whole rest may be one.
        let Some(next) = obj.get(&&rest[..end]) else {
            return obj.get(&rest);
        };
        cur = next;
        rest = &rest[end..];
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(cur)
}

/// True for the 8-4-4-4-12 hex form, not all zeros.
pub fn is_real_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    let mut nonzero = false;
    for (i, &c) in b.iter().enumerate() {
        match i {
            8 | 13 | 18 | 23 => {
                if c != b'-' {
                    return false;
                }
            }
            _ => {
                if !c.is_ascii_hexdigit() {
                    return false;
                }
                nonzero |= c != b'0';
            }
        }
    }
    nonzero
}

/// `published` in Okta's ISO form (`2024-08-13T15:58:20.353Z`) or the
/// space-separated UTC form with 0–9 fraction digits; anything else is None.
pub fn parse_published(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.fZ"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

/// Formats ms since the epoch as Okta does (`2024-08-13T15:58:20.353Z`).
pub fn format_ms(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => {
            let mut s = String::new();
            let _ = write!(s, "{ms}");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rule byte by byte: what [`too_deep`] must agree with.
    fn too_deep_bytewise(text: &[u8], max: usize) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for &b in text {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > max {
                        return true;
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        false
    }

    proptest! {
        #[test]
        fn the_depth_scan_agrees_with_the_bytewise_rule(
            text in proptest::collection::vec(prop_oneof![
                Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'a'), Just(b':'),
            ], 0..200),
            max in 0usize..8,
        ) {
            prop_assert_eq!(too_deep(&text, max), too_deep_bytewise(&text, max));
        }
    }

    #[test]
    fn depth_inside_strings_and_after_escapes_does_not_count() {
        assert!(!too_deep(br#"{"a":"[[[[[[","b":"\"[[[["}"#, 2));
        assert!(too_deep(br#"{"a":"\\",[[["#, 3));
        assert!(!too_deep(br#"{"a":"\"#, 1));
        assert!(!too_deep(b"\"", 0));
    }

    #[test]
    fn published_forms() {
        let ms = parse_published;
        assert_eq!(ms("2024-08-13T15:58:20.353Z"), Some(1723564700353));
        assert_eq!(ms("2024-08-13 15:58:20.353"), Some(1723564700353));
        assert_eq!(ms("2024-08-13 15:58:20.353000"), Some(1723564700353));
        assert_eq!(ms("2024-08-13 15:58:20.353000000"), Some(1723564700353));
        assert_eq!(ms("2021-06-25T21:27:03.49Z"), Some(1624656423490));
        assert_eq!(ms("redacted"), None);
    }

    #[test]
    fn keys() {
        let e = Event::parse(r#"{"uuid":"2A992F80-D1AD-4F62-900E-8C68BB72A21B","eventType":"x"}"#).unwrap();
        assert_eq!(e.key(), "2a992f80-d1ad-4f62-900e-8c68bb72a21b");
        let a = Event::parse(r#"{"uuid":"redacted","eventType":"x"}"#).unwrap();
        let b = Event::parse(r#"{"uuid":"redacted","eventType":"y"}"#).unwrap();
        assert!(a.key().starts_with("h:"));
        assert_ne!(a.key(), b.key());
        assert!(Event::parse("[1]").is_err());
        assert!(Event::parse("{nope").is_err());
    }

    #[test]
    fn paths() {
        let e = Event::parse(r#"{"actor":{"alternateId":"a@b"},"target":[{"type":"User"},{"type":"App","x":[[1,2]]}]}"#)
            .unwrap();
        assert_eq!(e.lookup("actor.alternateId").unwrap().as_str(), Some("a@b"));
        assert_eq!(e.lookup("target[1].type").unwrap().as_str(), Some("App"));
        assert_eq!(e.lookup("target[1].x[0][1]").unwrap().as_i64(), Some(2));
        assert!(e.lookup("target[5].type").is_none());
        assert!(e.lookup("actor.nope").is_none());
    }

    #[test]
    fn depth_is_bounded_before_parsing() {
        let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(Event::parse(&deep(MAX_DEPTH - 1)).is_ok());
        assert!(matches!(Event::parse(&deep(MAX_DEPTH)), Err(EventError::TooDeep)));
        assert!(matches!(Event::parse(&deep(200_000)), Err(EventError::TooDeep)));
        // Brackets inside strings (escaped quotes included) do not count.
        let s = format!("{{\"a\":\"\\\"{}\"}}", "[".repeat(1000));
        assert!(Event::parse(&s).is_ok(), "{s}");
    }

    #[test]
    fn pretty_input_becomes_one_line() {
        let e = Event::parse("{\n  \"a\": 1\n}").unwrap();
        assert_eq!(e.raw(), r#"{"a":1}"#);
    }
}
