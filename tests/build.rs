//! Builds the test guests (`tests/guests/`) for wasm once, into `target/`, and
//! tells the tests where they are (`OKTAWATCH_TEST_GUESTS`).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = manifest.join("guests");
    watch_sources(&guests);
    watch_sources(&manifest.join("../guest-sdk"));
    let target_dir = guests.join("target");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&guests)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown", "--target-dir"])
        .arg(&target_dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" || k == "RUSTFLAGS" || k == "RUSTC_WRAPPER" || k == "RUSTC_WORKSPACE_WRAPPER" {
            cmd.env_remove(k);
        }
    }
    let status = cmd.status().expect("running cargo for the test guests");
    assert!(status.success(), "building the test guests failed (rustup target add wasm32-unknown-unknown?)");
    println!(
        "cargo::rustc-env=OKTAWATCH_TEST_GUESTS={}",
        target_dir.join("wasm32-unknown-unknown/release").display()
    );
}

/// `rerun-if-changed` for every source file (not the build output under `target/`).
fn watch_sources(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if entry.file_name() == "target" {
            continue;
        }
        if p.is_dir() {
            watch_sources(&p);
        } else {
            println!("cargo::rerun-if-changed={}", p.display());
        }
    }
}
