//! # Brute force against one Okta user
//!
//! Rule: one user collects `threshold` or more failed sign-ins
//! (`user.session.start` with `outcome.result` = `FAILURE`) within
//! `window_minutes`. Fires once per burst: after an alert the user is quiet
//! for one window.
//!
//! Config keys (defaults):
//! - `threshold = 10`: failed sign-ins that make a brute force
//! - `window_minutes = 15`: sliding window on the event clock
//!
//! The user is `actor.alternateId` (the login typed at the sign-in page, also
//! for unknown users), lower-cased.
//!
//! References: Okta System Log event type `user.session.start` (a failed
//! primary authentication is logged with outcome FAILURE and a reason such as
//! INVALID_CREDENTIALS or VERIFICATION_ERROR); MITRE ATT&CK T1110.001
//! (Password Guessing). Common SIEM guidance for Okta alerts on about ten
//! failures per account within a quarter hour.
use oktawatch_guest::prelude::*;

struct BruteForceUser {
    threshold: u32,
    window_minutes: u64,
}

impl Detection for BruteForceUser {
    fn info() -> Info {
        Info::new("okta-brute-force-user", "Okta brute force against one user")
            .severity(Severity::High)
            .mitre(&["T1110.001"])
            .description(
                "Many failed Okta sign-ins (user.session.start FAILURE) for one user in a short window: \
                 password guessing against that account.",
            )
            .event_types(&["user.session.start"])
            .config_int("threshold", 10, "failed sign-ins that make a brute force")
            .config_int("window_minutes", 15, "sliding window on the event clock")
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let threshold: u32 = config.get("threshold")?;
        let window_minutes: u64 = config.get("window_minutes")?;
        if threshold == 0 || window_minutes == 0 {
            return Err("threshold and window_minutes must be greater than 0".into());
        }
        Ok(BruteForceUser { threshold, window_minutes })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || !event.outcome_is("FAILURE") {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        let window = minutes(self.window_minutes);
        let ip = event.client().ip();

        let failures = state::count_in_window(&format!("fail:{user}"), window);
        let ips = state::distinct_if_known(&format!("ips:{user}"), ip.as_deref(), window);
        if failures < self.threshold || !state::once_per(&format!("fired:{user}"), window) {
            return;
        }

        alerts.push(
            Alert::new(format!("{failures} failed sign-ins for {user} in {} min", self.window_minutes))
                .dedup(user.clone())
                .field("user", &user)
                .field("failures", failures)
                .field("distinct_ips", ips)
                .field("last_ip", ip)
                .field("country", event.text("client.geographicalContext.country"))
                .field("reason", event.text("outcome.reason"))
                .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(BruteForceUser);
