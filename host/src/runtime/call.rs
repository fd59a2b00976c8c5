//! Running a page of events: which events each detection gets (its event
//! types, then its prefilters), each event's head built once for all
//! ([`Page`]), the detections run in parallel, each on its events in event
//! order; one call of `on-event` within its bounds, and why a call failed
//! ([`Failure`]).

use super::bindings;
use super::bindings::oktawatch::detection::types::EventHead;
use super::host::{self, EventRef, HostCtx};
use super::quarantine::Slot;
use super::{Disabled, Loaded, MAX_REASON, Runtime, contract, cut, prefilter, wasi};
use crate::event::Event;
use rayon::prelude::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use wasmtime::component::Resource;
use wasmtime::{Store, Trap};

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Trap(String),
    Timeout,
    Limit(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Trap(m) => write!(f, "trap: {m}"),
            Failure::Timeout => write!(f, "timeout: over its time budget for one event"),
            Failure::Limit(m) => write!(f, "limit: {m}"),
        }
    }
}

/// One alert raised for one event.
pub struct Raised {
    pub event_index: usize,
    pub detection: Arc<Loaded>,
    pub alert: bindings::Alert,
}

/// What running a page produced.
#[derive(Default)]
pub struct Outcome {
    pub alerts: Vec<Raised>,
    pub disabled: Vec<Disabled>,
    /// Every failed call: event index, detection id, why.
    pub failures: Vec<(usize, String, Failure)>,
}

