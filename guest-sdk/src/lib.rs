//! Write oktawatch detections in plain Rust.
//!
//! A detection is a type that implements [`Detection`], exported with
//! [`export_detection!`] and built for `wasm32-unknown-unknown`. The host
//! parses each Okta event once; [`Event`] reads fields from it on demand
//! (typed accessors for the common ones, [`Event::str`] / [`Event::get`] for
//! any dotted path). State lives in the host on the event's own clock
//! (`published`), so replays and tests are exact: see [`state`].
//!
//! ```ignore
//! use oktawatch_guest::prelude::*;
//!
//! struct ApiTokenCreated;
//!
//! impl Detection for ApiTokenCreated {
//!     fn info() -> Info {
//!         Info::new("okta-api-token-created", "Okta API token created")
//!             .severity(Severity::Medium)
//!             .mitre(&["T1098"])
//!             .event_types(&["system.api_token.create"])
//!     }
//!     fn new(_config: &Config) -> Result<Self, String> { Ok(Self) }
//!     fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
//!         alerts.push(Alert::new("API token created").field("actor", event.actor().alternate_id()));
//!     }
//! }
//!
//! export_detection!(ApiTokenCreated);
//! ```

pub mod config;
pub mod event;
pub mod geo;
pub mod okta;
pub mod state;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit-0.1",
        world: "detection",
        pub_export_macro: true,
        export_macro_name: "__export_detection_wit",
        default_bindings_module: "oktawatch_guest::bindings",
    });
}

pub use bindings::oktawatch::detection::types::{Severity, Value};
pub use config::Config;
pub use event::{Actor, Client, Event, Geo, Outcome, SecurityContext, Target};

/// Everything a detection usually needs.
pub mod prelude {
    pub use crate::config::Config;
    pub use crate::event::{Actor, Client, Event, Geo, Outcome, SecurityContext, Target};
    pub use crate::geo::{distance_km, speed_kmh};
    pub use crate::log;
    pub use crate::okta;
    pub use crate::state;
    pub use crate::time::{days, hours, minutes, seconds};
    pub use crate::{Alert, Alerts, Detection, Info, Severity, Value, export_detection};
}

/// Durations in milliseconds, the unit of every window and TTL.
pub mod time {
    pub const fn seconds(n: u64) -> u64 {
        n * 1_000
    }
    pub const fn minutes(n: u64) -> u64 {
        n * 60_000
    }
    pub const fn hours(n: u64) -> u64 {
        n * 3_600_000
    }
    pub const fn days(n: u64) -> u64 {
        n * 86_400_000
    }
}

/// A detection: who it is, how it is configured, what it does with an event.
pub trait Detection: Sized + 'static {
    /// Id, title, severity, MITRE ids and the event types to receive.
    fn info() -> Info;
    /// Builds the detection from its section of the host config (may be empty).
    fn new(config: &Config) -> Result<Self, String>;
    /// Looks at one event of a subscribed type; pushes zero or more alerts.
    fn on_event(&mut self, event: &Event, alerts: &mut Alerts);
}

/// The alerts produced for one event.
pub type Alerts = Vec<Alert>;

/// Who a detection is (see [`Detection::info`]).
#[derive(Clone, Debug)]
pub struct Info {
    id: String,
    title: String,
    version: String,
    severity: Severity,
    mitre: Vec<String>,
    description: String,
    event_types: Vec<String>,
    config: Vec<config::Key>,
}

impl Info {
    pub fn new(id: &str, title: &str) -> Self {
        Info {
            id: id.to_string(),
            title: title.to_string(),
            version: "1.0.0".to_string(),
            severity: Severity::Medium,
            mitre: Vec::new(),
            description: String::new(),
            event_types: Vec::new(),
            config: Vec::new(),
        }
    }
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self
    }
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
    pub fn mitre(mut self, ids: &[&str]) -> Self {
        self.mitre = ids.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_string();
        self
    }
    /// Exact event types or `prefix.*` patterns; none = every event.
    pub fn event_types(mut self, types: &[&str]) -> Self {
        self.event_types = types.iter().map(|s| s.to_string()).collect();
        self
    }

    #[doc(hidden)]
    pub fn into_wit(self) -> bindings::DetectionInfo {
        bindings::DetectionInfo {
            id: self.id,
            title: self.title,
            version: self.version,
            severity: self.severity,
            mitre: self.mitre,
            description: self.description,
            event_types: self.event_types,
        }
    }
}

/// An alert under construction.
#[derive(Clone, Debug)]
pub struct Alert {
    title: String,
    severity: Option<Severity>,
    dedup_key: Option<String>,
    context: Vec<(String, String)>,
    mitre: Vec<String>,
}

impl Alert {
    pub fn new(title: impl Into<String>) -> Self {
        Alert { title: title.into(), severity: None, dedup_key: None, context: Vec::new(), mitre: Vec::new() }
    }
    /// Overrides the detection's default severity for this alert.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
    /// Alerts with the same key are sent once per suppression window, with a count.
    pub fn dedup(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }
    /// A name/value shown with the alert; `None` values are left out.
    pub fn field(mut self, name: &str, value: impl FieldValue) -> Self {
        if let Some(v) = value.into_field() {
            self.context.push((name.to_string(), v));
        }
        self
    }
    /// Overrides the detection's MITRE ids for this alert.
    pub fn mitre(mut self, ids: &[&str]) -> Self {
        self.mitre = ids.iter().map(|s| s.to_string()).collect();
        self
    }

