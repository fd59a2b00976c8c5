//! # Okta Admin Console access: every access, denials, Okta's new-device signal, weak factors
//!
//! Rule: four alerts on the way into the Admin Console:
//! - **every access** (`user.session.access_admin_app` SUCCESS) → info, one
//!   per admin and IP per suppression window: the audit trail of who
//!   administers the org from where (off with `every_access = false`);
//! - **access denied or failed** (`user.session.access_admin_app` FAILURE or
//!   DENY) → medium: someone without admin rights, or a blocked session,
//!   tried the console;
//! - **new device and new IP by Okta's own signals**: a
//!   `policy.evaluate_sign_on` whose target is the Admin Console app and whose
//!   behaviour detections (`debugContext.debugData.behaviors`, or the
//!   `behaviors` of `debugData.logOnlySecurityData`) are POSITIVE for both
//!   "New Device" and "New IP" → high. Okta learned the admin's devices and
//!   IPs over months; this complements `okta-admin-console-new-device`, which
//!   learns pairs itself;
//! - **weak factor**: a successful `user.authentication.verify` into the Admin
//!   Console whose `target[].detailEntry.methodTypeUsed` names a weak factor
//!   (SMS, email, voice call, security question; `weak_factors`; the
//!   password step is verified on every sign-in and is not counted) → medium: the console is reached with a factor an
//!   AitM kit or a SIM swap defeats.
//!
//! The Admin Console is the `target[]` entry named "Okta Admin Console" (or
//! the app's internal name `saasure`).
//!
//! Config keys (defaults):
//! - `every_access = true`: the info alert on every access
//! - `weak_factors = ["SMS", "EMAIL", "CALL", "VOICE", "QUESTION"]`
//!
//! References: Okta event types `user.session.access_admin_app`,
//! `policy.evaluate_sign_on`, `user.authentication.verify`; Okta's behaviour
//! detection (New Device, New IP) in the System Log; public detections for
//! Admin Console access from a new device and IP and with a weak factor;
//! MITRE ATT&CK T1078.004 (Valid Accounts: Cloud Accounts).
use oktawatch_guest::prelude::*;

const EVENT_TYPES: &[&str] = &["user.session.access_admin_app", "policy.evaluate_sign_on", "user.authentication.verify"];

/// Second factors an AitM kit or a SIM swap defeats. The password is not
/// among them: every sign-in verifies one, the question is what came after it.
const WEAK_SECOND_FACTORS: &[&str] = &["SMS", "EMAIL", "CALL", "VOICE", "QUESTION"];

struct AdminConsoleAccess {
    every_access: bool,
    weak_factors: Vec<String>,
}

impl Detection for AdminConsoleAccess {
    fn info() -> Info {
        Info::new("okta-admin-console-access", "Okta Admin Console access")
            .severity(Severity::Info)
            .mitre(&["T1078.004"])
            .description(
                "Every access to the Okta Admin Console (info); access denied (medium); a sign-on to it that \
                 Okta rates as from a new device and a new IP (high); a sign-in to it with a weak factor (medium).",
            )
            .event_types(EVENT_TYPES)
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(
                Prefilter::new()
                    .equals("eventType", "user.session.access_admin_app")
                    .one_of("outcome.result", &["SUCCESS", "ALLOW", "FAILURE", "DENY"]),
            )
            .prefilter(
                Prefilter::new()
                    .equals("eventType", "policy.evaluate_sign_on")
                    .exists("debugContext.debugData.behaviors"),
            )
            .prefilter(
                Prefilter::new()
                    .equals("eventType", "policy.evaluate_sign_on")
                    .exists("debugContext.debugData.logOnlySecurityData"),
            )
            .prefilter(
                Prefilter::new()
                    .equals("eventType", "user.authentication.verify")
                    .one_of("outcome.result", &["SUCCESS", "ALLOW"]),
            )
            .config_bool("every_access", true, "an info alert for every Admin Console access")
            .config_list("weak_factors", WEAK_SECOND_FACTORS, "fragments of second-factor names counted as weak")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(AdminConsoleAccess { every_access: config.get("every_access")?, weak_factors: config.get("weak_factors")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        match event.event_type() {
            "user.session.access_admin_app" => self.access(event, alerts),
            "policy.evaluate_sign_on" => self.new_device_and_ip(event, alerts),
            "user.authentication.verify" => self.weak_factor(event, alerts),
            _ => {}
        }
    }
}

impl AdminConsoleAccess {
    fn access(&self, event: &Event, alerts: &mut Alerts) {
        let outcome = event.outcome();
        let admin = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let ip = event.client().ip();
        let from = ip.as_deref().unwrap_or("unknown IP");
        let alert = if outcome.failure() {
            Alert::new(format!("Admin Console access denied for {admin} from {from}"))
                .severity(Severity::Medium)
                .dedup(format!("denied:{admin}:{from}"))
                .field("reason", outcome.reason)
        } else if outcome.success() && self.every_access {
            Alert::new(format!("Admin Console accessed by {admin} from {from}")).dedup(format!("access:{admin}:{from}"))
        } else {
            return;
        };
        alerts.push(
            alert
                .field("admin", &admin)
                .field("ip", ip.as_deref())
                .field("country", event.text("client.geographicalContext.country"))
                .field("user_agent", event.client().user_agent()),
        );
    }

    fn new_device_and_ip(&self, event: &Event, alerts: &mut Alerts) {
        if !okta::targets_admin_console(&event.targets()) {
            return;
        }
        let behaviors = okta::positive_behaviors(event);
        let has = |b: &str| behaviors.iter().any(|x| x.eq_ignore_ascii_case(b));
        if !has("New Device") || !has("New IP") {
            return;
        }
        let admin = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let ip = event.client().ip();
        alerts.push(
            Alert::new(format!(
                "Admin Console sign-on by {admin} from a new device and a new IP {} (Okta behaviour detection)",
                ip.as_deref().unwrap_or("unknown")
            ))
            .severity(Severity::High)
            .dedup(format!("newdevice:{admin}:{}", ip.as_deref().unwrap_or("")))
            .field("admin", &admin)
            .field("ip", ip)
            .field("behaviors", behaviors.join(", "))
            .field("outcome", event.outcome().result)
            .field("country", event.text("client.geographicalContext.country"))
            .field("user_agent", event.client().user_agent()),
        );
    }

    fn weak_factor(&self, event: &Event, alerts: &mut Alerts) {
        if !event.succeeded() || !okta::targets_admin_console(&event.targets()) {
            return;
        }
        let methods = okta::methods_used(event);
        if methods.is_empty() || !methods.iter().all(|m| okta::is_weak_factor(m, &self.weak_factors)) {
            return;
        }
        let admin = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let factors = methods.join(", ");
        alerts.push(
            Alert::new(format!("Admin Console sign-in by {admin} with a weak factor ({factors})"))
                .severity(Severity::Medium)
                .dedup(format!("weak:{admin}:{factors}"))
                .field("admin", &admin)
                .field("factors", &factors)
                .field("ip", event.client().ip())
                .field("country", event.text("client.geographicalContext.country")),
        );
    }
}

export_detection!(AdminConsoleAccess);
