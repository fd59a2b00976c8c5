//! The loop that drives one org's pipeline: poll a page, hand it to
//! [`Pipeline::handle_page`], follow the next link, sleep `poll_interval`
//! once caught up; hold Okta back while the spool is full (backpressure);
//! take the org's event hook batches meanwhile, through the same pipeline.
//! Orgs take turns to parse and handle their pages ([`pages_in_hand`]):
//! however many orgs a process serves, only a few pages are parsed at once.

use crate::config::OktaConfig;
use crate::pipeline::Pipeline;
use crate::shutdown::{Shutdown, sleep_or_shutdown};
use crate::sources::hooks::HookBatch;
use crate::sources::okta::OktaSource;
use crate::telemetry::stats::Stats;
use anyhow::Context;
use std::sync::LazyLock;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};

/// Pages parsed and handled at once over all orgs of the process: two per
/// core, at least 4. With 50 orgs behind on backlogs of full 1000-event
/// pages, every org parsing and running its page through the detections at
/// once held one parsed page (several times the page's JSON) per org; the
/// detections already keep every core busy on a few pages, so more at once
/// gains nothing. Taken after the fetch, never over it: an org whose Okta is
/// slow, rate-limited or down holds no turn, and cannot hold up the others.
/// The semaphore is fair: orgs queue in order.
pub fn pages_in_hand() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).saturating_mul(2).max(4)
}

static PAGES: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(pages_in_hand()));

/// This org's turn to parse and handle a page; None at shutdown.
async fn page_turn(shutdown: &mut Shutdown) -> Option<SemaphorePermit<'static>> {
    if *shutdown.borrow() {
        return None;
    }
    tokio::select! {
        permit = PAGES.acquire() => permit.ok(),
        _ = shutdown.changed() => None,
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
        let turn = or_fatal(stats, with_hooks(page_turn(&mut shutdown), &mut hooks, pipeline, &org.name)).await?;
        let Some(turn) = turn else { break };
        let n = page.events.len();
        let events = pipeline.parse_page(&page.events, "a page");
        let next = page.next.to_string();
        let handled = tokio::task::block_in_place(|| pipeline.handle_page(events, Some(&next)))?;
        // The page's memory, then its turn, go back before anything else waits.
        drop((page.events, turn));
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

