//! Builds the test guests (`tests/guests/`) for wasm once, into `target/`, and
//! tells the tests where they are (`OKTAWATCH_TEST_GUESTS`).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let guests = manifest.join("guests");
    oktawatch_guest_build::watch_sources(&guests, &[]);
    oktawatch_guest_build::watch_rust_sdk(&manifest.join("../guest-sdk"));
    let release = oktawatch_guest_build::build_release(&guests, "the test guests");
    println!("cargo::rustc-env=OKTAWATCH_TEST_GUESTS={}", release.display());
}
