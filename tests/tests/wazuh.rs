//! The rules and messages against Wazuh's own analysisd 4.12 (built from source by
//! `tests/wazuh/build-analysisd.sh`, run by `oktawatch_tests::wazuh`):
//!
//! - `wazuh-analysisd -t` loads the rules without a WARNING or ERROR (and does name a broken one);
//! - the real `oktawatch replay` sends the demo feed (with an oversized event) and the public
//!   samples to analysisd's real queue socket: every message arrives whole and decodes as JSON,
//!   lands on the rule the rules file gives it (each named raw event type on its rule, each pack
//!   alert on its detection's rule at the level of its severity), and every alert's description
//!   has its `$(field)`s filled in;
//! - a `detection_disabled` notice lands on its rule;
//! - every event type and every detection the rules name, through the logtest socket;
//! - the `wazuh-logtest` examples in `rules/README.md` print what the README shows, with Wazuh's
//!   own `wazuh-logtest` program, and its recipe for raw events as alerts works.
//!
//! Without a Wazuh source each test prints one `skipped: …` line and passes, unless
//! `OKTAWATCH_REQUIRE_WAZUH` is set (`.ci/run` sets it). The counts for the demo feed:
//! `cargo test -p oktawatch-tests --test wazuh demo -- --nocapture`.

use oktawatch_tests::wazuh::{
    Analysisd, Expected, Home, RULES_README, Rule, SEVERITIES, empty_fields, expect, level_of, literals, load_rules, tally,
};
use oktawatch_tests::{Host, guest, make_events, now_ms, samples_path, uuid_for};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

#[test]
fn rules_load_without_warnings() {
    let Some(home) = Home::new() else { return };
    let out = home.check();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "wazuh-analysisd -t failed ({}):\n{text}", out.status);
    for word in ["WARNING", "ERROR", "CRITICAL"] {
        assert!(!text.contains(word), "wazuh-analysisd -t with rules/oktawatch_rules.xml:\n{text}");
    }
    // The same check does see a broken rule: a bad if_sid is only a WARNING (exit 0).
    home.add_rules(
        "zz_broken.xml",
        r#"<group name="test,"><rule id="100999" level="3"><if_sid>100998</if_sid><description>x</description></rule></group>"#,
    );
    let out = home.check();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("WARNING") && text.contains("'100998'"), "no warning for a bad if_sid:\n{text}");
}

/// `oktawatch replay FILE` to stdout: the exact message bodies oktawatch sends for these events.
fn bodies_for(file: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["replay", file.to_str().unwrap()];
    args.extend(extra);
    let (status, stdout, log) = Host::start(&args, &[]).wait_exit(LONG);
    assert!(status.success(), "oktawatch replay to stdout failed:\n{log}");
    stdout.lines().map(str::to_string).collect()
}

/// `oktawatch replay FILE --socket <analysisd's queue>`; returns how many messages it delivered.
fn replay_into(wazuh: &Analysisd, file: &Path, extra: &[&str]) -> usize {
    let socket = wazuh.queue_socket();
    let mut args = vec!["replay", file.to_str().unwrap(), "--socket", socket.to_str().unwrap()];
    args.extend(extra);
    let (status, _, log) = Host::start(&args, &[]).wait_exit(LONG);
    assert!(status.success(), "oktawatch replay into analysisd failed:\n{log}");
    let before = log.split(" messages delivered").next().unwrap_or("");
    before.rsplit([' ', ',']).next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no delivered count in:\n{log}"))
}

/// What analysisd did with a feed, for the report.
struct Delivery {
    sent: usize,
    raw: usize,
    alerts: usize,
    notices: usize,
    truncated: usize,
    /// Alerts written to alerts.json, by (rule, level).
    written: BTreeMap<(u32, u32), usize>,
    /// Rules that some message of the feed landed on (any level).
    rules_hit: BTreeSet<u32>,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} messages sent ({} raw events, {} truncated; {} detection alerts; {} notices)",
            self.sent, self.raw, self.truncated, self.alerts, self.notices
        )?;
        let total: usize = self.written.values().sum();
        writeln!(f, "{total} alerts written by analysisd to alerts.json, by rule and level:")?;
        for ((rule, level), n) in &self.written {
            writeln!(f, "  {n:>5} × rule {rule} level {level}")?;
        }
        Ok(())
    }
}

