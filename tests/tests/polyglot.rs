//! Detections in Python, JavaScript and C, built from source by their
//! templates' Makefiles with the toolchains' default flags, run by the real
//! binary through `oktawatch test` and `oktawatch replay` beside their Rust
//! twin, and a hostile Python detection (`tests/polyglot/python/hostile`)
//! that probes the deny-all WASI (`host/src/runtime/wasi.rs`):
//! files, sockets, name lookup, environment, arguments, stdin, clocks,
//! randomness, sleeping, exiting and flooding the log. Each gets an error, a
//! trap, an empty answer or the event clock's and seeded values; never the
//! host's data. See `tests/src/polyglot.rs` for the skip rule.

use oktawatch_tests::polyglot::{self, Lang};
use oktawatch_tests::bin;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET: &str = "oktawatch-test-secret-never-seen-by-detections-5b1f";

fn event(uuid: &str, published: &str, event_type: &str, extra: Value) -> Value {
    let mut e = json!({
        "uuid": uuid,
        "published": published,
        "eventType": event_type,
        "severity": "INFO",
        "displayMessage": "test",
        "actor": {"alternateId": "admin@example.com", "type": "User"},
    });
    if let (Value::Object(e), Value::Object(x)) = (&mut e, extra) {
        e.extend(x);
    }
    e
}

fn grant(uuid: &str, published: &str, result: &str, target: &str) -> Value {
    event(
        uuid,
        published,
        "user.account.privilege.grant",
        json!({"outcome": {"result": result}, "target": [{"alternateId": target, "type": "User"}]}),
    )
}

fn write_ndjson(path: &Path, events: &[Value]) {
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// `oktawatch replay FILE --detections DIR --sink stdout`: (alerts by detection id in order, log).
fn replay(dir: &Path, events: &Path, env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("replay").arg(events).arg("--detections").arg(dir).args(["--sink", "stdout"]);
    cmd.env("OKTAWATCH_CACHE_DIR", polyglot::cache_dir()).env("OKTAWATCH_LOG", "info").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "replay failed:\n{log}");
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["oktawatch"]["alert"].is_object())
        .map(|m| m["oktawatch"].clone())
        .collect();
    (alerts, log)
}

fn copy_into(dir: &Path, wasm: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(wasm, &p).unwrap();
    p
}

/// A grant of the Super administrator role to `target` by admin@example.com:
/// the shared detection (the templates and `tests/guests/probe-admin-grant`)
/// alerts on it when it succeeded.
fn admin_grant(uuid: &str, published: &str, result: &str, target: &str) -> Value {
    let mut e = grant(uuid, published, result, target);
    e["debugContext"] = json!({"debugData": {"privilegeGranted": "Super administrator"}});
    e
}

#[test]
fn the_four_languages_load_side_by_side_and_fire_once_each() {
    // The Rust twin (tests/guests/probe-admin-grant) and the three templates, each built by its Makefile.
    let mut built: Vec<(&str, &str, PathBuf)> =
        vec![("rust", "example-rust-admin-grant", oktawatch_tests::guest("probe-admin-grant"))];
    built.extend(Lang::ALL.into_iter().filter_map(|l| polyglot::template(l).map(|w| (l.toolchain(), l.template_id(), w))));
    let tmp = tempfile::tempdir().unwrap();
    let dets = tmp.path().join("dets");
    std::fs::create_dir(&dets).unwrap();
    let shared_cases = polyglot::root().join("detections/template-python/cases.json");
    for (lang, _, wasm) in &built {
        copy_into(&dets, wasm, &format!("{lang}-admin-grant.wasm"));
        std::fs::copy(&shared_cases, dets.join(format!("{lang}-admin-grant.cases.json"))).unwrap();
    }
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(&shared_cases).unwrap()).unwrap();
    let n = cases["cases"].as_array().unwrap().len();

    // `oktawatch test` of the folder, from the compile cache the replay below shares.
    let out = Command::new(bin()).arg("test").arg(&dets).env("OKTAWATCH_CACHE_DIR", polyglot::cache_dir()).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains(&format!("\n{} passed, 0 failed", n * built.len())), "{table}");

    let published = "2026-11-20T10:00:00.000Z";
    let fires = admin_grant("10000000-0000-4000-8000-000000000001", published, "SUCCESS", "bob@example.com");
    let quiet = admin_grant("10000000-0000-4000-8000-000000000002", "2026-11-20T10:01:00.000Z", "FAILURE", "eve@example.com");
    let events = tmp.path().join("events.ndjson");
    write_ndjson(&events, &[fires.clone(), quiet]);
    let (alerts, log) = replay(&dets, &events, &[]);
    assert!(log.contains(&format!("{} detections loaded", built.len())), "{log}");
    for (_, id, _) in &built {
        let mine: Vec<&Value> = alerts.iter().filter(|a| a["detection"]["id"] == *id).collect();
        assert_eq!(mine.len(), 1, "{id}: {alerts:?}\n{log}");
        assert_eq!(mine[0]["alert"]["title"], "Super administrator granted to bob@example.com by admin@example.com");
        assert_eq!(mine[0]["event"]["uuid"], fires["uuid"]);
        assert_eq!(mine[0]["alert"]["context"]["user"], "bob@example.com");
    }
    assert_eq!(alerts.len(), built.len(), "only the successful grant alerts: {alerts:?}");
}

