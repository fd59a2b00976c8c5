//! End to end, hostile detections against the isolation of the runtime: the
//! real binary, the Okta emulator and a Wazuh-like datagram socket.
//!
//! Oversized describe fields and configure errors, a squatted detection id
//! (user file vs user file, user file vs the built-in pack), a substituted
//! compile-cache artifact, an alert flood past the budget, an oversized file.

use oktawatch_tests::rig::{
    Rig, WAIT, alerts_of, disabled_of, events, importing, install, log_lines, stop, title, uuid_of, wait_line,
};
use oktawatch_tests::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A [`Rig`] with these test guests in the folder (each as `<name>.wasm`) and 1000 events a page.
fn new_rig(guests: &[&str]) -> Rig {
    let rig = Rig::new(guests);
    let text = std::fs::read_to_string(&rig.cfg).unwrap().replace("page_limit = 100", "page_limit = 1000");
    std::fs::write(&rig.cfg, text).unwrap();
    rig
}

/// What this suite does with a [`Rig`].
trait Suite {
    /// Starts the service and waits until its first load of the folder is done.
    fn start(&self) -> Host;
    /// `oktawatch detections list`: exit success and stdout.
    fn list(&self) -> (bool, String);
    /// Pushes one marker event and waits for it: the events pushed before it,
    /// and their alerts, were sent before it (one org, one sender, in order).
    fn settle(&self, tag: &str);
}

impl Suite for Rig {
    fn start(&self) -> Host {
        let host = self.run("info");
        host.wait_log("detections loaded from", WAIT);
        host
    }

