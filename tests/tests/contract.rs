//! End to end, in the real binary: contract 0.1 components (frozen builds in
//! `tests/fixtures/wasm-0.1/`) load and behave as before next to 0.2 ones;
//! 0.2's prefilters keep events from a detection, its config section is
//! checked against the declared keys (at load and by `oktawatch check`,
//! every problem at once), `configure` gets the checked values with the
//! defaults, `on-event` the event's head, and `once-per` alerts once per window.

use oktawatch_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wasm-0.1").join(name)
}

/// A folder holding these files, each under its own name.
fn folder(root: &Path, name: &str, files: &[PathBuf]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for f in files {
        std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
    }
    dir
}

struct Replayed {
    alerts: Vec<Value>,
    stderr: String,
}

/// `oktawatch replay` of `events` through the detections of `dir` (and the
/// `[detections.config.*]` sections in `config`), to stdout.
fn replay(root: &Path, dir: &Path, config: &str, events: &[Value]) -> Replayed {
    let feed = root.join("feed.ndjson");
    std::fs::write(&feed, events.iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
    let cfg = root.join("replay.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = Command::new(bin())
        .args(["replay", feed.to_str().unwrap(), "--sink", "stdout", "--detections", dir.to_str().unwrap()])
        .args(["--config", cfg.to_str().unwrap()])
        .env("OKTAWATCH_CACHE_DIR", root.join("cache"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "replay failed: {stderr}");
    let alerts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|b| b["integration"] == "oktawatch")
        .map(|b| b["oktawatch"].clone())
        .collect();
    Replayed { alerts, stderr }
}

fn of<'a>(r: &'a Replayed, id: &str) -> Vec<&'a Value> {
    r.alerts.iter().filter(|a| a["kind"] == "alert" && a["detection"]["id"] == id).collect()
}

fn titles(r: &Replayed, id: &str) -> Vec<String> {
    of(r, id).iter().map(|a| a["alert"]["title"].as_str().unwrap().to_string()).collect()
}

/// Events of `make_events`, one second apart, shaped by `f`.
fn events(n: usize, tag: &str, f: impl Fn(usize, &mut Value)) -> Vec<Value> {
    let mut evs = make_events(n, now_ms() - 20 * 60_000, tag);
    for (i, e) in evs.iter_mut().enumerate() {
        f(i, e);
    }
    evs
}

/// A mixed feed for the test guests: 3 `test.single`, 4 `test.window` by
/// alice, 1 `test.hostile`, 2 sign-ins.
fn probe_feed() -> Vec<Value> {
    events(10, "probes", |i, e| {
        let t = match i {
            0..=2 => "test.single",
            3..=6 => "test.window",
            7 => "test.hostile",
            _ => "user.session.start",
        };
        e["eventType"] = t.into();
        e["actor"]["alternateId"] = if (3..=6).contains(&i) { "alice".into() } else { format!("user{i}").into() };
    })
}

#[test]
fn contract_0_1_components_load_and_behave_as_before_next_to_0_2() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let old = ["probe_single.wasm", "probe_window.wasm", "probe_trivial.wasm", "hostile_trap.wasm"].map(fixture);
    let mut files = old.to_vec();
    files.push(guest("raw-v02"));
    let dir = folder(root, "mixed", &files);
    let mut feed = probe_feed();
    feed.extend(v02_feed("mixed", &[("zed", "FAILURE"), ("zed", "FAILURE")]));
    let r = replay(root, &dir, "", &feed);

    // 0.1: single fires on each test.single, naming the actor; the window from the 3rd.
    assert_eq!(titles(&r, "test-single"), ["single event by user0", "single event by user1", "single event by user2"], "{}", r.stderr);
    assert_eq!(titles(&r, "test-window"), ["3 window events for alice", "4 window events for alice"]);
    let trapped = r.stderr.lines().filter(|l| l.contains("hostile-trap") && l.contains("trap")).count();
    assert!(trapped >= 1, "the 0.1 hostile guest trapped on its event: {}", r.stderr);
    // In the same host, the 0.2 guest ran too.
    assert_eq!(titles(&r, "test-raw-v02"), ["2 events by zed"], "{}", r.stderr);

    // The same sources built against 0.2 (the tests' own guests, with
    // today's SDK) behave the same on the same feed.
    let dir2 = folder(root, "current", &[guest("probe-single"), guest("probe-window")]);
    let r2 = replay(root, &dir2, "", &feed);
    assert_eq!(titles(&r2, "test-single"), titles(&r, "test-single"));
    assert_eq!(titles(&r2, "test-window"), titles(&r, "test-window"));
    let ctx = |r: &Replayed| of(r, "test-single").iter().map(|a| a["alert"]["context"].clone()).collect::<Vec<_>>();
    assert_eq!(ctx(&r2), ctx(&r));
}

