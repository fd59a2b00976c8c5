//! What goes on the wire to Wazuh: envelopes for raw events and alerts.
//!
//! Wazuh's queue socket takes `1:<location>:<json>` datagrams of at most
//! 65535 bytes; analysisd silently truncates longer ones, which breaks the
//! JSON. Raw events travel as `{"integration":"okta","org":…,"okta":<event>}`
//! with the event's own bytes; an oversized one is shrunk deterministically
//! (largest `debugContext.debugData` values first, then other large fields)
//! and marked `"truncated":true`, never sent broken.

use crate::event::Event;
use serde_json::{Map, Value, json};

/// Wazuh's limit for one datagram, header included.
pub const MAX_DATAGRAM: usize = 65535;

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
        Envelope {
            org: org.to_string(),
            org_json: serde_json::to_string(org).expect("a string serializes"),
            header: format!("1:{}:", escape_location(location)),
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
        let mut body = String::with_capacity(event.raw().len() + org.len() + 48);
        body.push_str(r#"{"integration":"okta","org":"#);
        body.push_str(org);
        body.push_str(r#","okta":"#);
        body.push_str(event.raw());
        body.push('}');
        if body.len() <= self.max_body() {
            return (body, Fit::Whole);
        }
        (self.shrunk(event, org), Fit::Shrunk)
    }

    fn shrunk(&self, event: &Event, org: &str) -> String {
        let fixed = r#"{"integration":"okta","truncated":true,"org":,"okta":}"#.len() + org.len();
        let budget = self.max_body().saturating_sub(fixed);
        let okta = shrink(event.to_serde(), budget);
        let mut body = String::with_capacity(budget + fixed);
        body.push_str(r#"{"integration":"okta","truncated":true,"org":"#);
        body.push_str(org);
        body.push_str(r#","okta":"#);
        body.push_str(&serde_json::to_string(&okta).expect("a value serializes"));
        body.push('}');
        body
    }

    /// An alert message (see [`crate::runtime::alert`] for the fields).
    pub fn alert(&self, mut alert: Value) -> String {
        if let Some(obj) = alert.as_object_mut() {
            obj.insert("org".into(), Value::String(self.org.clone()));
        }
        let mut body = json!({"integration": "oktawatch", "oktawatch": alert}).to_string();
        if body.len() > self.max_body() {
            // Alerts are bounded by the runtime; this is the last guard.
            if let Some(ctx) = alert.pointer_mut("/alert/context") {
                *ctx = json!({"oktawatch_note": "context dropped: alert over the datagram limit"});
            }
            if let Some(ev) = alert.pointer_mut("/event/targets") {
                *ev = Value::Array(Vec::new());
            }
            body = json!({"integration": "oktawatch", "truncated": true, "oktawatch": alert}).to_string();
        }
        body
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

/// Fields kept whole when shrinking, whatever their size.
const KEEP: &[&str] = &["uuid", "eventType", "published", "actor", "client", "outcome", "target"];

/// Shrinks an event until its JSON fits `budget` bytes: first the largest
/// `debugContext.debugData` values, then the largest other fields outside
/// [`KEEP`], then long strings inside kept fields. Deterministic: the same
/// event always shrinks the same way.
pub fn shrink(mut event: Value, budget: usize) -> Value {
    let size = |v: &Value| serde_json::to_string(v).map(|s| s.len()).unwrap_or(usize::MAX);
    let mut dropped: Vec<String> = Vec::new();

    // 1. debugData values, largest first.
    while size(&event) > budget {
        let Some(data) = event.pointer_mut("/debugContext/debugData").and_then(Value::as_object_mut) else { break };
        let Some(k) = largest_key(data) else { break };
        data.remove(&k);
        dropped.push(format!("debugContext.debugData.{k}"));
    }
    // 2. other top-level fields, largest first.
    while size(&event) > budget {
        let Some(obj) = event.as_object_mut() else { break };
        let candidates: Map<String, Value> =
            obj.iter().filter(|(k, _)| !KEEP.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        let Some(k) = largest_key(&candidates) else { break };
        obj.remove(&k);
        dropped.push(k);
    }
    // 3. long strings anywhere (kept fields included), cut to 256 chars.
    if size(&event) > budget {
        cut_strings(&mut event, 256);
        dropped.push("long strings cut to 256 characters".into());
    }
    // 4. last resort: only the identity of the event.
    if size(&event) > budget {
        let keep: Map<String, Value> = ["uuid", "eventType", "published"]
            .iter()
            .filter_map(|k| event.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        event = Value::Object(keep);
        dropped.push("everything but uuid, eventType and published".into());
    }
    if let Some(obj) = event.as_object_mut() {
        obj.insert("oktawatch_dropped".into(), Value::from(dropped));
    }
    event
}

fn largest_key(obj: &Map<String, Value>) -> Option<String> {
    obj.iter()
        .map(|(k, v)| (serde_json::to_string(v).map(|s| s.len()).unwrap_or(0), k))
        // Ties broken by name so the result never depends on map order.
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, k)| k.clone())
}

fn cut_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) if s.len() > max => {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
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
}
