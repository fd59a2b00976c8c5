//! The spine, end to end: the Okta emulator over real HTTP → the oktawatch
//! process → a real Unix datagram socket. Every event once, in order,
//! across crashes, Wazuh restarts, rate limits and Okta errors.

use oktawatch_tests::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const LONG: Duration = Duration::from_secs(60);

fn uuids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect()
}

fn assert_no_token(what: &str, text: &str) {
    assert!(!text.contains(TOKEN), "the API token leaked into {what}");
    assert!(!text.contains("TOKEN-a1b2c3"), "part of the API token leaked into {what}");
}

/// No file under `dir` holds the token.
fn assert_no_token_in_files(dir: &Path) {
    for entry in files_under(dir) {
        if let Ok(bytes) = std::fs::read(&entry) {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(TOKEN),
                "the API token leaked into {}",
                entry.display()
            );
        }
    }
}

#[test]
fn every_event_once_in_order_late_events_included() {
    let s = setup("");
    let start_ms = now_ms() - 40 * 60 * 1000;
    // Older than the initial lookback (1 h): must not be collected.
    let ancient = make_events(3, now_ms() - 3 * 3600 * 1000, "ancient");
    s.okta.push(ancient);
    let first = make_events(250, start_ms, "first");
    s.okta.push(first.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("the first 250 events", LONG, |w| w.events().len() >= 250);

    // Late events: persisted now, `published` minutes ago (before events already delivered).
    let mut late = make_events(5, start_ms + 10_000, "late");
    for e in &mut late {
        e["eventType"] = json!("user.authentication.sso");
    }
    let more = make_events(20, start_ms + 300_000, "more");
    s.okta.push(late.clone());
    s.okta.push(more.clone());
    wazuh.wait("the late and newer events", LONG, |w| w.events().len() >= 275);
    std::thread::sleep(Duration::from_millis(1500)); // a further poll must bring nothing new

    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    let got = wazuh.events();
    let expected: Vec<String> = uuids(&first).into_iter().chain(uuids(&late)).chain(uuids(&more)).collect();
    assert_eq!(uuids(&got), expected, "every event once, in persistence order");
    // Events arrive intact: the same JSON as served.
    let served: HashMap<String, &Value> = first.iter().chain(&late).chain(&more).map(|e| (e["uuid"].as_str().unwrap().to_string(), e)).collect();
    for e in &got {
        assert_eq!(e, served[e["uuid"].as_str().unwrap()]);
    }
    // The location header and the envelope.
    let msgs = wazuh.messages();
    assert!(msgs.iter().all(|m| m.starts_with("1:oktawatch:{")), "{}", msgs[0]);
    assert!(wazuh.bodies().iter().all(|b| b["org"] == "test"));

    // Polling model: one `since` request, then only `next` links.
    let reqs = s.okta.requests();
    assert!(reqs[0].uri.contains("since="), "{}", reqs[0].uri);
    assert!(reqs[1..].iter().all(|r| r.uri.contains("after=") && !r.uri.contains("since=")), "only next links are followed");
    assert_no_token("the log", &log);
    assert_no_token_in_files(s.dir.path());
}

#[test]
fn kill_9_and_restart_lose_nothing() {
    let s = setup("");
    let events = make_events(2000, now_ms() - 50 * 60 * 1000, "crash");
    s.okta.push(events.clone());
    // Slow answers keep the host busy mid-stream when it is killed.
    s.okta.inject((0..40).map(|_| Fault::Delay(Duration::from_millis(100))));
    let wazuh = Wazuh::bind(&s.socket);
    let mut kills = 0;
    for target in [300, 900] {
        let host = start(&s.config);
        wazuh.wait("some events before the kill", LONG, |w| w.events().len() >= target);
        host.kill9();
        kills += 1;
    }
    let host = start(&s.config);
    wazuh.wait("every event after the restarts", LONG, |w| {
        let got: std::collections::HashSet<String> = w.uuids().into_iter().collect();
        got.len() >= 2000
    });
    std::thread::sleep(Duration::from_millis(1500));
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let got = wazuh.uuids();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for u in &got {
        *counts.entry(u.as_str()).or_default() += 1;
    }
    for e in &events {
        assert!(counts.contains_key(e["uuid"].as_str().unwrap()), "lost {}", e["uuid"]);
    }
    let repeated: usize = counts.values().map(|&c| c - 1).sum();
    assert!(repeated <= kills, "at most the one message in flight per kill may repeat: {repeated} repeats over {kills} kills");
    // Order: ignoring repeats, first arrivals follow persistence order.
    let mut seen = std::collections::HashSet::new();
    let first_arrivals: Vec<&String> = got.iter().filter(|u| seen.insert(u.as_str())).collect();
    let expected = uuids(&events);
    assert_eq!(first_arrivals, expected.iter().collect::<Vec<_>>());
}

#[test]
fn wazuh_down_spools_then_drains_in_order() {
    let s = setup("");
    let start_ms = now_ms() - 30 * 60 * 1000;
    let a = make_events(50, start_ms, "before");
    s.okta.push(a.clone());
    // Wazuh is not there yet: the host spools.
    let host = start(&s.config);
    host.wait_log("unavailable", LONG);
    let wazuh = Wazuh::bind(&s.socket);
    wazuh.wait("the spooled events", LONG, |w| w.events().len() >= 50);

    // analysisd restarts: the socket goes away while events keep coming …
    wazuh.close();
    let b = make_events(80, start_ms + 100_000, "while-down");
    s.okta.push(b.clone());
    std::thread::sleep(Duration::from_secs(3));
    // … and comes back as a new socket at the same path.
    let wazuh = Wazuh::bind(&s.socket);
    let c = make_events(30, start_ms + 200_000, "after");
    s.okta.push(c.clone());
    wazuh.wait("everything spooled while down, then the newer events", LONG, |w| w.events().len() >= 110);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let expected: Vec<String> = uuids(&b).into_iter().chain(uuids(&c)).collect();
    assert_eq!(wazuh.uuids(), expected, "spooled events first, in order, then newer ones, each once");
    assert!(log.contains("spooling and retrying"), "{log}");
}

#[test]
fn no_request_while_a_429_is_in_force() {
    let s = setup("");
    s.okta.set_rate_limit(1000, Duration::from_secs(4));
    let start_ms = now_ms() - 30 * 60 * 1000;
    s.okta.push(make_events(120, start_ms, "rl1"));
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("the first events", LONG, |w| w.events().len() >= 120);
    // Another integration empties the org's bucket.
    s.okta.exhaust_bucket();
    s.okta.push(make_events(150, start_ms + 200_000, "rl2"));
    wazuh.wait("events after the reset", LONG, |w| w.events().len() >= 270);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let reqs = s.okta.requests();
    let i = reqs.iter().position(|r| r.status == 429).expect("a 429 was answered");
    let reset_ms = reqs[i].window * 1000;
    for r in &reqs[i + 1..] {
        let at = r.at.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        assert!(at >= reset_ms, "a request {}ms before the rate-limit reset", reset_ms - at);
    }
    assert_eq!(reqs.iter().filter(|r| r.status == 429).count(), 1, "one 429, then it waited");
    assert!(log.contains("429"), "{log}");
}

#[test]
fn own_share_of_the_rate_limit_is_respected() {
    // 8 requests per 3 s window; this client may use half.
    let s = setup("");
    s.okta.set_rate_limit(8, Duration::from_secs(3));
    s.okta.push(make_events(1000, now_ms() - 30 * 60 * 1000, "share"));
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("all events", LONG, |w| w.events().len() >= 1000);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let mut per_window: HashMap<u64, usize> = HashMap::new();
    for r in s.okta.requests() {
        *per_window.entry(r.window).or_default() += 1;
    }
    assert!(per_window.values().all(|&n| n <= 4), "more than 50% of a window used: {per_window:?}");
    assert!(s.okta.requests().iter().all(|r| r.status != 429), "pacing avoided every 429");
}

#[test]
fn server_errors_html_and_auth_failures_are_retried() {
    let s = setup("");
    // Shorter waits than production, set in the config.
    let text = std::fs::read_to_string(&s.config).unwrap().replace(
        "page_limit = 100",
        "page_limit = 100\nretry_initial = \"100ms\"\nretry_max = \"1s\"\nauth_retry = \"1s\"",
    );
    std::fs::write(&s.config, text).unwrap();
    let events = make_events(150, now_ms() - 30 * 60 * 1000, "errors");
    s.okta.push(events.clone());
    s.okta.inject([Fault::Status(500), Fault::Html503, Fault::Unauthorized, Fault::Status(502), Fault::NoNext]);
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("all events despite the errors", LONG, |w| w.events().len() >= 150);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_eq!(wazuh.uuids(), uuids(&events), "nothing lost or repeated by the retries");
    assert!(log.contains("E0000011: Invalid token provided"), "the Okta error is named:\n{log}");
    assert!(log.contains("503 Service Unavailable: body starts `<html>"), "the proxy's HTML page is reported:\n{log}");
    assert!(log.contains("500 Internal Server Error") && log.contains("502"), "{log}");
    assert_no_token("the log", &log);
}

#[test]
fn a_tampered_next_link_is_not_followed() {
    let s = setup("");
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("page_limit = 100", "page_limit = 100\nretry_initial = \"100ms\"");
    std::fs::write(&s.config, text).unwrap();
    let events = make_events(120, now_ms() - 30 * 60 * 1000, "tamper");
    s.okta.push(events.clone());
    s.okta.inject([Fault::TamperedNext]);
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("all events", LONG, |w| w.events().len() >= 120);
    let (status, log) = host.terminate(LONG);
    assert!(status.success());
    assert!(log.contains("refusing a next link to http://evil.example"), "{log}");
    assert_eq!(wazuh.uuids(), uuids(&events), "the page with the bad link was fetched again, nothing repeated");
}

#[test]
fn oversized_events_arrive_as_valid_json_under_the_limit() {
    let s = setup("");
    let mut events = make_events(3, now_ms() - 30 * 60 * 1000, "big");
    events[1]["debugContext"]["debugData"]["huge"] = json!("x".repeat(150_000));
    events[1]["debugContext"]["debugData"]["also"] = json!("y".repeat(20_000));
    s.okta.push(events.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("the three events", LONG, |w| w.events().len() >= 3);
    let (status, _) = host.terminate(LONG);
    assert!(status.success());
    for m in wazuh.messages() {
        assert!(m.len() <= 65535, "a datagram of {} bytes", m.len());
    }
    let bodies = wazuh.bodies();
    assert_eq!(bodies[1]["truncated"], true);
    let big = &bodies[1]["okta"];
    assert_eq!(big["uuid"], events[1]["uuid"]);
    assert_eq!(big["actor"], events[1]["actor"]);
    assert_eq!(big["client"], events[1]["client"]);
    assert_eq!(big["outcome"], events[1]["outcome"]);
    assert!(big["debugContext"]["debugData"].get("huge").is_none());
    assert_eq!(big["debugContext"]["debugData"]["requestUri"], "/idp/idx/identify");
    assert!(bodies[0].get("truncated").is_none() && bodies[2].get("truncated").is_none());
}

#[test]
fn every_public_sample_replays_intact() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let samples = std::fs::read_to_string(samples_path()).expect("tests/fixtures/okta-samples/events.ndjson");
    let lines: Vec<&str> = samples.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 50);
    // A bad line in the middle must be reported with its number, not dropped silently.
    let mut input = lines[..25].join("\n");
    input.push_str("\nthis is not json\n");
    input.push_str(&lines[25..].join("\n"));
    let file = dir.path().join("in.ndjson");
    std::fs::write(&file, input).unwrap();
    let socket = dir.path().join("q.sock");
    let wazuh = Wazuh::bind(&socket);
    let host = Host::start(
        &["replay", file.to_str().unwrap(), "--socket", socket.to_str().unwrap()],
        &[],
    );
    let (status, _, log) = host.wait_exit(LONG);
    assert!(status.success(), "{log}");
    assert!(log.contains("line 26: not an event"), "{log}");
    wazuh.wait("all 50 samples", LONG, |w| w.events().len() >= 50);
    let got = wazuh.events();
    for (line, event) in lines.iter().zip(&got) {
        let expected: Value = serde_json::from_str(line).unwrap();
        assert_eq!(event, &expected, "a sample changed on the way");
    }
    // The built-in pack ran on them: e.g. the API token creation sample alerts.
    let alerts = wazuh.alerts();
    assert!(alerts.iter().any(|a| a["detection"]["id"] == "okta-api-token-created"), "{alerts:?}");
}