    fn list(&self) -> (bool, String) {
        let out = Command::new(bin())
            .args(["detections", "list", "--config", self.cfg.to_str().unwrap()])
            .env("OKTAWATCH_TEST_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn settle(&self, tag: &str) {
        let marker = events(1, tag, |_, e| e["eventType"] = "test.marker".into());
        self.okta.push(marker.clone());
        self.wait_raw(&[uuid_of(&marker[0])]);
    }
}

/// Puts a test guest in place as `<name>.wasm` atomically.
fn install_guest(dir: &Path, guest_name: &str) {
    install(dir, &std::fs::read(guest(guest_name)).unwrap(), &format!("{guest_name}.wasm"));
}

fn uuids(evs: &[Value]) -> Vec<String> {
    evs.iter().map(uuid_of).collect()
}

/// Every datagram is within the limit, and none carries a run of 1000 equal
/// bytes from a hostile field.
fn assert_no_hostile_payload(w: &Wazuh, filler: char) {
    let run: String = std::iter::repeat_n(filler, 1000).collect();
    for m in w.messages() {
        assert!(m.len() <= 65535, "a message of {} bytes", m.len());
        assert!(!m.contains(&run), "a message carries the hostile field: {}…", &m[..200.min(m.len())]);
    }
}

/// The one entry of `file` in the service's status file.
fn status_entry(rig: &Rig, file: &str) -> Value {
    let path = rig.root.join("state/detections.json");
    let started = Instant::now();
    loop {
        if let Some(v) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
            let found = v["detections"].as_array().and_then(|a| {
                a.iter().find(|d| d["file"].as_str().is_some_and(|f| f.ends_with(file))).cloned()
            });
            if let Some(d) = found {
                return d;
            }
        }
        assert!(started.elapsed() < WAIT, "no {file} in {}", path.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn oversized_describe_field_and_configure_error_are_refused_or_cut() {
    let rig = new_rig(&["hostile-describe", "hostile-describe-config", "probe-single"]);
    let host = rig.start();
    let log = host.log();
    // The 1 MiB version: refused at load, the reason names the field, its size and the bound.
    let lines = log_lines(&log, &["detection rejected", "hostile-describe.wasm"]);
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("bad_info") && lines[0].contains("version: 1048576 bytes, at most 64"), "{}", lines[0]);
    assert!(lines[0].len() < 1024, "a rejection line of {} bytes", lines[0].len());
    assert!(log.contains("2 detections loaded"), "{log}");
    let entry = status_entry(&rig, "hostile-describe.wasm");
    assert_eq!(entry["status"], "bad_info", "{entry}");
    assert!(entry["message"].as_str().unwrap().contains("version: 1048576 bytes, at most 64"), "{entry}");

    // The configure error of 1 MiB, on every instance after the first: cut in the notice.
    let evs = events(8, "describe", |i, e| {
        e["eventType"] = if i % 2 == 0 { "test.hostile" } else { "test.single" }.into();
    });
    rig.okta.push(evs.clone());
    rig.wait_raw(&uuids(&evs));
    rig.wazuh.wait("the notice", WAIT, |w| !disabled_of(w, "hostile-describe-config").is_empty());
    rig.settle("describe-settle");
    let notices = disabled_of(&rig.wazuh, "hostile-describe-config");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let reason = notices[0]["alert"]["context"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("trap: configure refused: EEEE"), "{reason}");
    assert!(reason.ends_with('…') && reason.len() <= 600, "a reason of {} bytes", reason.len());
    assert_eq!(alerts_of(&rig.wazuh, "test-single").len(), 4);
    assert!(alerts_of(&rig.wazuh, "hostile-describe").is_empty());
    assert_no_hostile_payload(&rig.wazuh, '9');
    assert_no_hostile_payload(&rig.wazuh, 'E');
    let log = stop(host);
    assert!(log.lines().all(|l| l.len() < 4096), "a log line over 4 KiB");
    assert_eq!(rig.wazuh.events().len(), 9, "every raw event once");

    let (ok, out) = rig.list();
    assert!(!ok, "{out}");
    let line = out.lines().find(|l| l.contains("hostile-describe.wasm")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("bad_info") && line.contains("version: 1048576 bytes, at most 64"), "{line}");
}

#[test]
fn a_squatted_id_refuses_every_claimant_and_takes_no_state() {
    let rig = new_rig(&["probe-window"]);
    let alice = |n: usize, tag: &str| {
        events(n, tag, |_, e| {
            e["eventType"] = "test.window".into();
            e["actor"]["alternateId"] = "alice".into();
        })
    };
    // The real detection counts two events for alice (persisted).
    let host = rig.start();
    let first = alice(2, "squat-1");
    rig.okta.push(first.clone());
    rig.wait_raw(&uuids(&first));
    stop(host);

    // A second file claims its id: both are refused, at start.
    install_guest(&rig.dets, "hostile-squat");
    let host = rig.start();
    let log = host.log();
    for (file, other) in [("probe-window.wasm", "hostile-squat.wasm"), ("hostile-squat.wasm", "probe-window.wasm")] {
        let lines = log_lines(&log, &["detection rejected", &format!("det/{file} kind="), "duplicate_id", "test-window"]);
        assert_eq!(lines.len(), 1, "{file}:\n{log}");
        assert!(lines[0].contains(other), "{}", lines[0]);
    }
    assert!(log.contains("0 detections loaded"), "{log}");
    let ignored = alice(1, "squat-2");
    rig.okta.push(ignored.clone());
    rig.settle("squat-settle-1");
    assert!(alerts_of(&rig.wazuh, "test-window").is_empty(), "{:?}", rig.wazuh.alerts());
    let (ok, out) = rig.list();
    assert!(!ok, "{out}");
    for file in ["probe-window.wasm", "hostile-squat.wasm"] {
        let line = out.lines().find(|l| l.starts_with(file)).unwrap_or_else(|| panic!("{file}: {out}"));
        assert!(line.contains("duplicate_id"), "{line}");
    }
    assert_eq!(status_entry(&rig, "probe-window.wasm")["status"], "duplicate_id");

    // The squatter goes: the real one loads again, its state as it was (2, then this event: 3).
    std::fs::remove_file(rig.dets.join("hostile-squat.wasm")).unwrap();
    wait_line(&host, &["detection loaded", "test-window"]);
    let third = alice(1, "squat-3");
    rig.okta.push(third.clone());
    rig.wazuh.wait("the real alert", WAIT, |w| !alerts_of(w, "test-window").is_empty());
    let a = alerts_of(&rig.wazuh, "test-window");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(title(&a[0]), "3 window events for alice");
    assert_eq!(a[0]["event"]["uuid"], uuid_of(&third[0]).as_str());

    // Dropped in while the real one runs: the real one is unloaded too, loudly.
    install_guest(&rig.dets, "hostile-squat");
    wait_line(&host, &["detection unloaded", "test-window", "hostile-squat.wasm also claims its id"]);
    wait_line(&host, &["detection rejected", "hostile-squat.wasm", "duplicate_id"]);
    let later = alice(1, "squat-4");
    rig.okta.push(later.clone());
    rig.settle("squat-settle-2");
    let a = alerts_of(&rig.wazuh, "test-window");
    assert_eq!(a.len(), 1, "no alert from either claimant: {a:?}");
    assert!(a.iter().all(|a| !title(a).contains("squatter")));
    stop(host);
    assert_eq!(rig.wazuh.events().len(), 2 + 1 + 1 + 1 + 1 + 1, "every raw event once");
}

#[test]
fn a_user_file_squatting_a_pack_id_refuses_both() {
    let rig = new_rig(&["hostile-squat-pack"]);
    let out = Command::new(bin()).args(["detections", "export"]).arg(&rig.dets).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pack = std::fs::read_dir(&rig.dets).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wasm")).count() - 1;
    let host = rig.start();
    let log = host.log();
    let lines = log_lines(&log, &["detection rejected", "duplicate_id", "okta-admin-role-granted"]);
    assert_eq!(lines.len(), 2, "{log}");
    for (file, other) in [("okta-admin-role-granted.wasm", "hostile-squat-pack.wasm"), ("hostile-squat-pack.wasm", "okta-admin-role-granted.wasm")] {
        let mine: Vec<&&str> = lines.iter().filter(|l| l.contains(&format!("det/{file} kind="))).collect();
        assert_eq!(mine.len(), 1, "{file}: {lines:?}");
        assert!(mine[0].contains(other), "{}", mine[0]);
    }
    assert!(log.contains(&format!("{} detections loaded", pack - 1)), "{pack} pack files:\n{log}");
    let evs = events(3, "squat-pack", |_, _| {});
    rig.okta.push(evs.clone());
    rig.wait_raw(&uuids(&evs));
    rig.settle("squat-pack-settle");
    assert!(alerts_of(&rig.wazuh, "okta-admin-role-granted").is_empty(), "the squatter ran");
    stop(host);
    let (ok, out) = rig.list();
    assert!(!ok);
    assert_eq!(out.lines().filter(|l| l.contains("duplicate_id")).count(), 2, "{out}");
}

/// The cache files, by the sha256 of the `.wasm` each was compiled from.
fn artifact_of(cache: &Path, wasm: &Path) -> PathBuf {
    let out = Command::new("sha256sum").arg(wasm).output().unwrap();
    let sha = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string();
    std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&sha))
        .unwrap_or_else(|| panic!("no artifact for {} in {}", wasm.display(), cache.display()))
}

