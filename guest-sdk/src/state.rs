//! Per-detection state, kept by the host on the event clock.
//!
//! "Now" is always the current event's `published` time, so a replay of the
//! same events gives the same answers. Windows and TTLs are milliseconds
//! (see [`crate::time`]). State survives host restarts and reloads of a
//! detection with the same id; the host bounds its size per detection.

use crate::imports::state as host;

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
/// The distinct members under `key` within `window_ms`, without recording one.
pub fn distinct_members(key: &str, window_ms: u64) -> Vec<String> {
    host::peek_distinct(key, window_ms)
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
    host::set(&seq_key(key), b"1", within_ms)
}
/// True when [`mark`] was called for `key` within its window.
pub fn marked(key: &str) -> bool {
    host::get(&seq_key(key)).is_some()
}
/// Clears a [`mark`].
pub fn unmark(key: &str) {
    host::remove(&seq_key(key))
}
fn seq_key(key: &str) -> String {
    let mut k = String::with_capacity(key.len() + 4);
    k.push_str("seq:");
    k.push_str(key);
    k
}
