//! Detections in Python, JavaScript and C, built from source with each
//! language's standard toolchain (componentize-py, componentize-js, clang
//! with wasi-libc and wit-bindgen's C generator), run through `oktawatch test`
//! with their cases and through `oktawatch replay` next to the Rust pack, with
//! the alerts read from a real datagram socket.
//!
//! Each template is built by its own Makefile (`tests/src/polyglot.rs`, the
//! one build path the polyglot tests and the bench use too) with the
//! toolchains `tests/toolchains/install.sh` installs. A missing toolchain
//! prints one `skipped: …` line and the test passes, unless
//! `OKTAWATCH_REQUIRE_TOOLCHAINS=1`, which installs it. Builds go to
//! `target/polyglot/<lang>/` and are redone by the Makefile when a source changes.

use oktawatch_tests::polyglot::{self, Lang};
use oktawatch_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The language's built template (`.wasm` with its `.cases.json` beside it),
/// or None (after the skip line) when its toolchain is missing. Built once per run.
fn built(lang: Lang) -> Option<PathBuf> {
    static CELLS: [OnceLock<Option<PathBuf>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = Lang::ALL.iter().position(|l| *l == lang).unwrap();
    CELLS[i].get_or_init(|| polyglot::template(lang)).clone()
}

fn oktawatch_test(wasm: &Path) -> (bool, String) {
    let out = Command::new(bin()).arg("test").arg(wasm).env("OKTAWATCH_LOG", "warn").output().unwrap();
    (out.status.success(), format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Its cases all pass in the real sandbox, with firing cases and near misses.
fn passes_its_cases(lang: Lang) {
    let Some(wasm) = built(lang) else { return };
    let (ok, table) = oktawatch_test(&wasm);
    assert!(ok, "{table}");
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(wasm.with_extension("cases.json")).unwrap()).unwrap();
    let n = cases["cases"].as_array().unwrap().len();
    assert!(table.contains(&format!("\n{n} passed, 0 failed")), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(lang.template())).collect();
    assert_eq!(rows.len(), n, "{table}");
    assert!(rows.iter().filter(|r| r.ends_with("no alert")).count() >= 3, "near misses: {table}");
    assert!(rows.iter().any(|r| r.contains("3 alerts, first [high] Help Desk administrator granted to alice@example.com")), "the burst case: {table}");
    assert!(rows.iter().any(|r| r.contains("[high] Super administrator granted to alice@example.com by ada.admin@example.com")), "{table}");
}

/// A config key the detection did not declare refuses the load, naming the key.
fn refuses_an_undeclared_key(lang: Lang) {
    let Some(wasm) = built(lang) else { return };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("typed.wasm");
    std::fs::copy(&wasm, &copy).unwrap();
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(wasm.with_extension("cases.json")).unwrap()).unwrap();
    let mut first = cases["cases"][0].clone();
    first["name"] = "an undeclared key".into();
    first["config"] = "burst = 2\nthreshold = 5".into();
    let mut wrong_type = cases["cases"][0].clone();
    wrong_type["name"] = "a key of the wrong type".into();
    wrong_type["config"] = "burst = \"three\"".into();
    std::fs::write(dir.path().join("typed.cases.json"), serde_json::json!({"cases": [first, wrong_type]}).to_string()).unwrap();
    let (ok, table) = oktawatch_test(&copy);
    assert!(!ok, "{table}");
    let undeclared = table.lines().find(|l| l.contains("an undeclared key")).unwrap_or_else(|| panic!("{table}"));
    assert!(undeclared.contains("FAIL") && undeclared.contains("threshold"), "{undeclared}");
    let wrong = table.lines().find(|l| l.contains("a key of the wrong type")).unwrap_or_else(|| panic!("{table}"));
    assert!(wrong.contains("FAIL") && wrong.contains("burst"), "{wrong}");
    assert!(table.contains("0 passed, 2 failed"), "{table}");
}

/// `oktawatch replay` of grants through the Rust pack and this detection
/// together: both alert, on the real socket, each once per grant.
fn replays_next_to_the_rust_pack(lang: Lang) {
    let Some(wasm) = built(lang) else { return };
    let dir = tempfile::tempdir().unwrap();
    let dets = dir.path().join("detections");
    let out = Command::new(bin()).args(["detections", "export"]).arg(&dets).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::copy(&wasm, dets.join(format!("{}.wasm", lang.template()))).unwrap();
    // The burst case (three grants by one admin) and a failed grant.
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(wasm.with_extension("cases.json")).unwrap()).unwrap();
    let case = |name: &str| cases["cases"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["events"].clone();
    let mut events: Vec<Value> = case("three admin grants by one actor within an hour").as_array().unwrap().clone();
    events.extend(case("a failed grant stays quiet").as_array().unwrap().iter().cloned());
    let input = dir.path().join("grants.ndjson");
    std::fs::write(&input, events.iter().map(|e| e.to_string() + "\n").collect::<String>()).unwrap();
    let wazuh = Wazuh::bind(&dir.path().join("queue.sock"));
    let out = Command::new(bin())
        .args(["replay", input.to_str().unwrap(), "--detections", dets.to_str().unwrap(), "--socket", wazuh.path.to_str().unwrap()])
        .env("OKTAWATCH_LOG", "warn")
        .env("OKTAWATCH_CACHE_DIR", polyglot::cache_dir())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    wazuh.wait("the raw events", std::time::Duration::from_secs(10), |w| w.events().len() == events.len());
    let alerts = wazuh.alerts();
    let of = |id: &str| -> Vec<&Value> { alerts.iter().filter(|a| a["kind"] == "alert" && a["detection"]["id"] == id).collect() };
    let ours = of(lang.template_id());
    let titles: Vec<&str> = ours.iter().map(|a| a["alert"]["title"].as_str().unwrap_or("")).collect();
    assert_eq!(
        titles,
        [
            "Help Desk administrator granted to alice@example.com by ada.admin@example.com",
            "Help Desk administrator granted to bob@example.com by ada.admin@example.com",
            "Help Desk administrator granted to carol@example.com by ada.admin@example.com (3 grants within an hour)",
        ],
        "{log}"
    );
    assert_eq!(ours[2]["alert"]["severity"], "critical", "{}", ours[2]);
    assert_eq!(ours[2]["alert"]["context"]["grants_last_hour"], "3", "{}", ours[2]);
    assert_eq!(ours[2]["alert"]["context"]["client_ip"], "198.51.100.23", "{}", ours[2]);
    assert_eq!(ours[0]["event"]["uuid"], events[0]["uuid"], "{}", ours[0]);
    assert_eq!(of("okta-admin-role-granted").len(), 3, "the Rust pack's detection fires on the same grants: {alerts:?}");
    assert!(!log.contains("detection rejected"), "{log}");
}

/// The same detection in Rust (`tests/guests/probe-admin-grant`) passes the
/// same cases: the four languages agree.
#[test]
fn the_rust_twin_passes_the_same_cases() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("rust-twin.wasm");
    std::fs::copy(guest("probe-admin-grant"), &wasm).unwrap();
    let cases = repo().join("detections").join(Lang::Python.template()).join("cases.json");
    for lang in [Lang::Js, Lang::C] {
        let theirs = repo().join("detections").join(lang.template()).join("cases.json");
        assert_eq!(std::fs::read(&theirs).unwrap(), std::fs::read(&cases).unwrap(), "{} has the shared cases", lang.template());
    }
    std::fs::copy(&cases, dir.path().join("rust-twin.cases.json")).unwrap();
    let (ok, table) = oktawatch_test(&wasm);
    assert!(ok, "{table}");
    assert!(table.contains("\n9 passed, 0 failed"), "{table}");
}

