//! Contract 0.2 without the SDK (bindings straight from `guest-sdk/wit`):
//! prefilters, typed config keys, the event head and `once-per`.
//!
//! `test.v02` events reach it only when `outcome.result` is FAILURE, or the
//! actor starts with `admin` (the host's prefilters). Each call counts the
//! actor's events; at `threshold` (config, default 2) it alerts once per
//! `window_minutes` (default 10) through `once-per`. Every alert carries the
//! configured values and the head's fields, and whether the head agrees with
//! the event resource.
wit_bindgen::generate!({ path: "../../../guest-sdk/wit", world: "detection" });

use oktawatch::detection::state;
use oktawatch::detection::types::{
    Condition, ConfigKey, ConfigType, Prefilter, Severity, Test,
};
use std::cell::RefCell;

struct Raw;

#[derive(Default)]
struct Settings {
    threshold: i64,
    window_minutes: i64,
    label: String,
    tags: Vec<String>,
    ratio: f64,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings::default());
}

fn key(name: &str, kind: ConfigType, default: ConfigValue, doc: &str) -> ConfigKey {
    ConfigKey { name: name.into(), kind, default, doc: doc.into() }
}

impl Guest for Raw {
    fn describe() -> DetectionInfo {
        let cond = |path: &str, test: Test| Condition { path: path.into(), test, negate: false };
        DetectionInfo {
            id: "test-raw-v02".into(),
            title: "Contract 0.2 probe".into(),
            version: "0.2.0".into(),
            severity: Severity::Low,
            mitre: vec![],
            description: String::new(),
            event_types: vec!["test.v02".into()],
            prefilters: vec![
                Prefilter { all: vec![cond("outcome.result", Test::Equals("FAILURE".into()))] },
                Prefilter { all: vec![cond("actor.alternateId", Test::Prefix("admin".into()))] },
            ],
            config: vec![
                key("threshold", ConfigType::Integer, ConfigValue::Integer(2), "events per actor before the alert"),
                key("window_minutes", ConfigType::Integer, ConfigValue::Integer(10), "once per this window"),
                key("label", ConfigType::Text, ConfigValue::Text("v02".into()), "shown in the alert"),
                key("tags", ConfigType::TextList, ConfigValue::TextList(vec![]), "shown in the alert"),
                key("ratio", ConfigType::Float, ConfigValue::Float(0.5), "shown in the alert"),
            ],
        }
    }

    fn configure(config: Vec<(String, ConfigValue)>) -> Result<(), String> {
        let mut s = Settings::default();
        for (name, value) in config {
            match (name.as_str(), value) {
                ("threshold", ConfigValue::Integer(i)) => s.threshold = i,
                ("window_minutes", ConfigValue::Integer(i)) => s.window_minutes = i,
                ("label", ConfigValue::Text(t)) => s.label = t,
                ("tags", ConfigValue::TextList(l)) => s.tags = l,
                ("ratio", ConfigValue::Float(f)) => s.ratio = f,
                (other, _) => return Err(format!("unexpected config entry {other}")),
            }
        }
        if s.threshold < 1 {
            return Err("threshold must be at least 1".into());
        }
        SETTINGS.with(|c| *c.borrow_mut() = s);
        Ok(())
    }

    fn on_event(event: &OktaEvent, head: EventHead) -> Vec<Alert> {
        SETTINGS.with(|c| {
            let s = c.borrow();
            let actor = head.actor_alternate_id.clone().unwrap_or_default();
            let n = state::count(&format!("n:{actor}"), 3_600_000);
            state::count("calls", 0);
            if (n as i64) < s.threshold || !state::once_per(&format!("once:{actor}"), (s.window_minutes as u64) * 60_000) {
                return vec![];
            }
            let agrees = head.event_type == event.event_type()
                && head.published_ms == event.published_ms()
                && head.outcome_result == event.get_str("outcome.result")
                && head.actor_alternate_id == event.get_str("actor.alternateId")
                && head.client_ip == event.get_str("client.ipAddress");
            vec![Alert {
                title: format!("{} events by {actor}", n),
                severity: None,
                dedup_key: Some(format!("{actor}:{}", head.published_ms)),
                context: vec![
                    ("label".into(), s.label.clone()),
                    ("tags".into(), s.tags.join(",")),
                    ("ratio".into(), s.ratio.to_string()),
                    ("threshold".into(), s.threshold.to_string()),
                    ("outcome".into(), head.outcome_result.clone().unwrap_or_default()),
                    ("ip".into(), head.client_ip.clone().unwrap_or_default()),
                    ("head_agrees".into(), agrees.to_string()),
                ],
                mitre: vec![],
            }]
        })
    }
}

export!(Raw);
