//! Sign-on and MFA policies weakened: changed, deactivated or deleted.
//!
//! Sign-on, authentication and MFA enrollment policies decide who must pass
//! which factors; an attacker with admin rights loosens them to keep access
//! or to let a stolen password through.
//!
//! Rule: a successful change to a policy (`policy.lifecycle.update`,
//! `.deactivate`, `.delete`) or to one of its rules (`policy.rule.update`,
//! `.deactivate`, `.delete`) whose policy is a sign-on or MFA policy raises
//! an alert: medium for an update, high for a deactivation or deletion.
//!
//! The policy type is read from the targets' `detailEntry.policyType`
//! (`OKTA_SIGN_ON`, `ACCESS_POLICY`, `MFA_ENROLL`, …). When no target carries
//! it, the policy or rule name decides (it mentions sign-on, MFA or
//! authentication). Other policies (password, profile enrollment, …) are left
//! alone.
//!
//! Config:
//! - `policy_types` (list of strings): policy types watched. Default
//!   `["OKTA_SIGN_ON", "ACCESS_POLICY", "MFA_ENROLL"]`.
use oktawatch_guest::prelude::*;

const DEFAULT_TYPES: &[&str] = &["OKTA_SIGN_ON", "ACCESS_POLICY", "MFA_ENROLL"];
/// Name fragments of sign-on / MFA policies, used only when no type is logged.
const NAME_HINTS: [&str; 7] = ["sign-on", "sign on", "signon", "mfa", "multifactor", "multi-factor", "authentication"];

struct PolicyChange {
    policy_types: Vec<String>,
}

impl Detection for PolicyChange {
    fn info() -> Info {
        Info::new("okta-policy-change", "Okta sign-on or MFA policy weakened")
            .severity(Severity::Medium)
            .mitre(&["T1556"])
            .description(
                "A sign-on, authentication or MFA enrollment policy, or one of its rules, was updated \
                 (medium), deactivated or deleted (high).",
            )
            .event_types(&[
                "policy.lifecycle.update",
                "policy.lifecycle.deactivate",
                "policy.lifecycle.delete",
                "policy.rule.update",
                "policy.rule.deactivate",
                "policy.rule.delete",
            ])
            .config_list("policy_types", DEFAULT_TYPES, "policy types watched (detailEntry.policyType)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let policy_types: Vec<String> = config.get("policy_types")?;
        Ok(PolicyChange { policy_types: policy_types.iter().map(|t| t.to_ascii_uppercase()).collect() })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (object, action) = match event.event_type() {
            "policy.lifecycle.update" => ("policy", "updated"),
            "policy.lifecycle.deactivate" => ("policy", "deactivated"),
            "policy.lifecycle.delete" => ("policy", "deleted"),
            "policy.rule.update" => ("policy rule", "updated"),
            "policy.rule.deactivate" => ("policy rule", "deactivated"),
            "policy.rule.delete" => ("policy rule", "deleted"),
            _ => return,
        };
        if event.outcome().failure() {
            return;
        }

        // Policy and rule targets, and the policy type when Okta logs it.
        let mut policy_name = None;
        let mut rule_name = None;
        let mut policy_type = None;
        let n = event.len("target").unwrap_or(0).min(16);
        for i in 0..n {
            let kind = event.text(&format!("target[{i}].type"));
            let name = event.text(&format!("target[{i}].displayName"));
            match kind.as_deref() {
                Some("PolicyRule") => rule_name = rule_name.or(name),
                Some("PolicyEntity") | Some("Policy") => policy_name = policy_name.or(name),
                _ => continue,
            }
            if policy_type.is_none() {
                policy_type = event.text(&format!("target[{i}].detailEntry.policyType"));
            }
        }

        let watched = match &policy_type {
            Some(t) => self.policy_types.contains(&t.to_ascii_uppercase()),
            None => [&policy_name, &rule_name].into_iter().flatten().any(|name| {
                let name = name.to_lowercase();
                NAME_HINTS.iter().any(|h| name.contains(h))
            }),
        };
        if !watched {
            return;
        }

        let severity = if action == "updated" { Severity::Medium } else { Severity::High };
        let actor = okta::actor_or_unknown(event);
        let policy_label = policy_name.clone().unwrap_or_else(|| "unnamed policy".into());
        let subject = match (object, &rule_name) {
            ("policy rule", Some(rule)) => format!("rule {rule} of policy {policy_label}"),
            _ => format!("{object} {policy_label}"),
        };
        let kind = policy_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
        alerts.push(
            Alert::new(format!("Sign-on/MFA {subject}{kind} {action} by {actor}"))
                .severity(severity)
                .dedup(format!("{}:{policy_label}:{}", event.event_type(), rule_name.as_deref().unwrap_or("")))
                .field("actor", actor.as_str())
                .field("policy", policy_name)
                .field("policy_rule", rule_name)
                .field("policy_type", policy_type)
                .field("action", event.event_type())
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(PolicyChange);
