//! Alerts on the wire, and their suppression.
//!
//! An alert travels as `{"integration":"oktawatch","oktawatch":{…}}` with
//! the detection (id, title, version, severity, MITRE), the alert (title,
//! severity, dedup key, context, count) and a compact summary of the
//! triggering event. The whole event is not embedded again: Wazuh keeps at
//! most 256 fields per event, and the raw event travels on its own with the
//! same uuid. Alerts with the same detection and dedup key within the
//! suppression window (on the event clock) are sent once; the next one sent
//! after the window carries how many were suppressed.

use super::{Disabled, Raised, severity_name};
use crate::event::{Event, JsonContainerTrait, JsonValueTrait, format_ms};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The triggering event, in brief.
pub fn event_summary(ev: &Event) -> Value {
    let v = ev.value();
    let pick = |path: &str| ev.lookup(path).filter(|x| !x.is_null()).map(to_serde);
    let mut client = Map::new();
    for (k, path) in [
        ("ipAddress", "client.ipAddress"),
        ("userAgent", "client.userAgent.rawUserAgent"),
        ("city", "client.geographicalContext.city"),
        ("state", "client.geographicalContext.state"),
        ("country", "client.geographicalContext.country"),
        ("lat", "client.geographicalContext.geolocation.lat"),
        ("lon", "client.geographicalContext.geolocation.lon"),
    ] {
        if let Some(x) = pick(path) {
            client.insert(k.into(), x);
        }
    }
    let mut actor = Map::new();
    for k in ["id", "type", "alternateId", "displayName"] {
        if let Some(x) = v.get("actor").and_then(|a| a.get(k)).filter(|x| !x.is_null()) {
            actor.insert(k.into(), to_serde(x));
        }
    }
    let targets: Vec<Value> = v
        .get("target")
        .and_then(|t| t.as_array())
        .map(|ts| {
            ts.iter()
                .take(5)
                .map(|t| {
                    let mut m = Map::new();
                    for k in ["id", "type", "alternateId", "displayName"] {
                        if let Some(x) = t.get(k).filter(|x| !x.is_null()) {
                            m.insert(k.into(), to_serde(x));
                        }
                    }
                    Value::Object(m)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut s = Map::new();
    s.insert("uuid".into(), Value::String(ev.key().to_string()));
    if let Some(p) = ev.published_text() {
        s.insert("published".into(), Value::String(p));
    }
    s.insert("eventType".into(), Value::String(ev.event_type().to_string()));
    s.insert("actor".into(), Value::Object(actor));
    s.insert("client".into(), Value::Object(client));
    if let Some(o) = v.get("outcome").filter(|o| o.is_object()) {
        s.insert("outcome".into(), to_serde(o));
    }
    s.insert("targets".into(), Value::Array(targets));
    Value::Object(s)
}

/// A piece of the parsed event as a `serde_json` value, for the alert body.
fn to_serde(v: &crate::event::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The `oktawatch` object of an alert message.
pub fn alert_body(r: &Raised, ev: &Event, suppressed_before: u64) -> Value {
    let d = &r.detection.info;
    let a = &r.alert;
    let severity = a.severity.map(severity_name).unwrap_or(d.severity);
    let mitre = if a.mitre.is_empty() { &d.mitre } else { &a.mitre };
    let mut context = Map::new();
    for (k, v) in &a.context {
        context.insert(k.clone(), Value::String(v.clone()));
    }
    json!({
        "kind": "alert",
        "detection": {"id": d.id, "title": d.title, "version": d.version, "severity": d.severity, "mitre": d.mitre},
        "alert": {
            "title": a.title, "severity": severity, "mitre": mitre,
            "dedup_key": a.dedup_key, "count": 1 + suppressed_before,
            "suppressed_before": suppressed_before, "context": context,
        },
        "event": event_summary(ev),
    })
}

/// The notice sent when a detection is taken out of service.
pub fn disabled_body(d: &Disabled, ev: &Event) -> Value {
    let info = &d.detection.info;
    json!({
        "kind": "detection_disabled",
        "detection": {"id": info.id, "title": info.title, "version": info.version, "severity": info.severity, "mitre": info.mitre},
        "alert": {
            "title": format!("Detection {} disabled for {}s after repeated failures: {}", info.id, d.for_how_long.as_secs(), d.reason),
            "severity": "medium",
            "context": {"reason": d.reason.to_string(), "disabled_seconds": d.for_how_long.as_secs().to_string(),
                        "source": d.detection.source.display().to_string()},
        },
        "event": {"uuid": ev.key(), "eventType": ev.event_type(), "published": ev.published_ms().map(format_ms)},
    })
}

/// Sends an alert once per (detection, dedup key) per window of event time.
pub struct Suppressor {
    window_ms: i64,
    open: HashMap<(String, String), (i64, u64)>,
}

impl Suppressor {
    pub fn new(window: std::time::Duration) -> Self {
        Suppressor { window_ms: window.as_millis() as i64, open: HashMap::new() }
    }

    /// `Some(suppressed before)` when the alert is to be sent, `None` when suppressed.
    pub fn admit(&mut self, detection: &str, key: Option<&str>, now_ms: i64) -> Option<u64> {
        let Some(key) = key else { return Some(0) };
        if self.window_ms == 0 {
            return Some(0);
        }
        if self.open.len() > 100_000 {
            let window = self.window_ms;
            self.open.retain(|_, (start, _)| now_ms - *start < window);
        }
        match self.open.get_mut(&(detection.to_string(), key.to_string())) {
            Some((start, count)) if now_ms - *start < self.window_ms && now_ms >= *start => {
                *count += 1;
                None
            }
            Some((start, count)) => {
                let before = *count;
                *start = now_ms;
                *count = 0;
                Some(before)
            }
            None => {
                self.open.insert((detection.to_string(), key.to_string()), (now_ms, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_window() {
        let mut s = Suppressor::new(std::time::Duration::from_secs(60));
        assert_eq!(s.admit("d", Some("k"), 0), Some(0));
        assert_eq!(s.admit("d", Some("k"), 10_000), None);
        assert_eq!(s.admit("d", Some("k"), 20_000), None);
        assert_eq!(s.admit("d", Some("other"), 20_000), Some(0));
        assert_eq!(s.admit("d", Some("k"), 61_000), Some(2));
        assert_eq!(s.admit("d", None, 61_000), Some(0), "no key, never suppressed");
    }
}
