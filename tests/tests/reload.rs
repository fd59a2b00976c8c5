//! Live reload of the config, from a running service: detection sections
//! changed by SIGHUP and by editing the file are applied between pages,
//! with the detections' state kept; `enabled = false` keeps a detection
//! from being called until a reload turns it on; an invalid edit is refused
//! with every problem logged and the old config in force; and at the socket
//! no event is lost or repeated. Also: a detection's masked fields (the
//! password typed into the username field) reach no alert datagram.

use oktawatch_tests::*;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(90);
const ATTACKER: &str = "203.0.113.66";
const PASSWORD: &str = "Tr0ub4dor&3xyz!";

/// The built-in pack's detections `ids`, exported into `dir`.
fn pack_subset(dir: &Path, ids: &[&str]) {
    let all = dir.join("all");
    let out = std::process::Command::new(bin()).args(["detections", "export"]).arg(&all).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dets = dir.join("detections");
    std::fs::create_dir_all(&dets).unwrap();
    for id in ids {
        std::fs::copy(all.join(format!("{id}.wasm")), dets.join(format!("{id}.wasm"))).unwrap();
    }
    std::fs::remove_dir_all(&all).unwrap();
}

/// The service's config: one org, the detections folder, metrics, no suppression, then `sections`.
fn config_text(dir: &Path, okta: &str, socket: &Path, poll: &str, sections: &str) -> String {
    format!(
        r#"[[okta]]
name = "test"
org_url = "{okta}"
token_env = "OKTAWATCH_TEST_TOKEN"
poll_interval = "{poll}"
page_limit = 100

[wazuh]
socket = "{}"

[state]
dir = "{}"
fsync = false

[detections]
dir = "{}"
timeout = "500ms"
suppression = "0s"

[metrics]
listen = "127.0.0.1:0"

{sections}
"#,
        socket.display(),
        dir.join("state").display(),
        dir.join("detections").display()
    )
}

/// Writes `text` to `path` as editors do: a new file renamed over the old one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("toml.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A failed sign-in by `user` from `ip`.
fn failure(ev: &mut Value, user: &str, ip: &str) {
    ev["outcome"] = json!({"result": "FAILURE", "reason": "INVALID_CREDENTIALS"});
    ev["actor"]["alternateId"] = json!(user);
    ev["client"]["ipAddress"] = json!(ip);
}

fn lifecycle(ev: &mut Value) {
    ev["eventType"] = json!("user.lifecycle.create");
    ev["target"] = json!([{"id": "00unewhire", "type": "User", "alternateId": "newhire@example.com", "displayName": "New Hire"}]);
}

fn alerts_of<'a>(alerts: &'a [Value], id: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["detection"]["id"] == id).collect()
}

fn scrape(host: &Host) -> String {
    http_get(&metrics_addr(&host.log()), "/metrics").1
}

