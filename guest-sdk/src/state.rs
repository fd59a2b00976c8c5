//! Per-detection state, kept by the host on the event clock.
//!
//! "Now" is always the current event's `published` time, so a replay of the
//! same events gives the same answers. Windows and TTLs are milliseconds
//! (see [`crate::time`]). State survives host restarts and reloads of a
//! detection with the same id; the host bounds its size per detection.
//!
//! Values are typed: [`set`] stores anything serde can serialize (numbers,
//! strings, tuples, `Vec`s, your own `#[derive(Serialize, Deserialize)]`
//! structs) in postcard's compact encoding, and [`get`] reads it back as the
//! type asked for. A stored value that does not decode as that type (a struct
//! whose fields changed between versions of a detection) reads as `None`, as
//! if it had expired: a detection never has to parse bytes by hand.

use crate::imports::state as host;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The value stored under `key` as a `T`; `None` when missing, expired, or
/// not a `T` (written by another version of the detection).
pub fn get<T: DeserializeOwned>(key: &str) -> Option<T> {
    host::get(key).and_then(|bytes| postcard::from_bytes(&bytes).ok())
}
/// Stores `value` under `key` for `ttl_ms` (0 = until removed).
///
/// A value serde cannot encode (a map with keys of no fixed type, a
/// sequence whose length is unknown) is not stored, and the fault is logged.
pub fn set<T: Serialize + ?Sized>(key: &str, value: &T, ttl_ms: u64) {
    match postcard::to_allocvec(value) {
        Ok(bytes) => host::set(key, &bytes, ttl_ms),
        Err(e) => crate::log::error(&format!("state::set({key}): value not stored: {e}")),
    }
}
/// True the first time it is called for `key` within `window_ms` of event
/// time, false until that window has passed: "alert once per window".
pub fn once_per(key: &str, window_ms: u64) -> bool {
    let key = prefixed("once:", key);
    if host::get(&key).is_some() {
        return false;
    }
    host::set(&key, &[], window_ms);
    true
}

/// Records one occurrence of `key` now; returns how many fell within `window_ms`.
pub fn count_in_window(key: &str, window_ms: u64) -> u32 {
    host::count(key, window_ms)
}
/// How many occurrences of `key` fell within `window_ms`, without recording one.
pub fn peek_count(key: &str, window_ms: u64) -> u32 {
    host::peek_count(key, window_ms)
}
/// Records `member` under `key` now; returns the distinct members within `window_ms`.
pub fn distinct_in_window(key: &str, member: &str, window_ms: u64) -> u32 {
    host::distinct(key, member, window_ms)
}
/// Records `member` when there is one, and returns the distinct members
/// within `window_ms` either way (a field missing from this event does not
/// hide what earlier events recorded).
pub fn distinct_if_known(key: &str, member: Option<&str>, window_ms: u64) -> u32 {
    match member {
        Some(m) => host::distinct(key, m, window_ms),
        None => host::peek_distinct(key, window_ms).len() as u32,
    }
}
/// The distinct members under `key` within `window_ms`, without recording one.
pub fn distinct_members(key: &str, window_ms: u64) -> Vec<String> {
    host::peek_distinct(key, window_ms)
}
/// Up to `max` of the distinct members under `key`, sorted, joined with `", "`
/// (for an alert field).
pub fn members_sample(key: &str, window_ms: u64, max: usize) -> String {
    let mut members = host::peek_distinct(key, window_ms);
    members.sort();
    members.truncate(max);
    members.join(", ")
}
/// Remembers a string under `key` for `ttl_ms` (0 = until removed).
pub fn remember(key: &str, value: &str, ttl_ms: u64) {
    host::set(key, value.as_bytes(), ttl_ms)
}
/// The string remembered under `key`, unless it expired.
pub fn recall(key: &str) -> Option<String> {
    host::get(key).and_then(|b| String::from_utf8(b).ok())
}
/// Raw bytes under `key`.
pub fn get_bytes(key: &str) -> Option<Vec<u8>> {
    host::get(key)
}
pub fn set_bytes(key: &str, value: &[u8], ttl_ms: u64) {
    host::set(key, value, ttl_ms)
}
pub fn forget(key: &str) {
    host::remove(key)
}
/// Stores `value` as the last seen under `key` and returns the previous one
/// with the event time (ms) it was seen at.
pub fn last_seen(key: &str, value: &str, ttl_ms: u64) -> Option<(String, i64)> {
    host::last_seen(key, value, ttl_ms)
}

/// "A then B within T": call [`mark`] when A happens and [`marked`] when B does.
pub fn mark(key: &str, within_ms: u64) {
    host::set(&prefixed("seq:", key), b"1", within_ms)
}
/// True when [`mark`] was called for `key` within its window.
pub fn marked(key: &str) -> bool {
    host::get(&prefixed("seq:", key)).is_some()
}
/// Clears a [`mark`].
pub fn unmark(key: &str) {
    host::remove(&prefixed("seq:", key))
}
fn prefixed(prefix: &str, key: &str) -> String {
    let mut k = String::with_capacity(key.len() + prefix.len());
    k.push_str(prefix);
    k.push_str(key);
    k
}
