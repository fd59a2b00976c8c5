//! # Okta's own session and user risk signals
//!
//! Rule, either of:
//! - `security.session.detect_client_roaming`: Okta saw an existing session
//!   move to a different client IP (session roaming) → high.
//! - `user.risk.detect`: Okta (or a risk provider feeding it) raised a user's
//!   risk. The level is read from `debugContext.debugData.risk`
//!   (e.g. `{previousLevel=LOW, level=HIGH, reasons=...}`), else
//!   `debugData.riskLevel`: HIGH → high; MEDIUM, LOW or unknown → medium.
//!   Levels below `min_level` are ignored.
//!
//! (`security.threat.detected`, ThreatInsight's IP verdicts, belongs to another detection.)
//!
//! Config keys (defaults):
//! - `min_level = "low"`: lowest risk level that alerts (`low`, `medium`, `high`)
//!
//! References: Okta Identity Threat Protection (entity risk, session
//! roaming); Okta event types `security.session.detect_client_roaming` and
//! `user.risk.detect`; MITRE ATT&CK T1539 (Steal Web Session Cookie).
use oktawatch_guest::prelude::*;

struct SessionRiskSignal {
    min_level: u8,
}

fn level_rank(level: &str) -> Option<u8> {
    match level.to_ascii_uppercase().as_str() {
        "LOW" => Some(1),
        "MEDIUM" => Some(2),
        "HIGH" => Some(3),
        _ => None,
    }
}

impl Detection for SessionRiskSignal {
    fn info() -> Info {
        Info::new("okta-session-risk-signal", "Okta session roaming or user risk detected")
            .severity(Severity::High)
            .mitre(&["T1539"])
            .description(
                "Okta itself flagged a session moving between clients (session roaming) or raised a \
                 user's risk level.",
            )
            .event_types(&["security.session.detect_client_roaming", "user.risk.detect"])
            .config_text("min_level", "low", "lowest risk level that alerts: low, medium or high")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let text: String = config.get("min_level")?;
        let min_level =
            level_rank(&text).ok_or_else(|| format!("min_level must be low, medium or high, not {text:?}"))?;
        Ok(SessionRiskSignal { min_level })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        match event.event_type() {
            "security.session.detect_client_roaming" => self.roaming(event, alerts),
            "user.risk.detect" => self.risk(event, alerts),
            _ => {}
        }
    }
}

impl SessionRiskSignal {
    fn roaming(&self, event: &Event, alerts: &mut Alerts) {
        let user = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let ip = event.client().ip();
        let geo = event.client().geo();
        let sid = event.session_id();
        let place = [geo.city.as_deref(), geo.country.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
        let place = if place.is_empty() { String::new() } else { format!(" ({place})") };
        alerts.push(
            Alert::new(format!(
                "Okta detected session roaming for {user}: session now used from {}{place}",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .severity(Severity::High)
            .dedup(format!("roam:{}", sid.as_deref().unwrap_or(&user)))
            .field("user", &user)
            .field("ip", ip)
            .field("city", geo.city)
            .field("country", geo.country)
            .field("as_org", event.text("securityContext.asOrg"))
            .field("session_id", sid)
            .field("user_agent", event.client().user_agent()),
        );
    }

    fn risk(&self, event: &Event, alerts: &mut Alerts) {
        let risk = event.debug_data("risk");
        let level = okta::risk_level(event);
        let rank = level.as_deref().and_then(level_rank);
        if rank.is_some_and(|r| r < self.min_level) || (rank.is_none() && self.min_level > 1) {
            return;
        }
        let user = okta::affected_user(event, &event.targets()).unwrap_or_else(|| "unknown user".into());
        let level_text = level.clone().unwrap_or_else(|| "UNKNOWN".into());
        let severity = if rank == Some(3) { Severity::High } else { Severity::Medium };
        alerts.push(
            Alert::new(format!("Okta detected {level_text} user risk for {user}"))
                .severity(severity)
                .dedup(format!("risk:{user}:{level_text}"))
                .field("user", &user)
                .field("risk_level", &level_text)
                .field("risk", risk)
                .field("ip", event.client().ip())
                .field("country", event.text("client.geographicalContext.country"))
                .field("reason", event.text("outcome.reason")),
        );
    }
}

export_detection!(SessionRiskSignal);
