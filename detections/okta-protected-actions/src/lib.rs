//! # Okta protected actions: settings changed, action attempted
//!
//! Rule: two alerts on Okta's protected actions (the admin operations Okta
//! re-verifies with a fresh MFA step):
//! - `security.protected_action.settings.update` (high): someone changed
//!   which actions are protected or how, turning off the extra check an
//!   attacker with an admin session would meet;
//! - `security.protected_action.attempt` (medium; high when the action, the
//!   first target's `displayName`, matches one of `high_actions`, or when
//!   the step-up was not passed, `outcome.result` other than `SUCCESS`).
//!
//! Config keys (defaults):
//! - `high_actions = ["super admin"]`: case-insensitive fragments of action
//!   names (Okta writes e.g. "Reset passwords for super admins") whose attempt is high
//! - `alert_attempts = true`: set false to keep only settings changes
//!
//! References: Okta's event-type catalog (`security.protected_action.*`);
//! Okta's customer detections "Protected action settings update" and
//! "Protected action: super admin password reset"; MITRE ATT&CK T1556
//! (Modify Authentication Process) and T1098 (Account Manipulation).
use oktawatch_guest::prelude::*;

struct ProtectedActions {
    high_actions: Vec<String>,
    alert_attempts: bool,
}

impl Detection for ProtectedActions {
    fn info() -> Info {
        Info::new("okta-protected-actions", "Okta protected actions changed or attempted")
            .severity(Severity::High)
            .mitre(&["T1556", "T1098"])
            .description(
                "Okta's protected-actions settings were changed, or a protected admin action (such as resetting \
                 a super admin's password) was attempted.",
            )
            .event_types(&["security.protected_action.settings.update", "security.protected_action.attempt"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("eventType", "security.protected_action.attempt"))
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("high_actions", &["super admin"], "case-insensitive fragments of action names whose attempt is high")
            .config_bool("alert_attempts", true, "false keeps only settings changes")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let high_actions: Vec<String> = config.get("high_actions")?;
        Ok(ProtectedActions {
            high_actions: high_actions.iter().map(|s| s.to_lowercase()).collect(),
            alert_attempts: config.get("alert_attempts")?,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let actor = okta::actor_or_unknown(event);
        let outcome = event.outcome();
        let ip = event.client().ip();
        if event.is("security.protected_action.settings.update") {
            if outcome.failure() {
                return;
            }
            alerts.push(
                Alert::new(format!("Okta protected-actions settings changed by {actor}"))
                    .dedup(format!("settings|{actor}"))
                    .field("actor", &actor)
                    .field("ip", ip)
                    .field("change", event.display_message()),
            );
            return;
        }
        if !event.is("security.protected_action.attempt") || !self.alert_attempts {
            return;
        }
        let action = event.str("target[0].displayName").unwrap_or_else(|| "a protected action".into());
        let lower = action.to_lowercase();
        let passed = outcome.is("SUCCESS");
        let high = !passed || self.high_actions.iter().any(|h| lower.contains(h.as_str()));
        let result = outcome.result.clone().unwrap_or_else(|| "UNKNOWN".into());
        alerts.push(
            Alert::new(format!("Protected action attempted by {actor}: {action} ({result})"))
                .severity(if high { Severity::High } else { Severity::Medium })
                .dedup(format!("attempt|{actor}|{action}|{result}"))
                .field("actor", &actor)
                .field("action", &action)
                .field("result", result)
                .field("reason", outcome.reason)
                .field("ip", ip),
        );
    }
}

export_detection!(ProtectedActions);
