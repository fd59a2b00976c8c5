//! Okta event hooks, end to end: the oktawatch process takes Okta's pushes
//! over real HTTP(S) while it polls the Okta emulator, and writes to a real
//! Unix datagram socket. Each event reaches Wazuh once, whichever path
//! brings it first, also across a restart.

use oktawatch_tests::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const SECRET: &str = "hook-SECRET-5e1f9a77c0d2-never-log-me";

/// The config of [`setup`]'s org, taking hooks, with `hooks` as the `[hooks]` body.
fn config(s: &Setup, poll_interval: &str, hooks: &str, extra: &str) -> PathBuf {
    s.hook_config(poll_interval, &format!("{extra}\n[hooks]\n{hooks}\n"))
}

/// The hook base URL the service logged (`http://127.0.0.1:PORT`).
fn hook_base(host: &Host) -> String {
    host.wait_log("event hooks on ", LONG);
    let log = host.log();
    let rest = log.split("event hooks on ").nth(1).unwrap();
    rest.split("/hooks/okta/").next().unwrap().to_string()
}

/// A client trusting `root_pem` only (HTTPS with the test's own CA), or the defaults.
fn client(root_pem: Option<&str>) -> Http {
    let mut b = reqwest::Client::builder();
    if let Some(pem) = root_pem {
        b = b.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()]);
    }
    Http::with(b)
}

#[test]
fn verification_challenge_and_secret_check() {
    let s = setup("");
    let cfg = config(&s, "1s", "listen = \"127.0.0.1:0\"", "");
    let _wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let url = format!("{}/hooks/okta/test", hook_base(&host));
    let http = client(None);

    let challenge = "X6_zYl2yRwB4-oQk0i2M0Q";
    let (status, body) =
        http.send("GET", &url, &[("authorization", SECRET), ("x-okta-verification-challenge", challenge)], None);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, json!({ "verification": challenge }));

    // The challenge is behind the secret too.
    let wrong = "hook-WRONG-0b7d3c11e5aa-guess";
    let (status, body) =
        http.send("GET", &url, &[("authorization", wrong), ("x-okta-verification-challenge", challenge)], None);
    assert_eq!(status, 401);
    assert!(!body.contains(challenge), "{body}");
    assert_eq!(http.send("GET", &url, &[("x-okta-verification-challenge", challenge)], None).0, 401);
    // A prefix of the secret is no secret.
    assert_eq!(http.post(&url, &SECRET[..SECRET.len() - 1], hook_body(&fresh_samples("prefix")[..1])).0, 401);
    assert_eq!(http.post(&url, wrong, hook_body(&fresh_samples("wrong")[..1])).0, 401);

    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert!(log.contains("event hook verification"), "{log}");
    assert!(log.contains("(401)"), "{log}");
    for leak in [SECRET, "SECRET-5e1f", wrong, "WRONG-0b7d"] {
        assert!(!log.contains(leak), "{leak} leaked into the log:\n{log}");
    }
}

#[test]
fn a_client_trickling_its_headers_is_cut_off_and_others_are_served() {
    use std::io::{Read, Write};
    let s = setup("");
    let cfg = config(&s, "1s", "listen = \"127.0.0.1:0\"", "");
    let _wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let base = hook_base(&host);
    let addr = base.trim_start_matches("http://").to_string();
    // A request line and half a header, then silence: the server closes the
    // connection once its header timeout passes (read returns end of file).
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"POST /hooks/okta/test HTTP/1.1\r\nHost: x\r\nAuthoriz").unwrap();
    slow.set_read_timeout(Some(LONG)).unwrap();
    // Meanwhile another client is served.
    let url = format!("{base}/hooks/okta/test");
    let (status, _) = client(None).post(&url, SECRET, hook_body(&fresh_samples("beside-slow")[..1]));
    assert_eq!(status, 204);
    let mut buf = Vec::new();
    let read = slow.read_to_end(&mut buf);
    assert!(read.is_ok(), "the trickling connection was not closed by the server: {read:?}");
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}

