//! Figure 2: per-event sandbox cost. The whole pack runs natively (its
//! crates compiled into this binary through the guest SDK's native backend,
//! see [`crate::native`]) and as wasm in the host runtime, on the same events.
//!
//! Costs are CPU time inside the detection calls (the runtime's counters,
//! which time each detection's calls on a page together; the native calls
//! timed the same way, on the same pages), summed over detections, per
//! corpus event. Both sides must raise the same alerts.

use crate::native::Native;
use oktawatch::event::Event;
use oktawatch::runtime::state::StateStore;
use oktawatch::runtime::{Limits, Runtime};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Events per page, as `oktawatch replay` reads a file.
const PAGE: usize = 100;

pub struct Figures {
    pub events: usize,
    pub detections: usize,
    pub native_ns: f64,
    pub wasm_ns: f64,
    pub alerts_native: usize,
    pub alerts_wasm: usize,
}

fn read_events(path: &Path, n: usize) -> Vec<Arc<Event>> {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    f.lines().take(n).map(|l| Arc::new(Event::parse(&l.unwrap()).unwrap())).collect()
}

fn state_store() -> Arc<StateStore> {
    Arc::new(StateStore::in_memory(100_000, 64 << 20))
}

pub fn measure(corpus: &Path, pack: &Path, n: usize) -> Figures {
    let events = read_events(corpus, n);

    // Native: the pack compiled in, in pages; each detection's
    // calls on a page timed together, the events it gets chosen before.
    let store = state_store();
    let mut natives = Native::pack(&store);
    let mut native_per: BTreeMap<String, (u64, u64)> = BTreeMap::new(); // id → (ns, alerts)
    for page in events.chunks(PAGE) {
        for d in natives.iter_mut() {
            let mine: Vec<&Arc<Event>> = page.iter().filter(|ev| d.wants(ev)).collect();
            if mine.is_empty() {
                continue;
            }
            let t = Instant::now();
            let alerts: usize = mine.into_iter().map(|ev| d.on_event(ev).len()).sum();
            let ns = t.elapsed().as_nanos() as u64;
            let e = native_per.entry(d.info.id.clone()).or_default();
            e.0 += ns;
            e.1 += alerts as u64;
        }
    }

    // The same pack as wasm, in the host runtime, on the same pages.
    let rt = Arc::new(Runtime::new(Limits::default(), state_store(), BTreeMap::new(), None).unwrap());
    oktawatch::runtime::watch::Folder::load(rt.clone(), pack).unwrap();
    let mut alerts_wasm = 0;
    for page in events.chunks(PAGE) {
        alerts_wasm += rt.process(page).alerts.len();
    }
    let set = rt.current();
    let wasm_per: BTreeMap<String, (u64, u64)> = set
        .detections
        .iter()
        .map(|d| (d.info.id.clone(), (d.counters.nanos.load(Ordering::Relaxed), d.counters.alerts.load(Ordering::Relaxed))))
        .collect();

    let per_event = |ns: u64| ns as f64 / events.len() as f64;
    let native_total: u64 = native_per.values().map(|v| v.0).sum();
    let alerts_native: u64 = native_per.values().map(|v| v.1).sum();
    let wasm_total: u64 = wasm_per.values().map(|v| v.0).sum();
    let native_ids: Vec<&String> = natives.iter().map(|d| &d.info.id).collect();
    let wasm_ids: Vec<&String> = wasm_per.keys().collect();
    if native_ids != wasm_ids {
        eprintln!("  the native and wasm packs differ: {native_ids:?} vs {wasm_ids:?}");
    }
    let mut rows: Vec<(&String, u64, u64, u64, u64)> = wasm_per
        .iter()
        .map(|(id, &(wns, wal))| {
            let (nns, nal) = native_per.get(id).copied().unwrap_or_default();
            (id, wns, nns, wal, nal)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    let shown = std::env::var("BENCH_SANDBOX_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    for (id, wns, nns, wal, nal) in rows.iter().take(shown) {
        eprintln!(
            "    {id}: wasm {:.2} µs/event, native {:.2} µs/event ({:.1}×); alerts {wal} wasm, {nal} native",
            per_event(*wns) / 1e3,
            per_event(*nns) / 1e3,
            *wns as f64 / (*nns).max(1) as f64
        );
    }
    for (id, _, _, wal, nal) in rows.iter().filter(|r| r.3 != r.4) {
        eprintln!("    alert counts differ for {id}: {wal} wasm, {nal} native");
    }
    let f = Figures {
        events: events.len(),
        detections: natives.len(),
        native_ns: per_event(native_total),
        wasm_ns: per_event(wasm_total),
        alerts_native: alerts_native as usize,
        alerts_wasm,
    };
    eprintln!(
        "  pack ({} detections, {} events): native {:.0} ns/event ({} alerts); wasm {:.0} ns/event ({} alerts); {:.2}×",
        f.detections,
        f.events,
        f.native_ns,
        f.alerts_native,
        f.wasm_ns,
        f.alerts_wasm,
        f.wasm_ns / f.native_ns
    );
    f
}
