//! `oktawatch:detection/state`: the detection's state on the event clock,
//! its keys under the org's namespace, each key and value bounded, and at
//! most [`MAX_STATE_OPS`] operations per event.

use super::{HostCtx, check_key};
use crate::runtime::bindings::oktawatch::detection::state;
use crate::runtime::state::DetectionState;

/// Largest state value.
const MAX_VALUE: usize = 64 * 1024;
/// State operations one detection may make for one event. The pack makes
/// at most 8; past this the call fails like a trap, so a detection cannot
/// churn its state (each op may add a key to the next flush) without bound.
pub const MAX_STATE_OPS: u32 = 4096;

/// A detection went past a bound of its state ([`MAX_STATE_OPS`]): the call
/// fails, which is a failure like a trap (counted as a limit).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StateLimit(pub String);

impl HostCtx {
    /// One state operation of this event on the guest's `key`, bounded in
    /// length and in number per event; the key is put under the org's
    /// namespace in a buffer the Store keeps, so an operation allocates no key.
    fn with_state<R>(&mut self, key: &str, op: impl FnOnce(&mut DetectionState, &str, i64) -> R) -> wasmtime::Result<R> {
        check_key(key)?;
        self.state_ops += 1;
        if self.state_ops > MAX_STATE_OPS {
            return Err(wasmtime::Error::new(StateLimit(format!(
                "state: more than {MAX_STATE_OPS} state operations for one event"
            ))));
        }
        let now = self.now_ms;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if self.namespace.is_empty() {
            return Ok(op(&mut state, key, now));
        }
        let buf = &mut self.key_buf;
        buf.clear();
        buf.push_str(&self.namespace);
        buf.push('\u{1f}');
        buf.push_str(key);
        Ok(op(&mut state, buf, now))
    }
}

fn check_value(len: usize) -> wasmtime::Result<()> {
    if len > MAX_VALUE {
        wasmtime::bail!("state value of {len} bytes: at most {MAX_VALUE}");
    }
    Ok(())
}

impl state::Host for HostCtx {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.with_state(&key, |s, key, now| s.get(key, now))
    }
    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> wasmtime::Result<()> {
        check_value(value.len())?;
        self.with_state(&key, |s, key, now| {
            s.set(key, value, ttl_ms, now);
        })
    }
    fn remove(&mut self, key: String) -> wasmtime::Result<()> {
        self.with_state(&key, |s, key, _| s.remove(key))
    }
    fn count(&mut self, key: String, window_ms: u64) -> wasmtime::Result<u32> {
        self.with_state(&key, |s, key, now| s.count(key, window_ms, now, true))
    }
    fn peek_count(&mut self, key: String, window_ms: u64) -> wasmtime::Result<u32> {
        self.with_state(&key, |s, key, now| s.count(key, window_ms, now, false))
    }
    fn distinct(&mut self, key: String, member: String, window_ms: u64) -> wasmtime::Result<u32> {
        check_key(&member)?;
        self.with_state(&key, |s, key, now| s.distinct(key, &member, window_ms, now))
    }
    fn peek_distinct(&mut self, key: String, window_ms: u64) -> wasmtime::Result<Vec<String>> {
        self.with_state(&key, |s, key, now| s.members(key, window_ms, now))
    }
    fn last_seen(&mut self, key: String, value: String, ttl_ms: u64) -> wasmtime::Result<Option<(String, i64)>> {
        check_value(value.len())?;
        self.with_state(&key, |s, key, now| s.last_seen(key, &value, ttl_ms, now))
    }
    fn once_per(&mut self, key: String, window_ms: u64) -> wasmtime::Result<bool> {
        self.with_state(&key, |s, key, now| s.once_per(key, window_ms, now))
    }
}
