//! The command line: `run`, `replay`, `demo`, `check`, `test`, `detections`.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "oktawatch",
    version,
    about = "Okta System Log → detections in a WebAssembly sandbox → Wazuh",
    long_about = "Collects an Okta org's System Log continuously, runs every detection on each event \
inside a WebAssembly sandbox, and writes raw events and alerts to the Wazuh queue socket, \
without losing or repeating events across crashes, rate limits and Wazuh restarts.\n\n\
Start with `oktawatch demo` (no Okta org or Wazuh needed)."
)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text (on stderr).
    #[arg(long, global = true)]
    pub log_json: bool,
    /// Log level filter, e.g. `info`, `debug`, `oktawatch=debug` (or RUST_LOG).
    #[arg(long, global = true, env = "OKTAWATCH_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SinkArg {
    /// The Wazuh queue socket (from the config, or --socket).
    Wazuh,
    /// NDJSON on stdout.
    Stdout,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: poll every configured Okta org and deliver to Wazuh.
    ///
    /// The API token comes from the environment variable or file named in the
    /// config, never from the command line. Stops gracefully on SIGINT/SIGTERM
    /// (the page in hand is finished and saved).
    Run {
        #[arg(long, short, default_value = "/etc/oktawatch/oktawatch.toml")]
        config: PathBuf,
    },
    /// Send events from an NDJSON file (`-` for stdin), or a past span of an
    /// Okta org's System Log (`--since`), through the pipeline.
    ///
    /// Uses the config's sink and detections when --config is given; otherwise
    /// prints NDJSON to stdout and runs the built-in pack. From a file every
    /// line is delivered (no dedup); lines that are not JSON objects are
    /// reported with their line number. The live Okta cursor is never touched.
    Replay {
        /// NDJSON file, or `-` for stdin (not with --since).
        #[arg(required_unless_present = "since", conflicts_with = "since")]
        file: Option<PathBuf>,
        /// Backfill from Okta: events published from this time (RFC 3339,
        /// e.g. 2026-11-01T00:00:00Z), with the org's token and rate-limit share.
        #[arg(long, requires = "config")]
        since: Option<String>,
        /// With --since: up to this time (default: now).
        #[arg(long, requires = "since")]
        until: Option<String>,
        /// With --since: which `[[okta]]` org (default: the first).
        #[arg(long, requires = "since")]
        org: Option<String>,
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Where to send (default: the config's sink, else stdout).
        #[arg(long, value_enum)]
        sink: Option<SinkArg>,
        /// Wazuh socket path (implies --sink wazuh).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Detections folder (default: the config's, else the built-in pack).
        #[arg(long)]
        detections: Option<PathBuf>,
        /// Run no detections.
        #[arg(long)]
        no_detections: bool,
        /// Benchmarking aid: load every detection N times (copies with fresh
        /// in-memory state), to measure many detections with one pack.
        #[arg(long, hide = true, default_value_t = 1)]
        repeat_detections: usize,
    },
    #[cfg(feature = "demo")]
    /// Run the real pipeline against a built-in Okta emulator serving a sample
    /// feed (with attacks), using the built-in detection pack; print what would
    /// go to Wazuh.
    Demo {
        /// Print every message as NDJSON instead of the readable summary.
        #[arg(long)]
        json: bool,
        /// Keep polling after the feed is drained (Ctrl-C to stop).
        #[arg(long)]
        follow: bool,
        /// Detections folder instead of the built-in pack.
        #[arg(long)]
        detections: Option<PathBuf>,
    },
    /// Validate the config and try everything it names: Okta, the socket, the
    /// state folder, the detections. Says what is wrong.
    Check {
        #[arg(long, short, default_value = "/etc/oktawatch/oktawatch.toml")]
        config: PathBuf,
    },
    /// Run detections against their sample cases in the sandbox; prints a
    /// pass/fail table, exits non-zero on any failure.
    ///
    /// PATH: a `.wasm` (cases in `NAME.cases.json` beside it), a detection
    /// crate folder (cases.json; wasm in the workspace's target folder), a
    /// folder built by `make` (Python, JavaScript, C: a Makefile and
    /// cases.json; wasm in `target/<folder>.wasm`, run `make` first), or a
    /// folder of these (e.g. `detections/`). No PATH: the built-in pack.
    Test { paths: Vec<PathBuf> },
    /// Work with detections.
    Detections {
        #[command(subcommand)]
        command: DetectionsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum DetectionsCommand {
    /// What the configured folder holds: id, version, event types, file,
    /// status, and the counts of the running service.
    List {
        #[arg(long, short, default_value = "/etc/oktawatch/oktawatch.toml")]
        config: PathBuf,
    },
    /// Write the built-in pack's `.wasm` files into a folder (to start a detections folder).
    Export { dir: PathBuf },
}
