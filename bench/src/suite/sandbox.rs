//! Figure 2: per-event sandbox cost. Three detections of the pack run
//! natively (see [`crate::native`]) and as wasm in the host runtime, on the
//! same events; then the whole pack as wasm (no native build of the pack:
//! its crates compile only against the wasm guest SDK).
//!
//! Costs are CPU time inside the detection calls (the runtime's per-call
//! counters; the native calls timed the same way), summed over detections,
//! per corpus event.

use oktawatch::event::Event;
use oktawatch::runtime::state::StateStore;
use oktawatch::runtime::{DetectionSet, LoadOptions, Limits, Runtime, loader};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub struct Figures {
    pub events: usize,
    pub native_ns: f64,
    pub wasm3_ns: f64,
    pub pack_ns: f64,
    pub pack_detections: usize,
    pub alerts_native: usize,
    pub alerts_wasm: usize,
}

fn read_events(path: &Path, n: usize) -> Vec<Arc<Event>> {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    f.lines().take(n).map(|l| Arc::new(Event::parse(&l.unwrap()).unwrap())).collect()
}

fn runtime() -> Runtime {
    Runtime::new(Limits::default(), Arc::new(StateStore::in_memory(100_000, 64 << 20)), BTreeMap::new(), None).unwrap()
}

/// Sum of the per-call CPU ns of the installed detections, per event, over `events` in pages of 1000.
fn wasm_ns(rt: &Runtime, events: &[Arc<Event>]) -> (f64, usize) {
    let mut alerts = 0;
    for page in events.chunks(1000) {
        alerts += rt.process(page).alerts.len();
    }
    let ns: u64 = rt.current().detections.iter().map(|d| d.counters.nanos.load(Ordering::Relaxed)).sum();
    (ns as f64 / events.len() as f64, alerts)
}

pub fn measure(corpus: &Path, pack: &Path, n: usize) -> Figures {
    let events = read_events(corpus, n);

    // Native: the same three detections, each call timed.
    let natives = crate::native::Native::all();
    let mut out = Vec::new();
    let mut native_total = 0u128;
    let mut clock = i64::MIN;
    for ev in &events {
        let now = ev.published_ms().unwrap_or(clock);
        clock = clock.max(now);
        for d in natives.iter().filter(|d| d.subscribes(ev.event_type())) {
            let t = Instant::now();
            d.on_event(ev, now, &mut out);
            native_total += t.elapsed().as_nanos();
        }
    }
    let native_ns = native_total as f64 / events.len() as f64;

    // The same three as wasm.
    let rt = runtime();
    let dets: Vec<_> = natives
        .iter()
        .map(|d| {
            let c = loader::compile(rt.engine(), &pack.join(format!("{}.wasm", d.id)), None).unwrap();
            rt.load_compiled(c, &pack.join(d.id), &LoadOptions { fresh_state: true, config: None }).unwrap()
        })
        .collect();
    rt.install(DetectionSet::new(dets));
    let (wasm3_ns, alerts_wasm) = wasm_ns(&rt, &events);

    // The whole pack.
    let rt = Arc::new(runtime());
    oktawatch::runtime::watch::Folder::load(rt.clone(), pack).unwrap();
    let pack_detections = rt.current().detections.len();
    let (pack_ns, _) = wasm_ns(&rt, &events);
    let set = rt.current();
    let mut per: Vec<(u64, u64, &str, u64)> = set.detections.iter().map(|d| (d.counters.nanos.load(Ordering::Relaxed), d.counters.events.load(Ordering::Relaxed), d.info.id.as_str(), d.counters.instantiations.load(Ordering::Relaxed))).collect();
    per.sort_by(|a, b| b.0.cmp(&a.0));
    for (ns, calls, id, inst) in per.iter().take(6) {
        eprintln!("    {id}: {:.1} µs/event over {calls} calls ({:.2} µs/call, {inst} instantiations)", *ns as f64 / events.len() as f64 / 1e3, *ns as f64 / (*calls).max(1) as f64 / 1e3);
    }
    eprintln!("  native 3: {native_ns:.0} ns/event ({} alerts); wasm 3: {wasm3_ns:.0} ns/event ({alerts_wasm} alerts); pack ({pack_detections}): {pack_ns:.0} ns/event", out.len());
    Figures { events: events.len(), native_ns, wasm3_ns, pack_ns, pack_detections, alerts_native: out.len(), alerts_wasm }
}
