//! The Wazuh rules (`rules/oktawatch_rules.xml`) against what oktawatch really
//! is and sends:
//!
//! - the file parses; rule ids are unique, within 100000–120000, and every
//!   `if_sid` names a rule of the file;
//! - every detection of the built-in pack (id and default severity read by
//!   loading its wasm in the real runtime) has its rule, at the level of its
//!   severity, with children for the other severities, and is left out of the
//!   catch-all rule for unlisted detections;
//! - the raw-event catch-all is at level 0 and the event types it names at 3 or
//!   above (Wazuh's convention for cloud integrations);
//! - every `<field name="…">` and every `$(field)` of a description names a
//!   field of the messages the real pipeline writes for the demo feed (raw
//!   events and alerts), flattened the way Wazuh's JSON decoder does.
//!
//! These are quick and name what is wrong; `tests/tests/wazuh.rs` runs the same
//! rules and messages through Wazuh's real analysisd.

use oktawatch::config::Config;
use oktawatch::event::Event;
use oktawatch::pipeline::{Pipeline, PipelineOptions};
use oktawatch::sinks::file::FileSink;
use oktawatch::telemetry::stats::Stats;
use serde_json::Value;
use oktawatch_tests::pack_infos;
use oktawatch_tests::wazuh::{RULES, Rule, SEVERITIES, alternation, level_of, load_rules};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const ID_RANGE: std::ops::RangeInclusive<u32> = 100_000..=120_000;
/// The rule every raw Okta event matches first.
const RAW_RULE: u32 = 100_100;
/// The rule that every detection alert descends from.
const ALERT_RULE: u32 = 100_201;

#[test]
fn rules_file_is_consistent() {
    let rules = load_rules();
    let mut problems = Vec::new();
    let mut seen: HashMap<u32, u32> = HashMap::new();
    for r in &rules {
        if let Some(first) = seen.insert(r.id, r.line) {
            problems.push(format!("rule id {} used twice (lines {first} and {})", r.id, r.line));
        }
        if !ID_RANGE.contains(&r.id) {
            problems.push(format!("rule id {} (line {}) outside {ID_RANGE:?}", r.id, r.line));
        }
    }
    for r in &rules {
        for p in &r.parents {
            if !seen.contains_key(p) {
                problems.push(format!("rule {} (line {}): if_sid {p} is not a rule of this file", r.id, r.line));
            }
        }
    }
    // Raw events follow Wazuh's cloud integrations: the catch-all at level 0 (no alert, kept in
    // archives), each event type a rule names at level 3 or above (an alert).
    let level = |id: u32| rules.iter().find(|r| r.id == id).map(|r| r.level);
    if level(RAW_RULE) != Some(0) {
        problems.push(format!("the raw-event catch-all {RAW_RULE} is at level {:?}, not 0", level(RAW_RULE)));
    }
    for r in rules.iter().filter(|r| r.parents.contains(&RAW_RULE)) {
        if r.level < 3 {
            problems.push(format!("rule {} names Okta event types but is at level {} (below 3: no alert)", r.id, r.level));
        }
    }
    // Every severity child has the level of its severity.
    for r in &rules {
        if let Some(f) = r.field("oktawatch.alert.severity") {
            let sev = f.pattern.trim_start_matches('^').trim_end_matches('$');
            if SEVERITIES.contains(&sev) && r.level != level_of(sev) {
                problems.push(format!("rule {}: alert severity {sev} at level {}, expected {}", r.id, r.level, level_of(sev)));
            }
        }
    }
    assert!(problems.is_empty(), "{RULES}:\n  {}", problems.join("\n  "));
}

/// The built-in pack as the runtime sees it: (id, default severity) per detection.
fn pack_detections() -> Vec<(String, String)> {
    pack_infos().into_iter().map(|i| (i.id, i.severity.to_string())).collect()
}

/// True when `rule` descends from `ancestor` through its if_sid chain.
fn descends_from(rules: &HashMap<u32, &Rule>, rule: u32, ancestor: u32) -> bool {
    let mut todo = vec![rule];
    let mut visited = BTreeSet::new();
    while let Some(r) = todo.pop() {
        if r == ancestor {
            return true;
        }
        if visited.insert(r)
            && let Some(rule) = rules.get(&r) {
                todo.extend(&rule.parents);
            }
    }
    false
}

