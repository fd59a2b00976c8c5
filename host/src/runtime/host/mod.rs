//! What a detection's Store holds, and the host functions it may call.
//!
//! Nothing here panics on guest input: a bad handle or path is an error
//! (which traps the guest) or an empty answer. The event is lent as a
//! resource: the guest asks for fields; the JSON is never copied wholesale
//! unless it calls `to-json`.
//!
//! One file per interface, as `wasmtime-wasi` lays out its host: [`event`]
//! (the `okta-event` resource), [`state`], [`log`]; beside them the Store's
//! [`budget`] (CPU time per call) and [`limiter`] (memory and tables).

mod budget;
mod event;
mod limiter;
mod log;
mod state;

pub use budget::{Budget, thread_cpu_time};
pub use event::{EventRef, to_value};
pub use limiter::{Limiter, MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};
pub use state::{MAX_STATE_OPS, StateLimit};

use super::bindings::oktawatch::detection::types;
use super::state::DetectionState;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;

/// Longest path or state key a guest may pass.
const MAX_KEY: usize = 1024;
/// Bytes the guest may move into the host in one call or one returned
/// value (wasmtime's hostcall fuel; it counts host-side sizes, so a list of
/// 1 M empty strings costs 24 MB). 32× the largest legitimate transfer (256
/// paths of 1 KiB, 16 alerts of 16 KiB), so the host's own bounds on keys,
/// values and alerts still name what was broken below it; wasmtime's
/// default is 128 MiB, four times a detection's whole memory.
pub const HOSTCALL_FUEL: usize = 8 << 20;

/// The data of one detection's Store.
pub struct HostCtx {
    pub table: ResourceTable,
    pub limiter: Limiter,
    pub state: Arc<Mutex<DetectionState>>,
    pub id: Arc<str>,
    /// The time budget of the call in progress.
    pub budget: Budget,
    /// The current event's time: "now" for state.
    pub now_ms: i64,
    /// The org of the page in hand: state keys live under it, so that one
    /// org's counts never mix with another's ("" for replays and tests).
    pub namespace: Arc<str>,
    /// State operations for the event in hand (see [`MAX_STATE_OPS`]).
    state_ops: u32,
    /// A state key under [`Self::namespace`], built in place for each operation.
    key_buf: String,
    log_window: Instant,
    log_count: u32,
    pub logs_dropped: u64,
    /// The deny-all WASI 0.2 (see [`super::wasi`]).
    pub wasi: super::wasi::Wasi,
}

/// Resources (events, WASI streams and pollables) one Store may hold at once.
const MAX_RESOURCES: usize = 10_000;

impl HostCtx {
    pub fn new(id: Arc<str>, state: Arc<Mutex<DetectionState>>, memory_bytes: usize) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        HostCtx {
            wasi: super::wasi::Wasi::new(id.clone()),
            table,
            limiter: Limiter::new(memory_bytes),
            state,
            id,
            budget: Budget::start(Duration::from_millis(10)),
            now_ms: 0,
            namespace: "".into(),
            state_ops: 0,
            key_buf: String::new(),
            log_window: Instant::now(),
            log_count: 0,
            logs_dropped: 0,
        }
    }

    /// Sets "now" for the next `on-event` call and starts its count of state operations.
    pub fn begin_event(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        self.state_ops = 0;
    }
}

/// A key or path within [`MAX_KEY`] bytes.
fn check_key(key: &str) -> wasmtime::Result<()> {
    if key.len() > MAX_KEY {
        wasmtime::bail!("key or path of {} bytes: at most {MAX_KEY}", key.len());
    }
    Ok(())
}

impl types::Host for HostCtx {}
