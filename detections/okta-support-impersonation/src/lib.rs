//! Okta support access: an admin let Okta support sign in as them, or support did.
//!
//! Rule: a successful
//! - `user.session.impersonation.grant` (an admin granted Okta support access
//!   to the org) → high;
//! - `user.session.impersonation.initiate` (an impersonation session started,
//!   someone is acting as an admin of the org) → high;
//! - `user.session.impersonation.extend` (the support access window was
//!   extended) → medium.
//!
//! Support access is rare and is what an attacker posing as Okta support (or
//! holding a support account) asks for. No config.
use oktawatch_guest::prelude::*;

struct SupportImpersonation;

impl Detection for SupportImpersonation {
    fn info() -> Info {
        Info::new("okta-support-impersonation", "Okta support access granted or used")
            .severity(Severity::High)
            .mitre(&["T1078"])
            .description(
                "Okta support impersonation was granted to the org, extended, or an impersonation session \
                 was started.",
            )
            .event_types(&[
                "user.session.impersonation.grant",
                "user.session.impersonation.initiate",
                "user.session.impersonation.extend",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(SupportImpersonation)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (what, severity) = match event.event_type() {
            "user.session.impersonation.grant" => ("Okta support access granted", Severity::High),
            "user.session.impersonation.initiate" => ("Okta support impersonation session started", Severity::High),
            "user.session.impersonation.extend" => ("Okta support access extended", Severity::Medium),
            _ => return,
        };
        if event.failed() {
            return;
        }

        let actor = okta::actor_or_unknown(event);
        let impersonated =
            event.target_of_type("User").and_then(|t| t.alternate_id.or(t.display_name)).filter(|t| *t != actor);
        let title = match &impersonated {
            Some(user) => format!("{what} by {actor} for {user}"),
            None => format!("{what} by {actor}"),
        };
        alerts.push(
            Alert::new(title)
                .severity(severity)
                .dedup(format!("{}:{actor}", event.event_type()))
                .field("actor", actor.as_str())
                .field("impersonated_user", impersonated)
                .field("client_ip", event.client().ip())
                .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(SupportImpersonation);
