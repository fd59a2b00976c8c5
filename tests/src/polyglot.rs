//! Detections written in Python, JavaScript and C, built the one way each
//! language's guide builds them: with the Makefile of that language's
//! template (`detections/template-python`, `template-js`, `example-c`),
//! against the contract the host loads (`guest-sdk/wit`, 0.2), with the
//! toolchains `tests/toolchains/install.sh` installs and their default flags.
//! The templates themselves, and the test-only detections of
//! `tests/polyglot/<lang>/<name>/` (built with their language's template
//! Makefile, `make -f`), come out of [`build`].
//!
//! Without a language's toolchain the tests that need it print one `skipped: …`
//! line and pass, unless `OKTAWATCH_REQUIRE_TOOLCHAINS` is set (CI sets it):
//! then the toolchains are installed, and a failure to do so fails the test.
//! Builds are kept under `target/polyglot/<lang>/`; `make` redoes one when a
//! source, the SDK or the contract changed, and all of them when the
//! toolchain did.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A language with an SDK and a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Python,
    Js,
    C,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Python, Lang::Js, Lang::C];

    /// Its name for `tests/toolchains/install.sh`.
    pub fn toolchain(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }

    /// Its template folder under `detections/`: the detection every
    /// language shares (with the Rust twin `tests/guests/probe-admin-grant`),
    /// and the Makefile that builds any detection of the language.
    pub fn template(self) -> &'static str {
        match self {
            Lang::Python => "template-python",
            Lang::Js => "template-js",
            Lang::C => "example-c",
        }
    }

    /// The template's detection id.
    pub fn template_id(self) -> &'static str {
        match self {
            Lang::Python => "example-python-admin-grant",
            Lang::Js => "example-js-admin-grant",
            Lang::C => "example-c-admin-grant",
        }
    }

    /// The `make` variables that point the Makefile at the installed toolchain.
    fn make_vars(self, paths: &HashMap<String, String>) -> Vec<String> {
        let keys: &[(&str, &str)] = match self {
            Lang::Python => &[("COMPONENTIZE_PY", "COMPONENTIZE_PY")],
            Lang::Js => &[("COMPONENTIZE_JS", "COMPONENTIZE_JS")],
            Lang::C => &[("WIT_BINDGEN", "WIT_BINDGEN"), ("CC", "CLANG")],
        };
        keys.iter()
            .map(|(var, key)| {
                let v = paths.get(*key).unwrap_or_else(|| panic!("tests/toolchains/install.sh reported no {key}: {paths:?}"));
                format!("{var}={v}")
            })
            .collect()
    }
}

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

/// A compile cache shared by the polyglot and languages tests (mode 0700, as
/// the host wants): a Python or JavaScript component takes seconds to compile.
pub fn cache_dir() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let d = target().join("polyglot/cache");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&d).unwrap();
    d
}

/// One build at a time (two cores; the same component asked for by two tests).
static BUILDING: Mutex<()> = Mutex::new(());

/// What `tests/toolchains/install.sh` reports for `lang` (`COMPONENTIZE_PY`,
/// `COMPONENTIZE_JS`, `WIT_BINDGEN`, `CLANG`, … and their paths),
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

/// The language's template, built: its `.wasm`, with its `.cases.json` beside it.
pub fn template(lang: Lang) -> Option<PathBuf> {
    build(lang, &root().join("detections").join(lang.template()))
}

/// `tests/polyglot/<lang>/<name>`, built with the language's template Makefile.
pub fn test_detection(lang: Lang, name: &str) -> Option<PathBuf> {
    build(lang, &root().join("tests/polyglot").join(lang.toolchain()).join(name))
}

/// The detection in folder `dir` built by `make -f <template>/Makefile -C dir`
/// into `target/polyglot/<lang>/<folder>.wasm` (and `<folder>.cases.json`
/// when the folder has cases), or `None` after printing why the test is
/// skipped (a panic instead when [`required`]).
pub fn build(lang: Lang, dir: &Path) -> Option<PathBuf> {
    let _one = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    let paths = toolchain(lang.toolchain())?;
    let root = root();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let out = target().join("polyglot").join(lang.toolchain());
    std::fs::create_dir_all(&out).unwrap();
    let wasm = out.join(format!("{name}.wasm"));
    let mut goals = vec![wasm.display().to_string()];
    if dir.join("cases.json").is_file() {
        goals.push(out.join(format!("{name}.cases.json")).display().to_string());
    }
    // make knows when a source changed; a new toolchain rebuilds everything (-B).
    let sorted: BTreeMap<&String, &String> = paths.iter().collect();
    let stamp_text = format!("{sorted:?}");
    let stamp = out.join(format!(".{name}.toolchain"));
    let same_toolchain = std::fs::read_to_string(&stamp).is_ok_and(|s| s == stamp_text);
    let mut make = Command::new("make");
    make.arg("-f")
        .arg(root.join("detections").join(lang.template()).join("Makefile"))
        .arg("-C")
        .arg(dir)
        .arg(format!("OUT={}", out.display()))
        .arg(format!("OKTAWATCH_SDK={}", root.join("guest-sdk").display()))
        .arg(format!("WIT={}", root.join("guest-sdk/wit").display()))
        .args(lang.make_vars(&paths))
        .args(&goals);
    if !same_toolchain {
        make.arg("-B");
    }
    let o = make.output().expect("running make");
    assert!(
        o.status.success(),
        "building {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(wasm.is_file(), "make built no {}", wasm.display());
    std::fs::write(&stamp, stamp_text).unwrap();
    Some(wasm)
}
