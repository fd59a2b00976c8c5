//! The detection runtime: untrusted wasm components run on every event.
//!
//! One [`wasmtime::Engine`] and [`Linker`] for all detections; an
//! `InstancePre` per detection; one Store per detection, bounded in time
//! (epoch interruption), memory (a [`host::Limiter`]), stack, alerts and
//! state, and recycled every N events or past a memory mark. A trap,
//! timeout or limit discards the instance; repeated failures quarantine the
//! detection with exponential backoff and raise a `detection_disabled`
//! notice. A detection also has an alert budget per page and per minute;
//! spending it is a failure that quarantines at once. Detections are indexed
//! by event type and, beside it, by their prefilters (contract 0.2,
//! [`prefilter`]); each event's head is built once per page for every
//! detection; a page's events are run detection by detection, in
//! parallel across detections, in event order within each. The set is
//! swapped atomically between pages (hot reload). Components of contract
//! 0.2 and 0.1 load side by side ([`contract`], [`v01`]).
//!
//! Everything a detection says about itself is bounded ([`check_info`]), and
//! so is every message it can put in a failure or a refusal ([`cut`]): no
//! field of a detection's choosing reaches a message, a log line or a status
//! file unbounded.

pub mod bindings;
pub mod config_schema;
pub mod contract;
pub mod host;
pub mod host_keys;
pub mod loader;
pub mod prefilter;
pub mod reconfigure;
pub mod state;
pub mod v01;
pub mod wasi;
pub mod watch;

use crate::event::Event;
use arc_swap::ArcSwap;
use bindings::Detection;
use bindings::oktawatch::detection::types::{ConfigKey, ConfigValue, EventHead, Prefilter, Severity};
use contract::{Bindings, ConfigInput, Pre, Version};
use host::{EventRef, HostCtx};
use loader::LoadError;
use rayon::prelude::*;
use state::StateStore;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config as WasmConfig, Engine, Store, Trap};

/// Bounds and settings for every detection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time per event per detection.
    pub timeout: Duration,
    /// Linear memory per detection, summed over all its memories.
    pub memory_bytes: usize,
    /// Alerts one detection may raise for one event.
    pub max_alerts: usize,
    /// Alerts one detection may raise on one page (all events of one call
    /// of [`Runtime::process_for`]); past it the detection is quarantined.
    pub max_alerts_per_page: usize,
    /// … and within one minute of wall time, over all pages and orgs.
    pub max_alerts_per_minute: usize,
    /// Size of one alert (title, key, context, MITRE ids) in bytes.
    pub max_alert_bytes: usize,
    /// A Store is replaced after this many events (linear memory never shrinks).
    pub recycle_every: u64,
    /// … or once its memory grew this much past what it had when ready (after
    /// `configure`): a language runtime starts with tens of MiB of its own,
    /// which is no reason to start it again after every event.
    pub recycle_memory: usize,
    /// Failures within [`Self::failure_window`] that quarantine a detection.
    pub max_failures: usize,
    pub failure_window: Duration,
    /// First quarantine; doubles on each further one, up to an hour.
    pub quarantine: Duration,
    /// `Some(n)`: wasmtime's pooling allocator sized for `n` live instances
    /// (one per detection, plus the ones being loaded). None: on-demand
    /// allocation, the default: pooling instantiates ~30% faster (runtime
    /// bench), but at one instantiation per `recycle_every` events that is
    /// noise, and on-demand reserves nothing up front on small machines.
    pub pooling: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(10),
            memory_bytes: 32 << 20,
            max_alerts: 16,
            // Two per event of a full Okta page; the pack raises far fewer.
            max_alerts_per_page: 2000,
            max_alerts_per_minute: 20_000,
            max_alert_bytes: 16 << 10,
            recycle_every: 10_000,
            recycle_memory: 16 << 20,
            max_failures: 3,
            failure_window: Duration::from_secs(60),
            quarantine: Duration::from_secs(30),
            pooling: None,
        }
    }
}

const TICK: Duration = Duration::from_millis(1);

/// Longest failure or refusal message kept (a trap's text, a `configure`
/// error): it goes into log lines, status files and `detection_disabled`
/// notices.
pub const MAX_REASON: usize = 512;

/// Bounds on what `describe` returns, in bytes (counts for lists).
pub mod bounds {
    pub const ID: usize = 64;
    pub const TITLE: usize = 200;
    pub const VERSION: usize = 64;
    pub const DESCRIPTION: usize = 4096;
    pub const MITRE_ID: usize = 32;
    pub const MITRE_IDS: usize = 32;
    pub const EVENT_TYPE: usize = 128;
    pub const EVENT_TYPES: usize = 200;
}

