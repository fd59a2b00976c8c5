//! Okta rate limits hit: API abuse, enumeration, or a denial of service.
//!
//! Okta logs a rate-limit event at several levels (event types from Okta's
//! event-type catalog; debugData keys from its rate-limit System Log events
//! reference):
//! - org-wide API buckets: `system.org.rate_limit.warning` (a share of the
//!   limit used), `.burst` (burst capacity activated), `.violation`
//!   (requests refused); `core.concurrency.org.limit.violation` (too many
//!   requests in flight for the org);
//! - operations (OTP verifications, web requests per user, …):
//!   `system.operation.rate_limit.warning` / `.violation`,
//!   `system.operation.concurrency_limit.violation`, described by
//!   `debugData.operationRateLimitType`, `…Subtype`, `…ScopeType`,
//!   `…Threshold`, `…TimeSpan`, `…TimeUnit`;
//! - one client (client id, IP and device identifier):
//!   `system.client.rate_limit.notification` / `.violation`,
//!   `system.client.concurrency_rate_limit.notification` / `.violation`;
//! - one OAuth 2.0 client id using most of the org's OAuth2 limit:
//!   `app.oauth2.client_id_rate_limit_warning`;
//! - an app integration's API limit: `application.integration.rate_limit_exceeded`.
//!
//! Credential stuffing, user enumeration, OTP guessing and runaway scripts
//! with a stolen token all end up here.
//!
//! Rule: a violation (or an exceeded limit) → medium; a warning, notification,
//! burst or the OAuth client warning → low (unless `include_warnings = false`).
//! `system.org.rate_limit.expiration.warning` (a temporary limit increase
//! about to end) is not reported. The alert names what was limited: the
//! endpoint (`debugData.requestUri`, else the `URL Pattern` target) and the
//! bucket (`debugData.rateLimitBucketUuid`, else the `Bucket Uuid` target) for
//! org limits, the operation type for operation limits, the client IP for
//! client limits, the OAuth client or app for the last two; that and the event
//! type key its deduplication, so a hot limit gives one alert per suppression
//! window.
//!
//! Config:
//! - `include_warnings` (bool): report warnings, notifications and bursts too. Default true.
//! - `ignore_uris` (list of strings): endpoints (request URIs) not reported,
//!   e.g. a busy log collector's `/api/v1/logs`. Default none.
use oktawatch_guest::prelude::*;

struct RateLimitViolation {
    include_warnings: bool,
    ignore_uris: Vec<String>,
}

/// What kind of limit an event reports.
#[derive(Clone, Copy, PartialEq)]
enum Limit {
    Org,
    OrgConcurrency,
    Operation,
    OperationConcurrency,
    Client,
    ClientConcurrency,
    OAuthClient,
    Integration,
}

/// The kind of limit and whether it was exceeded (else approached), by event type.
fn classify(event_type: &str) -> Option<(Limit, bool)> {
    Some(match event_type {
        "system.org.rate_limit.violation" => (Limit::Org, true),
        "system.org.rate_limit.warning" | "system.org.rate_limit.burst" => (Limit::Org, false),
        "core.concurrency.org.limit.violation" => (Limit::OrgConcurrency, true),
        "system.operation.rate_limit.violation" => (Limit::Operation, true),
        "system.operation.rate_limit.warning" => (Limit::Operation, false),
        "system.operation.concurrency_limit.violation" => (Limit::OperationConcurrency, true),
        "system.client.rate_limit.violation" => (Limit::Client, true),
        "system.client.rate_limit.notification" => (Limit::Client, false),
        "system.client.concurrency_rate_limit.violation" => (Limit::ClientConcurrency, true),
        "system.client.concurrency_rate_limit.notification" => (Limit::ClientConcurrency, false),
        "app.oauth2.client_id_rate_limit_warning" => (Limit::OAuthClient, false),
        "application.integration.rate_limit_exceeded" => (Limit::Integration, true),
        _ => return None,
    })
}

