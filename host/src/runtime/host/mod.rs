//! What a detection's Store holds, and the host functions it may call.
//!
//! Nothing here panics on guest input: a bad handle or path is an error
//! (which traps the guest) or an empty answer. The event is lent as a
//! resource: the guest asks for fields; the JSON is never copied wholesale
//! unless it calls `to-json`.

use super::bindings::oktawatch::detection::{event, log, state, types};
use super::state::DetectionState;
use crate::event::Event;
use crate::event::{JsonContainerTrait, JsonType, JsonValueTrait, Value as Json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{Resource, ResourceTable};

/// The host's event, as the guest's `okta-event` resource.
pub struct EventRef(pub Arc<Event>);

/// Longest path or state key a guest may pass.
const MAX_KEY: usize = 1024;
/// Largest state value.
const MAX_VALUE: usize = 64 * 1024;
/// Log lines per detection per second (a burst up to this, then dropped and counted).
const LOG_PER_SEC: u32 = 20;
/// State operations one detection may make for one event. The pack makes
/// at most 8; past this the call fails like a trap, so a detection cannot
/// churn its state (each op may add a key to the next flush) without bound.
pub const MAX_STATE_OPS: u32 = 4096;
/// Bytes the guest may move into the host in one call or one returned
/// value (wasmtime's hostcall fuel; it counts host-side sizes, so a list of
/// 1 M empty strings costs 24 MB). 32× the largest legitimate transfer (256
/// paths of 1 KiB, 16 alerts of 16 KiB), so the host's own bounds on keys,
/// values and alerts still name what was broken below it; wasmtime's
/// default is 128 MiB, four times a detection's whole memory.
pub const HOSTCALL_FUEL: usize = 8 << 20;

/// A detection went past a bound of its state ([`MAX_STATE_OPS`]): the call
/// fails, which is a failure like a trap (counted as a limit).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StateLimit(pub String);

/// The time budget of the call in progress.
///
/// The epoch ticker fires every millisecond of wall time. When a call has
/// run for its budget in wall time, [`Budget::on_deadline`] notes the
/// thread's CPU time and grants one more budget; at the next deadline, a
/// call that used most of that interval as CPU is computing and is stopped,
/// one that did not was descheduled on a busy machine and goes on. A hard
/// wall-clock cap (100× the budget, at least 2 s) stops everything. A
/// looping detection is thus stopped after about two budgets, and the
/// thread's CPU clock (a system call) is read only at deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    wall_start: Instant,
    cpu: Duration,
    wall: Duration,
    cpu_mark: Option<Duration>,
}

impl Budget {
    pub fn start(cpu: Duration) -> Budget {
        Budget { wall_start: Instant::now(), cpu, wall: (cpu * 100).max(Duration::from_secs(2)), cpu_mark: None }
    }

    /// Ticks of the epoch per budget.
    pub fn ticks(&self, tick: Duration) -> u64 {
        (self.cpu.as_micros() / tick.as_micros().max(1)).max(1) as u64 + 1
    }

    pub fn on_deadline(&mut self, tick: Duration) -> wasmtime::UpdateDeadline {
        if self.wall_start.elapsed() >= self.wall {
            return wasmtime::UpdateDeadline::Interrupt;
        }
        let now = thread_cpu_time();
        match self.cpu_mark {
            Some(mark) if now.saturating_sub(mark) >= self.cpu * 8 / 10 => wasmtime::UpdateDeadline::Interrupt,
            _ => {
                self.cpu_mark = Some(now);
                wasmtime::UpdateDeadline::Continue(self.ticks(tick))
            }
        }
    }
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

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
            log_window: Instant::now(),
            log_count: 0,
            logs_dropped: 0,
        }
    }

    fn event(&self, r: &Resource<EventRef>) -> wasmtime::Result<&Arc<Event>> {
        Ok(&self.table.get(r)?.0)
    }

    /// Sets "now" for the next `on-event` call and starts its count of state operations.
    pub fn begin_event(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        self.state_ops = 0;
    }

    /// The detection's state, for one more operation of this event.
    fn state(&mut self) -> wasmtime::Result<std::sync::MutexGuard<'_, DetectionState>> {
        self.state_ops += 1;
        if self.state_ops > MAX_STATE_OPS {
            return Err(wasmtime::Error::new(StateLimit(format!(
                "state: more than {MAX_STATE_OPS} state operations for one event"
            ))));
        }
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A guest's state key, under the org's namespace.
    fn key<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if self.namespace.is_empty() {
            key.into()
        } else {
            format!("{}\u{1f}{key}", self.namespace).into()
        }
    }
}

