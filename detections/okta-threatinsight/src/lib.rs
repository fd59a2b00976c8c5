//! Okta ThreatInsight: requests from IPs Okta rates as malicious.
//!
//! ThreatInsight scores sign-in traffic across all Okta orgs and logs
//! `security.threat.detected` for requests from IPs behind password sprays,
//! credential stuffing or scanning; in block mode it also refuses them
//! (`security.request.blocked`, or the detected event with outcome `DENY`).
//!
//! Rule:
//! - `security.threat.detected`: the severity follows the event's own: Okta
//!   `severity` `ERROR` → high, `WARN` → medium, anything else → low, raised
//!   to at least medium when `debugData.threatSuspected` is true. When the
//!   request was refused (outcome `DENY`) the alert is one level lower: the
//!   attempt failed, but somebody is attacking.
//! - `security.request.blocked` → low.
//!
//! Config:
//! - `ignore_ips` (list of strings): client IPs not reported (an authorised
//!   scanner, a pentest box). Default none.
use oktawatch_guest::prelude::*;

struct ThreatInsight {
    ignore_ips: Vec<String>,
}

impl Detection for ThreatInsight {
    fn info() -> Info {
        Info::new("okta-threatinsight", "Okta ThreatInsight threat detected")
            .severity(Severity::Medium)
            .mitre(&["T1110", "T1595"])
            .description(
                "Okta ThreatInsight flagged (or blocked) requests from an IP it rates as malicious; severity \
                 follows the event's, one level lower when the request was denied.",
            )
            .event_types(&["security.threat.detected", "security.request.blocked"])
            .config_list("ignore_ips", &[], "client IPs not reported (an authorised scanner)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(ThreatInsight { ignore_ips: config.get("ignore_ips")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let detected = match event.event_type() {
            "security.threat.detected" => true,
            "security.request.blocked" => false,
            _ => return,
        };
        let ip = event.client().ip();
        if ip.as_ref().is_some_and(|ip| self.ignore_ips.contains(ip)) {
            return;
        }
        let result = event.text("outcome.result");
        let denied = result.as_deref() == Some("DENY");

        let severity = if detected {
            let okta = event.okta_severity().unwrap_or_default().to_ascii_uppercase();
            let mut s = match okta.as_str() {
                "ERROR" => Severity::High,
                "WARN" => Severity::Medium,
                _ => Severity::Low,
            };
            let suspected = event.debug_data("threatSuspected").is_some_and(|t| t.eq_ignore_ascii_case("true"));
            if suspected && s == Severity::Low {
                s = Severity::Medium;
            }
            if denied { okta::lower(s) } else { s }
        } else {
            Severity::Low
        };

        let source = ip.clone().unwrap_or_else(|| "unknown IP".into());
        let reason = event.text("outcome.reason");
        let mut title = if detected {
            format!("ThreatInsight threat detected from {source}")
        } else {
            format!("ThreatInsight blocked a request from {source}")
        };
        if detected && denied {
            title.push_str(" (request denied)");
        }
        if let Some(r) = &reason {
            title.push_str(&format!(": {r}"));
        }
        alerts.push(
            Alert::new(title)
                .severity(severity)
                .dedup(format!("{}:{source}", event.event_type()))
                .field("client_ip", ip)
                .field("outcome", result)
                .field("reason", reason)
                .field("threat_detections", event.debug_data("threatDetections"))
                .field("request_uri", event.debug_data("requestUri"))
                .field("target_user", event.actor().alternate_id())
                .field("country", event.text("client.geographicalContext.country")),
        );
    }
}

export_detection!(ThreatInsight);
