//! Policies weakened: changed, deactivated or deleted, each type at its severity.
//!
//! Sign-on, authentication and MFA enrollment policies decide who must pass
//! which factors; an attacker with admin rights loosens them to keep access
//! or to let a stolen password through.
//!
//! Rule: a successful change to a policy (`policy.lifecycle.update`,
//! `.deactivate`, `.delete`) or to one of its rules (`policy.rule.update`,
//! `.deactivate`, `.delete`) whose policy is a sign-on or MFA policy raises
//! an alert: medium for an update, high for a deactivation or deletion.
//! Every other policy type (password, profile enrollment, IdP discovery, OAuth
//! authorization, entity risk, …) is reported a level lower: low for an
//! update, medium for a deactivation or deletion (a weaker password policy,
//! self-registration opened, routing to another IdP).
//!
//! App sign-on policies: `application.policy.sign_on.update`,
//! `.rule.create` and `.rule.delete` (an app's own authentication policy and
//! its rules: allow without MFA for one app) → medium.
//!
//! The policy type is read from the targets' `detailEntry.policyType`
//! (`OKTA_SIGN_ON`, `ACCESS_POLICY`, `MFA_ENROLL`, …). When no target carries
//! it, the policy or rule name decides (it mentions sign-on, MFA or
//! authentication); without either it is an other-type policy.
//!
//! Config:
//! - `policy_types` (list of strings): policy types reported at medium/high. Default
//!   `["OKTA_SIGN_ON", "ACCESS_POLICY", "MFA_ENROLL"]`.
//! - `other_types = true`: also report every other policy type (a level lower).
use oktawatch_guest::prelude::*;

const DEFAULT_TYPES: &[&str] = &["OKTA_SIGN_ON", "ACCESS_POLICY", "MFA_ENROLL"];
/// Name fragments of sign-on / MFA policies, used only when no type is logged.
const NAME_HINTS: [&str; 7] = ["sign-on", "sign on", "signon", "mfa", "multifactor", "multi-factor", "authentication"];

struct PolicyChange {
    policy_types: Vec<String>,
    other_types: bool,
}

impl Detection for PolicyChange {
    fn info() -> Info {
        Info::new("okta-policy-change", "Okta sign-on, MFA or other policy changed")
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
                "application.policy.sign_on.update",
                "application.policy.sign_on.rule.create",
                "application.policy.sign_on.rule.delete",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_bool("other_types", true, "also report every other policy type, a level lower")
            .config_list("policy_types", DEFAULT_TYPES, "policy types watched (detailEntry.policyType)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let policy_types: Vec<String> = config.get("policy_types")?;
        Ok(PolicyChange {
            policy_types: policy_types.iter().map(|t| t.to_ascii_uppercase()).collect(),
            other_types: config.get("other_types")?,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (object, action) = match event.event_type() {
            "policy.lifecycle.update" => ("policy", "updated"),
            "policy.lifecycle.deactivate" => ("policy", "deactivated"),
            "policy.lifecycle.delete" => ("policy", "deleted"),
            "policy.rule.update" => ("policy rule", "updated"),
            "policy.rule.deactivate" => ("policy rule", "deactivated"),
            "policy.rule.delete" => ("policy rule", "deleted"),
            "application.policy.sign_on.update" => ("app sign-on policy", "updated"),
            "application.policy.sign_on.rule.create" => ("app sign-on policy rule", "created"),
            "application.policy.sign_on.rule.delete" => ("app sign-on policy rule", "deleted"),
            _ => return,
        };
        if event.failed() {
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
                Some("PolicyEntity") | Some("Policy") | Some("AppInstance") => policy_name = policy_name.or(name),
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
        let app_policy = object.starts_with("app ");
        if !watched && !app_policy && !self.other_types {
            return;
        }

        let severity = match (watched, app_policy, action) {
            (_, true, _) => Severity::Medium,
            (true, _, "updated") => Severity::Medium,
            (true, _, _) => Severity::High,
            (false, _, "updated") => Severity::Low,
            (false, _, _) => Severity::Medium,
        };
        let family = if app_policy {
            "App"
        } else if watched {
            "Sign-on/MFA"
        } else {
            "Okta"
        };
        let actor = okta::actor_or_unknown(event);
        let policy_label = policy_name.clone().unwrap_or_else(|| "unnamed policy".into());
        let subject = match (object, &rule_name) {
            ("policy rule", Some(rule)) => format!("rule {rule} of policy {policy_label}"),
            ("app sign-on policy rule", Some(rule)) => format!("sign-on policy rule {rule} of {policy_label}"),
            ("app sign-on policy rule", None) => format!("sign-on policy rule of {policy_label}"),
            ("app sign-on policy", _) => format!("sign-on policy of {policy_label}"),
            _ => format!("{object} {policy_label}"),
        };
        let kind = policy_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
        alerts.push(
            Alert::new(format!("{family} {subject}{kind} {action} by {actor}"))
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
