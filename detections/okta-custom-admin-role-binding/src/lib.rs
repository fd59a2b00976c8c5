//! Custom admin roles and resource sets: who can administer what.
//!
//! Rule: a successful change that creates or widens a custom administrator
//! assignment raises a medium alert:
//! - `iam.resourceset.bindings.add`: a custom role over a resource set was
//!   bound to a user or group (the assignment itself);
//! - `iam.role.create`: a custom admin role was created;
//! - `iam.role.permissions.add`: permissions were added to a custom role;
//! - `iam.resourceset.create`: a resource set (what a custom role may touch)
//!   was created.
//!
//! The targets (role, resource set, members) are named in the title. Failed
//! operations are ignored. No config.
use oktawatch_guest::prelude::*;

struct CustomAdminRoleBinding;

impl Detection for CustomAdminRoleBinding {
    fn info() -> Info {
        Info::new("okta-custom-admin-role-binding", "Okta custom admin role or binding created")
            .severity(Severity::Medium)
            .mitre(&["T1098.003"])
            .description(
                "A custom administrator role, resource set, role permission or role binding was created: \
                 a way to grant admin rights outside the built-in roles.",
            )
            .event_types(&[
                "iam.resourceset.bindings.add",
                "iam.role.create",
                "iam.role.permissions.add",
                "iam.resourceset.create",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(CustomAdminRoleBinding)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let what = match event.event_type() {
            "iam.resourceset.bindings.add" => "Custom admin role binding added",
            "iam.role.create" => "Custom admin role created",
            "iam.role.permissions.add" => "Permissions added to custom admin role",
            "iam.resourceset.create" => "Admin resource set created",
            _ => return,
        };
        if event.failed() {
            return;
        }

        // Members (users, groups) are who receives the rights; the rest are the role and resource set.
        let targets = event.targets();
        let mut objects = Vec::new();
        let mut members = Vec::new();
        for t in targets {
            let member = matches!(t.kind.as_deref(), Some("User") | Some("UserGroup"));
            // Users by login, everything else by its display name.
            let name = if member { t.alternate_id.or(t.display_name) } else { t.display_name.or(t.alternate_id) };
            match name.or(t.id) {
                Some(name) if member => members.push(name),
                Some(name) => objects.push(name),
                None => {}
            }
        }
        let actor = okta::actor_or_unknown(event);

        let mut title = format!("{what} by {actor}");
        if !objects.is_empty() {
            title.push_str(&format!(": {}", objects.join(", ")));
        }
        if !members.is_empty() {
            title.push_str(&format!(" to {}", members.join(", ")));
        }
        alerts.push(
            Alert::new(title)
                .dedup(format!("{}:{}:{}", event.event_type(), objects.join(","), members.join(",")))
                .field("actor", actor.as_str())
                .field("action", event.event_type())
                .field("objects", (!objects.is_empty()).then(|| objects.join(", ")))
                .field("members", (!members.is_empty()).then(|| members.join(", ")))
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(CustomAdminRoleBinding);