impl Detection for RateLimitViolation {
    fn info() -> Info {
        Info::new("okta-rate-limit-violation", "Okta org rate limit violated")
            .severity(Severity::Medium)
            .mitre(&["T1499"])
            .description(
                "An Okta rate or concurrency limit (org API bucket, operation, client, OAuth client or app \
                 integration) was exceeded (medium) or nearly reached (low).",
            )
            .event_types(&[
                "system.org.rate_limit.*",
                "system.operation.rate_limit.*",
                "system.client.rate_limit.*",
                "system.client.concurrency_rate_limit.*",
                "core.concurrency.org.limit.violation",
                "system.operation.concurrency_limit.violation",
                "app.oauth2.client_id_rate_limit_warning",
                "application.integration.rate_limit_exceeded",
            ])
            .config_bool("include_warnings", true, "report warnings, notifications and bursts too")
            .config_list("ignore_uris", &[], "endpoints (request URIs) not reported")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(RateLimitViolation {
            include_warnings: config.get("include_warnings")?,
            ignore_uris: config.get("ignore_uris")?,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some((limit, exceeded)) = classify(event.event_type()) else { return };
        if !exceeded && !self.include_warnings {
            return;
        }
        let severity = if exceeded { Severity::Medium } else { Severity::Low };

        // Bucket and endpoint: debugData first, targets as the fallback.
        let mut bucket = event.debug_data("rateLimitBucketUuid");
        let mut uri = event.debug_data("requestUri");
        let targets = event.targets();
        for t in &targets {
            match t.kind.as_deref() {
                Some("Bucket Uuid") if bucket.is_none() => bucket = t.id.clone(),
                Some("URL Pattern") if uri.is_none() => uri = t.id.clone(),
                _ => {}
            }
        }
        if uri.as_ref().is_some_and(|u| self.ignore_uris.contains(u)) {
            return;
        }
        let endpoint = uri.clone().unwrap_or_else(|| "unknown endpoint".into());
        let actor = event.actor().alternate_id();
        let ip = event.client().ip();
        let op = |k: &str| event.debug_data(&format!("operationRateLimit{k}"));
        let (op_type, op_subtype, op_scope) = (op("Type"), op("Subtype"), op("ScopeType"));
        let limit_text = match limit {
            Limit::Operation | Limit::OperationConcurrency => {
                limit_of(op("Threshold"), op("TimeSpan"), op("TimeUnit"))
            }
            _ => limit_of(event.debug_data("threshold"), event.debug_data("timeSpan"), event.debug_data("timeUnit")),
        };
        // The OAuth client or app the event is about: its first named target.
        let subject = targets
            .iter()
            .filter(|t| !matches!(t.kind.as_deref(), Some("Bucket Uuid" | "URL Pattern")))
            .find_map(|t| t.display_name.clone().or_else(|| t.alternate_id.clone()).or_else(|| t.id.clone()));

        let verb = if exceeded { "exceeded" } else { "nearly reached" };
        let (mut title, what) = match limit {
            Limit::Org => {
                let head = match event.event_type() {
                    "system.org.rate_limit.violation" => "Rate limit exceeded",
                    "system.org.rate_limit.burst" => "Burst rate limit capacity in use",
                    _ => "Rate limit warning",
                };
                (format!("{head} on {endpoint}"), bucket.clone().unwrap_or_else(|| endpoint.clone()))
            }
            Limit::OrgConcurrency => {
                (format!("Org concurrency limit exceeded on {endpoint}"), bucket.clone().unwrap_or_else(|| endpoint.clone()))
            }
            Limit::Operation | Limit::OperationConcurrency => {
                let kind = op_type.clone().unwrap_or_else(|| "unknown operation".into());
                let sub = op_subtype.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                let scope = op_scope.as_ref().map(|s| format!(" per {}", s.to_lowercase())).unwrap_or_default();
                let head = if limit == Limit::Operation { "Operation rate limit" } else { "Operation concurrency limit" };
                (format!("{head} {verb}: {kind}{sub}{scope}"), format!("{kind}{sub}:{}", actor.as_deref().or(ip.as_deref()).unwrap_or("")))
            }
            Limit::Client | Limit::ClientConcurrency => {
                let from = ip.clone().unwrap_or_else(|| "unknown client".into());
                let head = if limit == Limit::Client { "Client rate limit" } else { "Client concurrency limit" };
                (format!("{head} {verb} by {from} on {endpoint}"), from)
            }
            Limit::OAuthClient => {
                let client = subject.clone().unwrap_or_else(|| "unknown client".into());
                (format!("OAuth client {client} used most of the org's OAuth 2.0 rate limit"), client)
            }
            Limit::Integration => {
                let app = subject.clone().unwrap_or_else(|| "unknown app".into());
                (format!("App integration rate limit exceeded for {app}"), app)
            }
        };
        if let Some(l) = &limit_text {
            title.push_str(&format!(" (limit {l})"));
        }
        // An app integration is often its own actor: name it once.
        if let Some(a) = actor.as_ref().filter(|a| subject.as_ref() != Some(*a)) {
            title.push_str(&format!(" by {a}"));
        }
        alerts.push(
            Alert::new(title)
                .severity(severity)
                .dedup(format!("{}:{what}", event.event_type()))
                .field("endpoint", uri)
                .field("bucket", bucket)
                .field("limit", limit_text)
                .field("scope", event.debug_data("rateLimitScopeType").or(op_scope))
                .field("operation", op_type)
                .field("operation_subtype", op_subtype)
                .field("subject", subject)
                .field("reason", event.outcome().reason)
                .field("actor", actor)
                .field("api_token_id", event.text("transaction.detail.requestApiTokenId"))
                .field("client_ip", ip),
        );
    }
}

/// "600 per 1 minute" from a threshold, a span and its unit (`MINUTES`, `SECONDS`).
fn limit_of(threshold: Option<String>, span: Option<String>, unit: Option<String>) -> Option<String> {
    match (threshold, span, unit) {
        (Some(n), Some(span), Some(unit)) => {
            let unit = unit.to_lowercase();
            let unit = if span == "1" { unit.trim_end_matches('s') } else { unit.as_str() };
            Some(format!("{n} per {span} {unit}"))
        }
        (Some(n), _, _) => Some(n),
        _ => None,
    }
}

export_detection!(RateLimitViolation);
