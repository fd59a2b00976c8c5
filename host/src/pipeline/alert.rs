//! Alerts on the wire, and their suppression.
//!
//! An alert travels as `{"integration":"oktawatch","oktawatch":{…}}` with
//! the detection (id, title, version, severity, MITRE), the alert (title,
//! severity, dedup key, context, count) and a compact summary of the
//! triggering event. The whole event is not embedded again: Wazuh keeps at
//! most 256 fields per event, and the raw event travels on its own with the
//! same uuid. The summary's fields a detection masks (its
//! `mask_event_fields`, [`crate::runtime::host_keys`]) read `[masked]` and
//! are named in its `masked` list. Alerts with the same detection and dedup key within the
//! suppression window (on the event clock) are sent once; the next one sent
//! after the window carries how many were suppressed. The keys remembered
//! are bounded per detection (least recently seen forgotten first).

use crate::runtime::host_keys::{HostSettings, MASKED};
use crate::runtime::{Disabled, Raised, severity_name};
use crate::event::{Event, JsonContainerTrait, JsonValueTrait, format_ms};
use serde_json::{Map, Value, json};
use lru::LruCache;
use std::collections::HashMap;
use std::num::NonZeroUsize;

/// The triggering event, in brief, with the fields `host` masks replaced.
pub fn event_summary(ev: &Event, host: &HostSettings) -> Value {
    let v = ev.value();
    let masked = || Value::String(MASKED.into());
    let pick = |path: &str| {
        let x = ev.lookup(path).filter(|x| !x.is_null())?;
        Some(if host.masks(path) { masked() } else { to_serde(x) })
    };
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
        if let Some(x) = pick(&format!("actor.{k}")) {
            actor.insert(k.into(), x);
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
                            let masks = host.masks(&format!("target.{k}"));
                            m.insert(k.into(), if masks { masked() } else { to_serde(x) });
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
        let mut o = to_serde(o);
        for k in ["result", "reason"] {
            if let Some(x) = o.get_mut(k).filter(|x| !x.is_null() && host.masks(&format!("outcome.{k}"))) {
                *x = masked();
            }
        }
        s.insert("outcome".into(), o);
    }
    s.insert("targets".into(), Value::Array(targets));
    if !host.masked.is_empty() {
        s.insert("masked".into(), json!(host.masked));
    }
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
        "event": event_summary(ev, &r.detection.host),
    })
}

/// The notice sent when a detection is taken out of service.
pub fn disabled_body(d: &Disabled, ev: &Event) -> Value {
    let info = &d.detection.info;
    let after = if d.at_once { "after spending its alert budget" } else { "after repeated failures" };
    json!({
        "kind": "detection_disabled",
        "detection": {"id": info.id, "title": info.title, "version": info.version, "severity": info.severity, "mitre": info.mitre},
        "alert": {
            "title": format!("Detection {} disabled for {}s {after}: {}", info.id, d.for_how_long.as_secs(), d.reason),
            "severity": "medium",
            "context": {"reason": d.reason.to_string(), "disabled_seconds": d.for_how_long.as_secs().to_string(),
                        "source": d.detection.source.display().to_string()},
        },
        "event": {"uuid": ev.key(), "eventType": ev.event_type(), "published": ev.published_ms().map(format_ms)},
    })
}

/// Dedup keys remembered per detection: past this, the least recently seen
/// key of that detection is forgotten (its next alert is sent again, never
/// lost). One detection's keys never push out another's.
pub const MAX_KEYS_PER_DETECTION: usize = 10_000;

/// Sends an alert once per (detection, dedup key) per window of event time.
pub struct Suppressor {
    window_ms: i64,
    per_detection: NonZeroUsize,
    /// Per detection id: dedup key → (window start, suppressed since).
    open: HashMap<String, LruCache<String, (i64, u64)>>,
    /// Keys forgotten to stay within the bound, and the suppressed counts they held.
    pub evicted: u64,
    pub evicted_suppressed: u64,
}

impl Suppressor {
    pub fn new(window: std::time::Duration) -> Self {
        Self::with_capacity(window, MAX_KEYS_PER_DETECTION)
    }

    pub fn with_capacity(window: std::time::Duration, per_detection: usize) -> Self {
        Suppressor {
            window_ms: window.as_millis().min(i64::MAX as u128) as i64,
            per_detection: NonZeroUsize::new(per_detection).unwrap_or(NonZeroUsize::MIN),
            open: HashMap::new(),
            evicted: 0,
            evicted_suppressed: 0,
        }
    }

