//! # Okta app modified, deactivated or deleted; another user's app password revealed
//!
//! Rule: for successful events:
//! - `application.lifecycle.update` → low: an app's settings changed (sign-on
//!   URLs, certificates, attribute mappings: what a federation attacker
//!   repoints). The riskier changes (Org2Org, provisioning, password push)
//!   are `okta-risky-app-change`'s;
//! - `application.lifecycle.deactivate` or `application.lifecycle.delete` →
//!   medium: an app taken away from its users (a security app, an MFA
//!   integration, a log shipper), or its traces removed;
//! - `application.user_membership.show_password` where the actor is not the
//!   user whose app password was shown → high: someone read another user's
//!   password for an app (SWA / shared credentials). A user revealing their
//!   own password is left alone.
//!
//! Config keys (defaults):
//! - `ignore_apps = []`: app names (display name or alternateId, any case) whose
//!   updates are not reported (an app an automation rewrites nightly)
//!
//! References: Okta event types `application.lifecycle.update`,
//! `.deactivate`, `.delete`, `application.user_membership.show_password`;
//! MITRE ATT&CK T1098 (Account Manipulation), T1489 (Service Stop) and
//! T1555 (Credentials from Password Stores).
use oktawatch_guest::prelude::*;

struct AppLifecycleChange {
    ignore_apps: Vec<String>,
}

impl Detection for AppLifecycleChange {
    fn info() -> Info {
        Info::new("okta-app-lifecycle-change", "Okta app modified, deactivated or deleted")
            .severity(Severity::Low)
            .mitre(&["T1098", "T1489"])
            .description(
                "An Okta app was modified (low), deactivated or deleted (medium), or a user revealed another \
                 user's app password (high).",
            )
            .event_types(&[
                "application.lifecycle.update",
                "application.lifecycle.deactivate",
                "application.lifecycle.delete",
                "application.user_membership.show_password",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("ignore_apps", &[], "apps whose updates are not reported (any case)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let ignore: Vec<String> = config.get("ignore_apps")?;
        Ok(AppLifecycleChange { ignore_apps: ignore.iter().map(|a| a.to_lowercase()).collect() })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (action, severity) = match event.event_type() {
            "application.lifecycle.update" => ("modified", Severity::Low),
            "application.lifecycle.deactivate" => ("deactivated", Severity::Medium),
            "application.lifecycle.delete" => ("deleted", Severity::Medium),
            "application.user_membership.show_password" => ("password shown", Severity::High),
            _ => return,
        };
        if event.failed() {
            return;
        }
        let targets = event.targets();
        let app = targets.iter().find(|t| t.kind.as_deref() == Some("AppInstance"));
        let app_name = app.and_then(okta::target_name).unwrap_or_else(|| "unnamed app".into());
        let actor = okta::actor_or_unknown(event);
        if action == "password shown" {
            let Some(owner) = okta::user_target(&targets) else { return };
            if owner.eq_ignore_ascii_case(&actor) {
                return;
            }
            alerts.push(
                Alert::new(format!("{actor} revealed the {app_name} password of {owner}"))
                    .severity(severity)
                    .mitre(&["T1555"])
                    .dedup(format!("show:{actor}:{owner}:{app_name}"))
                    .field("actor", &actor)
                    .field("user", &owner)
                    .field("app", &app_name)
                    .field("client_ip", event.client().ip()),
            );
            return;
        }
        let ignored = |n: &Option<String>| n.as_ref().is_some_and(|n| self.ignore_apps.contains(&n.to_lowercase()));
        if action == "modified" && app.is_some_and(|a| ignored(&a.display_name) || ignored(&a.alternate_id)) {
            return;
        }
        alerts.push(
            Alert::new(format!("App {app_name} {action} by {actor}"))
                .severity(severity)
                .dedup(format!("{}:{app_name}", event.event_type()))
                .field("actor", &actor)
                .field("app", &app_name)
                .field("app_id", app.and_then(|a| a.id.clone()))
                .field("action", event.event_type())
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(AppLifecycleChange);
