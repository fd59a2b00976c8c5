//! `oktawatch run`: the service.

use crate::config::{Config, OktaConfig};
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::sinks;
use crate::sources::hooks::{self, HookBatch, HookOrg, HookSecret};
use crate::sources::okta::{OktaSource, Shutdown, sleep_or_shutdown};
use crate::stats::Stats;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub fn run(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    if config.okta.is_empty() {
        anyhow::bail!("{}: no [[okta]] org configured", config_path.display());
    }
    crate::sources::okta::take_env_tokens(&config.okta);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

/// Stops on SIGINT or SIGTERM.
#[cfg(feature = "demo")]
pub fn shutdown_on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    stop_on_signals(tx);
    rx
}

/// Sends `true` on `tx` at SIGINT or SIGTERM.
fn stop_on_signals(tx: watch::Sender<bool>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing the page in hand"),
            _ = int.recv() => tracing::info!("SIGINT: finishing the page in hand"),
        }
        let _ = tx.send(true);
    });
}

async fn serve(config: Config) -> anyhow::Result<()> {
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
        telemetry.push(crate::metrics::OrgTelemetry {
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
        let mut t = crate::metrics::Telemetry::new(telemetry, Some(runtime.clone()), _folder.clone(), m.unhealthy_after);
        t.unhealthy_lag = m.unhealthy_lag;
        if hook_listener.is_some() {
            t.hooks = Some(hook_counters.clone());
        }
        let t = Arc::new(t);
        let addr = crate::metrics::serve(&m.listen, t, shutdown.clone()).await?;
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

/// Polls one org until shutdown, and handles the org's event hook batches
/// (`hooks`) as they come, also while a poll is under way or the loop waits
/// for `poll_interval`. Both go through the one pipeline, so through one dedup.
pub async fn poll_org(
    org: OktaConfig,
    mut source: OktaSource,
    pipeline: &mut Pipeline,
    mut hooks: Option<mpsc::Receiver<HookBatch>>,
    mut shutdown: Shutdown,
    stats: &Stats,
) -> anyhow::Result<()> {
    let mut url = match &pipeline.cursor {
        Some(c) => {
            let u = url::Url::parse(c).with_context(|| format!("org `{}`: saved cursor", org.name))?;
            source.check_same_origin(&u).with_context(|| {
                format!("org `{}`: the saved cursor is for another org URL; remove the org's state to start over", org.name)
            })?;
            tracing::info!(org = %org.name, "resuming from the saved cursor");
            u
        }
        None => {
            let since = chrono::Utc::now() - chrono::Duration::from_std(source.initial_lookback())?;
            tracing::info!(org = %org.name, "no saved cursor: starting from {since}");
            source.first_url(since)
        }
    };
    let mut last_full_report: Option<Instant> = None;
    stats.caught_up_ms.store(chrono::Utc::now().timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
    loop {
        if *shutdown.borrow() {
            break;
        }
        if let Some(why) = stats.fatal.reason() {
            anyhow::bail!("{why}");
        }
        // Backpressure: hold Okta back while the spool is full.
        let full = pipeline.spool_full();
        Stats::set_failing(&stats.spool_full_since_ms, full.is_some());
        if let Some(e) = full {
            if last_full_report.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
                tracing::error!(org = %org.name, "{e}");
                last_full_report = Some(Instant::now());
            }
            let room = tokio::task::block_in_place(|| pipeline.wait_room(Duration::from_secs(1)));
            if !room {
                continue;
            }
        }
        let fetched = or_fatal(stats, with_hooks(source.fetch(&url, &mut shutdown), &mut hooks, pipeline, &org.name)).await?;
        let Some(page) = fetched else { break };
        let n = page.events.len();
        let events = pipeline.parse_page(&page.events, "a page");
        let next = page.next.to_string();
        let handled = tokio::task::block_in_place(|| pipeline.handle_page(events, Some(&next)))?;
        if handled.duplicates > 0 && hooks.is_some() {
            tracing::info!(org = %org.name, "polled page: {} event(s) already delivered (by the event hook) dropped", handled.duplicates);
        }
        url = page.next;
        if n < source.page_limit() {
            stats.caught_up_ms.store(chrono::Utc::now().timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
            let slept = with_hooks(sleep_or_shutdown(org.poll_interval, &mut shutdown), &mut hooks, pipeline, &org.name);
            if !or_fatal(stats, slept).await? {
                break;
            }
        }
    }
    // Batches Okta was already told were taken; new requests now get 503 (Okta retries).
    if let Some(rx) = hooks.as_mut() {
        rx.close();
        while let Ok(batch) = rx.try_recv() {
            handle_hook(pipeline, &org.name, batch)?;
        }
    }
    Ok(())
}

/// Runs `work`, unless the org's sender fails meanwhile (then its reason is the error).
async fn or_fatal<T>(stats: &Stats, work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::select! {
        out = work => out,
        _ = stats.fatal.notify.notified() => Err(anyhow::anyhow!(stats.fatal.reason().unwrap_or_default())),
    }
}

/// Runs `work` to its end, handling hook batches meanwhile (not while the spool is full:
/// they wait in the queue, and once it is full the listener answers 503 so that Okta retries).
async fn with_hooks<F: std::future::Future>(
    work: F,
    hooks: &mut Option<mpsc::Receiver<HookBatch>>,
    pipeline: &mut Pipeline,
    org: &str,
) -> anyhow::Result<F::Output> {
    let Some(rx) = hooks.as_mut() else { return Ok(work.await) };
    tokio::pin!(work);
    loop {
        let room = pipeline.spool_full().is_none();
        tokio::select! {
            biased;
            out = &mut work => return Ok(out),
            Some(batch) = rx.recv(), if room => handle_hook(pipeline, org, batch)?,
            _ = tokio::time::sleep(Duration::from_secs(1)), if !room => {}
        }
    }
}

fn handle_hook(pipeline: &mut Pipeline, org: &str, batch: HookBatch) -> anyhow::Result<()> {
    let n = batch.len();
    let handled = tokio::task::block_in_place(|| pipeline.handle_page(batch, None))?;
    tracing::info!(org = %org, "event hook batch: {n} event(s), {} new, {} already delivered", handled.fresh, handled.duplicates);
    Ok(())
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