    /// `Some(suppressed before)` when the alert is to be sent, `None` when suppressed.
    pub fn admit(&mut self, detection: &str, key: Option<&str>, now_ms: i64) -> Option<u64> {
        let Some(key) = key else { return Some(0) };
        if self.window_ms == 0 {
            return Some(0);
        }
        let cap = self.per_detection;
        let keys = match self.open.get_mut(detection) {
            Some(keys) => keys,
            None => self.open.entry(detection.to_string()).or_insert_with(|| LruCache::sparse(cap)),
        };
        match keys.get_mut(key) {
            Some((start, count)) if now_ms.saturating_sub(*start) < self.window_ms && now_ms >= *start => {
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
                if let Some((_, (_, count))) = keys.push(key.to_string(), (now_ms, 0)) {
                    self.evicted += 1;
                    self.evicted_suppressed += count;
                }
                Some(0)
            }
        }
    }

    /// Keys remembered for one detection.
    #[cfg(test)]
    pub fn keys(&self, detection: &str) -> usize {
        self.open.get(detection).map_or(0, |k| k.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_fields_are_replaced_in_the_summary_only() {
        let text = r#"{"uuid":"2a992f80-d1ad-4f62-900e-8c68bb72a21b","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z",
            "actor":{"id":"unknown","type":"User","alternateId":"Hunter2!secret","displayName":"Hunter2!secret"},
            "client":{"ipAddress":"203.0.113.7","geographicalContext":{"city":"Oslo"}},
            "outcome":{"result":"FAILURE","reason":"Hunter2!secret"},
            "target":[{"id":"t1","alternateId":"Hunter2!secret"},{"id":"t2"}]}"#;
        let ev = Event::parse(text).unwrap();
        let plain = event_summary(&ev, &HostSettings::default());
        assert!(plain.to_string().contains("Hunter2!secret") && plain.get("masked").is_none());
        let host = HostSettings {
            enabled: true,
            masked: ["actor.alternateId", "actor.displayName", "outcome.reason", "target.alternateId", "client.geographicalContext.city"]
                .map(String::from)
                .to_vec(),
        };
        let s = event_summary(&ev, &host);
        assert!(!s.to_string().contains("Hunter2"), "{s}");
        assert_eq!(s["actor"]["alternateId"], MASKED);
        assert_eq!(s["actor"]["id"], "unknown");
        assert_eq!(s["outcome"], json!({"result": "FAILURE", "reason": MASKED}));
        assert_eq!(s["targets"], json!([{"id": "t1", "alternateId": MASKED}, {"id": "t2"}]));
        assert_eq!(s["client"], json!({"ipAddress": "203.0.113.7", "city": MASKED}));
        assert_eq!(s["masked"][0], "actor.alternateId");
        // What is not in the event is not made up.
        let ev = Event::parse(r#"{"uuid":"2a992f80-d1ad-4f62-900e-8c68bb72a21c","eventType":"x"}"#).unwrap();
        assert_eq!(event_summary(&ev, &host)["actor"], json!({}));
    }

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

    #[test]
    fn keys_are_bounded_per_detection_least_recently_seen_first() {
        let mut s = Suppressor::with_capacity(std::time::Duration::from_secs(60), 3);
        // The real detection has one open window with two alerts suppressed.
        assert_eq!(s.admit("real", Some("alice"), 0), Some(0));
        assert_eq!(s.admit("real", Some("alice"), 1), None);
        assert_eq!(s.admit("real", Some("alice"), 2), None);
        // A noisy detection churns through a thousand keys.
        for i in 0..1000 {
            assert_eq!(s.admit("noisy", Some(&format!("k{i}")), 3), Some(0));
        }
        assert_eq!(s.keys("noisy"), 3);
        assert_eq!(s.evicted, 997);
        // The real detection's window is untouched by the other's churn.
        assert_eq!(s.keys("real"), 1);
        assert_eq!(s.admit("real", Some("alice"), 4), None);
        assert_eq!(s.admit("real", Some("alice"), 60_000), Some(3));

        // Within one detection: the least recently seen key goes first.
        let mut s = Suppressor::with_capacity(std::time::Duration::from_secs(60), 2);
        assert_eq!(s.admit("d", Some("a"), 0), Some(0));
        assert_eq!(s.admit("d", Some("b"), 0), Some(0));
        assert_eq!(s.admit("d", Some("a"), 1), None, "a seen again: most recent");
        assert_eq!(s.admit("d", Some("c"), 2), Some(0), "b is forgotten");
        assert_eq!(s.admit("d", Some("a"), 3), None, "a still suppressed");
        assert_eq!(s.admit("d", Some("b"), 4), Some(0), "b forgotten: sent again, not lost");
        assert_eq!((s.evicted, s.evicted_suppressed), (2, 0));
        assert_eq!(s.keys("d"), 2);
    }
}
