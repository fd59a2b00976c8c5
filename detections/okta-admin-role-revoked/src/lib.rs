//! # Super or org admin role removed
//!
//! Rule: a successful `user.account.privilege.revoke` (or
//! `group.privilege.revoke`, the role taken from a group) whose revoked
//! roles (`debugContext.debugData.privilegeRevoked`, else the targets' names)
//! include one of `roles`: Super Administrator or Organization Administrator
//! by default. An attacker who has become super admin removes the real
//! admins to lock them out of the response (the 2023 Okta-targeted
//! intrusions did this). The title names the role, the user and who did it.
//!
//! Config keys (defaults):
//! - `roles = ["super administrator", "super_admin", "organization administrator", "org_admin"]`:
//!   case-insensitive fragments of role names
//!
//! References: Okta's event-type catalog and LogEvent
//! (`debugContext.debugData.privilegeRevoked`); Okta's customer detection
//! "New super admin added or removed"; MITRE ATT&CK T1531 (Account Access Removal).
use oktawatch_guest::prelude::*;

const DEFAULT_ROLES: &[&str] = &["super administrator", "super_admin", "organization administrator", "org_admin"];

struct AdminRoleRevoked {
    roles: Vec<String>,
}

impl Detection for AdminRoleRevoked {
    fn info() -> Info {
        Info::new("okta-admin-role-revoked", "Okta super or org admin role removed")
            .severity(Severity::High)
            .mitre(&["T1531"])
            .description(
                "A Super Administrator or Organization Administrator role was taken away from a user or group: \
                 an intruder locking the real admins out.",
            )
            .event_types(&["user.account.privilege.revoke", "group.privilege.revoke"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("roles", DEFAULT_ROLES, "case-insensitive fragments of the role names watched")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let roles: Vec<String> = config.get("roles")?;
        Ok(AdminRoleRevoked { roles: roles.iter().map(|s| s.to_lowercase()).collect() })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.failed() {
            return;
        }
        let targets = event.targets();
        let grantee_kind = if event.is("group.privilege.revoke") { "UserGroup" } else { "User" };
        let grantee = targets
            .iter()
            .find(|t| t.kind.as_deref() == Some(grantee_kind))
            .and_then(|t| t.alternate_id.clone().or_else(|| t.display_name.clone()))
            .unwrap_or_else(|| "unknown".into());
        let mut revoked: Vec<String> = event
            .debug_data("privilegeRevoked")
            .map(|r| r.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        if revoked.is_empty() {
            revoked = targets
                .iter()
                .filter(|t| !matches!(t.kind.as_deref(), Some("User") | Some("UserGroup")))
                .filter_map(|t| t.display_name.clone())
                .collect();
        }
        let Some(role) = revoked.iter().find(|r| {
            let r = r.to_lowercase();
            self.roles.iter().any(|x| r.contains(x.as_str()))
        }) else {
            return;
        };
        let actor = okta::actor_or_unknown(event);
        alerts.push(
            Alert::new(format!("{role} removed from {grantee} by {actor}"))
                .dedup(format!("{grantee}|{role}"))
                .field("actor", &actor)
                .field("user", &grantee)
                .field("role", role.as_str())
                .field("roles_revoked", revoked.join(", "))
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(AdminRoleRevoked);
