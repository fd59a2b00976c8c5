//! # Okta account lockout, and lockout bursts
//!
//! Rule: every `user.account.lock` (Okta locked an account after too many
//! failed sign-ins) is a low-severity alert for that user. When
//! `burst_users` or more distinct users are locked within
//! `burst_window_minutes`, a high-severity "lockout burst" alert is added
//! (once per window): a spray or brute force across the org, or an attempt
//! to deny service by locking accounts.
//!
//! Config keys (defaults):
//! - `burst_users = 5`
//! - `burst_window_minutes = 5`
//!
//! The locked user is the `User` target when present, else the actor (Okta
//! logs the lock with the locked user as actor).
//!
//! References: Okta event type `user.account.lock` ("Max sign in attempts
//! exceeded"); MITRE ATT&CK T1110 (Brute Force).
use oktawatch_guest::prelude::*;

struct AccountLockout {
    burst_users: u32,
    burst_window_minutes: u64,
}

impl Detection for AccountLockout {
    fn info() -> Info {
        Info::new("okta-account-lockout", "Okta account locked out")
            .severity(Severity::Low)
            .mitre(&["T1110"])
            .description(
                "An Okta account was locked after too many failed sign-ins; many accounts locked within \
                 minutes is reported as a high-severity lockout burst.",
            )
            .event_types(&["user.account.lock"])
            .config_int("burst_users", 5, "distinct users locked within the window that make a burst")
            .config_int("burst_window_minutes", 5, "the burst window")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = AccountLockout {
            burst_users: config.get("burst_users")?,
            burst_window_minutes: config.get("burst_window_minutes")?,
        };
        if d.burst_users == 0 || d.burst_window_minutes == 0 {
            return Err("burst_users and burst_window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.account.lock") {
            return;
        }
        let Some(user) = okta::affected_user(event, &event.targets()) else { return };
        let ip = event.client().ip();
        let reason = event.text("outcome.reason").or_else(|| event.display_message());

        alerts.push(
            Alert::new(format!("Okta account locked: {user}"))
                .dedup(format!("lock:{user}"))
                .field("user", &user)
                .field("ip", ip.as_deref())
                .field("country", event.text("client.geographicalContext.country"))
                .field("reason", reason),
        );

        let window = minutes(self.burst_window_minutes);
        let locked = state::distinct_in_window("locked", &user, window);
        if locked < self.burst_users || !state::once_per("burst", window) {
            return;
        }
        alerts.push(
            Alert::new(format!("Lockout burst: {locked} users locked out in {} min", self.burst_window_minutes))
                .severity(Severity::High)
                .dedup("burst")
                .field("locked_users", locked)
                .field("users", state::members_sample("locked", window, 20))
                .field("last_ip", ip)
                .field("window_minutes", self.burst_window_minutes),
        );
    }
}

export_detection!(AccountLockout);
