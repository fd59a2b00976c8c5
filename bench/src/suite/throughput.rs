//! Figure 1 (and the peak RSS of figure 6): `oktawatch replay` into a real
//! datagram socket drained by another process, with 0 detections, the pack
//! and the pack ×4, against the floor program on the same corpus and socket.

use super::{Ctx, Drain, Drained, Watched, watch};
use std::process::{Command, Stdio};

/// One throughput run.
pub struct Run {
    pub label: String,
    pub drained: Drained,
    pub watched: Watched,
    /// Events per second, first datagram to last.
    pub eps: f64,
    /// Events per CPU-second over the same span.
    pub eps_per_core: f64,
}

/// Runs `args` (floor or oktawatch) against a fresh drain.
pub fn run(ctx: &Ctx, label: &str, program: &std::path::Path, args: &[&str]) -> Run {
    let socket = ctx.path("tp.sock");
    let drain = Drain::start(&socket, 1500);
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::from(
        std::fs::File::create(ctx.path(&format!("{label}.log"))).unwrap(),
    ));
    cmd.env("RUST_LOG", "warn").env("TMPDIR", ctx.work.path()).env("OKTAWATCH_CACHE_DIR", ctx.path("aot-cache"));
    let (watched, _child) = watch(cmd, |_, _| {});
    let drained = drain.finish();
    let span = (drained.last_ns.saturating_sub(drained.first_ns)) as f64 / 1e9;
    let eps = drained.events as f64 / span.max(1e-9);
    let cpu = watched.cpu_after(drained.first_ns);
    let eps_per_core = drained.events as f64 / cpu.max(1e-9);
    eprintln!(
        "  {label}: {} events + {} alerts in {span:.2}s = {eps:.0} ev/s, {cpu:.2} CPU-s = {eps_per_core:.0} ev/s/core, peak RSS {} MiB{}",
        drained.events,
        drained.alerts,
        watched.hwm_kib >> 10,
        if watched.success { "" } else { " (FAILED: see log)" }
    );
    Run { label: label.into(), drained, watched, eps, eps_per_core }
}

/// Compiles the pack into the bench's AOT cache with a one-event replay, so
/// the runs below measure a host as it runs after its first start (the
/// compile itself is figure 4's).
pub fn warm_cache(ctx: &Ctx) {
    let one = ctx.path("one.ndjson");
    let first = std::fs::read_to_string(&ctx.corpus).ok().and_then(|t| t.lines().next().map(str::to_string)).unwrap_or_default();
    std::fs::write(&one, first + "\n").unwrap();
    let status = Command::new(&ctx.host)
        .args(["replay", one.to_str().unwrap(), "--sink", "stdout", "--detections", ctx.pack.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .env("OKTAWATCH_CACHE_DIR", ctx.path("aot-cache"))
        .stdout(Stdio::null())
        .status()
        .expect("running the host");
    assert!(status.success(), "warming the AOT cache failed");
}

/// The floor, then the host three ways (its AOT cache warm).
pub fn all(ctx: &Ctx) -> Vec<Run> {
    warm_cache(ctx);
    let corpus = ctx.corpus.to_str().unwrap();
    let sock = ctx.path("tp.sock");
    let sock = sock.to_str().unwrap();
    let host = &ctx.host;
    let pack = ctx.pack.to_str().unwrap();
    vec![
        run(ctx, "floor", &crate::sibling("floor"), &[corpus, sock]),
        run(ctx, "replay-0", host, &["replay", corpus, "--socket", sock, "--no-detections"]),
        run(ctx, "replay-pack", host, &["replay", corpus, "--socket", sock, "--detections", pack]),
        run(ctx, "replay-pack-x4", host, &["replay", corpus, "--socket", sock, "--detections", pack, "--repeat-detections", "4"]),
    ]
}
