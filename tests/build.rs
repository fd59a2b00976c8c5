//! Builds the test guests (`tests/guests/`) for wasm once, into `target/`, and
//! tells the tests where they are (`OKTAWATCH_TEST_GUESTS`).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = manifest.join("guests");
    println!("cargo::rerun-if-changed={}", guests.display());
    println!("cargo::rerun-if-changed={}", manifest.join("../guest-sdk").display());
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
