//! What goes on the wire to Wazuh: envelopes for raw events, alerts and notices.
//!
//! Wazuh's queue socket takes `1:<location>:<json>` datagrams of at most
//! 65535 bytes; analysisd silently truncates longer ones, which breaks the
//! JSON, and the kernel refuses datagrams over its own bound. So every body
//! built here fits, **by construction**:
//! - raw events travel as `{"integration":"okta","org":…,"okta":<event>}`
//!   with the event's own bytes; an oversized one is shrunk in O(size)
//!   ([`shrink`]: the largest `debugContext.debugData` values, then the
//!   largest other fields, then long strings), marked `"truncated":true`
//!   with a bounded `oktawatch_dropped` list counted in the budget, and
//!   when nothing else fits, cut to its identity (uuid, eventType,
//!   published, actor);
//! - alerts and notices lose their context and targets, then everything
//!   but the detection and event identity, the same way.
//!
//! Events pushed by the event hook carry `"source":"event_hook"`.

use crate::event::{Event, Origin};
use serde_json::{Map, Value, json};

/// Wazuh's limit for one datagram, header included.
pub const MAX_DATAGRAM: usize = 65535;

/// The longest escaped location kept in the header (config validation refuses longer ones).
const MAX_LOCATION: usize = 1024;

/// Strings in an identity-only message are cut to this many bytes.
const IDENTITY_STRING: usize = 256;

/// At most this many names in `oktawatch_dropped` (then one "… and N more").
const DROPPED_NAMES: usize = 16;
/// Each name in `oktawatch_dropped` is cut to this many bytes.
const DROPPED_NAME: usize = 128;

/// Builds message bodies for one org and one Wazuh location.
#[derive(Clone, Debug)]
pub struct Envelope {
    org: String,
    /// `org` as a JSON string, serialized once.
    org_json: String,
    /// `1:<escaped location>:`
    header: String,
}

/// What building one raw-event message did.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    Whole,
    Shrunk,
}

impl Envelope {
    pub fn new(org: &str, location: &str) -> Self {
        let mut location = escape_location(location);
        cut(&mut location, MAX_LOCATION);
        let mut org = org.to_string();
        cut(&mut org, IDENTITY_STRING);
        Envelope {
            org_json: serde_json::to_string(&org).expect("a string serializes"),
            org,
            header: format!("1:{location}:"),
        }
    }

    /// The datagram header, `1:<location>:`.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Room left for the JSON body in one datagram.
    pub fn max_body(&self) -> usize {
        MAX_DATAGRAM - self.header.len()
    }