/// Checks every message analysisd took in against what was sent and what the rules file says.
fn check_delivery(wazuh: &Analysisd, sent: &[String]) -> Delivery {
    let rules = load_rules();
    let by_id: HashMap<u32, &Rule> = rules.iter().map(|r| (r.id, r)).collect();
    let (archives, alerts) = wazuh.wait_for(sent.len(), LONG);
    assert_eq!(archives.len(), sent.len(), "analysisd archived {} messages, {} were sent", archives.len(), sent.len());

    // Every message arrived whole (analysisd's own copy is byte for byte what was sent).
    let mut got: Vec<&str> = archives.iter().map(|a| a["full_log"].as_str().unwrap_or("")).collect();
    let mut want: Vec<&str> = sent.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    if got != want {
        let missing: Vec<&&str> = want.iter().filter(|w| !got.contains(w)).take(3).collect();
        panic!("analysisd's copies differ from the messages sent; first sent ones not received whole: {missing:?}");
    }

    let mut problems = Vec::new();
    let mut expected_alerts = Vec::new();
    let mut d = Delivery {
        sent: sent.len(),
        raw: 0,
        alerts: 0,
        notices: 0,
        truncated: 0,
        written: BTreeMap::new(),
        rules_hit: BTreeSet::new(),
    };
    for a in &archives {
        let body = a["full_log"].as_str().unwrap();
        let short: String = body.chars().take(200).collect();
        let message: Value = serde_json::from_str(body).unwrap();
        // Decoded as JSON: by the json decoder, its fields in `data`.
        if a["decoder"]["name"] != "json" || a["data"]["integration"] != message["integration"] {
            problems.push(format!("not decoded as JSON (decoder {}): {short}", a["decoder"]));
            continue;
        }
        match message["integration"].as_str() {
            Some("okta") => d.raw += 1,
            _ if message["oktawatch"]["kind"] == "alert" => d.alerts += 1,
            _ => d.notices += 1,
        }
        if message["truncated"] == true {
            d.truncated += 1;
        }
        let Some(exp) = expect(&rules, &message) else {
            problems.push(format!("no rule of the file for: {short}"));
            continue;
        };
        let empty = empty_fields(by_id[&exp.rule], &message);
        if exp.level >= 3 && !empty.is_empty() {
            problems.push(format!("rule {}: the alert's description leaves {empty:?} empty for: {short}", exp.rule));
        }
        d.rules_hit.insert(exp.rule);
        // analysisd records the rule for anything above level 0.
        let got = a["rule"]["id"].as_str().map(|id| (id.parse::<u32>().unwrap(), a["rule"]["level"].as_u64().unwrap() as u32));
        let want = (exp.level > 0).then_some((exp.rule, exp.level));
        if got != want {
            problems.push(format!("analysisd gave {got:?}, the rules {want:?} for: {short}"));
        }
        // A pack alert: on its detection's rule (not the one for unlisted detections), at its severity's level.
        if message["oktawatch"]["kind"] == "alert" {
            let id = message["oktawatch"]["detection"]["id"].as_str().unwrap_or("");
            let severity = message["oktawatch"]["alert"]["severity"].as_str().unwrap_or("");
            let names = |r: Option<&&Rule>| {
                r.and_then(|r| r.field("oktawatch.detection.id")).is_some_and(|f| !f.negate && f.pattern == format!("^{id}$"))
            };
            let rule = by_id.get(&exp.rule);
            if !names(rule) && !rule.is_some_and(|r| r.parents.iter().any(|p| names(by_id.get(p)))) {
                problems.push(format!("alert of {id} on rule {}, not on its detection's", exp.rule));
            }
            if exp.level != level_of(severity) {
                problems.push(format!("alert of {id} ({severity}) at level {}, not {}", exp.level, level_of(severity)));
            }
        }
        if exp.level >= 3 {
            expected_alerts.push(exp);
        }
    }
    assert!(problems.is_empty(), "{} of {} messages:\n  {}", problems.len(), sent.len(), problems.join("\n  "));

    // alerts.json holds exactly those, with their descriptions filled in.
    let mut written: Vec<Expected> = alerts
        .iter()
        .map(|a| Expected {
            rule: a["rule"]["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0),
            level: a["rule"]["level"].as_u64().unwrap_or(0) as u32,
            description: a["rule"]["description"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    for w in &written {
        assert!(!w.description.contains("$("), "rule {}: description not filled in: {}", w.rule, w.description);
    }
    written.sort();
    expected_alerts.sort();
    let extra: Vec<&Expected> = written.iter().filter(|w| !expected_alerts.contains(w)).take(5).collect();
    let missing: Vec<&Expected> = expected_alerts.iter().filter(|e| !written.contains(e)).take(5).collect();
    assert!(
        written == expected_alerts,
        "alerts.json ({}) differs from what the rules give ({}):\n  unexpected: {extra:#?}\n  missing: {missing:#?}",
        written.len(),
        expected_alerts.len()
    );
    d.written = tally(written.iter().map(|w| (w.rule, w.level)));
    let problems = wazuh.problems();
    assert!(problems.is_empty(), "analysisd logged:\n{}", problems.join("\n"));
    d
}

/// The demo feed as Okta events, plus one oversized failed sign-in that oktawatch must shrink.
fn demo_events() -> Vec<Value> {
    let mut events = oktawatch_emulator::demo_feed::demo_feed(now_ms(), 50 * 60_000);
    let mut big = events
        .iter()
        .find(|e| e["eventType"] == "user.session.start" && e["outcome"]["result"] == "FAILURE")
        .expect("a failed sign-in in the demo feed")
        .clone();
    big["uuid"] = json!(uuid_for("oversized", 0));
    big["published"] = events.last().unwrap()["published"].clone();
    big["debugContext"]["debugData"]["huge"] = json!("x".repeat(100_000));
    events.push(big);
    events
}

fn write_ndjson(dir: &Path, events: &[Value]) -> std::path::PathBuf {
    let file = dir.join("events.ndjson");
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn demo_feed_lands_on_its_rules_in_analysisd() {
    let Some(wazuh) = Analysisd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let events = demo_events();
    let file = write_ndjson(dir.path(), &events);
    let sent = bodies_for(&file, &[]);
    let delivered = replay_into(&wazuh, &file, &[]);
    assert_eq!(delivered, sent.len(), "the socket replay delivered another number of messages than the stdout one");
    let d = check_delivery(&wazuh, &sent);
    println!("demo feed through wazuh-analysisd 4.12:\n{d}");

    assert_eq!(d.raw, events.len(), "one raw event message per event");
    assert_eq!(d.truncated, 1, "the oversized event, shrunk");
    assert_eq!(d.notices, 0);
    // The feed's attacks raise alerts from many detections, all above level 3.
    let detections: BTreeSet<&str> =
        sent.iter().filter_map(|b| b.split("\"detection\":{\"id\":\"").nth(1)).filter_map(|r| r.split('"').next()).collect();
    assert!(detections.len() >= 20, "only {} detections alerted on the demo feed: {detections:?}", detections.len());
    assert!(d.alerts >= detections.len());
    // Raw events: the named types of the feed on their rules, the rest (SSO, policy evaluation,
    // sign-outs) on the catch-all at level 0, which writes no alert.
    let raw_alerts: usize = d.written.iter().filter(|((r, _), _)| (100_100..100_200).contains(r)).map(|(_, n)| n).sum();
    assert!(raw_alerts < d.raw / 2, "{raw_alerts} of {} raw events became alerts", d.raw);
    assert!(!d.written.keys().any(|(r, _)| *r == 100_100), "the catch-all wrote alerts");
    for rule in [100_110, 100_112, 100_113, 100_114, 100_115, 100_116, 100_118, 100_120, 100_122, 100_123, 100_124, 100_125,
        100_129, 100_133, 100_135, 100_137, 100_138] {
        assert!(d.rules_hit.contains(&rule), "no demo event on rule {rule}; hit: {:?}", d.rules_hit);
    }
}

#[test]
fn public_samples_land_on_their_rules_in_analysisd() {
    let Some(wazuh) = Analysisd::start() else { return };
    let file = samples_path();
    let sent = bodies_for(&file, &[]);
    let delivered = replay_into(&wazuh, &file, &[]);
    assert_eq!(delivered, sent.len());
    let d = check_delivery(&wazuh, &sent);
    println!("public samples through wazuh-analysisd 4.12:\n{d}");
    assert_eq!(d.raw, 50);
    assert!(d.alerts > 0, "the pack raised no alert on the samples");
}

#[test]
fn detection_disabled_notice_lands_on_its_rule() {
    let Some(wazuh) = Analysisd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let detections = dir.path().join("detections");
    std::fs::create_dir(&detections).unwrap();
    std::fs::copy(guest("hostile-trap"), detections.join("hostile-trap.wasm")).unwrap();
    let mut events = make_events(6, now_ms() - 60_000, "disabled");
    for e in &mut events {
        e["eventType"] = json!("test.hostile");
    }
    let file = write_ndjson(dir.path(), &events);
    let args = ["--detections", detections.to_str().unwrap()];
    let sent = bodies_for(&file, &args);
    assert_eq!(replay_into(&wazuh, &file, &args), sent.len());
    let d = check_delivery(&wazuh, &sent);
    assert_eq!((d.raw, d.alerts, d.notices), (6, 0, 1), "{d}");
    // The notice is the one alert: the trapping detection's raw events stay at level 0.
    assert_eq!(d.written, BTreeMap::from([((100_202, 10), 1)]), "{d}");
    let alert = &wazuh.alerts()[0];
    let description = alert["rule"]["description"].as_str().unwrap();
    assert!(description.starts_with("oktawatch: detection hostile-trap disabled: Detection hostile-trap disabled for 30s"), "{description}");
    assert_eq!(alert["data"]["oktawatch"]["kind"], "detection_disabled");
}

/// A minimal raw event message of this type (and outcome).
fn raw_message(event_type: &str, outcome: &str) -> String {
    json!({"integration": "okta", "org": "example", "okta": {
        "uuid": uuid_for(event_type, 0), "published": "2026-03-02T09:00:00.000Z", "eventType": event_type,
        "displayMessage": "test", "actor": {"id": "00u1", "type": "User", "alternateId": "alice@example.com"},
        "client": {"ipAddress": "192.0.2.1"}, "outcome": {"result": outcome, "reason": "test"},
        "debugContext": {"debugData": {"requestUri": "/api/v1/test", "privilegeGranted": "Super administrator", "risk": "{level=HIGH}"}}}})
    .to_string()
}

/// An alert message of a detection at a severity.
fn alert_message(id: &str, default: &str, severity: &str) -> String {
    json!({"integration": "oktawatch", "oktawatch": {"kind": "alert", "org": "example",
        "detection": {"id": id, "title": "Test detection", "version": "1.0.0", "severity": default, "mitre": []},
        "alert": {"title": format!("{id} fired"), "severity": severity, "mitre": [], "dedup_key": "k", "count": 1,
                  "suppressed_before": 0, "context": {}},
        "event": {"uuid": uuid_for(id, 0), "published": "2026-03-02T10:00:00.000Z", "eventType": "user.session.start"}}})
    .to_string()
}

#[test]
fn every_named_event_type_and_detection_lands_on_its_rule() {
    let Some(wazuh) = Analysisd::start() else { return };
    let rules = load_rules();
    let mut cases: Vec<(String, u32, u32)> = Vec::new();
    // Each event type (and outcome) a raw-event rule names.
    for r in rules.iter().filter(|r| r.parents == [100_100]) {
        let types = literals(&r.field("okta.eventType").expect("a raw rule names its types").pattern);
        let outcomes = match r.field("okta.outcome.result") {
            Some(f) => literals(&f.pattern),
            None => vec!["SUCCESS".to_string()],
        };
        for t in &types {
            for o in &outcomes {
                cases.push((raw_message(t, o), r.id, r.level));
            }
        }
    }
    // Anything else: the catch-all, at level 0.
    cases.push((raw_message("user.authentication.sso", "SUCCESS"), 100_100, 0));
    cases.push((raw_message("policy.evaluate_sign_on", "ALLOW"), 100_100, 0));
    // Each detection block at each severity (the rule the file gives it), and an unlisted detection.
    let mut detections = 0;
    for r in rules.iter().filter(|r| r.parents == [100_201]) {
        let Some(f) = r.field("oktawatch.detection.id").filter(|f| !f.negate) else { continue };
        let id = f.pattern.trim_start_matches('^').trim_end_matches('$');
        let default = SEVERITIES.into_iter().find(|s| level_of(s) == r.level).unwrap();
        detections += 1;
        for sev in SEVERITIES {
            let m = alert_message(id, default, sev);
            let e = expect(&rules, &serde_json::from_str(&m).unwrap()).unwrap();
            assert_eq!(e.level, level_of(sev), "{id} at {sev}: rule {}", e.rule);
            cases.push((m, e.rule, e.level));
        }
    }
    assert_eq!(detections, oktawatch::pack::FILES.len(), "a rule block per pack detection");
    for sev in SEVERITIES {
        let e = expect(&rules, &serde_json::from_str(&alert_message("someone-elses", "low", sev)).unwrap()).unwrap();
        cases.push((alert_message("someone-elses", "low", sev), e.rule, level_of(sev)));
    }

    let mut session = wazuh.logtest_session();
    let mut problems = Vec::new();
    for (event, rule, level) in &cases {
        let out = session.process(event);
        let got = &out["output"];
        let got_rule = got["rule"]["id"].as_str().and_then(|s| s.parse::<u32>().ok());
        let got_level = got["rule"]["level"].as_u64().map(|l| l as u32);
        if got["decoder"]["name"] != "json" || got_rule != Some(*rule) || got_level != Some(*level) {
            problems.push(format!("rule {got_rule:?} level {got_level:?} (want {rule} level {level}) for {event}"));
        }
        if out["alert"] != (*level >= 3) {
            problems.push(format!("alert {} for level {level}: {event}", out["alert"]));
        }
    }
    assert!(problems.is_empty(), "{} of {} cases:\n  {}", problems.len(), cases.len(), problems.join("\n  "));
}

/// The README's examples: each ```json block (one line) followed by the ```text block of what
/// wazuh-logtest prints for it (its lines in order; no `**Alert to be generated.` line where
/// the README shows none).
fn readme_examples(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(&str, String)> = Vec::new();
    let mut lines = readme.lines();
    while let Some(l) = lines.next() {
        if let Some(kind) = l.strip_prefix("```").filter(|k| !k.is_empty()) {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            blocks.push((kind, body.join("\n")));
        }
    }
    let mut out = Vec::new();
    for pair in blocks.windows(2) {
        if let [("json", event), ("text", shown)] = pair {
            out.push((event.trim().to_string(), shown.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()));
        }
    }
    out
}

/// `output` holds `lines` in order.
fn shows_in_order(output: &[&str], lines: &[String]) -> bool {
    let mut it = output.iter();
    lines.iter().all(|want| it.any(|got| got.trim() == want))
}

#[test]
fn readme_logtest_examples_print_what_the_readme_shows() {
    let readme = std::fs::read_to_string(RULES_README).unwrap();
    let examples = readme_examples(&readme);
    assert!(examples.len() >= 4, "only {} wazuh-logtest examples found in rules/README.md", examples.len());
    // The recipe for every raw event as an alert: an XML block holding an overwrite of 100100.
    let recipe = readme
        .split("```xml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("overwrite=\"yes\""))
        .expect("rules/README.md shows how to overwrite rule 100100");
    let file = readme
        .split('`')
        .find(|w| w.starts_with("/var/ossec/etc/rules/") && w.ends_with("_local.xml"))
        .and_then(|p| p.rsplit('/').next())
        .expect("rules/README.md names the file for the overwrite");
    let Some(wazuh) = Analysisd::start() else { return };

    // One wazuh-logtest run, one event per line, as a user pastes them.
    let input: String = examples.iter().map(|(e, _)| format!("{e}\n")).collect();
    let output = wazuh.wazuh_logtest(&input);
    let per_event: Vec<&str> = output.split("**Phase 1: Completed pre-decoding.").skip(1).collect();
    assert_eq!(per_event.len(), examples.len(), "wazuh-logtest output:\n{output}");
    for ((event, shown), got) in examples.iter().zip(&per_event) {
        let got_lines: Vec<&str> = got.lines().collect();
        assert!(shows_in_order(&got_lines, shown), "for {event}\nthe README shows:\n{}\nwazuh-logtest printed:\n{got}", shown.join("\n"));
        let alert = "**Alert to be generated.".to_string();
        assert_eq!(got.contains(&alert), shown.contains(&alert), "alert line for {event}:\n{got}");
    }
    let levels: BTreeSet<&str> = per_event.iter().filter_map(|g| g.split("level: '").nth(1)).filter_map(|l| l.split('\'').next()).collect();
    assert!(levels.contains("0"), "no README example shows an ordinary event at level 0: {levels:?}");

    // The recipe: loads cleanly, and an ordinary event then alerts at level 3 on 100100.
    drop(wazuh);
    let home = Home::new().unwrap();
    home.add_rules(file, recipe);
    let out = home.check();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !text.contains("WARNING") && !text.contains("ERROR"), "with {file}:\n{text}");
    let wazuh = home.start();
    let ordinary = &examples.iter().find(|(_, shown)| shown.iter().any(|l| l == "level: '0'")).unwrap().0;
    let out = wazuh.logtest(ordinary);
    assert_eq!(out["output"]["rule"]["id"], "100100", "{out}");
    assert_eq!(out["output"]["rule"]["level"], 3, "{out}");
    assert_eq!(out["alert"], true, "{out}");
}
