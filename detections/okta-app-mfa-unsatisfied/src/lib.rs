//! # App sign-on MFA challenges left unsatisfied for several apps
//!
//! Rule: within `window_minutes`, one user is challenged for MFA by the
//! sign-on policy of at least `min_apps` distinct apps
//! (`policy.evaluate_sign_on` with `outcome.result` = `CHALLENGE` and an
//! `AppInstance` target) and none of those challenges is followed by a
//! successful single sign-on to that app (`user.authentication.sso`,
//! `SUCCESS`) within the window. Someone with the user's password (or a
//! stolen primary session) is trying app after app and stops at the second
//! factor. Fires once per user per window.
//!
//! Config keys (defaults):
//! - `min_apps = 3`
//! - `window_minutes = 30`
//!
//! References: Okta's LogEvent for `policy.evaluate_sign_on` (outcome
//! `CHALLENGE`, the app as target); Elastic's "MFA challenge abandoned" and
//! Okta's "MFA abandonment" detections; MITRE ATT&CK T1078 (Valid Accounts)
//! and T1621.
use oktawatch_guest::prelude::*;

struct AppMfaUnsatisfied {
    min_apps: u32,
    window_minutes: u64,
}

impl Detection for AppMfaUnsatisfied {
    fn info() -> Info {
        Info::new("okta-app-mfa-unsatisfied", "Okta app sign-on MFA challenges left unsatisfied for several apps")
            .severity(Severity::Medium)
            .mitre(&["T1078", "T1621"])
            .description(
                "One user was challenged for MFA by several apps' sign-on policies within half an hour and \
                 passed none: someone holding the password is trying app after app.",
            )
            .event_types(&["policy.evaluate_sign_on", "user.authentication.sso"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(
                Prefilter::new()
                    .equals("eventType", "user.authentication.sso")
                    .equals("outcome.result", "SUCCESS"),
            )
            .prefilter(
                Prefilter::new()
                    .equals("eventType", "policy.evaluate_sign_on")
                    .equals("outcome.result", "CHALLENGE"),
            )
            .config_int("min_apps", 3, "distinct apps whose MFA challenge was left unsatisfied")
            .config_int("window_minutes", 30, "the window")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = AppMfaUnsatisfied { min_apps: config.get("min_apps")?, window_minutes: config.get("window_minutes")? };
        if d.min_apps == 0 || d.window_minutes == 0 {
            return Err("min_apps and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some(user) = okta::actor_login(event) else { return };
        let Some(app) = event.target_of_type("AppInstance").and_then(|t| t.id.or(t.alternate_id).or(t.display_name)) else {
            return;
        };
        let window = minutes(self.window_minutes);
        let outcome = event.outcome();
        if event.is("user.authentication.sso") {
            if outcome.is("SUCCESS") {
                state::remember(&format!("ok:{user}:{app}"), "1", window);
            }
            return;
        }
        if !outcome.is("CHALLENGE") {
            return;
        }
        let key = format!("challenged:{user}");
        state::distinct_in_window(&key, &app, window);
        let pending: Vec<String> = state::distinct_members(&key, window)
            .into_iter()
            .filter(|a| state::recall(&format!("ok:{user}:{a}")).is_none())
            .collect();
        if (pending.len() as u32) < self.min_apps {
            return;
        }
        if !state::once_per(&user, window) {
            return;
        }
        alerts.push(
            Alert::new(format!(
                "MFA challenges for {user} left unsatisfied on {} apps within {} min",
                pending.len(),
                self.window_minutes
            ))
            .dedup(user.clone())
            .field("user", &user)
            .field("apps", pending.len())
            .field("app_ids", pending.join(", "))
            .field("ip", event.client().ip())
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(AppMfaUnsatisfied);
