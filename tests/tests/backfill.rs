//! `oktawatch replay --since`: a past span of an org's System Log, over real
//! HTTP, into the socket, without touching the live cursor.

use oktawatch_tests::*;
use std::time::Duration;

#[test]
fn backfill_delivers_the_span_and_leaves_the_live_cursor_alone() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let cfg = write_config(dir.path(), &okta.url(), &socket, "");
    let day = 86_400_000;
    let start = now_ms() - 3 * day;
    let before = make_events(20, start - day, "before-span");
    let span = make_events(250, start, "in-span");
    let after = make_events(10, start + day, "after-span");
    okta.push(before);
    okta.push(span.clone());
    okta.push(after);
    let since = oktawatch::event::format_ms(start);
    let until = oktawatch::event::format_ms(start + day);
    let wazuh = Wazuh::bind(&socket);
    let host = Host::start(
        &["replay", "--since", &since, "--until", &until, "--config", cfg.to_str().unwrap(), "--no-detections"],
        &[("OKTAWATCH_TEST_TOKEN", TOKEN)],
    );
    let (status, _, log) = host.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    wazuh.wait("the span's events", Duration::from_secs(30), |w| w.events().len() >= 250);
    std::thread::sleep(Duration::from_millis(300));
    let expected: Vec<String> = span.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(wazuh.uuids(), expected, "exactly the span, once, in order");
    assert!(log.contains("backfill: 250 events"), "progress is reported:\n{log}");
    assert!(log.contains("ETA"), "{log}");
    // Bounded requests, and the live cursor was not created.
    let reqs = okta.requests();
    assert!(reqs[0].uri.contains("since=") && reqs[0].uri.contains("until="), "{}", reqs[0].uri);
    assert!(!dir.path().join("state/orgs/test/checkpoint.json").exists());
    assert!(!log.contains(TOKEN));
}
