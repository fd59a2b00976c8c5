//! The `oktawatch` binary: parse the command line, set up logging, run, report errors.

use clap::Parser;
use oktawatch::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&cli.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    match oktawatch::app::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("oktawatch: {e:#}");
            ExitCode::from(2)
        }
    }
}
