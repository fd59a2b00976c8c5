//! # Several concurrent Okta sessions for one user
//!
//! Rule: within `window_minutes`, one user's successful sign-ins and single
//! sign-ons (`user.session.start`, `user.authentication.sso`) carry at least
//! `min_sessions` distinct `authenticationContext.externalSessionId`s that
//! have not ended (`user.session.end` for that session id takes it out),
//! and those live sessions come from at least `min_ips` distinct source IPs
//! (each session counted at the IP it was first seen from). A person works
//! in a browser or two and on a phone, from one network at a time; several
//! live sessions across networks is a session stolen and replayed beside
//! the user's own, or a shared account. The alert names the number of
//! sessions and of source IPs. Fires once per user per window.
//!
//! Config keys (defaults):
//! - `min_sessions = 3`
//! - `min_ips = 2`: distinct IPs among the live sessions (1 = any)
//! - `window_minutes = 60`
//!
//! References: Okta's LogEvent `authenticationContext.externalSessionId`;
//! Panther's "Okta concurrent sessions" rule; MITRE ATT&CK T1550.004 (Web
//! Session Cookie) and T1078 (Valid Accounts).
use oktawatch_guest::prelude::*;

struct ConcurrentSessions {
    min_sessions: u32,
    min_ips: u32,
    window_minutes: u64,
}

impl Detection for ConcurrentSessions {
    fn info() -> Info {
        Info::new("okta-concurrent-sessions", "Several concurrent Okta sessions for one user")
            .severity(Severity::Medium)
            .mitre(&["T1550.004", "T1078"])
            .description(
                "One Okta user has three or more live sessions within an hour: a stolen session replayed beside \
                 the user's own, or a shared account.",
            )
            .event_types(&["user.session.start", "user.authentication.sso", "user.session.end"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("eventType", "user.session.end"))
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
            .config_int("min_sessions", 3, "live sessions of one user")
            .config_int("min_ips", 2, "distinct IPs among the live sessions (1 = any)")
            .config_int("window_minutes", 60, "the window")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = ConcurrentSessions {
            min_sessions: config.get("min_sessions")?,
            min_ips: config.get("min_ips")?,
            window_minutes: config.get("window_minutes")?,
        };
        if d.min_sessions < 2 || d.min_ips == 0 || d.window_minutes == 0 {
            return Err("min_sessions must be at least 2, min_ips and window_minutes greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some(user) = okta::actor_login(event) else { return };
        let Some(session) = event.session_id() else { return };
        let window = minutes(self.window_minutes);
        if event.is("user.session.end") {
            state::remember(&format!("ended:{session}"), "1", window);
            return;
        }
        if !event.outcome_is("SUCCESS") || state::recall(&format!("ended:{session}")).is_some() {
            return;
        }
        let key = format!("sessions:{user}");
        state::distinct_in_window(&key, &session, window);
        let ip_key = format!("ip:{session}");
        if state::recall(&ip_key).is_none()
            && let Some(ip) = event.client().ip()
        {
            state::remember(&ip_key, &ip, window);
        }
        let live: Vec<String> = state::distinct_members(&key, window)
            .into_iter()
            .filter(|s| state::recall(&format!("ended:{s}")).is_none())
            .collect();
        if (live.len() as u32) < self.min_sessions {
            return;
        }
        let mut ips: Vec<String> = live.iter().filter_map(|s| state::recall(&format!("ip:{s}"))).collect();
        ips.sort();
        ips.dedup();
        if (ips.len() as u32) < self.min_ips {
            return;
        }
        if !state::once_per(&user, window) {
            return;
        }
        alerts.push(
            Alert::new(format!(
                "{user} has {} concurrent Okta sessions from {} {} within {} min",
                live.len(),
                ips.len(),
                if ips.len() == 1 { "IP" } else { "IPs" },
                self.window_minutes
            ))
            .dedup(user.clone())
            .field("user", &user)
            .field("sessions", live.len())
            .field("session_ids", live.join(", "))
            .field("ips", ips.join(", "))
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(ConcurrentSessions);
