//! Figure 6b: memory stays bounded. `oktawatch replay -` with the pack reads
//! the corpus `passes` times from a pipe (1M events by default); the peak RSS
//! (VmHWM) once the first pass was read is compared with the peak at the end.

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

pub fn measure(ctx: &Ctx, passes: u64) -> Figures {
    let socket = ctx.path("mem.sock");
    let drain = Drain::start(&socket, 1500);
    let mut cmd = Command::new(&ctx.host);
    cmd.args(["replay", "-", "--socket", socket.to_str().unwrap(), "--detections", ctx.pack.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .env("TMPDIR", ctx.work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(ctx.path("memory.log")).unwrap()));
    let written = Arc::new(AtomicU64::new(0));
    let corpus = Arc::new(std::fs::read(&ctx.corpus).unwrap());
    let mut writer = None;
    let mut first_pass_hwm = 0;
    let w2 = written.clone();
    let (watched, _child) = watch_with(
        cmd,
        |child| {
            let mut stdin = child.stdin.take().unwrap();
            writer = Some(std::thread::spawn(move || {
                for _ in 0..passes {
                    if stdin.write_all(&corpus).is_err() {
                        return;
                    }
                    w2.fetch_add(1, Ordering::Relaxed);
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
        events: ctx.events * passes,
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
