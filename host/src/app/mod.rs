//! The commands, wired from the library's parts. `main` only parses and reports.

mod check;
#[cfg(feature = "demo")]
mod demo;
mod detections;
mod reload;
mod replay;
mod run;
mod test;

use crate::cli::{Cli, Command, DetectionsCommand};
use crate::config::{Config, DetectionsConfig};
use crate::runtime::state::StateStore;
use crate::runtime::watch::Folder;
use crate::runtime::{Limits, Runtime};
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config } => run::run(&config),
        Command::Replay { file, since, until, org, config, sink, socket, detections, no_detections, repeat_detections } => {
            let input = match (file, since) {
                (Some(file), _) => replay::Input::File(file),
                (None, Some(since)) => replay::Input::Okta { since, until, org },
                (None, None) => unreachable!("clap requires one"),
            };
            replay::replay(input, config.as_deref(), sink, socket, detections, no_detections, repeat_detections)
        }
        #[cfg(feature = "demo")]
        Command::Demo { json, follow, detections } => demo::demo(json, follow, detections),
        Command::Check { config } => check::check(&config),
        Command::Test { paths } => test(&paths),
        Command::Detections { command: DetectionsCommand::List { config } } => detections::list(&config),
        Command::Detections { command: DetectionsCommand::Export { dir } } => {
            let n = crate::pack::export(&dir)?;
            eprintln!("wrote {n} detections to {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn test(paths: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let targets = test::collect(paths)?;
    // Compiled code is cached as for replays: a Python or JavaScript detection
    // takes seconds to compile, and is tested again and again while written.
    let rt = Runtime::new(Limits::default(), Arc::new(StateStore::in_memory(1, 1)), BTreeMap::new(), user_cache_dir())?;
    let results = test::run(&rt, &targets);
    print!("{}", test::table(&results));
    Ok(if results.iter().all(|r| r.passed) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runtime bounds from the config.
pub fn limits(d: &DetectionsConfig) -> Limits {
    Limits { timeout: d.timeout, memory_bytes: (d.memory_mb as usize) << 20, ..Limits::default() }
}

/// Per-detection config sections as TOML text.
pub fn detection_configs(d: &DetectionsConfig) -> anyhow::Result<BTreeMap<String, String>> {
    d.config.iter().map(|(id, table)| Ok((id.clone(), toml::to_string(table)?))).collect()
}

/// The runtime, with state persisted under `state_dir` (or in memory).
pub fn runtime(config: &Config, state_dir: Option<&Path>) -> anyhow::Result<Arc<Runtime>> {
    runtime_with_cache(config, state_dir, state_dir.map(|d| d.join("cache")))
}

/// [`runtime`] with the AOT cache somewhere else than the state folder.
pub fn runtime_with_cache(config: &Config, state_dir: Option<&Path>, cache: Option<PathBuf>) -> anyhow::Result<Arc<Runtime>> {
    let d = &config.detections;
    let (keys, bytes) = (d.state_max_keys, (d.state_max_kb as usize) << 10);
    let state = match state_dir {
        Some(dir) => StateStore::open(&dir.join("detections").join("state.redb"), keys, bytes)?,
        None => StateStore::in_memory(keys, bytes),
    };
    Ok(Arc::new(Runtime::new(limits(d), Arc::new(state), detection_configs(d)?, cache)?))
}

/// Where one-shot commands keep compiled detections between runs:
/// `$OKTAWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/oktawatch`, else
/// `~/.cache/oktawatch`. None (compile every time) when it cannot be created.
pub fn user_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = env("OKTAWATCH_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("oktawatch")))
        .or_else(|| env("HOME").map(|h| h.join(".cache").join("oktawatch")))?;
    let made = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir);
    match made {
        Ok(()) => Some(dir),
        Err(e) => {
            tracing::debug!("no compiled-detection cache at {}: {e}", dir.display());
            None
        }
    }
}

/// Loads a detections folder, or the built-in pack (written to `scratch`).
pub fn load_detections(
    rt: &Arc<Runtime>,
    dir: Option<&Path>,
    scratch: &Path,
) -> anyhow::Result<Arc<Folder>> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let d = scratch.join("pack");
            crate::pack::export(&d)?;
            d
        }
    };
    Folder::load(rt.clone(), &dir)
}

/// The service's detections folder, compiled in the background: the orgs
/// start meanwhile, and events handled before it is installed do not run
/// through its detections (see [`ORG_GRACE`]).
pub fn start_detections(rt: &Arc<Runtime>, dir: &Path) -> anyhow::Result<Arc<Folder>> {
    tracing::info!(
        "compiling the detections of {} in the background; events handled before they are loaded are not run through them",
        dir.display()
    );
    Folder::load_in_background(rt.clone(), dir)
}

/// How long an org waits for the first load of the detections before it
/// polls anyway: a cached or small set loads well within it; a large
/// component compiling cold (seconds to tens of seconds) does not hold
/// event collection up past it.
pub const ORG_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits (at most [`ORG_GRACE`]) for the first load of the detections; says so when it gives up.
pub async fn await_detections(folder: Option<&Folder>, org: &str) {
    let Some(folder) = folder else { return };
    if !folder.wait_loaded(ORG_GRACE).await {
        tracing::warn!(
            org = %org,
            "detections still compiling after {ORG_GRACE:?}: collecting events now; those handled before the detections are loaded are not run through them"
        );
    }
}