/// The hostile probes, in order (the two that trap last: three failures quarantine).
const PROBES: &[&str] = &[
    "passwd", "listdir", "socket", "resolve", "env", "argv", "cwd", "stdin", "clock", "monotonic", "random", "random", "print",
    "flood", "sleep", "exit",
];

#[test]
fn python_probes_of_the_sandbox_get_nothing_of_the_host() {
    let Some(wasm) = polyglot::test_detection(Lang::Python, "hostile") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dets = tmp.path().join("dets");
    std::fs::create_dir(&dets).unwrap();
    copy_into(&dets, &wasm, "py-hostile.wasm");
    let events: Vec<Value> = PROBES
        .iter()
        .enumerate()
        .map(|(i, probe)| {
            event(
                &format!("20000000-0000-4000-8000-{i:012}"),
                &format!("2026-11-20T10:00:{i:02}.250Z"),
                "test.hostile",
                json!({"debugContext": {"debugData": {"probe": probe}}}),
            )
        })
        .collect();
    let file = tmp.path().join("events.ndjson");
    write_ndjson(&file, &events);
    let env = [("OKTAWATCH_TEST_SECRET", SECRET)];
    let (alerts, log) = replay(&dets, &file, &env);
    let result = |i: usize| -> String {
        let uuid = events[i]["uuid"].as_str().unwrap();
        let a: Vec<&Value> = alerts.iter().filter(|a| a["event"]["uuid"] == uuid).collect();
        assert_eq!(a.len(), 1, "probe {}: {alerts:?}\n{log}", PROBES[i]);
        a[0]["alert"]["context"]["result"].as_str().unwrap().to_string()
    };
    let r: Vec<String> = (0..PROBES.len() - 2).map(result).collect();
    let show = || format!("{:#?}\n{log}", PROBES.iter().zip(&r).collect::<Vec<_>>());

    // Files: no descriptor to open anything with.
    assert!(r[0].starts_with("error: ") && !r[0].contains("root:"), "{}", show());
    assert!(r[1].starts_with("error: ") || r[1] == "ok: []", "{}", show());
    // Network: refused.
    assert!(r[2].starts_with("error: "), "{}", show());
    assert!(r[3].starts_with("error: gaierror"), "{}", show());
    // Environment, arguments, stdin: empty.
    assert_eq!(r[4], "ok: {}", "{}", show());
    assert!(r[5] == "ok: []" || r[5] == "ok: [\"\"]", "{}", show());
    assert!(r[6].starts_with("error: ") || r[6] == "ok: /", "{}", show());
    assert_eq!(r[7], "ok: ''", "{}", show());
    // The wall clock is the event's `published`.
    assert_eq!(r[8], format!("ok: {}", 1_795_168_800_000i64 + 8_250), "{}", show());
    // The monotonic clock counts the detection's own work: it never goes back, and
    // is nowhere near the host's uptime (counted in CPU seconds of this Store).
    let mono: Vec<u64> = serde_json::from_str(r[9].strip_prefix("ok: ").unwrap()).unwrap();
    assert!(mono[0] <= mono[1] && mono[1] < 20_000_000_000, "{}", show());
    // Random: different for two events, the same in a second replay (below).
    assert!(r[10].starts_with("ok: ") && r[10] != r[11], "{}", show());
    // stdout: in the host log, tagged; a flood is cut to the rate limit.
    assert!(
        log.lines().any(|l| l.contains("hello from python") && l.contains("detection=\"py-hostile\"") && l.contains("stream=\"stdout\"")),
        "{log}"
    );
    let flood = log.lines().filter(|l| l.contains("flood line")).count();
    assert!((1..=20).contains(&flood), "{flood} flood lines logged\n{log}");
    // Sleeping and exiting trap: the event fails, no alert.
    for (probe, why) in [("sleep", "wasi: sleeping (monotonic-clock.subscribe-"), ("exit", "exited (wasi:cli/exit, status 1)")] {
        let i = PROBES.iter().position(|p| *p == probe).unwrap();
        let uuid = events[i]["uuid"].as_str().unwrap();
        assert!(!alerts.iter().any(|a| a["event"]["uuid"] == uuid), "{probe}: {alerts:?}");
        assert!(log.lines().any(|l| l.contains("instance discarded") && l.contains(uuid) && l.contains(why)), "{probe}: {log}");
    }
    // Nothing of the host's environment anywhere.
    assert!(!log.contains(SECRET) && !alerts.iter().any(|a| a.to_string().contains(SECRET)), "{log}");

    // A replay draws the same numbers and reads the same clock.
    let (again, _) = replay(&dets, &file, &env);
    for i in [8, 10, 11] {
        let uuid = events[i]["uuid"].as_str().unwrap();
        let a = again.iter().find(|a| a["event"]["uuid"] == uuid).unwrap();
        assert_eq!(a["alert"]["context"]["result"].as_str().unwrap(), r[i], "probe {}", PROBES[i]);
    }
}

