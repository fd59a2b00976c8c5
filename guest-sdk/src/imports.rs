//! Every call from the SDK into the host goes through this module.
//!
//! In a wasm build these are the contract's imports (`wit/detection.wit`).
//! (The event type and `published` come with the call: see [`crate::Event`].) With the `native` feature on a non-wasm target
//! they call the [`crate::native::NativeHost`] that the harness installed for
//! the call in progress, so the same detection code runs in a native binary.

#[cfg(not(all(feature = "native", not(target_arch = "wasm32"))))]
mod imp {
    use crate::Value;
    use crate::bindings::OktaEvent;
    pub use crate::bindings::oktawatch::detection::log::{Level, log};
    pub use crate::bindings::oktawatch::detection::state;

    /// The event lent for the call in progress.
    pub type Raw<'a> = &'a OktaEvent;

    #[inline(always)]
    pub fn uuid(raw: Raw<'_>) -> String {
        raw.uuid()
    }
    #[inline(always)]
    pub fn get(raw: Raw<'_>, path: &str) -> Option<Value> {
        raw.get(path)
    }
    #[inline(always)]
    pub fn get_str(raw: Raw<'_>, path: &str) -> Option<String> {
        raw.get_str(path)
    }
    #[inline(always)]
    pub fn len(raw: Raw<'_>, path: &str) -> Option<u32> {
        raw.len(path)
    }
    #[inline(always)]
    pub fn get_many(raw: Raw<'_>, paths: &[String]) -> Vec<Option<Value>> {
        raw.get_many(paths)
    }
    #[inline(always)]
    pub fn get_strs(raw: Raw<'_>, paths: &[String]) -> Vec<Option<String>> {
        raw.get_strs(paths)
    }
    #[inline(always)]
    pub fn to_json(raw: Raw<'_>) -> String {
        raw.to_json()
    }
}

#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
mod imp {
    use crate::Value;
    use crate::native::with;
    pub use crate::bindings::oktawatch::detection::log::Level;

    /// The harness's current event: a marker, the host knows which event it is.
    pub type Raw<'a> = crate::native::CurrentEvent<'a>;

    pub fn uuid(_: Raw<'_>) -> String {
        with(|h| h.uuid())
    }
    pub fn get(_: Raw<'_>, path: &str) -> Option<Value> {
        with(|h| h.get(path))
    }
    pub fn get_str(_: Raw<'_>, path: &str) -> Option<String> {
        with(|h| h.get_str(path))
    }
    pub fn len(_: Raw<'_>, path: &str) -> Option<u32> {
        with(|h| h.len(path))
    }
    pub fn get_many(_: Raw<'_>, paths: &[String]) -> Vec<Option<Value>> {
        with(|h| h.get_many(paths))
    }
    pub fn get_strs(_: Raw<'_>, paths: &[String]) -> Vec<Option<String>> {
        with(|h| h.get_strs(paths))
    }
    pub fn to_json(_: Raw<'_>) -> String {
        with(|h| h.to_json())
    }
    pub fn log(level: Level, message: &str) {
        with(|h| h.log(level, message))
    }

    /// The `state` interface, same names and signatures as the wit imports.
    pub mod state {
        use crate::native::with;
        pub fn get(key: &str) -> Option<Vec<u8>> {
            with(|h| h.state_get(key))
        }
        pub fn set(key: &str, value: &[u8], ttl_ms: u64) {
            with(|h| h.state_set(key, value, ttl_ms))
        }
        pub fn remove(key: &str) {
            with(|h| h.state_remove(key))
        }
        pub fn count(key: &str, window_ms: u64) -> u32 {
            with(|h| h.state_count(key, window_ms))
        }
        pub fn peek_count(key: &str, window_ms: u64) -> u32 {
            with(|h| h.state_peek_count(key, window_ms))
        }
        pub fn distinct(key: &str, member: &str, window_ms: u64) -> u32 {
            with(|h| h.state_distinct(key, member, window_ms))
        }
        pub fn peek_distinct(key: &str, window_ms: u64) -> Vec<String> {
            with(|h| h.state_peek_distinct(key, window_ms))
        }
        pub fn last_seen(key: &str, value: &str, ttl_ms: u64) -> Option<(String, i64)> {
            with(|h| h.state_last_seen(key, value, ttl_ms))
        }
        #[allow(dead_code)] // for `state::once_per`
        pub fn once_per(key: &str, window_ms: u64) -> bool {
            with(|h| h.state_once_per(key, window_ms))
        }
    }
}

pub use imp::*;
