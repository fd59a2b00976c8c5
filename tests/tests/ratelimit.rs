//! Issue 16, end to end: Okta's rate-limit penalty survives a restart. The
//! emulator answers 429 with a reset some seconds ahead; the oktawatch
//! process is killed (SIGKILL) or stopped (SIGTERM) and started again at once,
//! several times in a row, and must send no request before the reset, then
//! deliver every event once. A variant runs with the emulator's clock off the
//! host's (the `Date` header corrects for it), and one keeps to its share of
//! a nearly spent bucket across restarts.

use oktawatch_tests::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);
/// The penalty, as the issue has it: 20 s, room for several restarts inside it
/// (each takes well under a second; the suites run side by side, so the wait costs little).
const PENALTY: Duration = Duration::from_secs(20);
/// Restarts are made while more than this is left of the penalty.
const MARGIN: Duration = Duration::from_secs(3);
const ANNOUNCE: &str = "Okta answered 429 before this start; no request until";

fn stop(host: Host, graceful: bool) -> String {
    if graceful {
        let (status, log) = host.terminate(LONG);
        assert!(status.success(), "exit {status:?} after SIGTERM; log:\n{log}");
        log
    } else {
        host.kill9()
    }
}

/// The emulator's request log, one line per request, for people.
fn request_log(okta: &Okta) -> String {
    let reqs = okta.requests();
    let t0 = reqs.first().map(|r| r.okta_ms).unwrap_or(0);
    reqs.iter()
        .map(|r| {
            let path = r.uri.split('?').next().unwrap_or("");
            let cursor = if r.uri.contains("after=") { "after=…" } else { "since=…" };
            format!(
                "+{:>6}ms  {} {path}?{cursor}  {} events={} reset={}\n",
                r.okta_ms - t0,
                r.auth,
                r.status,
                r.events,
                r.window
            )
        })
        .collect()
}