/// Core instances one Store may create. A Rust or C detection makes a few;
/// componentize-py 0.25 makes 38 (CPython and its libraries linked
/// dynamically, the preview1 adapter, shims: 14 modules), componentize-js
/// 0.23 fewer; twice that leaves room for a Python with more libraries.
pub const MAX_INSTANCES: usize = 80;
/// Tables and memories one Store may create: both componentize-py and
/// componentize-js define 2 tables and 1 memory.
pub const MAX_TABLES: usize = 16;
pub const MAX_MEMORIES: usize = 8;

/// Table elements one Store may hold, summed over its tables.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Memory and table bounds for one Store (one detection), summed over all
/// of its linear memories and tables: a component made of several core
/// modules gets no more than one made of one. wasmtime asks before a memory
/// or table is created (from 0) and before each growth, so the sums are
/// exact. Remembers which bound was hit.
pub struct Limiter {
    pub max_memory: usize,
    /// Bytes of linear memory, all memories together.
    pub memory: usize,
    pub peak_memory: usize,
    table_elements: usize,
    pub hit: Option<String>,
}

impl Limiter {
    pub fn new(max_memory: usize) -> Limiter {
        Limiter { max_memory, memory: 0, peak_memory: 0, table_elements: 0, hit: None }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memory.saturating_sub(current).saturating_add(desired);
        if total > self.max_memory {
            let msg = format!(
                "memory limit: wanted {} MiB in all of its memories, at most {} MiB",
                total >> 20,
                self.max_memory >> 20
            );
            self.hit = Some(msg.clone());
            return Err(wasmtime::format_err!(msg));
        }
        self.memory = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.table_elements.saturating_sub(current).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            self.hit = Some(format!("table limit: wanted {total} elements in all of its tables"));
            return Err(wasmtime::format_err!("table limit exceeded"));
        }
        self.table_elements = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
    fn tables(&self) -> usize {
        MAX_TABLES
    }
    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

fn check_key(key: &str) -> wasmtime::Result<()> {
    if key.len() > MAX_KEY {
        wasmtime::bail!("key or path of {} bytes: at most {MAX_KEY}", key.len());
    }
    Ok(())
}

/// Paths asked for in one call.
const MAX_PATHS: usize = 256;

fn check_many(paths: &[String]) -> wasmtime::Result<()> {
    if paths.len() > MAX_PATHS {
        wasmtime::bail!("{} paths in one call: at most {MAX_PATHS}", paths.len());
    }
    paths.iter().try_for_each(|p| check_key(p))
}

/// A JSON value as the contract's `value`.
pub fn to_value(v: &Json) -> types::Value {
    match v.get_type() {
        JsonType::Null => types::Value::Null,
        JsonType::Boolean => types::Value::Boolean(v.is_true()),
        JsonType::Number => match v.as_i64() {
            Some(i) => types::Value::Integer(i),
            None => types::Value::Float(v.as_f64().unwrap_or(f64::NAN)),
        },
        JsonType::String => types::Value::Text(v.as_str().unwrap_or_default().to_string()),
        JsonType::Object | JsonType::Array => types::Value::Json(sonic_rs::to_string(v).unwrap_or_default()),
    }
}

impl types::Host for HostCtx {}
impl event::Host for HostCtx {}

impl event::HostOktaEvent for HostCtx {
    fn event_type(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        Ok(self.event(&r)?.event_type().to_string())
    }
    fn uuid(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        Ok(self.event(&r)?.key().to_string())
    }
    fn published_ms(&mut self, r: Resource<EventRef>) -> wasmtime::Result<i64> {
        Ok(self.event(&r)?.published_ms().unwrap_or(self.now_ms))
    }
    fn get(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<types::Value>> {
        check_key(&path)?;
        Ok(self.event(&r)?.lookup(&path).map(to_value))
    }
    fn get_str(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<String>> {
        check_key(&path)?;
        Ok(self.event(&r)?.lookup(&path).and_then(|v| v.as_str()).map(str::to_string))
    }
    fn len(&mut self, r: Resource<EventRef>, path: String) -> wasmtime::Result<Option<u32>> {
        check_key(&path)?;
        Ok(self.event(&r)?.lookup(&path).and_then(|v: &Json| {
            v.as_array().map(|a| a.len() as u32).or_else(|| v.as_object().map(|o| o.len() as u32))
        }))
    }
    fn get_many(&mut self, r: Resource<EventRef>, paths: Vec<String>) -> wasmtime::Result<Vec<Option<types::Value>>> {
        check_many(&paths)?;
        let ev = self.event(&r)?;
        Ok(paths.iter().map(|p| ev.lookup(p).map(to_value)).collect())
    }
    fn get_strs(&mut self, r: Resource<EventRef>, paths: Vec<String>) -> wasmtime::Result<Vec<Option<String>>> {
        check_many(&paths)?;
        let ev = self.event(&r)?;
        Ok(paths.iter().map(|p| ev.lookup(p).and_then(|v| v.as_str()).map(str::to_string)).collect())
    }
    fn to_json(&mut self, r: Resource<EventRef>) -> wasmtime::Result<String> {
        Ok(self.event(&r)?.raw().to_string())
    }
    fn drop(&mut self, r: Resource<EventRef>) -> wasmtime::Result<()> {
        self.table.delete(r)?;
        Ok(())
    }
}

impl state::Host for HostCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        check_key(&key)?;
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.get(&key, now))
    }
    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> wasmtime::Result<()> {
        check_key(&key)?;
        if value.len() > MAX_VALUE {
            wasmtime::bail!("state value of {} bytes: at most {MAX_VALUE}", value.len());
        }
        let now = self.now_ms;
        let key = self.key(&key);
        self.state()?.set(&key, value, ttl_ms, now);
        Ok(())
    }
    fn remove(&mut self, key: String) -> wasmtime::Result<()> {
        check_key(&key)?;
        let key = self.key(&key);
        self.state()?.remove(&key);
        Ok(())
    }
    fn count(&mut self, key: String, window_ms: u64) -> wasmtime::Result<u32> {
        check_key(&key)?;
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.count(&key, window_ms, now, true))
    }
    fn peek_count(&mut self, key: String, window_ms: u64) -> wasmtime::Result<u32> {
        check_key(&key)?;
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.count(&key, window_ms, now, false))
    }
    fn distinct(&mut self, key: String, member: String, window_ms: u64) -> wasmtime::Result<u32> {
        check_key(&key)?;
        check_key(&member)?;
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.distinct(&key, &member, window_ms, now))
    }
    fn peek_distinct(&mut self, key: String, window_ms: u64) -> wasmtime::Result<Vec<String>> {
        check_key(&key)?;
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.members(&key, window_ms, now))
    }
    fn last_seen(&mut self, key: String, value: String, ttl_ms: u64) -> wasmtime::Result<Option<(String, i64)>> {
        check_key(&key)?;
        if value.len() > MAX_VALUE {
            wasmtime::bail!("state value of {} bytes: at most {MAX_VALUE}", value.len());
        }
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.last_seen(&key, &value, ttl_ms, now))
    }
    fn once_per(&mut self, key: String, window_ms: u64) -> wasmtime::Result<bool> {
        check_key(&key)?;
        let now = self.now_ms;
        let key = self.key(&key);
        Ok(self.state()?.once_per(&key, window_ms, now))
    }
}

