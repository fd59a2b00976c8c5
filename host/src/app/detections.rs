//! `oktawatch detections list`, and the status file the service writes.

use crate::config::Config;
use crate::runtime::Runtime;
use crate::runtime::watch::Folder;
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// What is loaded and how it does: written by `run` to `<state>/detections.json`.
pub fn status_json(folder: &Folder, rt: &Runtime) -> Value {
    let set = rt.current();
    let files: Vec<Value> = folder
        .statuses()
        .into_iter()
        .map(|f| {
            let mut v = serde_json::to_value(&f).unwrap_or(Value::Null);
            if let Some(d) = set.detections.iter().find(|d| d.source == f.file) {
                let c = &d.counters;
                let events = c.events.load(Ordering::Relaxed);
                v["status"] = Value::String(d.status());
                v["event_types"] = json!(d.info.event_types);
                v["severity"] = json!(d.info.severity);
                v["counts"] = json!({
                    "events": events, "alerts": c.alerts.load(Ordering::Relaxed),
                    "traps": c.traps.load(Ordering::Relaxed), "timeouts": c.timeouts.load(Ordering::Relaxed),
                    "limits": c.limits.load(Ordering::Relaxed), "quarantines": c.quarantines.load(Ordering::Relaxed),
                    "mean_us": if events > 0 { c.nanos.load(Ordering::Relaxed) as f64 / events as f64 / 1000.0 } else { 0.0 },
                });
            }
            v
        })
        .collect();
    json!({"written_at": chrono::Utc::now().to_rfc3339(), "detections": files,
           "reloads": folder.reloads.load(Ordering::Relaxed), "rejections": folder.rejections.load(Ordering::Relaxed)})
}

pub fn list(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    let Some(dir) = config.detections.dir.clone() else {
        anyhow::bail!("{}: no [detections] dir configured", config_path.display());
    };
    // The running service's counts, when it is running.
    let running: Value = std::fs::read_to_string(config.state.dir.join("detections.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let rt = super::runtime(&config, None)?;
    let folder = Folder::load(rt.clone(), &dir)?;
    let set = rt.current();
    println!("{:<40} {:<8} {:<9} {:<10} {:>8} {:>7} {:>6}  event types / problem", "id", "version", "severity", "status", "events", "alerts", "traps");
    let mut bad = 0;
    for f in folder.statuses() {
        let name = f.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match set.detections.iter().find(|d| d.source == f.file) {
            Some(d) => {
                let counts = running["detections"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["id"] == json!(d.info.id)))
                    .map(|x| x["counts"].clone())
                    .unwrap_or(Value::Null);
                let n = |k: &str| counts[k].as_u64().map(|v| v.to_string()).unwrap_or_else(|| "-".into());
                println!(
                    "{:<40} {:<8} {:<9} {:<10} {:>8} {:>7} {:>6}  {} ({name})",
                    d.info.id, d.info.version, d.info.severity, if d.host.enabled { "loaded" } else { "disabled" }, n("events"), n("alerts"), n("traps"),
                    if d.info.event_types.is_empty() { "all".into() } else { d.info.event_types.join(", ") }
                );
            }
            None => {
                bad += 1;
                println!("{:<40} {:<8} {:<9} {:<10} {:>8} {:>7} {:>6}  {}: {}", name, "-", "-", f.status, "-", "-", "-", name, f.message.unwrap_or_default());
            }
        }
    }
    if running.is_null() {
        println!("\n(counts come from a running service's {}; none found)", config.state.dir.join("detections.json").display());
    }
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
