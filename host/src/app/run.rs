//! `oktawatch run`: the service.

use crate::config::Config;
use crate::pipeline::poll::poll_org;
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::sinks;
use crate::sources::hooks::{self, HookOrg, HookSecret};
use crate::shutdown::{Shutdown, sleep_or_shutdown, stop_on_signals};
use crate::sources::okta::OktaSource;
use crate::telemetry::stats::Stats;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    if config.okta.is_empty() {
        anyhow::bail!("{}: no [[okta]] org configured", config_path.display());
    }
    crate::sources::okta::take_env_tokens(&config.okta);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(config, config_path))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config, config_path: &Path) -> anyhow::Result<()> {
    let (stop, shutdown) = watch::channel(false);
    stop_on_signals(stop.clone());
    let state_dir = config.state.dir.clone();
    std::fs::create_dir_all(&state_dir).with_context(|| format!("creating state.dir {}", state_dir.display()))?;
    crate::harden::private_state_dir(&state_dir);
    let runtime = super::runtime(&config, Some(&state_dir))?;
    let (_folder, _watcher) = match &config.detections.dir {
        Some(dir) => {
            let folder = super::start_detections(&runtime, dir)?;
            let watcher = folder.watch().context("watching the detections folder")?;
            (Some(folder.clone()), Some(watcher))
        }
        None => {
            tracing::warn!("no [detections] dir configured: raw events only");
            (None, None)
        }
    };
    let reloader = super::reload::Reloader::new(config_path, config.clone(), runtime.clone(), _folder.clone());
    let _config_watcher = reloader.start(shutdown.clone()).context("watching the configuration file")?;
    if let Some(folder) = &_folder {
        spawn_status_writer(folder.clone(), runtime.clone(), state_dir.join("detections.json"), shutdown.clone());
    }

    // Event hooks: secrets, TLS files and the address are checked before any org starts.
    let hook_listener = match &config.hooks {
        Some(h) => Some(hooks::Listener::bind(h).await?),
        None => None,
    };
    let mut secrets = Vec::new();
    for org in &config.okta {
        secrets.push(if config.hooks.is_some() { HookSecret::load(org)? } else { None });
    }
    let mut hook_orgs = Vec::new();

    let mut tasks = tokio::task::JoinSet::new();
    let mut telemetry = Vec::new();
    for (org, secret) in config.okta.clone().into_iter().zip(secrets) {
        let stats = Arc::new(Stats::default());
        let opts = PipelineOptions {
            name: org.name.clone(),
            location: config.wazuh.location.clone(),
            spool_max_bytes: config.state.spool_max_mb << 20,
            fsync: config.state.fsync,
            dedup_max: Some(config.state.dedup_max),
            checkpoint: true,
            suppression: config.detections.suppression,
        };
        let dir = state_dir.join("orgs").join(&org.name);
        let mut pipeline = Pipeline::open(&dir, opts, Some(runtime.clone()), stats.clone())
            .with_context(|| format!("org `{}`", org.name))?;
        let sink = sinks::from_config(&config, pipeline.envelope().header())?;
        tracing::info!(org = %org.name, "delivering to {}", sink.describe());
        pipeline.start_sender(sink)?;
        telemetry.push(crate::telemetry::metrics::OrgTelemetry {
            name: org.name.clone(),
            stats: stats.clone(),
            spool: pipeline.spool_gauge(),
        });
        let source = OktaSource::new(org.clone(), stats.clone())?.remember_rate_in(&dir);
        let hook_rx = match (secret, &config.hooks) {
            (Some(secret), Some(h)) => {
                let (queue, rx) = mpsc::channel(h.queue_batches);
                hook_orgs.push(HookOrg { name: org.name.clone(), secret, queue, stats: stats.clone() });
                Some(rx)
            }
            _ => None,
        };
        let shutdown = shutdown.clone();
        let name = org.name.clone();
        let folder = _folder.clone();
        tasks.spawn(async move {
            super::await_detections(folder.as_deref(), &org.name).await;
            let result = poll_org(org, source, &mut pipeline, hook_rx, shutdown, &stats).await;
            if let Err(e) = &result {
                stats.fatal.set(format!("{e:#}"));
            }
            let left = tokio::task::spawn_blocking(move || pipeline.finish(Duration::from_secs(5))).await;
            tracing::info!("{}", stats.summary());
            result.map(|_| left.unwrap_or(0)).with_context(|| format!("org `{name}`"))
        });
    }
    let hook_counters = Arc::new(hooks::Counters::default());
    if let Some(m) = &config.metrics {
        let mut t = crate::telemetry::metrics::Telemetry::new(telemetry, Some(runtime.clone()), _folder.clone(), m.unhealthy_after);
        t.unhealthy_lag = m.unhealthy_lag;
        t.reloads = Some(reloader.counters.clone());
        if hook_listener.is_some() {
            t.hooks = Some(hook_counters.clone());
        }
        let t = Arc::new(t);
        let addr = crate::telemetry::metrics::serve(&m.listen, t, shutdown.clone()).await?;
        tracing::info!("metrics on http://{addr}/metrics, health on http://{addr}/healthz");
    }
    if let Some(listener) = hook_listener {
        let (scheme, addr) = (listener.scheme(), listener.local_addr()?);
        let names: Vec<String> = hook_orgs.iter().map(|o| o.name.clone()).collect();
        listener.serve(hook_orgs, hook_counters, shutdown.clone());
        tracing::info!("event hooks on {scheme}://{addr}/hooks/okta/<org> for org(s) {}", names.join(", "));
    }
    // An org task ends only at shutdown; one that ends before (an error, a
    // panic, a dead sender) stops every org and the process exits non-zero,
    // so that systemd restarts it (and the restart repairs what can be).
    let mut failed = None;
    while let Some(t) = tasks.join_next().await {
        let problem = match t {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e),
            Err(e) => Some(anyhow::anyhow!("an org task panicked: {e}")),
        };
        if let Some(e) = problem {
            if !*shutdown.borrow() {
                tracing::error!("{e:#}; stopping every org (the service exits non-zero)");
                let _ = stop.send(true);
            }
            failed.get_or_insert(e);
        }
    }
    match failed {
        Some(e) => Err(e),
        None => {
            tracing::info!("stopped cleanly");
            Ok(())
        }
    }
}

fn spawn_status_writer(
    folder: Arc<crate::runtime::watch::Folder>,
    runtime: Arc<crate::runtime::Runtime>,
    path: std::path::PathBuf,
    mut shutdown: Shutdown,
) {
    tokio::spawn(async move {
        folder.wait_loaded(super::ORG_GRACE).await;
        loop {
            let status = super::detections::status_json(&folder, &runtime);
            let tmp = path.with_extension("json.tmp");
            if std::fs::write(&tmp, status.to_string()).and_then(|_| std::fs::rename(&tmp, &path)).is_err() {
                tracing::debug!("cannot write {}", path.display());
            }
            if !sleep_or_shutdown(Duration::from_secs(10), &mut shutdown).await {
                break;
            }
        }
    });
}
