//! Issue 10, the Okta client's part, end to end: what a hostile or broken
//! Okta (or something in front of it) answers must not panic the process,
//! make it wait for years, carry the token elsewhere, or take unbounded
//! memory; a damaged checkpoint says how to recover; the SSWS token leaves
//! the process environment.

use oktawatch_emulator::oauth::OAuthApp;
use oktawatch_tests::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const CLIENT_ID: &str = "0oa8hostile5App7";

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap()
}

fn uuids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect()
}

/// How often each uuid arrived.
fn counts(wazuh: &Wazuh) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for u in wazuh.uuids() {
        *c.entry(u).or_default() += 1;
    }
    c
}

fn assert_each_once(wazuh: &Wazuh, events: &[Value], what: &str) {
    let c = counts(wazuh);
    for u in uuids(events) {
        assert_eq!(c.get(&u).copied(), Some(1), "{what}: event {u} arrived {:?} times", c.get(&u));
    }
}

/// One SSWS org against its own emulator.
struct Single {
    _dir: tempfile::TempDir,
    okta: Okta,
    socket: PathBuf,
    config: PathBuf,
    state: PathBuf,
}

fn single() -> Single {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let config = write_config(dir.path(), &okta.url(), &socket, "");
    let state = dir.path().join("state");
    Single { _dir: dir, okta, socket, config, state }
}

/// Two orgs in one process: `good` (SSWS) and `bad` (an OAuth app whose
/// server sends a huge `expires_in` and poisonous rate-limit headers, with
/// a 2 s rate-limit window: waits are capped at 4 s).
#[test]
fn poisonous_rate_headers_and_expires_in_harm_neither_org() {
    let dir = tmp();
    let good = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let key = p256::SecretKey::random(&mut rsa::rand_core::OsRng);
    let mut public: Value = serde_json::from_str(&key.public_key().to_jwk_string()).unwrap();
    public["kid"] = "ec-1".into();
    let mut app = OAuthApp::new(CLIENT_ID, vec![public]);
    app.expires_in = Duration::from_secs(u64::MAX);
    let bad = Okta::start(EmulatorOptions { token: "not-this-one".into(), oauth: Some(app), ..Default::default() });
    let key_file = dir.path().join("app-key.json");
    std::fs::write(&key_file, key.to_jwk_string().as_bytes()).unwrap();
    let socket = dir.path().join("q.sock");
    let orgs = format!(
        r#"
[[okta]]
name = "good"
org_url = "{}"
token_env = "OKTAWATCH_TEST_TOKEN"
poll_interval = "1s"
page_limit = 100

[[okta]]
name = "bad"
org_url = "{}"
auth = "oauth"
client_id = "{CLIENT_ID}"
private_key_file = "{}"
key_id = "ec-1"
poll_interval = "1s"
page_limit = 100
rate_limit_window = "2s"
"#,
        good.url(),
        bad.url(),
        key_file.display()
    );
    let config = write_config_for(dir.path(), &orgs, &socket, "");
    let h = |pairs: &[(&str, String)]| pairs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect::<Vec<_>>();
    let ten_years = (now_ms() / 1000 + 10 * 365 * 86_400).to_string();
    bad.inject([
        // A 429 whose reset is u64::MAX: the `jitter` overflow of issue 10.
        Fault::Headers {
            status: 429,
            headers: h(&[
                ("x-rate-limit-reset", u64::MAX.to_string()),
                ("x-rate-limit-limit", u64::MAX.to_string()),
                ("x-rate-limit-remaining", "lots".into()),
            ]),
        },
        // A page whose reset is ten years ahead, with a garbled Date.
        Fault::Headers {
            status: 200,
            headers: h(&[("x-rate-limit-reset", ten_years.clone()), ("x-rate-limit-remaining", "0".into()), ("date", "tomorrow".into())]),
        },
        // A 429 with a garbage reset and a Date in the year 9999.
        Fault::Headers {
            status: 429,
            headers: h(&[("x-rate-limit-reset", "soon".into()), ("date", "Fri, 31 Dec 9999 23:59:59 GMT".into())]),
        },
        // A page with a negative limit and a reset ten years ahead.
        Fault::Headers { status: 200, headers: h(&[("x-rate-limit-limit", "-1".into()), ("x-rate-limit-reset", ten_years)]) },
    ]);
    let start_ms = now_ms() - 30 * 60 * 1000;
    let good_events = make_events(250, start_ms, "hostile-good");
    let bad_events = make_events(250, start_ms, "hostile-bad");
    good.push(good_events.clone());
    bad.push(bad_events.clone());
    let wazuh = Wazuh::bind(&socket);
    let host = start(&config);
    wazuh.wait("every event of both orgs", LONG, |w| w.events().len() >= 500);
    std::thread::sleep(Duration::from_millis(1500)); // a further poll must bring nothing new
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert_each_once(&wazuh, &good_events, "good");
    assert_each_once(&wazuh, &bad_events, "bad");
    assert_eq!(wazuh.events().len(), 500);

    // The good org never waited: all 200, nothing but its pages.
    assert!(good.requests().iter().all(|r| r.status == 200), "{:#?}", good.requests());
    // The bad org: two 429s, each followed by a wait of at most the cap (4 s plus jitter),
    // at least the second's one window (2 s) less the clock's second.
    let reqs = bad.requests();
    let logs: Vec<_> = reqs.iter().filter(|r| r.uri.starts_with("/api/v1/logs")).collect();
    let limited: Vec<usize> = (0..logs.len()).filter(|&i| logs[i].status == 429).collect();
    assert_eq!(limited.len(), 2, "{logs:#?}");
    for &i in &limited {
        let gap = logs[i + 1].okta_ms - logs[i].okta_ms;
        assert!((1_000..=4_400 + 2_500).contains(&gap), "waited {gap} ms after a poisoned 429: {logs:#?}");
    }
    assert!(log.contains("Okta's X-Rate-Limit-Reset 18446744073709551615 is"), "{log}");
    assert!(log.contains("taken as 4s (two rate-limit windows)"), "{log}");
    assert!(log.contains("a 429 without a usable X-Rate-Limit-Reset; waiting one rate-limit window"), "{log}");
    assert!(log.contains("Okta's x-rate-limit-remaining `lots` is not a number; ignored"), "{log}");
    assert!(log.contains("Okta's Date header `tomorrow` is not an HTTP date; ignored"), "{log}");
    assert!(log.contains("is more than a day off the host clock; not believed"), "{log}");
    // The huge expires_in: believed for a day at most, one token for the whole run.
    assert!(log.contains("the token endpoint says its token lasts 18446744073709551615s; renewing it as if it lasted 86400s"), "{log}");
    assert_eq!(bad.token_requests().iter().filter(|t| t.status == 200).count(), 1);
    // The saved rate-limit view is bounded too.
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("state/orgs/bad/ratelimit.json")).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert!(saved["reset_ms"].as_u64().unwrap() < (now_ms() as u64) + 3_600_000, "{saved}");
}

