//! # Password spray, and many failed sign-ins, from one IP
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
//! Second rule, whatever the users: one IP collects `ip_failures` or more
//! failed sign-ins within `window_minutes` (one account hammered or many,
//! spray shape or not) → "many failed sign-ins from one IP", medium, once per
//! IP per window. A spray alert and this one may both fire for one IP: they
//! say different things (the spread, the volume).
//!
//! Config keys (defaults):
//! - `min_users = 5`: distinct users failing from the IP
//! - `min_failures = 15`: failures from the IP
//! - `max_failures_per_user = 8`: above this for any one user it is brute force, not spray
//! - `window_minutes = 60`
//! - `ip_failures = 25`: failures from one IP, whatever the users, for the volume alert (0 = off)
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
    ip_failures: u32,
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
            .config_int("min_users", 5, "distinct users failing from the IP")
            .config_int("min_failures", 15, "failures from the IP")
            .config_int("max_failures_per_user", 8, "above this for any one user it is brute force, not spray")
            .config_int("window_minutes", 60, "the window")
            .config_int("ip_failures", 25, "failures from one IP, whatever the users, that alert on their own (0 = off)")
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = PasswordSpray {
            min_users: config.get("min_users")?,
            min_failures: config.get("min_failures")?,
            max_failures_per_user: config.get("max_failures_per_user")?,
            window_minutes: config.get("window_minutes")?,
            ip_failures: config.get("ip_failures")?,
        };
        if d.min_users == 0 || d.min_failures == 0 || d.window_minutes == 0 {
            return Err("min_users, min_failures and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || !event.outcome_is("FAILURE") {
            return;
        }
        let Some(ip) = event.client().ip() else { return };
        let Some(user) = okta::actor_login(event) else { return };
        let window = minutes(self.window_minutes);

        let failures = state::count_in_window(&format!("fail:{ip}"), window);
        let users = state::distinct_in_window(&format!("users:{ip}"), &user, window);
        let per_user = state::count_in_window(&format!("fail:{ip}:{user}"), window);
        if self.ip_failures > 0 && failures >= self.ip_failures && state::once_per(&format!("volume:{ip}"), window) {
            let title = format!(
                "{failures} failed sign-ins from {ip} in {} min ({})",
                self.window_minutes,
                okta::plural(users, "user", "users")
            );
            let alert = Alert::new(title).severity(Severity::Medium).dedup(format!("volume:{ip}"));
            alerts.push(self.described(alert, event, &ip, failures, users));
        }
        let heavy = format!("heavy:{ip}");
        if per_user > self.max_failures_per_user {
            // One account hammered from this IP: brute force, not spray.
            state::mark(&heavy, window);
            return;
        }
        if users < self.min_users || failures < self.min_failures || state::marked(&heavy) {
            return;
        }
        if !state::once_per(&format!("fired:{ip}"), window) {
            return;
        }
        let title = format!(
            "Password spray from {ip}: {failures} failed sign-ins across {users} users in {} min",
            self.window_minutes
        );
        alerts.push(self.described(Alert::new(title).dedup(ip.clone()), event, &ip, failures, users));
    }
}

impl PasswordSpray {
    /// The fields both alerts carry.
    fn described(&self, alert: Alert, event: &Event, ip: &str, failures: u32, users: u32) -> Alert {
        alert
            .field("ip", ip)
            .field("failures", failures)
            .field("distinct_users", users)
            .field("users_sample", state::members_sample(&format!("users:{ip}"), minutes(self.window_minutes), 10))
            .field("country", event.text("client.geographicalContext.country"))
            .field("as_org", event.text("securityContext.asOrg"))
            .field("window_minutes", self.window_minutes)
    }
}

export_detection!(PasswordSpray);
