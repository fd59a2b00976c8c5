//! What the end-to-end tests (`tests/`) and the bench (`bench/`) share: the
//! Okta emulator on its own tokio runtime ([`Okta`]) and the oktawatch
//! program as a process whose output is collected, line by line with the
//! time each line was read ([`Host`]).

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use oktawatch_emulator::{Emulator, EmulatorOptions, Fault};

/// CLOCK_MONOTONIC in ns: comparable across the processes of one machine.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// An Okta emulator on its own (one-worker) tokio runtime.
pub struct Okta {
    pub emulator: Emulator,
    _rt: tokio::runtime::Runtime,
}

impl Okta {
    pub fn start(opts: EmulatorOptions) -> Okta {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let emulator = rt.block_on(Emulator::start(opts)).unwrap();
        Okta { emulator, _rt: rt }
    }
}

impl Deref for Okta {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

/// A deterministic, well-formed UUID for test event `i` of `tag`.
pub fn uuid_for(tag: &str, i: usize) -> String {
    let h = tag.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    format!("{h:08x}-0000-4000-8000-{i:012x}")
}

/// Lines with the [`mono_ns`] time they were read at.
pub type LogLines = Arc<Mutex<Vec<(u64, String)>>>;

/// Reads `r` line by line into the returned [`LogLines`], on a thread of its own.
pub fn collect_lines(r: impl std::io::Read + Send + 'static) -> LogLines {
    let lines = LogLines::default();
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            l.lock().unwrap().push((mono_ns(), line));
        }
    });
    lines
}

fn joined(lines: &LogLines) -> String {
    let mut s = String::new();
    for (_, line) in lines.lock().unwrap().iter() {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// The file name of the oktawatch program the tests start: the host's main,
/// built by the tests package under a name of its own (`tests/Cargo.toml`).
pub const OKTAWATCH_BIN: &str = "oktawatch-under-test";

/// The oktawatch program the tests start: the one cargo builds next to the
/// test executables (`target/<profile>/oktawatch-under-test`, [`OKTAWATCH_BIN`]).
pub fn oktawatch_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let p = dir.join(OKTAWATCH_BIN);
    assert!(p.is_file(), "{} is missing", p.display());
    p
}

/// A running oktawatch process; its stdout and stderr are collected. Killed when dropped.
pub struct Host {
    child: Child,
    log: LogLines,
    stdout: LogLines,
}

impl Host {
    /// `oktawatch <args…>` ([`oktawatch_bin`]) at log level info, with extra environment variables.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Host {
        let mut cmd = Command::new(oktawatch_bin());
        cmd.args(args).stdin(Stdio::null());
        cmd.env("OKTAWATCH_LOG", "info");
        cmd.env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Host::spawn(cmd)
    }

    /// Spawns `cmd` with its stdout and stderr piped and collected.
    pub fn spawn(mut cmd: Command) -> Host {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starting oktawatch");
        let log = collect_lines(child.stderr.take().unwrap());
        let stdout = collect_lines(child.stdout.take().unwrap());
        Host { child, log, stdout }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged (stderr) so far.
    pub fn log(&self) -> String {
        joined(&self.log)
    }

    /// Its log lines with the time each was read.
    pub fn log_lines(&self) -> LogLines {
        self.log.clone()
    }

    pub fn stdout(&self) -> String {
        joined(&self.stdout)
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        let started = Instant::now();
        while !self.log().contains(needle) {
            assert!(started.elapsed() < timeout, "timed out waiting for log line {needle:?}; log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        self.log()
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self, timeout: Duration) -> (ExitStatus, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                return (status, self.log());
            }
            if started.elapsed() > timeout {
                self.child.kill().unwrap();
                panic!("oktawatch did not stop within {timeout:?} after SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for it to exit by itself.
    pub fn wait_exit(mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stdout(), self.log());
            }
            if started.elapsed() > timeout {
                self.child.kill().unwrap();
                panic!("oktawatch did not exit within {timeout:?}; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