#[test]
fn contract_0_1_pack_detection_passes_its_cases_and_takes_toml_config() {
    // Its own cases (with their TOML config sections), through `oktawatch test`.
    let tmp = tempfile::tempdir().unwrap();
    let dir = folder(tmp.path(), "pack01", &[fixture("okta_brute_force_user.wasm"), fixture("okta_brute_force_user.cases.json")]);
    let out = Command::new(bin()).args(["test", dir.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("6 passed, 0 failed"), "{stdout}");

    // In a replay: 4 failures by one user fire with `threshold = 4` (its
    // section is TOML text for a 0.1 component, not checked by the host).
    let feed = events(6, "bf01", |i, e| {
        e["actor"]["alternateId"] = "victim@example.com".into();
        e["outcome"]["result"] = if i < 4 { "FAILURE" } else { "SUCCESS" }.into();
    });
    let r = replay(tmp.path(), &dir, "[detections.config.okta-brute-force-user]\nthreshold = 4\n", &feed);
    assert_eq!(of(&r, "okta-brute-force-user").len(), 1, "{:?}\n{}", r.alerts, r.stderr);
    let r = replay(tmp.path(), &dir, "", &feed);
    assert_eq!(of(&r, "okta-brute-force-user").len(), 0, "the default threshold is 10");
}

/// `test.v02` events by `actor` with these outcomes.
fn v02_feed(tag: &str, rows: &[(&str, &str)]) -> Vec<Value> {
    events(rows.len(), tag, |i, e| {
        e["eventType"] = "test.v02".into();
        e["actor"]["alternateId"] = rows[i].0.into();
        e["outcome"]["result"] = rows[i].1.into();
        e["client"]["ipAddress"] = format!("203.0.113.{i}").into();
    })
}

#[test]
fn prefilters_keep_events_from_the_detection() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = folder(tmp.path(), "v02", &[guest("raw-v02")]);
    // bob: successes are filtered out; only his failures count. admin-eve
    // passes the second prefilter whatever the outcome.
    let rows = [
        ("bob", "SUCCESS"),
        ("bob", "SUCCESS"),
        ("bob", "SUCCESS"),
        ("bob", "FAILURE"),
        ("bob", "SUCCESS"),
        ("bob", "FAILURE"),
        ("admin-eve", "SUCCESS"),
        ("admin-eve", "SUCCESS"),
    ];
    let feed = v02_feed("pf", &rows);
    let r = replay(tmp.path(), &dir, "", &feed);
    let alerts = of(&r, "test-raw-v02");
    // Counted 2 calls for bob (not 6): the alert is on his second failure.
    assert_eq!(titles(&r, "test-raw-v02"), ["2 events by bob", "2 events by admin-eve"], "{}", r.stderr);
    let uuid = |a: &Value| a["event"]["uuid"].as_str().unwrap().to_string();
    assert_eq!(uuid(alerts[0]), feed[5]["uuid"].as_str().unwrap());
    assert_eq!(uuid(alerts[1]), feed[7]["uuid"].as_str().unwrap());
    // The head agrees with the event resource; the config's defaults arrived.
    for a in &alerts {
        let c = &a["alert"]["context"];
        assert_eq!(c["head_agrees"], "true", "{a}");
        assert_eq!((c["label"].as_str(), c["threshold"].as_str(), c["ratio"].as_str(), c["tags"].as_str()), (Some("v02"), Some("2"), Some("0.5"), Some("")));
    }
    assert_eq!(alerts[0]["alert"]["context"]["outcome"], "FAILURE");
    assert_eq!(alerts[0]["alert"]["context"]["ip"], "203.0.113.5");
}

