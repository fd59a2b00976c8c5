//! oktawatch: Okta System Log → detections in a WebAssembly sandbox → Wazuh.
//!
//! The binary is a thin [`main`]; the parts are modules named by role:
//! `sources` (Okta poller, event hook listener, NDJSON replay) → `pipeline` (dedup, `runtime`,
//! `envelope`, `journal`, `checkpoint`) → `sinks` (Wazuh socket, stdout, file).

pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod deadletter;
pub mod dedup;
pub mod demo_feed;
pub mod emulator;
pub mod envelope;
pub mod event;
pub mod journal;
pub mod metrics;
pub mod pack;
pub mod pipeline;
pub mod runtime;
pub mod secret_file;
pub mod sinks;
pub mod sources;
pub mod stats;
pub mod testing;

/// The whole program: parse the command line, set up logging, run, report errors (`{:#}`).
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    match app::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oktawatch: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
