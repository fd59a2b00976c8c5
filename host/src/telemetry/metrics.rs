//! Prometheus metrics and a health check, for people running the service.
//!
//! Off unless `[metrics]` is in the config; loopback by default. Values are
//! read at scrape time from the counters the pipeline already keeps (per
//! org [`Stats`], per detection counters, the detections folder, the event
//! hook listener's request counts, the config reloads) and
//! rendered with `metrics-exporter-prometheus`. `/healthz` answers 503 when
//! an org's source or sink has been failing, or its spool has been full,
//! longer than `unhealthy_after`; when its poller has not reached the present
//! for longer than `unhealthy_lag`; at once when its sender or task ended;
//! and while a damaged spool segment is kept for a look.

use crate::pipeline::spool::SpoolGauge;
use crate::runtime::Runtime;
use crate::runtime::watch::Folder;
use crate::telemetry::stats::Stats;
use axum::http::StatusCode;
use axum::routing::get;
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// One org as the metrics see it.
pub struct OrgTelemetry {
    pub name: String,
    pub stats: Arc<Stats>,
    pub spool: SpoolGauge,
}

pub struct Telemetry {
    pub orgs: Vec<OrgTelemetry>,
    pub runtime: Option<Arc<Runtime>>,
    pub folder: Option<Arc<Folder>>,
    pub unhealthy_after: Duration,
    /// How long an org's poller may go without reaching the present.
    pub unhealthy_lag: Duration,
    /// Event hook request and event counts, when hooks are on.
    pub hooks: Option<Arc<crate::sources::hooks::Counters>>,
    /// Config reloads accepted and refused (the service).
    pub reloads: Option<Arc<crate::runtime::reconfigure::ReloadCounters>>,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Telemetry {
    pub fn new(
        orgs: Vec<OrgTelemetry>,
        runtime: Option<Arc<Runtime>>,
        folder: Option<Arc<Folder>>,
        unhealthy_after: Duration,
    ) -> Telemetry {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        Telemetry { orgs, runtime, folder, unhealthy_after, unhealthy_lag: Duration::from_secs(1800), hooks: None, reloads: None, recorder, handle }
    }

    /// The Prometheus text exposition of everything, now.
    pub fn render(&self) -> String {
        metrics::with_local_recorder(&self.recorder, || self.publish());
        self.handle.render()
    }

    fn publish(&self) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        for o in &self.orgs {
            let s = &o.stats;
            let org = o.name.clone();
            let c = |name: &'static str, v: &std::sync::atomic::AtomicU64| {
                counter!(name, "org" => org.clone()).absolute(Stats::get(v));
            };
            c("oktawatch_events_fetched_total", &s.fetched);
            c("oktawatch_events_sent_total", &s.events);
            c("oktawatch_events_duplicate_total", &s.duplicates);
            c("oktawatch_events_differing_copy_total", &s.differing_copies);
            c("oktawatch_events_invalid_total", &s.invalid);
            c("oktawatch_events_untyped_total", &s.untyped);
            c("oktawatch_events_truncated_total", &s.truncated);
            c("oktawatch_alerts_sent_total", &s.alerts);
            c("oktawatch_alerts_suppressed_total", &s.suppressed);
            c("oktawatch_alerts_suppression_evicted_total", &s.suppression_evicted);
            c("oktawatch_messages_delivered_total", &s.delivered);
            c("oktawatch_sink_errors_total", &s.sink_errors);
            c("oktawatch_okta_rate_limited_total", &s.rate_limited);
            c("oktawatch_dead_letters_total", &s.dead_letters);
            gauge!("oktawatch_spool_damaged_files", "org" => org.clone()).set(o.spool.damaged().len() as f64);
            for (status, n) in s.requests.lock().unwrap().iter() {
                let status = if *status == 0 { "none".to_string() } else { status.to_string() };
                counter!("oktawatch_okta_requests_total", "org" => org.clone(), "status" => status).absolute(*n);
            }
            if !s.requests.lock().unwrap().is_empty() {
                gauge!("oktawatch_okta_rate_limit_remaining", "org" => org.clone())
                    .set(s.rate_remaining.load(Ordering::Relaxed) as f64);
            }
            let newest = s.newest_published_ms.load(Ordering::Relaxed);
            if newest > 0 {
                gauge!("oktawatch_cursor_lag_seconds", "org" => org.clone()).set((now_ms - newest) as f64 / 1000.0);
            }
            gauge!("oktawatch_spool_bytes", "org" => org.clone()).set(o.spool.unsent() as f64);
            for (what, flag) in [("source", &s.source_failing_since_ms), ("sink", &s.sink_failing_since_ms)] {
                let since = flag.load(Ordering::Relaxed);
                let secs = if since == 0 { 0.0 } else { (now_ms - since) as f64 / 1000.0 };
                gauge!("oktawatch_failing_seconds", "org" => org.clone(), "part" => what).set(secs);
            }
        }
        if let Some(rt) = &self.runtime {
            let set = rt.current();
            let mut quarantined = 0;
            for d in &set.detections {
                let id = d.info.id.clone();
                let k = &d.counters;
                let c = |name: &'static str, v: &std::sync::atomic::AtomicU64| {
                    counter!(name, "detection" => id.clone()).absolute(v.load(Ordering::Relaxed));
                };
                c("oktawatch_detection_events_total", &k.events);
                c("oktawatch_detection_prefiltered_total", &k.prefiltered);
                c("oktawatch_detection_alerts_total", &k.alerts);
                c("oktawatch_detection_traps_total", &k.traps);
                c("oktawatch_detection_timeouts_total", &k.timeouts);
                c("oktawatch_detection_limits_total", &k.limits);
                c("oktawatch_detection_quarantines_total", &k.quarantines);
                c("oktawatch_detection_logs_dropped_total", &k.logs_dropped);
                let (quota_hits, evicted) = d.state_counts();
                counter!("oktawatch_detection_state_quota_hits_total", "detection" => id.clone()).absolute(quota_hits);
                counter!("oktawatch_detection_state_evicted_total", "detection" => id.clone()).absolute(evicted);
                gauge!("oktawatch_detection_seconds_total", "detection" => id.clone())
                    .set(k.nanos.load(Ordering::Relaxed) as f64 / 1e9);
                if d.status().starts_with("quarantined") {
                    quarantined += 1;
                }
            }
            gauge!("oktawatch_detections_loaded").set(set.detections.len() as f64);
            gauge!("oktawatch_detections_disabled").set(set.detections.iter().filter(|d| !d.host.enabled).count() as f64);
            gauge!("oktawatch_detections_quarantined").set(quarantined as f64);
        }
        if let Some(h) = &self.hooks {
            for ((org, status), n) in h.requests_snapshot() {
                counter!("oktawatch_hook_requests_total", "org" => org, "status" => status.to_string()).absolute(n);
            }
            for (org, n) in h.events_snapshot() {
                counter!("oktawatch_hook_events_total", "org" => org).absolute(n);
            }
            for (reason, n) in h.closed_snapshot() {
                counter!("oktawatch_hook_connections_closed_total", "reason" => reason).absolute(n);
            }
        }
        if let Some(r) = &self.reloads {
            counter!("oktawatch_config_reloads_total", "result" => "ok").absolute(r.ok.load(Ordering::Relaxed));
            counter!("oktawatch_config_reloads_total", "result" => "refused").absolute(r.refused.load(Ordering::Relaxed));
        }
        if let Some(f) = &self.folder {
            counter!("oktawatch_detection_reloads_total").absolute(f.reloads.load(Ordering::Relaxed));
            counter!("oktawatch_detection_rejections_total").absolute(f.rejections.load(Ordering::Relaxed));
        }
    }

    /// 200 when every org's source and sink work (or failed for less than the bound), else 503.
    pub fn health(&self) -> (StatusCode, String) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let bound = self.unhealthy_after.as_millis() as i64;
        let mut problems = Vec::new();
        for o in &self.orgs {
            let s = &o.stats;
            if let Some(why) = s.fatal.reason() {
                problems.push(format!("org {}: stopped: {why}", o.name));
            }
            for (what, flag) in [
                ("source (Okta) failing", &s.source_failing_since_ms),
                ("sink failing", &s.sink_failing_since_ms),
                ("spool full", &s.spool_full_since_ms),
            ] {
                let since = flag.load(Ordering::Relaxed);
                if since != 0 && now_ms - since > bound {
                    problems.push(format!("org {}: {what} for {}s", o.name, (now_ms - since) / 1000));
                }
            }
            let caught_up = s.caught_up_ms.load(Ordering::Relaxed);
            if caught_up != 0 && now_ms - caught_up > self.unhealthy_lag.as_millis() as i64 {
                problems.push(format!("org {}: the poller has not caught up for {}s", o.name, (now_ms - caught_up) / 1000));
            }
            for f in o.spool.damaged() {
                problems.push(format!("org {}: damaged spool segment kept as {} (see the log; remove it once looked at)", o.name, f.display()));
            }
        }
        if problems.is_empty() {
            (StatusCode::OK, "ok\n".into())
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n") + "\n")
        }
    }
}

/// Serves `/metrics` and `/healthz` until `shutdown`; returns the bound address.
pub async fn serve(
    listen: &str,
    telemetry: Arc<Telemetry>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("metrics.listen {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    let (m, h) = (telemetry.clone(), telemetry);
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move { ([("content-type", "text/plain; version=0.0.4")], m.render()) }
            }),
        )
        .route("/healthz", get(move || {
            let h = h.clone();
            async move { h.health() }
        }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    });
    Ok(addr)
}
