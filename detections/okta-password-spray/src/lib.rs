//! # Password spray from one IP
//!
//! Rule: within `window_minutes`, one source IP produces failed sign-ins
//! (`user.session.start`, `outcome.result` = `FAILURE`) for at least
//! `min_users` distinct users and at least `min_failures` failures in total,
//! while no single user from that IP exceeds `max_failures_per_user`
//! failures. Few tries against many accounts is a spray; many tries against
//! one account is brute force (see `okta-brute-force-user`), so an IP with a
//! user above the per-user cap is not reported here for that window.
//! Fires once per IP per window.
//!
//! Config keys (defaults):
//! - `min_users = 5`: distinct users failing from the IP
//! - `min_failures = 15`: failures from the IP
//! - `max_failures_per_user = 8`: above this for any one user it is brute force, not spray
//! - `window_minutes = 60`
//!
//! References: MITRE ATT&CK T1110.003 (Password Spraying); Okta's guidance on
//! password spraying and ThreatInsight describes the same shape: one origin,
//! many usernames, a handful of common passwords each.
use oktawatch_guest::prelude::*;

struct PasswordSpray {
    min_users: u32,
    min_failures: u32,
    max_failures_per_user: u32,
    window_minutes: u64,
}

impl Detection for PasswordSpray {
    fn info() -> Info {
        Info::new("okta-password-spray", "Okta password spray from one IP")
            .severity(Severity::High)
            .mitre(&["T1110.003"])
            .description(
                "One IP fails Okta sign-ins for many different users, a few tries each, within an hour: \
                 a password spray.",
            )
            .event_types(&["user.session.start"])
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = PasswordSpray {
            min_users: config.u32("min_users", 5),
            min_failures: config.u32("min_failures", 15),
            max_failures_per_user: config.u32("max_failures_per_user", 8),
            window_minutes: config.u64("window_minutes", 60),
        };
        if d.min_users == 0 || d.min_failures == 0 || d.window_minutes == 0 {
            return Err("min_users, min_failures and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || event.text("outcome.result").as_deref() != Some("FAILURE") {
            return;
        }
        let Some(ip) = event.client().ip() else { return };
        let Some(user) = event.actor().alternate_id().map(|u| u.to_lowercase()) else { return };
        let window = minutes(self.window_minutes);

        let failures = state::count_in_window(&format!("fail:{ip}"), window);
        let users = state::distinct_in_window(&format!("users:{ip}"), &user, window);
        let per_user = state::count_in_window(&format!("fail:{ip}:{user}"), window);
        let heavy = format!("heavy:{ip}");
        if per_user > self.max_failures_per_user {
            // One account hammered from this IP: brute force, not spray.
            state::mark(&heavy, window);
            return;
        }
        if users < self.min_users || failures < self.min_failures || state::marked(&heavy) {
            return;
        }
        let fired = format!("fired:{ip}");
        if state::marked(&fired) {
            return;
        }
        state::mark(&fired, window);

        let mut sample = state::distinct_members(&format!("users:{ip}"), window);
        sample.sort();
        sample.truncate(10);
        alerts.push(
            Alert::new(format!(
                "Password spray from {ip}: {failures} failed sign-ins across {users} users in {} min",
                self.window_minutes
            ))
            .dedup(ip.clone())
            .field("ip", &ip)
            .field("failures", failures)
            .field("distinct_users", users)
            .field("users_sample", sample.join(", "))
            .field("country", event.text("client.geographicalContext.country"))
            .field("as_org", event.text("securityContext.asOrg"))
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(PasswordSpray);
