//! The whole-process figures, one module per figure, and what they share:
//! the work folder, the corpus, the host binary, the drain and process
//! monitoring.

pub mod latency;
pub mod memory;
pub mod reload;
pub mod sandbox;
pub mod startup;
pub mod throughput;

use crate::procfs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Shared by every figure of one run.
pub struct Ctx {
    pub work: tempfile::TempDir,
    pub corpus: PathBuf,
    pub events: u64,
    /// The oktawatch binary (this package's `oktawatch-host`, same code).
    pub host: PathBuf,
    /// The built-in pack, exported.
    pub pack: PathBuf,
}

impl Ctx {
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }
}

/// What the drain saw.
#[derive(Debug, Default, Clone)]
pub struct Drained {
    pub count: u64,
    pub events: u64,
    pub alerts: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// The drain reader in its own process, bound and ready.
pub struct Drain(Child);

impl Drain {
    pub fn start(socket: &Path, idle_ms: u64) -> Drain {
        let mut child = Command::new(crate::sibling("drain"))
            .arg(socket)
            .arg(idle_ms.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the drain");
        let mut line = String::new();
        BufReader::new(child.stderr.as_mut().unwrap()).read_line(&mut line).expect("drain ready");
        Drain(child)
    }

    /// Waits for the drain to go idle and reads its figures.
    pub fn finish(self) -> Drained {
        let out = self.0.wait_with_output().expect("drain output");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let g = |k: &str| v[k].as_u64().unwrap_or(0);
        Drained { count: g("count"), events: g("events"), alerts: g("alerts"), first_ns: g("first_ns"), last_ns: g("last_ns") }
    }
}

/// A process watched until it exits: CPU samples, peak RSS, total CPU.
#[derive(Debug, Default)]
pub struct Watched {
    /// (CLOCK_MONOTONIC ns, CPU seconds so far)
    pub samples: Vec<(u64, f64)>,
    pub hwm_kib: u64,
    pub cpu_total: f64,
    pub started_ns: u64,
    pub ended_ns: u64,
    pub success: bool,
}

impl Watched {
    /// CPU seconds used from `ns` to the end (interpolated from the samples).
    pub fn cpu_after(&self, ns: u64) -> f64 {
        let before = self.samples.iter().rev().find(|s| s.0 <= ns).map(|s| s.1).unwrap_or(0.0);
        self.cpu_total - before
    }
}

/// Spawns `cmd`, samples /proc every 10 ms, reaps it with its rusage.
/// `on_sample` sees each (ns, VmHWM KiB) while it runs.
pub fn watch(cmd: Command, on_sample: impl FnMut(u64, u64)) -> (Watched, Child) {
    watch_with(cmd, |_| {}, on_sample)
}

/// [`watch`], with `on_spawn` given the child first (to take its stdin).
pub fn watch_with(mut cmd: Command, on_spawn: impl FnOnce(&mut Child), mut on_sample: impl FnMut(u64, u64)) -> (Watched, Child) {
    let started_ns = crate::mono_ns();
    let mut child = cmd.spawn().expect("spawning the benchmarked process");
    on_spawn(&mut child);
    let pid = child.id();
    let mut w = Watched { started_ns, ..Default::default() };
    loop {
        let mut status = 0;
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid as i32, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid as i32 {
            w.ended_ns = crate::mono_ns();
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            w.cpu_total = tv(ru.ru_utime) + tv(ru.ru_stime);
            // Not `ru.ru_maxrss`: it counts the child's pages between fork and
            // exec, i.e. this (corpus-holding) process's RSS. VmHWM from /proc,
            // sampled below, belongs to the exec'd program alone.
            w.success = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return (w, child);
        }
        let now = crate::mono_ns();
        if let Some(cpu) = procfs::cpu_secs(pid) {
            w.samples.push((now, cpu));
        }
        if let Some(h) = procfs::vm_hwm_kib(pid) {
            w.hwm_kib = w.hwm_kib.max(h);
            on_sample(now, h);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `oktawatch run` config for one org on the emulator, detections from `detections`.
pub fn run_config(dir: &Path, org_url: &str, socket: &Path, detections: &Path, extra_org: &str) -> PathBuf {
    let text = format!(
        "[[okta]]\nname = \"bench\"\norg_url = \"{org_url}\"\ntoken_env = \"BENCH_OKTA_TOKEN\"\n{extra_org}\n\n[wazuh]\nsocket = \"{}\"\n\n[state]\ndir = \"{}\"\n\n[detections]\ndir = \"{}\"\n",
        socket.display(),
        dir.join("state").display(),
        detections.display()
    );
    let path = dir.join("oktawatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The token the bench's emulators accept.
pub const TOKEN: &str = "bench-token-not-a-secret";

pub use oktawatch_testkit::{Host, Okta};

/// An Okta emulator (on its own runtime) that takes [`TOKEN`] and has room for a benchmark's requests.
pub fn okta() -> Okta {
    Okta::start(oktawatch_testkit::EmulatorOptions { token: TOKEN.into(), rate_limit: 100_000, ..Default::default() })
}

/// `wasm` bytes with a custom section appended: a distinct file (new sha256,
/// compiled again) with the same behaviour.
pub fn variant(wasm: &[u8], tag: &str) -> Vec<u8> {
    let name = b"oktawatch-bench";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0);
    let mut n = payload.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&payload);
    out
}

/// Starts `oktawatch run` on `config` and waits until it has polled the
/// emulator once; its log lines come with the time they were read
/// ([`Host::log_lines`]).
pub fn start_service(ctx: &Ctx, config: &Path, okta: &Okta) -> Host {
    let mut cmd = Command::new(&ctx.host);
    cmd.args(["run", "--config", config.to_str().unwrap()])
        .env("BENCH_OKTA_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    let host = Host::spawn(cmd);
    let t0 = std::time::Instant::now();
    while okta.emulator.requests().is_empty() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    host
}

/// Percentile of sorted values.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
