//! Running detections natively (feature `native`, non-wasm targets): for
//! harnesses and benchmarks that compile the pack into one Rust binary.
//!
//! The harness implements [`NativeHost`] (the contract's imports, same
//! signatures, for one detection and its current event), gets each detection
//! from the `native_detection()` function that [`crate::export_detection!`]
//! defines in its crate, and calls it inside [`with_host`].

use crate::bindings;
use crate::Detection;
use core::cell::{Cell, RefCell};
use core::marker::PhantomData;

pub use crate::{ConfigValue, Value};
pub use bindings::oktawatch::detection::log::Level;
pub use bindings::{DetectionInfo, EventHead};

/// An alert as the contract returns it.
pub type WitAlert = bindings::Alert;

/// The contract's imports, as a harness provides them: `event` methods
/// answer for the event being processed, `state` for the detection being
/// called, on that event's clock. (The event type and `published` come in
/// the [`EventHead`] given to [`NativeDetection::on_event`].)
pub trait NativeHost {
    fn uuid(&mut self) -> String;
    fn get(&mut self, path: &str) -> Option<Value>;
    fn get_str(&mut self, path: &str) -> Option<String>;
    fn len(&mut self, path: &str) -> Option<u32>;
    fn get_many(&mut self, paths: &[String]) -> Vec<Option<Value>>;
    fn get_strs(&mut self, paths: &[String]) -> Vec<Option<String>>;
    fn to_json(&mut self) -> String;

    fn state_get(&mut self, key: &str) -> Option<Vec<u8>>;
    fn state_set(&mut self, key: &str, value: &[u8], ttl_ms: u64);
    fn state_remove(&mut self, key: &str);
    fn state_count(&mut self, key: &str, window_ms: u64) -> u32;
    fn state_peek_count(&mut self, key: &str, window_ms: u64) -> u32;
    fn state_distinct(&mut self, key: &str, member: &str, window_ms: u64) -> u32;
    fn state_peek_distinct(&mut self, key: &str, window_ms: u64) -> Vec<String>;
    fn state_last_seen(&mut self, key: &str, value: &str, ttl_ms: u64) -> Option<(String, i64)>;
    fn state_once_per(&mut self, key: &str, window_ms: u64) -> bool;

    fn log(&mut self, level: Level, message: &str);
}

type HostPtr = *mut (dyn NativeHost + 'static);

std::thread_local! {
    static HOST: Cell<Option<HostPtr>> = const { Cell::new(None) };
}

/// Runs `f` with `host` answering this thread's imports; the previous host
/// (if any) is restored afterwards, also on panic.
pub fn with_host<R>(host: &mut dyn NativeHost, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<HostPtr>);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOST.with(|h| h.set(self.0));
        }
    }
    // SAFETY: only the lifetime is erased; the pointer is removed from the
    // thread-local (by `Restore`) before `host`'s borrow ends.
    let ptr: HostPtr = unsafe { core::mem::transmute::<*mut (dyn NativeHost + '_), HostPtr>(host) };
    let _restore = Restore(HOST.with(|h| h.replace(Some(ptr))));
    f()
}

/// Calls the installed host; panics outside [`with_host`].
pub(crate) fn with<R>(f: impl FnOnce(&mut dyn NativeHost) -> R) -> R {
    let ptr = HOST.with(|h| h.get()).expect("oktawatch-guest: no NativeHost installed (call inside native::with_host)");
    // SAFETY: the pointer is live for the `with_host` call in progress on this
    // thread, and the SDK never calls the host from inside a host method, so
    // this is the only reference to it for the duration of `f`.
    f(unsafe { &mut *ptr })
}

/// The event of the call in progress, as the harness's host sees it.
#[derive(Clone, Copy)]
pub struct CurrentEvent<'a>(PhantomData<&'a ()>);

/// A detection compiled into the harness: `describe`, `configure` and
/// `on-event` of the contract, as methods.
pub trait NativeDetection {
    fn describe(&self) -> DetectionInfo;
    /// Builds the detection from its config: every declared key with its
    /// value (checked as the host checks it) or default.
    fn configure(&mut self, config: Vec<(String, ConfigValue)>) -> Result<(), String>;
    /// One event: must be called inside [`with_host`], whose host answers for the event.
    fn on_event(&mut self, head: EventHead) -> Vec<WitAlert>;
}

/// What `export_detection!` hands out natively.
pub struct Instance<D: Detection> {
    slot: RefCell<Option<D>>,
}

impl<D: Detection> Instance<D> {
    pub fn new() -> Self {
        Instance { slot: RefCell::new(None) }
    }
}

impl<D: Detection> Default for Instance<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: Detection> NativeDetection for Instance<D> {
    fn describe(&self) -> DetectionInfo {
        D::info().into_wit()
    }
    fn configure(&mut self, config: Vec<(String, ConfigValue)>) -> Result<(), String> {
        crate::rt::configure::<D>(&self.slot, config)
    }
    fn on_event(&mut self, head: EventHead) -> Vec<WitAlert> {
        crate::rt::on_event::<D>(&self.slot, CurrentEvent(PhantomData), head)
    }
}
