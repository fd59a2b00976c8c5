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
use oktawatch_guest::okta::PushStep;
use oktawatch_guest::prelude::*;

struct BombingThenSuccess {
    bombing: okta::PushBombing,
    within_minutes: u64,
}

impl Detection for BombingThenSuccess {
    fn info() -> Info {
        okta::PushBombing::declare(
            Info::new("okta-mfa-bombing-then-success", "Okta MFA succeeded after push bombing")
                .severity(Severity::Critical)
                .mitre(&["T1621", "T1078"])
                .description(
                    "A user was flooded with Okta Verify pushes or denied several, then an MFA for that user \
                     succeeded within the hour: MFA fatigue that worked.",
                ),
        )
        .config_int("within_minutes", 60, "how long after the bombing a successful MFA is reported")
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_equals("eventType", "user.authentication.auth_via_mfa"))
            .prefilter(Prefilter::new().one_of("outcome.result", &["SUCCESS", "FAILURE"]))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = BombingThenSuccess {
            bombing: okta::PushBombing::from_config(config)?,
            within_minutes: config.get("within_minutes")?,
        };
        if d.bombing.has_zero() || d.within_minutes == 0 {
            return Err("thresholds and windows must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let step = okta::push_step(event);
        if step == PushStep::Other {
            return;
        }
        let Some(user) = okta::subject_user(event) else { return };
        let bombed = format!("bombed:{user}");
        match step {
            PushStep::Denied | PushStep::Sent => {
                let Some((count, threshold, window_minutes, what)) = self.bombing.count(step, &user) else { return };
                if count >= threshold {
                    let summary = format!("{count} {what} in {window_minutes} min");
                    state::remember(&bombed, &summary, minutes(self.within_minutes));
                }
            }
            PushStep::MfaSuccess => {
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
            PushStep::Other => {}
        }
    }
}

export_detection!(BombingThenSuccess);
