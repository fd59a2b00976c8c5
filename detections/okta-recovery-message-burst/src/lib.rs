//! # Burst of password-reset or unlock messages for one user
//!
//! Rule: within `window_minutes`, Okta sends at least `threshold`
//! password-reset or account-unlock messages (email, SMS or voice call) for
//! one user. The message events are `system.email.password_reset.sent_message`,
//! `system.email.account_unlock.sent_message`,
//! `system.sms.send_password_reset_message`, `system.sms.send_account_unlock_message`,
//! `system.voice.send_password_reset_call` and `system.voice.send_account_unlock_call`.
//! The user is the `User` target, else the actor. Someone is driving
//! self-service recovery for an account that is not theirs (or bombing the
//! user with messages until one is followed). The title says whether reset,
//! unlock or both fired, and over which channels. Fires once per user per window.
//!
//! Config keys (defaults):
//! - `threshold = 3`: messages for one user
//! - `window_minutes = 15`
//!
//! References: Okta's event-type catalog (the `system.email.*`,
//! `system.sms.*` and `system.voice.*` recovery messages); MITRE ATT&CK
//! T1110 (Brute Force) and T1621 (MFA Request Generation).
use oktawatch_guest::prelude::*;

/// (event type, kind, channel)
const MESSAGES: &[(&str, &str, &str)] = &[
    ("system.email.password_reset.sent_message", "reset", "email"),
    ("system.email.account_unlock.sent_message", "unlock", "email"),
    ("system.sms.send_password_reset_message", "reset", "SMS"),
    ("system.sms.send_account_unlock_message", "unlock", "SMS"),
    ("system.voice.send_password_reset_call", "reset", "voice"),
    ("system.voice.send_account_unlock_call", "unlock", "voice"),
];

struct RecoveryBurst {
    threshold: u32,
    window_minutes: u64,
}

impl Detection for RecoveryBurst {
    fn info() -> Info {
        let types: Vec<&str> = MESSAGES.iter().map(|m| m.0).collect();
        Info::new("okta-recovery-message-burst", "Burst of Okta password-reset or unlock messages for one user")
            .severity(Severity::Medium)
            .mitre(&["T1110", "T1621"])
            .description(
                "Okta sent several password-reset or account-unlock emails, texts or calls for one user within \
                 minutes: someone is driving self-service recovery of that account.",
            )
            .event_types(&types)
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_int("threshold", 3, "messages for one user")
            .config_int("window_minutes", 15, "the window")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = RecoveryBurst { threshold: config.get("threshold")?, window_minutes: config.get("window_minutes")? };
        if d.threshold == 0 || d.window_minutes == 0 {
            return Err("threshold and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some(&(_, kind, channel)) = MESSAGES.iter().find(|m| m.0 == event.event_type()) else { return };
        if event.failed() {
            return;
        }
        let Some(user) = okta::affected_user(event, &event.targets()) else { return };
        let window = minutes(self.window_minutes);

        let n = state::count_in_window(&format!("msg:{user}"), window);
        let kinds = state::distinct_in_window(&format!("kinds:{user}"), kind, window);
        state::distinct_in_window(&format!("channels:{user}"), channel, window);
        if n < self.threshold {
            return;
        }
        if !state::once_per(&user, window) {
            return;
        }

        let what = if kinds > 1 {
            "password-reset and unlock".to_string()
        } else if kind == "reset" {
            "password-reset".to_string()
        } else {
            "account-unlock".to_string()
        };
        let channels = state::members_sample(&format!("channels:{user}"), window, 3);
        alerts.push(
            Alert::new(format!(
                "{n} {what} messages for {user} in {} min ({})",
                self.window_minutes,
                channels
            ))
            .dedup(user.clone())
            .field("user", &user)
            .field("messages", n)
            .field("kind", what)
            .field("channels", &channels)
            .field("ip", event.client().ip())
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(RecoveryBurst);