#[test]
fn config_reload_by_sighup_and_by_file_change() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    pack_subset(dir.path(), &["okta-ip-threat-intel", "okta-brute-force-user", "okta-user-lifecycle"]);
    let cfg = |sections: &str| config_text(dir.path(), &okta.url(), &socket, "1s", sections);
    let v1 = "[detections.config.okta-ip-threat-intel]\nnetworks = [\"192.0.2.0/24\"]\nlabel = \"test feed\"\n\
              [detections.config.okta-brute-force-user]\nthreshold = 6\n";
    let v2 = v1.replace("[\"192.0.2.0/24\"]", &format!("[\"192.0.2.0/24\", \"{ATTACKER}\"]")).replace("threshold = 6", "threshold = 5");
    let v3 = format!("{v2}[detections.config.okta-user-lifecycle]\nenabled = true\n");
    // The config path is a symlink into a folder of its own, edited in place
    // there: no change in the watched folder, so only SIGHUP applies it.
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("real.toml"), cfg(v1)).unwrap();
    let path = dir.path().join("oktawatch.toml");
    std::os::unix::fs::symlink(conf.join("real.toml"), &path).unwrap();

    // `oktawatch check` lists the detection that is off by default.
    let wazuh = Wazuh::bind(&socket);
    let out = std::process::Command::new(bin())
        .args(["check", "--config"])
        .arg(&path)
        .env("OKTAWATCH_TEST_TOKEN", TOKEN)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("disabled (enabled = false; loaded, not run): okta-user-lifecycle"), "{text}");

    let base = now_ms() - 30 * 60 * 1000;
    // Phase A: 3 failures from the attacker's IP (not listed yet), 2 lifecycle events (detection off).
    let mut a = make_events(5, base, "reload-a");
    for e in &mut a[..3] {
        failure(e, "victim@example.com", ATTACKER);
    }
    for e in &mut a[3..] {
        lifecycle(e);
    }
    let host = start(&path);
    host.wait_log("reloaded on SIGHUP and when", LONG);
    host.wait_log("detections disabled (enabled = false; loaded, not run): okta-user-lifecycle", LONG);
    okta.push(a);
    wazuh.wait("phase A's 5 events", LONG, |w| w.events().len() >= 5);
    host.wait_log("metrics on http://", LONG);
    let m = scrape(&host);
    assert_eq!(metric(&m, r#"oktawatch_detection_events_total{detection="okta-user-lifecycle"}"#), Some(0.0), "{m}");
    assert_eq!(metric(&m, r#"oktawatch_detection_events_total{detection="okta-brute-force-user"}"#), Some(3.0), "{m}");
    assert_eq!(metric(&m, "oktawatch_detections_disabled"), Some(1.0), "{m}");
    assert!(wazuh.alerts().is_empty(), "{:?}", wazuh.alerts());

    // SIGHUP: the attacker's IP listed, the threshold lowered to 5.
    std::fs::write(conf.join("real.toml"), cfg(&v2)).unwrap();
    unsafe { libc::kill(host.pid() as i32, libc::SIGHUP) };
    host.wait_log("configuration reloaded: 2 detection(s) reconfigured", LONG);
    let log = host.log();
    assert!(log.contains("(SIGHUP)"), "{log}");
    for id in ["okta-ip-threat-intel", "okta-brute-force-user"] {
        assert!(log.lines().any(|l| l.contains("detection reconfigured") && l.contains(id)), "{id}: {log}");
    }

    // Phase B: 2 more failures. Both are on the list now, and the 5th failure
    // (3 of them counted before the reload) makes a brute force.
    let mut b = make_events(2, base + 5 * 60 * 1000, "reload-b");
    for e in &mut b {
        failure(e, "victim@example.com", ATTACKER);
    }
    okta.push(b);
    wazuh.wait("phase B's alerts", LONG, |w| w.alerts().len() >= 3);
    let alerts = wazuh.alerts();
    assert_eq!(alerts_of(&alerts, "okta-ip-threat-intel").len(), 2, "{alerts:?}");
    let brute = alerts_of(&alerts, "okta-brute-force-user");
    assert_eq!(brute.len(), 1, "{alerts:?}");
    assert!(brute[0]["alert"]["title"].as_str().unwrap().starts_with("5 failed sign-ins"), "{:?}", brute[0]);

    // The file replaced where it is watched: the lifecycle detection turned on.
    // (With a change of the org's page size, which needs a restart: named once.)
    replace_file(&path, &cfg(&v3).replace("page_limit = 100", "page_limit = 50"));
    host.wait_log("detection reconfigured (enabled)", LONG);
    assert!(host.log().contains("(the file changed)"), "{}", host.log());
    let mut c = make_events(1, base + 8 * 60 * 1000, "reload-c");
    lifecycle(&mut c[0]);
    okta.push(c);
    wazuh.wait("the lifecycle alert", LONG, |w| !alerts_of(&w.alerts(), "okta-user-lifecycle").is_empty());

    // An invalid edit (which would also take the IP off the list): refused,
    // every problem logged, the old config in force.
    let v4 = v3.replace(&format!(", \"{ATTACKER}\""), "").replace("threshold = 5", "threshold = \"five\"\nthreshhold = 5");
    replace_file(&path, &config_text(dir.path(), &okta.url(), &socket, "0s", &v4));
    host.wait_log("configuration reload refused: 3 problem(s)", LONG);
    let log = host.log();
    for problem in [
        "okta[0].poll_interval: at least 1s",
        "detections.config.okta-brute-force-user.threshold: expected an integer, found a string",
        "detections.config.okta-brute-force-user.threshhold: unknown key",
    ] {
        assert!(log.contains(problem), "{problem}: {log}");
    }
    let mut d = make_events(1, base + 10 * 60 * 1000, "reload-d");
    failure(&mut d[0], "victim@example.com", ATTACKER);
    okta.push(d);
    wazuh.wait("the attacker still on the list", LONG, |w| alerts_of(&w.alerts(), "okta-ip-threat-intel").len() >= 3);
    wazuh.wait("all 9 events", LONG, |w| w.events().len() >= 9);

    let m = scrape(&host);
    assert_eq!(metric(&m, r#"oktawatch_config_reloads_total{result="ok"}"#), Some(2.0), "{m}");
    assert_eq!(metric(&m, r#"oktawatch_config_reloads_total{result="refused"}"#), Some(1.0), "{m}");
    assert_eq!(metric(&m, r#"oktawatch_detection_events_total{detection="okta-user-lifecycle"}"#), Some(1.0), "{m}");
    assert_eq!(metric(&m, "oktawatch_detections_disabled"), Some(0.0), "{m}");
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    // Every event once at the socket, and one alert each for what fired.
    let uuids = wazuh.uuids();
    assert_eq!(uuids.len(), 9, "{uuids:?}");
    assert!(count_each(&uuids).values().all(|n| *n == 1), "{uuids:?}");
    let alerts = wazuh.alerts();
    assert_eq!(alerts.len(), 2 + 1 + 1 + 1, "{alerts:?}");
    // The one accepted edit of a section that needs a restart is named once (the refused one was not accepted).
    let restart: Vec<&str> = log.lines().filter(|l| l.contains("not applied until oktawatch is restarted")).collect();
    assert_eq!(restart.len(), 1, "{log}");
    assert!(restart[0].contains("okta changed in"), "{restart:?}");
}

#[test]
fn a_password_typed_as_username_is_in_no_alert() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    pack_subset(dir.path(), &["okta-password-in-username"]);
    let path = dir.path().join("oktawatch.toml");
    std::fs::write(&path, config_text(dir.path(), &okta.url(), &socket, "1s", "")).unwrap();
    let mut events = make_events(3, now_ms() - 20 * 60 * 1000, "password");
    for e in &mut events {
        failure(e, PASSWORD, "198.51.100.10");
        e["legacyEventType"] = json!("core.user_auth.login_failed");
        e["actor"]["displayName"] = json!(PASSWORD);
    }
    let wazuh = Wazuh::bind(&socket);
    let host = start(&path);
    host.wait_log("detections loaded from", LONG);
    okta.push(events);
    wazuh.wait("3 events and their alerts", LONG, |w| w.events().len() >= 3 && w.alerts().len() >= 3);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let alerts: Vec<String> = wazuh.messages().into_iter().filter(|m| m.contains(r#""integration":"oktawatch""#)).collect();
    assert_eq!(alerts.len(), 3, "{alerts:?}");
    let secret = PASSWORD.to_lowercase();
    for a in &alerts {
        assert!(!a.to_lowercase().contains(&secret), "the password in an alert: {a}");
        assert!(!a.contains(&PASSWORD[1..]), "most of the password in an alert: {a}");
        let body: Value = serde_json::from_str(split_header(a).1).unwrap();
        assert_eq!(body["oktawatch"]["detection"]["id"], "okta-password-in-username", "{a}");
        assert_eq!(body["oktawatch"]["event"]["actor"]["alternateId"], "[masked]", "{a}");
        assert_eq!(body["oktawatch"]["event"]["actor"]["displayName"], "[masked]", "{a}");
        assert_eq!(body["oktawatch"]["event"]["masked"], json!(["actor.alternateId", "actor.displayName"]), "{a}");
    }
    // The raw events are Okta's record, forwarded unchanged (documented in the
    // detection and the README).
    assert!(wazuh.events().iter().all(|e| e["actor"]["alternateId"] == PASSWORD));
}
