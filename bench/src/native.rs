//! The detection pack compiled natively: every crate of `detections/`, built
//! against the guest SDK's native backend (feature `native` of
//! `oktawatch-guest`), its imports answered by the host's own parsed
//! [`Event`] and [`DetectionState`] (the same code the wasm host calls).
//! The baseline for the sandbox's per-event cost (figure 2).

use oktawatch::event::{Event, JsonContainerTrait, JsonValueTrait, Value as Json};
use oktawatch::runtime::bindings::oktawatch::detection::types::Value as HostValue;
use oktawatch::runtime::host::to_value;
use oktawatch::runtime::state::{DetectionState, StateStore};
use oktawatch_guest::native::{self, DetectionInfo, Level, NativeDetection, NativeHost, Value, WitAlert};
use std::sync::{Arc, Mutex};

// One module per crate of `detections/` (its `src/lib.rs`, unchanged), and
// `PACK`: each module's `native_detection` constructor. Written by build.rs.
include!(concat!(env!("OUT_DIR"), "/pack.rs"));

/// The imports of one detection for one event: the event, the detection's
/// state and the event clock, as the wasm host's `HostCtx` holds them.
struct Host<'a> {
    ev: &'a Event,
    state: &'a mut DetectionState,
    now: i64,
}

/// The host's `to_value`, as the guest SDK's type.
fn value(v: &Json) -> Value {
    match to_value(v) {
        HostValue::Null => Value::Null,
        HostValue::Boolean(b) => Value::Boolean(b),
        HostValue::Integer(i) => Value::Integer(i),
        HostValue::Float(f) => Value::Float(f),
        HostValue::Text(t) => Value::Text(t),
        HostValue::Json(j) => Value::Json(j),
    }
}

fn string(v: &Json) -> Option<String> {
    v.as_str().map(str::to_string)
}

impl NativeHost for Host<'_> {
    fn event_type(&mut self) -> String {
        self.ev.event_type().to_string()
    }
    fn uuid(&mut self) -> String {
        self.ev.key().to_string()
    }
    fn published_ms(&mut self) -> i64 {
        self.ev.published_ms().unwrap_or(self.now)
    }
    fn get(&mut self, path: &str) -> Option<Value> {
        self.ev.lookup(path).map(value)
    }
    fn get_str(&mut self, path: &str) -> Option<String> {
        self.ev.lookup(path).and_then(string)
    }
    fn len(&mut self, path: &str) -> Option<u32> {
        self.ev.lookup(path).and_then(|v| v.as_array().map(|a| a.len() as u32).or_else(|| v.as_object().map(|o| o.len() as u32)))
    }
    fn get_many(&mut self, paths: &[String]) -> Vec<Option<Value>> {
        paths.iter().map(|p| self.ev.lookup(p).map(value)).collect()
    }
    fn get_strs(&mut self, paths: &[String]) -> Vec<Option<String>> {
        paths.iter().map(|p| self.ev.lookup(p).and_then(string)).collect()
    }
    fn to_json(&mut self) -> String {
        self.ev.raw().to_string()
    }

    fn state_get(&mut self, key: &str) -> Option<Vec<u8>> {
        self.state.get(key, self.now)
    }
    fn state_set(&mut self, key: &str, value: &[u8], ttl_ms: u64) {
        self.state.set(key, value.to_vec(), ttl_ms, self.now);
    }
    fn state_remove(&mut self, key: &str) {
        self.state.remove(key)
    }
    fn state_count(&mut self, key: &str, window_ms: u64) -> u32 {
        self.state.count(key, window_ms, self.now, true)
    }
    fn state_peek_count(&mut self, key: &str, window_ms: u64) -> u32 {
        self.state.count(key, window_ms, self.now, false)
    }
    fn state_distinct(&mut self, key: &str, member: &str, window_ms: u64) -> u32 {
        self.state.distinct(key, member, window_ms, self.now)
    }
    fn state_peek_distinct(&mut self, key: &str, window_ms: u64) -> Vec<String> {
        self.state.members(key, window_ms, self.now)
    }
    fn state_last_seen(&mut self, key: &str, value: &str, ttl_ms: u64) -> Option<(String, i64)> {
        self.state.last_seen(key, value, ttl_ms, self.now)
    }

    /// The wasm host logs through `tracing`, which the bench does not print.
    fn log(&mut self, _level: Level, _message: &str) {}
}

/// One detection of the pack, compiled in, with its own state.
pub struct Native {
    pub info: DetectionInfo,
    detection: Box<dyn NativeDetection>,
    state: Arc<Mutex<DetectionState>>,
    clock: i64,
}

impl Native {
    /// The whole pack, configured with empty configs (as the wasm pack is in
    /// the bench), each with its own state in `store`.
    pub fn pack(store: &StateStore) -> Vec<Native> {
        let mut all: Vec<Native> = PACK
            .iter()
            .map(|new| {
                let mut detection = new();
                let info = detection.describe();
                detection.configure("").unwrap_or_else(|e| panic!("{}: configure: {e}", info.id));
                let state = store.for_detection(&info.id).expect("in-memory state");
                Native { info, detection, state, clock: i64::MIN }
            })
            .collect();
        all.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        all
    }

    /// The host's rule: no event types = every event; `prefix.*` or exact names.
    pub fn subscribes(&self, event_type: &str) -> bool {
        self.info.event_types.is_empty()
            || self.info.event_types.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => p == event_type,
            })
    }

    /// `on-event` for one event, on the event clock (the event's `published`,
    /// else the last time this detection saw), as the host runs it.
    pub fn on_event(&mut self, ev: &Event) -> Vec<WitAlert> {
        let now = ev.published_ms().unwrap_or(if self.clock == i64::MIN { 0 } else { self.clock });
        self.clock = self.clock.max(now);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut host = Host { ev, state: &mut state, now };
        let detection = &mut self.detection;
        native::with_host(&mut host, || detection.on_event())
    }
}
