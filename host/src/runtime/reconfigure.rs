//! Live reload of the detections' config sections (`[detections.config.<id>]`).
//!
//! [`Runtime::reconfigure`] takes the sections of a config file read again.
//! Every loaded detection whose section text changed is checked again (its
//! declared keys and the host keys, [`super::host_keys`]) and configured
//! again in a fresh instance; it keeps its state (the same per-id state,
//! persisted in the redb file), its counters and any quarantine. It is all
//! or nothing: when any section is refused (a check, or `configure` itself)
//! nothing changes and every problem is returned. Otherwise the new set is
//! swapped in as the folder's hot reload does: a page already running
//! finishes on the set it started with, the next page runs on the new one,
//! so no event is run twice or skipped. The sections are kept for the
//! detections loaded later (a `.wasm` dropped in or replaced).

use super::quarantine::Slot;
use super::{DetectionSet, Loaded, Runtime, config_schema};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

/// What a reload did to one detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Configured again with its new section.
    Reconfigured,
    /// … and turned on (`enabled` from false to true).
    Enabled,
    /// … and turned off (`enabled = false`): no longer indexed or called.
    Disabled,
}

impl Change {
    pub fn describe(self) -> &'static str {
        match self {
            Change::Reconfigured => "",
            Change::Enabled => " (enabled)",
            Change::Disabled => " (disabled: enabled = false)",
        }
    }
}

/// Config reloads, for the metrics.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    pub ok: AtomicU64,
    pub refused: AtomicU64,
}

