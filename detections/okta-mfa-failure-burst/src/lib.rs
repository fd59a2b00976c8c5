//! # Burst of MFA failures or abandons for one user
//!
//! Rule: `threshold` or more MFA failures for one user within
//! `window_minutes`. An MFA failure is a `user.authentication.auth_via_mfa`
//! with `outcome.result` FAILURE, or any outcome whose `outcome.reason`
//! mentions an abandoned challenge. Someone holds the password and keeps
//! trying factors (guessing codes, pushing, giving up and retrying).
//! One alert per user per window.
//!
//! Config keys (defaults):
//! - `threshold = 5`
//! - `window_minutes = 10`
//!
//! References: Okta event type `user.authentication.auth_via_mfa`
//! ("Authentication of user via MFA"); MITRE ATT&CK T1621 (MFA Request
//! Generation). Repeated second-factor failures after a correct password are
//! a standard account-takeover signal in Okta SIEM content.
use oktawatch_guest::prelude::*;

struct MfaFailureBurst {
    threshold: u32,
    window_minutes: u64,
}

impl Detection for MfaFailureBurst {
    fn info() -> Info {
        Info::new("okta-mfa-failure-burst", "Okta MFA failure burst for one user")
            .severity(Severity::Medium)
            .mitre(&["T1621"])
            .description(
                "Many failed or abandoned Okta MFA challenges for one user in a few minutes: someone with \
                 the password is trying to get past the second factor.",
            )
            .event_types(&["user.authentication.auth_via_mfa"])
            .config_int("threshold", 5, "MFA failures that make a burst")
            .config_int("window_minutes", 10, "sliding window on the event clock")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let threshold = config.u32("threshold", 5);
        let window_minutes = config.u64("window_minutes", 10);
        if threshold == 0 || window_minutes == 0 {
            return Err("threshold and window_minutes must be greater than 0".into());
        }
        Ok(MfaFailureBurst { threshold, window_minutes })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.authentication.auth_via_mfa") {
            return;
        }
        let outcome = event.outcome();
        let abandoned = outcome.reason.as_deref().is_some_and(|r| r.to_ascii_lowercase().contains("abandon"));
        if !outcome.is("FAILURE") && !abandoned {
            return;
        }
        let Some(user) = event.actor().alternate_id().map(|u| u.to_lowercase()) else { return };
        let window = minutes(self.window_minutes);
        let failures = state::count_in_window(&format!("mfafail:{user}"), window);
        if failures < self.threshold {
            return;
        }
        let fired = format!("fired:{user}");
        if state::marked(&fired) {
            return;
        }
        state::mark(&fired, window);

        alerts.push(
            Alert::new(format!("{failures} MFA failures for {user} in {} min", self.window_minutes))
                .dedup(user.clone())
                .field("user", &user)
                .field("failures", failures)
                .field("last_reason", outcome.reason)
                .field("factor", event.debug_data("factor"))
                .field("ip", event.client().ip())
                .field("country", event.text("client.geographicalContext.country"))
                .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(MfaFailureBurst);
