//! An admin opened the Okta Admin Console from a device and IP never seen for them.
//!
//! Stolen admin sessions and phished admin credentials show up as Admin
//! Console access from somewhere new. Each admin's known (device, IP) pairs
//! are remembered for `ttl_days`; access from a pair outside that set raises
//! an alert.
//!
//! Rule: on a successful `user.session.access_admin_app`:
//! - device = `device.id` when Okta knows the device, else the user agent's
//!   `os / browser`; IP = `client.ipAddress`;
//! - a pair this admin has used within `ttl_days` → nothing (its memory is
//!   refreshed);
//! - a new pair for an admin already known → medium, or high when the
//!   session was established with a weak factor (`debugData.factor`, else
//!   `authenticationContext.credentialType`, naming password, SMS, email,
//!   voice call or security question);
//! - the very first pair of an admin never seen before is learned without an
//!   alert, so installing the detection does not flag every admin once
//!   (`alert_first_seen = true` changes that).
//!
//! Config:
//! - `ttl_days` (integer): how long a pair stays known. Default 30.
//! - `alert_first_seen` (bool): alert on an admin's first pair too. Default false.
//! - `weak_factors` (list of strings): upper-case fragments of factor names
//!   counted as weak. Default `["PASSWORD", "SMS", "EMAIL", "CALL", "VOICE", "QUESTION"]`.
use oktawatch_guest::prelude::*;

struct AdminConsoleNewDevice {
    ttl_ms: u64,
    alert_first_seen: bool,
    weak_factors: Vec<String>,
}

impl Detection for AdminConsoleNewDevice {
    fn info() -> Info {
        Info::new("okta-admin-console-new-device", "Okta Admin Console accessed from a new device and IP")
            .severity(Severity::Medium)
            .mitre(&["T1078.004"])
            .description(
                "An administrator reached the Admin Console from a (device, IP) pair not seen for them in \
                 the last 30 days; high when the sign-in used a weak factor.",
            )
            .event_types(&["user.session.access_admin_app"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(
                Prefilter::new()
                    .not_one_of("outcome.result", &["FAILURE", "DENY"])
                    .exists("client.ipAddress"),
            )
            .config_int("ttl_days", 30, "how long a (device, IP) pair stays known")
            .config_bool("alert_first_seen", false, "alert on an admin's first pair too")
            .config_list("weak_factors", okta::WEAK_FACTORS, "fragments of factor names counted as weak")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let ttl_days: u64 = config.get("ttl_days")?;
        if ttl_days == 0 {
            return Err("ttl_days must be at least 1".into());
        }
        Ok(AdminConsoleNewDevice {
            ttl_ms: days(ttl_days),
            alert_first_seen: config.get("alert_first_seen")?,
            weak_factors: config.get("weak_factors")?,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.event_type() != "user.session.access_admin_app" {
            return;
        }
        if matches!(event.text("outcome.result").as_deref(), Some("FAILURE") | Some("DENY")) {
            return;
        }
        let actor = event.actor();
        let Some(admin) = actor.alternate_id().or_else(|| actor.id()) else { return };
        let client = event.client();
        let Some(ip) = client.ip() else { return };
        let device = event.text("device.id").unwrap_or_else(|| {
            format!(
                "{} / {}",
                client.os().unwrap_or_else(|| "unknown OS".into()),
                client.browser().unwrap_or_else(|| "unknown browser".into())
            )
        });
        let pair = format!("{device}|{ip}");

        let pair_key = format!("pair:{admin}:{pair}");
        let known_pair = state::recall(&pair_key).is_some();
        state::remember(&pair_key, "1", self.ttl_ms);
        // The admin's previous pair, and whether the admin was seen at all.
        let previous = state::last_seen(&format!("last:{admin}"), &pair, self.ttl_ms);
        if known_pair || (previous.is_none() && !self.alert_first_seen) {
            return;
        }

        let factor = event.debug_data("factor").or_else(|| event.text("authenticationContext.credentialType"));
        let weak = factor.as_deref().is_some_and(|f| okta::is_weak_factor(f, &self.weak_factors));
        let mut title = format!("Admin Console accessed by {admin} from new device {device} at {ip}");
        if weak {
            title.push_str(&format!(" with weak factor {}", factor.as_deref().unwrap_or_default()));
        }
        alerts.push(
            Alert::new(title)
                .severity(if weak { Severity::High } else { Severity::Medium })
                .dedup(format!("{admin}:{pair}"))
                .field("admin", admin.as_str())
                .field("device", device.as_str())
                .field("client_ip", ip.as_str())
                .field("factor", factor)
                .field("previous_pair", previous.as_ref().map(|(p, _)| p.as_str()))
                .field("user_agent", client.user_agent())
                .field("country", event.text("client.geographicalContext.country")),
        );
    }
}

export_detection!(AdminConsoleNewDevice);
