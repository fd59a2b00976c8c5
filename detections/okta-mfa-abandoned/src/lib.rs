//! # MFA challenges abandoned or left unanswered: per user, per IP, across the org
//!
//! Rule: an MFA challenge (`user.authentication.auth_via_mfa` or
//! `user.authentication.verify`) whose `outcome.result` is `ABANDONED` or
//! `UNANSWERED` is counted three ways within `window_minutes`:
//! - for one user: `user_threshold` or more → medium (someone with the
//!   password keeps starting sign-ins the real user does not finish, or
//!   push fatigue the user ignores);
//! - from one IP: `ip_threshold` or more, whatever the users → medium (a
//!   credential-stuffing source that stops at the MFA step);
//! - across the org: `org_users` or more distinct users → high (a campaign
//!   with valid passwords for many accounts, held back only by MFA).
//!
//! Each alert once per user / IP / org per window.
//!
//! Config keys (defaults):
//! - `user_threshold = 3`
//! - `ip_threshold = 5`
//! - `org_users = 10`
//! - `window_minutes = 30`
//!
//! References: Okta LogEvent `outcome.result` (ABANDONED, UNANSWERED); public
//! Okta detections of abandoned MFA challenges; MITRE ATT&CK T1621 (MFA
//! Request Generation) and T1110 (Brute Force).
use oktawatch_guest::prelude::*;

struct MfaAbandoned {
    user_threshold: u32,
    ip_threshold: u32,
    org_users: u32,
    window_minutes: u64,
}

impl Detection for MfaAbandoned {
    fn info() -> Info {
        Info::new("okta-mfa-abandoned", "Okta MFA challenges abandoned or unanswered")
            .severity(Severity::Medium)
            .mitre(&["T1621", "T1110"])
            .description(
                "Several MFA challenges abandoned or left unanswered for one user or from one IP (medium), or \
                 for many users across the org (high), within 30 minutes.",
            )
            .event_types(&["user.authentication.auth_via_mfa", "user.authentication.verify"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().one_of("outcome.result", &["ABANDONED", "UNANSWERED"]))
            .config_int("user_threshold", 3, "abandoned challenges for one user")
            .config_int("ip_threshold", 5, "abandoned challenges from one IP")
            .config_int("org_users", 10, "distinct users with abandoned challenges across the org")
            .config_int("window_minutes", 30, "the window")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = MfaAbandoned {
            user_threshold: config.get("user_threshold")?,
            ip_threshold: config.get("ip_threshold")?,
            org_users: config.get("org_users")?,
            window_minutes: config.get("window_minutes")?,
        };
        if d.user_threshold == 0 || d.ip_threshold == 0 || d.org_users == 0 || d.window_minutes == 0 {
            return Err("thresholds and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let outcome = event.outcome();
        if !outcome.is("ABANDONED") && !outcome.is("UNANSWERED") {
            return;
        }
        let window = minutes(self.window_minutes);
        let user = okta::subject_user(event);
        let ip = event.client().ip();
        let result = outcome.result.clone().unwrap_or_default();
        if let Some(user) = &user {
            let n = state::count_in_window(&format!("user:{user}"), window);
            if n >= self.user_threshold && state::once_per(&format!("fired-user:{user}"), window) {
                alerts.push(
                    Alert::new(format!("{n} MFA challenges abandoned or unanswered for {user} in {} min", self.window_minutes))
                        .dedup(format!("user:{user}"))
                        .field("user", user.as_str())
                        .field("count", n)
                        .field("last_result", result.as_str())
                        .field("ip", ip.as_deref())
                        .field("factor", okta::factor(event)),
                );
            }
            let users = state::distinct_in_window("org", user, window);
            if users >= self.org_users && state::once_per("fired-org", window) {
                alerts.push(
                    Alert::new(format!("MFA challenges abandoned or unanswered for {users} users in {} min", self.window_minutes))
                        .severity(Severity::High)
                        .dedup("org")
                        .field("distinct_users", users)
                        .field("users_sample", state::members_sample("org", window, 20))
                        .field("last_ip", ip.as_deref()),
                );
            }
        }
        if let Some(ip) = &ip {
            let users = state::distinct_if_known(&format!("ip-users:{ip}"), user.as_deref(), window);
            let n = state::count_in_window(&format!("ip:{ip}"), window);
            if n >= self.ip_threshold && state::once_per(&format!("fired-ip:{ip}"), window) {
                alerts.push(
                    Alert::new(format!(
                        "{n} MFA challenges abandoned or unanswered from {ip} in {} min ({})",
                        self.window_minutes,
                        okta::plural(users, "user", "users")
                    ))
                    .dedup(format!("ip:{ip}"))
                    .field("ip", ip.as_str())
                    .field("count", n)
                    .field("distinct_users", users)
                    .field("country", event.text("client.geographicalContext.country")),
                );
            }
        }
    }
}

export_detection!(MfaAbandoned);
