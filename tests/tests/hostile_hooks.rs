//! The event hook listener under attack, end to end against the real
//! binary: hundreds of idle connections (from one address and from many)
//! cannot keep an authenticated delivery out, a body nested 15,000 levels
//! deep is refused with 400 while everything else keeps working, and an
//! event pushed by a holder of the secret cannot pre-empt Okta's own event
//! with the same uuid: the differing polled copy is delivered and counted,
//! identical copies are still dropped.

use oktawatch_tests::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const SECRET: &str = "hook-SECRET-7c41d09e2b33-never-log-me";

/// The config of [`setup`]'s org, taking hooks on loopback, with metrics, polling every `poll_interval`.
fn config(s: &Setup, poll_interval: &str) -> PathBuf {
    s.hook_config(poll_interval, "\n[metrics]\nlisten = \"127.0.0.1:0\"\n\n[hooks]\nlisten = \"127.0.0.1:0\"\n")
}

/// The address after `what` in the log (`event hooks on http://` or `metrics on http://`).
fn logged_addr(host: &Host, what: &str) -> SocketAddr {
    host.wait_log(what, LONG);
    let log = host.log();
    let rest = log.split(what).nth(1).unwrap();
    rest.split('/').next().unwrap().parse().unwrap()
}

/// The hook listener's address and the org's hook URL.
fn hook_addr(host: &Host) -> (SocketAddr, String) {
    let addr = logged_addr(host, "event hooks on http://");
    (addr, format!("http://{addr}/hooks/okta/test"))
}

/// A client, optionally from a given local address.
fn client(from: Option<Ipv4Addr>) -> Http {
    Http::with(reqwest::Client::builder().local_address(from.map(IpAddr::V4)))
}

/// The service's metrics page.
fn metrics(http: &Http, host: &Host) -> String {
    let addr = logged_addr(host, "metrics on http://");
    let (status, m) = http.send("GET", &format!("http://{addr}/metrics"), &[], None);
    assert_eq!(status, 200);
    m
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.0/8 all reach `lo`).
fn connect_from(rt: &tokio::runtime::Runtime, from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(from.into(), 0)).unwrap();
        let s = sock.connect(to).await.unwrap_or_else(|e| panic!("connecting from {from}: {e}"));
        let s = s.into_std().unwrap();
        s.set_nonblocking(false).unwrap();
        s
    })
}

/// Asserts that the server closes every one of `conns` (end of file or reset, not a timeout).
fn assert_all_closed(conns: Vec<TcpStream>, what: &str) {
    for (i, mut c) in conns.into_iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        match c.read_to_end(&mut buf) {
            Ok(_) => assert!(buf.is_empty(), "{what} #{i}: the server sent {:?}", String::from_utf8_lossy(&buf)),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{what} #{i} was not closed by the server: {e}"),
        }
    }
}

