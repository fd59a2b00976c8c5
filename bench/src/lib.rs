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

pub use oktawatch_testkit::mono_ns;

/// The built binaries sit next to each other in `target/<profile>/`.
pub fn sibling(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the running executable");
    let dir = exe.parent().expect("target/<profile>");
    let dir = if dir.ends_with("deps") || dir.ends_with("examples") { dir.parent().unwrap() } else { dir };
    dir.join(name)
}
