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