#[test]
fn a_next_link_off_the_system_log_is_refused_and_never_requested() {
    let s = single();
    s.okta.inject([Fault::ForeignNext]);
    let events = make_events(150, now_ms() - 20 * 60 * 1000, "foreign-next");
    s.okta.push(events.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("every event", LONG, |w| w.events().len() >= 150);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_eq!(wazuh.uuids(), uuids(&events), "every event once, in order");
    let reqs = s.okta.requests();
    assert!(reqs.iter().all(|r| r.uri.starts_with("/api/v1/logs?")), "only the System Log was asked: {reqs:#?}");
    assert!(!reqs.iter().any(|r| r.uri.contains("/users")), "{reqs:#?}");
    // The refused page was asked for again with the same URL.
    assert_eq!(reqs[0].uri, reqs[1].uri);
    assert!(
        log.contains("refusing a next link to the path /api/v1/users: a System Log cursor stays on /api/v1/logs"),
        "{log}"
    );
}

#[test]
fn an_oversized_page_is_refused_with_a_clear_error() {
    let s = single();
    // 33 MiB: past the 32 MiB cap for a page.
    s.okta.inject([Fault::Oversized(33 << 20)]);
    let events = make_events(120, now_ms() - 20 * 60 * 1000, "oversized");
    s.okta.push(events.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("every event", LONG, |w| w.events().len() >= 120);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_eq!(wazuh.uuids(), uuids(&events), "every event once, in order");
    assert!(log.contains("is larger than 32768 KiB, the cap for a page; refused (lower page_limit"), "{log}");
    let reqs = s.okta.requests();
    assert_eq!(reqs[0].uri, reqs[1].uri, "the same page asked for again");
}

#[test]
fn a_corrupt_checkpoint_says_how_to_recover() {
    let s = single();
    let events = make_events(60, now_ms() - 20 * 60 * 1000, "corrupt-cp");
    s.okta.push(events.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = start(&s.config);
    wazuh.wait("the events", LONG, |w| w.events().len() >= 60);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");

    let cp = s.state.join("orgs/test/checkpoint.json");
    let text = std::fs::read_to_string(&cp).unwrap();
    std::fs::write(&cp, &text[..text.len() / 2]).unwrap();
    let (status, _, log) = start(&s.config).wait_exit(LONG);
    assert_eq!(status.code(), Some(2), "{log}");
    let expected = format!("state file {} is damaged (", cp.display());
    assert!(log.contains(&expected), "{log}");
    assert!(log.contains("to recover, stop oktawatch and restore that file from a backup, or remove it"), "{log}");
    assert!(log.contains("resumes from the newest page recorded in its spool/"), "{log}");

    // Doing what it says: removed, the org resumes from its spool; nothing is sent twice.
    std::fs::remove_file(&cp).unwrap();
    let more = make_events(40, now_ms() - 10 * 60 * 1000, "corrupt-cp-2");
    s.okta.push(more.clone());
    let host = start(&s.config);
    wazuh.wait("the newer events", LONG, |w| w.events().len() >= 100);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let expected: Vec<String> = uuids(&events).into_iter().chain(uuids(&more)).collect();
    assert_eq!(wazuh.uuids(), expected, "every event once after the recovery");
}

#[test]
fn the_api_token_leaves_the_environment() {
    let s = single();
    let wazuh = Wazuh::bind(&s.socket);
    s.okta.push(make_events(5, now_ms() - 60_000, "env"));
    let host = start(&s.config);
    wazuh.wait("the events", LONG, |w| w.events().len() >= 5);
    let environ = std::fs::read(format!("/proc/{}/environ", host.pid())).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains(TOKEN), "the token is still in /proc/<pid>/environ");
    assert!(!environ.contains("TOKEN-a1b2c3"), "part of the token is still in /proc/<pid>/environ");
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}
