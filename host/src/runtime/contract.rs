//! The two contract versions a detection may speak, behind one call site.
//!
//! A component's version is read from its imports (`oktawatch:detection/…@0.2.0`
//! or `@0.1.0`; one version per component). Both worlds are linked into the
//! same [`wasmtime::component::Linker`] (their interfaces have versioned
//! names), and [`Pre`] / [`Bindings`] hold one of the two generated worlds.
//! Everything a 0.1 component returns is turned into the 0.2 types.

use super::bindings::{self, oktawatch::detection::types};
use super::host::{EventRef, HostCtx};
use super::loader::{LoadError, PACKAGE};
use super::v01;
use wasmtime::component::{Component, InstancePre, Resource};
use wasmtime::{Engine, Store};

/// A contract version this host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    #[serde(rename = "0.1")]
    V01,
    #[serde(rename = "0.2")]
    V02,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V01 => "0.1",
            Version::V02 => "0.2",
        }
    }
}

/// The version of the contract a component imports. The loader has checked
/// that every import is one of ours at a version we speak; a component that
/// imports both versions is refused. One that imports none of our
/// interfaces (possible only for a component importing no resource) is
/// taken as 0.2.
pub fn version_of(engine: &Engine, component: &Component) -> Result<Version, LoadError> {
    let (mut v01, mut v02) = (false, false);
    for (name, _) in component.component_type().imports(engine) {
        let Some(rest) = name.strip_prefix(PACKAGE) else { continue };
        let version = rest.rsplit_once('@').map(|(_, v)| v).unwrap_or("");
        if version.starts_with("0.1.") {
            v01 = true;
        } else if version.starts_with("0.2.") {
            v02 = true;
        }
    }
    match (v01, v02) {
        (true, true) => Err(LoadError::ContractVersion { found: "both 0.1 and 0.2 of the contract".into() }),
        (true, false) => Ok(Version::V01),
        _ => Ok(Version::V02),
    }
}

/// A component ready to instantiate, as one of the two worlds (cheap to
/// clone: a reload configures the same component again).
#[derive(Clone)]
pub enum Pre {
    V02(bindings::DetectionPre<HostCtx>),
    V01(v01::DetectionPre<HostCtx>),
}

impl Pre {
    /// Checks the exports against the world of `version`.
    pub fn new(pre: InstancePre<HostCtx>, version: Version) -> wasmtime::Result<Pre> {
        Ok(match version {
            Version::V02 => Pre::V02(bindings::DetectionPre::new(pre)?),
            Version::V01 => Pre::V01(v01::DetectionPre::new(pre)?),
        })
    }

    pub fn version(&self) -> Version {
        match self {
            Pre::V02(_) => Version::V02,
            Pre::V01(_) => Version::V01,
        }
    }

    pub fn component(&self) -> &Component {
        match self {
            Pre::V02(p) => p.instance_pre().component(),
            Pre::V01(p) => p.instance_pre().component(),
        }
    }

    pub fn instantiate(&self, store: &mut Store<HostCtx>) -> wasmtime::Result<Bindings> {
        Ok(match self {
            Pre::V02(p) => Bindings::V02(p.instantiate(store)?),
            Pre::V01(p) => Bindings::V01(p.instantiate(store)?),
        })
    }
}

/// An instance's exports, as one of the two worlds.
pub enum Bindings {
    V02(bindings::Detection),
    V01(v01::Detection),
}

/// What `configure` is given: 0.2 gets the checked values, 0.1 the TOML text.
pub struct ConfigInput<'a> {
    pub toml: &'a str,
    pub values: &'a [(String, types::ConfigValue)],
}

impl Bindings {
    pub fn describe(&self, store: &mut Store<HostCtx>) -> wasmtime::Result<types::DetectionInfo> {
        match self {
            Bindings::V02(b) => b.call_describe(store),
            Bindings::V01(b) => Ok(v01::info(b.call_describe(store)?)),
        }
    }

    pub fn configure(&self, store: &mut Store<HostCtx>, config: &ConfigInput<'_>) -> wasmtime::Result<Result<(), String>> {
        match self {
            Bindings::V02(b) => b.call_configure(store, config.values),
            Bindings::V01(b) => b.call_configure(store, config.toml),
        }
    }

    pub fn on_event(
        &self,
        store: &mut Store<HostCtx>,
        event: Resource<EventRef>,
        head: &types::EventHead,
    ) -> wasmtime::Result<Vec<types::Alert>> {
        match self {
            Bindings::V02(b) => b.call_on_event(store, event, head),
            Bindings::V01(b) => Ok(b.call_on_event(store, event)?.into_iter().map(v01::alert).collect()),
        }
    }
}

/// The head of an event (0.2's second argument of `on-event`) at event time `now`.
pub fn head(ev: &crate::event::Event, now: i64) -> types::EventHead {
    types::EventHead {
        event_type: ev.event_type().to_string(),
        published_ms: now,
        outcome_result: ev.outcome_result().map(str::to_string),
        actor_alternate_id: ev.actor_alternate_id().map(str::to_string),
        client_ip: ev.client_ip().map(str::to_string),
    }
}