#[test]
fn prefiltered_events_are_counted_in_the_metrics() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let dets = folder(dir.path(), "det", &[guest("raw-v02")]);
    let wazuh = Wazuh::bind(&dir.path().join("q"));
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let extra = format!(
        "\n[detections]\ndir = \"{}\"\nsuppression = \"0s\"\ntimeout = \"250ms\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        dets.display()
    );
    let cfg = write_config(dir.path(), &okta.url(), &wazuh.path, &extra);
    let host = start(&cfg);
    let rows: Vec<(&str, &str)> = (0..10).map(|i| ("carol", if i % 5 == 0 { "FAILURE" } else { "SUCCESS" })).collect();
    let feed = v02_feed("metric", &rows);
    let uuids: Vec<String> = feed.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect();
    okta.push(feed);
    wazuh.wait("10 raw events", std::time::Duration::from_secs(60), |w| {
        let got = w.uuids();
        uuids.iter().all(|u| got.contains(u))
    });
    let addr = metrics_addr(&host.log());
    let (_, body) = http_get(&addr, "/metrics");
    let series = |name: &str| metric(&body, &format!("{name}{{detection=\"test-raw-v02\"}}"));
    assert_eq!(series("oktawatch_detection_events_total"), Some(2.0), "{body}");
    assert_eq!(series("oktawatch_detection_prefiltered_total"), Some(8.0), "{body}");
    let (status, _) = host.terminate(std::time::Duration::from_secs(30));
    assert!(status.success());
}

#[test]
fn once_per_alerts_once_per_window() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = folder(tmp.path(), "v02", &[guest("raw-v02")]);
    // Failures by dave, 1 s apart: the 2nd reaches the threshold, the 3rd..6th
    // are within the 1-minute window, the 7th is 65 s after the 2nd.
    let mut feed = v02_feed("once", &[("dave", "FAILURE"); 7]);
    let t0 = now_ms() - 20 * 60_000;
    for (i, e) in feed.iter_mut().enumerate() {
        let t = if i == 6 { t0 + 1000 + 65_000 } else { t0 + i as i64 * 1000 };
        e["published"] = oktawatch::event::format_ms(t).into();
    }
    let config = "[detections.config.test-raw-v02]\nwindow_minutes = 1\nlabel = \"once\"\ntags = [\"a\", \"b\"]\nratio = 2\n";
    let r = replay(tmp.path(), &dir, config, &feed);
    assert_eq!(titles(&r, "test-raw-v02"), ["2 events by dave", "7 events by dave"], "{}", r.stderr);
    let c = &of(&r, "test-raw-v02")[0]["alert"]["context"];
    assert_eq!((c["label"].as_str(), c["tags"].as_str(), c["ratio"].as_str()), (Some("once"), Some("a,b"), Some("2")));
}

#[test]
fn config_sections_are_checked_against_declared_keys() {
    let tmp = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let dets = folder(tmp.path(), "det", &[guest("raw-v02"), fixture("okta_brute_force_user.wasm")]);
    let sections = "[detections.config.test-raw-v02]\ntreshold = 3\nlabel = 7\ntags = [\"x\", 1]\nwindow_minutes = \"ten\"\n\n\
                    [detections.config.okta-brute-force-user]\nthreshold = 4\n";
    let extra = format!("\n[detections]\ndir = \"{}\"\n\n{sections}", dets.display());
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let cfg = write_config(tmp.path(), &okta.url(), &tmp.path().join("q"), &extra);

    // `oktawatch check`: the 0.2 detection is refused with every problem, each
    // naming it and the key; the 0.1 one (TOML text, unchecked) loads.
    let out = Command::new(bin()).args(["check", "--config", cfg.to_str().unwrap()]).env("OKTAWATCH_TEST_TOKEN", TOKEN).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    let expected = [
        "detections.config.test-raw-v02.treshold: unknown key (it declares `threshold`, `window_minutes`, `label`, `tags`, `ratio`)",
        "detections.config.test-raw-v02.window_minutes: expected an integer, found a string",
        "detections.config.test-raw-v02.label: expected a string, found an integer",
        "detections.config.test-raw-v02.tags: expected a list of strings, item 1 is an integer",
    ];
    for e in expected {
        assert!(stdout.contains(e), "missing {e:?} in:\n{stdout}");
    }
    assert!(stdout.contains("1 of 2 loaded"), "{stdout}");

    // At load (a replay with the same sections): refused, the same problems logged.
    let feed = v02_feed("cfg", &[("x", "FAILURE"), ("x", "FAILURE")]);
    let r = replay(tmp.path(), &dets, sections, &feed);
    assert!(of(&r, "test-raw-v02").is_empty());
    for e in expected {
        assert!(r.stderr.contains(e), "missing {e:?} in:\n{}", r.stderr);
    }
    // A good section loads, and its values arrive checked.
    let good = "[detections.config.test-raw-v02]\nthreshold = 1\nlabel = \"ok\"\n";
    let r = replay(tmp.path(), &dets, good, &feed);
    assert_eq!(titles(&r, "test-raw-v02"), ["1 events by x"], "{}", r.stderr);
    assert_eq!(of(&r, "test-raw-v02")[0]["alert"]["context"]["label"], "ok");
}