/// `s`, cut to at most `max` bytes (on a character boundary, marked `…`).
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// What a detection says about itself (host copy of `detection-info`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Info {
    pub id: String,
    pub title: String,
    pub version: String,
    pub severity: &'static str,
    pub mitre: Vec<String>,
    pub description: String,
    pub event_types: Vec<String>,
    /// The contract the component speaks.
    pub contract: Version,
    /// Evaluated by the host before each call (0.2; none for 0.1).
    #[serde(skip)]
    pub prefilters: Vec<Prefilter>,
    /// The keys its config section may set (0.2; none declared for 0.1).
    #[serde(skip)]
    pub config: Vec<ConfigKey>,
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// Per-detection counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub events: AtomicU64,
    pub alerts: AtomicU64,
    pub traps: AtomicU64,
    pub timeouts: AtomicU64,
    pub limits: AtomicU64,
    pub quarantines: AtomicU64,
    pub skipped: AtomicU64,
    /// Events of its types that its prefilters kept from it.
    pub prefiltered: AtomicU64,
    pub instantiations: AtomicU64,
    /// Instances dropped after a call (a failure, [`Limits::recycle_every`] or
    /// [`Limits::recycle_memory`]).
    pub recycles: AtomicU64,
    pub nanos: AtomicU64,
    /// Log lines over the per-second bound, not written.
    pub logs_dropped: AtomicU64,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Trap(String),
    Timeout,
    Limit(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(m) => write!(f, "trap: {m}"),
            Failure::Timeout => write!(f, "timeout: over its time budget for one event"),
            Failure::Limit(m) => write!(f, "limit: {m}"),
        }
    }
}

struct Instance {
    store: Store<HostCtx>,
    bindings: Bindings,
    calls: u64,
    /// Linear memory when it was ready, before any event (see [`Limits::recycle_memory`]).
    ready_memory: usize,
}

struct Slot {
    instance: Option<Instance>,
    /// Alerts raised since `minute.0` (the alert budget per minute).
    minute: (Instant, usize),
    failures: VecDeque<Instant>,
    quarantined_until: Option<Instant>,
    backoff: Duration,
    last_failure: Option<Failure>,
}

/// A compiled detection that has described itself (see [`Runtime::describe`]).
pub struct Described {
    pub info: Info,
    pub sha256: String,
    pre: Pre,
}

/// A loaded detection.
pub struct Loaded {
    pub info: Info,
    pub source: PathBuf,
    pub sha256: String,
    /// Shared with the versions of it that a reload configures again.
    pub counters: Arc<Counters>,
    /// The keys the host understands ([`host_keys`]), in force.
    pub host: host_keys::HostSettings,
    config: String,
    /// 0.2: every declared key with its checked value (`configure`'s argument).
    values: Vec<(String, ConfigValue)>,
    pre: Pre,
    /// It imports WASI: its Stores keep the event clock and random seeds.
    uses_wasi: bool,
    state: Arc<Mutex<state::DetectionState>>,
    slot: Mutex<Slot>,
}

impl Loaded {
    pub fn status(&self) -> String {
        if !self.host.enabled {
            return "disabled".into();
        }
        let slot = self.slot.lock().unwrap();
        match slot.quarantined_until {
            Some(until) if until > Instant::now() => format!(
                "quarantined for {:.0?} ({})",
                until - Instant::now(),
                slot.last_failure.as_ref().map(|f| f.to_string()).unwrap_or_default()
            ),
            _ => "running".into(),
        }
    }

    /// Its state's (quota hits, entries evicted to stay within the quota).
    pub fn state_counts(&self) -> (u64, u64) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.quota_hits, s.evicted)
    }

    fn subscribes(&self, event_type: &str) -> bool {
        self.info.event_types.is_empty()
            || self.info.event_types.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => p == event_type,
            })
    }
}

/// The detections in force, indexed by event type.
#[derive(Default)]
pub struct DetectionSet {
    pub detections: Vec<Arc<Loaded>>,
    exact: HashMap<String, Vec<usize>>,
    /// `prefix.*` patterns and catch-alls.
    wide: Vec<usize>,
    /// Every detection's prefilters, beside the event-type index.
    prefilters: prefilter::Index,
}

impl DetectionSet {
    pub fn new(mut detections: Vec<Arc<Loaded>>) -> Self {
        detections.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        let mut exact: HashMap<String, Vec<usize>> = HashMap::new();
        let mut wide = Vec::new();
        // A disabled detection is in the set (listed, counted) but reached by no event.
        for (i, d) in detections.iter().enumerate().filter(|(_, d)| d.host.enabled) {
            if d.info.event_types.is_empty() || d.info.event_types.iter().any(|t| t.ends_with('*')) {
                wide.push(i);
            }
            for t in d.info.event_types.iter().filter(|t| !t.ends_with('*')) {
                exact.entry(t.clone()).or_default().push(i);
            }
        }
        let prefilters = prefilter::Index::new(detections.iter().map(|d| d.info.prefilters.as_slice()));
        DetectionSet { detections, exact, wide, prefilters }
    }