#[test]
fn every_pack_detection_has_its_rule() {
    let rules = load_rules();
    let by_id: HashMap<u32, &Rule> = rules.iter().map(|r| (r.id, r)).collect();
    let pack = pack_detections();
    let mut problems = Vec::new();

    for (id, severity) in &pack {
        let want = format!("^{id}$");
        let matching: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.field("oktawatch.detection.id").is_some_and(|f| !f.negate && f.pattern == want))
            .collect();
        let rule = match matching.as_slice() {
            [] => {
                problems.push(format!("{id}: no rule with oktawatch.detection.id {want}"));
                continue;
            }
            [one] => *one,
            many => {
                let ids: Vec<u32> = many.iter().map(|r| r.id).collect();
                problems.push(format!("{id}: several rules match it: {ids:?}"));
                continue;
            }
        };
        if rule.level != level_of(severity) {
            problems.push(format!(
                "{id}: rule {} has level {}, its default severity {severity} is level {}",
                rule.id,
                rule.level,
                level_of(severity)
            ));
        }
        if !descends_from(&by_id, rule.id, ALERT_RULE) {
            problems.push(format!("{id}: rule {} does not descend from the alert rule {ALERT_RULE}", rule.id));
        }
        // An alert may carry its own severity: each other one needs its child rule.
        for sev in SEVERITIES.iter().filter(|s| **s != severity) {
            let want = format!("^{sev}$");
            let child = rules.iter().find(|r| {
                r.parents.contains(&rule.id)
                    && r.field("oktawatch.alert.severity").is_some_and(|f| !f.negate && f.pattern == want)
            });
            match child {
                None => problems.push(format!("{id}: no child of rule {} for alert severity {sev}", rule.id)),
                Some(c) if c.level != level_of(sev) => {
                    problems.push(format!("{id}: rule {} ({sev}) has level {}, expected {}", c.id, c.level, level_of(sev)))
                }
                Some(_) => {}
            }
        }
    }

    // The catch-all for detections not in the file must leave out every pack detection.
    let catch_all: Vec<&Rule> =
        rules.iter().filter(|r| r.field("oktawatch.detection.id").is_some_and(|f| f.negate)).collect();
    assert_eq!(catch_all.len(), 1, "expected one rule for unlisted detections (negated oktawatch.detection.id)");
    let pattern = &catch_all[0].field("oktawatch.detection.id").unwrap().pattern;
    let excluded: BTreeSet<String> = alternation(pattern)
        .unwrap_or_else(|| panic!("rule {}: cannot read the list {pattern:?}", catch_all[0].id))
        .into_iter()
        .collect();
    let ids: BTreeSet<String> = pack.iter().map(|(id, _)| id.clone()).collect();
    for id in ids.difference(&excluded) {
        problems.push(format!("{id}: missing from the exclusion list of rule {}", catch_all[0].id));
    }
    for id in excluded.difference(&ids) {
        problems.push(format!("{id}: excluded by rule {} but not in the pack", catch_all[0].id));
    }

    assert!(problems.is_empty(), "{} pack detections; problems:\n  {}", pack.len(), problems.join("\n  "));
}

/// Every field of a JSON message as Wazuh's JSON decoder names them: dotted
/// object keys; an array is one field when it holds scalars, and objects inside
/// arrays are not decoded at all; null values are left out.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, x, out);
            }
        }
        Value::Array(a) => {
            if a.iter().any(|x| !x.is_object() && !x.is_array() && !x.is_null()) {
                out.insert(prefix.to_string());
            }
        }
        Value::Null => {}
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// The messages the real pipeline writes for the demo feed, with the built-in pack.
fn pipeline_messages(dir: &Path) -> Vec<Value> {
    let config = Config::parse("").expect("an empty config");
    let rt = oktawatch::app::runtime(&config, None).expect("a runtime");
    oktawatch::app::load_detections(&rt, None, dir).expect("loading the built-in pack");
    assert!(!rt.current().detections.is_empty(), "no detection loaded");

    let opts = PipelineOptions {
        name: "rules-test".into(),
        location: "oktawatch".into(),
        spool_max_bytes: u64::MAX,
        fsync: false,
        dedup_max: None,
        checkpoint: false,
        suppression: config.detections.suppression,
    };
    let stats = Arc::new(Stats::default());
    let mut pipeline = Pipeline::open(&dir.join("pipeline"), opts, Some(rt), stats).expect("opening the pipeline");
    let out: PathBuf = dir.join("messages.ndjson");
    pipeline.start_sender(Box::new(FileSink::open(&out).expect("opening the file sink"))).expect("starting the sender");

    let now = chrono::Utc::now().timestamp_millis();
    let feed = oktawatch_emulator::demo_feed::demo_feed(now, 50 * 60_000);
    assert!(!feed.is_empty());
    for page in feed.chunks(100) {
        let events: Vec<Event> =
            page.iter().map(|v| Event::parse(&v.to_string()).expect("a demo event parses")).collect();
        pipeline.handle_page(events, None).expect("handling a page");
    }
    let left = pipeline.finish(Duration::from_secs(60));
    assert_eq!(left, 0, "the file sink did not take every message");

    std::fs::read_to_string(&out)
        .expect("reading the sink's file")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn rule_fields_exist_in_what_the_host_sends() {
    let rules = load_rules();
    let dir = tempfile::tempdir().unwrap();
    let messages = pipeline_messages(dir.path());

    let raw = messages.iter().filter(|m| m["integration"] == "okta").count();
    let alerts = messages.iter().filter(|m| m["integration"] == "oktawatch" && m["oktawatch"]["kind"] == "alert").count();
    assert!(raw > 100, "only {raw} raw events written");
    assert!(alerts > 5, "only {alerts} alerts written for the demo feed");

    let mut fields = BTreeSet::new();
    for m in &messages {
        flatten("", m, &mut fields);
    }
    let mut missing: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for r in &rules {
        // Matched fields, and the `$(field)`s of the description.
        let described = r.description.split("$(").skip(1).filter_map(|p| p.split_once(')')).map(|(name, _)| name);
        for name in r.fields.iter().map(|f| f.name.as_str()).chain(described) {
            if !fields.contains(name) {
                missing.entry(name).or_default().push(r.id);
            }
        }
    }
    let report: Vec<String> = missing.iter().map(|(name, ids)| format!("{name} (rules {ids:?})")).collect();
    assert!(
        missing.is_empty(),
        "fields used by the rules but absent from the {} messages sent ({raw} events, {alerts} alerts):\n  {}",
        messages.len(),
        report.join("\n  ")
    );
}