/// One authenticated POST on a kept-alive connection; the status of the answer.
fn raw_post(c: &mut TcpStream, body: &[u8]) -> u16 {
    let head = format!(
        "POST /hooks/okta/test HTTP/1.1\r\nHost: oktawatch\r\nAuthorization: {SECRET}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = c.read(&mut buf).expect("the answer on the kept-alive connection");
        assert!(n > 0, "the kept-alive connection was closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(!text.to_ascii_lowercase().contains("connection: close"), "{text}");
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn idle_connections_cannot_keep_an_authenticated_delivery_out() {
    let s = setup("");
    let cfg = config(&s, "30s");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let (addr, url) = hook_addr(&host);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let events = fresh_samples("slots");
    let local = |d: u8| Ipv4Addr::new(127, 0, 0, d);

    // 300 idle connections from one address: at most 16 stay pending (each
    // newcomer over the cap pushes out that address's oldest), and a delivery
    // from elsewhere is answered and delivered.
    let idle: Vec<TcpStream> = (0..300).map(|_| connect_from(&rt, local(1), addr)).collect();
    let (status, body) = client(Some(local(60))).post(&url, SECRET, hook_body(&events[..10]));
    assert_eq!(status, 204, "{body}");
    wazuh.wait("the first delivery", LONG, |w| w.events().len() >= 10);
    // Every idle one is closed by the server: 284 pushed out, 16 after the pre-authentication timeout.
    assert_all_closed(idle, "idle connection from 127.0.0.1");

    // An authenticated connection kept alive, then 300 idle connections from
    // 20 addresses (15 each, under the per-address cap): the 192 pending
    // slots fill, newcomers push out the oldest; the authenticated connection
    // keeps its own slot, and a new delivery gets in.
    let mut kept = connect_from(&rt, local(50), addr);
    assert_eq!(raw_post(&mut kept, &hook_body(&events[10..20])), 204);
    let idle: Vec<TcpStream> = (0..300).map(|i| connect_from(&rt, local(2 + (i % 20) as u8), addr)).collect();
    let (status, body) = client(Some(local(61))).post(&url, SECRET, hook_body(&events[20..30]));
    assert_eq!(status, 204, "{body}");
    assert_eq!(raw_post(&mut kept, &hook_body(&events[30..40])), 204, "the authenticated connection was kept");
    wazuh.wait("every delivery", LONG, |w| w.events().len() >= 40);
    assert_all_closed(idle, "idle connection from 20 addresses");

    let m = metrics(&client(None), &host);
    for (series, n) in [
        // 300 - 16 from 127.0.0.1.
        (r#"oktawatch_hook_connections_closed_total{reason="per_ip"}"#, 284.0),
        // 300 - 192, and one more for the second delivery's connection.
        (r#"oktawatch_hook_connections_closed_total{reason="pre_auth_full"}"#, 109.0),
        // The 16 left from 127.0.0.1, and the 191 left of the 20 addresses.
        (r#"oktawatch_hook_connections_closed_total{reason="pre_auth_timeout"}"#, 207.0),
        (r#"oktawatch_hook_requests_total{org="test",status="204"}"#, 4.0),
        (r#"oktawatch_hook_events_total{org="test"}"#, 40.0),
    ] {
        assert_eq!(metric(&m, series), Some(n), "{series} in\n{m}");
    }
    drop(kept);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert!(log.contains("a connection not yet authenticated was closed"), "{log}");
    let got = wazuh.uuids();
    assert_eq!(got.len(), 40, "{got:?}");
    let counts = count_each(&got);
    for e in &events[..40] {
        assert_eq!(counts.get(uuid_of(e).as_str()), Some(&1), "{e}");
    }
}

#[test]
fn a_body_nested_15000_levels_deep_is_refused_and_everything_keeps_working() {
    let s = setup("");
    let cfg = config(&s, "1s");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let (_, url) = hook_addr(&host);
    let http = client(None);
    let nested = |uuid: &str, levels: usize| {
        // The event's own object is one level; the arrays make up the rest.
        format!(r#"{{"uuid":"{uuid}","eventType":"x.y","a":{}1{}}}"#, "[".repeat(levels - 1), "]".repeat(levels - 1))
    };

    let deep = hook_body(&[nested(&uuid_for("deep", 0), 15_000)]);
    assert!((30_000..31_000).contains(&deep.len()), "{}", deep.len());
    let (status, body) = http.post(&url, SECRET, deep);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("nested deeper than 64 levels"), "{body}");
    // One level over the bound, refused; at the bound, taken.
    assert_eq!(http.post(&url, SECRET, hook_body(&[nested(&uuid_for("deep", 1), 65)])).0, 400);
    let at_bound = nested(&uuid_for("deep", 2), 64);
    assert_eq!(http.post(&url, SECRET, hook_body(std::slice::from_ref(&at_bound))).0, 204);

    // The process and the other paths go on: a delivery, the verification, polling.
    let events = fresh_samples("after-deep");
    assert_eq!(http.post(&url, SECRET, hook_body(&events[..5])).0, 204);
    let challenge = "Zq3_verify-after-deep";
    let (status, body) =
        http.send("GET", &url, &[("authorization", SECRET), ("x-okta-verification-challenge", challenge)], None);
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()), (200, json!({ "verification": challenge })));
    s.okta.push_raw(events[5..15].iter().cloned());
    wazuh.wait("the hooked and the polled events", LONG, |w| w.events().len() >= 16);

    let m = metrics(&http, &host);
    for (series, n) in [
        (r#"oktawatch_hook_requests_total{org="test",status="400"}"#, 2.0),
        (r#"oktawatch_hook_requests_total{org="test",status="204"}"#, 2.0),
        (r#"oktawatch_hook_requests_total{org="test",status="200"}"#, 1.0),
        (r#"oktawatch_hook_events_total{org="test"}"#, 6.0),
    ] {
        assert_eq!(metric(&m, series), Some(n), "{series} in\n{m}");
    }
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let got = wazuh.uuids();
    let mut want: Vec<String> = std::iter::once(&at_bound).chain(&events[..15]).map(|e| uuid_of(e)).collect();
    let mut sorted = got.clone();
    sorted.sort();
    want.sort();
    assert_eq!(sorted, want);
    let msgs = wazuh.messages();
    assert!(msgs.iter().any(|m| m.contains(&format!(r#","okta":{at_bound}}}"#))), "the 64-level event sent intact");
}

/// The same JSON object with its keys in reverse order and spaces around them.
fn reordered(text: &str) -> String {
    let v: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
    let fields: Vec<String> =
        v.iter().rev().map(|(k, v)| format!("{} : {}", serde_json::to_string(k).unwrap(), v)).collect();
    format!("{{ {} }}", fields.join(" , "))
}

#[test]
fn a_polled_copy_differing_from_the_hooked_one_is_delivered_and_counted() {
    let s = setup("");
    let cfg = config(&s, "1s");
    let wazuh = Wazuh::bind(&s.socket);
    let host = start_hooked(&cfg, SECRET);
    let (_, url) = hook_addr(&host);
    let http = client(None);

    // Okta's six events; a holder of the secret pushes them first, two of them forged.
    let real: Vec<String> = fresh_samples("differ")[..6].to_vec();
    let forge = |text: &str| {
        let mut v: Value = serde_json::from_str(text).unwrap();
        v["actor"]["alternateId"] = json!("forged@attacker.example");
        serde_json::to_string(&v).unwrap()
    };
    let pushed: Vec<String> = vec![
        forge(&real[0]),
        forge(&real[1]),
        reordered(&real[2]), // the same event, serialized otherwise: still a copy
        real[3].clone(),
        real[4].clone(),
        real[5].clone(),
    ];
    assert_ne!(pushed[2], real[2]);
    assert_eq!(http.post(&url, SECRET, hook_body(&pushed)).0, 204);
    wazuh.wait("the pushed events", LONG, |w| w.events().len() >= 6);

    // Polling brings Okta's: the four matching copies are dropped, the two that differ delivered.
    s.okta.push_raw(real.iter().cloned());
    host.wait_log("polled page: 4 event(s) already delivered (by the event hook) dropped", LONG);
    wazuh.wait("the two differing polled copies", LONG, |w| w.events().len() >= 8);
    host.wait_log("2 event(s) share their uuid with an event delivered before but not its content", LONG);

    // Identical copies of either version are still dropped, once each.
    assert_eq!(http.post(&url, SECRET, hook_body(&[real[0].clone(), real[1].clone(), pushed[0].clone()])).0, 204);
    host.wait_log("event hook batch: 3 event(s), 0 new, 3 already delivered", LONG);

    let m = metrics(&http, &host);
    for (series, n) in [
        (r#"oktawatch_events_differing_copy_total{org="test"}"#, 2.0),
        (r#"oktawatch_events_duplicate_total{org="test"}"#, 7.0),
        (r#"oktawatch_events_sent_total{org="test"}"#, 8.0),
    ] {
        assert_eq!(metric(&m, series), Some(n), "{series} in\n{m}");
    }
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");

    // After a restart (dedup.log read back), Okta serving all six again and
    // the forged ones pushed again deliver nothing.
    s.okta.push_raw(real.iter().cloned());
    let host = start_hooked(&cfg, SECRET);
    let (_, url) = hook_addr(&host);
    host.wait_log("polled page: 6 event(s) already delivered (by the event hook) dropped", LONG);
    assert_eq!(http.post(&url, SECRET, hook_body(&pushed[..2])).0, 204);
    host.wait_log("event hook batch: 2 event(s), 0 new, 2 already delivered", LONG);
    std::thread::sleep(Duration::from_millis(1500)); // a further poll brings nothing
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");

    let got = wazuh.uuids();
    assert_eq!(got.len(), 8, "{got:?}");
    let counts = count_each(&got);
    for (i, e) in real.iter().enumerate() {
        let want = if i < 2 { 2 } else { 1 };
        assert_eq!(counts.get(uuid_of(e).as_str()), Some(&want), "{e}");
    }
    // Both versions of each forged event reached Wazuh, each as it was sent;
    // of the reordered one, the pushed text (the polled one was its copy).
    let msgs = wazuh.messages();
    assert!(!msgs.iter().any(|m| m.contains(&format!(r#","okta":{}}}"#, real[2]))));
    for e in real.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, e)| e).chain(&pushed) {
        assert!(msgs.iter().any(|m| m.contains(&format!(r#","okta":{e}}}"#))), "not sent intact: {e}");
    }
    // Each message says which path brought it: the six pushed ones are marked, the two polled ones not.
    let bodies = wazuh.bodies();
    assert_eq!(bodies.iter().filter(|b| b["source"] == "event_hook").count(), 6);
    let parsed = |e: &String| serde_json::from_str::<serde_json::Value>(e).unwrap();
    for e in &pushed {
        assert!(bodies.iter().any(|b| b["source"] == "event_hook" && b["okta"] == parsed(e)), "{e}");
    }
    for e in &real[..2] {
        assert!(bodies.iter().any(|b| b.get("source").is_none() && b["okta"] == parsed(e)), "{e}");
    }
}
