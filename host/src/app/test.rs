//! `oktawatch test`: run detections against their sample cases in the real sandbox.
//!
//! Each detection carries `cases.json` next to its code:
//! `{"cases":[{"name", "config"?, "events":[…], "expect":{"fires", "count"?, "title"?, "severity"?}}]}`.
//! Every case runs on a fresh instance with empty state; events run in
//! order and their `published` times drive the state windows.

use crate::event::Event;
use crate::runtime::{LoadOptions, Runtime, loader, severity_name};
use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// Flat TOML given to the detection's `configure`.
    #[serde(default)]
    pub config: Option<String>,
    pub events: Vec<serde_json::Value>,
    pub expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub fires: bool,
    /// Total alerts over the case.
    pub count: Option<usize>,
    /// A substring some alert title must contain.
    pub title: Option<String>,
    /// Severity of the alert matching `title` (or of the first alert).
    pub severity: Option<String>,
}

/// A detection to test: its wasm and its cases.
pub struct Target {
    pub name: String,
    pub wasm: Vec<u8>,
    pub cases: String,
    pub origin: PathBuf,
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub detection: String,
    pub case: String,
    pub passed: bool,
    pub detail: String,
}

/// Finds detections and their cases under the given paths (see the CLI help).
pub fn collect(paths: &[PathBuf]) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    if paths.is_empty() {
        for f in crate::pack::FILES {
            out.push(Target {
                name: f.name.to_string(),
                wasm: f.wasm.to_vec(),
                cases: f.cases.to_string(),
                origin: PathBuf::from(format!("(built-in pack) {}", f.name)),
            });
        }
        if out.is_empty() {
            bail!("this binary has no built-in pack; give a .wasm file or a folder");
        }
        return Ok(out);
    }
    for p in paths {
        if p.is_file() {
            out.push(wasm_with_sibling_cases(p)?);
        } else if p.join("Cargo.toml").is_file() && p.join("cases.json").is_file() {
            out.push(crate_dir(p)?);
        } else if is_make_dir(p) {
            out.push(make_dir(p)?);
        } else if p.is_dir() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(p).with_context(|| p.display().to_string())?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            let before = out.len();
            let mut unbuilt = Vec::new();
            for e in &entries {
                // A crate with its own [workspace] (the template) is not part of this pack.
                let standalone = std::fs::read_to_string(e.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"));
                if standalone {
                    continue;
                }
                if e.join("Cargo.toml").is_file() && e.join("cases.json").is_file() {
                    out.push(crate_dir(e)?);
                } else if is_make_dir(e) {
                    // Built ones are tested; the others are named, not failed (a
                    // folder of Rust crates may hold templates of other languages).
                    match make_dir(e) {
                        Ok(t) => out.push(t),
                        Err(err) => {
                            tracing::warn!("not tested: {err:#}");
                            unbuilt.push(e.display().to_string());
                        }
                    }
                } else if e.extension().is_some_and(|x| x == "wasm") {
                    out.push(wasm_with_sibling_cases(e)?);
                }
            }
            if out.len() == before {
                if !unbuilt.is_empty() {
                    bail!("{}: no built detections; run `make` in {}", p.display(), unbuilt.join(", "));
                }
                bail!("{}: no detections found (crates or Makefile folders with cases.json, or .wasm files)", p.display());
            }
        } else {
            bail!("{}: no such file or folder", p.display());
        }
    }
    Ok(out)
}

fn wasm_with_sibling_cases(p: &Path) -> anyhow::Result<Target> {
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("detection").to_string();
    let cases_path = p.with_file_name(format!("{stem}.cases.json"));
    let cases = std::fs::read_to_string(&cases_path)
        .with_context(|| format!("{}: its cases belong in {}", p.display(), cases_path.display()))?;
    Ok(Target { name: stem, wasm: std::fs::read(p).with_context(|| p.display().to_string())?, cases, origin: p.into() })
}

/// A detection crate: its cases.json, and its wasm in the workspace's target folder.
fn crate_dir(dir: &Path) -> anyhow::Result<Target> {
    let dir = &dir.canonicalize().with_context(|| dir.display().to_string())?;
    let name = dir.file_name().and_then(|s| s.to_str()).unwrap_or("detection").to_string();
    let file = format!("{}.wasm", name.replace('-', "_"));
    let candidates = [dir.join("target"), dir.join("../target")]
        .map(|t| t.join("wasm32-unknown-unknown/release").join(&file));
    let wasm = candidates.iter().find(|c| c.is_file()).with_context(|| {
        format!("{}: no built {file}; build it first (cargo build --release in the pack folder)", dir.display())
    })?;
    Ok(Target {
        name,
        wasm: std::fs::read(wasm)?,
        cases: std::fs::read_to_string(dir.join("cases.json"))?,
        origin: wasm.clone(),
    })
}

/// A detection built by `make` (Python, JavaScript, C: the templates
/// `detections/template-python`, `template-js`, `example-c`): a folder with a
/// Makefile and cases.json, and no Cargo.toml.
fn is_make_dir(dir: &Path) -> bool {
    dir.join("Makefile").is_file() && dir.join("cases.json").is_file() && !dir.join("Cargo.toml").exists()
}