impl Runtime {
    /// The section text (TOML) each detection id is given, as in force now.
    pub fn configs(&self) -> BTreeMap<String, String> {
        self.configs.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes the sections of a reloaded config (per id, TOML text; an id
    /// left out has an empty section). `refused`: the problems found in the
    /// rest of the file; the sections are checked all the same, so that every
    /// problem is reported at once. Returns the detections configured again,
    /// in id order, or every problem (nothing changed then).
    pub fn reconfigure(
        &self,
        configs: BTreeMap<String, String>,
        refused: Vec<String>,
    ) -> Result<Vec<(String, Change)>, Vec<String>> {
        let set = self.current();
        let mut problems = refused;
        let mut changed = Vec::new();
        let mut next = Vec::with_capacity(set.detections.len());
        for det in &set.detections {
            let text = configs.get(&det.info.id).cloned().unwrap_or_default();
            if text == det.config {
                next.push(det.clone());
                continue;
            }
            match self.configured_again(det, text) {
                Ok(new) => {
                    let change = match (det.host.enabled, new.host.enabled) {
                        (false, true) => Change::Enabled,
                        (true, false) => Change::Disabled,
                        _ => Change::Reconfigured,
                    };
                    changed.push((det.info.id.clone(), change));
                    next.push(new);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        *self.configs.write().unwrap_or_else(|p| p.into_inner()) = configs;
        if !changed.is_empty() {
            self.install(DetectionSet::new(next));
        }
        Ok(changed)
    }

    /// A new version of `det` with the section `config`: its component,
    /// state and counters; its failures and quarantine as they stand.
    fn configured_again(&self, det: &Arc<Loaded>, config: String) -> Result<Arc<Loaded>, Vec<String>> {
        let id = &det.info.id;
        let v02 = det.pre.version() == super::contract::Version::V02;
        let (values, host) = config_schema::check_config(id, &det.info.config, v02, &config)?;
        let slot = {
            let old = det.slot.lock().unwrap_or_else(|p| p.into_inner());
            Slot {
                instance: None,
                minute: old.minute,
                failures: old.failures.clone(),
                quarantined_until: old.quarantined_until,
                backoff: old.backoff,
                last_failure: old.last_failure.clone(),
            }
        };
        let loaded = Arc::new(Loaded {
            info: det.info.clone(),
            source: det.source.clone(),
            sha256: det.sha256.clone(),
            counters: det.counters.clone(),
            host,
            config,
            values,
            pre: det.pre.clone(),
            uses_wasi: det.uses_wasi,
            state: det.state.clone(),
            slot: Mutex::new(slot),
        });
        // Configured now, so that a section `configure` refuses is refused here.
        let instance = self
            .instantiate(&loaded)
            .map_err(|f| vec![format!("detections.config.{id}: the detection refused it ({f})")])?;
        if loaded.host.enabled {
            loaded.slot.lock().unwrap().instance = Some(instance);
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::runtime::state::StateStore;
    use crate::runtime::{Limits, LoadOptions, loader};
    use std::path::Path;

    /// The built-in pack's detection `name`, loaded with `config` as its section.
    fn runtime_with(name: &str, config: &str) -> (Runtime, Arc<Loaded>) {
        let file = crate::pack::FILES.iter().find(|f| f.name.replace('_', "-") == name).expect("in the pack");
        let mut configs = BTreeMap::new();
        let rt = Runtime::new(Limits::default(), Arc::new(StateStore::in_memory(1000, 1 << 20)), BTreeMap::new(), None).unwrap();
        let compiled = loader::compile_bytes(rt.engine(), file.wasm, None).unwrap();
        let det = rt.load_compiled(compiled, Path::new(file.name), &LoadOptions { fresh_state: false, config: Some(config.into()) }).unwrap();
        configs.insert(det.info.id.clone(), config.to_string());
        *rt.configs.write().unwrap() = configs;
        rt.install(DetectionSet::new(vec![det.clone()]));
        (rt, det)
    }

    fn failure(i: usize, user: &str) -> Arc<Event> {
        let text = format!(
            r#"{{"uuid":"00000000-0000-4000-8000-{i:012}","published":"2026-03-02T09:00:{i:02}.000Z","eventType":"user.session.start",
               "actor":{{"alternateId":"{user}","type":"User"}},"client":{{"ipAddress":"203.0.113.9"}},
               "outcome":{{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}}}}"#
        );
        Arc::new(Event::parse(&text).unwrap())
    }

    #[test]
    fn a_changed_section_keeps_state_and_counters_and_a_bad_one_changes_nothing() {
        if crate::pack::FILES.is_empty() {
            return;
        }
        let (rt, before) = runtime_with("okta-brute-force-user", "threshold = 6\n");
        let out = rt.process(&(0..3).map(|i| failure(i, "victim@example.com")).collect::<Vec<_>>());
        assert!(out.alerts.is_empty());
        // Unchanged sections: nothing is configured again.
        assert_eq!(rt.reconfigure(rt.configs(), vec![]), Ok(vec![]));
        assert!(Arc::ptr_eq(&rt.current().detections[0], &before));
        // A refused section: every problem, and the old one stays in force.
        let mut bad = BTreeMap::new();
        bad.insert(before.info.id.clone(), "threshold = 'five'\nthreshhold = 5\nenabled = 1\n".to_string());
        let problems = rt.reconfigure(bad, vec![]).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(Arc::ptr_eq(&rt.current().detections[0], &before));
        assert_eq!(rt.configs()[&before.info.id], "threshold = 6\n");
        // threshold 5: the 3 failures counted before the reload count after it.
        let mut good = BTreeMap::new();
        good.insert(before.info.id.clone(), "threshold = 5\n".to_string());
        assert_eq!(rt.reconfigure(good, vec![]), Ok(vec![(before.info.id.clone(), Change::Reconfigured)]));
        let after = rt.current().detections[0].clone();
        assert!(!Arc::ptr_eq(&after, &before) && Arc::ptr_eq(&after.counters, &before.counters));
        let out = rt.process(&(3..5).map(|i| failure(i, "victim@example.com")).collect::<Vec<_>>());
        assert_eq!(out.alerts.len(), 1, "the count carried across the reload");
        assert_eq!(after.counters.events.load(std::sync::atomic::Ordering::Relaxed), 5);
        // Turned off: in the set, called no more.
        let mut off = BTreeMap::new();
        off.insert(before.info.id.clone(), "threshold = 5\nenabled = false\n".to_string());
        assert_eq!(rt.reconfigure(off, vec![]), Ok(vec![(before.info.id.clone(), Change::Disabled)]));
        assert_eq!(rt.current().detections[0].status(), "disabled");
        rt.process(&(5..9).map(|i| failure(i, "other@example.com")).collect::<Vec<_>>());
        assert_eq!(after.counters.events.load(std::sync::atomic::Ordering::Relaxed), 5);
    }
}
