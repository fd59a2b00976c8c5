//! # Burst of MFA failures or abandons for one user
//!
//! Rule: `threshold` or more MFA failures for one user within
//! `window_minutes`, or `non_push_threshold` (lower) or more of them with a
//! factor that is not a push (SMS, email, voice, TOTP, security question:
//! `debugData.factor` / `target[].detailEntry.methodTypeUsed`). A wrong code
//! is a guess; push failures are left to the push-bombing detections. An MFA failure is a `user.authentication.auth_via_mfa`
//! with `outcome.result` FAILURE, or any outcome whose `outcome.reason`
//! mentions an abandoned challenge. Someone holds the password and keeps
//! trying factors (guessing codes, pushing, giving up and retrying).
//! One alert per user per window.
//!
//! Config keys (defaults):
//! - `threshold = 5`
//! - `window_minutes = 10`
//! - `non_push_threshold = 3`: failures of non-push factors that are enough
//!
//! References: Okta event type `user.authentication.auth_via_mfa`
//! ("Authentication of user via MFA"); MITRE ATT&CK T1621 (MFA Request
//! Generation). Repeated second-factor failures after a correct password are
//! a standard account-takeover signal in Okta SIEM content.
use oktawatch_guest::prelude::*;

struct MfaFailureBurst {
    threshold: u32,
    window_minutes: u64,
    non_push_threshold: u32,
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
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
            .prefilter(Prefilter::new().exists("outcome.reason"))
            .config_int("threshold", 5, "MFA failures for one user that make a burst")
            .config_int("window_minutes", 10, "the window")
            .config_int("non_push_threshold", 3, "failures of non-push factors that are enough on their own")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let threshold: u32 = config.get("threshold")?;
        let window_minutes: u64 = config.get("window_minutes")?;
        let non_push_threshold: u32 = config.get("non_push_threshold")?;
        if threshold == 0 || window_minutes == 0 || non_push_threshold == 0 {
            return Err("threshold, non_push_threshold and window_minutes must be greater than 0".into());
        }
        Ok(MfaFailureBurst { threshold, window_minutes, non_push_threshold })
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
        let Some(user) = okta::actor_login(event) else { return };
        let window = minutes(self.window_minutes);
        let failures = state::count_in_window(&format!("mfafail:{user}"), window);
        let factor = okta::factor(event);
        let non_push = match factor.as_deref() {
            Some(f) if !okta::is_push(f) => state::count_in_window(&format!("nonpush:{user}"), window),
            _ => state::peek_count(&format!("nonpush:{user}"), window),
        };
        if failures < self.threshold && non_push < self.non_push_threshold {
            return;
        }
        if !state::once_per(&format!("fired:{user}"), window) {
            return;
        }

        alerts.push(
            Alert::new(format!("{failures} MFA failures for {user} in {} min", self.window_minutes))
                .dedup(user.clone())
                .field("user", &user)
                .field("failures", failures)
                .field("last_reason", outcome.reason)
                .field("factor", factor)
                .field("non_push_failures", non_push)
                .field("ip", event.client().ip())
                .field("country", event.text("client.geographicalContext.country"))
                .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(MfaFailureBurst);
