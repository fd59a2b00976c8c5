//! The detection pack in the real sandbox, and the demo, as a user runs them.

use oktawatch_tests::*;
use std::process::Command;

#[test]
fn the_built_in_pack_passes_its_cases() {
    let out = Command::new(bin()).arg("test").output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = table.lines().last().unwrap_or("");
    assert!(last.ends_with("passed, 0 failed"), "{last}");
    let passed: usize = last.split_whitespace().next().unwrap().parse().unwrap();
    assert!(passed >= 100, "{passed} cases only");
    // Every detection has at least one firing case and one that must not fire.
    for f in oktawatch::pack::FILES {
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(&format!("{} ", f.name))).collect();
        assert!(rows.iter().any(|r| !r.ends_with("no alert")), "{}: no firing case", f.name);
        assert!(rows.iter().any(|r| r.ends_with("no alert")), "{}: no near-miss case", f.name);
    }
}

#[test]
fn oktawatch_test_runs_the_pack_folder() {
    let pack = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../detections");
    let out = Command::new(bin()).arg("test").arg(&pack).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(table.contains(" passed, 0 failed"), "{table}");
}

#[test]
fn a_failing_case_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("single.wasm");
    std::fs::copy(guest("probe-single"), &wasm).unwrap();
    std::fs::write(
        dir.path().join("single.cases.json"),
        r#"{"cases":[{"name":"wrongly expects silence","events":[{"uuid":"2a992f80-d1ad-4f62-900e-8c68bb72a21b","eventType":"test.single","published":"2026-01-01T00:00:00.000Z","actor":{"alternateId":"a@b"}}],"expect":{"fires":false}},
                     {"name":"fires","events":[{"eventType":"test.single","published":"2026-01-01T00:00:00.000Z","actor":{"alternateId":"a@b"}}],"expect":{"fires":true,"title":"single event by a@b","severity":"low"}}]}"#,
    )
    .unwrap();
    let out = Command::new(bin()).arg("test").arg(&wasm).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(table.contains("FAIL") && table.contains("expected no alert"), "{table}");
    assert!(table.trim_end().ends_with("1 passed, 1 failed"), "{table}");
}

#[test]
fn the_demo_shows_alerts_from_the_pack() {
    let out = Command::new(bin()).arg("demo").env("OKTAWATCH_LOG", "warn").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let ids: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("▲ ALERT ["))
        .filter_map(|l| l.split_once("] ").map(|(_, r)| r.split(':').next().unwrap_or("")))
        .collect();
    assert!(ids.len() >= 45, "alerts from {} detections only: {ids:?}", ids.len());
    for id in [
        "okta-brute-force-user",
        "okta-password-spray",
        "okta-mfa-push-bombing",
        "okta-session-cookie-reuse",
        "okta-api-token-created",
        // Issue 15's additions, among them the config-driven ones the demo configures.
        "okta-password-spray-many-ips",
        "okta-ioc-account",
        "okta-ip-threat-intel",
        "okta-country-list",
        "okta-user-lifecycle",
    ] {
        assert!(ids.contains(id), "{id} did not alert in the demo");
    }
    assert!(text.contains("0 duplicates skipped"), "{text}");
}

/// The demo feed (as `oktawatch demo` serves it) through the built-in pack in
/// pages of 100: every event of a detection's types is either a call or kept
/// from it by its prefilters, once (`oktawatch_detection_events_total` plus
/// `oktawatch_detection_prefiltered_total` is the number of those events), and
/// no call fails. `-- --nocapture` prints the per-detection table.
#[test]
fn each_event_of_a_detections_types_is_called_or_prefiltered_once() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    let config = oktawatch::config::Config::parse("").unwrap();
    let rt = oktawatch::app::runtime(&config, None).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let _folder = oktawatch::app::load_detections(&rt, None, scratch.path()).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let events: Vec<Arc<oktawatch::event::Event>> = oktawatch_emulator::demo_feed::demo_feed(now, 50 * 60 * 1000)
        .iter()
        .map(|v| Arc::new(oktawatch::event::Event::parse(&v.to_string()).unwrap()))
        .collect();
    for page in events.chunks(100) {
        let out = rt.process_for("demo", page);
        assert!(out.failures.is_empty(), "{:?}", out.failures.iter().map(|f| f.2.to_string()).collect::<Vec<_>>());
    }
    let set = rt.current();
    assert_eq!(set.detections.len(), oktawatch::pack::FILES.len());
    let of_types = |types: &[String]| {
        events
            .iter()
            .filter(|e| {
                types.is_empty()
                    || types.iter().any(|p| match p.strip_suffix('*') {
                        Some(prefix) => e.event_type().starts_with(prefix),
                        None => p == e.event_type(),
                    })
            })
            .count() as u64
    };
    let mut table = format!("{} events\n| detection | events of its types | calls | prefiltered |\n|---|---|---|---|\n", events.len());
    let (mut calls, mut prefiltered) = (0, 0);
    for d in &set.detections {
        let (c, p) = (d.counters.events.load(Relaxed), d.counters.prefiltered.load(Relaxed));
        // A detection off by default (`enabled = false`, issue 15) is loaded but reached by no event.
        let expected = if d.host.enabled { of_types(&d.info.event_types) } else { 0 };
        assert_eq!(c + p, expected, "{}: {c} calls + {p} prefiltered", d.info.id);
        assert!(p == 0 || !d.info.prefilters.is_empty(), "{} declares no prefilter", d.info.id);
        table.push_str(&format!("| {} | {} | {c} | {p} |\n", d.info.id, c + p));
        (calls, prefiltered) = (calls + c, prefiltered + p);
    }
    table.push_str(&format!("| total | {} | {calls} | {prefiltered} |\n", calls + prefiltered));
    println!("{table}");
    assert!(prefiltered > 0, "{table}");
}