/// A `make`-built detection folder: its cases.json, and the wasm its Makefile
/// writes by default, `target/<folder name>.wasm`. Not built: an error that
/// says to run `make`; built before a source last changed: a warning.
fn make_dir(dir: &Path) -> anyhow::Result<Target> {
    let dir = &dir.canonicalize().with_context(|| dir.display().to_string())?;
    let name = dir.file_name().and_then(|s| s.to_str()).unwrap_or("detection").to_string();
    let wasm = dir.join("target").join(format!("{name}.wasm"));
    if !wasm.is_file() {
        bail!(
            "{}: no built target/{name}.wasm; run `make` in that folder first (or give the .wasm file if you built it elsewhere)",
            dir.display()
        );
    }
    let built = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
    let newer: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .flatten()
        .filter(|e| e.file_name() != "cases.json" && e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.metadata().and_then(|m| m.modified()).ok().zip(built).is_some_and(|(m, b)| m > b))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !newer.is_empty() {
        tracing::warn!("{}: target/{name}.wasm is older than {}; run `make` to test the current code", dir.display(), newer.join(", "));
    }
    Ok(Target {
        name,
        wasm: std::fs::read(&wasm).with_context(|| wasm.display().to_string())?,
        cases: std::fs::read_to_string(dir.join("cases.json"))?,
        origin: wasm,
    })
}

/// Runs every case of every target.
pub fn run(rt: &Runtime, targets: &[Target]) -> Vec<CaseResult> {
    let mut results = Vec::new();
    for t in targets {
        let fail = |case: &str, detail: String| CaseResult {
            detection: t.name.clone(),
            case: case.to_string(),
            passed: false,
            detail,
        };
        let cases: CaseFile = match serde_json::from_str(&t.cases) {
            Ok(c) => c,
            Err(e) => {
                results.push(fail("(cases.json)", format!("not valid: {e}")));
                continue;
            }
        };
        if cases.cases.is_empty() {
            results.push(fail("(cases.json)", "no cases".into()));
            continue;
        }
        let compiled = match loader::compile_bytes(rt.engine(), &t.wasm, rt.cache_dir()) {
            Ok(c) => c,
            Err(e) => {
                results.push(fail("(load)", e.to_string()));
                continue;
            }
        };
        for case in &cases.cases {
            let opts = LoadOptions { fresh_state: true, config: Some(case.config.clone().unwrap_or_default()) };
            let det = match rt.load_compiled(compiled.clone(), &t.origin, &opts) {
                Ok(d) => d,
                Err(e) => {
                    results.push(fail(&case.name, format!("load: {e}")));
                    continue;
                }
            };
            results.push(run_case(rt, &det, case, &t.name));
        }
    }
    results
}

fn run_case(rt: &Runtime, det: &Arc<crate::runtime::Loaded>, case: &Case, name: &str) -> CaseResult {
    let mut events = Vec::new();
    for (i, v) in case.events.iter().enumerate() {
        match Event::parse(&v.to_string()) {
            Ok(e) => events.push(Arc::new(e)),
            Err(e) => {
                return CaseResult {
                    detection: name.into(),
                    case: case.name.clone(),
                    passed: false,
                    detail: format!("event {i}: {e}"),
                };
            }
        }
    }
    let outcome = rt.run_one(det, &events);
    let alerts: Vec<(String, &str)> = outcome
        .alerts
        .iter()
        .map(|r| (r.alert.title.clone(), r.alert.severity.map(severity_name).unwrap_or(det.info.severity)))
        .collect();
    let mut problems = Vec::new();
    if let Some((i, _, f)) = outcome.failures.first() {
        problems.push(format!("failed on event {i}: {f}"));
    }
    let e = &case.expect;
    if e.fires == alerts.is_empty() {
        problems.push(if e.fires { "expected an alert, got none".into() } else { "expected no alert".into() });
    }
    if let Some(n) = e.count
        && alerts.len() != n {
            problems.push(format!("expected {n} alert(s), got {}", alerts.len()));
        }
    let matching = match &e.title {
        Some(t) => {
            let m = alerts.iter().find(|(title, _)| title.contains(t.as_str()));
            if m.is_none() && e.fires {
                problems.push(format!("no alert title contains {t:?}"));
            }
            m
        }
        None => alerts.first(),
    };
    if let (Some(sev), Some((_, got))) = (&e.severity, matching)
        && !sev.eq_ignore_ascii_case(got) {
            problems.push(format!("expected severity {sev}, got {got}"));
        }
    let passed = problems.is_empty();
    let detail = if passed {
        match alerts.first() {
            Some((t, s)) if alerts.len() == 1 => format!("[{s}] {t}"),
            Some((t, s)) => format!("{} alerts, first [{s}] {t}", alerts.len()),
            None => "no alert".into(),
        }
    } else {
        let got: Vec<String> = alerts.iter().map(|(t, s)| format!("[{s}] {t}")).collect();
        format!("{}; got: {}", problems.join("; "), if got.is_empty() { "nothing".into() } else { got.join(" | ") })
    };
    CaseResult { detection: name.into(), case: case.name.clone(), passed, detail }
}

/// The result table, and the closing `N passed, M failed` line.
pub fn table(results: &[CaseResult]) -> String {
    let w_det = results.iter().map(|r| r.detection.len()).max().unwrap_or(9).max(9);
    let w_case = results.iter().map(|r| r.case.chars().count()).max().unwrap_or(4).clamp(4, 60);
    let mut s = format!("{:<w_det$}  {:<w_case$}  {:<6}  detail\n", "detection", "case", "result");
    s.push_str(&format!("{}  {}  {}  {}\n", "-".repeat(w_det), "-".repeat(w_case), "-".repeat(6), "-".repeat(6)));
    for r in results {
        let case: String = r.case.chars().take(w_case).collect();
        s.push_str(&format!(
            "{:<w_det$}  {:<w_case$}  {:<6}  {}\n",
            r.detection,
            case,
            if r.passed { "pass" } else { "FAIL" },
            r.detail
        ));
    }
    let passed = results.iter().filter(|r| r.passed).count();
    s.push_str(&format!("\n{} passed, {} failed\n", passed, results.len() - passed));
    s
}
