//! Figure 6b: memory stays bounded. `oktawatch replay -` with the pack reads
//! a longer corpus (1M events, same generator, the event clock moving
//! forward throughout) from a pipe; the peak RSS (VmHWM) once the first
//! `ctx.events` were read is compared with the peak at the end.

use super::{Ctx, Drain, watch_with};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Figures {
    pub events: u64,
    pub hwm_first_pass_kib: u64,
    pub hwm_end_kib: u64,
    pub delivered: u64,
    pub secs: f64,
}

pub fn measure(ctx: &Ctx, total: u64) -> Figures {
    super::throughput::warm_cache(ctx);
    let long = ctx.path("corpus-long.ndjson");
    crate::corpus::write(&long, total, 5).unwrap();
    let text = std::fs::read(&long).unwrap();
    let _ = std::fs::remove_file(&long);
    // Byte offset of the end of the first `ctx.events` lines.
    let mark = text.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(ctx.events as usize - 1).map(|(i, _)| i + 1).unwrap_or(text.len());
    let socket = ctx.path("mem.sock");
    let drain = Drain::start(&socket, 1500);
    let mut cmd = Command::new(&ctx.host);
    cmd.args(["replay", "-", "--socket", socket.to_str().unwrap(), "--detections", ctx.pack.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .env("TMPDIR", ctx.work.path())
        .env("OKTAWATCH_CACHE_DIR", ctx.path("aot-cache"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(ctx.path("memory.log")).unwrap()));
    let written = Arc::new(AtomicU64::new(0));
    let corpus = Arc::new(text);
    let mut writer = None;
    let mut first_pass_hwm = 0;
    let w2 = written.clone();
    let (watched, _child) = watch_with(
        cmd,
        |child| {
            let mut stdin = child.stdin.take().unwrap();
            writer = Some(std::thread::spawn(move || {
                for (i, part) in [&corpus[..mark], &corpus[mark..]].into_iter().enumerate() {
                    if stdin.write_all(part).is_err() {
                        return;
                    }
                    w2.store(i as u64 + 1, Ordering::Relaxed);
                }
            }));
        },
        |_, hwm| {
            // The pipe holds 64 KiB: once a pass is written, the host has read it.
            if first_pass_hwm == 0 && written.load(Ordering::Relaxed) >= 1 {
                first_pass_hwm = hwm;
            }
        },
    );
    if let Some(w) = writer {
        let _ = w.join();
    }
    let drained = drain.finish();
    let f = Figures {
        events: total,
        hwm_first_pass_kib: first_pass_hwm,
        hwm_end_kib: watched.hwm_kib,
        delivered: drained.events,
        secs: (watched.ended_ns - watched.started_ns) as f64 / 1e9,
    };
    eprintln!(
        "  memory: {} events, {} delivered in {:.1}s; peak RSS after the first pass {} MiB, at the end {} MiB",
        f.events,
        f.delivered,
        f.secs,
        f.hwm_first_pass_kib >> 10,
        f.hwm_end_kib >> 10
    );
    f
}
