//! Detections in Python, JavaScript and C, built from source with each
//! language's standard toolchain (componentize-py, componentize-js, clang
//! with wasi-libc and wit-bindgen's C generator), run through `oktawatch test`
//! with their cases and through `oktawatch replay` next to the Rust pack, with
//! the alerts read from a real datagram socket.
//!
//! The toolchains are the ones `tests/toolchains/install.sh` installs and
//! reports (the polyglot tests use the same). A missing toolchain prints one
//! `skipped: …` line and the test passes, unless
//! `OKTAWATCH_REQUIRE_TOOLCHAINS=1`, which installs it. Builds go to `target/languages/` and are
//! redone by each template's Makefile when a source changes.

use oktawatch_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The contract the templates are built against: the one the host loads.
const WIT: &str = "wit";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

struct Lang {
    /// Template folder under `detections/`.
    folder: &'static str,
    /// The detection's id.
    id: &'static str,
    /// Its name for `tests/toolchains/install.sh`.
    toolchain: &'static str,
}

const PYTHON: Lang = Lang { folder: "template-python", id: "example-python-admin-grant", toolchain: "python" };
const JS: Lang = Lang { folder: "template-js", id: "example-js-admin-grant", toolchain: "js" };
const C: Lang = Lang { folder: "example-c", id: "example-c-admin-grant", toolchain: "c" };

/// The `make` variables that point a template's build at its toolchain
/// (what `tests/toolchains/install.sh` reports), or None after the skip line.
fn toolchain_of(lang: &Lang) -> Option<Vec<String>> {
    let paths = polyglot::toolchain(lang.toolchain)?;
    let var = |make: &str, key: &str| paths.get(key).map(|v| format!("{make}={v}"));
    match lang.toolchain {
        "python" => Some(vec![var("COMPONENTIZE_PY", "COMPONENTIZE_PY")?]),
        "js" => Some(vec![var("COMPONENTIZE_JS", "COMPONENTIZE_JS")?]),
        _ => Some(vec![var("WIT_BINDGEN", "WIT_BINDGEN")?, var("CC", "CLANG")?]),
    }
}

/// The language's built `.wasm` (with its `.cases.json` beside it), or None
/// (after the skip line) when its toolchain is missing. Built once per run.
fn built(lang: &'static Lang) -> Option<PathBuf> {
    static CELLS: [OnceLock<Option<PathBuf>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let cell = match lang.folder {
        "template-python" => &CELLS[0],
        "template-js" => &CELLS[1],
        _ => &CELLS[2],
    };
    cell.get_or_init(|| build(lang)).clone()
}

fn build(lang: &Lang) -> Option<PathBuf> {
    let vars = toolchain_of(lang)?;
    let out = repo().join("target/languages").join(WIT);
    let mut cmd = Command::new("make");
    cmd.arg("-C")
        .arg(repo().join("detections").join(lang.folder))
        .arg(format!("OUT={}", out.display()))
        .arg(format!("WIT={}", repo().join("guest-sdk").join(WIT).display()))
        .arg(format!("OKTAWATCH_SDK={}", repo().join("guest-sdk").display()))
        .args(&vars);
    let o = cmd.output().expect("running make");
    assert!(
        o.status.success(),
        "building {} failed:\n{}\n{}",
        lang.folder,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let wasm = out.join(format!("{}.wasm", lang.folder));
    assert!(wasm.is_file() && out.join(format!("{}.cases.json", lang.folder)).is_file());
    Some(wasm)
}

/// A compile cache kept between runs (the pack and the languages' large components
/// compile once); the host trusts only a folder no one else may write.
fn compile_cache() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = repo().join("target/languages/cache");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).unwrap();
    dir
}

fn oktawatch_test(wasm: &Path) -> (bool, String) {
    let out = Command::new(bin()).arg("test").arg(wasm).env("OKTAWATCH_LOG", "warn").output().unwrap();
    (out.status.success(), format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Its cases all pass in the real sandbox, with firing cases and near misses.
fn passes_its_cases(lang: &'static Lang) {
    let Some(wasm) = built(lang) else { return };
    let (ok, table) = oktawatch_test(&wasm);
    assert!(ok, "{table}");
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(wasm.with_extension("cases.json")).unwrap()).unwrap();
    let n = cases["cases"].as_array().unwrap().len();
    assert!(table.contains(&format!("\n{n} passed, 0 failed")), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(lang.folder)).collect();
    assert_eq!(rows.len(), n, "{table}");
    assert!(rows.iter().filter(|r| r.ends_with("no alert")).count() >= 3, "near misses: {table}");
    assert!(rows.iter().any(|r| r.contains("3 alerts, first [high] Help Desk administrator granted to alice@example.com")), "the burst case: {table}");
    assert!(rows.iter().any(|r| r.contains("[high] Super administrator granted to alice@example.com by ada.admin@example.com")), "{table}");
}

/// A config key the detection did not declare refuses the load, naming the key.
fn refuses_an_undeclared_key(lang: &'static Lang) {
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
fn replays_next_to_the_rust_pack(lang: &'static Lang) {
    let Some(wasm) = built(lang) else { return };
    let dir = tempfile::tempdir().unwrap();
    let dets = dir.path().join("detections");
    let out = Command::new(bin()).args(["detections", "export"]).arg(&dets).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::copy(&wasm, dets.join(format!("{}.wasm", lang.folder))).unwrap();
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
        .env("OKTAWATCH_CACHE_DIR", compile_cache())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    wazuh.wait("the raw events", std::time::Duration::from_secs(10), |w| w.events().len() == events.len());
    let alerts = wazuh.alerts();
    let of = |id: &str| -> Vec<&Value> { alerts.iter().filter(|a| a["kind"] == "alert" && a["detection"]["id"] == id).collect() };
    let ours = of(lang.id);
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
    let cases = repo().join("detections").join(PYTHON.folder).join("cases.json");
    for lang in [&JS, &C] {
        let theirs = repo().join("detections").join(lang.folder).join("cases.json");
        assert_eq!(std::fs::read(&theirs).unwrap(), std::fs::read(&cases).unwrap(), "{} has the shared cases", lang.folder);
    }
    std::fs::copy(&cases, dir.path().join("rust-twin.cases.json")).unwrap();
    let (ok, table) = oktawatch_test(&wasm);
    assert!(ok, "{table}");
    assert!(table.contains("\n9 passed, 0 failed"), "{table}");
}

#[test]
fn python_detection_passes_its_cases() {
    passes_its_cases(&PYTHON);
}
#[test]
fn python_detection_refuses_an_undeclared_config_key() {
    refuses_an_undeclared_key(&PYTHON);
}
#[test]
fn python_detection_replays_next_to_the_rust_pack() {
    replays_next_to_the_rust_pack(&PYTHON);
}

#[test]
fn js_detection_passes_its_cases() {
    passes_its_cases(&JS);
}
#[test]
fn js_detection_refuses_an_undeclared_config_key() {
    refuses_an_undeclared_key(&JS);
}
#[test]
fn js_detection_replays_next_to_the_rust_pack() {
    replays_next_to_the_rust_pack(&JS);
}

#[test]
fn c_detection_passes_its_cases() {
    passes_its_cases(&C);
}
#[test]
fn c_detection_refuses_an_undeclared_config_key() {
    refuses_an_undeclared_key(&C);
}
#[test]
fn c_detection_replays_next_to_the_rust_pack() {
    replays_next_to_the_rust_pack(&C);
}
