//! Okta org rate limits hit: API abuse, enumeration, or a denial of service.
//!
//! Okta logs `system.org.rate_limit.warning` when an API endpoint's bucket
//! passes a share of its limit and `system.org.rate_limit.violation` when the
//! limit is exceeded and requests are refused. Credential stuffing, user
//! enumeration and runaway scripts with a stolen token all end up here.
//!
//! Rule: a violation → medium; a warning → low (unless
//! `include_warnings = false`). The bucket (`debugData.rateLimitBucketUuid`,
//! else the `Bucket Uuid` target) and the endpoint
//! (`debugData.requestUri`, else the `URL Pattern` target) name the alert and
//! key its deduplication, so a hot bucket gives one alert per suppression
//! window.
//!
//! Config:
//! - `include_warnings` (bool): report warnings too. Default true.
//! - `ignore_uris` (list of strings): endpoints (request URIs) not reported,
//!   e.g. a busy log collector's `/api/v1/logs`. Default none.
use oktawatch_guest::prelude::*;

struct RateLimitViolation {
    include_warnings: bool,
    ignore_uris: Vec<String>,
}

impl Detection for RateLimitViolation {
    fn info() -> Info {
        Info::new("okta-rate-limit-violation", "Okta org rate limit violated")
            .severity(Severity::Medium)
            .mitre(&["T1499"])
            .description("An Okta org rate limit was exceeded (medium) or nearly reached (low).")
            .event_types(&["system.org.rate_limit.violation", "system.org.rate_limit.warning"])
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(RateLimitViolation {
            include_warnings: config.bool("include_warnings", true),
            ignore_uris: config.strings("ignore_uris"),
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (what, severity) = match event.event_type() {
            "system.org.rate_limit.violation" => ("Rate limit exceeded", Severity::Medium),
            "system.org.rate_limit.warning" if self.include_warnings => ("Rate limit warning", Severity::Low),
            _ => return,
        };

        // Bucket and endpoint: debugData first, targets as the fallback.
        let mut bucket = event.debug_data("rateLimitBucketUuid");
        let mut uri = event.debug_data("requestUri");
        if bucket.is_none() || uri.is_none() {
            for t in event.targets() {
                match t.kind.as_deref() {
                    Some("Bucket Uuid") if bucket.is_none() => bucket = t.id,
                    Some("URL Pattern") if uri.is_none() => uri = t.id,
                    _ => {}
                }
            }
        }
        if uri.as_ref().is_some_and(|u| self.ignore_uris.contains(u)) {
            return;
        }

        let endpoint = uri.clone().unwrap_or_else(|| "unknown endpoint".into());
        let limit = match (event.debug_data("threshold"), event.debug_data("timeSpan"), event.debug_data("timeUnit")) {
            (Some(n), Some(span), Some(unit)) => {
                let unit = unit.to_lowercase();
                let unit = if span == "1" { unit.trim_end_matches('s') } else { unit.as_str() };
                Some(format!("{n} per {span} {unit}"))
            }
            (Some(n), _, _) => Some(n),
            _ => None,
        };
        let actor = event.actor().alternate_id();
        let mut title = format!("{what} on {endpoint}");
        if let Some(l) = &limit {
            title.push_str(&format!(" (limit {l})"));
        }
        if let Some(a) = &actor {
            title.push_str(&format!(" by {a}"));
        }
        alerts.push(
            Alert::new(title)
                .severity(severity)
                .dedup(format!("{}:{}", event.event_type(), bucket.as_deref().unwrap_or(&endpoint)))
                .field("endpoint", uri)
                .field("bucket", bucket)
                .field("limit", limit)
                .field("scope", event.debug_data("rateLimitScopeType"))
                .field("actor", actor)
                .field("api_token_id", event.text("transaction.detail.requestApiTokenId"))
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(RateLimitViolation);
