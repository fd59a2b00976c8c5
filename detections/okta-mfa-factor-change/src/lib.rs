//! # A user's MFA factor deactivated, suspended or reset; MFA bypass attempted
//!
//! Rule: one alert per event:
//! - `user.mfa.factor.deactivate` (one factor removed), `user.mfa.factor.suspend`
//!   (one factor suspended) or `user.mfa.factor.reset_all` (every factor of
//!   the user reset) → low, naming the user, the factor and who did it
//!   (the user themselves, an admin, or Okta support). Each one is a line of
//!   the audit trail; `okta-mfa-factor-removed-not-reenrolled` raises the
//!   medium alert when no new factor follows.
//! - `user.mfa.attempt_bypass` (Okta refused a sign-in that tried to skip
//!   the MFA step) → medium.
//!
//! Failed operations are ignored. The user is the `User` target, else the actor.
//!
//! Config keys (defaults):
//! - `include_self_service = true`: also report users changing their own
//!   factors (false: only changes by someone else)
//!
//! References: Okta event types `user.mfa.factor.deactivate`,
//! `user.mfa.factor.suspend`, `user.mfa.factor.reset_all`,
//! `user.mfa.attempt_bypass`; MITRE ATT&CK T1556.006 (Modify Authentication
//! Process: Multi-Factor Authentication).
use oktawatch_guest::prelude::*;

struct MfaFactorChange {
    include_self_service: bool,
}

impl Detection for MfaFactorChange {
    fn info() -> Info {
        Info::new("okta-mfa-factor-change", "Okta MFA factor deactivated, suspended or reset")
            .severity(Severity::Low)
            .mitre(&["T1556.006"])
            .description(
                "A user's MFA factor was deactivated or suspended, or all of them were reset (low); a sign-in \
                 tried to bypass MFA (medium).",
            )
            .event_types(&[
                "user.mfa.factor.deactivate",
                "user.mfa.factor.suspend",
                "user.mfa.factor.reset_all",
                "user.mfa.attempt_bypass",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("eventType", "user.mfa.attempt_bypass"))
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_bool("include_self_service", true, "also report users changing their own factors")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(MfaFactorChange { include_self_service: config.get("include_self_service")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let what = match event.event_type() {
            "user.mfa.factor.deactivate" => "deactivated",
            "user.mfa.factor.suspend" => "suspended",
            "user.mfa.factor.reset_all" => "reset (all factors)",
            "user.mfa.attempt_bypass" => "bypass",
            _ => return,
        };
        let outcome = event.outcome();
        let targets = event.targets();
        let user = okta::affected_user(event, &targets).unwrap_or_else(|| "unknown user".into());
        let actor = okta::actor_login(event).unwrap_or_else(|| "unknown actor".into());
        let ip = event.client().ip();
        if what == "bypass" {
            alerts.push(
                Alert::new(format!("MFA bypass attempted for {user} from {}", ip.as_deref().unwrap_or("unknown IP")))
                    .severity(Severity::Medium)
                    .dedup(format!("bypass:{user}:{}", ip.as_deref().unwrap_or("")))
                    .field("user", &user)
                    .field("ip", ip)
                    .field("outcome", outcome.result)
                    .field("reason", outcome.reason)
                    .field("country", event.text("client.geographicalContext.country")),
            );
            return;
        }
        if outcome.failure() {
            return;
        }
        let self_service = actor == user;
        if self_service && !self.include_self_service {
            return;
        }
        let factor = targets
            .iter()
            .find(|t| t.kind.as_deref() != Some("User"))
            .and_then(|t| t.display_name.clone())
            .or_else(|| event.debug_data("factor"));
        let by = if self_service { "by the user".to_string() } else { format!("by {actor}") };
        let title = match &factor {
            Some(f) if what != "reset (all factors)" => format!("MFA factor {f} of {user} {what} {by}"),
            _ => format!("MFA factor of {user} {what} {by}"),
        };
        alerts.push(
            Alert::new(title)
                .dedup(format!("{}:{user}:{}", event.event_type(), factor.as_deref().unwrap_or("")))
                .field("user", &user)
                .field("actor", &actor)
                .field("factor", factor)
                .field("action", event.event_type())
                .field("self_service", self_service)
                .field("ip", ip),
        );
    }
}

export_detection!(MfaFactorChange);