#[test]
fn hooked_events_arrive_before_the_next_poll_and_once_across_a_restart() {
    let s = setup("");
    let cfg = config(&s, "30s", "listen = \"127.0.0.1:0\"", "");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let url = format!("{}/hooks/okta/test", hook_base(&host));
    // The first poll (nothing yet); the next one is 30 s away.
    host.wait_log("no saved cursor", LONG);
    while s.okta.requests().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let polls_before = s.okta.requests().len();

    let events = fresh_samples("hook-first");
    let http = client(None);
    for batch in events.chunks(20) {
        let (status, body) = http.post(&url, SECRET, hook_body(batch));
        assert_eq!(status, 204, "{body}");
    }
    wazuh.wait("the 50 hooked samples", LONG, |w| w.events().len() >= 50);
    assert_eq!(s.okta.requests().len(), polls_before, "the hooked events came before the next poll");
    // Each event's bytes as Okta sent them.
    let msgs = wazuh.messages();
    for e in &events {
        assert!(msgs.iter().any(|m| m.contains(&format!(r#","okta":{e}}}"#))), "not sent intact: {e}");
    }

    // A restart, then polling serves the same events (and a few new ones).
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let polled_only: Vec<String> =
        make_events(5, now_ms() - 30_000, "polled-only").iter().map(|e| e.to_string()).collect();
    s.okta.push_raw(events.iter().cloned().chain(polled_only.iter().cloned()));
    let host = start_hooked(&cfg, SECRET);
    wazuh.wait("the polled-only events", LONG, |w| w.events().len() >= 55);
    host.wait_log("already delivered (by the event hook) dropped", LONG);
    std::thread::sleep(Duration::from_millis(500));
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");

    let got = wazuh.uuids();
    let counts = count_each(&got);
    for u in events.iter().chain(&polled_only).map(|e| uuid_of(e)) {
        assert_eq!(counts.get(u.as_str()), Some(&1), "{u} in {got:?}");
    }
    assert_eq!(got.len(), 55, "{got:?}");
    assert!(log.contains("resuming from the saved cursor"), "{log}");
}

#[test]
fn polled_first_then_hooked_is_delivered_once() {
    let s = setup("");
    let cfg = config(&s, "1s", "listen = \"127.0.0.1:0\"", "");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let url = format!("{}/hooks/okta/test", hook_base(&host));
    let http = client(None);

    // Polled first, then pushed by the hook: dropped as duplicates.
    let events = fresh_samples("poll-first");
    s.okta.push_raw(events[..25].iter().cloned());
    wazuh.wait("the polled samples", LONG, |w| w.events().len() >= 25);
    let (status, body) = http.post(&url, SECRET, hook_body(&events[..25]));
    assert_eq!(status, 204, "{body}");
    host.wait_log("event hook batch: 25 event(s), 0 new, 25 already delivered", LONG);

    // Hooked first, then polled, with the service running all along.
    let (status, body) = http.post(&url, SECRET, hook_body(&events[25..]));
    assert_eq!(status, 204, "{body}");
    wazuh.wait("the hooked samples", LONG, |w| w.events().len() >= 50);
    s.okta.push_raw(events[25..].iter().cloned());
    host.wait_log("polled page: 25 event(s) already delivered (by the event hook) dropped", LONG);
    std::thread::sleep(Duration::from_millis(1500)); // a further poll brings nothing

    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let got = wazuh.uuids();
    let counts = count_each(&got);
    assert_eq!(got.len(), 50, "{got:?}");
    for u in events.iter().map(|e| uuid_of(e)) {
        assert_eq!(counts.get(u.as_str()), Some(&1), "{u}");
    }
}

#[test]
fn a_full_queue_answers_503_and_okta_s_retry_is_taken_later() {
    // Wazuh is down and 1 MiB of spool fills up: the org takes no hook batch
    // meanwhile; one waits in the queue (queue_batches = 1), the next is refused.
    let s = setup("");
    let cfg = config(&s, "1s", "listen = \"127.0.0.1:0\"\nqueue_batches = 1", "spool_max_mb = 1");
    let mut polled = make_events(500, now_ms() - 40 * 60 * 1000, "queue-polled");
    for e in &mut polled {
        e["debugContext"]["debugData"]["padding"] = json!("p".repeat(3000));
    }
    s.okta.push(polled.clone());
    let host = start_hooked(&cfg, SECRET);
    let url = format!("{}/hooks/okta/test", hook_base(&host));
    host.wait_log("spool is full", LONG);
    let http = client(None);
    let hooked = fresh_samples("queue-hooked");
    assert_eq!(http.post(&url, SECRET, hook_body(&hooked[..10])).0, 204);
    let (status, body) = http.post(&url, SECRET, hook_body(&hooked[10..20]));
    assert_eq!(status, 503, "{body}");

    let wazuh = Wazuh::bind(&s.socket);
    wazuh.wait("the polled and the queued events", LONG, |w| w.events().len() >= 510);
    // Okta's retry of the refused batch.
    assert_eq!(http.post(&url, SECRET, hook_body(&hooked[10..20])).0, 204);
    wazuh.wait("the retried batch", LONG, |w| w.events().len() >= 520);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let got = wazuh.uuids();
    assert_eq!(got.len(), 520);
    let counts = count_each(&got);
    for e in polled.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).chain(hooked[..20].iter().map(|e| uuid_of(e))) {
        assert_eq!(counts.get(e.as_str()), Some(&1), "{e}");
    }
}

#[test]
fn bad_requests_are_refused_counted_and_the_listener_keeps_serving() {
    let s = setup("");
    let cfg = config(&s, "1s", "listen = \"127.0.0.1:0\"\nmax_body_kb = 8", "\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let base = hook_base(&host);
    let url = format!("{base}/hooks/okta/test");
    let http = client(None);
    let events = fresh_samples("bad-inputs");

    // Over 8 KiB.
    let (status, body) = http.post(&url, SECRET, hook_body(&events));
    assert_eq!(status, 413, "{body}");
    assert_eq!(http.post(&url, SECRET, b"{\"data\":{\"events\":[{\"uuid\"".to_vec()).0, 400);
    assert_eq!(http.post(&url, SECRET, b"{\"eventType\":\"com.okta.event_hook\",\"data\":{}}".to_vec()).0, 400);
    assert_eq!(http.post(&format!("{base}/hooks/okta/nope"), SECRET, hook_body(&events[..1])).0, 404);
    assert_eq!(http.send("GET", &format!("{base}/elsewhere"), &[], None).0, 404);
    assert_eq!(http.send("PUT", &url, &[("authorization", SECRET)], Some(hook_body(&events[..1]))).0, 405);
    assert_eq!(http.post(&url, "nope", hook_body(&events[..1])).0, 401);

    // Still serving.
    let (status, body) = http.post(&url, SECRET, hook_body(&events[..2]));
    assert_eq!(status, 204, "{body}");
    wazuh.wait("the two good events", LONG, |w| w.events().len() >= 2);
    assert_eq!(wazuh.uuids(), vec![uuid_of(&events[0]), uuid_of(&events[1])]);

    let log = host.log();
    let maddr = log.split("metrics on http://").nth(1).unwrap().split('/').next().unwrap().to_string();
    let (status, m) = http.send("GET", &format!("http://{maddr}/metrics"), &[], None);
    assert_eq!(status, 200);
    for (series, n) in [
        (r#"oktawatch_hook_requests_total{org="test",status="413"}"#, 1.0),
        (r#"oktawatch_hook_requests_total{org="test",status="400"}"#, 2.0),
        (r#"oktawatch_hook_requests_total{org="test",status="405"}"#, 1.0),
        (r#"oktawatch_hook_requests_total{org="test",status="401"}"#, 1.0),
        (r#"oktawatch_hook_requests_total{org="test",status="204"}"#, 1.0),
        (r#"oktawatch_hook_requests_total{org="(unknown)",status="404"}"#, 2.0),
        (r#"oktawatch_hook_events_total{org="test"}"#, 2.0),
    ] {
        assert_eq!(metric(&m, series), Some(n), "{series} in\n{m}");
    }
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}

#[test]
fn https_with_a_self_signed_certificate() {
    let s = setup("");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (key.cert.pem(), key.signing_key.serialize_pem());
    let cert = s.dir.path().join("hooks.crt");
    let keyf = s.dir.path().join("hooks.key");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&keyf, &key_pem).unwrap();
    let hooks = format!("listen = \"127.0.0.1:0\"\ntls_cert = \"{}\"\ntls_key = \"{}\"", cert.display(), keyf.display());
    let cfg = config(&s, "30s", &hooks, "");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let base = hook_base(&host);
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let url = format!("{}/hooks/okta/test", base.replace("127.0.0.1", "localhost"));

    let https = client(Some(&cert_pem));
    let events = fresh_samples("tls");
    let (status, body) = https.post(&url, SECRET, hook_body(&events[..10]));
    assert_eq!(status, 204, "{body}");
    wazuh.wait("the events posted over TLS", LONG, |w| w.events().len() >= 10);
    let got = wazuh.uuids();
    assert_eq!(got, events[..10].iter().map(|e| uuid_of(e)).collect::<Vec<_>>());
    // Plain HTTP to the TLS port gets nowhere.
    let plain = client(None);
    let r = plain.rt.block_on(async { plain.client.post(url.replace("https://", "http://")).body("{}").send().await });
    assert!(r.is_err() || r.unwrap().status().as_u16() >= 400);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}

#[test]
fn plain_http_off_loopback_is_refused_by_check() {
    let s = setup("");
    let cfg = config(&s, "5s", "listen = \"0.0.0.0:8443\"", "");
    let out = std::process::Command::new(bin())
        .args(["check", "--config", cfg.to_str().unwrap()])
        .env("OKTAWATCH_TEST_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hooks.listen: `0.0.0.0:8443` is not a loopback address, and plain HTTP is allowed only on loopback"),
        "{err}"
    );
    assert!(err.contains("set tls_cert and tls_key"), "{err}");
}
