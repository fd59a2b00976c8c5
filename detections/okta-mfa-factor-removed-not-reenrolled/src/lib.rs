//! # MFA factor removed and not re-enrolled
//!
//! Rule: a user's MFA factor is removed (`user.mfa.factor.deactivate`) or
//! all of them are reset (`user.mfa.factor.reset_all`), and no
//! `user.mfa.factor.activate` follows for that user within `grace_hours`.
//! Detections run on event time, so the absence is noticed on the user's next
//! subscribed event (a sign-in `user.session.start`, or another factor
//! removal) that arrives more than `grace_hours` after the removal. The user
//! is then signing in with weaker authentication than before; an attacker who
//! removed the factor (or talked the help desk into a reset) gains a
//! single-factor path. One alert per removal.
//!
//! Pending removals are forgotten after `pending_days` without any event of
//! that user. The clock runs from the first removal not followed by an
//! activation: a second removal inside the grace period does not restart it.
//!
//! Config keys (defaults):
//! - `grace_hours = 12`
//! - `pending_days = 30`
//!
//! The user is the `User` target of the factor event (the actor may be an
//! admin), else the actor; for sign-ins, the actor.
//!
//! References: Okta event types `user.mfa.factor.deactivate`,
//! `user.mfa.factor.reset_all`, `user.mfa.factor.activate`; MITRE ATT&CK
//! T1556.006 (Modify Authentication Process: Multi-Factor Authentication).
use oktawatch_guest::prelude::*;
use serde::{Deserialize, Serialize};

struct FactorRemovedNotReenrolled {
    grace_hours: u64,
    pending_days: u64,
}

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Removal,
    Activation,
    Activity,
}

/// A removal waiting for its re-enrollment, as stored in state.
#[derive(Serialize, Deserialize)]
struct Pending {
    at_ms: i64,
    event_type: String,
    factor: String,
    by: String,
}

impl Detection for FactorRemovedNotReenrolled {
    fn info() -> Info {
        Info::new("okta-mfa-factor-removed-not-reenrolled", "Okta MFA factor removed and not re-enrolled")
            .severity(Severity::Medium)
            .mitre(&["T1556.006"])
            .description(
                "A user's MFA factor was deactivated or all factors were reset, and no new factor was \
                 enrolled within 12 hours while the user kept signing in.",
            )
            .event_types(&[
                "user.mfa.factor.deactivate",
                "user.mfa.factor.reset_all",
                "user.mfa.factor.activate",
                "user.session.start",
            ])
            .config_int("grace_hours", 12, "how long a user has to enroll a new factor")
            .config_int("pending_days", 30, "a removal is forgotten after this many days without an event of the user")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let grace_hours: u64 = config.get("grace_hours")?;
        let pending_days: u64 = config.get("pending_days")?;
        if grace_hours == 0 || pending_days == 0 || days(pending_days) <= hours(grace_hours) {
            return Err("grace_hours and pending_days must be > 0, and pending_days longer than grace_hours".into());
        }
        Ok(FactorRemovedNotReenrolled { grace_hours, pending_days })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let kind = match event.event_type() {
            "user.mfa.factor.deactivate" | "user.mfa.factor.reset_all" => Kind::Removal,
            "user.mfa.factor.activate" => Kind::Activation,
            "user.session.start" => Kind::Activity,
            _ => return,
        };
        let targets = if kind == Kind::Activity { Vec::new() } else { event.targets() };
        let actor = event.actor().alternate_id();
        let Some(user) = okta::affected_user(event, &targets) else { return };
        let key = format!("removed:{user}");

        if kind == Kind::Activation {
            state::forget(&key);
            return;
        }
        let now = event.published_ms();
        let pending: Option<Pending> = state::get(&key);
        let overdue = pending.as_ref().filter(|p| now - p.at_ms > hours(self.grace_hours) as i64);
        if let Some(p) = overdue {
            state::forget(&key);
            self.alert(event, &user, p, now, alerts);
        } else if pending.is_some() {
            // Still inside the grace period of an earlier removal: keep its clock.
            return;
        }
        if kind == Kind::Removal {
            let factor = targets
                .iter()
                .find(|t| t.kind.as_deref() != Some("User"))
                .and_then(|t| t.display_name.clone())
                .or_else(|| event.debug_data("factor"))
                .unwrap_or_default();
            let removal = Pending {
                at_ms: now,
                event_type: event.event_type().to_string(),
                factor,
                by: actor.unwrap_or_default(),
            };
            state::set(&key, &removal, days(self.pending_days));
        }
    }
}

impl FactorRemovedNotReenrolled {
    fn alert(&self, event: &Event, user: &str, removal: &Pending, now: i64, alerts: &mut Alerts) {
        let elapsed_hours = (now - removal.at_ms) / 3_600_000;
        let title = if removal.event_type == "user.mfa.factor.reset_all" {
            format!("All MFA factors reset for {user} {elapsed_hours} h ago and none re-enrolled")
        } else if removal.factor.is_empty() {
            format!("MFA factor removed for {user} {elapsed_hours} h ago and not re-enrolled")
        } else {
            format!("MFA factor {} removed for {user} {elapsed_hours} h ago and not re-enrolled", removal.factor)
        };
        alerts.push(
            Alert::new(title)
                .dedup(format!("{user}|{}", removal.at_ms))
                .field("user", user)
                .field("removal_event", removal.event_type.as_str())
                .field("factor", Some(removal.factor.as_str()).filter(|s| !s.is_empty()))
                .field("removed_by", Some(removal.by.as_str()).filter(|s| !s.is_empty()))
                .field("hours_since_removal", elapsed_hours)
                .field("grace_hours", self.grace_hours)
                .field("seen_with", event.event_type())
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(FactorRemovedNotReenrolled);