#[test]
fn python_detection_passes_its_cases() {
    passes_its_cases(Lang::Python);
}
#[test]
fn python_detection_refuses_an_undeclared_config_key() {
    refuses_an_undeclared_key(Lang::Python);
}
#[test]
fn python_detection_replays_next_to_the_rust_pack() {
    replays_next_to_the_rust_pack(Lang::Python);
}

#[test]
fn js_detection_passes_its_cases() {
    passes_its_cases(Lang::Js);
}
#[test]
fn js_detection_refuses_an_undeclared_config_key() {
    refuses_an_undeclared_key(Lang::Js);
}
#[test]
fn js_detection_replays_next_to_the_rust_pack() {
    replays_next_to_the_rust_pack(Lang::Js);
}

#[test]
fn c_detection_passes_its_cases() {
    passes_its_cases(Lang::C);
}
#[test]
fn c_detection_refuses_an_undeclared_config_key() {
    refuses_an_undeclared_key(Lang::C);
}
#[test]
fn c_detection_replays_next_to_the_rust_pack() {
    replays_next_to_the_rust_pack(Lang::C);
}

/// A copy of a template folder under `parent`, named `name` (what the guides
/// tell an author to start from: `cp -r detections/template-python ~/acme-…`).
fn copy_template(lang: Lang, parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(repo().join("detections").join(lang.template())).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    dir
}

