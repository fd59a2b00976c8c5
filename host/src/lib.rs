//! oktawatch: Okta System Log → detections in a WebAssembly sandbox → Wazuh.
//!
//! The binary is a thin [`main`]; the parts are modules named by role:
//! `sources` (Okta poller, event hook listener, NDJSON replay) → `pipeline` (dedup, `runtime`,
//! `envelope`, `spool`, `checkpoint`) → `sinks` (Wazuh socket, stdout, file).

// What the tests, the bench and the emulator's tests use; everything else is
// the binary's own (pub(crate)), so that the compiler sees what is dead.
pub mod app;
pub mod config;
pub mod event;
pub mod pack;
pub mod pipeline;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod telemetry;

pub(crate) mod cli;
pub(crate) mod harden;
pub(crate) mod secret;
pub(crate) mod shutdown;

/// The whole program: harden the process, parse the command line, set up
/// logging, run, report errors (`{:#}`).
///
/// Before anything else the process is made non-dumpable with no core limit
/// (it will hold tokens and keys); the commands that write state, spool or
/// caches (`run`, `replay`, `check`, `demo`) then create owner-only files
/// whatever the inherited umask. `detections export` keeps the caller's umask:
/// the service user must be able to read the `.wasm` files it writes.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    use std::io::IsTerminal;
    let dumps = harden::no_core_dumps();
    let cli = cli::Cli::parse();
    let writes_files = match cli.command {
        cli::Command::Run { .. } | cli::Command::Replay { .. } | cli::Command::Check { .. } => true,
        #[cfg(feature = "demo")]
        cli::Command::Demo { .. } => true,
        _ => false,
    };
    if writes_files {
        harden::private_files();
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal; journald and files get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    if let Err(e) = dumps {
        tracing::warn!("cannot turn core dumps off ({e}): a crash could write the token and keys into a core file");
    }
    match app::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oktawatch: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