    /// Indexes of the detections that asked for this event type.
    fn matching(&self, event_type: &str, out: &mut Vec<usize>) {
        out.clear();
        if let Some(v) = self.exact.get(event_type) {
            out.extend_from_slice(v);
        }
        for &i in &self.wide {
            if self.detections[i].subscribes(event_type) && !out.contains(&i) {
                out.push(i);
            }
        }
    }
}

/// One alert raised for one event.
pub struct Raised {
    pub event_index: usize,
    pub detection: Arc<Loaded>,
    pub alert: bindings::Alert,
}

/// A detection taken out of service.
pub struct Disabled {
    pub detection: Arc<Loaded>,
    pub reason: Failure,
    pub for_how_long: Duration,
    pub event_index: usize,
    /// At once (its alert budget spent), not after repeated failures.
    pub at_once: bool,
}

/// What running a page produced.
#[derive(Default)]
pub struct Outcome {
    pub alerts: Vec<Raised>,
    pub disabled: Vec<Disabled>,
    /// Every failed call: event index, detection id, why.
    pub failures: Vec<(usize, String, Failure)>,
}

/// How to load one detection.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// Start from empty, in-memory state (tests).
    pub fresh_state: bool,
    /// Use this config text instead of the host config's.
    pub config: Option<String>,
}