#[test]
fn a_bad_config_is_reported_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[[okta]]\nname = \"has space\"\norg_url = \"http://example.okta.com\"\nrate_limit_share = 3\n[sink]\nkind = \"file\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin()).args(["check", "--config", cfg.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["5 problem(s)", "okta[0].name", "okta[0].org_url", "token_env or token_file", "okta[0].rate_limit_share", "sink.path"] {
        assert!(err.contains(key), "{key} missing from:\n{err}");
    }
    std::fs::write(&cfg, "[wazuh]\nsokcet = \"/x\"\n").unwrap();
    let out = std::process::Command::new(bin()).args(["check", "--config", cfg.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sokcet"), "the unknown key is named");
}

#[test]
fn check_reaches_okta_and_the_socket() {
    let s = setup("");
    let wazuh = Wazuh::bind(&s.socket);
    let out = std::process::Command::new(bin())
        .args(["check", "--config", s.config.to_str().unwrap()])
        .env("OKTAWATCH_TEST_TOKEN", TOKEN)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("reached Okta's System Log"), "{text}");
    assert!(text.contains("accepts connections"), "{text}");
    drop(wazuh);
    // A wrong token is reported with Okta's error, and the token is not echoed.
    let out = std::process::Command::new(bin())
        .args(["check", "--config", s.config.to_str().unwrap()])
        .env("OKTAWATCH_TEST_TOKEN", "wrong-token-value")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("E0000011"), "{text}");
    assert!(!text.contains("wrong-token-value"));
}

