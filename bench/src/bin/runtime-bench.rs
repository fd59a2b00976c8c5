//! Runtime figures, each against a baseline measured in the same run:
//! per-event sandbox cost with 1 and 30 trivial detections and the full
//! pack, cold start with an empty and a warm compile cache, and the time
//! from a new `.wasm` landing in the folder to the new version handling
//! events.
//!
//! `cargo run --release -p oktawatch-bench --bin runtime-bench`

use oktawatch::event::JsonValueTrait;
use oktawatch::event::Event;
use oktawatch::runtime::state::StateStore;
use oktawatch::runtime::watch::Folder;
use oktawatch::runtime::{DetectionSet, LoadOptions, Limits, Runtime, loader};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn runtime(cache: Option<&Path>) -> Arc<Runtime> {
    runtime_with(cache, Limits::default())
}

fn runtime_with(cache: Option<&Path>, limits: Limits) -> Arc<Runtime> {
    Arc::new(
        Runtime::new(
            limits,
            Arc::new(StateStore::in_memory(100_000, 64 << 20)),
            BTreeMap::new(),
            cache.map(Path::to_path_buf),
        )
        .unwrap(),
    )
}

fn corpus(n: usize) -> Vec<Arc<Event>> {
    let feed = oktawatch_emulator::demo_feed::demo_feed(chrono::Utc::now().timestamp_millis(), 50 * 60 * 1000);
    (0..n).map(|i| Arc::new(Event::parse(&feed[i % feed.len()].to_string()).unwrap())).collect()
}

/// Mean ns per event over the corpus, in pages of 1000, best of 3.
fn per_event(rt: &Runtime, events: &[Arc<Event>]) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for page in events.chunks(1000) {
            std::hint::black_box(rt.process(page));
        }
        best = best.min(t.elapsed().as_nanos() as f64 / events.len() as f64);
    }
    best
}

