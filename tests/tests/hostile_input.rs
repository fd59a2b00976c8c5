//! Hostile input against the real binary: events that are wide, huge, deep
//! or right at the datagram boundary; a spooled message that can never be
//! sent; a spool damaged on disk, at rest and while it is being read. Each
//! scenario asserts exact counts: every raw event delivered once (or, for
//! damaged bytes, every intact one), datagram sizes, exit and health codes.

use oktawatch::pipeline::spool::Spool;
use oktawatch_tests::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const DATAGRAM: usize = 65535;

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap()
}

fn replay_into(wazuh: &Wazuh, file: &Path) -> (std::process::ExitStatus, String) {
    let host = Host::start(
        &["replay", file.to_str().unwrap(), "--socket", wazuh.path.to_str().unwrap(), "--no-detections"],
        &[],
    );
    let (status, _, log) = host.wait_exit(LONG);
    (status, log)
}

fn event(i: usize, tag: &str) -> Value {
    make_events(i + 1, now_ms() - 3_600_000, tag).pop().unwrap()
}

/// Every datagram fits Wazuh's limit with its header, and is `1:oktawatch:<valid JSON>`.
fn assert_all_fit(wazuh: &Wazuh) {
    for m in wazuh.messages() {
        assert!(m.len() <= DATAGRAM, "a datagram of {} bytes", m.len());
        let body = split_header(&m).1;
        serde_json::from_str::<Value>(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", &m[..200.min(m.len())]));
    }
}

#[test]
fn wide_huge_and_boundary_events_each_fit_one_datagram() {
    let dir = tmp();
    let mut lines = Vec::new();
    // 10,000 debugData keys (shrinking used to be quadratic).
    let mut wide = event(0, "wide");
    wide["debugContext"]["debugData"] =
        Value::Object((0..10_000).map(|i| (format!("key{i:05}"), json!(format!("value-{i}-{}", "v".repeat(i % 40))))).collect());
    lines.push(wide);
    // 1 MiB strings inside the fields kept whole (actor, client).
    let mut huge = event(1, "huge");
    huge["actor"]["displayName"] = json!("\u{7}".repeat(1 << 20));
    huge["client"]["userAgent"]["rawUserAgent"] = json!("é".repeat(1 << 19));
    lines.push(huge);
    // 10,000 targets (a kept field), each small.
    let mut targets = event(2, "targets");
    targets["target"] = Value::Array((0..10_000).map(|i| json!({"id": format!("t{i}"), "type": "User"})).collect());
    lines.push(targets);
    // Right at the boundary: the body a few bytes under, at and over the limit.
    let header = "1:oktawatch:".len();
    let envelope = r#"{"integration":"okta","org":"replay","okta":}"#.len();
    for (n, delta) in (-3i64..=3).enumerate() {
        let mut e = event(3 + n, "edge");
        e["pad"] = json!("");
        let room = (DATAGRAM - header - envelope) as i64 - e.to_string().len() as i64;
        e["pad"] = json!("p".repeat((room + delta) as usize));
        lines.push(e);
    }
    let file = dir.path().join("in.ndjson");
    std::fs::write(&file, lines.iter().map(|l| l.to_string() + "\n").collect::<String>()).unwrap();

    let wazuh = Wazuh::bind(&dir.path().join("q.sock"));
    let (status, log) = replay_into(&wazuh, &file);
    assert!(status.success(), "{log}");
    wazuh.wait("every event", LONG, |w| w.messages().len() >= lines.len());
    assert_all_fit(&wazuh);
    let got = wazuh.bodies();
    assert_eq!(got.len(), lines.len());
    for (sent, b) in lines.iter().zip(&got) {
        assert_eq!(b["okta"]["uuid"], sent["uuid"], "the identity is kept");
        assert_eq!(b["okta"]["eventType"], sent["eventType"]);
    }
    // The boundary: up to the limit whole (exactly 65535 bytes for delta 0), over it shrunk.
    let edge = &wazuh.messages()[3..];
    for (m, delta) in edge.iter().zip(-3i64..=3) {
        let b: Value = serde_json::from_str(split_header(m).1).unwrap();
        if delta <= 0 {
            assert_eq!(m.len() as i64, DATAGRAM as i64 + delta, "sent whole");
            assert!(b.get("truncated").is_none());
        } else {
            assert_eq!(b["truncated"], true, "delta {delta}: shrunk");
            assert!(b["okta"].get("pad").is_none(), "the padding field went first");
        }
    }
    for b in &got[..3] {
        assert_eq!(b["truncated"], true);
        let dropped = b["okta"]["oktawatch_dropped"].as_array().unwrap();
        assert!(dropped.len() <= 17, "a bounded list: {}", dropped.len());
    }
    assert!(log.contains(", 6 truncated,"), "three wide or huge events and three over the boundary: {log}");
}

#[test]
fn json_nested_too_deep_is_refused_by_replay_and_by_the_poller() {
    let dir = tmp();
    let deep = |n: usize| format!(r#"{{"uuid":"00000000-0000-4000-8000-00000000dddd","eventType":"x","a":{}1{}}}"#, "[".repeat(n), "]".repeat(n));
    let good: Vec<Value> = make_events(2, now_ms() - 600_000, "deep");
    // Replay: a 50,000-deep line between two good ones.
    let file = dir.path().join("deep.ndjson");
    std::fs::write(&file, format!("{}\n{}\n{}\n", good[0], deep(50_000), good[1])).unwrap();
    let wazuh = Wazuh::bind(&dir.path().join("q.sock"));
    let (status, log) = replay_into(&wazuh, &file);
    assert!(status.success(), "replay goes on past a deep line: {log}");
    assert!(log.contains("line 2: not an event (JSON nested deeper than 64 levels)"), "{log}");
    wazuh.wait("the two good events", LONG, |w| w.events().len() >= 2);
    assert_eq!(wazuh.uuids(), [good[0]["uuid"].as_str().unwrap(), good[1]["uuid"].as_str().unwrap()]);
    wazuh.close();

    // The poller: a page with a 15,000-deep event between good ones. The service lives on,
    // the good events arrive, the deep one is counted and kept in the dead-letter file.
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    okta.push([good[0].clone()]);
    okta.push_raw([deep(15_000)]);
    okta.push([good[1].clone()]);
    let socket = dir.path().join("p.sock");
    let wazuh = Wazuh::bind(&socket);
    let config = write_config(dir.path(), &okta.url(), &socket, "\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let host = start(&config);
    wazuh.wait("the two good events", LONG, |w| w.events().len() >= 2);
    host.wait_log("is not an event (JSON nested deeper than 64 levels)", LONG);
    std::thread::sleep(Duration::from_millis(1500)); // one more poll: nothing else
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_eq!(wazuh.events().len(), 2, "{log}");
    let dead = std::fs::read_to_string(dir.path().join("state/orgs/test/dead-letter.ndjson")).unwrap();
    let entries: Vec<Value> = dead.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 1, "{dead}");
    assert!(entries[0]["reason"].as_str().unwrap().contains("nested deeper than 64"), "{dead}");
    assert_eq!(entries[0]["bytes"], deep(15_000).len());
}

/// An org state dir with a spool holding `messages` and a commit, as an older version left it.
fn spool_with(state: &Path, messages: &[Vec<u8>]) {
    let dir = state.join("orgs/test/spool");
    let (mut j, _) = Spool::open(&dir, u64::MAX, true, 0).unwrap();
    j.append(messages.iter().map(|m| m.as_slice()), b"").unwrap();
}

#[test]
fn a_spooled_message_that_can_never_be_sent_is_dead_lettered_and_delivery_goes_on() {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let config = write_config(dir.path(), &okta.url(), &socket, "\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let ok = |i: usize| format!(r#"{{"integration":"okta","org":"test","okta":{}}}"#, event(i, "old")).into_bytes();
    // 100 KB and 300 KB: over Wazuh's limit (the kernel takes the first, refuses the second).
    let big = |n: usize| format!(r#"{{"integration":"okta","org":"test","okta":{{"pad":"{}"}}}}"#, "x".repeat(n)).into_bytes();
    spool_with(&dir.path().join("state"), &[ok(0), big(100_000), ok(1), big(300_000), ok(2)]);
    let wazuh = Wazuh::bind(&socket);
    let host = start(&config);
    wazuh.wait("the three good messages", LONG, |w| w.messages().len() >= 3);
    std::thread::sleep(Duration::from_millis(500));
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_all_fit(&wazuh);
    assert_eq!(wazuh.messages().len(), 3, "only what fits is sent: {log}");
    let dead = std::fs::read_to_string(dir.path().join("state/orgs/test/dead-letter.ndjson")).unwrap();
    let entries: Vec<Value> = dead.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 2, "{dead}");
    assert_eq!(entries[0]["bytes"], big(100_000).len());
    assert_eq!(entries[1]["bytes"], big(300_000).len());
    assert!(entries[0]["reason"].as_str().unwrap().contains("over Wazuh's 65535-byte datagram limit"), "{dead}");
    assert!(log.contains("2 dead letters"), "{log}");
    // A restart does not send them again.
    let wazuh = wazuh.rebind();
    let host = start(&config);
    std::thread::sleep(Duration::from_millis(1500));
    let _ = host.terminate(LONG);
    assert_eq!(wazuh.messages().len(), 3);
}

fn segment(state: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = files_under(&state.join("orgs/test/spool"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    segs.remove(0)
}

/// Flips the bytes of `needle` (a uuid) where it first occurs in `file`, in place (the
/// service may hold the file open): exactly one record is damaged.
fn damage(file: &Path, needle: &str) {
    use std::os::unix::fs::FileExt;
    let bytes = std::fs::read(file).unwrap();
    let at = bytes.windows(needle.len()).position(|w| w == needle.as_bytes()).expect("the record is in the segment");
    let flipped: Vec<u8> = needle.bytes().map(|b| b ^ 0x5a).collect();
    let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
    f.write_all_at(&flipped, at as u64).unwrap();
}

fn health(log: &str) -> (u16, String) {
    http_get(&metrics_addr(log), "/healthz")
}

#[test]
fn a_damaged_spool_is_repaired_and_every_intact_event_arrives_once() {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let events = make_events(300, now_ms() - 3_000_000, "damage");
    okta.push(events.clone());
    let socket = dir.path().join("q.sock");
    let config = write_config(dir.path(), &okta.url(), &socket, "\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let run = || start(&config);
    // Wazuh is down: everything stays in the spool, checkpointed.
    let host = run();
    let state = dir.path().join("state");
    let deadline = std::time::Instant::now() + LONG;
    while !std::fs::read_to_string(state.join("orgs/test/checkpoint.json")).is_ok_and(|c| c.contains("after=")) || okta.requests().len() < 4 {
        assert!(std::time::Instant::now() < deadline, "{}", host.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    // Damage one record in the middle of the segment, at rest.
    let victim = events[150]["uuid"].as_str().unwrap();
    damage(&segment(&state), victim);

    let wazuh = Wazuh::bind(&socket);
    let host = run();
    wazuh.wait("the 299 intact events", LONG, |w| w.events().len() >= 299);
    std::thread::sleep(Duration::from_millis(1500));
    let log = host.log();
    assert!(log.contains("unreadable bytes in") && log.contains(".seg.damaged-"), "{log}");
    let expected: Vec<String> = events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).filter(|u| u != victim).collect();
    assert_eq!(wazuh.uuids(), expected, "every intact event once, in order; only the damaged one is missing");
    // Loud until someone has looked: health 503 naming the kept file; 200 once it is removed.
    let (code, body) = health(&log);
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("damaged spool segment kept as"), "{body}");
    let kept: Vec<PathBuf> = files_under(&state).into_iter().filter(|p| p.to_string_lossy().contains(".seg.damaged-")).collect();
    assert_eq!(kept.len(), 1);
    std::fs::remove_file(&kept[0]).unwrap();
    assert_eq!(health(&log).0, 200);
    let _ = host.terminate(LONG);
}

#[test]
fn a_spool_that_turns_unreadable_while_sending_stops_the_service_non_zero_and_the_restart_delivers_the_rest() {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let events = make_events(600, now_ms() - 3_000_000, "live");
    okta.push(events.clone());
    let socket = dir.path().join("q.sock");
    let config = write_config(dir.path(), &okta.url(), &socket, "");
    let run = || start(&config);
    // Wazuh down: the sender holds the first message and retries; the rest waits on disk.
    let host = run();
    let state = dir.path().join("state");
    let deadline = std::time::Instant::now() + LONG;
    while okta.requests().len() < 7 {
        assert!(std::time::Instant::now() < deadline, "{}", host.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Far past what the sender has buffered: damage one record, then let Wazuh come up.
    let victim = events[500]["uuid"].as_str().unwrap();
    damage(&segment(&state), victim);
    let wazuh = Wazuh::bind(&socket);
    let (status, _, log) = host.wait_exit(LONG);
    assert!(!status.success(), "a spool read error must end the service non-zero; log:\n{log}");
    assert!(log.contains("reading the spool failed") && log.contains(".seg"), "{log}");
    wazuh.wait("the 500 events before the damage", LONG, |w| w.events().len() >= 500);
    // The restart repairs the segment and delivers every intact event after it, none twice.
    let host = run();
    wazuh.wait("the rest", LONG, |w| w.events().len() >= 599);
    std::thread::sleep(Duration::from_millis(1500));
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let expected: Vec<String> = events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).filter(|u| u != victim).collect();
    assert_eq!(wazuh.uuids(), expected, "{log}");
}

#[test]
fn the_stdout_sink_delivers_each_page_without_waiting_for_more() {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let events = make_events(5, now_ms() - 600_000, "stdout");
    okta.push(events.clone());
    let config = write_config(dir.path(), &okta.url(), &dir.path().join("unused.sock"), "\n[sink]\nkind = \"stdout\"\n");
    let host = start(&config);
    let deadline = std::time::Instant::now() + LONG;
    while host.stdout().lines().count() < 5 {
        assert!(std::time::Instant::now() < deadline, "the page stayed in the sink's buffer; log:\n{}", host.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = host.stdout();
    let got: Vec<Value> = out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["okta"].clone()).collect();
    assert_eq!(got, events, "while the service is still running");
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}

#[test]
fn health_turns_503_when_the_spool_stays_full_and_the_poller_falls_behind() {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    // ~3.5 MiB waiting at Okta, 1 MiB of spool, Wazuh down.
    let mut events = make_events(1000, now_ms() - 3_000_000, "full");
    for e in &mut events {
        e["debugContext"]["debugData"]["padding"] = json!("p".repeat(2500));
    }
    okta.push(events.clone());
    let socket = dir.path().join("q.sock");
    let extra = "spool_max_mb = 1\n\n[metrics]\nlisten = \"127.0.0.1:0\"\nunhealthy_after = \"1s\"\nunhealthy_lag = \"2s\"\n";
    let config = write_config(dir.path(), &okta.url(), &socket, extra);
    let host = start(&config);
    host.wait_log("spool is full", LONG);
    std::thread::sleep(Duration::from_secs(3));
    let (code, body) = health(&host.log());
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("org test: spool full for"), "{body}");
    assert!(body.contains("org test: the poller has not caught up for"), "{body}");
    // Wazuh back: everything drains, the poller reaches the present, healthy again.
    let wazuh = Wazuh::bind(&socket);
    wazuh.wait("every event", LONG, |w| w.events().len() >= 1000);
    let deadline = std::time::Instant::now() + LONG;
    while health(&host.log()).0 != 200 {
        assert!(std::time::Instant::now() < deadline, "still unhealthy: {}", health(&host.log()).1);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let want: Vec<String> = events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(wazuh.uuids(), want);
}

#[test]
fn the_spool_is_delivered_while_the_detections_still_compile() {
    let dir = tmp();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let events = make_events(100, now_ms() - 3_000_000, "early");
    okta.push(events.clone());
    let socket = dir.path().join("q.sock");
    let dets = dir.path().join("detections");
    let out = std::process::Command::new(bin()).args(["detections", "export", dets.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Run 1, no detections, Wazuh down: the events wait in the spool.
    let plain = write_config(dir.path(), &okta.url(), &socket, "");
    let host = start(&plain);
    let deadline = std::time::Instant::now() + LONG;
    while okta.requests().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", host.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    // Run 2, the whole pack with a cold compile cache, Wazuh up: the spooled events go
    // out while the pack still compiles (start-up does not wait for every compile).
    let with_pack = write_config(dir.path(), &okta.url(), &socket, &format!("\n[detections]\ndir = \"{}\"\n", dets.display()));
    let _ = std::fs::remove_dir_all(dir.path().join("state/cache"));
    let wazuh = Wazuh::bind(&socket);
    let host = start(&with_pack);
    let loaded = "detections loaded from";
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let log = host.log();
        if wazuh.events().len() >= 100 {
            assert!(!log.contains(loaded), "the spool waited for the compiles:\n{log}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(5));
    }
    host.wait_log(loaded, LONG);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    eprintln!("all 100 spooled events delivered before: {}", log.lines().find(|l| l.contains(loaded)).unwrap_or_default());
    let want: Vec<String> = events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(wazuh.uuids(), want);
}
