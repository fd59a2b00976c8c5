//! # Push bombing followed by a successful MFA
//!
//! Rule: a user is push-bombed (same test as `okta-mfa-push-bombing`:
//! `deny_threshold` denied/failed pushes within `deny_window_minutes`, or
//! `push_threshold` pushes sent within `push_window_minutes`), and then a
//! `user.authentication.auth_via_mfa` with outcome SUCCESS follows for that
//! user within `within_minutes` of the last bombing event. The user gave in,
//! or the attacker got a factor some other way: treat the account as taken over.
//! One alert per bombing (the marker is cleared when it fires).
//!
//! Denied pushes: `user.mfa.okta_verify.deny_push`, or `auth_via_mfa`
//! FAILURE with a push factor (`debugData.factor` / target
//! `detailEntry.methodTypeUsed`), or with reason `INVALID_CREDENTIALS` when
//! the factor is not logged (Identity Engine).
//!
//! Config keys (defaults):
//! - `deny_threshold = 3`, `deny_window_minutes = 5`
//! - `push_threshold = 10`, `push_window_minutes = 10`
//! - `within_minutes = 60`
//!
//! References: MITRE ATT&CK T1621 (MFA Request Generation) then T1078
//! (Valid Accounts); the 2022 Uber and Cisco intrusions began this way, and
//! Okta's push-fatigue guidance recommends alerting on an approval after a
//! run of denials.
use oktawatch_guest::prelude::*;

struct BombingThenSuccess {
    deny_threshold: u32,
    deny_window_minutes: u64,
    push_threshold: u32,
    push_window_minutes: u64,
    within_minutes: u64,
}

impl Detection for BombingThenSuccess {
    fn info() -> Info {
        Info::new("okta-mfa-bombing-then-success", "Okta MFA succeeded after push bombing")
            .severity(Severity::Critical)
            .mitre(&["T1621", "T1078"])
            .description(
                "A user was flooded with Okta Verify pushes or denied several, then an MFA for that user \
                 succeeded within the hour: MFA fatigue that worked.",
            )
            .event_types(&[
                "user.mfa.okta_verify.deny_push",
                "user.authentication.auth_via_mfa",
                "system.push.send_factor_verify_push",
            ])
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = BombingThenSuccess {
            deny_threshold: config.u32("deny_threshold", 3),
            deny_window_minutes: config.u64("deny_window_minutes", 5),
            push_threshold: config.u32("push_threshold", 10),
            push_window_minutes: config.u64("push_window_minutes", 10),
            within_minutes: config.u64("within_minutes", 60),
        };
        if d.deny_threshold == 0
            || d.push_threshold == 0
            || d.deny_window_minutes == 0
            || d.push_window_minutes == 0
            || d.within_minutes == 0
        {
            return Err("thresholds and windows must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let step = classify(event);
        if step == Step::Other {
            return;
        }
        let Some(user) = subject_user(event) else { return };
        let bombed = format!("bombed:{user}");
        match step {
            Step::Denied | Step::Sent => {
                let (count, threshold, window_minutes, what) = if step == Step::Denied {
                    let n = state::count_in_window(&format!("deny:{user}"), minutes(self.deny_window_minutes));
                    (n, self.deny_threshold, self.deny_window_minutes, "denied pushes")
                } else {
                    let n = state::count_in_window(&format!("sent:{user}"), minutes(self.push_window_minutes));
                    (n, self.push_threshold, self.push_window_minutes, "pushes sent")
                };
                if count >= threshold {
                    let summary = format!("{count} {what} in {window_minutes} min");
                    state::remember(&bombed, &summary, minutes(self.within_minutes));
                }
            }
            Step::MfaSuccess => {
                let Some(summary) = state::recall(&bombed) else { return };
                state::forget(&bombed);
                alerts.push(
                    Alert::new(format!("MFA succeeded for {user} after push bombing ({summary})"))
                        .dedup(user.clone())
                        .field("user", &user)
                        .field("bombing", summary)
                        .field("ip", event.client().ip())
                        .field("country", event.text("client.geographicalContext.country"))
                        .field("factor", event.debug_data("factor"))
                        .field("session_id", event.session_id())
                        .field("user_agent", event.client().user_agent()),
                );
            }
            Step::Other => {}
        }
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Step {
    Denied,
    Sent,
    MfaSuccess,
    Other,
}

fn classify(event: &Event) -> Step {
    match event.event_type() {
        "user.mfa.okta_verify.deny_push" => Step::Denied,
        "system.push.send_factor_verify_push" => Step::Sent,
        "user.authentication.auth_via_mfa" => {
            let outcome = event.outcome();
            if outcome.is("SUCCESS") {
                return Step::MfaSuccess;
            }
            if !outcome.is("FAILURE") {
                return Step::Other;
            }
            match is_push_factor(event) {
                Some(true) => Step::Denied,
                Some(false) => Step::Other,
                None if outcome.reason.as_deref() == Some("INVALID_CREDENTIALS") => Step::Denied,
                None => Step::Other,
            }
        }
        _ => Step::Other,
    }
}

/// Some(true) for a push factor, Some(false) for another known factor, None when the event does not say.
fn is_push_factor(event: &Event) -> Option<bool> {
    if let Some(factor) = event.debug_data("factor") {
        return Some(factor.to_ascii_uppercase().contains("PUSH"));
    }
    let targets = event.len("target").unwrap_or(0).min(8);
    let mut known = None;
    for i in 0..targets {
        if let Some(method) = event.text(&format!("target[{i}].detailEntry.methodTypeUsed")) {
            if method.to_ascii_lowercase().contains("push") {
                return Some(true);
            }
            known = Some(false);
        }
    }
    known
}

/// The actor when it is a user, else the `User` target.
fn subject_user(event: &Event) -> Option<String> {
    let actor = event.actor();
    let kind = actor.kind();
    if (kind.is_none() || kind.as_deref() == Some("User"))
        && let Some(login) = actor.alternate_id()
    {
        return Some(login.to_lowercase());
    }
    event.target_of_type("User").and_then(|t| t.alternate_id).map(|u| u.to_lowercase())
}

export_detection!(BombingThenSuccess);
