//! `oktawatch demo`: the real pipeline against the built-in Okta emulator.

use crate::config::OktaConfig;
use oktawatch_emulator::{Emulator, EmulatorOptions};
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::sinks::{Sink, SinkError};
use crate::sources::okta::OktaSource;
use crate::telemetry::stats::Stats;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Tally = Arc<Mutex<BTreeMap<String, (String, u64)>>>;

pub fn demo(json: bool, follow: bool, detections: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let scratch = tempfile::Builder::new().prefix("oktawatch-demo").tempdir()?;
        let token = "demo-token-not-a-secret";
        let emulator = Emulator::start(EmulatorOptions { token: token.into(), ..Default::default() }).await?;
        let now = chrono::Utc::now().timestamp_millis();
        emulator.push(oktawatch_emulator::demo_feed::demo_feed(now, 50 * 60 * 1000));
        let total = emulator.event_count() as u64;
        eprintln!("demo: an Okta System Log emulator on {} serves {total} sample events", emulator.url());

        let config = crate::config::Config::parse("").expect("empty config");
        let runtime = super::runtime(&config, None)?;
        super::load_detections(&runtime, detections.as_deref(), scratch.path())?;
        let loaded = runtime.current().detections.len();
        eprintln!("demo: {loaded} detections loaded in the sandbox; polling…\n");

        let token_file = scratch.path().join("token");
        std::fs::write(&token_file, token)?;
        // Quicker than a real org's defaults: the feed is on loopback.
        let org = OktaConfig {
            token_file: Some(token_file),
            poll_interval: Duration::from_secs(1),
            page_limit: 100,
            request_timeout: Duration::from_secs(10),
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(5),
            auth_retry: Duration::from_secs(5),
            ..OktaConfig::new("demo", &emulator.url())
        };
        let stats = Arc::new(Stats::default());
        let opts = PipelineOptions {
            name: "demo".into(),
            location: "oktawatch".into(),
            spool_max_bytes: 1 << 30,
            fsync: false,
            dedup_max: Some(100_000),
            checkpoint: true,
            suppression: config.detections.suppression,
        };
        let mut pipeline = Pipeline::open(&scratch.path().join("org"), opts, Some(runtime.clone()), stats.clone())?;
        let tally: Tally = Default::default();
        pipeline.start_sender(Box::new(DemoSink { json, tally: tally.clone() }))?;
        let source = OktaSource::new(org.clone(), stats.clone())?;

        let signals = crate::shutdown::on_signals();
        let (tx, rx) = tokio::sync::watch::channel(false);
        {
            let stats = stats.clone();
            let mut signals = signals.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = signals.changed() => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {
                            if !follow && Stats::get(&stats.fetched) >= total { break; }
                        }
                    }
                }
                let _ = tx.send(true);
            });
        }
        crate::pipeline::poll::poll_org(org, source, &mut pipeline, None, rx, &stats).await?;
        tokio::task::spawn_blocking(move || pipeline.finish(Duration::from_secs(10))).await?;

        let tally = tally.lock().unwrap();
        println!("\n── demo summary ─────────────────────────────────────────────");
        println!("{}", stats.summary());
        println!("alerts by detection:");
        for (id, (sev, n)) in tally.iter() {
            println!("  {n:>3} × [{sev}] {id}");
        }
        println!("\nIn production these messages go to the Wazuh queue socket as `1:oktawatch:<json>`;");
        println!("see README.md for running against a real Okta org.");
        Ok(ExitCode::SUCCESS)
    })
}

/// Prints messages for people: one line per raw event, a block per alert.
struct DemoSink {
    json: bool,
    tally: Tally,
}

impl Sink for DemoSink {
    fn send(&mut self, body: &[u8]) -> Result<(), SinkError> {
        let mut out = std::io::stdout().lock();
        let w = if self.json {
            out.write_all(body).and_then(|_| out.write_all(b"\n"))
        } else {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("-").to_string();
            if v["integration"] == "okta" {
                writeln!(
                    out,
                    "  event  {:<24}  {:<44} {:<28} {:<15} {}",
                    s("/okta/published"),
                    s("/okta/eventType"),
                    s("/okta/actor/alternateId"),
                    s("/okta/client/ipAddress"),
                    s("/okta/outcome/result")
                )
            } else {
                let id = s("/oktawatch/detection/id");
                let sev = s("/oktawatch/alert/severity");
                let entry = &mut *self.tally.lock().unwrap();
                entry.entry(id.clone()).or_insert((sev.clone(), 0)).1 += 1;
                let ctx = v.pointer("/oktawatch/alert/context").map(|c| c.to_string()).unwrap_or_default();
                writeln!(
                    out,
                    "▲ ALERT [{}] {}: {}\n          {}",
                    sev.to_uppercase(),
                    id,
                    s("/oktawatch/alert/title"),
                    ctx
                )
            }
        };
        w.map_err(SinkError::Unavailable)
    }

    fn describe(&self) -> String {
        "the terminal".into()
    }
}
