//! # Okta's own behaviour detections and risk on a sign-in
//!
//! Okta compares each sign-in with the user's history and writes the verdict
//! into the System Log: `debugContext.debugData.behaviors`
//! (`{New Geo-Location=POSITIVE, New Device=NEGATIVE, …}`), the same in the
//! JSON text of `debugData.logOnlySecurityData`, with the risk level Okta
//! gave the sign-in (`risk.level`, also `debugData.risk`).
//!
//! Rule: a `policy.evaluate_sign_on` or `user.session.start` that was not
//! refused (`outcome.result` not FAILURE or DENY: a failed guess from a new
//! place is the credential-attack detections' business) with at least one
//! POSITIVE behaviour among `behaviors` → an alert naming them: low for one;
//! medium for `medium_count` or more at once, for one of the
//! `medium_behaviors` (impossible speed, a new country), or when Okta's risk
//! level is HIGH. One alert per user and set of behaviours per suppression
//! window (dedup key). A sign-in Okta rates HIGH risk with no positive
//! behaviour of the list is reported too, at medium.
//!
//! Config keys (defaults):
//! - `behaviors = ["New Geo-Location", "New Country", "New State", "New City", "New Device", "New IP", "Velocity"]`:
//!   the behaviour names that count (any case)
//! - `medium_behaviors = ["Velocity", "New Country"]`
//! - `medium_count = 3`
//!
//! References: Okta behaviour detection (Security > Behavior Detection) and
//! its System Log fields; public detections that alert on POSITIVE Okta
//! behaviours; MITRE ATT&CK T1078 (Valid Accounts).
use oktawatch_guest::prelude::*;

const BEHAVIORS: &[&str] = &["New Geo-Location", "New Country", "New State", "New City", "New Device", "New IP", "Velocity"];

/// Where Okta writes its behaviour and risk signals (see `okta::signals`).
const SIGNAL_FIELDS: &[&str] = &[
    "debugContext.debugData.behaviors",
    "debugContext.debugData.logOnlySecurityData",
    "debugContext.debugData.risk",
    "debugContext.debugData.riskLevel",
];

struct BehaviorSignal {
    behaviors: Vec<String>,
    medium_behaviors: Vec<String>,
    medium_count: usize,
}

impl Detection for BehaviorSignal {
    fn info() -> Info {
        let info = Info::new("okta-behavior-signal", "Okta behaviour detection positive on a sign-in")
            .severity(Severity::Low)
            .mitre(&["T1078"])
            .description(
                "Okta's own behaviour detection rated a sign-in as new for the user (new device, IP, place, \
                 impossible velocity): low, medium for several at once, velocity, a new country or high risk.",
            )
            .event_types(&["policy.evaluate_sign_on", "user.session.start"])
            .config_list("behaviors", BEHAVIORS, "Okta behaviour names that count (any case)")
            .config_list("medium_behaviors", &["Velocity", "New Country"], "behaviours that make the alert medium")
            .config_int("medium_count", 3, "this many positive behaviours at once make the alert medium");
        // Every event on_event can act on passes (see its first checks): not
        // refused, with one of the fields Okta's signals are read from.
        SIGNAL_FIELDS.iter().fold(info, |info, field| {
            info.prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]).exists(field))
        })
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(BehaviorSignal {
            behaviors: config.get("behaviors")?,
            medium_behaviors: config.get("medium_behaviors")?,
            medium_count: config.get("medium_count")?,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.failed() {
            return;
        }
        let counted = |b: &String, list: &[String]| list.iter().any(|x| x.eq_ignore_ascii_case(b));
        let okta::Signals { positive, risk } = okta::signals(event);
        let mut positive: Vec<String> = positive.into_iter().filter(|b| counted(b, &self.behaviors)).collect();
        if positive.is_empty() && risk.as_deref() != Some("HIGH") {
            return;
        }
        positive.sort();
        let medium = positive.len() >= self.medium_count
            || positive.iter().any(|b| counted(b, &self.medium_behaviors))
            || risk.as_deref() == Some("HIGH");
        let user = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let list = if positive.is_empty() { "HIGH risk".to_string() } else { positive.join(", ") };
        let ip = event.client().ip();
        alerts.push(
            Alert::new(format!(
                "Okta behaviour detection for {user} from {}: {list}",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .severity(if medium { Severity::Medium } else { Severity::Low })
            .dedup(format!("{user}:{list}"))
            .field("user", &user)
            .field("behaviors", &list)
            .field("risk_level", risk)
            .field("ip", ip)
            .field("country", event.text("client.geographicalContext.country"))
            .field("outcome", event.outcome().result)
            .field("event_type", event.event_type()),
        );
    }
}

export_detection!(BehaviorSignal);
