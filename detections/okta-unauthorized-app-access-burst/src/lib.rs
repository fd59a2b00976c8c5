//! A user repeatedly tries to open apps they are not assigned to.
//!
//! Okta logs `app.generic.unauth_app_access_attempt` when a signed-in user
//! hits an app they have no assignment for. One is a stale bookmark; a burst
//! is someone (or a stolen session) probing what the account can reach.
//!
//! Rule: each attempt is a low alert (per user and app per suppression
//! window; off with `each_attempt = false`). Bursts: count these events per user (`actor.alternateId`) over a sliding
//! `window_minutes`; when the count reaches `threshold`, alert once (medium)
//! with the number of attempts and distinct apps. The user is not alerted on
//! again until a full window has passed since the alert.
//!
//! Config:
//! - `threshold` (integer): attempts per user within the window. Default 5.
//! - `window_minutes` (integer): the sliding window. Default 10.
//! - `each_attempt` (bool): a low alert for every attempt. Default true.
use oktawatch_guest::prelude::*;

struct UnauthorizedAppAccessBurst {
    threshold: u32,
    window_ms: u64,
    each_attempt: bool,
}

impl Detection for UnauthorizedAppAccessBurst {
    fn info() -> Info {
        Info::new("okta-unauthorized-app-access-burst", "Okta burst of unauthorized app access attempts")
            .severity(Severity::Medium)
            .mitre(&["T1078"])
            .description("A user tried to open apps they are not assigned to at least 5 times within 10 minutes.")
            .event_types(&["app.generic.unauth_app_access_attempt"])
            .config_int("threshold", 5, "attempts per user within the window")
            .config_int("window_minutes", 10, "the sliding window")
            .config_bool("each_attempt", true, "a low alert for every attempt")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let threshold: u32 = config.get("threshold")?;
        let window_minutes: u64 = config.get("window_minutes")?;
        if threshold == 0 || window_minutes == 0 {
            return Err("threshold and window_minutes must be at least 1".into());
        }
        Ok(UnauthorizedAppAccessBurst { threshold, window_ms: minutes(window_minutes), each_attempt: config.get("each_attempt")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.event_type() != "app.generic.unauth_app_access_attempt" {
            return;
        }
        let Some(user) = event.actor().alternate_id() else { return };
        let app = event
            .target_of_type("AppInstance")
            .and_then(|t| t.display_name.or(t.alternate_id))
            .unwrap_or_else(|| "unknown app".into());

        if self.each_attempt {
            alerts.push(
                Alert::new(format!("{user} tried to open {app}, an app they are not assigned to"))
                    .severity(Severity::Low)
                    .dedup(format!("attempt:{user}:{app}"))
                    .field("user", user.as_str())
                    .field("app", app.as_str())
                    .field("client_ip", event.client().ip()),
            );
        }
        let attempts = state::count_in_window(&format!("attempts:{user}"), self.window_ms);
        let apps = state::distinct_in_window(&format!("apps:{user}"), &app, self.window_ms);
        if attempts < self.threshold || !state::once_per(&format!("alerted:{user}"), self.window_ms) {
            return;
        }

        let window_min = self.window_ms / 60_000;
        alerts.push(
            Alert::new(format!(
                "{user} made {attempts} unauthorized app access attempts ({apps} apps) in {window_min} min"
            ))
            .dedup(format!("user:{user}"))
            .field("user", user.as_str())
            .field("attempts", attempts)
            .field("distinct_apps", apps)
            .field("last_app", app.as_str())
            .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(UnauthorizedAppAccessBurst);