#[test]
fn a_full_spool_holds_okta_back_then_drains() {
    // 1 MiB of spool; Wazuh is down; ~2.5 MiB of events are waiting at Okta.
    let s = setup("spool_max_mb = 1");
    let mut events = make_events(500, now_ms() - 40 * 60 * 1000, "full");
    for e in &mut events {
        e["debugContext"]["debugData"]["padding"] = json!("p".repeat(3000));
    }
    s.okta.push(events.clone());
    let host = start(&s.config);
    host.wait_log("spool is full", LONG);
    // Held back: no more requests while full.
    let before = s.okta.requests().len();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(s.okta.requests().len(), before, "polling went on with a full spool");
    let wazuh = Wazuh::bind(&s.socket);
    wazuh.wait("every event once Wazuh is back", LONG, |w| w.events().len() >= 500);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_eq!(wazuh.uuids(), uuids(&events));
}

#[test]
fn orgs_whose_okta_hangs_do_not_hold_up_the_others() {
    // Pages are parsed and handled a few at a time over all orgs (two per
    // core, at least 4). Eight orgs whose Okta never answers the first
    // request (within their 120 s request timeout) are more than there are
    // turns; the last org, configured after them, still delivers at once.
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let slow: Vec<Okta> = (0..8).map(|_| Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() })).collect();
    let fast = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let mut orgs = String::new();
    for (i, o) in slow.iter().enumerate() {
        o.push(make_events(50, now_ms() - 20 * 60 * 1000, &format!("slow-{i}")));
        o.inject([Fault::Delay(Duration::from_secs(300))]);
        orgs.push_str(&format!(
            "[[okta]]\nname = \"slow{i}\"\norg_url = \"{}\"\ntoken_env = \"OKTAWATCH_TEST_TOKEN\"\npoll_interval = \"1s\"\nrequest_timeout = \"120s\"\n\n",
            o.url()
        ));
    }
    orgs.push_str(&format!(
        "[[okta]]\nname = \"fast\"\norg_url = \"{}\"\ntoken_env = \"OKTAWATCH_TEST_TOKEN\"\npoll_interval = \"1s\"\npage_limit = 100\n\n",
        fast.url()
    ));
    let events = make_events(250, now_ms() - 20 * 60 * 1000, "fast-org");
    fast.push(events.clone());
    let socket = dir.path().join("q.sock");
    let cfg = write_config_for(dir.path(), &orgs, &socket, "");
    let wazuh = Wazuh::bind(&socket);
    let host = Host::start(&["run", "--config", cfg.to_str().unwrap()], &[("OKTAWATCH_TEST_TOKEN", TOKEN)]);
    // Well within the slow orgs' request timeout: they hold no turn while they wait.
    wazuh.wait("the fast org's events", LONG, |w| w.events().len() >= events.len());
    let bodies = wazuh.bodies();
    let fast_ones: Vec<String> =
        bodies.iter().filter(|b| b["org"] == "fast").map(|b| b["okta"]["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(fast_ones, uuids(&events), "the fast org's events, in order");
    assert!(bodies.iter().all(|b| b["org"] == "fast"), "a slow org was answered: the test shows nothing");
    // Shutdown does not wait for the hanging requests.
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}

#[test]
fn two_orgs_each_with_its_own_cursor_and_name() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let a = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let b = Okta::start(EmulatorOptions { token: "second-org-token".into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let cfg = write_config(dir.path(), &a.url(), &socket, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "[wazuh]",
        &format!("[[okta]]\nname = \"second\"\norg_url = \"{}\"\ntoken_env = \"SECOND_TOKEN\"\npoll_interval = \"1s\"\n\n[wazuh]", b.url()),
    );
    std::fs::write(&cfg, text).unwrap();
    let ea = make_events(150, now_ms() - 20 * 60 * 1000, "org-a");
    let eb = make_events(120, now_ms() - 20 * 60 * 1000, "org-b");
    a.push(ea.clone());
    b.push(eb.clone());
    let wazuh = Wazuh::bind(&socket);
    let host = Host::start(
        &["run", "--config", cfg.to_str().unwrap()],
        &[("OKTAWATCH_TEST_TOKEN", TOKEN), ("SECOND_TOKEN", "second-org-token")],
    );
    wazuh.wait("both orgs' events", LONG, |w| w.events().len() >= 270);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let bodies = wazuh.bodies();
    let of = |org: &str| -> Vec<String> {
        bodies.iter().filter(|b| b["org"] == org).map(|b| b["okta"]["uuid"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(of("test"), uuids(&ea), "first org, in order");
    assert_eq!(of("second"), uuids(&eb), "second org, in order");
    assert!(dir.path().join("state/orgs/test/checkpoint.json").is_file());
    assert!(dir.path().join("state/orgs/second/checkpoint.json").is_file());
    assert!(!log.contains("second-org-token"));
}
