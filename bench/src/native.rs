//! The detection pack compiled natively: every crate of `detections/`, built
//! against the guest SDK's native backend (feature `native` of
//! `oktawatch-guest`), its imports answered by the host's own parsed
//! [`Event`] and [`DetectionState`] (the same code the wasm host calls).
//! The baseline for the sandbox's per-event cost (figure 2).

use oktawatch::event::{Event, JsonContainerTrait, JsonValueTrait, Value as Json};
use oktawatch::runtime::bindings::oktawatch::detection::types::{
    ConfigKey as HostKey, ConfigType as HostType, ConfigValue as HostConfigValue, Value as HostValue,
};
use oktawatch::runtime::host::to_value;
use oktawatch::runtime::state::{DetectionState, StateStore};
use oktawatch::runtime::bindings::oktawatch::detection::types as host_types;
use oktawatch::runtime::{config_schema, contract, prefilter};
use oktawatch_guest::native::{self, ConfigValue, DetectionInfo, EventHead, Level, NativeDetection, NativeHost, Value, WitAlert};
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
    fn uuid(&mut self) -> String {
        self.ev.key().to_string()
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
    fn state_once_per(&mut self, key: &str, window_ms: u64) -> bool {
        self.state.once_per(key, window_ms, self.now)
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
    /// Its prefilters, evaluated by the host's own code.
    prefilters: prefilter::Index,
}

impl Native {
    /// The whole pack, configured with empty config sections (as the wasm
    /// pack is in the bench: every declared key at its default, checked by
    /// the host's own code), each with its own state in `store`.
    pub fn pack(store: &StateStore) -> Vec<Native> {
        let mut all: Vec<Native> = PACK
            .iter()
            .map(|new| {
                let mut detection = new();
                let info = detection.describe();
                let keys: Vec<HostKey> = info.config.iter().map(host_key).collect();
                let values = config_schema::check_text(&info.id, &keys, "")
                    .unwrap_or_else(|e| panic!("{}: config: {e:?}", info.id));
                let values = values.into_iter().map(|(k, v)| (k, guest_value(v))).collect();
                detection.configure(values).unwrap_or_else(|e| panic!("{}: configure: {e}", info.id));
                let state = store.for_detection(&info.id).expect("in-memory state");
                let filters: Vec<host_types::Prefilter> = info.prefilters.iter().map(host_prefilter).collect();
                let prefilters = prefilter::Index::new([filters.as_slice()]);
                Native { info, detection, state, clock: i64::MIN, prefilters }
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

    /// Whether the host calls it for `ev`: its event types, then its prefilters.
    pub fn wants(&self, ev: &Event) -> bool {
        self.subscribes(ev.event_type()) && self.prefilters.passes(0, &mut self.prefilters.fields(ev))
    }

    /// `on-event` for one event, on the event clock (the event's `published`,
    /// else the last time this detection saw), with its head built by the
    /// host's code, as the host runs it.
    pub fn on_event(&mut self, ev: &Event) -> Vec<WitAlert> {
        let now = ev.published_ms().unwrap_or(if self.clock == i64::MIN { 0 } else { self.clock });
        self.clock = self.clock.max(now);
        let h = contract::head(ev, now);
        let head = EventHead {
            event_type: h.event_type,
            published_ms: h.published_ms,
            outcome_result: h.outcome_result,
            actor_alternate_id: h.actor_alternate_id,
            client_ip: h.client_ip,
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut host = Host { ev, state: &mut state, now };
        let detection = &mut self.detection;
        native::with_host(&mut host, || detection.on_event(head))
    }
}

/// A declared key (the guest SDK's type) as the host's.
fn host_key(k: &oktawatch_guest::bindings::oktawatch::detection::types::ConfigKey) -> HostKey {
    use oktawatch_guest::bindings::oktawatch::detection::types::ConfigType as G;
    let kind = match k.kind {
        G::Boolean => HostType::Boolean,
        G::Integer => HostType::Integer,
        G::Float => HostType::Float,
        G::Text => HostType::Text,
        G::TextList => HostType::TextList,
    };
    let default = match &k.default {
        ConfigValue::Boolean(b) => HostConfigValue::Boolean(*b),
        ConfigValue::Integer(i) => HostConfigValue::Integer(*i),
        ConfigValue::Float(f) => HostConfigValue::Float(*f),
        ConfigValue::Text(t) => HostConfigValue::Text(t.clone()),
        ConfigValue::TextList(l) => HostConfigValue::TextList(l.clone()),
    };
    HostKey { name: k.name.clone(), kind, default, doc: k.doc.clone() }
}

fn guest_value(v: HostConfigValue) -> ConfigValue {
    match v {
        HostConfigValue::Boolean(b) => ConfigValue::Boolean(b),
        HostConfigValue::Integer(i) => ConfigValue::Integer(i),
        HostConfigValue::Float(f) => ConfigValue::Float(f),
        HostConfigValue::Text(t) => ConfigValue::Text(t),
        HostConfigValue::TextList(l) => ConfigValue::TextList(l),
    }
}

/// A declared prefilter (the guest SDK's type) as the host's.
fn host_prefilter(p: &oktawatch_guest::bindings::oktawatch::detection::types::Prefilter) -> host_types::Prefilter {
    use oktawatch_guest::bindings::oktawatch::detection::types::Test as G;
    let all = p
        .all
        .iter()
        .map(|c| host_types::Condition {
            path: c.path.clone(),
            test: match &c.test {
                G::Equals(s) => host_types::Test::Equals(s.clone()),
                G::OneOf(l) => host_types::Test::OneOf(l.clone()),
                G::Prefix(s) => host_types::Test::Prefix(s.clone()),
                G::Exists => host_types::Test::Exists,
                G::Absent => host_types::Test::Absent,
            },
            negate: c.negate,
        })
        .collect();
    host_types::Prefilter { all }
}
