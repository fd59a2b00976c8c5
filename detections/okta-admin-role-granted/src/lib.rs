//! An Okta administrator role was granted to a user or to a group.
//!
//! Rule: every successful `user.account.privilege.grant` (a role given to a
//! user) or `group.privilege.grant` (a role given to a group, and so to all
//! of its members) raises an alert. The roles granted are read from
//! `debugContext.debugData.privilegeGranted` (Okta writes e.g.
//! "Super administrator, Read only admin"), and from the display names of
//! the targets that are not the grantee. When one of them is an org-wide role
//! (Super Administrator or Organization Administrator) the alert is high,
//! otherwise medium. Failed grants are ignored.
//!
//! Config:
//! - `high_roles` (list of strings): case-insensitive fragments of role names
//!   that make the alert high. Default:
//!   `["super admin", "super_admin", "organization admin", "org_admin"]`.
use oktawatch_guest::prelude::*;

const DEFAULT_HIGH_ROLES: &[&str] = &["super admin", "super_admin", "organization admin", "org_admin"];

struct AdminRoleGranted {
    high_roles: Vec<String>,
}

impl Detection for AdminRoleGranted {
    fn info() -> Info {
        Info::new("okta-admin-role-granted", "Okta admin role granted")
            .severity(Severity::Medium)
            .mitre(&["T1098.003"])
            .description(
                "An administrator role was granted to a user or a group. High when the role is \
                 Super Administrator or Organization Administrator.",
            )
            .event_types(&["user.account.privilege.grant", "group.privilege.grant"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("high_roles", DEFAULT_HIGH_ROLES, "fragments of role names that make the alert high (any case)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let high_roles: Vec<String> = config.get("high_roles")?;
        let high_roles = high_roles.iter().map(|r| r.to_lowercase()).collect();
        Ok(AdminRoleGranted { high_roles })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (to_group, grantee_type) = match event.event_type() {
            "user.account.privilege.grant" => (false, "User"),
            "group.privilege.grant" => (true, "UserGroup"),
            _ => return,
        };
        if event.failed() {
            return;
        }

        let targets = event.targets();
        let grantee = targets.iter().find(|t| t.kind.as_deref() == Some(grantee_type)).or(targets.first());
        let grantee_name = grantee
            .and_then(|t| t.alternate_id.clone().or_else(|| t.display_name.clone()).or_else(|| t.id.clone()))
            .unwrap_or_else(|| "unknown".into());

        // Roles: Okta's own summary first, then any role-like target names.
        let mut roles: Vec<String> = Vec::new();
        if let Some(granted) = event.debug_data("privilegeGranted") {
            roles.extend(granted.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty()));
        }
        for t in &targets {
            if matches!(t.kind.as_deref(), Some("User") | Some("UserGroup")) {
                continue;
            }
            if let Some(name) = &t.display_name
                && !roles.iter().any(|r| r.eq_ignore_ascii_case(name))
            {
                roles.push(name.clone());
            }
        }
        let roles_text = if roles.is_empty() { "An admin role".to_string() } else { roles.join(", ") };
        let org_wide = roles.iter().any(|r| {
            let r = r.to_lowercase();
            self.high_roles.iter().any(|h| r.contains(h.as_str()))
        });

        let actor = okta::actor_or_unknown(event);
        let whom = if to_group { format!("group {grantee_name}") } else { grantee_name.clone() };
        alerts.push(
            Alert::new(format!("{roles_text} granted to {whom} by {actor}"))
                .severity(if org_wide { Severity::High } else { Severity::Medium })
                .dedup(format!("{grantee_type}:{grantee_name}:{}", roles_text.to_lowercase()))
                .field("actor", actor.as_str())
                .field(if to_group { "group" } else { "user" }, grantee_name.as_str())
                .field("roles", roles_text.as_str())
                .field("org_wide_role", org_wide)
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(AdminRoleGranted);
