//! End to end: the service with a detections folder of real compiled guests,
//! the Okta emulator and a Wazuh-like datagram socket.

use oktawatch_tests::rig::{
    self, Rig, WAIT, alerts_of, disabled_of, events, importing, install, log_lines, title, uuid_of, wait_line,
};
use oktawatch_tests::*;
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What this suite does with a [`Rig`].
trait Suite {
    /// The service, the folder watcher's debug lines in its log.
    fn start(&self) -> Host;
    /// Waits until `n` alerts of detection `id` (kind `alert`) have arrived.
    fn wait_alerts(&self, id: &str, n: usize);
}

impl Suite for Rig {
    fn start(&self) -> Host {
        self.run("info,oktawatch::runtime::watch=debug")
    }

    fn wait_alerts(&self, id: &str, n: usize) {
        self.wazuh.wait(&format!("{n} alerts of {id}"), WAIT, |w| alerts_of(w, id).len() >= n);
    }
}

/// The process has not exited (nor is it a zombie).
fn alive(h: &Host) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", h.pid())) {
        Ok(s) => s.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()).is_some_and(|c| c != 'Z'),
        Err(_) => false,
    }
}

/// SIGTERM to a process still running, and expects a clean exit.
fn stop(h: Host) -> String {
    assert!(alive(&h), "oktawatch is not running any more; log:\n{}", h.log());
    rig::stop(h)
}

