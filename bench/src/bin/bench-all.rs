//! The whole suite, one command, ratios against baselines from the same run:
//!
//! `cargo build --release -p oktawatch-bench && target/release/bench-all [FIGURE…]`
//! (the build step makes every program of the suite, the host included)
//!
//! FIGURE: throughput, sandbox, latency, startup, reload, memory, scale
//! (default: all). `BENCH_EVENTS` sets the corpus size (default 200000);
//! `BENCH_ORGS` and `BENCH_ORG_EVENTS` the scale figure's orgs and backlog
//! per org (default 50 and 2000); `BENCH_PACK` a folder of detections to
//! use instead of the built-in pack. Writes `bench/RESULTS.md` when every
//! figure ran.

use oktawatch_bench::report::{Row, table};
use oktawatch_bench::suite::{self, Ctx};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = |f: &str| args.is_empty() || args.iter().any(|a| a == f);
    let events: u64 = std::env::var("BENCH_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let work = tempfile::Builder::new().prefix("oktawatch-bench").tempdir()?;
    let corpus = work.path().join("corpus.ndjson");
    let t = Instant::now();
    let bytes = oktawatch_bench::corpus::write(&corpus, events, 5)?;
    eprintln!("corpus: {events} events, {:.0} MB, mean {} B, in {:.1?}", bytes as f64 / 1e6, bytes / events, t.elapsed());
    // `BENCH_PACK`: another folder of detections instead of the built-in pack
    // (a lever measured without rebuilding the host, or an older host's pack).
    let pack = match std::env::var_os("BENCH_PACK") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            let pack = work.path().join("pack");
            oktawatch::pack::export(&pack)?;
            pack
        }
    };
    let host = oktawatch_bench::sibling("oktawatch-host");
    anyhow::ensure!(host.is_file(), "{} is missing: build with `cargo build --release -p oktawatch-bench`", host.display());
    let pack_size = std::fs::read_dir(&pack)?.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "wasm")).count();
    let ctx = Ctx { work, corpus, events, host, pack };
    let mut rows: Vec<Row> = Vec::new();
    let mut peak_pack_kib = None;

    if want("throughput") {
        eprintln!("1. throughput (replay into a datagram socket, drained by another process)");
        let runs = suite::throughput::all(&ctx);
        let floor = &runs[0];
        let f = |x: f64| format!("{:.0} ev/s", x);
        rows.push(Row::new("1. floor: read + serde_json parse + send (1 thread)", f(floor.eps), "-"));
        for (r, label, target) in [
            (&runs[1], "1. replay, 0 detections".to_string(), None),
            (&runs[2], format!("1. replay, the pack ({pack_size} detections)"), Some(1.0)),
            (&runs[3], format!("1. replay, {} detections (pack ×4)", 4 * pack_size), None),
        ] {
            let ratio = r.eps / floor.eps;
            let lost = ctx.events.saturating_sub(r.drained.events);
            let mut row = Row::new(format!("{label}{}", if lost > 0 { format!(" ({lost} events missing!)") } else { String::new() }), f(r.eps), f(floor.eps)).ratio(ratio);
            if let Some(t) = target {
                row = row.target(format!("≥ {t} × floor"), ratio >= t);
            }
            rows.push(row);
        }
        let pack = &runs[2];
        rows.push(
            Row::new("1. events/s per CPU-second, the pack", f(pack.eps_per_core), format!("{} (floor)", f(floor.eps_per_core)))
                .ratio(pack.eps_per_core / floor.eps_per_core)
                .target("≥ 50k ev/s/core", pack.eps_per_core >= 50_000.0),
        );
        let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
        rows.push(
            Row::new("6. peak RSS (VmHWM), replay with the pack", mib(pack.watched.hwm_kib), format!("{} (floor)", mib(floor.watched.hwm_kib)))
                .ratio(pack.watched.hwm_kib as f64 / floor.watched.hwm_kib as f64)
                .target("≤ 64 MB", pack.watched.hwm_kib * 1024 <= 64_000_000),
        );
        rows.push(Row::new(format!("6. peak RSS, replay with {} detections", 4 * pack_size), mib(runs[3].watched.hwm_kib), mib(pack.watched.hwm_kib)).ratio(runs[3].watched.hwm_kib as f64 / pack.watched.hwm_kib as f64));
        peak_pack_kib = Some(pack.watched.hwm_kib);
    }
    if want("sandbox") {
        eprintln!("2. per-event sandbox cost");
        let s = suite::sandbox::measure(&ctx.corpus, &ctx.pack, (events as usize).min(100_000));
        let ratio = s.wasm_ns / s.native_ns;
        rows.push(
            Row::new(
                format!("2. per event, the whole pack as wasm vs native ({} detections, CPU in calls; {} events)", s.detections, s.events),
                format!("{:.2} µs", s.wasm_ns / 1e3),
                format!("{:.2} µs native", s.native_ns / 1e3),
            )
            .ratio(ratio)
            .target("≤ 1.5 × native", ratio <= 1.5),
        );
        let same = s.alerts_native == s.alerts_wasm;
        rows.push(
            Row::new("2. alerts raised, the pack as wasm vs native", s.alerts_wasm.to_string(), format!("{} native", s.alerts_native))
                .target("equal", same),
        );
    }
    if want("latency") {
        eprintln!("3. end-to-end latency (emulator → alert on the socket, default 5 s poll)");
        let l = suite::latency::measure(&ctx, 20, false);
        rows.push(Row::new(format!("3. latency p50 ({} alerts{})", l.samples, if l.missing > 0 { format!(", {} missing", l.missing) } else { String::new() }), format!("{:.2} s", l.p50_s), "5 s poll interval").ratio(l.p50_s / 5.0).target("≤ 3 s", l.p50_s <= 3.0));
        rows.push(Row::new("3. latency p99", format!("{:.2} s", l.p99_s), "5 s poll interval").ratio(l.p99_s / 5.0));
        let h = suite::latency::measure(&ctx, 20, true);
        let polled = format!("{:.2} s polled", l.p50_s);
        rows.push(Row::new(format!("3. latency p50 with event hooks ({} alerts{})", h.samples, if h.missing > 0 { format!(", {} missing", h.missing) } else { String::new() }), format!("{:.1} ms", h.p50_s * 1e3), polled).ratio(h.p50_s / l.p50_s.max(1e-9)));
        rows.push(Row::new("3. latency p99 with event hooks", format!("{:.1} ms", h.p99_s * 1e3), format!("{:.2} s polled", l.p99_s)).ratio(h.p99_s / l.p99_s.max(1e-9)));
    }
    if want("startup") {
        eprintln!("4. cold start");
        let c = suite::startup::measure(&ctx);
        rows.push(Row::new(format!("4. cold start, {} detections, empty AOT cache", c.detections), format!("{:.2} s", c.empty_s), "-").target("≤ 10 s", c.empty_s <= 10.0));
        rows.push(Row::new(format!("4. cold start, {} detections, warm AOT cache", c.detections), format!("{:.3} s", c.warm_s), format!("{:.2} s (empty)", c.empty_s)).ratio(c.warm_s / c.empty_s).target("≤ 0.5 s", c.warm_s <= 0.5));
    }
    if want("reload") {
        eprintln!("5. hot reload under load");
        let r = suite::reload::measure(&ctx);
        rows.push(Row::new("5. hot reload: rename → new version installed (median of 3, max)", format!("{:.0} ms (max {:.0})", r.median_ms, r.max_ms), "150 ms quiet period").ratio(r.median_ms / 150.0).target("≤ 1 s", r.max_ms <= 1000.0));
        rows.push(Row::new(format!("5. events lost during reloads ({} pushed at 400/s)", r.pushed), r.lost.to_string(), "0").target("0", r.lost == 0));
    }
    if want("memory") {
        let total = (5 * events).max(1_000_000);
        eprintln!("6. memory over {total} events");
        let m = suite::memory::measure(&ctx, total);
        let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
        let bounded = m.hwm_end_kib <= m.hwm_first_pass_kib + 16 * 1024;
        rows.push(
            Row::new(format!("6. peak RSS after {} events (pack; {} delivered)", m.events, m.delivered), mib(m.hwm_end_kib), format!("{} after the first {events}", mib(m.hwm_first_pass_kib)))
                .ratio(m.hwm_end_kib as f64 / m.hwm_first_pass_kib.max(1) as f64)
                .target("bounded: ≤ first pass + 16 MiB", bounded),
        );
        let _ = peak_pack_kib;
    }
    if want("scale") {
        let orgs: usize = std::env::var("BENCH_ORGS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
        let per_org: usize = std::env::var("BENCH_ORG_EVENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
        eprintln!("7. scale: {orgs} orgs against the emulator, {per_org} events each, full pages back to back");
        let s = suite::scale::measure(&ctx, orgs.max(1), per_org.min(events as usize / orgs.max(1)).max(1));
        let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
        let label = |what: &str| format!("7. {} orgs × {} events, the pack: {what}", s.orgs, s.per_org);
        let missing = (s.orgs * s.per_org) as u64 - s.delivered;
        rows.push(Row::new(label(&format!("events/s{}", if missing > 0 { format!(" ({missing} events missing!)") } else { String::new() })), format!("{:.0} ev/s", s.eps), "-"));
        rows.push(Row::new(label("events per CPU-second"), format!("{:.0} ev/s", s.eps_per_cpu), "-"));
        rows.push(Row::new(label("CPU share (cores busy)"), format!("{:.2}", s.cpu_s / s.wall_s.max(1e-9)), format!("{} cores", std::thread::available_parallelism().map_or(1, usize::from))));
        // Issue 13 asks for RSS per org here, not a bound (the 64 MB is figure 6's, one org).
        rows.push(Row::new(label("peak RSS"), mib(s.hwm_kib), "-"));
        rows.push(Row::new(label("peak RSS per org"), mib(s.hwm_kib / s.orgs.max(1) as u64), "-"));
        rows.push(Row::new(label("lag per org: backlog delivered, p50 (max)"), format!("{:.2} s ({:.2} s)", s.lag_p50_s, s.lag_max_s), "-"));
    }

    let elapsed = started.elapsed();
    let mut md = String::from("# oktawatch benchmark results\n\n");
    md.push_str(&format!(
        "Generated by `cargo build --release -p oktawatch-bench && target/release/bench-all` on {} in {:.0} s.\n\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        elapsed.as_secs_f64()
    ));
    md.push_str(&format!("Machine: {}.\n\n", oktawatch_bench::procfs::machine()));
    md.push_str(&format!("Corpus: {events} synthetic System Log events (seed 5), {:.0} MB, mean {} B per event.\n\n", bytes as f64 / 1e6, bytes / events));
    md.push_str(&table(&rows));
    println!("{md}");
    if args.is_empty() {
        let notes = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md")).unwrap_or_default();
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/RESULTS.md"), format!("{md}\n{notes}"))?;
        eprintln!("wrote bench/RESULTS.md");
    }
    Ok(())
}