    /// The raw event message; shrinks it when it would not fit a datagram.
    pub fn raw_event(&self, event: &Event) -> (String, Fit) {
        let org = &self.org_json;
        let source = match event.origin() {
            Origin::Hook => r#","source":"event_hook""#,
            Origin::Poll => "",
        };
        let mut body = String::with_capacity(event.raw().len() + org.len() + 72);
        body.push_str(r#"{"integration":"okta""#);
        body.push_str(source);
        body.push_str(r#","org":"#);
        body.push_str(org);
        body.push_str(r#","okta":"#);
        body.push_str(event.raw());
        body.push('}');
        if body.len() <= self.max_body() {
            return (body, Fit::Whole);
        }
        let head = format!(r#"{{"integration":"okta"{source},"truncated":true,"org":{org},"okta":"#);
        let budget = self.max_body().saturating_sub(head.len() + 1);
        let okta = shrink(event.to_serde(), budget).value;
        let mut body = head;
        body.push_str(&serde_json::to_string(&okta).expect("a value serializes"));
        body.push('}');
        debug_assert!(body.len() <= self.max_body());
        (body, Fit::Shrunk)
    }

    /// An alert or notice message (see [`crate::pipeline::alert`] for the fields).
    pub fn alert(&self, mut alert: Value) -> String {
        if let Some(obj) = alert.as_object_mut() {
            obj.insert("org".into(), Value::String(self.org.clone()));
        }
        let body = json!({"integration": "oktawatch", "oktawatch": alert}).to_string();
        if body.len() <= self.max_body() {
            return body;
        }
        // Alerts are bounded by the runtime; this is the last guard. First the context and targets go.
        if let Some(ctx) = alert.pointer_mut("/alert/context") {
            *ctx = json!({"oktawatch_note": "context dropped: alert over the datagram limit"});
        }
        if let Some(ev) = alert.pointer_mut("/event/targets") {
            *ev = Value::Array(Vec::new());
        }
        let body = json!({"integration": "oktawatch", "truncated": true, "oktawatch": alert}).to_string();
        if body.len() <= self.max_body() {
            return body;
        }
        // Then everything but what names the detection and the event.
        let keep = |paths: &[&str]| -> Value {
            let mut out = Map::new();
            for p in paths {
                if let Some(v) = alert.pointer(&format!("/{p}")).and_then(identity_scalar) {
                    out.insert(p.rsplit('/').next().unwrap().to_string(), v);
                }
            }
            Value::Object(out)
        };
        let mut minimal = Map::new();
        minimal.insert("kind".into(), alert.get("kind").and_then(identity_scalar).unwrap_or(Value::Null));
        minimal.insert("org".into(), Value::String(self.org.clone()));
        minimal.insert("detection".into(), keep(&["detection/id", "detection/title", "detection/version", "detection/severity"]));
        minimal.insert("alert".into(), keep(&["alert/title", "alert/severity", "alert/dedup_key"]));
        minimal.insert("event".into(), keep(&["event/uuid", "event/eventType", "event/published"]));
        json!({"integration": "oktawatch", "truncated": true, "oktawatch": minimal}).to_string()
    }
}

/// Escapes `|` and `:` in a location with `|`, as Wazuh's senders do.
pub fn escape_location(location: &str) -> String {
    let mut out = String::with_capacity(location.len());
    for c in location.chars() {
        if c == '|' || c == ':' {
            out.push('|');
        }
        out.push(c);
    }
    out
}

/// Fields kept whole when shrinking, whatever their size (until strings are cut).
const KEEP: &[&str] = &["uuid", "eventType", "published", "actor", "client", "outcome", "target"];

/// What [`shrink`] made, and the bytes it serialized on the way (its work:
/// a small multiple of the event's size, whatever its shape).
#[derive(Debug)]
pub struct Shrunk {
    pub value: Value,
    pub work: usize,
}

/// Shrinks an event until its JSON, `oktawatch_dropped` included, fits
/// `budget` bytes: first the largest `debugContext.debugData` values, then
/// the largest other fields outside [`KEEP`], then long strings anywhere,
/// and last its identity only. Each subtree is measured once and the
/// candidates sorted once, so the cost is linear in the event's size.
/// Deterministic: the same event always shrinks the same way.
pub fn shrink(mut event: Value, budget: usize) -> Shrunk {
    let mut meter = Meter::default();
    let mut dropped = Dropped::default();
    if !event.is_object() {
        event = Value::Object(Map::new());
    }
    let mut size = meter.size(&event);
    let fits = |size: usize, dropped: &Dropped| size + dropped.cost() <= budget;

    // 1. debugData values, largest first.
    if let Some(data) = event.pointer_mut("/debugContext/debugData").and_then(Value::as_object_mut) {
        for (cost, k) in by_size(data, &mut meter, |_| true) {
            if fits(size, &dropped) {
                break;
            }
            data.remove(&k);
            size -= cost.min(size);
            dropped.push(&format!("debugContext.debugData.{k}"));
        }
    }
    // 2. other top-level fields, largest first.
    if !fits(size, &dropped) {
        let obj = event.as_object_mut().expect("an object");
        for (cost, k) in by_size(obj, &mut meter, |k| !KEEP.contains(&k)) {
            if fits(size, &dropped) {
                break;
            }
            obj.remove(&k);
            size -= cost.min(size);
            dropped.push(&k);
        }
        size = meter.size(&event);
    }
    // 3. long strings anywhere (kept fields included).
    if !fits(size, &dropped) {
        cut_strings(&mut event, IDENTITY_STRING);
        dropped.push("long strings cut to 256 bytes");
        size = meter.size(&event);
    }
    // 4. last resort: only the identity of the event (bounded whatever the input).
    if !fits(size, &dropped) {
        event = identity(&event);
        dropped.push("everything but uuid, eventType, published and actor");
    }
    event.as_object_mut().expect("an object").insert("oktawatch_dropped".into(), dropped.into_value());
    Shrunk { value: event, work: meter.bytes }
}

/// The keys of `obj` that `pick` admits, with what removing each saves at
/// least (`"key":value`), largest first; ties broken by name.
fn by_size(obj: &Map<String, Value>, meter: &mut Meter, pick: impl Fn(&str) -> bool) -> Vec<(usize, String)> {
    let mut sized: Vec<(usize, String)> = obj
        .iter()
        .filter(|(k, _)| pick(k))
        .map(|(k, v)| (meter.size(v) + json_len(k) + 1, k.clone()))
        .collect();
    sized.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    sized
}

/// uuid, eventType, published and the actor's names, strings cut: a few KiB at most.
fn identity(event: &Value) -> Value {
    let mut out = Map::new();
    for k in ["uuid", "eventType", "published"] {
        if let Some(v) = event.get(k).and_then(identity_scalar) {
            out.insert(k.into(), v);
        }
    }
    let mut actor = Map::new();
    for k in ["id", "type", "alternateId", "displayName"] {
        if let Some(v) = event.get("actor").and_then(|a| a.get(k)).and_then(identity_scalar) {
            actor.insert(k.into(), v);
        }
    }
    if !actor.is_empty() {
        out.insert("actor".into(), Value::Object(actor));
    }
    Value::Object(out)
}

/// A string (cut), number or boolean; anything else is left out.
fn identity_scalar(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => {
            let mut s = s.clone();
            cut(&mut s, IDENTITY_STRING);
            Some(Value::String(s))
        }
        Value::Number(_) | Value::Bool(_) => Some(v.clone()),
        _ => None,
    }
}

/// The bounded `oktawatch_dropped` list: at most [`DROPPED_NAMES`] names of
/// at most [`DROPPED_NAME`] bytes, then how many more; its cost is known at every step.
#[derive(Default)]
struct Dropped {
    names: Vec<String>,
    more: usize,
    /// Bytes of the names and their separators.
    bytes: usize,
}

impl Dropped {
    /// Room for `,"oktawatch_dropped":[]` and a final "… and N more" entry.
    const FIXED: usize = r#","oktawatch_dropped":[]"#.len() + r#","… and 18446744073709551615 more""#.len();

    fn push(&mut self, name: &str) {
        if self.names.len() < DROPPED_NAMES {
            let mut name = name.to_string();
            cut(&mut name, DROPPED_NAME);
            self.bytes += json_len(&name) + 1;
            self.names.push(name);
        } else {
            self.more += 1;
        }
    }

    fn cost(&self) -> usize {
        Self::FIXED + self.bytes
    }

    fn into_value(mut self) -> Value {
        if self.more > 0 {
            self.names.push(format!("… and {} more", self.more));
        }
        Value::from(self.names)
    }
}

/// Measures serialized sizes without building the text, and adds up the work.
#[derive(Default)]
struct Meter {
    bytes: usize,
}

impl Meter {
    fn size(&mut self, v: &Value) -> usize {
        let mut c = Count(0);
        serde_json::to_writer(&mut c, v).expect("a value serializes");
        self.bytes += c.0;
        c.0
    }
}

struct Count(usize);
impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_len(s: &str) -> usize {
    let mut c = Count(0);
    serde_json::to_writer(&mut c, s).expect("a string serializes");
    c.0
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

fn cut_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) => cut(s, max),
        Value::Array(a) => a.iter_mut().for_each(|x| cut_strings(x, max)),
        Value::Object(o) => o.values_mut().for_each(|x| cut_strings(x, max)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_escaping() {
        assert_eq!(escape_location("okta:prod|eu"), "okta|:prod||eu");
        assert_eq!(Envelope::new("o", "a:b").header(), "1:a|:b:");
    }

    #[test]
    fn raw_bytes_are_kept() {
        let ev = Event::parse(r#"{"uuid":"x","eventType":"user.session.start","n":1.50}"#).unwrap();
        let (body, fit) = Envelope::new("prod", "oktawatch").raw_event(&ev);
        assert_eq!(fit, Fit::Whole);
        assert_eq!(
            body,
            r#"{"integration":"okta","org":"prod","okta":{"uuid":"x","eventType":"user.session.start","n":1.50}}"#
        );
    }

    #[test]
    fn oversize_shrinks_to_valid_json() {
        let big = "A".repeat(40_000);
        let text = json!({
            "uuid": "2a992f80-d1ad-4f62-900e-8c68bb72a21b", "eventType": "policy.evaluate_sign_on",
            "actor": {"alternateId": "a@b"}, "outcome": {"result": "SUCCESS"},
            "debugContext": {"debugData": {"big1": big, "big2": big, "small": "keep"}},
        })
        .to_string();
        let ev = Event::parse(&text).unwrap();
        let env = Envelope::new("prod", "oktawatch");
        let (body, fit) = env.raw_event(&ev);
        assert_eq!(fit, Fit::Shrunk);
        assert!(body.len() + env.header().len() <= MAX_DATAGRAM);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["okta"]["actor"]["alternateId"], "a@b");
        assert_eq!(v["okta"]["debugContext"]["debugData"]["small"], "keep");
        assert!(v["okta"]["debugContext"]["debugData"].get("big1").is_none());
        // Deterministic.
        assert_eq!(env.raw_event(&ev).0, body);
    }

    #[test]
    fn hook_events_say_so() {
        let ev = Event::parse(r#"{"uuid":"x","eventType":"e"}"#).unwrap().with_origin(Origin::Hook);
        let (body, _) = Envelope::new("prod", "oktawatch").raw_event(&ev);
        assert_eq!(body, r#"{"integration":"okta","source":"event_hook","org":"prod","okta":{"uuid":"x","eventType":"e"}}"#);
    }

    #[test]
    fn an_alert_of_any_size_fits() {
        let env = Envelope::new("prod", "oktawatch");
        let huge = "x".repeat(200_000);
        let alert = json!({
            "kind": "alert",
            "detection": {"id": "d", "title": huge, "version": huge, "severity": "high", "mitre": vec![huge.clone(); 3]},
            "alert": {"title": huge, "severity": "high", "context": {"a": huge}},
            "event": {"uuid": "u", "eventType": "e", "targets": [huge]},
        });
        let body = env.alert(alert);
        assert!(body.len() <= env.max_body(), "{}", body.len());
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["truncated"], true);
        assert_eq!(v["oktawatch"]["detection"]["id"], "d");
        assert_eq!(v["oktawatch"]["event"]["uuid"], "u");
        assert_eq!(v["oktawatch"]["detection"]["title"].as_str().unwrap().len(), IDENTITY_STRING);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const UUID: &str = "2a992f80-d1ad-4f62-900e-8c68bb72a21b";

        /// Nested arrays and objects, `depth` levels, each level `fanout` wide at the leaf.
        fn nested(depth: usize, fanout: usize, leaf: &str) -> Value {
            let mut v = Value::from(vec![Value::from(leaf); fanout]);
            for i in 0..depth {
                v = if i % 2 == 0 { json!({ format!("k{i}"): v }) } else { json!([v]) };
            }
            v
        }

        /// Wide, deep, huge, many-keyed and near-the-boundary events.
        fn event() -> impl Strategy<Value = Value> {
            let base = |extra: Vec<(String, Value)>, data: Map<String, Value>| {
                let mut e = json!({
                    "uuid": UUID, "eventType": "user.session.start", "published": "2024-08-13T15:58:20.353Z",
                    "actor": {"id": "00u1", "type": "User", "alternateId": "a@example.com"},
                    "outcome": {"result": "SUCCESS"},
                    "debugContext": {"debugData": data},
                });
                for (k, v) in extra {
                    e[k] = v;
                }
                e
            };
            prop_oneof![
                // Many debugData keys of varied sizes.
                (1usize..12_000, 1usize..64).prop_map(move |(n, len)| {
                    let data = (0..n).map(|i| (format!("key{i}"), Value::from("v".repeat(1 + (i * 7919) % len)))).collect();
                    base(vec![], data)
                }),
                // Deep and wide, under the parser's depth bound, in a non-kept field and in a kept one.
                (1usize..60, 1usize..4000, any::<bool>()).prop_map(move |(depth, fanout, kept)| {
                    let field = if kept { "target" } else { "request" };
                    base(vec![(field.into(), nested(depth, fanout, "ab\"c\u{1}é"))], Map::new())
                }),
                // Huge strings everywhere, kept fields included, with characters that escape.
                (1usize..300_000, any::<bool>()).prop_map(move |(len, control)| {
                    let c = if control { "\u{7}" } else { "é" };
                    let s = c.repeat(len / c.len());
                    let mut e = base(vec![("request".into(), Value::from(s.clone()))], Map::new());
                    e["actor"]["displayName"] = Value::from(s.clone());
                    e["eventType"] = Value::from(s);
                    e
                }),
                // Near the boundary: one padding value puts the body a few bytes either side of the limit.
                (-64i64..64).prop_map(move |delta| {
                    let mut e = base(vec![], Map::new());
                    let env = Envelope::new("prod", "oktawatch");
                    let room = env.max_body() as i64
                        - (r#"{"integration":"okta","org":"prod","okta":}"#.len() + e.to_string().len()) as i64
                        - r#","pad":"""#.len() as i64;
                    e["pad"] = Value::from("p".repeat((room + delta).max(0) as usize));
                    e
                }),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

            #[test]
            fn every_body_fits_and_keeps_the_identity(e in event()) {
                let text = e.to_string();
                let ev = Event::parse(&text).unwrap();
                let env = Envelope::new("prod", "oktawatch");
                let (body, fit) = env.raw_event(&ev);
                prop_assert!(body.len() + env.header().len() <= MAX_DATAGRAM, "{} bytes", body.len());
                let v: Value = serde_json::from_str(&body).expect("valid JSON");
                prop_assert_eq!(v["okta"]["uuid"].as_str(), Some(UUID));
                let want_type = e["eventType"].as_str().unwrap();
                let got_type = v["okta"]["eventType"].as_str().unwrap();
                prop_assert!(want_type.starts_with(got_type) && !got_type.is_empty());
                prop_assert_eq!(fit == Fit::Shrunk, v["truncated"] == true);
                if fit == Fit::Whole {
                    prop_assert_eq!(&v["okta"], &e);
                }
                // Linear: the bytes serialized while shrinking are a small multiple of the event's size.
                let work = shrink(e, env.max_body()).work;
                prop_assert!(work <= 6 * text.len() + 4096, "work {} for {} bytes", work, text.len());
            }
        }
    }
}