fn oktawatch_test_in(dir: &Path, arg: &str) -> (bool, String, String) {
    let out = Command::new(bin()).arg("test").arg(arg).current_dir(dir).env("OKTAWATCH_LOG", "warn").output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `oktawatch test FOLDER` on a Makefile folder (no Cargo.toml): before `make`
/// it says to run `make` there; after, it tests `target/<folder>.wasm` against
/// the folder's cases.json (from the folder, or as `.` inside it), warns when a
/// source is newer than the build, and in a folder of folders tests the built
/// ones and names the others. The wasm here is the Rust twin, which passes the
/// shared cases: where it came from is not what this tests.
#[test]
fn oktawatch_test_finds_the_wasm_of_a_makefile_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_template(Lang::Python, tmp.path(), "acme-admin-grant");

    let (ok, table, log) = oktawatch_test_in(tmp.path(), "acme-admin-grant");
    assert!(!ok, "{table}{log}");
    assert!(log.contains("no built target/acme-admin-grant.wasm; run `make` in that folder first"), "{log}");

    std::fs::create_dir(dir.join("target")).unwrap();
    let wasm = dir.join("target/acme-admin-grant.wasm");
    std::fs::copy(guest("probe-admin-grant"), &wasm).unwrap();
    for (cwd, arg) in [(tmp.path(), "acme-admin-grant"), (dir.as_path(), ".")] {
        let (ok, table, log) = oktawatch_test_in(cwd, arg);
        assert!(ok, "{table}{log}");
        assert!(table.contains("\n9 passed, 0 failed"), "{table}");
        assert_eq!(table.lines().filter(|l| l.starts_with("acme-admin-grant ")).count(), 9, "{table}");
        assert!(!log.contains("older than"), "{log}");
    }

    // A source edited after the build: still tested, with a warning naming it.
    let edited = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options().append(true).open(dir.join("app.py")).unwrap().set_modified(edited).unwrap();
    let (ok, table, log) = oktawatch_test_in(tmp.path(), "acme-admin-grant");
    assert!(ok, "{table}{log}");
    assert!(log.contains("target/acme-admin-grant.wasm is older than app.py; run `make`"), "{log}");

    // The parent folder: the built one is tested, the unbuilt one is named.
    copy_template(Lang::Js, tmp.path(), "acme-unbuilt");
    let (ok, table, log) = oktawatch_test_in(tmp.path(), ".");
    assert!(ok, "{table}{log}");
    assert!(table.contains("\n9 passed, 0 failed"), "{table}");
    assert!(log.contains("not tested") && log.contains("acme-unbuilt: no built target/acme-unbuilt.wasm"), "{log}");

    // Nothing built at all: an error that names the folders to run `make` in.
    std::fs::remove_file(&wasm).unwrap();
    let (ok, _, log) = oktawatch_test_in(tmp.path(), ".");
    assert!(!ok);
    assert!(log.contains("no built detections; run `make` in") && log.contains("acme-unbuilt"), "{log}");
}

/// The C guide's steps as written, through the real binary: copy the example,
/// `make` (the toolchain's paths given as the guide's variables), then
/// `oktawatch test` of the folder.
#[test]
fn the_c_guide_copy_make_then_test_the_folder() {
    let Some(paths) = polyglot::toolchain("c") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_template(Lang::C, tmp.path(), "acme-admin-grant");
    let o = Command::new("make")
        .arg("-C")
        .arg(&dir)
        .arg(format!("CC={}", paths["CLANG"]))
        .arg(format!("WIT_BINDGEN={}", paths["WIT_BINDGEN"]))
        .arg(format!("OKTAWATCH_SDK={}", repo().join("guest-sdk").display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let (ok, table, log) = oktawatch_test_in(tmp.path(), "acme-admin-grant");
    assert!(ok, "{table}{log}");
    assert!(table.contains("\n9 passed, 0 failed"), "{table}");
    assert!(!log.contains("older than"), "{log}");
}
