//! oktawatch's benchmark suite: the corpus, the floor, the drain reader, the
//! native detections and the helpers the orchestrator (`bench-all`) shares.
//!
//! Benchmarks never assert timings: they print ratios against baselines
//! measured in the same run.

pub mod corpus;
pub mod native;
pub mod procfs;
pub mod report;
pub mod suite;

/// CLOCK_MONOTONIC in ns: comparable across the processes of one machine.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The built binaries sit next to each other in `target/<profile>/`.
pub fn sibling(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the running executable");
    let dir = exe.parent().expect("target/<profile>");
    let dir = if dir.ends_with("deps") || dir.ends_with("examples") { dir.parent().unwrap() } else { dir };
    dir.join(name)
}
