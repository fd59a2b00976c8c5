//! # One device or one phone number registered to several users
//!
//! Rule: within `window_days`, at least `min_users` distinct users
//! (`actor.id`, else `actor.alternateId`) register the same device or verify
//! the same phone number:
//! - **device**: `device.user.add`, the device being the `Device` target's
//!   `detailEntry.oktaDeviceId`, else its `id`;
//! - **phone**: `system.sms.send_phone_verification_message` (and
//!   `system.voice.send_phone_verification_call`), the phone being the
//!   `MobilePhone` target's `id` (Okta keeps one id per number).
//!
//! An attacker who phished several accounts enrolls them all on their own
//! phone or laptop, which then answers MFA for every one of them. The title
//! says device or phone. One alert per device or phone per window (a new one
//! when more users join).
//!
//! Config keys (defaults):
//! - `min_users = 2`
//! - `window_days = 30`
//! - `allow_ids = []`: device or phone ids never reported (shared kiosks, test phones)
//!
//! References: Okta's customer detections "Device registered to multiple
//! users" and "Phone number registered to multiple users"; MITRE ATT&CK
//! T1098.005 (Device Registration) and T1556.006 (Multi-Factor Authentication).
use oktawatch_guest::prelude::*;

struct SharedDeviceOrPhone {
    min_users: u32,
    window_days: u64,
    allow_ids: Vec<String>,
}

impl Detection for SharedDeviceOrPhone {
    fn info() -> Info {
        Info::new("okta-shared-device-or-phone", "One Okta device or phone number registered to several users")
            .severity(Severity::Medium)
            .mitre(&["T1098.005", "T1556.006"])
            .description(
                "The same device was registered, or the same phone number verified, for several Okta users: \
                 one attacker's phone or laptop answering MFA for many accounts.",
            )
            .event_types(&[
                "device.user.add",
                "system.sms.send_phone_verification_message",
                "system.voice.send_phone_verification_call",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_int("min_users", 2, "distinct users on one device or phone number")
            .config_int("window_days", 30, "the window")
            .config_list("allow_ids", &[], "device or phone ids never reported (shared kiosks, test phones)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = SharedDeviceOrPhone {
            min_users: config.get("min_users")?,
            window_days: config.get("window_days")?,
            allow_ids: config.get("allow_ids")?,
        };
        if d.min_users < 2 || d.window_days == 0 {
            return Err("min_users must be at least 2 and window_days greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.failed() {
            return;
        }
        let Some(user) = event.actor().id().or_else(|| event.actor().alternate_id()) else { return };
        let login = event.actor().alternate_id().unwrap_or_else(|| user.clone());
        let (kind, id, name) = if event.is("device.user.add") {
            let targets = event.targets();
            let Some(i) = targets.iter().position(|t| t.kind.as_deref() == Some("Device")) else { return };
            let id = event.text(&format!("target[{i}].detailEntry.oktaDeviceId")).or_else(|| targets[i].id.clone());
            let Some(id) = id else { return };
            ("device", id, targets[i].display_name.clone())
        } else {
            let Some(t) = event.target_of_type("MobilePhone") else { return };
            let Some(id) = t.id.clone() else { return };
            ("phone", id, t.display_name.or(t.alternate_id))
        };
        if self.allow_ids.iter().any(|a| a == &id) {
            return;
        }
        let window = days(self.window_days);
        let users_key = format!("{kind}:{id}");
        let n = state::distinct_in_window(&users_key, &user, window);
        state::distinct_in_window(&format!("logins:{kind}:{id}"), &login, window);
        if n < self.min_users {
            return;
        }
        // Once per device/phone and number of users: a further user is news.
        if !state::once_per(&format!("{kind}:{id}:{n}"), window) {
            return;
        }
        let logins = state::members_sample(&format!("logins:{kind}:{id}"), window, 10);
        let label = name.clone().unwrap_or_else(|| id.clone());
        let title = if kind == "device" {
            format!("Device {label} registered to {n} users: {logins}")
        } else {
            format!("Phone number {label} verified for {n} users: {logins}")
        };
        alerts.push(
            Alert::new(title)
                .dedup(format!("{kind}|{id}|{n}"))
                .field("kind", kind)
                .field("id", &id)
                .field("name", name)
                .field("users", n)
                .field("logins", &logins)
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(SharedDeviceOrPhone);
