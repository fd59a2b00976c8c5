//! # Group and app membership changes (info, off by default)
//!
//! Rule: every successful `group.user_membership.add` / `.remove` and
//! `application.user_membership.add` / `.remove` as an info alert ("added
//! to group X", "removed from app Y"), for teams that want access changes
//! in Wazuh. **Off unless `enabled = true`** (a key the host understands:
//! while it is false the host does not call the detection). Groups named in `watch_groups` are raised to low
//! severity (admin or break-glass groups).
//!
//! Config keys (defaults):
//! - `enabled = false`
//! - `watch_groups = []`: case-insensitive group names whose changes are low, not info
//!
//! References: Okta's event-type catalog; Panther's and Elastic's Okta
//! group membership rules; MITRE ATT&CK T1098 (Account Manipulation).
use oktawatch_guest::prelude::*;

struct MembershipChange {
    enabled: bool,
    watch_groups: Vec<String>,
}

impl Detection for MembershipChange {
    fn info() -> Info {
        Info::new("okta-membership-change", "Okta group or app membership change")
            .severity(Severity::Info)
            .mitre(&["T1098"])
            .description("A user was added to or removed from a group or an app (info; off by default).")
            .event_types(&[
                "group.user_membership.add",
                "group.user_membership.remove",
                "application.user_membership.add",
                "application.user_membership.remove",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_bool("enabled", false, "on: every membership change as an info alert")
            .config_list("watch_groups", &[], "group names whose changes are low, not info")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(MembershipChange {
            enabled: config.get("enabled")?,
            watch_groups: config.get::<Vec<String>>("watch_groups")?.iter().map(|g| g.to_lowercase()).collect(),
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !self.enabled || event.failed() {
            return;
        }
        let group = event.is("group.*");
        let added = event.event_type().ends_with(".add");
        let targets = event.targets();
        let user = okta::user_target(&targets).unwrap_or_else(|| "unknown user".into());
        let container_kind = if group { "UserGroup" } else { "AppInstance" };
        let container = targets
            .iter()
            .find(|t| t.kind.as_deref() == Some(container_kind))
            .and_then(|t| t.display_name.clone().or_else(|| t.alternate_id.clone()))
            .unwrap_or_else(|| "unknown".into());
        let actor = okta::actor_or_unknown(event);
        let watched = group && self.watch_groups.iter().any(|g| g == &container.to_lowercase());
        let title = format!(
            "{user} {} {} {container} by {actor}",
            if added { "added to" } else { "removed from" },
            if group { "group" } else { "app" }
        );
        alerts.push(
            Alert::new(title)
                .severity(if watched { Severity::Low } else { Severity::Info })
                .field("user", &user)
                .field(if group { "group" } else { "app" }, &container)
                .field("change", if added { "add" } else { "remove" })
                .field("actor", &actor),
        );
    }
}

export_detection!(MembershipChange);
