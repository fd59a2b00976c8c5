//! # A device enrolled with a hostname outside the org's naming pattern
//!
//! Rule: `device.enrollment.create` or `device.user.add` whose `Device`
//! target's `displayName` (the hostname) does not match `hostname_pattern`,
//! a regular expression from config (anchor it yourself, e.g.
//! `^(LT|DT)-[0-9]{6}$`). Corporate machines follow a naming scheme; a
//! laptop named `DESKTOP-8F3K2QH` or `kali` enrolled in Okta Verify is a
//! personal or attacker device that now holds a FastPass credential.
//! With `computers_only = true` (the default), phones and tablets
//! (`detailEntry.osPlatform` IOS/ANDROID, or `client.device` Mobile/Tablet)
//! are skipped: their names follow no scheme. **Without `hostname_pattern`
//! the detection does nothing** (it is the org's to give). One alert per hostname.
//!
//! Config keys (defaults):
//! - `hostname_pattern = ""`: the naming pattern (regex); empty = off
//! - `computers_only = true`
//!
//! References: Okta's customer detection "Device enrolled with non-standard
//! hostname" (the `Device` target's displayName and detailEntry); MITRE
//! ATT&CK T1098.005 (Device Registration).
use oktawatch_guest::prelude::*;
use regex_lite::Regex;

struct DeviceHostname {
    pattern: Option<Regex>,
    computers_only: bool,
}

impl Detection for DeviceHostname {
    fn info() -> Info {
        Info::new("okta-device-hostname-pattern", "Okta device enrolled with a hostname outside the naming pattern")
            .severity(Severity::Low)
            .mitre(&["T1098.005"])
            .description(
                "A device was enrolled in Okta with a hostname that does not follow the org's naming pattern \
                 (from config): a personal or attacker machine now holds an Okta Verify credential.",
            )
            .event_types(&["device.enrollment.create", "device.user.add"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_text("hostname_pattern", "", "the org's hostname naming pattern (regular expression); empty = off")
            .config_bool("computers_only", true, "skip phones and tablets")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let text: String = config.get("hostname_pattern")?;
        let pattern = if text.trim().is_empty() {
            None
        } else {
            Some(Regex::new(&text).map_err(|e| format!("hostname_pattern {text:?}: {e}"))?)
        };
        Ok(DeviceHostname { pattern, computers_only: config.get("computers_only")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some(pattern) = &self.pattern else { return };
        if event.failed() {
            return;
        }
        let targets = event.targets();
        let Some(i) = targets.iter().position(|t| t.kind.as_deref() == Some("Device")) else { return };
        let Some(hostname) = targets[i].display_name.clone() else { return };
        let platform = event.text(&format!("target[{i}].detailEntry.osPlatform")).unwrap_or_default().to_uppercase();
        let class = event.text("client.device").unwrap_or_default();
        let mobile = platform.contains("IOS")
            || platform.contains("ANDROID")
            || class.eq_ignore_ascii_case("mobile")
            || class.eq_ignore_ascii_case("tablet");
        if self.computers_only && mobile {
            return;
        }
        if pattern.is_match(&hostname) {
            return;
        }
        let user = event.actor().alternate_id().unwrap_or_else(|| "unknown user".into());
        alerts.push(
            Alert::new(format!("Device {hostname} enrolled by {user} does not follow the hostname pattern"))
                .dedup(hostname.clone())
                .field("hostname", &hostname)
                .field("user", &user)
                .field("os_platform", (!platform.is_empty()).then_some(platform))
                .field("managed", event.text(&format!("target[{i}].detailEntry.managed")))
                .field("pattern", pattern.as_str())
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(DeviceHostname);