#[test]
fn a_python_instance_is_kept_across_events_despite_its_large_starting_memory() {
    use oktawatch::runtime::{Limits, Runtime, state::StateStore};
    use std::sync::Arc;
    let Some(wasm) = polyglot::template(Lang::Python) else { return };
    let rt = Runtime::new(
        Limits::default(),
        Arc::new(StateStore::in_memory(1000, 1 << 20)),
        Default::default(),
        Some(polyglot::cache_dir()),
    )
    .unwrap();
    let det = rt.load(&wasm).unwrap();
    let events: Vec<_> = (0..50)
        .map(|i| {
            let e = admin_grant(&format!("30000000-0000-4000-8000-{i:012}"), "2026-11-20T10:00:00.000Z", "SUCCESS", &format!("user{i}@example.com"));
            Arc::new(oktawatch::event::Event::parse(&e.to_string()).unwrap())
        })
        .collect();
    let out = rt.run_one(&det, &events);
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.alerts.len(), 50);
    use std::sync::atomic::Ordering::Relaxed;
    // Instantiated once at load: CPython's own memory is its starting point, not a reason to recycle.
    assert_eq!((det.counters.instantiations.load(Relaxed), det.counters.recycles.load(Relaxed)), (1, 0));
}

#[test]
fn a_large_uncached_component_compiles_after_the_rest_is_running() {
    use oktawatch_tests::{EmulatorOptions, Host, Okta, TOKEN, Wazuh, write_config};
    let Some(python) = polyglot::template(Lang::Python) else { return };
    let tmp = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let dets = tmp.path().join("det");
    std::fs::create_dir(&dets).unwrap();
    copy_into(&dets, &oktawatch_tests::guest("probe-admin-grant"), "rust-admin-grant.wasm");
    copy_into(&dets, &python, "py-admin-grant.wasm");
    let wazuh = Wazuh::bind(&tmp.path().join("q"));
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    // The state dir, and with it the compile cache, is new: CPython compiles cold.
    let extra = format!("\n[detections]\ndir = \"{}\"\nsuppression = \"0s\"\ntimeout = \"250ms\"\n", dets.display());
    let cfg = write_config(tmp.path(), &okta.url(), &wazuh.path, &extra);
    let host = Host::start(&["run", "--config", cfg.to_str().unwrap()], &[("OKTAWATCH_TEST_TOKEN", TOKEN), ("NO_COLOR", "1")]);
    let wait = std::time::Duration::from_secs(240);
    host.wait_log("1 detections loaded", wait);
    let log = host.log();
    assert!(log.contains("compiling 1 large detection file(s) in the background") && log.contains("py-admin-grant.wasm"), "{log}");
    host.wait_log("detection loaded", wait);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    okta.push([admin_grant("50000000-0000-4000-8000-000000000001", &now, "SUCCESS", "bob@example.com")]);
    wazuh.wait("both alerts", wait, |w| {
        let ids: Vec<Value> = w.alerts().iter().map(|a| a["detection"]["id"].clone()).collect();
        ids.contains(&json!("example-rust-admin-grant")) && ids.contains(&json!(Lang::Python.template_id()))
    });
    let (_, log) = host.terminate(std::time::Duration::from_secs(20));
    // The Rust detection was in force before CPython had compiled.
    let first = log.find("1 detections loaded").unwrap();
    let python_in = log.find("detection loaded").unwrap();
    assert!(first < python_in, "{log}");
}