    #[doc(hidden)]
    pub fn into_wit(self) -> bindings::Alert {
        bindings::Alert {
            title: self.title,
            severity: self.severity,
            dedup_key: self.dedup_key,
            context: self.context,
            mitre: self.mitre,
        }
    }
}

/// What [`Alert::field`] accepts: strings, numbers, booleans, and options of them.
pub trait FieldValue {
    fn into_field(self) -> Option<String>;
}
impl FieldValue for String {
    fn into_field(self) -> Option<String> {
        Some(self)
    }
}
impl FieldValue for &String {
    fn into_field(self) -> Option<String> {
        Some(self.clone())
    }
}
impl FieldValue for &str {
    fn into_field(self) -> Option<String> {
        Some(self.to_string())
    }
}
impl<T: FieldValue> FieldValue for Option<T> {
    fn into_field(self) -> Option<String> {
        self.and_then(FieldValue::into_field)
    }
}
macro_rules! display_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn into_field(self) -> Option<String> { Some(self.to_string()) }
        }
    )*};
}
display_field!(u32, u64, i32, i64, usize, f64, bool);

/// Writes a line to the host's log, tagged with this detection's id (rate-limited by the host).
pub mod log {
    use crate::imports::{Level, log};
    pub fn debug(message: &str) {
        log(Level::Debug, message)
    }
    pub fn info(message: &str) {
        log(Level::Info, message)
    }
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }
    pub fn error(message: &str) {
        log(Level::Error, message)
    }
}

/// Glue between the exported WIT functions and a [`Detection`]; used by [`export_detection!`].
#[doc(hidden)]
pub mod rt {
    use super::*;
    use core::cell::RefCell;

    pub fn configure<D: Detection>(slot: &RefCell<Option<D>>, text: &str) -> Result<(), String> {
        let config = Config::for_keys(text, D::info().config_keys())?;
        *slot.borrow_mut() = Some(D::new(&config)?);
        Ok(())
    }

    pub fn on_event<D: Detection>(slot: &RefCell<Option<D>>, raw: crate::imports::Raw<'_>) -> Vec<bindings::Alert> {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            let defaults = Config::for_keys("", D::info().config_keys()).expect("no section, no problem");
            match D::new(&defaults) {
                Ok(d) => *slot = Some(d),
                Err(e) => panic!("detection cannot start with its default config: {e}"),
            }
        }
        let detection = slot.as_mut().expect("initialized above");
        let event = Event::new(raw);
        let mut alerts = Vec::new();
        detection.on_event(&event, &mut alerts);
        alerts.into_iter().map(Alert::into_wit).collect()
    }
}

/// Exports a [`Detection`] as the component's `describe`, `configure` and `on-event`.
#[cfg(not(all(feature = "native", not(target_arch = "wasm32"))))]
#[macro_export]
macro_rules! export_detection {
    ($detection:ty) => {
        const _: () = {
            ::std::thread_local! {
                static __OKTAWATCH_DETECTION: ::core::cell::RefCell<Option<$detection>> =
                    const { ::core::cell::RefCell::new(None) };
            }
            struct __OktawatchExport;
            impl $crate::bindings::Guest for __OktawatchExport {
                fn describe() -> $crate::bindings::DetectionInfo {
                    <$detection as $crate::Detection>::info().into_wit()
                }
                fn configure(config: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                    __OKTAWATCH_DETECTION.with(|slot| $crate::rt::configure::<$detection>(slot, &config))
                }
                fn on_event(event: &$crate::bindings::OktaEvent) -> ::std::vec::Vec<$crate::bindings::Alert> {
                    __OKTAWATCH_DETECTION.with(|slot| $crate::rt::on_event::<$detection>(slot, event))
                }
            }
            $crate::bindings::__export_detection_wit!(__OktawatchExport);
        };
    };
}

/// Exports a [`Detection`] as the component's `describe`, `configure` and `on-event`.
///
/// Natively (feature `native`, non-wasm targets) it exports nothing and
/// defines `pub fn native_detection() -> Box<dyn oktawatch_guest::native::NativeDetection>`
/// in the detection's crate instead, so many detections link into one binary.
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
#[macro_export]
macro_rules! export_detection {
    ($detection:ty) => {
        /// This crate's detection, for a native harness (see `oktawatch_guest::native`).
        pub fn native_detection() -> ::std::boxed::Box<dyn $crate::native::NativeDetection> {
            ::std::boxed::Box::new($crate::native::Instance::<$detection>::new())
        }
    };
}

// Last in the file: the code above keeps its line numbers (they are in the
// wasm's panic locations), so the pack's .wasm files stay byte-identical.
mod imports;
#[cfg(all(feature = "native", not(target_arch = "wasm32")))]
pub mod native;
