//! # SSO from a rare "Unknown" client device for the user
//!
//! Rule: a successful single sign-on (`user.authentication.sso`) whose
//! `client.device` is `Unknown` (Okta could not classify the client as a
//! computer, phone or tablet: scripts, headless browsers, proxies replaying
//! a session), for a user who has at least `min_history` sign-ons from a
//! known device class within `memory_days` and no `Unknown` one in that time.
//! For such a user the unclassified client is new: look at who holds the
//! session. One alert per user per `memory_days`.
//!
//! Config keys (defaults):
//! - `min_history = 5`: known-device sign-ons that make a baseline
//! - `memory_days = 30`
//!
//! References: Okta's LogEvent `client.device` (Computer, Mobile, Tablet,
//! Unknown, …); Elastic's rule on Okta sign-ons from unusual devices;
//! MITRE ATT&CK T1078 (Valid Accounts) and T1550.004.
use oktawatch_guest::prelude::*;

struct SsoUnknownDevice {
    min_history: u32,
    memory_days: u64,
}

impl Detection for SsoUnknownDevice {
    fn info() -> Info {
        Info::new("okta-sso-unknown-device", "Okta SSO from a rare Unknown client device")
            .severity(Severity::Low)
            .mitre(&["T1078", "T1550.004"])
            .description(
                "A user who always signs on from a computer or phone signed on to an app from a client Okta \
                 classifies as Unknown.",
            )
            .event_types(&["user.authentication.sso"])
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
            .config_int("min_history", 5, "known-device sign-ons that make a baseline")
            .config_int("memory_days", 30, "how long sign-ons are remembered")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = SsoUnknownDevice { min_history: config.get("min_history")?, memory_days: config.get("memory_days")? };
        if d.memory_days == 0 {
            return Err("memory_days must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.outcome_is("SUCCESS") {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        // `str`, not `text`: "Unknown" is the value looked for, not a placeholder here.
        let device = event.str("client.device").unwrap_or_default();
        let memory = days(self.memory_days);
        if !device.eq_ignore_ascii_case("unknown") {
            if !device.is_empty() && !device.eq_ignore_ascii_case("null") {
                state::count_in_window(&format!("known:{user}"), memory);
            }
            return;
        }
        let history = state::peek_count(&format!("known:{user}"), memory);
        let rare = state::count_in_window(&format!("unknown:{user}"), memory) == 1;
        if history < self.min_history || !rare {
            return;
        }
        let app = event.target_of_type("AppInstance").and_then(|t| t.display_name.or(t.alternate_id));
        alerts.push(
            Alert::new(format!(
                "{user} signed on to {} from an Unknown client device",
                app.as_deref().unwrap_or("an app")
            ))
            .dedup(user.clone())
            .field("user", &user)
            .field("app", app)
            .field("known_device_signons", history)
            .field("ip", event.client().ip())
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(SsoUnknownDevice);