pub struct Runtime {
    engine: Engine,
    linker: Linker<HostCtx>,
    state: Arc<StateStore>,
    set: ArcSwap<DetectionSet>,
    limits: Limits,
    /// (keys, bytes) quota for fresh in-memory state.
    limits_state: (usize, usize),
    /// Replaced by a reload ([`reconfigure`]).
    configs: std::sync::RwLock<BTreeMap<String, String>>,
    cache_dir: Option<PathBuf>,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// `configs`: per detection id, the TOML text given to `configure`.
    pub fn new(
        limits: Limits,
        state: Arc<StateStore>,
        configs: BTreeMap<String, String>,
        cache_dir: Option<PathBuf>,
    ) -> anyhow::Result<Runtime> {
        let mut cfg = WasmConfig::new();
        cfg.epoch_interruption(true)
            .max_wasm_stack(512 << 10)
            .parallel_compilation(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .concurrency_support(false)
            // Small reservations: many detections on a small machine.
            .memory_reservation(64 << 20)
            .memory_guard_size(64 << 10)
            .memory_reservation_for_growth(0);
        if let Some(n) = limits.pooling {
            let mut pool = wasmtime::PoolingAllocationConfig::new();
            pool.total_component_instances(n)
                .total_core_instances(n * 4)
                .total_memories(n * 2)
                .total_tables(n * 4)
                .max_memory_size(limits.memory_bytes)
                // As many as the Store limiter allows (componentize-py's output needs 38 instances).
                .max_memories_per_component(host::MAX_MEMORIES as u32)
                .max_tables_per_component(host::MAX_TABLES as u32)
                .max_core_instances_per_component(host::MAX_INSTANCES as u32);
            cfg.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&cfg).map_err(anyhow::Error::from)?;
        let mut linker = Linker::new(&engine);
        Detection::add_to_linker::<HostCtx, HasSelf<HostCtx>>(&mut linker, |c| c).map_err(anyhow::Error::from)?;
        v01::Detection::add_to_linker::<HostCtx, HasSelf<HostCtx>>(&mut linker, |c| c).map_err(anyhow::Error::from)?;
        wasi::add_to_linker(&mut linker)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new().name("epoch".into()).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })?;
        }
        Ok(Runtime {
            engine,
            linker,
            state,
            set: ArcSwap::from_pointee(DetectionSet::default()),
            limits,
            limits_state: (100_000, 16 << 20),
            configs: configs.into(),
            cache_dir,
            ticker_stop,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Where compiled detections are cached, if anywhere.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// The detections in force now.
    pub fn current(&self) -> Arc<DetectionSet> {
        self.set.load_full()
    }

    /// Replaces the set in force (between two pages).
    pub fn install(&self, set: DetectionSet) {
        self.set.store(Arc::new(set));
    }

    pub fn state_store(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// Compiles, checks, describes and configures one file.
    pub fn load(&self, path: &Path) -> Result<Arc<Loaded>, LoadError> {
        let described = self.describe_file(path)?;
        self.attach(described, path, &LoadOptions::default())
    }

    /// Describes and configures a compiled component.
    pub fn load_compiled(
        &self,
        compiled: loader::Compiled,
        source: &Path,
        opts: &LoadOptions,
    ) -> Result<Arc<Loaded>, LoadError> {
        let described = self.describe(compiled)?;
        self.attach(described, source, opts)
    }

    /// Compiles, checks and describes one file: its id is known, nothing of
    /// it has seen any state or config yet.
    pub fn describe_file(&self, path: &Path) -> Result<Described, LoadError> {
        let compiled = loader::compile(&self.engine, path, self.cache_dir.as_deref())?;
        self.describe(compiled)
    }

    /// Instantiates a compiled component in a throwaway store (no state:
    /// the id is not known yet) and checks what it says about itself.
    pub fn describe(&self, compiled: loader::Compiled) -> Result<Described, LoadError> {
        let pre = self.linker.instantiate_pre(&compiled.component).map_err(|e| LoadError::Contract(loader::bounded(e.into())))?;
        let version = contract::version_of(&self.engine, &compiled.component)?;
        let pre = Pre::new(pre, version).map_err(|e| LoadError::Contract(loader::bounded(e.into())))?;
        let scratch = StateStore::in_memory(16, 4096).for_detection("").expect("in memory");
        let mut store = self.new_store("?".into(), scratch);
        self.arm(&mut store, self.limits.timeout * 10);
        let failed = |e: wasmtime::Error| LoadError::Describe(cut(&format!("{e:#}"), MAX_REASON));
        let bindings = pre.instantiate(&mut store).map_err(failed)?;
        let info = bindings.describe(&mut store).map_err(failed)?;
        let info = Info {
            id: info.id,
            title: info.title,
            version: info.version,
            severity: severity_name(info.severity),
            mitre: info.mitre,
            description: info.description,
            event_types: info.event_types,
            contract: version,
            prefilters: info.prefilters,
            config: info.config,
        };
        check_info(&info).map_err(LoadError::BadInfo)?;
        Ok(Described { info, sha256: compiled.sha256, pre })
    }

    /// Gives a described detection its state (by id) and config, and
    /// instantiates and configures it: a bad config rejects the file.
    pub fn attach(&self, described: Described, source: &Path, opts: &LoadOptions) -> Result<Arc<Loaded>, LoadError> {
        let Described { info, sha256, pre } = described;
        let state = if opts.fresh_state {
            StateStore::in_memory(self.limits_state.0, self.limits_state.1).for_detection(&info.id)
        } else {
            self.state.for_detection(&info.id)
        }
        .map_err(|e| LoadError::Describe(e.to_string()))?;
        let config = match &opts.config {
            Some(c) => c.clone(),
            None => self.configs.read().unwrap().get(&info.id).cloned().unwrap_or_default(),
        };
        // 0.2: the section is checked against the declared keys (every
        // problem at once); 0.1 gets its TOML text as before. Both: the host keys.
        let (values, host) = config_schema::check_config(&info.id, &info.config, pre.version() == Version::V02, &config)
            .map_err(|problems| LoadError::Config { id: info.id.clone(), problems })?;
        let uses_wasi = wasi::imports_wasi(&self.engine, pre.component());
        let loaded = Arc::new(Loaded {
            uses_wasi,
            info,
            source: source.to_path_buf(),
            sha256,
            counters: Default::default(),
            host,
            config,
            values,
            pre,
            state,
            slot: Mutex::new(Slot {
                instance: None,
                minute: (Instant::now(), 0),
                failures: VecDeque::new(),
                quarantined_until: None,
                backoff: self.limits.quarantine,
                last_failure: None,
            }),
        });
        // Instantiate and configure now, so a bad config rejects the file.
        let instance = self.instantiate(&loaded).map_err(|e| match e {
            Failure::Trap(m) | Failure::Limit(m) => LoadError::Configure(m),
            Failure::Timeout => LoadError::Configure("timed out".into()),
        })?;
        // Configured, so a bad config is refused; a disabled one keeps no instance.
        loaded.slot.lock().unwrap().instance = loaded.host.enabled.then_some(instance);
        Ok(loaded)
    }

    /// Another instance of a loaded detection, with fresh in-memory state
    /// (benchmarks: many detections from one pack).
    pub fn load_copy(&self, det: &Loaded) -> Result<Arc<Loaded>, LoadError> {
        let compiled = loader::Compiled {
            component: det.pre.component().clone(),
            sha256: det.sha256.clone(),
            from_cache: true,
        };
        self.load_compiled(compiled, &det.source, &LoadOptions { fresh_state: true, config: Some(det.config.clone()) })
    }

    /// Runs one detection on events outside the installed set (`oktawatch test`).
    pub fn run_one(&self, det: &Arc<Loaded>, events: &[Arc<Event>]) -> Outcome {
        if !det.host.enabled {
            return Outcome::default();
        }
        let page = Page::new(events);
        let index = prefilter::Index::new([det.info.prefilters.as_slice()]);
        let mut idx = Vec::new();
        for (i, ev) in events.iter().enumerate().filter(|(_, e)| det.subscribes(e.event_type())) {
            if index.passes(0, &mut index.fields(ev)) {
                idx.push(i);
            } else {
                det.counters.prefiltered.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.run_detection(det, &"".into(), &page, &idx)
    }

    /// Gives the next call a budget of `cpu` (see [`host::Budget`]).
    fn arm(&self, store: &mut Store<HostCtx>, cpu: Duration) {
        let budget = host::Budget::start(cpu);
        store.set_epoch_deadline(budget.ticks(TICK));
        store.data_mut().budget = budget;
        store.data_mut().wasi.begin_call();
    }

    fn new_store(&self, id: Arc<str>, state: Arc<Mutex<state::DetectionState>>) -> Store<HostCtx> {
        let mut store = Store::new(&self.engine, HostCtx::new(id, state, self.limits.memory_bytes));
        store.limiter(|c| &mut c.limiter);
        store.set_hostcall_fuel(host::HOSTCALL_FUEL);
        // Time limits count CPU time, not wall time: a call descheduled on a
        // busy machine is given more ticks, one that computes is stopped.
        store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().budget.on_deadline(TICK)));
        store
    }

    fn instantiate(&self, det: &Loaded) -> Result<Instance, Failure> {
        det.counters.instantiations.fetch_add(1, Ordering::Relaxed);
        let mut store = self.new_store(det.info.id.as_str().into(), det.state.clone());
        store.data_mut().wasi.set_imported(det.uses_wasi);
        self.arm(&mut store, self.limits.timeout * 10);
        let bindings = det.pre.instantiate(&mut store).map_err(|e| classify(&store, e))?;
        match bindings.configure(&mut store, &ConfigInput { toml: &det.config, values: &det.values }) {
            Ok(Ok(())) => {
                let ready_memory = store.data().limiter.memory;
                tracing::debug!(detection = %det.info.id, "instantiated with {} KiB of linear memory", ready_memory >> 10);
                Ok(Instance { store, bindings, calls: 0, ready_memory })
            }
            Ok(Err(msg)) => Err(Failure::Trap(format!("configure refused: {}", cut(&msg, MAX_REASON)))),
            Err(e) => Err(classify(&store, e)),
        }
    }

    /// Runs every subscribed detection on a page of events, with state outside any org's namespace.
    pub fn process(&self, events: &[Arc<Event>]) -> Outcome {
        self.process_for("", events)
    }

    /// Runs every subscribed detection on a page of one org's events; the
    /// detections' state keys live under the org's name.
    pub fn process_for(&self, org: &str, events: &[Arc<Event>]) -> Outcome {
        let org: Arc<str> = org.into();
        let set = self.current();
        if set.detections.is_empty() {
            return Outcome::default();
        }
        // Which events each detection gets: its event types, then its prefilters.
        let mut work: Vec<Vec<usize>> = vec![Vec::new(); set.detections.len()];
        let mut matched = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            set.matching(ev.event_type(), &mut matched);
            let mut fields = set.prefilters.fields(ev);
            for &d in &matched {
                if set.prefilters.passes(d, &mut fields) {
                    work[d].push(i);
                } else {
                    set.detections[d].counters.prefiltered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let page = Page::new(events);
        let results: Vec<Outcome> = work
            .par_iter()
            .enumerate()
            .filter(|(_, w)| !w.is_empty())
            .map(|(d, w)| self.run_detection(&set.detections[d], &org, &page, w))
            .collect();
        let mut out = Outcome::default();
        for r in results {
            out.alerts.extend(r.alerts);
            out.disabled.extend(r.disabled);
            out.failures.extend(r.failures);
        }
        // Event order first; detections in id order within an event.
        out.alerts.sort_by(|a, b| a.event_index.cmp(&b.event_index).then(a.detection.info.id.cmp(&b.detection.info.id)));
        out
    }

    fn run_detection(&self, det: &Arc<Loaded>, org: &Arc<str>, page: &Page<'_>, indexes: &[usize]) -> Outcome {
        let mut out = Outcome::default();
        let mut slot = det.slot.lock().unwrap();
        let mut page_alerts = 0usize;
        for &i in indexes {
            let ev = &page.events[i];
            if let Some(until) = slot.quarantined_until {
                if Instant::now() < until {
                    det.counters.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                slot.quarantined_until = None;
                tracing::info!(detection = %det.info.id, "quarantine over; running it again");
            }
            let started = Instant::now();
            let result = self.call(det, &mut slot, org, ev, &page.heads[i]);
            det.counters.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            det.counters.events.fetch_add(1, Ordering::Relaxed);
            // Alerts within bounds are kept even when the call broke a limit.
            let (mut alerts, mut failure) = match result {
                Ok(alerts) => (alerts, None),
                Err((failure, partial)) => (partial, Some(failure)),
            };
            let spent = self.spend_budget(&mut slot, &mut page_alerts, &mut alerts);
            if let Some(f) = &spent {
                slot.instance = None;
                failure = Some(f.clone());
            }
            det.counters.alerts.fetch_add(alerts.len() as u64, Ordering::Relaxed);
            out.alerts.extend(alerts.into_iter().map(|alert| Raised { event_index: i, detection: det.clone(), alert }));
            if let Some(failure) = failure {
                self.failed(det, &mut slot, i, ev, failure, spent.is_some(), &mut out);
            }
        }
        out
    }

    /// Takes `alerts` out of the detection's alert budget (per page, per
    /// minute); what does not fit is dropped and the budget is spent.
    fn spend_budget(&self, slot: &mut Slot, page: &mut usize, alerts: &mut Vec<bindings::Alert>) -> Option<Failure> {
        if slot.minute.0.elapsed() >= Duration::from_secs(60) {
            slot.minute = (Instant::now(), 0);
        }
        let (per_page, per_minute) = (self.limits.max_alerts_per_page, self.limits.max_alerts_per_minute);
        let page_room = per_page.saturating_sub(*page);
        let minute_room = per_minute.saturating_sub(slot.minute.1);
        let raised = alerts.len();
        let spent = (raised > page_room.min(minute_room)).then(|| {
            let why = if page_room <= minute_room {
                format!("alert budget spent: {} alerts on one page (at most {per_page})", *page + raised)
            } else {
                format!("alert budget spent: {} alerts within a minute (at most {per_minute})", slot.minute.1 + raised)
            };
            alerts.truncate(page_room.min(minute_room));
            Failure::Limit(why)
        });
        *page += alerts.len();
        slot.minute.1 += alerts.len();
        spent
    }

    /// Counts a failed call; quarantines after repeated failures, or at once.
    #[allow(clippy::too_many_arguments)]
    fn failed(&self, det: &Arc<Loaded>, slot: &mut Slot, i: usize, ev: &Event, failure: Failure, at_once: bool, out: &mut Outcome) {
        match &failure {
            Failure::Timeout => det.counters.timeouts.fetch_add(1, Ordering::Relaxed),
            Failure::Limit(_) => det.counters.limits.fetch_add(1, Ordering::Relaxed),
            Failure::Trap(_) => det.counters.traps.fetch_add(1, Ordering::Relaxed),
        };
        tracing::warn!(detection = %det.info.id, event = %ev.key(), "{failure}; instance discarded");
        out.failures.push((i, det.info.id.clone(), failure.clone()));
        let now = Instant::now();
        slot.failures.push_back(now);
        while slot.failures.front().is_some_and(|t| now - *t > self.limits.failure_window) {
            slot.failures.pop_front();
        }
        slot.last_failure = Some(failure.clone());
        if at_once || slot.failures.len() >= self.limits.max_failures {
            let for_how_long = slot.backoff;
            slot.quarantined_until = Some(now + for_how_long);
            slot.backoff = (slot.backoff * 2).min(Duration::from_secs(3600));
            slot.failures.clear();
            det.counters.quarantines.fetch_add(1, Ordering::Relaxed);
            let after = if at_once { "its alert budget was spent" } else { "repeated failures" };
            tracing::error!(detection = %det.info.id, "disabled for {for_how_long:.0?} after {after} ({failure})");
            out.disabled.push(Disabled { detection: det.clone(), reason: failure, for_how_long, event_index: i, at_once });
        }
    }

    /// One call of `on-event`; on failure the instance is dropped. Alerts
    /// within bounds are kept even when the call broke a limit.
    #[allow(clippy::type_complexity)]
    fn call(
        &self,
        det: &Loaded,
        slot: &mut Slot,
        org: &Arc<str>,
        ev: &Arc<Event>,
        head: &EventHead,
    ) -> Result<Vec<bindings::Alert>, (Failure, Vec<bindings::Alert>)> {
        if slot.instance.is_none() {
            slot.instance = Some(self.instantiate(det).map_err(|f| (f, Vec::new()))?);
        }
        let inst = slot.instance.as_mut().unwrap();
        inst.store.data_mut().begin_event(head.published_ms);
        inst.store.data_mut().wasi.begin_event(head.published_ms, ev.key());
        if *inst.store.data().namespace != **org {
            inst.store.data_mut().namespace = org.clone();
        }
        let res = inst.store.data_mut().table.push(EventRef(ev.clone())).map_err(|e| {
            (Failure::Limit(format!("resource table: {e}")), Vec::new())
        })?;
        let rep = res.rep();
        self.arm(&mut inst.store, self.limits.timeout);
        let result = inst.bindings.on_event(&mut inst.store, res, head);
        let _ = inst.store.data_mut().table.delete(wasmtime::component::Resource::<EventRef>::new_own(rep));
        inst.calls += 1;
        let dropped = std::mem::take(&mut inst.store.data_mut().logs_dropped);
        det.counters.logs_dropped.fetch_add(dropped, Ordering::Relaxed);
        let outcome = match result {
            Ok(alerts) => self.bound_alerts(alerts),
            Err(e) => Err((classify(&inst.store, e), Vec::new())),
        };
        let recycle = outcome.is_err()
            || inst.calls >= self.limits.recycle_every
            || inst.store.data().limiter.peak_memory > inst.ready_memory.saturating_add(self.limits.recycle_memory);
        if recycle {
            det.counters.recycles.fetch_add(1, Ordering::Relaxed);
            slot.instance = None;
        }
        outcome
    }

    fn bound_alerts(
        &self,
        mut alerts: Vec<bindings::Alert>,
    ) -> Result<Vec<bindings::Alert>, (Failure, Vec<bindings::Alert>)> {
        let mut problem = None;
        if alerts.len() > self.limits.max_alerts {
            problem = Some(format!("{} alerts for one event (at most {})", alerts.len(), self.limits.max_alerts));
            alerts.truncate(self.limits.max_alerts);
        }
        let max = self.limits.max_alert_bytes;
        let before = alerts.len();
        alerts.retain(|a| alert_bytes(a) <= max);
        if alerts.len() < before && problem.is_none() {
            problem = Some(format!("{} alert(s) over {} KiB dropped", before - alerts.len(), max >> 10));
        }
        match problem {
            None => Ok(alerts),
            Some(p) => Err((Failure::Limit(p), alerts)),
        }
    }
}

/// A page of events with each event's head, built once for every detection.
struct Page<'a> {
    events: &'a [Arc<Event>],
    heads: Vec<EventHead>,
}

impl<'a> Page<'a> {
    /// The event clock: `published`, or for an event without one the
    /// latest time seen before it on the page (0 before any).
    fn new(events: &'a [Arc<Event>]) -> Page<'a> {
        let mut clock = i64::MIN;
        let heads = events
            .iter()
            .map(|ev| {
                let now = ev.published_ms().unwrap_or(if clock == i64::MIN { 0 } else { clock });
                clock = clock.max(now);
                contract::head(ev, now)
            })
            .collect();
        Page { events, heads }
    }
}

/// An alert's size, counting a few bytes of JSON for each context entry and
/// MITRE id (quotes, colon, comma), so that many empty entries count too.
fn alert_bytes(a: &bindings::Alert) -> usize {
    a.title.len()
        + a.dedup_key.as_ref().map_or(0, |k| k.len())
        + a.context.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>()
        + a.mitre.iter().map(|m| m.len() + 3).sum::<usize>()
}

fn classify(store: &Store<HostCtx>, e: wasmtime::Error) -> Failure {
    if let Some(hit) = &store.data().limiter.hit {
        return Failure::Limit(hit.clone());
    }
    if let Some(limit) = e.downcast_ref::<host::StateLimit>() {
        return Failure::Limit(limit.to_string());
    }
    // What the deny-all WASI refused, or a guest's own exit, without the backtrace in front.
    if let Some(denied) = e.downcast_ref::<wasi::Denied>() {
        return Failure::Trap(denied.to_string());
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Failure::Trap(format!("exited (wasi:cli/exit, status {})", exit.0));
    }
    if is_hostcall_fuel(&e) {
        return Failure::Limit(format!("hostcall data: over {} MiB moved from the guest in one call", host::HOSTCALL_FUEL >> 20));
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Failure::Timeout,
        Some(Trap::StackOverflow) => Failure::Limit("stack overflow".into()),
        Some(t) => Failure::Trap(t.to_string()),
        // The text may quote the guest (its function names in a backtrace).
        None => Failure::Trap(cut(&format!("{e:#}"), MAX_REASON)),
    }
}

/// wasmtime's hostcall fuel ran out (its error type is private: known by its message).
fn is_hostcall_fuel(e: &wasmtime::Error) -> bool {
    e.chain().any(|c| c.to_string().contains("fuel allocated for hostcalls has been exhausted"))
}

/// What a detection says about itself goes into every alert, notice, log
/// line and status file: each field is bounded, and the id, which state and
/// suppression are keyed by, is plain. A refusal names the field, its size
/// and the bound (never the content, which may be the oversized part).
pub fn check_info(info: &Info) -> Result<(), String> {
    use bounds::*;
    let id = &info.id;
    if id.is_empty()
        || id.len() > ID
        || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        let shown = if id.len() <= ID { format!("`{id}`") } else { format!("of {} bytes", id.len()) };
        return Err(format!("id {shown}: 1-{ID} lower-case letters, digits, `-` or `_`"));
    }
    if info.title.is_empty() {
        return Err("title: empty".into());
    }
    let field = |name: String, len: usize, max: usize| match len > max {
        true => Err(format!("{name}: {len} bytes, at most {max}")),
        false => Ok(()),
    };
    let count = |name: &str, n: usize, max: usize| match n > max {
        true => Err(format!("{name}: {n} entries, at most {max}")),
        false => Ok(()),
    };
    field("title".into(), info.title.len(), TITLE)?;
    field("version".into(), info.version.len(), VERSION)?;
    field("description".into(), info.description.len(), DESCRIPTION)?;
    count("mitre", info.mitre.len(), MITRE_IDS)?;
    for (i, m) in info.mitre.iter().enumerate() {
        field(format!("mitre[{i}]"), m.len(), MITRE_ID)?;
    }
    count("event_types", info.event_types.len(), EVENT_TYPES)?;
    for (i, t) in info.event_types.iter().enumerate() {
        field(format!("event_types[{i}]"), t.len(), EVENT_TYPE)?;
    }
    prefilter::check(&info.prefilters)?;
    config_schema::check_keys(&info.config)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> Info {
        Info {
            id: "d".into(),
            title: "t".into(),
            version: "1.0.0".into(),
            severity: "low",
            mitre: vec!["T1078.004".into()],
            description: String::new(),
            event_types: vec!["user.session.start".into()],
            contract: Version::V02,
            prefilters: Vec::new(),
            config: Vec::new(),
        }
    }

    #[test]
    fn describe_fields_are_bounded() {
        assert_eq!(check_info(&info()), Ok(()));
        let mut i = info();
        i.version = "1".repeat(1 << 20);
        assert_eq!(check_info(&i), Err("version: 1048576 bytes, at most 64".into()));
        let mut i = info();
        i.mitre.push("T".repeat(33));
        assert_eq!(check_info(&i), Err("mitre[1]: 33 bytes, at most 32".into()));
        let mut i = info();
        i.event_types = vec!["x".repeat(129)];
        assert_eq!(check_info(&i), Err("event_types[0]: 129 bytes, at most 128".into()));
        let mut i = info();
        i.event_types = vec!["x".into(); 201];
        assert_eq!(check_info(&i), Err("event_types: 201 entries, at most 200".into()));
        let mut i = info();
        i.description = "d".repeat(4097);
        assert_eq!(check_info(&i), Err("description: 4097 bytes, at most 4096".into()));
        let mut i = info();
        i.title = "t".repeat(201);
        assert_eq!(check_info(&i), Err("title: 201 bytes, at most 200".into()));
        let mut i = info();
        i.id = "a".repeat(100_000);
        assert_eq!(check_info(&i), Err("id of 100000 bytes: 1-64 lower-case letters, digits, `-` or `_`".into()));
    }

    fn alerts(n: usize) -> Vec<bindings::Alert> {
        (0..n)
            .map(|i| bindings::Alert { title: format!("a{i}"), severity: None, dedup_key: None, context: vec![], mitre: vec![] })
            .collect()
    }

    fn slot() -> Slot {
        Slot {
            instance: None,
            minute: (Instant::now(), 0),
            failures: VecDeque::new(),
            quarantined_until: None,
            backoff: Duration::from_secs(1),
            last_failure: None,
        }
    }

    #[test]
    fn alert_budget_per_page_and_per_minute() {
        let limits = Limits { max_alerts_per_page: 10, max_alerts_per_minute: 25, ..Limits::default() };
        let rt = Runtime::new(limits, Arc::new(StateStore::in_memory(1, 1)), BTreeMap::new(), None).unwrap();
        let mut slot = slot();
        // Page 1: 4 + 4 fit, the next 4 only in part.
        let mut page = 0;
        let mut a = alerts(4);
        assert_eq!(rt.spend_budget(&mut slot, &mut page, &mut a), None);
        assert_eq!(rt.spend_budget(&mut slot, &mut page, &mut a), None);
        let mut a = alerts(4);
        let spent = rt.spend_budget(&mut slot, &mut page, &mut a);
        assert_eq!(spent, Some(Failure::Limit("alert budget spent: 12 alerts on one page (at most 10)".into())));
        assert_eq!((a.len(), page, slot.minute.1), (2, 10, 10));
        // Pages 2 and 3: the minute's budget runs out first.
        let mut page = 0;
        let mut a = alerts(10);
        assert_eq!(rt.spend_budget(&mut slot, &mut page, &mut a), None);
        let mut page = 0;
        let mut a = alerts(9);
        let spent = rt.spend_budget(&mut slot, &mut page, &mut a);
        assert_eq!(spent, Some(Failure::Limit("alert budget spent: 29 alerts within a minute (at most 25)".into())));
        assert_eq!((a.len(), slot.minute.1), (5, 25));
        // A minute later the budget is back.
        slot.minute.0 -= Duration::from_secs(61);
        let mut page = 0;
        let mut a = alerts(10);
        assert_eq!(rt.spend_budget(&mut slot, &mut page, &mut a), None);
        assert_eq!(slot.minute.1, 10);
    }

    #[test]
    fn cut_keeps_char_boundaries() {
        assert_eq!(cut("short", 10), "short");
        let c = cut(&"é".repeat(1000), 11);
        assert!(c.len() <= 11 && c.ends_with('…'), "{c}");
        assert_eq!(cut(&"x".repeat(600), MAX_REASON).len(), MAX_REASON);
    }
}
