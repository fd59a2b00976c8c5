//! Detections written in Python, JavaScript and C (`tests/polyglot/`), built
//! with each language's standard toolchain and its default flags
//! (`tests/polyglot/build.sh`; the toolchains from `tests/toolchains/install.sh`).
//!
//! Without a language's toolchain the tests that need it print one `skipped: …`
//! line and pass, unless `OKTAWATCH_REQUIRE_TOOLCHAINS` is set (CI sets it):
//! then the toolchains are installed, and a failure to do so fails the test.
//! Built components are kept under `target/polyglot/`, named by a hash of
//! their sources, the contract and the two scripts, so a rerun builds nothing.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// True when a missing toolchain must fail the test instead of skipping it.
pub fn required() -> bool {
    std::env::var("OKTAWATCH_REQUIRE_TOOLCHAINS").is_ok_and(|v| !v.is_empty() && v != "0")
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// A compile cache shared by the polyglot tests (mode 0700, as the host wants):
/// a Python or JavaScript component takes seconds to compile.
pub fn cache_dir() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let d = target().join("polyglot/cache");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&d).unwrap();
    d
}

/// One build at a time (two cores; the same component asked for by two tests).
static BUILDING: Mutex<()> = Mutex::new(());

/// What `tests/toolchains/install.sh` reports for `lang` (`COMPONENTIZE_PY`,
/// `COMPONENTIZE_JS`, `JCO`, `WIT_BINDGEN`, `CLANG`, … and their paths),
/// installing it first when [`required`]; `None` after printing why the test
/// is skipped (a panic instead when [`required`]).
pub fn toolchain(lang: &str) -> Option<HashMap<String, String>> {
    let mut check = Command::new(root().join("tests/toolchains/install.sh"));
    if !required() {
        check.arg("--check");
    }
    let out = check.arg(lang).output().expect("running tests/toolchains/install.sh");
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert!(!required(), "OKTAWATCH_REQUIRE_TOOLCHAINS is set, so this is a failure: {why}");
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: no {lang} toolchain (tests/toolchains/install.sh {lang}; OKTAWATCH_REQUIRE_TOOLCHAINS=1 fails instead): {why}"
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// `tests/polyglot/<lang>/<name>` built into a component, or `None` after
/// printing why the test is skipped (a panic instead when [`required`]).
pub fn build(lang: &str, name: &str) -> Option<PathBuf> {
    let _one = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    toolchain(lang)?;
    let root = root();
    let install = root.join("tests/toolchains/install.sh");
    let src = root.join("tests/polyglot").join(lang).join(name);
    let wit = root.join("guest-sdk/wit-0.1");
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lang.hash(&mut h);
    for f in [files(&src), files(&wit), vec![install.clone(), root.join("tests/polyglot/build.sh")]].concat() {
        f.strip_prefix(&root).unwrap_or(&f).hash(&mut h);
        std::fs::read(&f).unwrap().hash(&mut h);
    }
    let dir = target().join("polyglot");
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = dir.join(format!("{lang}-{name}-{:016x}.wasm", h.finish()));
    if wasm.is_file() {
        return Some(wasm);
    }
    let tmp = dir.join(format!(".{lang}-{name}.tmp.wasm"));
    let out = Command::new(root.join("tests/polyglot/build.sh")).arg(lang).arg(&src).arg(&wit).arg(&tmp).output().unwrap();
    assert!(
        out.status.success(),
        "building {lang}/{name} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &wasm).unwrap();
    Some(wasm)
}

/// Files under `dir`, sorted, leaving out what builds leave behind.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" || name == "node_modules" || name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
