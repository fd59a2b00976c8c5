//! The Wazuh rules (`rules/oktawatch_rules.xml`) against what oktawatch really
//! is and sends:
//!
//! - the file parses; rule ids are unique, within 100000–120000, and every
//!   `if_sid` names a rule of the file;
//! - every detection of the built-in pack (id and default severity read by
//!   loading its wasm in the real runtime) has its rule, at the level of its
//!   severity, with children for the other severities, and is left out of the
//!   catch-all rule for unlisted detections;
//! - every `<field name="…">` names a field of the messages the real pipeline
//!   writes for the demo feed (raw events and alerts), flattened the way
//!   Wazuh's JSON decoder does.

use oktawatch::config::Config;
use oktawatch::event::Event;
use oktawatch::pipeline::{Pipeline, PipelineOptions};
use oktawatch::runtime::state::StateStore;
use oktawatch::runtime::{LoadOptions, Limits, Runtime, loader};
use oktawatch::sinks::file::FileSink;
use oktawatch::stats::Stats;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/oktawatch_rules.xml");
const ID_RANGE: std::ops::RangeInclusive<u32> = 100_000..=120_000;
/// The rule that every detection alert descends from.
const ALERT_RULE: u32 = 100_201;

/// Wazuh level for a severity, as documented in the WIT contract and the rules file.
fn level_of(severity: &str) -> u32 {
    match severity {
        "info" => 3,
        "low" => 5,
        "medium" => 8,
        "high" => 12,
        "critical" => 14,
        other => panic!("unknown severity {other:?}"),
    }
}
const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

#[derive(Debug)]
struct Field {
    name: String,
    pattern: String,
    negate: bool,
}

#[derive(Debug)]
struct Rule {
    id: u32,
    level: u32,
    parents: Vec<u32>,
    fields: Vec<Field>,
    line: u32,
}

impl Rule {
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Parses the rules file. Wazuh rule files have several top-level `<group>`
/// elements, so the text is wrapped in one root for the XML parser.
fn load_rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(RULES).expect("reading the rules file");
    assert!(!text.trim_start().starts_with("<?xml"), "Wazuh rule files take no XML declaration");
    let wrapped = format!("<root>{text}</root>");
    let doc = roxmltree::Document::parse(&wrapped).unwrap_or_else(|e| panic!("{RULES} is not well-formed XML: {e}"));
    let mut rules = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("rule")) {
        let line = doc.text_pos_at(node.range().start).row;
        let attr = |name: &str| {
            node.attribute(name).unwrap_or_else(|| panic!("rule at line {line} has no `{name}` attribute"))
        };
        let id: u32 = attr("id").parse().unwrap_or_else(|e| panic!("rule at line {line}: bad id: {e}"));
        let level: u32 = attr("level").parse().unwrap_or_else(|e| panic!("rule {id}: bad level: {e}"));
        assert!(level <= 16, "rule {id}: level {level} over 16");
        assert_eq!(
            node.parent().map(|p| p.tag_name().name()),
            Some("group"),
            "rule {id} (line {line}) is not inside a <group>"
        );
        let mut parents = Vec::new();
        let mut fields = Vec::new();
        for child in node.children().filter(|c| c.is_element()) {
            let body = child.text().unwrap_or("").trim();
            match child.tag_name().name() {
                "if_sid" | "if_matched_sid" => {
                    for part in body.split([',', ' ']).filter(|p| !p.is_empty()) {
                        parents.push(part.parse().unwrap_or_else(|e| panic!("rule {id}: bad if_sid {part:?}: {e}")));
                    }
                }
                "field" => fields.push(Field {
                    name: child.attribute("name").unwrap_or_else(|| panic!("rule {id}: <field> without name")).into(),
                    pattern: body.to_string(),
                    negate: child.attribute("negate") == Some("yes"),
                }),
                _ => {}
            }
        }
        rules.push(Rule { id, level, parents, fields, line });
    }
    assert!(!rules.is_empty(), "no <rule> in {RULES}");
    rules
}

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
    assert!(!oktawatch::pack::FILES.is_empty(), "this build has no built-in pack");
    let rt = Runtime::new(Limits::default(), Arc::new(StateStore::in_memory(1, 1)), BTreeMap::new(), None)
        .expect("a runtime");
    oktawatch::pack::FILES
        .iter()
        .map(|f| {
            let compiled = loader::compile_bytes(rt.engine(), f.wasm, None)
                .unwrap_or_else(|e| panic!("pack detection {}: {e}", f.name));
            let opts = LoadOptions { fresh_state: true, config: Some(String::new()) };
            let det = rt
                .load_compiled(compiled, Path::new(f.name), &opts)
                .unwrap_or_else(|e| panic!("pack detection {}: {e}", f.name));
            (det.info.id.clone(), det.info.severity.to_string())
        })
        .collect()
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

/// The names a `^prefix(?:a|b|c)$` alternation matches.
fn alternation(pattern: &str) -> Option<BTreeSet<String>> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let (prefix, rest) = body.split_once("(?:")?;
    let alts = rest.strip_suffix(')')?;
    Some(alts.split('|').map(|a| format!("{prefix}{a}")).collect())
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
    let excluded = alternation(pattern)
        .unwrap_or_else(|| panic!("rule {}: cannot read the list {pattern:?}", catch_all[0].id));
    let ids: BTreeSet<String> = pack.iter().map(|(id, _)| id.clone()).collect();
    for id in ids.difference(&excluded) {
        problems.push(format!("{id}: missing from the exclusion list of rule {}", catch_all[0].id));
    }
    for id in excluded.difference(&ids) {
        problems.push(format!("{id}: excluded by rule {} but not in the pack", catch_all[0].id));
    }

    assert!(problems.is_empty(), "{} pack detections; problems:\n  {}", pack.len(), problems.join("\n  "));
}

/// Every field path of a JSON message, dotted, arrays flattened without an
/// index (as Wazuh's JSON decoder names them); null values are left out.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&path, x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| flatten(prefix, x, out)),
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
    let feed = oktawatch::demo_feed::demo_feed(now, 50 * 60_000);
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
        for f in &r.fields {
            if !fields.contains(&f.name) {
                missing.entry(&f.name).or_default().push(r.id);
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
