//! # A password typed into the username field
//!
//! Rule: a failed sign-in (`user.session.start`, `outcome.result` =
//! `FAILURE`) whose legacy type is `core.user_auth.login_failed` (Okta's
//! "unknown user" failure; required unless `require_legacy_type = false`)
//! and whose `actor.alternateId` looks like a password rather than a
//! login: no `@`, no `\`, no spaces, between `min_length` and 64
//! characters, and at least `min_classes` of the four character classes
//! (lower case, upper case, digit, symbol). The password is now in the
//! System Log (and in every system it is forwarded to): the user must change
//! it. The alert's title and fields never carry the value, only its length
//! and first character. The event summary the host adds to each alert does
//! not either: the detection declares the host key `mask_event_fields`
//! (default `actor.alternateId` and `actor.displayName`), and the host
//! writes `[masked]` there. The raw event is Okta's record and the host
//! forwards it unchanged: it still holds the typed value, as Okta's own
//! System Log does (restrict who reads raw Okta events in Wazuh, or drop
//! `core.user_auth.login_failed` raw events there). One alert per IP and
//! value shape.
//!
//! Config keys (defaults):
//! - `min_length = 8`
//! - `min_classes = 3`
//! - `require_legacy_type = true`
//! - `mask_event_fields = ["actor.alternateId", "actor.displayName"]`
//!   (the host's: fields of the alert's event summary replaced by `[masked]`)
//!
//! References: Okta's LogEvent (`legacyEventType`, `actor.alternateId` of a
//! failed sign-in); MITRE ATT&CK T1552 (Unsecured Credentials).
use oktawatch_guest::prelude::*;

struct PasswordInUsername {
    min_length: usize,
    min_classes: u32,
    require_legacy_type: bool,
}

impl Detection for PasswordInUsername {
    fn info() -> Info {
        Info::new("okta-password-in-username", "Password typed into the Okta username field")
            .severity(Severity::Medium)
            .mitre(&["T1552"])
            .description(
                "A failed Okta sign-in whose username looks like a password: a user typed their password \
                 into the username field and it is now in the System Log.",
            )
            .event_types(&["user.session.start"])
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
            .config_int("min_length", 8, "shortest value taken for a password")
            .config_int("min_classes", 3, "character classes (lower, upper, digit, symbol) a password has at least")
            .config_bool("require_legacy_type", true, "only the legacy type core.user_auth.login_failed (unknown user)")
            .config_list(
                "mask_event_fields",
                &["actor.alternateId", "actor.displayName"],
                "fields of the event summary in this detection's alerts the host masks (the typed password)",
            )
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = PasswordInUsername {
            min_length: config.get("min_length")?,
            min_classes: config.get("min_classes")?,
            require_legacy_type: config.get("require_legacy_type")?,
        };
        if d.min_length == 0 || !(1..=4).contains(&d.min_classes) {
            return Err("min_length must be > 0 and min_classes between 1 and 4".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || !event.outcome_is("FAILURE") {
            return;
        }
        if self.require_legacy_type && event.str("legacyEventType").as_deref() != Some("core.user_auth.login_failed") {
            return;
        }
        let Some(login) = event.str("actor.alternateId") else { return };
        if !self.looks_like_password(&login) {
            return;
        }
        let ip = event.client().ip();
        let first = login.chars().next().unwrap_or('?');
        let length = login.chars().count();
        alerts.push(
            Alert::new(format!(
                "A password was typed into the username field from {} ({length} characters, starts with '{first}')",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .dedup(format!("{}|{length}|{first}", ip.as_deref().unwrap_or("")))
            .field("ip", ip)
            .field("length", length)
            .field("user_agent", event.client().user_agent())
            .field("country", event.text("client.geographicalContext.country")),
        );
    }
}

impl PasswordInUsername {
    fn looks_like_password(&self, s: &str) -> bool {
        let n = s.chars().count();
        if n < self.min_length || n > 64 || s.contains(['@', '\\']) || s.chars().any(char::is_whitespace) {
            return false;
        }
        let lower = s.chars().any(|c| c.is_lowercase());
        let upper = s.chars().any(|c| c.is_uppercase());
        let digit = s.chars().any(|c| c.is_ascii_digit());
        let symbol = s.chars().any(|c| !c.is_alphanumeric());
        [lower, upper, digit, symbol].iter().filter(|b| **b).count() as u32 >= self.min_classes
    }
}

export_detection!(PasswordInUsername);
