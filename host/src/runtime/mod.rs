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
//!
//! The parts, by role: [`engine`](self::engine) (the wasmtime Engine,
//! Linker and epoch thread, and a detection's Store), [`limits`](self::limits)
//! (the bounds, and the alert bounds and budgets), [`detection`](self::detection)
//! (what a detection says about itself, loading it, its instances),
//! [`set`](self::set) (the detections in force and their index),
//! [`call`](self::call) (running a page), [`quarantine`](self::quarantine)
//! (failures and quarantine); the Store's host functions are in [`host`].

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

mod call;
mod detection;
mod engine;
mod limits;
mod quarantine;
mod set;

pub use call::{Failure, Outcome, Raised};
pub use detection::{Counters, Described, Info, LoadOptions, Loaded, severity_name};
pub use limits::{Limits, MAX_REASON, bounds, check_info, cut};
pub use quarantine::Disabled;
pub use set::DetectionSet;

use arc_swap::ArcSwap;
use host::HostCtx;
use state::StateStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasmtime::Engine;
use wasmtime::component::Linker;

/// The sandbox every detection runs in: the engine, the detections in force,
/// their state and config. Its methods are spread by role: loading in
/// [`detection`](self::detection), running a page in [`call`](self::call),
/// quarantine in [`quarantine`](self::quarantine), the Store in
/// [`engine`](self::engine).
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
        let engine = engine::engine(&limits)?;
        let linker = engine::linker(&engine)?;
        let ticker_stop = engine::start_epoch(&engine)?;
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
}
