//! App changes that let identities or passwords leave the org.
//!
//! Two kinds of app changes hand an attacker persistent reach:
//! - an Org2Org app (Okta-to-Okta federation) created or changed: users of
//!   this org can be signed in to, or pushed into, another Okta org, possibly
//!   the attacker's;
//! - provisioning turned on for an app: SCIM or password push sends user
//!   profiles and passwords to whatever endpoint the app points at.
//!
//! Rule: for successful events only:
//! - `application.lifecycle.create` / `application.lifecycle.update` of an
//!   app whose target name (`AppInstance` displayName or alternateId) or
//!   debugData names Org2Org → high;
//! - `application.lifecycle.create` / `.update` or
//!   `application.configuration.update` whose `debugContext.debugData` or
//!   `displayMessage` speaks of SCIM, password push / sync, or provisioning
//!   being enabled → high;
//! - `application.lifecycle.update` whose `outcome.reason` announces
//!   password push ("Pushing user passwords", Okta's wording when an admin
//!   turns on *Sync Password*, as Panther's "password extraction via SCIM"
//!   rule reads it) → high; "Stop pushing user passwords" does not fire;
//! - `application.configuration.update_api_credentials_for_pass_change` (the
//!   credentials used to push passwords were changed) → high.
//!
//! No config.
use oktawatch_guest::prelude::*;

struct RiskyAppChange;

impl Detection for RiskyAppChange {
    fn info() -> Info {
        Info::new("okta-risky-app-change", "Okta Org2Org app or app provisioning change")
            .severity(Severity::High)
            .mitre(&["T1098"])
            .description(
                "An Org2Org app was created or changed, or provisioning (SCIM, password push) was enabled \
                 or its credentials changed on an app.",
            )
            .event_types(&[
                "application.lifecycle.create",
                "application.lifecycle.update",
                "application.configuration.update",
                "application.configuration.update_api_credentials_for_pass_change",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(RiskyAppChange)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (action, lifecycle) = match event.event_type() {
            "application.lifecycle.create" => ("created", true),
            "application.lifecycle.update" => ("updated", true),
            "application.configuration.update" => ("reconfigured", false),
            "application.configuration.update_api_credentials_for_pass_change" => ("reconfigured", false),
            _ => return,
        };
        if event.failed() {
            return;
        }

        let app = event.target_of_type("AppInstance");
        let app_label = app
            .as_ref()
            .and_then(|t| t.alternate_id.clone().or_else(|| t.display_name.clone()).or_else(|| t.id.clone()))
            .unwrap_or_else(|| "unnamed app".into());
        let app_display = app.as_ref().and_then(|t| t.display_name.clone()).unwrap_or_default();

        // What the event says about the change, lower-cased once.
        let mut said = match event.get("debugContext.debugData") {
            Some(Value::Json(text)) | Some(Value::Text(text)) => text.to_lowercase(),
            _ => String::new(),
        };
        if let Some(message) = event.display_message() {
            said.push(' ');
            said.push_str(&message.to_lowercase());
        }

        let org2org =
            lifecycle && (mentions_org2org(&app_label) || mentions_org2org(&app_display) || mentions_org2org(&said));
        let mut features = provisioning_features(&said);
        if lifecycle
            && !features.contains(&"password push")
            && event.outcome().reason.as_deref().is_some_and(announces_password_push)
        {
            features.push("password push");
        }
        let credentials_changed =
            event.event_type() == "application.configuration.update_api_credentials_for_pass_change";

        let actor = okta::actor_or_unknown(event);
        let title = if org2org {
            format!("Org2Org app {app_label} {action} by {actor}")
        } else if credentials_changed {
            format!("Password push credentials of app {app_label} changed by {actor}")
        } else if !features.is_empty() {
            format!("Provisioning ({}) enabled on app {app_label} by {actor}", features.join(", "))
        } else {
            return;
        };
        alerts.push(
            Alert::new(title)
                .dedup(format!("{}:{app_label}", event.event_type()))
                .field("actor", actor.as_str())
                .field("app", app_label.as_str())
                .field("app_type", (!app_display.is_empty()).then_some(app_display.as_str()))
                .field("app_id", app.and_then(|t| t.id))
                .field("org2org", org2org)
                .field("provisioning", (!features.is_empty()).then(|| features.join(", ")))
                .field("action", event.event_type())
                .field("client_ip", event.client().ip()),
        );
    }
}

fn mentions_org2org(text: &str) -> bool {
    text.to_lowercase().contains("org2org")
}

/// `outcome.reason` of an app update that turns password push on ("Pushing user passwords"),
/// not the one that turns it off ("Stop pushing user passwords").
fn announces_password_push(reason: &str) -> bool {
    let reason = reason.to_lowercase();
    reason.contains("pushing user passwords") && !reason.contains("stop pushing")
}

/// Provisioning features a change turns on, from lower-cased event text.
fn provisioning_features(said: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    if said.contains("scim") {
        found.push("SCIM");
    }
    let password_push = [
        "push_password",
        "pushpassword",
        "password push",
        "push password",
        "password_sync",
        "password sync",
        "sync password",
    ];
    if password_push.iter().any(|m| said.contains(m)) {
        found.push("password push");
    }
    let provisioning_on = [
        "provisioning enabled",
        "enable provisioning",
        "enabled provisioning",
        "provisioning\":\"enabled",
        "provisioningenabled\":\"true",
        "provisioningenabled\":true",
    ];
    if found.is_empty() && provisioning_on.iter().any(|m| said.contains(m)) {
        found.push("provisioning");
    }
    found
}

export_detection!(RiskyAppChange);
