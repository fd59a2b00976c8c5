//! # User lifecycle changes (info, off by default)
//!
//! Rule: every successful `user.lifecycle.*` event (create, activate,
//! deactivate, suspend, unsuspend, reactivate, delete, password mass
//! expiry) as an info alert naming the user, the change and who made it,
//! for teams that want an audit trail of accounts in Wazuh. **Off unless
//! `enabled = true`**: `enabled` is a key the host understands, so while it
//! is false the host neither indexes nor calls this detection (it is listed
//! as disabled; a reload of the config can turn it on).
//!
//! Config keys (defaults):
//! - `enabled = false`
//! - `changes = []`: only these suffixes of the event type (e.g.
//!   `["create", "deactivate"]`); empty = all
//!
//! References: Okta's event-type catalog (`user.lifecycle.*`); Panther's
//! and Sigma's Okta user lifecycle rules; MITRE ATT&CK T1136.003 (Create
//! Cloud Account) and T1531 (Account Access Removal).
use oktawatch_guest::prelude::*;

struct UserLifecycle {
    enabled: bool,
    changes: Vec<String>,
}

impl Detection for UserLifecycle {
    fn info() -> Info {
        Info::new("okta-user-lifecycle", "Okta user lifecycle change")
            .severity(Severity::Info)
            .mitre(&["T1136.003", "T1531"])
            .description("A user was created, activated, deactivated, suspended or deleted (info; off by default).")
            .event_types(&["user.lifecycle.*"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_bool("enabled", false, "on: every lifecycle change as an info alert")
            .config_list("changes", &[], "only these suffixes of the event type (e.g. create, deactivate); empty = all")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(UserLifecycle { enabled: config.get("enabled")?, changes: config.get("changes")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !self.enabled || event.failed() {
            return;
        }
        let change = event.event_type().trim_start_matches("user.lifecycle.").to_string();
        if !self.changes.is_empty() && !self.changes.iter().any(|c| c == &change) {
            return;
        }
        let user = okta::user_target(&event.targets()).unwrap_or_else(|| "unknown user".into());
        let actor = okta::actor_or_unknown(event);
        alerts.push(
            Alert::new(format!("User {user}: {} by {actor}", change.replace(['.', '_'], " ")))
                .field("user", &user)
                .field("change", change.as_str())
                .field("actor", &actor)
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(UserLifecycle);
