//! Prometheus metrics and /healthz over real HTTP, from a running service.

use oktawatch_tests::*;
use serde_json::json;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn get(addr: &str, path: &str) -> (u16, String) {
    http_get(addr, path)
}

#[test]
fn metrics_and_health_follow_the_pipeline() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let dets = dir.path().join("detections");
    std::fs::create_dir(&dets).unwrap();
    std::fs::copy(guest("probe-single"), dets.join("single.wasm")).unwrap();
    let extra = format!(
        "\n[detections]\ndir = \"{}\"\ntimeout = \"250ms\"\nsuppression = \"0s\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\nunhealthy_after = \"2s\"\n",
        dets.display()
    );
    let cfg = write_config(dir.path(), &okta.url(), &socket, &extra);
    let mut events = make_events(40, now_ms() - 20 * 60 * 1000, "metrics");
    for e in events.iter_mut().take(10) {
        e["eventType"] = json!("test.single");
    }
    // Spelled otherwise than Okta spells it: seen by no detection, counted.
    let t = events[20].as_object_mut().unwrap().remove("eventType").unwrap();
    events[20]["eventtype"] = t;
    okta.push(events);
    let wazuh = Wazuh::bind(&socket);
    let host = start(&cfg);
    host.wait_log("metrics on http://", LONG);
    let addr = metrics_addr(&host.log());
    wazuh.wait("40 events and 10 alerts", LONG, |w| w.events().len() >= 40 && w.alerts().len() >= 10);

    let (status, body) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(metric(&body, r#"oktawatch_events_fetched_total{org="test"}"#), Some(40.0), "{body}");
    assert_eq!(metric(&body, r#"oktawatch_alerts_sent_total{org="test"}"#), Some(10.0), "{body}");
    assert_eq!(metric(&body, r#"oktawatch_events_untyped_total{org="test"}"#), Some(1.0), "{body}");
    assert_eq!(metric(&body, r#"oktawatch_dead_letters_total{org="test"}"#), Some(0.0), "{body}");
    assert_eq!(metric(&body, r#"oktawatch_detection_events_total{detection="test-single"}"#), Some(10.0), "{body}");
    assert_eq!(metric(&body, r#"oktawatch_detection_alerts_total{detection="test-single"}"#), Some(10.0), "{body}");
    for quiet in ["logs_dropped", "state_quota_hits", "state_evicted"] {
        let series = format!("oktawatch_detection_{quiet}_total{{detection=\"test-single\"}}");
        assert_eq!(metric(&body, &series), Some(0.0), "{body}");
    }
    assert!(metric(&body, r#"oktawatch_okta_requests_total{org="test",status="200"}"#).unwrap_or(0.0) >= 1.0, "{body}");
    assert!(metric(&body, r#"oktawatch_cursor_lag_seconds{org="test"}"#).is_some(), "{body}");
    assert_eq!(metric(&body, "oktawatch_detections_loaded"), Some(1.0), "{body}");
    assert_eq!(get(&addr, "/healthz").0, 200);

    // Wazuh goes away while events keep coming: the spool grows, health turns bad.
    wazuh.close();
    okta.push(make_events(5, now_ms() - 10 * 60 * 1000, "while-down"));
    std::thread::sleep(Duration::from_secs(5));
    let (status, body) = get(&addr, "/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("sink failing"), "{body}");
    let (_, m) = get(&addr, "/metrics");
    assert!(metric(&m, r#"oktawatch_spool_bytes{org="test"}"#).unwrap_or(0.0) > 0.0, "{m}");
    assert!(metric(&m, r#"oktawatch_sink_errors_total{org="test"}"#).unwrap_or(0.0) > 0.0, "{m}");

    // Back: delivered, healthy again.
    let wazuh = Wazuh::bind(&socket);
    wazuh.wait("the spooled events", LONG, |w| w.events().len() >= 5);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(&addr, "/healthz").0, 200);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
}
