//! # MFA weakened for the whole org
//!
//! Rule: either of:
//! - `system.mfa.factor.deactivate`: an admin deactivated an MFA factor type
//!   for the org (nobody can use it any more).
//! - `policy.rule.update` that downgrades a sign-on or authentication policy
//!   rule from two factors to one. Evidence is read from each target's
//!   `changeDetails` (`from` / `to`): `factorMode` going from anything but
//!   `1FA` to `1FA`, `requireFactor` going from true to false, or `from`
//!   mentioning 2FA while `to` mentions 1FA. When no target carries
//!   `changeDetails` (older logs), a `detailEntry` or `debugContext.debugData`
//!   that mentions `1FA` is taken as the evidence (weaker: it shows the state
//!   after the update, not the change).
//!
//! Updates that are explicitly failed (`outcome.result` FAILURE/DENY) are
//! ignored. No config keys.
//!
//! References: Okta event types `system.mfa.factor.deactivate` and
//! `policy.rule.update`; Okta System Log `target.changeDetails`; the Okta
//! policy API `factorMode` (1FA/2FA) and `requireFactor` settings; MITRE
//! ATT&CK T1556 (Modify Authentication Process).
use oktawatch_guest::prelude::*;

struct MfaDisabledOrgWide;

impl Detection for MfaDisabledOrgWide {
    fn info() -> Info {
        Info::new("okta-mfa-disabled-org-wide", "Okta MFA weakened org-wide")
            .severity(Severity::High)
            .mitre(&["T1556"])
            .description(
                "An admin deactivated an MFA factor for the whole org, or changed a policy rule from \
                 two-factor to one-factor sign-on.",
            )
            .event_types(&["system.mfa.factor.deactivate", "policy.rule.update"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(MfaDisabledOrgWide)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let org_factor = match event.event_type() {
            "system.mfa.factor.deactivate" => true,
            "policy.rule.update" => false,
            _ => return,
        };
        if event.failed() {
            return;
        }
        let admin = okta::actor_or_unknown(event);
        let targets = event.targets();
        if org_factor {
            let factor = targets.iter().find_map(|t| t.display_name.clone()).or_else(|| event.debug_data("factor"));
            let title = match &factor {
                Some(f) => format!("Org-wide MFA factor {f} deactivated by {admin}"),
                None => format!("Org-wide MFA factor deactivated by {admin}"),
            };
            alerts.push(
                Alert::new(title)
                    .dedup(format!("factor:{}", factor.clone().unwrap_or_else(|| event.uuid())))
                    .field("actor", &admin)
                    .field("factor", factor)
                    .field("ip", event.client().ip()),
            );
            return;
        }

        let Some(evidence) = downgrade_evidence(event, targets.len()) else { return };
        let rule = targets
            .iter()
            .find(|t| t.kind.as_deref() == Some("PolicyRule"))
            .and_then(|t| t.display_name.clone().or_else(|| t.id.clone()));
        let policy = targets
            .iter()
            .find(|t| t.kind.as_deref().is_some_and(|k| k.starts_with("Policy") && k != "PolicyRule"))
            .and_then(|t| t.display_name.clone());
        let rule_name = rule.clone().unwrap_or_else(|| "a policy rule".into());
        alerts.push(
            Alert::new(format!("Policy rule {rule_name} downgraded from 2FA to 1FA by {admin}"))
                .dedup(format!("rule:{rule_name}"))
                .field("actor", &admin)
                .field("rule", rule)
                .field("policy", policy)
                .field("evidence", evidence)
                .field("ip", event.client().ip()),
        );
    }
}

/// Why this `policy.rule.update` is a downgrade to one factor, if it is one.
fn downgrade_evidence(event: &Event, targets: usize) -> Option<String> {
    let mut saw_change_details = false;
    for i in 0..targets {
        let from = json_text(event.get(&format!("target[{i}].changeDetails.from")));
        let to = json_text(event.get(&format!("target[{i}].changeDetails.to")));
        let Some(to) = to else {
            saw_change_details |= from.is_some();
            continue;
        };
        saw_change_details = true;
        let from = from.unwrap_or_default();
        if let Some(mode_to) = scalar(&to, "factorMode") {
            let mode_from = scalar(&from, "factorMode");
            if mode_to.eq_ignore_ascii_case("1FA") && !mode_from.is_some_and(|m| m.eq_ignore_ascii_case("1FA")) {
                return Some(format!("factorMode {} -> 1FA", mode_from.unwrap_or("(unset)")));
            }
        }
        if scalar(&to, "requireFactor") == Some("false") && scalar(&from, "requireFactor") == Some("true") {
            return Some("requireFactor true -> false".into());
        }
        if to.contains("1FA") && from.contains("2FA") {
            return Some("changeDetails: 2FA -> 1FA".into());
        }
    }
    if saw_change_details {
        return None;
    }
    for i in 0..targets {
        if json_text(event.get(&format!("target[{i}].detailEntry"))).is_some_and(|t| t.contains("1FA")) {
            return Some("target detailEntry shows 1FA".into());
        }
    }
    if json_text(event.get("debugContext.debugData")).is_some_and(|t| t.contains("1FA")) {
        return Some("debugData shows 1FA".into());
    }
    None
}

/// A value as text: JSON for objects and arrays, the plain value otherwise.
fn json_text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::Boolean(b) => Some(b.to_string()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Text(s) | Value::Json(s) => Some(s),
    }
}

/// The first scalar value of `"key": value` anywhere in a JSON text (quotes removed).
fn scalar<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\"");
    let mut rest = json;
    while let Some(pos) = rest.find(&needle) {
        rest = &rest[pos + needle.len()..];
        let after = rest.trim_start();
        let Some(value) = after.strip_prefix(':') else { continue };
        let value = value.trim_start();
        if let Some(quoted) = value.strip_prefix('"') {
            return quoted.find('"').map(|end| &quoted[..end]);
        }
        let end = value.find([',', '}', ']', ' ', '\n', '\r', '\t']).unwrap_or(value.len());
        if end > 0 {
            return Some(&value[..end]);
        }
    }
    None
}

export_detection!(MfaDisabledOrgWide);