impl log::Host for HostCtx {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.log_window.elapsed().as_secs() >= 1 {
            self.log_window = Instant::now();
            self.log_count = 0;
        }
        self.log_count += 1;
        if self.log_count > LOG_PER_SEC {
            self.logs_dropped += 1;
            return Ok(());
        }
        let mut message = message;
        if message.len() > 2048 {
            let mut end = 2048;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        let id = &*self.id;
        match level {
            log::Level::Debug => tracing::debug!(detection = id, "{message}"),
            log::Level::Info => tracing::info!(detection = id, "{message}"),
            log::Level::Warn => tracing::warn!(detection = id, "{message}"),
            log::Level::Error => tracing::error!(detection = id, "{message}"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn memory_is_summed_over_memories() {
        let mut l = Limiter::new(32 << 20);
        // Two memories created, each 12 MiB: 24 MiB in all.
        assert!(l.memory_growing(0, 12 << 20, None).unwrap());
        assert!(l.memory_growing(0, 12 << 20, None).unwrap());
        assert_eq!(l.memory, 24 << 20);
        // The first grows to 16 MiB (28 in all): fine; the second to 20 (36 in all): refused,
        // although each alone is well under 32 MiB.
        assert!(l.memory_growing(12 << 20, 16 << 20, None).unwrap());
        assert!(l.memory_growing(12 << 20, 20 << 20, None).is_err());
        assert!(l.hit.as_deref().unwrap().contains("memory limit: wanted 36 MiB"), "{:?}", l.hit);
        assert_eq!(l.peak_memory, 28 << 20);
    }

    #[test]
    fn tables_are_summed() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.table_growing(0, 60_000, None).unwrap());
        assert!(l.table_growing(0, 50_000, None).is_err());
    }
}
