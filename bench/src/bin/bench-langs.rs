//! Per-language figures: the same detection written in Rust, Python,
//! JavaScript and C (`tests/guests/probe-admin-grant` and the templates
//! `detections/template-python`, `template-js`, `example-c`, built by their
//! Makefiles), each measured in a process of its own, against the first one
//! given (Rust). After a run of the languages tests the templates are in
//! `target/polyglot/<lang>/` (or build them with `make` in their folders):
//!
//!     bench-langs rust=tests/guests/target/wasm32-unknown-unknown/release/probe_admin_grant.wasm \
//!         python=target/polyglot/python/template-python.wasm js=target/polyglot/js/template-js.wasm \
//!         c=target/polyglot/c/example-c.wasm
//!
//! `bench-langs NAME=FILE.wasm…` prints a Markdown table:
//! - cold compile: `Runtime::load` with an empty compile cache (compile,
//!   describe, configure), and the process's peak RSS (VmHWM) after it;
//! - warm load: the same from the cache that run filled, and the RSS after it;
//! - instantiate: a second instance (instantiate and `configure`), mean of 5;
//! - per event: time inside `on-event` calls (the runtime's own
//!   per-call counter, wall time of the call), over `BENCH_LANG_EVENTS`
//!   events (default 2000) in pages of 100: admin-role grants, half of them
//!   successful (each to a new user, so each fires) and half failed (which a
//!   contract-0.2 detection's prefilter keeps from the call: calls are counted,
//!   not events).
//!
//! Internally `bench-langs --one FILE CACHE cold|warm` measures one file.

use oktawatch::event::Event;
use oktawatch::runtime::state::StateStore;
use oktawatch::runtime::{Limits, Runtime};
use oktawatch_bench::procfs;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--one") {
        let r = one(Path::new(&args[1]), Path::new(&args[2]), args[3] == "warm")?;
        println!("{r}");
        return Ok(());
    }
    anyhow::ensure!(!args.is_empty(), "usage: bench-langs NAME=FILE.wasm… (the first is the baseline)");
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for a in &args {
        let (name, file) = a.split_once('=').ok_or_else(|| anyhow::anyhow!("{a}: NAME=FILE.wasm"))?;
        let cache = tempfile::tempdir()?;
        let run = |mode: &str| -> anyhow::Result<Value> {
            let out = Command::new(&exe).args(["--one", file]).arg(cache.path()).arg(mode).output()?;
            anyhow::ensure!(out.status.success(), "{name} {mode}: {}", String::from_utf8_lossy(&out.stderr));
            Ok(serde_json::from_slice(&out.stdout)?)
        };
        let cold = run("cold")?;
        let warm = run("warm")?;
        eprintln!("{name}: cold {cold} warm {warm}");
        let size = std::fs::metadata(file)?.len();
        rows.push((name.to_string(), size, cold, warm));
    }
    let base = &rows[0];
    let ratio = |v: f64, b: f64| if b > 0.0 { format!("{:.1}×", v / b) } else { "-".into() };
    println!(
        "| language | .wasm | cold compile | RSS after cold compile | warm load | RSS after warm load | instantiate | per event (in calls) | vs {} per event |",
        base.0
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, size, cold, warm) in &rows {
        let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
        println!(
            "| {name} | {:.1} MiB | {:.2} s | {:.0} MiB | {:.0} ms | {:.0} MiB | {:.2} ms | {:.1} µs | {} |",
            *size as f64 / (1 << 20) as f64,
            f(cold, "load_s"),
            f(cold, "hwm_kib") / 1024.0,
            f(warm, "load_s") * 1000.0,
            f(warm, "rss_kib") / 1024.0,
            f(warm, "instantiate_ms"),
            f(warm, "event_us"),
            ratio(f(warm, "event_us"), f(&base.3, "event_us"))
        );
    }
    Ok(())
}

/// One file in this process: load (cold or from the cache), then events.
fn one(file: &Path, cache: &Path, warm: bool) -> anyhow::Result<Value> {
    let pid = std::process::id();
    let rt = Runtime::new(
        Limits::default(),
        Arc::new(StateStore::in_memory(100_000, 16 << 20)),
        BTreeMap::new(),
        Some(PathBuf::from(cache)),
    )?;
    let t = Instant::now();
    let det = rt.load(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let (hwm, rss) = (procfs::vm_hwm_kib(pid).unwrap_or(0), procfs::vm_rss_kib(pid).unwrap_or(0));
    if !warm {
        return Ok(json!({"load_s": load_s, "hwm_kib": hwm, "rss_kib": rss}));
    }
    let t = Instant::now();
    for _ in 0..5 {
        std::hint::black_box(rt.load_copy(&det).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    let instantiate_ms = t.elapsed().as_secs_f64() * 1000.0 / 5.0;
    let n: usize = std::env::var("BENCH_LANG_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let events: Vec<Arc<Event>> = (0..n)
        .map(|i| {
            let e = json!({
                "uuid": format!("40000000-0000-4000-8000-{i:012}"),
                "published": "2026-11-20T10:00:00.000Z",
                "eventType": "user.account.privilege.grant",
                "outcome": {"result": if i % 2 == 0 { "SUCCESS" } else { "FAILURE" }},
                "debugContext": {"debugData": {"privilegeGranted": "Super administrator"}},
                "actor": {"alternateId": format!("admin{}@example.com", i % 7), "type": "User"},
                "target": [{"alternateId": format!("user{i}@example.com"), "type": "User"}],
            });
            Arc::new(Event::parse(&e.to_string()).expect("a valid event"))
        })
        .collect();
    let mut alerts = 0;
    for page in events.chunks(100) {
        let out = rt.run_one(&det, page);
        anyhow::ensure!(out.failures.is_empty(), "{:?}", out.failures.first().map(|f| f.2.to_string()));
        alerts += out.alerts.len();
    }
    anyhow::ensure!(alerts == n.div_ceil(2), "{alerts} alerts for {n} events");
    let calls = det.counters.events.load(Relaxed).max(1);
    let event_us = det.counters.nanos.load(Relaxed) as f64 / calls as f64 / 1000.0;
    Ok(json!({"load_s": load_s, "hwm_kib": hwm, "rss_kib": rss, "instantiate_ms": instantiate_ms, "event_us": event_us, "events": calls}))
}