/// The test: a 429 with a reset `PENALTY` ahead, then restarts at once while it lasts.
fn penalty_survives_restarts(graceful: bool, clock_offset_ms: i64) {
    let s = setup("");
    s.okta.set_clock_offset(clock_offset_ms);
    let start_ms = now_ms() - 30 * 60 * 1000;
    let tag = format!("pen-{graceful}-{clock_offset_ms}");
    let first = make_events(150, start_ms, &format!("{tag}-a"));
    s.okta.push(first.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let mut host = start(&s.config);
    wazuh.wait("the first 150 events", LONG, |w| w.events().len() >= 150);

    // Okta puts the org in a penalty: the next request gets a 429 with the reset PENALTY ahead.
    s.okta.inject([Fault::RateLimited(PENALTY)]);
    let second = make_events(150, start_ms + 600_000, &format!("{tag}-b"));
    s.okta.push(second.clone());
    host.wait_log("Okta rate limit reached (429)", LONG);

    let left = || Duration::from_millis(s.okta.penalty_until_ms().saturating_sub((now_ms() + clock_offset_ms) as u64));
    let mut restarts = 0;
    while restarts < 5 && left() > MARGIN {
        stop(host, graceful);
        host = start(&s.config);
        host.wait_log(ANNOUNCE, LONG);
        restarts += 1;
    }
    assert!(restarts >= 3, "only {restarts} restarts fitted in the penalty (a very slow machine?)");
    assert!(left() > Duration::ZERO, "the last restart came inside the penalty");

    wazuh.wait("every event", LONG, |w| w.events().len() >= 300);
    std::thread::sleep(Duration::from_millis(1500)); // a further poll must bring nothing new
    let log = stop(host, true);

    let reqs = s.okta.requests();
    eprintln!("emulator request log (clock offset {clock_offset_ms} ms, {restarts} restarts, graceful {graceful}):\n{}", request_log(&s.okta));
    let i = reqs.iter().position(|r| r.status == 429).expect("a 429 was answered");
    let reset_ms = reqs[i].window * 1000;
    assert!(reset_ms >= s.okta.penalty_until_ms(), "the 429's reset is the penalty's end");
    for r in &reqs[i + 1..] {
        assert!(r.okta_ms >= reset_ms, "a request {} ms before the rate-limit reset:\n{}", reset_ms - r.okta_ms, request_log(&s.okta));
    }
    assert_eq!(reqs.iter().filter(|r| r.status == 429).count(), 1, "one 429, then no request until the reset");
    assert!(reqs.iter().all(|r| r.uri.starts_with("/api/v1/logs")), "only the System Log was asked");
    let expected: Vec<String> = first.iter().chain(&second).map(|e| e["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(wazuh.uuids(), expected, "every event once, in order");
    let announced = log.lines().find(|l| l.contains(ANNOUNCE));
    assert!(announced.is_some(), "the last start said what it waited for:\n{log}");
    eprintln!("the last start logged: {}", announced.unwrap_or_default());
}

#[test]
fn a_429_penalty_is_kept_across_sigkill_restarts() {
    penalty_survives_restarts(false, 0);
}

#[test]
fn a_429_penalty_is_kept_across_sigterm_restarts() {
    penalty_survives_restarts(true, 0);
}

/// Okta's clock an hour behind the host's: without the `Date` correction the
/// reset would look long past and the restarted process would ask at once.
#[test]
fn a_429_penalty_is_kept_when_okta_is_an_hour_behind() {
    penalty_survives_restarts(false, -3_600_000);
}

/// Okta's clock an hour ahead: without the correction the reset would look an
/// hour away (capped at two windows: two minutes) and the test would time out.
#[test]
fn a_429_penalty_ends_on_time_when_okta_is_an_hour_ahead() {
    penalty_survives_restarts(true, 3_600_000);
}

/// A bucket of 6 per 3 s window, this client's share half of it: killed and
/// restarted every second, it still sends at most 3 requests per window
/// (a restart remembers what it used), gets no 429, and loses nothing (at
/// most the one message in flight per kill is sent twice, as the spool allows).
#[test]
fn the_share_of_a_nearly_spent_bucket_is_kept_across_restarts() {
    let s = setup("");
    let text = std::fs::read_to_string(&s.config).unwrap().replace("page_limit = 100", "page_limit = 50");
    std::fs::write(&s.config, text).unwrap();
    s.okta.set_rate_limit(6, Duration::from_secs(3));
    let events = make_events(500, now_ms() - 30 * 60 * 1000, "share-restarts");
    s.okta.push(events.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let mut host = start(&s.config);
    let started = Instant::now();
    let mut restarts = 0;
    let distinct = |w: &Wazuh| w.uuids().into_iter().collect::<std::collections::HashSet<_>>().len();
    while distinct(&wazuh) < 500 {
        assert!(started.elapsed() < LONG, "timed out; log:\n{}", host.log());
        std::thread::sleep(Duration::from_millis(1000));
        if distinct(&wazuh) < 400 {
            host.kill9();
            host = start(&s.config);
            restarts += 1;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = stop(host, true);
    eprintln!("emulator request log ({restarts} restarts):\n{}", request_log(&s.okta));
    assert!(restarts >= 3, "{restarts} restarts");
    let mut per_window: HashMap<u64, usize> = HashMap::new();
    for r in s.okta.requests() {
        *per_window.entry(r.window).or_default() += 1;
    }
    assert!(per_window.values().all(|&n| n <= 3), "more than this client's share of a window: {per_window:?}");
    assert!(s.okta.requests().iter().all(|r| r.status == 200), "no 429:\n{}", request_log(&s.okta));
    let got = wazuh.uuids();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for u in &got {
        *counts.entry(u.as_str()).or_default() += 1;
    }
    for e in &events {
        assert!(counts.contains_key(e["uuid"].as_str().unwrap()), "lost {}; log:\n{log}", e["uuid"]);
    }
    let repeated: usize = counts.values().map(|&c| c - 1).sum();
    assert!(repeated <= restarts, "at most the one message in flight per kill may repeat: {repeated} over {restarts} kills");
}