#[test]
fn a_substituted_cache_artifact_in_a_writable_cache_is_not_used() {
    let rig = new_rig(&["probe-single", "hostile-trap"]);
    let single = rig.dets.join("probe-single.wasm");
    let cache = rig.root.join("state/cache");
    // A first run fills the cache.
    let host = rig.start();
    stop(host);
    let single_artifact = artifact_of(&cache, &single);
    let trap_artifact = artifact_of(&cache, &rig.dets.join("hostile-trap.wasm"));
    let trap_code = std::fs::read(&trap_artifact).unwrap();

    // Someone swaps hostile-trap's compiled code in under probe-single's name, in a world-writable cache.
    std::fs::remove_file(rig.dets.join("hostile-trap.wasm")).unwrap();
    std::fs::copy(&trap_artifact, &single_artifact).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = |tag: &str| {
        let host = rig.start();
        let before = alerts_of(&rig.wazuh, "test-single").len();
        let evs = events(4, tag, |_, e| e["eventType"] = "test.single".into());
        rig.okta.push(evs.clone());
        rig.wazuh.wait("test-single alerts", WAIT, |w| alerts_of(w, "test-single").len() >= before + 4);
        rig.settle(&format!("{tag}-settle"));
        let log = stop(host);
        assert!(log.contains("1 detections loaded"), "{log}");
        let got: Vec<String> = alerts_of(&rig.wazuh, "test-single")[before..].iter().map(|a| a["event"]["uuid"].as_str().unwrap().to_string()).collect();
        assert_eq!(got, uuids(&evs), "probe-single ran as itself");
        assert!(rig.wazuh.alerts().iter().all(|a| a["detection"]["id"] != "hostile-trap"));
        log
    };
    // The service's own cache (under its state dir, which it makes owner-only at
    // start): an open cache is thrown away, never blessed by tightening its mode.
    let log = run("cache-dir");
    let warned = log_lines(&log, &["compile cache", "was writable by group or others or not ours", "removed"]);
    assert_eq!(warned.len(), 1, "{log}");
    let single_artifact = artifact_of(&cache, &single);
    assert_ne!(std::fs::read(&single_artifact).unwrap(), trap_code, "the entry is compiled anew");

    // The directory private, one artifact itself writable by others: the same.
    std::fs::write(&single_artifact, &trap_code).unwrap();
    std::fs::set_permissions(&single_artifact, std::fs::Permissions::from_mode(0o666)).unwrap();
    let log = run("cache-file");
    let warned = log_lines(&log, &["compile cache", "was writable by group or others or not ours", "removed"]);
    assert_eq!(warned.len(), 1, "{log}");
    let single_artifact = artifact_of(&cache, &single);
    assert_ne!(std::fs::read(&single_artifact).unwrap(), trap_code, "the entry is compiled anew");
    let mode = std::fs::metadata(&single_artifact).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(rig.wazuh.events().len(), 10);

    // A cache elsewhere (replays use $OKTAWATCH_CACHE_DIR), left open: the loader
    // itself refuses it and compiles instead; nothing is written into it.
    let shared = rig.root.join("shared-cache");
    std::fs::create_dir(&shared).unwrap();
    let planted = shared.join(single_artifact.file_name().unwrap());
    std::fs::write(&planted, &trap_code).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let input = rig.root.join("replay.ndjson");
    let evs = events(3, "replay-cache", |_, e| e["eventType"] = "test.single".into());
    std::fs::write(&input, evs.iter().map(|e| e.to_string() + "\n").collect::<String>()).unwrap();
    let out = Command::new(bin())
        .args(["replay", input.to_str().unwrap(), "--detections", rig.dets.to_str().unwrap()])
        .env("OKTAWATCH_CACHE_DIR", &shared)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(log_lines(&stderr, &["not using the compile cache directory", "writable by group or others (mode 0777)"]).len(), 1, "{stderr}");
    let fired = stdout.lines().filter(|l| l.contains(r#""id":"test-single""#)).count();
    assert_eq!(fired, 3, "probe-single ran as itself in the replay: {stdout}");
    assert_eq!(std::fs::read(&planted).unwrap(), trap_code, "nothing is written to a cache not trusted");
}

#[test]
fn an_alert_flood_past_the_page_budget_quarantines() {
    let rig = new_rig(&["hostile-alerts", "probe-single"]);
    let host = rig.start();
    // One page: 150 events for the flood (16 alerts each), 10 for probe-single.
    let evs = events(160, "alerts", |i, e| {
        e["eventType"] = if i % 16 == 15 { "test.single" } else { "test.hostile" }.into();
    });
    assert_eq!(evs.iter().filter(|e| e["eventType"] == "test.hostile").count(), 150);
    rig.okta.push(evs.clone());
    rig.wait_raw(&uuids(&evs));
    rig.wazuh.wait("the notice", WAIT, |w| !disabled_of(w, "hostile-alerts").is_empty());
    rig.settle("alerts-settle");
    let log = stop(host);

    // 125 events × 16 = the budget of 2000; the 126th event's alerts are over it.
    let flood = alerts_of(&rig.wazuh, "hostile-alerts");
    assert_eq!(flood.len(), 2000);
    let notices = disabled_of(&rig.wazuh, "hostile-alerts");
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["alert"]["context"]["reason"], "limit: alert budget spent: 2016 alerts on one page (at most 2000)");
    assert_eq!(
        title(&notices[0]),
        "Detection hostile-alerts disabled for 30s after spending its alert budget: limit: alert budget spent: 2016 alerts on one page (at most 2000)"
    );
    let hostile: Vec<&Value> = evs.iter().filter(|e| e["eventType"] == "test.hostile").collect();
    assert_eq!(notices[0]["event"]["uuid"], uuid_of(hostile[125]).as_str());
    let mut alerted: Vec<String> = flood.iter().map(|a| a["event"]["uuid"].as_str().unwrap().to_string()).collect();
    alerted.dedup();
    assert_eq!(alerted, hostile[..125].iter().map(|e| uuid_of(e)).collect::<Vec<_>>());
    assert_eq!(alerts_of(&rig.wazuh, "test-single").len(), 10, "the other detection is untouched");
    assert_eq!(rig.wazuh.events().len(), 161, "every raw event once");
    assert_eq!(log_lines(&log, &["hostile-alerts", "disabled for", "alert budget"]).len(), 1, "{log}");
}

#[test]
fn oversized_and_forbidden_files_are_refused_before_compiling() {
    let rig = new_rig(&["probe-single"]);
    // 65 MiB (sparse): refused from its size, never read.
    let huge = std::fs::File::create(rig.dets.join("huge.wasm")).unwrap();
    std::io::Write::write_all(&mut &huge, b"\0asm\x0d\0\x01\0").unwrap();
    huge.set_len(65 << 20).unwrap();
    // A forbidden import before a section that would not compile: refused for the import.
    let mut bytes = importing("wasi:keyvalue/store@0.2.0-draft", "(export \"open\" (func (param \"x\" u32)))");
    bytes.extend_from_slice(&[0x7f, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff]);
    install(&rig.dets, &bytes, "wasi-then-junk.wasm");
    let host = rig.start();
    let log = host.log();
    let lines = log_lines(&log, &["detection rejected", "huge.wasm"]);
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("too_large") && lines[0].contains("file of 68157440 bytes, over the bound of 67108864 bytes"), "{}", lines[0]);
    let lines = log_lines(&log, &["detection rejected", "wasi-then-junk.wasm"]);
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("forbidden_import") && lines[0].contains("wasi:keyvalue/store@0.2.0-draft"), "{}", lines[0]);
    assert!(log.contains("1 detections loaded"), "{log}");
    let ev = events(1, "huge", |_, e| e["eventType"] = "test.single".into());
    rig.okta.push(ev.clone());
    rig.wazuh.wait("the alert", WAIT, |w| !alerts_of(w, "test-single").is_empty());
    stop(host);
    let (ok, out) = rig.list();
    assert!(!ok);
    assert!(out.lines().any(|l| l.starts_with("huge.wasm") && l.contains("too_large")), "{out}");
}
