//! # Sign-in through a third-party IdP with an issuer never seen
//!
//! Rule: a successful sign-in through an external identity provider
//! (`user.authentication.auth_via_IDP`, `user.authentication.auth_via_inbound_SAML`,
//! `user.authentication.auth_via_social`) whose issuer was not seen in any
//! such sign-in of the org within `memory_days` and is not in
//! `known_issuers`. The issuer is `authenticationContext.issuer.id` (Okta's
//! LogEvent: for SAML 2.0 the assertion's issuer, for social sign-in the
//! token's issuer); Okta often leaves it null, and then the IdP is taken
//! from the targets: one of type `IdentityProvider` or `IdP`, else the
//! `AppInstance` target an IdP sign-in names (id, else alternateId). The
//! user is the actor, or the `User` target when the actor is Okta itself
//! (`SystemPrincipal`, as in IdP sign-ins). A new federation (an IdP an
//! attacker added, or an inbound SAML issuer forged for a look-alike IdP)
//! lets its owner sign in as any user it routes. One alert per issuer.
//!
//! On a fresh deployment every issuer in use is new: for `learning_days` of
//! event time from the first such sign-in the detection sees, issuers are
//! learned silently; only an issuer first seen after that is reported.
//!
//! Config keys (defaults):
//! - `memory_days = 90`: how long a seen issuer stays known
//! - `known_issuers = []`: issuers never reported (your own IdPs)
//! - `learning_days = 7`: learn silently this long from the first sign-in seen (0 = report from the start)
//!
//! References: Okta's LogEvent (`authenticationContext.issuer`: `id` and
//! `type`; targets of the `auth_via_*` events); a public
//! `user.authentication.auth_via_IDP` sample (issuer null, actor
//! `SystemPrincipal`, the IdP an `AppInstance` target, the user a `User`
//! target); Elastic's and Panther's "new IdP" rules; MITRE ATT&CK T1484.002
//! (Domain or Tenant Policy Modification: Trust Modification).
use oktawatch_guest::prelude::*;

struct IdpNewIssuer {
    memory_days: u64,
    known: Vec<String>,
    learning_days: u64,
}

/// The event time learning started at (state).
const LEARNING_SINCE: &str = "learning-since";

impl Detection for IdpNewIssuer {
    fn info() -> Info {
        Info::new("okta-idp-new-issuer", "Okta sign-in through a third-party IdP never seen")
            .severity(Severity::Medium)
            .mitre(&["T1484.002", "T1199"])
            .description(
                "A user signed in to Okta through an external identity provider (IdP, inbound SAML or social) \
                 whose issuer the org has not used before.",
            )
            .event_types(&[
                "user.authentication.auth_via_IDP",
                "user.authentication.auth_via_inbound_SAML",
                "user.authentication.auth_via_social",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().one_of("outcome.result", &["SUCCESS", "ALLOW"]))
            .config_int("memory_days", 90, "how long a seen issuer stays known")
            .config_list("known_issuers", &[], "issuers never reported (your own IdPs)")
            .config_int("learning_days", 7, "issuers first seen this long from the first sign-in seen are learned silently (0 = none)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let memory_days: u64 = config.get("memory_days")?;
        if memory_days == 0 {
            return Err("memory_days must be greater than 0".into());
        }
        Ok(IdpNewIssuer { memory_days, known: config.get("known_issuers")?, learning_days: config.get("learning_days")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.succeeded() {
            return;
        }
        let idp = event
            .target_of_type("IdentityProvider")
            .or_else(|| event.target_of_type("IdP"))
            .or_else(|| event.target_of_type("AppInstance"));
        let issuer = event
            .text("authenticationContext.issuer.id")
            .or_else(|| idp.as_ref().and_then(|t| t.id.clone().or_else(|| t.alternate_id.clone())));
        let Some(issuer) = issuer else { return };
        if self.known.iter().any(|k| k.eq_ignore_ascii_case(&issuer)) {
            return;
        }
        let key = format!("issuer:{issuer}");
        let seen = state::recall(&key).is_some();
        state::remember(&key, "1", days(self.memory_days));
        if seen || self.learning(event.published_ms()) {
            return;
        }
        let system = event.actor().kind().as_deref() == Some("SystemPrincipal");
        let user = (if system { event.target_of_type("User").and_then(|t| t.alternate_id) } else { event.actor().alternate_id() })
            .unwrap_or_else(|| "unknown user".into());
        let via = match event.event_type() {
            "user.authentication.auth_via_inbound_SAML" => "inbound SAML",
            "user.authentication.auth_via_social" => "a social IdP",
            _ => "an external IdP",
        };
        let name = idp.and_then(|t| t.display_name).unwrap_or_else(|| issuer.clone());
        alerts.push(
            Alert::new(format!("{user} signed in via {via} with a new issuer: {name}"))
                .dedup(issuer.clone())
                .field("user", &user)
                .field("issuer", &issuer)
                .field("idp", name)
                .field("issuer_type", event.text("authenticationContext.issuer.type"))
                .field("ip", event.client().ip()),
        );
    }
}

impl IdpNewIssuer {
    /// True while in the learning period; the first call starts it.
    fn learning(&self, now_ms: i64) -> bool {
        if self.learning_days == 0 {
            return false;
        }
        let since = match state::recall(LEARNING_SINCE).and_then(|s| s.parse::<i64>().ok()) {
            Some(t) => t,
            None => {
                state::remember(LEARNING_SINCE, &now_ms.to_string(), 0);
                now_ms
            }
        };
        now_ms.saturating_sub(since) < days(self.learning_days) as i64
    }
}

export_detection!(IdpNewIssuer);
