//! Lists the detection pack for the native harness (figure 2): one module per
//! `detections/okta-*/src/lib.rs`, included by path, so the bench compiles
//! the detections' own sources against the guest SDK's `native` backend
//! while the pack's crates stay plain wasm `cdylib`s. Also builds the test
//! guests (`tests/guests/`) for wasm, for `runtime-bench`
//! (`OKTAWATCH_TEST_GUESTS`).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("../detections").canonicalize().expect("../detections");
    println!("cargo:rerun-if-changed={}", pack.display());
    let mut crates: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&pack)
        .expect("reading detections/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("okta-")) && p.join("src/lib.rs").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().replace('-', "_"), p.join("src/lib.rs")))
        .collect();
    crates.sort();
    let mut out = String::new();
    for (module, lib) in &crates {
        writeln!(out, "#[path = {:?}]\n#[allow(dead_code, deprecated)]\npub mod {module};", lib.display().to_string()).unwrap();
    }
    let ctors: Vec<String> = crates.iter().map(|(m, _)| format!("{m}::native_detection")).collect();
    writeln!(
        out,
        "/// Each detection of the pack: its `native_detection` constructor.\npub const PACK: &[fn() -> Box<dyn NativeDetection>] = &[{}];",
        ctors.join(", ")
    )
    .unwrap();
    std::fs::write(Path::new(&std::env::var("OUT_DIR").unwrap()).join("pack.rs"), out).unwrap();

    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/guests").canonicalize().expect("../tests/guests");
    oktawatch_guest_build::watch_sources(&guests, &[]);
    oktawatch_guest_build::watch_rust_sdk(&guests.join("../../guest-sdk"));
    let release = oktawatch_guest_build::build_release(&guests, "the test guests");
    println!("cargo::rustc-env=OKTAWATCH_TEST_GUESTS={}", release.display());
}
