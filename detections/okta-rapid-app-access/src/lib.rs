//! # Rapid access to many Okta apps
//!
//! Rule: within `window_seconds`, one user signs in by single sign-on
//! (`user.authentication.sso`, `SUCCESS`) to at least `min_apps` distinct
//! apps (`AppInstance` targets). With `idp_initiated_only = true`, only
//! launches from the Okta dashboard count
//! (`debugContext.debugData.initiationType` = `IDP_INITIATED`). A person
//! opens a handful of apps; an intruder with a fresh session opens
//! everything to see what is there and to collect data. Fires once per user per window.
//!
//! Config keys (defaults):
//! - `min_apps = 10`
//! - `window_seconds = 60`
//! - `idp_initiated_only = false`
//!
//! References: Okta's customer detection "Rapid application access";
//! MITRE ATT&CK T1078 (Valid Accounts) and T1213 (Data from Information Repositories).
use oktawatch_guest::prelude::*;

struct RapidAppAccess {
    min_apps: u32,
    window_seconds: u64,
    idp_initiated_only: bool,
}

impl Detection for RapidAppAccess {
    fn info() -> Info {
        Info::new("okta-rapid-app-access", "Rapid access to many Okta apps")
            .severity(Severity::Medium)
            .mitre(&["T1078", "T1213"])
            .description("One user opened ten or more different apps through Okta within a minute.")
            .event_types(&["user.authentication.sso"])
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
            .config_int("min_apps", 10, "distinct apps opened")
            .config_int("window_seconds", 60, "the window")
            .config_bool("idp_initiated_only", false, "only launches from the Okta dashboard (IDP_INITIATED)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = RapidAppAccess {
            min_apps: config.get("min_apps")?,
            window_seconds: config.get("window_seconds")?,
            idp_initiated_only: config.get("idp_initiated_only")?,
        };
        if d.min_apps < 2 || d.window_seconds == 0 {
            return Err("min_apps must be at least 2 and window_seconds greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.outcome_is("SUCCESS") {
            return;
        }
        if self.idp_initiated_only && event.debug_data("initiationType").as_deref() != Some("IDP_INITIATED") {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        let Some(app) = event.target_of_type("AppInstance").and_then(|t| t.display_name.or(t.alternate_id).or(t.id)) else {
            return;
        };
        let window = seconds(self.window_seconds);
        let key = format!("apps:{user}");
        let n = state::distinct_in_window(&key, &app, window);
        if n < self.min_apps {
            return;
        }
        if !state::once_per(&user, window) {
            return;
        }
        alerts.push(
            Alert::new(format!("{user} opened {n} apps through Okta within {} s", self.window_seconds))
                .dedup(user.clone())
                .field("user", &user)
                .field("apps", n)
                .field("app_names", state::members_sample(&key, window, 20))
                .field("ip", event.client().ip())
                .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(RapidAppAccess);
