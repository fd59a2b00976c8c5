//! # A user changed their own password (info, off by default)
//!
//! Rule: a successful `user.account.update_password` where the actor is the
//! user whose password changed (the `User` target is the actor, by id or
//! login, or there is no `User` target): the user's own change, as an info
//! alert, for teams that track credential changes in Wazuh. A change made
//! by someone else is not this detection's (see `okta-support-reset`, and
//! the admin-reset detections). **Off unless `enabled = true`** (a key the
//! host understands: while it is false the host does not call the detection).
//!
//! Config keys (defaults):
//! - `enabled = false`
//!
//! References: Okta's event-type catalog (`user.account.update_password`);
//! Panther's "Okta password changed" rule; MITRE ATT&CK T1098 (Account Manipulation).
use oktawatch_guest::prelude::*;

struct OwnPasswordChange {
    enabled: bool,
}

impl Detection for OwnPasswordChange {
    fn info() -> Info {
        Info::new("okta-own-password-change", "Okta user changed their own password")
            .severity(Severity::Info)
            .mitre(&["T1098"])
            .description("A user changed their own Okta password (info; off by default).")
            .event_types(&["user.account.update_password"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().one_of("outcome.result", &["SUCCESS", "ALLOW"]))
            .config_bool("enabled", false, "on: every own password change as an info alert")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(OwnPasswordChange { enabled: config.get("enabled")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !self.enabled || !event.succeeded() {
            return;
        }
        let actor = event.actor();
        let (actor_id, login) = (actor.id(), actor.alternate_id());
        if let Some(t) = event.target_of_type("User") {
            let same = (t.id.is_some() && t.id == actor_id)
                || (t.alternate_id.is_some()
                    && t.alternate_id.as_deref().map(str::to_lowercase) == login.as_deref().map(str::to_lowercase));
            if !same {
                return;
            }
        }
        let login = login.unwrap_or_else(|| "unknown user".into());
        alerts.push(
            Alert::new(format!("{login} changed their own Okta password"))
                .field("user", &login)
                .field("ip", event.client().ip())
                .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(OwnPasswordChange);
