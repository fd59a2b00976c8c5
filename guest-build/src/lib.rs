//! For build scripts (`host/build.rs`: the detection pack; `tests/build.rs`:
//! the test guests): builds a guest workspace for wasm with the same cargo,
//! without the outer build's settings, and watches its sources.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target the guests are built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// `cargo build --release --target wasm32-unknown-unknown` in `workspace`,
/// into `workspace/target`; returns the folder of the built `.wasm` files.
/// `what` names the guests in the panic a failed build gives.
pub fn build_release(workspace: &Path, what: &str) -> PathBuf {
    let target_dir = workspace.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir);
    // Do not leak the outer build's settings into the guest build.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" || k == "RUSTFLAGS" || k == "RUSTC_WRAPPER" || k == "RUSTC_WORKSPACE_WRAPPER" {
            cmd.env_remove(k);
        }
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo for {what}: {e}"));
    if !status.success() {
        panic!("building {what} failed (is the wasm target installed? `rustup target add {TARGET}`)");
    }
    target_dir.join(TARGET).join("release")
}

/// `rerun-if-changed` for every source file below `dir`: not the build
/// output (`target/`), hidden files other than `.cargo/`, nor the entries
/// named in `skip` (standalone crates, folders built by other toolchains):
/// a name, or a prefix ending in `*` (`"template-*"`).
pub fn watch_sources(dir: &Path, skip: &[&str]) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "target" || skipped(&name, skip) || name.starts_with('.') && name != ".cargo" {
            continue;
        }
        if p.is_dir() {
            watch_sources(&p, skip);
        } else {
            println!("cargo::rerun-if-changed={}", p.display());
        }
    }
}

fn skipped(name: &str, skip: &[&str]) -> bool {
    skip.iter().any(|s| match s.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *s,
    })
}

/// What of `detections/` is not the pack's workspace (`members = ["okta-*"]`):
/// the Rust template (a standalone crate) and the other languages' templates
/// and examples (built by their Makefiles), so editing them rebuilds nothing.
pub const PACK_SKIP: &[&str] = &["template", "template-*", "example-*"];

/// `rerun-if-changed` for what the Rust guests are built from in the SDK
/// folder `sdk` (`guest-sdk/`): its manifest, `src/` and the contract `wit/`,
/// not the other languages' SDKs, the 0.1 contract or the guides.
pub fn watch_rust_sdk(sdk: &Path) {
    println!("cargo::rerun-if-changed={}", sdk.join("Cargo.toml").display());
    watch_sources(&sdk.join("src"), &[]);
    watch_sources(&sdk.join("wit"), &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_names_and_prefixes() {
        assert!(skipped("template", PACK_SKIP));
        assert!(skipped("template-python", PACK_SKIP));
        assert!(skipped("template-js", PACK_SKIP));
        assert!(skipped("example-c", PACK_SKIP));
        assert!(!skipped("okta-brute-force-user", PACK_SKIP));
        assert!(!skipped("templates", &["template"]));
        assert!(!skipped("Cargo.toml", PACK_SKIP));
    }
}
