//! Builds the detection pack (`../detections`) for wasm and embeds it, so
//! that `oktawatch demo` and `oktawatch test` work from a fresh clone and the
//! tests share one build of the guests. Off with `--no-default-features`.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let pack_rs = out.join("pack.rs");
    if std::env::var_os("CARGO_FEATURE_BUNDLED_PACK").is_none() {
        std::fs::write(&pack_rs, "pub static FILES: &[PackFile] = &[];\n").unwrap();
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let pack = manifest_dir.join("../detections").canonicalize().expect("the detections folder");
    let sdk = manifest_dir.join("../guest-sdk").canonicalize().expect("the guest-sdk folder");
    // Sources only: the guest build writes into detections/target, which must not retrigger us.
    oktawatch_guest_build::watch_sources(&pack, oktawatch_guest_build::PACK_SKIP);
    oktawatch_guest_build::watch_rust_sdk(&sdk);
    let release = oktawatch_guest_build::build_release(&pack, "the detection pack");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&pack)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file() && p.file_name().unwrap().to_string_lossy().starts_with("okta-"))
        .collect();
    crates.sort();
    let mut src = String::from("pub static FILES: &[PackFile] = &[\n");
    for dir in crates {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let wasm = release.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(wasm.is_file(), "{} was not built", wasm.display());
        let cases = dir.join("cases.json");
        let cases_src = if cases.is_file() { format!("include_str!({:?})", path_str(&cases)) } else { "\"\"".into() };
        src.push_str(&format!(
            "    PackFile {{ name: {name:?}, wasm: include_bytes!({:?}), cases: {cases_src} }},\n",
            path_str(&wasm)
        ));
    }
    src.push_str("];\n");
    std::fs::write(&pack_rs, src).unwrap();
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("UTF-8 paths").to_string()
}
