//! Figure 4: cold start to the pack plus 4 detections loaded and the first
//! event processed, with an empty and with a warm AOT cache: the pack's files
//! plus 4 byte-distinct variants of pack files (a custom section appended),
//! so all of them are really compiled. Timed from spawning the
//! `cold-start` process to its exit.

use super::{Ctx, variant};
use std::process::Command;

pub struct Figures {
    pub detections: u64,
    pub empty_s: f64,
    pub warm_s: f64,
}

fn once(dir: &std::path::Path, cache: &std::path::Path) -> (f64, u64) {
    let t = crate::mono_ns();
    let out = Command::new(crate::sibling("cold-start")).arg(dir).arg(cache).output().expect("cold-start");
    let secs = (crate::mono_ns() - t) as f64 / 1e9;
    assert!(out.status.success(), "cold-start failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (secs, v["detections"].as_u64().unwrap_or(0))
}

pub fn measure(ctx: &Ctx) -> Figures {
    let dir = ctx.path("cold");
    let cache = ctx.path("cold-cache");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&ctx.pack).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "wasm")).collect();
    files.sort();
    for f in &files {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    for (i, f) in files.iter().take(4).enumerate() {
        std::fs::write(dir.join(format!("variant-{i}.wasm")), variant(&std::fs::read(f).unwrap(), &format!("cold-{i}"))).unwrap();
    }
    let (empty_s, detections) = once(&dir, &cache);
    let (warm_s, _) = once(&dir, &cache);
    eprintln!("  cold start: {detections} detections, empty cache {empty_s:.2}s, warm cache {warm_s:.3}s");
    Figures { detections, empty_s, warm_s }
}
