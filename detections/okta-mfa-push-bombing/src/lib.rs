//! # Okta Verify push bombing (MFA fatigue)
//!
//! Rule: per user, either of:
//! - `deny_threshold` or more denied or failed pushes within
//!   `deny_window_minutes`. A denied push is `user.mfa.okta_verify.deny_push`
//!   (Classic), or `user.authentication.auth_via_mfa` with outcome FAILURE
//!   whose factor is a push (`debugContext.debugData.factor` like
//!   `OKTA_VERIFY_PUSH`, or a target `detailEntry.methodTypeUsed` naming a
//!   push). Identity Engine logs a denied push as an `auth_via_mfa` FAILURE
//!   with reason `INVALID_CREDENTIALS`, so such a failure with no factor
//!   information also counts; a failure of a known non-push factor does not.
//! - `push_threshold` or more pushes sent (`system.push.send_factor_verify_push`)
//!   within `push_window_minutes`.
//!
//! One alert per user per window.
//!
//! Config keys (defaults):
//! - `deny_threshold = 3`, `deny_window_minutes = 5`
//! - `push_threshold = 10`, `push_window_minutes = 10`
//!
//! References: MITRE ATT&CK T1621 (Multi-Factor Authentication Request
//! Generation); Okta's guidance on push fatigue (number challenge, ThreatInsight)
//! and public Okta push-spam analytics that pair `system.push.send_factor_verify_push`
//! with denied `auth_via_mfa` results.
use oktawatch_guest::okta::PushStep;
use oktawatch_guest::prelude::*;

struct PushBombing {
    rule: okta::PushBombing,
}

impl Detection for PushBombing {
    fn info() -> Info {
        okta::PushBombing::declare(
            Info::new("okta-mfa-push-bombing", "Okta Verify push bombing")
                .severity(Severity::High)
                .mitre(&["T1621"])
                .description(
                    "A user receives a flood of Okta Verify pushes or denies several in a few minutes: \
                     someone with the password is trying to wear the user down into approving.",
                ),
        )
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_equals("eventType", "user.authentication.auth_via_mfa"))
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let rule = okta::PushBombing::from_config(config)?;
        if rule.has_zero() {
            return Err("thresholds and windows must be greater than 0".into());
        }
        Ok(PushBombing { rule })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let push = okta::push_step(event);
        if !matches!(push, PushStep::Denied | PushStep::Sent) {
            return;
        }
        let Some(user) = okta::subject_user(event) else { return };
        let Some((count, threshold, window_minutes, what)) = self.rule.count(push, &user) else { return };
        if count < threshold || !state::once_per(&format!("fired:{user}"), minutes(window_minutes)) {
            return;
        }

        alerts.push(
            Alert::new(format!("Okta Verify push bombing against {user}: {count} {what} in {window_minutes} min"))
                .dedup(user.clone())
                .field("user", &user)
                .field("count", count)
                .field("kind", what)
                .field("ip", event.client().ip())
                .field("country", event.text("client.geographicalContext.country"))
                .field("session_id", event.session_id())
                .field("window_minutes", window_minutes),
        );
    }
}

export_detection!(PushBombing);
