//! One detection: what it says about itself ([`Info`], bounded by
//! [`check_info`](super::check_info)) and its counters; its way from a
//! compiled component to a [`Loaded`] detection (described in a throwaway
//! Store while its id is not known, then attached to its state and config);
//! and its instances, each configured before its first event.

use super::bindings::oktawatch::detection::types::{ConfigKey, ConfigValue, Prefilter, Severity};
use super::call::classify;
use super::contract::{self, Bindings, ConfigInput, Pre, Version};
use super::host::HostCtx;
use super::loader::{self, LoadError};
use super::quarantine::Slot;
use super::state::{DetectionState, StateStore};
use super::{Failure, MAX_REASON, Runtime, check_info, config_schema, cut, wasi};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::Store;

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
    /// Instances dropped after a call (a failure,
    /// [`Limits::recycle_every`](super::Limits::recycle_every) or
    /// [`Limits::recycle_memory`](super::Limits::recycle_memory)).
    pub recycles: AtomicU64,
    pub nanos: AtomicU64,
    /// Log lines over the per-second bound, not written.
    pub logs_dropped: AtomicU64,
}

/// A compiled detection that has described itself (see [`Runtime::describe`]).
pub struct Described {
    pub info: Info,
    pub sha256: String,
    pub(super) pre: Pre,
}

/// A loaded detection.
pub struct Loaded {
    pub info: Info,
    pub source: PathBuf,
    pub sha256: String,
    /// Shared with the versions of it that a reload configures again.
    pub counters: Arc<Counters>,
    /// The keys the host understands ([`super::host_keys`]), in force.
    pub host: super::host_keys::HostSettings,
    pub(super) config: String,
    /// 0.2: every declared key with its checked value (`configure`'s argument).
    pub(super) values: Vec<(String, ConfigValue)>,
    pub(super) pre: Pre,
    /// It imports WASI: its Stores keep the event clock and random seeds.
    pub(super) uses_wasi: bool,
    pub(super) state: Arc<Mutex<DetectionState>>,
    pub(super) slot: Mutex<Slot>,
}

impl Loaded {
    pub fn status(&self) -> String {
        if !self.host.enabled {
            return "disabled".into();
        }
        self.slot.lock().unwrap().status()
    }

    /// Its state's (quota hits, entries evicted to stay within the quota).
    pub fn state_counts(&self) -> (u64, u64) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (s.quota_hits, s.evicted)
    }
}

/// How to load one detection.
#[derive(Debug, Default, Clone)]
pub struct LoadOptions {
    /// Start from empty, in-memory state (tests).
    pub fresh_state: bool,
    /// Use this config text instead of the host config's.
    pub config: Option<String>,
}

/// A live instance of a detection: its Store, ready for `on-event`.
pub(super) struct Instance {
    pub(super) store: Store<HostCtx>,
    pub(super) bindings: Bindings,
    pub(super) calls: u64,
    /// Linear memory when it was ready, before any event (see [`Limits::recycle_memory`]).
    pub(super) ready_memory: usize,
}

impl Runtime {
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
            slot: Mutex::new(Slot::new(self.limits.quarantine)),
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

    /// A new instance, configured: the first after [`Self::attach`], and
    /// again after each recycle or failure.
    pub(super) fn instantiate(&self, det: &Loaded) -> Result<Instance, Failure> {
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
}