fn wait_log_count(h: &Host, needle: &str, n: usize) {
    let started = Instant::now();
    while h.log().matches(needle).count() < n {
        assert!(started.elapsed() < WAIT, "timed out waiting for {n}× {needle:?}; log:\n{}", h.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn single_event_detection_alerts() {
    let rig = Rig::new(&["probe-single"]);
    let host = rig.start();
    let evs = events(10, "single", |i, e| {
        if i % 2 == 0 {
            e["eventType"] = "test.single".into();
        }
    });
    let all: Vec<String> = evs.iter().map(uuid_of).collect();
    let singles: Vec<String> = evs.iter().filter(|e| e["eventType"] == "test.single").map(uuid_of).collect();
    rig.okta.push(evs);
    rig.wait_raw(&all);
    rig.wait_alerts("test-single", 5);
    // Let a late, unexpected alert show up before counting.
    std::thread::sleep(Duration::from_millis(1500));
    stop(host);

    let bodies = rig.wazuh.bodies();
    let raw_pos = |u: &str| bodies.iter().position(|b| b["integration"] == "okta" && b["okta"]["uuid"] == u);
    let alerts: Vec<(usize, &Value)> = bodies
        .iter()
        .enumerate()
        .filter(|(_, b)| b["integration"] == "oktawatch")
        .map(|(i, b)| (i, &b["oktawatch"]))
        .collect();
    assert_eq!(alerts.len(), 5, "alerts: {alerts:?}");
    let mut alerted: Vec<String> = Vec::new();
    for (pos, a) in &alerts {
        assert_eq!(a["kind"], "alert");
        assert_eq!(a["detection"]["id"], "test-single");
        let u = a["event"]["uuid"].as_str().unwrap().to_string();
        assert!(singles.contains(&u), "alert for an event that is not test.single: {a}");
        let raw = raw_pos(&u).expect("the raw event of an alert");
        assert!(raw < *pos, "raw event {u} at {raw} comes after its alert at {pos}");
        alerted.push(u);
    }
    alerted.sort();
    let mut expected = singles.clone();
    expected.sort();
    assert_eq!(alerted, expected);
    assert_eq!(rig.wazuh.events().len(), 10, "each raw event once");
}

#[test]
fn windowed_state_survives_restart_and_reload() {
    let rig = Rig::new(&["probe-window"]);
    let evs = events(4, "window", |_, e| {
        e["eventType"] = "test.window".into();
        e["actor"]["alternateId"] = "alice".into();
    });
    let uuids: Vec<String> = evs.iter().map(uuid_of).collect();

    let host = rig.start();
    rig.okta.push(evs[..2].to_vec());
    rig.wait_raw(&uuids[..2]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(rig.wazuh.alerts().is_empty(), "alert before the 3rd event: {:?}", rig.wazuh.alerts());
    stop(host);

    // Restarted with the same state directory: the count goes on.
    let host = rig.start();
    rig.okta.push(evs[2..3].to_vec());
    rig.wait_alerts("test-window", 1);
    let a = &alerts_of(&rig.wazuh, "test-window")[0];
    assert_eq!(title(a), "3 window events for alice", "{a}");
    assert_eq!(a["event"]["uuid"], uuids[2].as_str());

    // Unloaded and loaded again: state is keyed by id and kept.
    let file = rig.dets.join("probe-window.wasm");
    let loaded = host.log().matches("detection loaded").count();
    assert!(loaded >= 1, "no load logged:\n{}", host.log());
    std::fs::remove_file(&file).unwrap();
    host.wait_log("detection unloaded", WAIT);
    install(&rig.dets, &std::fs::read(guest("probe-window")).unwrap(), "probe-window.wasm");
    wait_log_count(&host, "detection loaded", loaded + 1);
    // The set is swapped right around that line; leave it a moment.
    std::thread::sleep(Duration::from_millis(500));
    rig.okta.push(evs[3..4].to_vec());
    rig.wait_alerts("test-window", 2);
    let a = &alerts_of(&rig.wazuh, "test-window")[1];
    assert_eq!(title(a), "4 window events for alice", "{a}");
    assert_eq!(a["event"]["uuid"], uuids[3].as_str());
    assert_eq!(a["alert"]["context"]["count"], "4");
    stop(host);
    assert_eq!(alerts_of(&rig.wazuh, "test-window").len(), 2);
    assert_eq!(rig.wazuh.events().len(), 4);
}

#[test]
fn each_org_keeps_its_own_detection_state() {
    // Two orgs, one detection counting events per user: alice's events in
    // one org must not count toward alice in the other.
    let rig = Rig::new(&["probe-window"]);
    let second = Okta::start(EmulatorOptions { token: "second-org-token".into(), ..Default::default() });
    let text = std::fs::read_to_string(&rig.cfg).unwrap().replace(
        "[wazuh]",
        &format!("[[okta]]\nname = \"second\"\norg_url = \"{}\"\ntoken_env = \"SECOND_TOKEN\"\npoll_interval = \"1s\"\n\n[wazuh]", second.url()),
    );
    std::fs::write(&rig.cfg, text).unwrap();
    let shape = |_: usize, e: &mut Value| {
        e["eventType"] = "test.window".into();
        e["actor"]["alternateId"] = "alice".into();
    };
    let first_org = events(3, "org-a", shape);
    let second_org = events(2, "org-b", shape);
    let host = Host::start(
        &["run", "--config", rig.cfg.to_str().unwrap()],
        &[("OKTAWATCH_TEST_TOKEN", TOKEN), ("SECOND_TOKEN", "second-org-token")],
    );
    rig.okta.push(first_org[..2].to_vec());
    second.push(second_org.clone());
    let mut early: Vec<String> = first_org[..2].iter().map(uuid_of).collect();
    early.extend(second_org.iter().map(uuid_of));
    rig.wait_raw(&early);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(rig.wazuh.alerts().is_empty(), "4 events over two orgs counted together: {:?}", rig.wazuh.alerts());

    // The third in the first org is that org's third.
    rig.okta.push(first_org[2..].to_vec());
    rig.wait_alerts("test-window", 1);
    let a = &alerts_of(&rig.wazuh, "test-window")[0];
    assert_eq!(title(a), "3 window events for alice", "{a}");
    assert_eq!(a["org"], "test", "{a}");
    assert_eq!(a["event"]["uuid"], uuid_of(&first_org[2]).as_str());
    stop(host);
    assert_eq!(alerts_of(&rig.wazuh, "test-window").len(), 1);
}

/// The raw events (uuid) and the test-reload alerts (title, event uuid), in socket order.
enum Item {
    Raw(String),
    Alert(String, String),
}

fn reload_items(w: &Wazuh) -> Vec<Item> {
    w.bodies()
        .into_iter()
        .filter_map(|b| {
            if b["integration"] == "okta" {
                Some(Item::Raw(b["okta"]["uuid"].as_str().unwrap_or("").to_string()))
            } else if b["oktawatch"]["detection"]["id"] == "test-reload" {
                let a = &b["oktawatch"];
                Some(Item::Alert(title(a).to_string(), a["event"]["uuid"].as_str().unwrap_or("").to_string()))
            } else {
                None
            }
        })
        .collect()
}

fn count_titles(w: &Wazuh, prefix: &str) -> usize {
    alerts_of(w, "test-reload").iter().filter(|a| title(a).starts_with(prefix)).count()
}

#[test]
fn hot_reload_add_replace_remove_and_broken() {
    let rig = Rig::new(&[]);
    let host = rig.start();
    host.wait_log("0 detections loaded", WAIT);
    let pushing = AtomicBool::new(true);
    let base = now_ms() - 30 * 60 * 1000;

    let pushed: Vec<String> = std::thread::scope(|s| {
        let pusher = s.spawn(|| {
            let mut pushed = Vec::new();
            let mut i = 0usize;
            while pushing.load(Ordering::Relaxed) {
                let mut e = make_events(1, base + i as i64 * 100, "reload").remove(0);
                e["uuid"] = uuid_for("reload", i).into();
                e["eventType"] = "test.reload".into();
                pushed.push(uuid_of(&e));
                rig.okta.push([e]);
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            pushed
        });
        // Stops the pusher however this scope ends (a failed assertion too).
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&pushing);
        let w = &rig.wazuh;
        // Events flow, no detection yet.
        w.wait("raw events before any detection", WAIT, |w| w.events().len() >= 10);
        assert!(w.alerts().is_empty());

        // Added.
        install(&rig.dets, &std::fs::read(guest("probe-reload-v1")).unwrap(), "test-reload.wasm");
        w.wait("v1 alerts", WAIT, |w| count_titles(w, "v1 saw") >= 5);

        // Replaced.
        install(&rig.dets, &std::fs::read(guest("probe-reload-v2")).unwrap(), "test-reload.wasm");
        w.wait("v2 alerts", WAIT, |w| count_titles(w, "v2 saw") >= 5);
        wait_line(&host, &["test-reload", "replac", "1.0.0", "2.0.0"]);
        let titles: Vec<String> = alerts_of(w, "test-reload").iter().map(|a| title(a).to_string()).collect();
        let first_v2 = titles.iter().position(|t| t.starts_with("v2 saw")).unwrap();
        assert!(
            titles[first_v2..].iter().all(|t| t.starts_with("v2 saw")),
            "a v1 alert after the first v2 alert: {:?}",
            &titles[first_v2..]
        );

        // Broken bytes over it: rejected, v2 keeps running.
        install(&rig.dets, b"junk, not a wasm file at all", "test-reload.wasm");
        host.wait_log("previous version keeps running", WAIT);
        let log = host.log();
        let rejected = log_lines(&log, &["detection rejected", "test-reload.wasm"]);
        assert!(
            rejected.iter().any(|l| l.contains("previous version keeps running") && l.contains("not_wasm")),
            "{rejected:?}"
        );
        let v2_then = count_titles(w, "v2 saw");
        w.wait("v2 alerts after the rejection", WAIT, |w| count_titles(w, "v2 saw") >= v2_then + 5);
        assert_eq!(count_titles(w, "v1 saw"), titles[..first_v2].len(), "v1 came back");

        // Removed: no alert after the page in flight.
        std::fs::remove_file(rig.dets.join("test-reload.wasm")).unwrap();
        host.wait_log("detection unloaded", WAIT);
        let mark = reload_items(w).len();
        w.wait("raw events after the unload", WAIT, |w| {
            reload_items(w)[mark..].iter().filter(|i| matches!(i, Item::Raw(_))).count() >= 30
        });
        let items = reload_items(w);
        let after = &items[mark..];
        // The first raw event after the mark that is not followed by its alert: the unload took effect.
        let cut = (0..after.len())
            .find(|&k| matches!(&after[k], Item::Raw(_)) && !matches!(after.get(k + 1), Some(Item::Alert(..))))
            .expect("an event without alert after the unload");
        assert!(
            after[cut..].iter().all(|i| matches!(i, Item::Raw(_))),
            "test-reload alerts after the unload took effect"
        );
        let in_flight = after[..cut].iter().filter(|i| matches!(i, Item::Alert(..))).count();
        assert!(in_flight <= 100, "{in_flight} alerts after the unload: more than one page");
        assert!(after[cut..].len() >= 20);

        pushing.store(false, Ordering::Relaxed);
        pusher.join().unwrap()
    });

    rig.wait_raw(&pushed);
    stop(host);

    // None lost, none twice.
    let got = rig.wazuh.uuids();
    for u in &pushed {
        assert_eq!(got.iter().filter(|g| *g == u).count(), 1, "event {u}");
    }
    assert_eq!(got.len(), pushed.len());
    // Every alert names an event that was delivered, before it.
    let items = reload_items(&rig.wazuh);
    for (k, it) in items.iter().enumerate() {
        if let Item::Alert(t, u) = it {
            assert!(t.ends_with(u.as_str()), "{t} for {u}");
            assert!(matches!(&items[k - 1], Item::Raw(r) if r == u), "alert for {u} does not follow its event");
        }
    }
}

/// A hostile guest next to probe-single; 6 events for each, alternating.
/// Checks what every hostile case shares; returns the rig and the host (still running).
fn hostile(name: &str) -> (Rig, Host) {
    hostile_with(name, "")
}

fn hostile_with(name: &str, detections: &str) -> (Rig, Host) {
    let rig = Rig::with(&[name, "probe-single"], detections);
    let host = rig.start();
    let evs = events(12, name, |i, e| {
        e["eventType"] = if i % 2 == 0 { "test.hostile" } else { "test.single" }.into();
    });
    let all: Vec<String> = evs.iter().map(uuid_of).collect();
    let singles: Vec<String> = evs.iter().filter(|e| e["eventType"] == "test.single").map(uuid_of).collect();
    rig.okta.push(evs);
    rig.wait_raw(&all);
    rig.wait_alerts("test-single", 6);
    let mut got: Vec<String> =
        alerts_of(&rig.wazuh, "test-single").iter().map(|a| a["event"]["uuid"].as_str().unwrap().to_string()).collect();
    got.sort();
    let mut want = singles;
    want.sort();
    assert_eq!(got, want, "test-single alerts");
    assert!(alive(&host), "oktawatch died; log:\n{}", host.log());
    (rig, host)
}

/// A failing guest: quarantined with a `detection_disabled` notice; the log names why.
fn hostile_disabled(name: &str, reason: &str) {
    let (rig, host) = hostile(name);
    rig.wazuh.wait(&format!("detection_disabled for {name}"), WAIT, |w| !disabled_of(w, name).is_empty());
    let notice = &disabled_of(&rig.wazuh, name)[0];
    assert!(notice["alert"]["context"]["reason"].as_str().unwrap_or("").contains(reason), "{notice}");
    let log = host.log();
    assert!(!log_lines(&log, &[name, reason, "instance discarded"]).is_empty(), "no {reason:?} line for {name}:\n{log}");
    assert!(!log_lines(&log, &[name, "disabled for"]).is_empty(), "no quarantine line:\n{log}");
    assert!(alerts_of(&rig.wazuh, name).is_empty());
    stop(host);
    assert_eq!(rig.wazuh.events().len(), 12);
    assert_eq!(disabled_of(&rig.wazuh, name).len(), 1, "one notice per quarantine");
}

#[test]
fn hostile_loop() {
    hostile_disabled("hostile-loop", "timeout");
}

#[test]
fn hostile_memory() {
    hostile_disabled("hostile-memory", "memory limit");
}

#[test]
fn hostile_recursion() {
    hostile_disabled("hostile-recursion", "stack overflow");
}

#[test]
fn hostile_trap() {
    hostile_disabled("hostile-trap", "trap");
}

#[test]
fn hostile_flood() {
    let (rig, host) = hostile("hostile-flood");
    rig.wazuh.wait("flood quarantined", WAIT, |w| !disabled_of(w, "hostile-flood").is_empty());
    let flood = alerts_of(&rig.wazuh, "hostile-flood");
    assert!(!flood.is_empty(), "alerts within bounds are kept");
    let mut per_event = std::collections::BTreeMap::<String, usize>::new();
    for a in &flood {
        *per_event.entry(a["event"]["uuid"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert!(per_event.values().all(|&n| n <= 16), "{per_event:?}");
    assert!(!log_lines(&host.log(), &["hostile-flood", "alerts for one event"]).is_empty());
    stop(host);
}

#[test]
fn hostile_giant() {
    let (rig, host) = hostile("hostile-giant");
    rig.wazuh.wait("giant quarantined", WAIT, |w| !disabled_of(w, "hostile-giant").is_empty());
    for m in rig.wazuh.messages() {
        assert!(m.len() <= 65535, "a message of {} bytes", m.len());
    }
    assert!(alerts_of(&rig.wazuh, "hostile-giant").is_empty(), "the giant alert was sent");
    assert!(!log_lines(&host.log(), &["hostile-giant", "KiB dropped"]).is_empty(), "{}", host.log());
    stop(host);
}

#[test]
fn hostile_state() {
    // The default quota (16 MiB) would hold all it writes here: 6 events × 2000 keys × 1 KiB.
    let (rig, host) = hostile_with("hostile-state", "state_max_kb = 64\nstate_max_keys = 1000");
    assert!(alerts_of(&rig.wazuh, "hostile-state").is_empty());
    assert!(disabled_of(&rig.wazuh, "hostile-state").is_empty(), "a full state is not a failure");
    stop(host);
    let db = rig.root.join("state/detections/state.redb");
    let size = std::fs::metadata(&db).unwrap().len();
    assert!(size < 4 << 20, "state.redb grew to {size} bytes");
    // What was kept on disk is within the quota.
    let store = oktawatch::runtime::state::StateStore::open(&db, 1 << 30, 1 << 40).unwrap();
    let kept = store.for_detection("hostile-state").unwrap().lock().unwrap().len();
    assert!(kept > 0 && kept <= 64, "{kept} keys kept");
}

#[test]
fn forbidden_and_broken_modules_are_rejected() {
    let rig = Rig::new(&["probe-single"]);
    install(&rig.dets, b"\x7fELF this is no wasm at all", "garbage.wasm");
    install(
        &rig.dets,
        &importing("wasi:keyvalue/store@0.2.0-draft", "(export \"open\" (func (param \"x\" u32)))"),
        "wasi-kv.wasm",
    );
    install(
        &rig.dets,
        &importing("wasi:http/incoming-handler@0.2.0", "(export \"handle\" (func (param \"x\" u32)))"),
        "wasi-http.wasm",
    );
    install(
        &rig.dets,
        &importing("oktawatch:detection/state@0.3.0", "(export \"count\" (func (param \"key\" string) (result u32)))"),
        "future.wasm",
    );
    let host = rig.start();
    host.wait_log("detections loaded", WAIT);
    let log = host.log();
    for (file, kind, what) in [
        ("garbage.wasm", "not_wasm", "not a WebAssembly file"),
        ("wasi-kv.wasm", "forbidden_import", "wasi:keyvalue/store@0.2.0-draft"),
        ("wasi-http.wasm", "forbidden_import", "wasi:http/incoming-handler@0.2.0"),
        ("future.wasm", "contract_version", "oktawatch:detection/state@0.3.0"),
    ] {
        let lines = log_lines(&log, &["detection rejected", file]);
        assert_eq!(lines.len(), 1, "rejection of {file}:\n{log}");
        assert!(lines[0].contains(kind) && lines[0].contains(what), "{}", lines[0]);
    }
    assert!(log.contains("1 detections loaded"), "{log}");

    let ev = events(1, "forbidden", |_, e| e["eventType"] = "test.single".into());
    rig.okta.push(ev.clone());
    rig.wait_alerts("test-single", 1);
    assert_eq!(alerts_of(&rig.wazuh, "test-single")[0]["event"]["uuid"], ev[0]["uuid"]);
    stop(host);

    let out = Command::new(bin())
        .args(["detections", "list", "--config", rig.cfg.to_str().unwrap()])
        .env("OKTAWATCH_TEST_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ctx = format!("stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "exit status {} with rejected files; {ctx}", out.status);
    let line = |needle: &str| stdout.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle}; {ctx}"));
    let single = line("test-single");
    assert!(single.contains("loaded") && single.contains("probe-single.wasm"), "{ctx}");
    for (file, kind) in [
        ("garbage.wasm", "not_wasm"),
        ("wasi-kv.wasm", "forbidden_import"),
        ("wasi-http.wasm", "forbidden_import"),
        ("future.wasm", "contract_version"),
    ] {
        assert!(line(file).contains(kind), "{file}: {ctx}");
    }
}