fn main() {
    let guests = Path::new(env!("OKTAWATCH_TEST_GUESTS"));
    let trivial = std::fs::read(guests.join("probe_trivial.wasm")).unwrap();
    let events = corpus(20_000);
    println!("# oktawatch runtime figures\n");
    println!("machine: {} cores; corpus: {} demo-feed events (~2 KB each), pages of 1000\n", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), events.len());

    // 1. Per-event cost.
    let rt = runtime(None);
    // Baseline: the trivial detection's work done natively (3 lookups on the parsed event).
    let native = |copies: usize| {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            for e in &events {
                for _ in 0..copies {
                    let ty = std::hint::black_box(e.event_type().to_string());
                    let a = e.lookup("actor.alternateId").and_then(|v| v.as_str()).map(str::to_string);
                    let ip = e.lookup("client.ipAddress").and_then(|v| v.as_str()).map(str::to_string);
                    std::hint::black_box((ty, a, ip));
                }
            }
            best = best.min(t.elapsed().as_nanos() as f64 / events.len() as f64);
        }
        best
    };
    let base = native(1);
    let base30 = native(30);
    let compiled = loader::compile_bytes(rt.engine(), &trivial, None).unwrap();
    let load_n = |n: usize| {
        let dets: Vec<_> = (0..n)
            .map(|_| rt.load_compiled(compiled.clone(), Path::new("trivial.wasm"), &LoadOptions { fresh_state: true, config: None }).unwrap())
            .collect();
        rt.install(DetectionSet::new(dets));
    };
    load_n(1);
    let one = per_event(&rt, &events);
    load_n(30);
    let thirty = per_event(&rt, &events);
    // Allocation: a fresh instance for every event (recycle_every = 1), on-demand vs pooling.
    let fresh = |pooling: Option<u32>| {
        let rt = runtime_with(None, Limits { recycle_every: 1, pooling, ..Limits::default() });
        let c = loader::compile_bytes(rt.engine(), &trivial, None).unwrap();
        let d = rt.load_compiled(c, Path::new("trivial.wasm"), &LoadOptions { fresh_state: true, config: None }).unwrap();
        rt.install(DetectionSet::new(vec![d]));
        per_event(&rt, &events[..5000])
    };
    let on_demand = fresh(None);
    let pooled = fresh(Some(64));
    let pack_dir = tempfile::tempdir().unwrap();
    oktawatch::pack::export(pack_dir.path()).unwrap();
    let rt_pack = runtime(None);
    Folder::load(rt_pack.clone(), pack_dir.path()).unwrap();
    let n_pack = rt_pack.current().detections.len();
    let pack = per_event(&rt_pack, &events);
    println!("| figure | value | baseline | ratio |");
    println!("|---|---|---|---|");
    println!("| per event, 1 trivial detection (3 field reads) vs the same reads native | {:.2} µs | {:.3} µs | {:.1} |", one / 1e3, base / 1e3, one / base);
    println!("| per event, 30 trivial detections (wall, 2 cores) vs native ×30 | {:.2} µs | {:.3} µs | {:.1} |", thirty / 1e3, base30 / 1e3, thirty / base30);
    println!("| instantiate + call per event (recycle_every = 1): pooling vs on-demand | {:.2} µs | {:.2} µs | {:.2} |", pooled / 1e3, on_demand / 1e3, pooled / on_demand);
    println!("| per event, the pack ({n_pack} detections, filtered by event type) | {:.2} µs | - | - |", pack / 1e3);
    println!("| events/s through the pack (runtime only, wall clock, 2 cores) | {:.0} | - | - |", 1e9 / pack);

    // 2. Cold start: the pack loaded and one event processed.
    let cache = tempfile::tempdir().unwrap();
    let cold = |cache: &Path| {
        let t = Instant::now();
        let rt = runtime(Some(cache));
        Folder::load(rt.clone(), pack_dir.path()).unwrap();
        rt.process(&events[..1]);
        t.elapsed()
    };
    let empty = cold(cache.path());
    let warm = cold(cache.path());
    println!("| cold start, {n_pack} detections, empty AOT cache | {:.2} s | - | - |", empty.as_secs_f64());
    println!("| cold start, {n_pack} detections, warm AOT cache | {:.3} s | {:.2} s | {:.3} |", warm.as_secs_f64(), empty.as_secs_f64(), warm.as_secs_f64() / empty.as_secs_f64());

    // 3. Hot reload under a steady load: file renamed into the folder → new version answers.
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(Some(cache.path()));
    let folder = Folder::load(rt.clone(), dir.path()).unwrap();
    let _watcher = folder.watch().unwrap();
    let v = |n: u8| std::fs::read(guests.join(format!("probe_reload_v{n}.wasm"))).unwrap();
    let reload_event = |i: usize| {
        let text = format!(r#"{{"uuid":"{}","eventType":"test.reload","published":"2026-01-01T00:00:00.000Z"}}"#, oktawatch_testkit::uuid_for("r", i));
        Arc::new(Event::parse(&text).unwrap())
    };
    let mut samples = Vec::new();
    let mut i = 0;
    for round in 0..6u8 {
        let want = if round % 2 == 0 { "v1 saw" } else { "v2 saw" };
        let tmp = dir.path().join(".incoming");
        std::fs::write(&tmp, v(1 + round % 2)).unwrap();
        let t = Instant::now();
        std::fs::rename(&tmp, dir.path().join("reload.wasm")).unwrap();
        loop {
            i += 1;
            let out = rt.process(&[reload_event(i)]);
            if out.alerts.iter().any(|a| a.alert.title.starts_with(want)) {
                samples.push(t.elapsed());
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "reload never took effect");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    println!("| hot reload: file renamed in → new version handles events (median of 6) | {:.0} ms | 150 ms debounce | {:.2} |", median.as_secs_f64() * 1e3, median.as_secs_f64() / 0.150);
    println!("\nbaselines: per-event rows against the detection's work done natively on the host's parsed event; warm start against the empty-cache start; reload against the watcher's quiet period (the floor).");
}