impl Runtime {
    /// Runs one detection on events outside the installed set (`oktawatch test`).
    pub fn run_one(&self, det: &Arc<Loaded>, events: &[Arc<Event>]) -> Outcome {
        if !det.host.enabled {
            return Outcome::default();
        }
        let index = prefilter::Index::new([det.info.prefilters.as_slice()]);
        let mut idx = Vec::new();
        for (i, ev) in events.iter().enumerate().filter(|(_, e)| det.subscribes(e.event_type())) {
            if index.passes(0, &mut index.fields(ev)) {
                idx.push(i);
            } else {
                det.counters.prefiltered.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut wanted = vec![false; events.len()];
        idx.iter().for_each(|&i| wanted[i] = true);
        let page = Page::new(events, &wanted);
        self.run_detection(det, &"".into(), &page, &idx)
    }

    /// Runs every subscribed detection on a page of events, with state outside any org's namespace.
    pub fn process(&self, events: &[Arc<Event>]) -> Outcome {
        self.process_for("", events)
    }

    /// Runs every subscribed detection on a page of one org's events; the
    /// detections' state keys live under the org's name.
    pub fn process_for(&self, org: &str, events: &[Arc<Event>]) -> Outcome {
        let org: Arc<str> = org.into();
        let set = self.current();
        if set.detections.is_empty() {
            return Outcome::default();
        }
        // Which events each detection gets: its event types, then its prefilters.
        let mut work: Vec<Vec<usize>> = vec![Vec::new(); set.detections.len()];
        let mut wanted = vec![false; events.len()];
        let mut matched = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            set.matching(ev.event_type(), &mut matched);
            if matched.is_empty() {
                continue;
            }
            let mut fields = set.prefilters.fields(ev);
            for &d in &matched {
                if set.prefilters.passes(d, &mut fields) {
                    work[d].push(i);
                    wanted[i] = true;
                } else {
                    set.detections[d].counters.prefiltered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let page = Page::new(events, &wanted);
        let results: Vec<Outcome> = work
            .par_iter()
            .enumerate()
            .filter(|(_, w)| !w.is_empty())
            .map(|(d, w)| self.run_detection(&set.detections[d], &org, &page, w))
            .collect();
        let mut out = Outcome::default();
        for r in results {
            out.alerts.extend(r.alerts);
            out.disabled.extend(r.disabled);
            out.failures.extend(r.failures);
        }
        // Event order first; detections in id order within an event.
        out.alerts.sort_by(|a, b| a.event_index.cmp(&b.event_index).then(a.detection.info.id.cmp(&b.detection.info.id)));
        out
    }

    fn run_detection(&self, det: &Arc<Loaded>, org: &Arc<str>, page: &Page<'_>, indexes: &[usize]) -> Outcome {
        let mut out = Outcome::default();
        let mut slot = det.slot.lock().unwrap();
        let mut page_alerts = 0usize;
        // Timed for the page, not per call (two clock reads a call were ~2%
        // of a replay's CPU): the sum is the same, and the loop's own work
        // around the calls is small.
        let started = Instant::now();
        let mut calls = 0u64;
        for &i in indexes {
            let ev = &page.events[i];
            if slot.in_quarantine(&det.info.id) {
                det.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let result = self.call(det, &mut slot, org, ev, page.head(i));
            calls += 1;
            // Alerts within bounds are kept even when the call broke a limit.
            let (mut alerts, mut failure) = match result {
                Ok(alerts) => (alerts, None),
                Err((failure, partial)) => (partial, Some(failure)),
            };
            let spent = self.limits.spend_budget(&mut slot, &mut page_alerts, &mut alerts);
            if let Some(f) = &spent {
                slot.instance = None;
                failure = Some(f.clone());
            }
            det.counters.alerts.fetch_add(alerts.len() as u64, Ordering::Relaxed);
            out.alerts.extend(alerts.into_iter().map(|alert| Raised { event_index: i, detection: det.clone(), alert }));
            if let Some(failure) = failure {
                self.failed(det, &mut slot, i, ev, failure, spent.is_some(), &mut out);
            }
        }
        det.counters.nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        det.counters.events.fetch_add(calls, Ordering::Relaxed);
        out
    }

    /// One call of `on-event`; on failure the instance is dropped. Alerts
    /// within bounds are kept even when the call broke a limit.
    #[allow(clippy::type_complexity)]
    fn call(
        &self,
        det: &Loaded,
        slot: &mut Slot,
        org: &Arc<str>,
        ev: &Arc<Event>,
        head: &EventHead,
    ) -> Result<Vec<bindings::Alert>, (Failure, Vec<bindings::Alert>)> {
        if slot.instance.is_none() {
            slot.instance = Some(self.instantiate(det).map_err(|f| (f, Vec::new()))?);
        }
        let inst = slot.instance.as_mut().unwrap();
        inst.store.data_mut().begin_event(head.published_ms);
        inst.store.data_mut().wasi.begin_event(head.published_ms, ev.key());
        if *inst.store.data().namespace != **org {
            inst.store.data_mut().namespace = org.clone();
        }
        let rep = inst
            .store
            .data_mut()
            .table
            .push(EventRef(ev.clone()))
            .map_err(|e| (Failure::Limit(format!("resource table: {e}")), Vec::new()))?
            .rep();
        self.arm(&mut inst.store, self.limits.timeout);
        // The event stays in the host's table and is lent as a host borrow:
        // wasmtime keeps no slot of its own for it (an owned handle lowered
        // as a borrow takes a slot in the Store's host table that nothing
        // frees until the instance is dropped: a slot per call).
        let result = inst.bindings.on_event(&mut inst.store, Resource::new_borrow(rep), head);
        let _ = inst.store.data_mut().table.delete(Resource::<EventRef>::new_own(rep));
        inst.calls += 1;
        let dropped = std::mem::take(&mut inst.store.data_mut().logs_dropped);
        det.counters.logs_dropped.fetch_add(dropped, Ordering::Relaxed);
        let outcome = match result {
            Ok(alerts) => self.limits.bound_alerts(alerts),
            Err(e) => Err((classify(&inst.store, e), Vec::new())),
        };
        let recycle = outcome.is_err()
            || inst.calls >= self.limits.recycle_every
            || inst.store.data().limiter.peak_memory > inst.ready_memory.saturating_add(self.limits.recycle_memory);
        if recycle {
            det.counters.recycles.fetch_add(1, Ordering::Relaxed);
            slot.instance = None;
        }
        outcome
    }
}

/// A page of events with the head of each event some detection gets,
/// built once for all of them.
pub(super) struct Page<'a> {
    events: &'a [Arc<Event>],
    heads: Vec<Option<EventHead>>,
}

impl<'a> Page<'a> {
    /// Heads for the events marked in `wanted`. The event clock:
    /// `published`, or for an event without one the latest time seen
    /// before it on the page (0 before any).
    fn new(events: &'a [Arc<Event>], wanted: &[bool]) -> Page<'a> {
        let mut clock = i64::MIN;
        let heads = events
            .iter()
            .zip(wanted)
            .map(|(ev, &wanted)| {
                let now = ev.published_ms().unwrap_or(if clock == i64::MIN { 0 } else { clock });
                clock = clock.max(now);
                wanted.then(|| contract::head(ev, now))
            })
            .collect();
        Page { events, heads }
    }

    /// The head of event `i` (one of the wanted ones).
    fn head(&self, i: usize) -> &EventHead {
        self.heads[i].as_ref().expect("a head is built for every event a detection gets")
    }
}

/// Why a call failed, from its error and what the Store's limiter saw.
pub(super) fn classify(store: &Store<HostCtx>, e: wasmtime::Error) -> Failure {
    if let Some(hit) = &store.data().limiter.hit {
        return Failure::Limit(hit.clone());
    }
    if let Some(limit) = e.downcast_ref::<host::StateLimit>() {
        return Failure::Limit(limit.to_string());
    }
    // What the deny-all WASI refused, or a guest's own exit, without the backtrace in front.
    if let Some(denied) = e.downcast_ref::<wasi::Denied>() {
        return Failure::Trap(denied.to_string());
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Failure::Trap(format!("exited (wasi:cli/exit, status {})", exit.0));
    }
    if is_hostcall_fuel(&e) {
        return Failure::Limit(format!("hostcall data: over {} MiB moved from the guest in one call", host::HOSTCALL_FUEL >> 20));
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Failure::Timeout,
        Some(Trap::StackOverflow) => Failure::Limit("stack overflow".into()),
        Some(t) => Failure::Trap(t.to_string()),
        // The text may quote the guest (its function names in a backtrace).
        None => Failure::Trap(cut(&format!("{e:#}"), MAX_REASON)),
    }
}

/// wasmtime's hostcall fuel ran out (its error type is private: known by its message).
fn is_hostcall_fuel(e: &wasmtime::Error) -> bool {
    e.chain().any(|c| c.to_string().contains("fuel allocated for hostcalls has been exhausted"))
}
