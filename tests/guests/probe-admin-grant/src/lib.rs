//! The languages' example detection (detections/template-python,
//! template-js, example-c) written in Rust with the guest SDK: the same rule,
//! prefilter, config keys and alerts, so that `tests/tests/languages.rs` runs
//! the shared cases on it too, `tests/tests/polyglot.rs` runs it beside the
//! three, and the bench (`bench-langs`) sets each language against it.
use oktawatch_guest::prelude::*;

struct AdminGrant {
    admin_roles: Vec<String>,
    ignore_actors: Vec<String>,
    burst: u32,
}

impl Detection for AdminGrant {
    fn info() -> Info {
        Info::new("example-rust-admin-grant", "Okta admin role granted (Rust example)")
            .version("0.1.0")
            .severity(Severity::High)
            .mitre(&["T1098.003"])
            .description("An admin role was granted to a user (the languages' example, in Rust).")
            .event_types(&["user.account.privilege.grant"])
            // Evaluated by the host before on_event is called, as in the other languages.
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
            .config_list("admin_roles", &["admin"], "case-insensitive fragments of admin role names")
            .config_list("ignore_actors", &[], "actors whose grants never alert")
            .config_int("burst", 3, "grants by one actor within an hour that make the alert critical")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let burst: u32 = config.get("burst")?;
        if burst < 1 {
            return Err("burst must be at least 1".into());
        }
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_lowercase()).collect();
        Ok(AdminGrant {
            admin_roles: lower(config.get("admin_roles")?),
            ignore_actors: lower(config.get("ignore_actors")?),
            burst,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some(granted) = event.debug_data("privilegeGranted") else { return };
        let admin: Vec<&str> = granted
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty() && self.admin_roles.iter().any(|f| r.to_lowercase().contains(f.as_str())))
            .collect();
        if admin.is_empty() {
            return;
        }
        let actor = event.actor().alternate_id().unwrap_or_else(|| "unknown actor".into());
        if self.ignore_actors.contains(&actor.to_lowercase()) {
            return;
        }
        let user = event
            .target_of_type("User")
            .and_then(|t| t.alternate_id.or(t.display_name).or(t.id))
            .unwrap_or_else(|| "unknown user".into());
        let roles = admin.join(", ");

        let grants = state::count_in_window(&format!("grants:{}", actor.to_lowercase()), hours(1));
        if !state::once_per(&format!("grant:{}:{}", user.to_lowercase(), roles.to_lowercase()), hours(1)) {
            return;
        }
        let title = format!("{roles} granted to {user} by {actor}");
        let alert = if grants >= self.burst {
            Alert::new(format!("{title} ({grants} grants within an hour)")).severity(Severity::Critical)
        } else {
            Alert::new(title)
        };
        alerts.push(
            alert
                .dedup(format!("{user}|{}", roles.to_lowercase()))
                .field("actor", &actor)
                .field("user", &user)
                .field("roles", &roles)
                .field("grants_last_hour", grants)
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(AdminGrant);
