//! A password or MFA reset done by Okta support rather than by an admin or the user.
//!
//! When Okta support resets a credential, the System Log shows the actor
//! `system@okta.com` and no user agent (the change did not come from a
//! browser or an API client of the org). Social engineering of the support
//! desk ends exactly there, so each such reset is high.
//!
//! Rule: a successful `user.account.reset_password`,
//! `user.mfa.factor.reset_all` or `user.mfa.factor.deactivate` whose
//! `actor.alternateId` is a support actor and whose
//! `client.userAgent.rawUserAgent` is missing → high, naming the user.
//!
//! Config:
//! - `support_actors` (list of strings): actor logins taken as Okta support,
//!   case-insensitive. Default `["system@okta.com"]`.
use oktawatch_guest::prelude::*;

struct SupportReset {
    support_actors: Vec<String>,
}

impl Detection for SupportReset {
    fn info() -> Info {
        Info::new("okta-support-reset", "Okta support reset a password or MFA")
            .severity(Severity::High)
            .mitre(&["T1098"])
            .description(
                "A user's password or MFA factors were reset by Okta support (actor system@okta.com, \
                 no user agent).",
            )
            .event_types(&["user.account.reset_password", "user.mfa.factor.reset_all", "user.mfa.factor.deactivate"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("support_actors", &["system@okta.com"], "actor logins taken as Okta support (any case)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let support_actors: Vec<String> = config.get("support_actors")?;
        Ok(SupportReset { support_actors: support_actors.iter().map(|a| a.to_lowercase()).collect() })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let what = match event.event_type() {
            "user.account.reset_password" => "reset the password of",
            "user.mfa.factor.reset_all" => "reset all MFA factors of",
            "user.mfa.factor.deactivate" => "deactivated an MFA factor of",
            _ => return,
        };
        let Some(actor) = event.actor().alternate_id() else { return };
        if !self.support_actors.contains(&actor.to_lowercase()) {
            return;
        }
        // A browser or API client means the change came from inside the org.
        if event.client().user_agent().is_some() {
            return;
        }
        if event.failed() {
            return;
        }

        let user = event
            .target_of_type("User")
            .and_then(|t| t.alternate_id.or(t.display_name))
            .unwrap_or_else(|| "unknown user".into());
        alerts.push(
            Alert::new(format!("Okta support ({actor}) {what} {user}"))
                .dedup(format!("{}:{user}", event.event_type()))
                .field("user", user.as_str())
                .field("actor", actor.as_str())
                .field("action", event.event_type())
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(SupportReset);
