//! # One Okta device token used by several users
//!
//! Rule: the same device token is seen with `threshold` or more distinct
//! users within `window_minutes`. The token is
//! `debugContext.debugData.dtHash` (the hash of Okta's per-browser device
//! token cookie, `DT`), else the Identity Engine `device.id`, else `client.device` when it holds
//! an identifier (Okta usually fills `client.device` with the device class,
//! "Computer" or "Mobile", which is ignored); events with none are skipped. Only successful events count unless
//! `include_failures` is set. One browser signing in as many people is
//! either a shared kiosk or an operator cycling through stolen credentials
//! or cookies. One alert per token per window.
//!
//! Config keys (defaults):
//! - `threshold = 3`: distinct users per token
//! - `window_minutes = 10`
//! - `include_failures = false`: also count failed/denied events
//! - `allow_tokens = []`: tokens never reported (known shared kiosks)
//!
//! References: Okta System Log LogEvent, `debugContext.debugData.dtHash`
//! (as Okta's own session-hijacking detections read it) and the device
//! context of Identity Engine events; MITRE ATT&CK T1550 (Use Alternate
//! Authentication Material).
use oktawatch_guest::prelude::*;

const EVENT_TYPES: &[&str] = &[
    "user.session.start",
    "user.authentication.sso",
    "user.authentication.auth_via_mfa",
    "user.authentication.verify",
    "policy.evaluate_sign_on",
];

struct DeviceTokenShared {
    threshold: u32,
    window_minutes: u64,
    include_failures: bool,
    allow_tokens: Vec<String>,
}

impl Detection for DeviceTokenShared {
    fn info() -> Info {
        Info::new("okta-device-token-shared", "Okta device token used by several users")
            .severity(Severity::High)
            .mitre(&["T1550"])
            .description(
                "One Okta device token (browser device cookie or device id) is used by three or more users \
                 within 10 minutes: credential or cookie abuse from one attacker machine.",
            )
            .event_types(EVENT_TYPES)
            .config_int("threshold", 3, "distinct users per token")
            .config_int("window_minutes", 10, "the window")
            .config_bool("include_failures", false, "also count failed and denied events")
            .config_list("allow_tokens", &[], "tokens never reported (known shared kiosks)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = DeviceTokenShared {
            threshold: config.get("threshold")?,
            window_minutes: config.get("window_minutes")?,
            include_failures: config.get("include_failures")?,
            allow_tokens: config.get("allow_tokens")?,
        };
        if d.threshold < 2 || d.window_minutes == 0 {
            return Err("threshold must be at least 2 and window_minutes greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !EVENT_TYPES.contains(&event.event_type()) {
            return;
        }
        let ok = event.succeeded();
        if !ok && !self.include_failures {
            return;
        }
        let Some(token) = okta::device_token(event) else { return };
        if self.allow_tokens.contains(&token) {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        let window = minutes(self.window_minutes);
        let users = state::distinct_in_window(&format!("users:{token}"), &user, window);
        if users < self.threshold || !state::once_per(&format!("fired:{token}"), window) {
            return;
        }
        let names = state::members_sample(&format!("users:{token}"), window, 20);
        let short: String = token.chars().take(12).collect();
        alerts.push(
            Alert::new(format!(
                "Device token {short}… used by {users} users in {} min ({})",
                self.window_minutes,
                names
            ))
            .dedup(token.clone())
            .field("device_token", &token)
            .field("distinct_users", users)
            .field("users", &names)
            .field("last_user", &user)
            .field("ip", event.client().ip())
            .field("user_agent", event.client().user_agent())
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(DeviceTokenShared);
