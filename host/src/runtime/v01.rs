//! Contract 0.1.0 (`guest-sdk/wit-0.1/`), still loaded unchanged.
//!
//! Its imports are answered by the 0.2 host functions (the same event,
//! state and log; 0.2 only added `once-per`), its answers are turned into
//! 0.2 types here, so that the rest of the runtime sees one contract. A 0.1
//! component declares no prefilters and no config keys: it gets every event
//! of its types and its config section as TOML text, as before.

use super::bindings::oktawatch::detection::{event as event2, log as log2, state as state2, types as types2};
use super::host::{EventRef, HostCtx};
use wasmtime::component::Resource;

wasmtime::component::bindgen!({
    path: "../guest-sdk/wit-0.1",
    world: "detection",
    imports: { default: trappable },
    with: {
        "oktawatch:detection/event.okta-event": crate::runtime::host::EventRef,
    },
});

use self::oktawatch::detection::{event, log, state, types};

fn value(v: types2::Value) -> types::Value {
    match v {
        types2::Value::Null => types::Value::Null,
        types2::Value::Boolean(b) => types::Value::Boolean(b),
        types2::Value::Integer(i) => types::Value::Integer(i),
        types2::Value::Float(f) => types::Value::Float(f),
        types2::Value::Text(t) => types::Value::Text(t),
        types2::Value::Json(j) => types::Value::Json(j),
    }
}

pub fn severity(s: types::Severity) -> types2::Severity {
    match s {
        types::Severity::Info => types2::Severity::Info,
        types::Severity::Low => types2::Severity::Low,
        types::Severity::Medium => types2::Severity::Medium,
        types::Severity::High => types2::Severity::High,
        types::Severity::Critical => types2::Severity::Critical,
    }
}

/// A 0.1 alert as the 0.2 type (same fields).
pub fn alert(a: types::Alert) -> types2::Alert {
    types2::Alert { title: a.title, severity: a.severity.map(severity), dedup_key: a.dedup_key, context: a.context, mitre: a.mitre }
}

/// A 0.1 description as the 0.2 type: no prefilters, no declared config keys.
pub fn info(i: types::DetectionInfo) -> types2::DetectionInfo {
    types2::DetectionInfo {
        id: i.id,
        title: i.title,
        version: i.version,
        severity: severity(i.severity),
        mitre: i.mitre,
        description: i.description,
        event_types: i.event_types,
        prefilters: Vec::new(),
        config: Vec::new(),
    }
}

impl types::Host for HostCtx {}
impl event::Host for HostCtx {}

impl event::HostOktaEvent for HostCtx {
    fn event_type(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        event2::HostOktaEvent::event_type(self, r)
    }
    fn uuid(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        event2::HostOktaEvent::uuid(self, r)
    }
    fn published_ms(&mut self, r: Resource<EventRef>) -> wasmtime::Result<i64> {
        event2::HostOktaEvent::published_ms(self, r)
    }
    fn get(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<types::Value>> {
        Ok(event2::HostOktaEvent::get(self, r, path)?.map(value))
    }
    fn get_str(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<String>> {
        event2::HostOktaEvent::get_str(self, r, path)
    }
    fn len(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<u32>> {
        event2::HostOktaEvent::len(self, r, path)
    }
    fn get_many(&mut self, r: Resource<EventRef>, paths: Vec<String>) -> wasmtime::Result<Vec<Option<types::Value>>> {
        Ok(event2::HostOktaEvent::get_many(self, r, paths)?.into_iter().map(|v| v.map(value)).collect())
    }
    fn get_strs(&mut self, r: Resource<EventRef>, paths: Vec<String>) -> wasmtime::Result<Vec<Option<String>>> {
        event2::HostOktaEvent::get_strs(self, r, paths)
    }
    fn to_json(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        event2::HostOktaEvent::to_json(self, r)
    }
    fn drop(&mut self, r: Resource<EventRef>) -> wasmtime::Result<()> {
        event2::HostOktaEvent::drop(self, r)
    }
}

impl state::Host for HostCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        state2::Host::get(self, key)
    }
    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> wasmtime::Result<()> {
        state2::Host::set(self, key, value, ttl_ms)
    }
    fn remove(&mut self, key: String) -> wasmtime::Result<()> {
        state2::Host::remove(self, key)
    }
    fn count(&mut self, key: String, window_ms: u64) -> wasmtime::Result<u32> {
        state2::Host::count(self, key, window_ms)
    }
    fn peek_count(&mut self, key: String, window_ms: u64) -> wasmtime::Result<u32> {
        state2::Host::peek_count(self, key, window_ms)
    }
    fn distinct(&mut self, key: String, member: String, window_ms: u64) -> wasmtime::Result<u32> {
        state2::Host::distinct(self, key, member, window_ms)
    }
    fn peek_distinct(&mut self, key: String, window_ms: u64) -> wasmtime::Result<Vec<String>> {
        state2::Host::peek_distinct(self, key, window_ms)
    }
    fn last_seen(&mut self, key: String, value: String, ttl_ms: u64) -> wasmtime::Result<Option<(String, i64)>> {
        state2::Host::last_seen(self, key, value, ttl_ms)
    }
}

impl log::Host for HostCtx {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Debug => log2::Level::Debug,
            log::Level::Info => log2::Level::Info,
            log::Level::Warn => log2::Level::Warn,
            log::Level::Error => log2::Level::Error,
        };
        log2::Host::log(self, level, message)
    }
}
