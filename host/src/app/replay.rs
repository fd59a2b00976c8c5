//! `oktawatch replay`: NDJSON through the same pipeline.

use crate::cli::SinkArg;
use crate::config::{Config, SinkKind};
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::sinks;
use crate::sources::replay::Replay;
use crate::stats::Stats;
use anyhow::Context;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub fn replay(
    file: &Path,
    config: Option<&Path>,
    sink: Option<SinkArg>,
    socket: Option<PathBuf>,
    detections: Option<PathBuf>,
    no_detections: bool,
    repeat_detections: usize,
) -> anyhow::Result<ExitCode> {
    let mut cfg = match config {
        Some(p) => Config::load(p)?,
        None => {
            let mut c = Config::parse("").expect("empty config");
            c.sink.kind = SinkKind::Stdout;
            c
        }
    };
    if let Some(s) = socket {
        cfg.wazuh.socket = s;
        cfg.sink.kind = SinkKind::Wazuh;
    }
    match sink {
        Some(SinkArg::Wazuh) => cfg.sink.kind = SinkKind::Wazuh,
        Some(SinkArg::Stdout) => cfg.sink.kind = SinkKind::Stdout,
        None => {}
    }
    let scratch = tempfile::Builder::new().prefix("oktawatch-replay").tempdir()?;
    let runtime = if no_detections {
        None
    } else {
        let rt = super::runtime(&cfg, None)?;
        let dir = detections.or(cfg.detections.dir.clone());
        super::load_detections(&rt, dir.as_deref(), scratch.path())?;
        if repeat_detections > 1 {
            repeat(&rt, repeat_detections)?;
        }
        Some(rt)
    };
    let stats = Arc::new(Stats::default());
    let opts = PipelineOptions {
        name: "replay".into(),
        location: cfg.wazuh.location.clone(),
        spool_max_bytes: u64::MAX,
        fsync: false,
        dedup_max: None,
        checkpoint: false,
        suppression: cfg.detections.suppression,
    };
    let mut pipeline = Pipeline::open(&scratch.path().join("replay"), opts, runtime, stats.clone())?;
    let sink = sinks::from_config(&cfg, pipeline.envelope().header())?;
    pipeline.start_sender(sink)?;

    let input: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
        ))
    };
    let mut reader = Replay::new(input);
    let started = Instant::now();
    let mut last = Instant::now();
    let mut bad_total = 0u64;
    loop {
        let mut bad = Vec::new();
        let events = reader.next_page(1000, &mut bad).context("reading the input")?;
        for b in &bad {
            tracing::error!("line {}: not an event ({}); skipped", b.line, b.error);
        }
        bad_total += bad.len() as u64;
        stats.invalid.fetch_add(bad.len() as u64, Ordering::Relaxed);
        if events.is_empty() && bad.is_empty() {
            break;
        }
        pipeline.handle_page(events, None)?;
        if last.elapsed() > Duration::from_secs(2) {
            last = Instant::now();
            let n = Stats::get(&stats.fetched);
            tracing::info!("replayed {n} events ({:.0}/s)", n as f64 / started.elapsed().as_secs_f64());
        }
    }
    // Wait for the sink to take everything (Ctrl-C gives up; nothing else is lost).
    let left = pipeline.finish(Duration::from_secs(365 * 86_400));
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "replay: {} in {secs:.2}s ({:.0} events/s){}",
        stats.summary(),
        Stats::get(&stats.fetched) as f64 / secs.max(1e-9),
        if bad_total > 0 { format!("; {bad_total} line(s) were not events (see above)") } else { String::new() }
    );
    Ok(if left == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Benchmarking aid (`--repeat-detections N`): installs N copies of every
/// loaded detection (same compiled code, fresh in-memory state each).
fn repeat(rt: &crate::runtime::Runtime, n: usize) -> anyhow::Result<()> {
    let set = rt.current();
    let mut all = set.detections.clone();
    for d in &set.detections {
        for _ in 1..n {
            all.push(rt.load_copy(d)?);
        }
    }
    tracing::info!("benchmarking: {} detections ({} × {n})", all.len(), set.detections.len());
    rt.install(crate::runtime::DetectionSet::new(all));
    Ok(())
}
