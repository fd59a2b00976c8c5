//! # Sign-in through a third-party IdP with an issuer never seen
//!
//! Rule: a successful sign-in through an external identity provider
//! (`user.authentication.auth_via_IDP`, `user.authentication.auth_via_inbound_SAML`,
//! `user.authentication.auth_via_social`) whose issuer was not seen in any
//! such sign-in of the org within `memory_days` and is not in
//! `known_issuers`. The issuer is `authenticationContext.issuer.id`, else
//! the target of type `IdP` (id, else alternateId), else
//! `debugContext.debugData.issuer`. A new federation (an IdP an attacker
//! added, or an inbound SAML issuer forged for a look-alike IdP) lets its
//! owner sign in as any user it routes. One alert per issuer.
//!
//! Config keys (defaults):
//! - `memory_days = 90`: how long a seen issuer stays known
//! - `known_issuers = []`: issuers never reported (your own IdPs)
//!
//! References: Okta's LogEvent (`authenticationContext.issuer`, targets of
//! the `auth_via_*` events); Elastic's and Panther's "new IdP" rules;
//! MITRE ATT&CK T1484.002 (Domain or Tenant Policy Modification: Trust Modification).
use oktawatch_guest::prelude::*;

struct IdpNewIssuer {
    memory_days: u64,
    known: Vec<String>,
}

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
    }

    fn new(config: &Config) -> Result<Self, String> {
        let memory_days: u64 = config.get("memory_days")?;
        if memory_days == 0 {
            return Err("memory_days must be greater than 0".into());
        }
        Ok(IdpNewIssuer { memory_days, known: config.get("known_issuers")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.outcome().success() {
            return;
        }
        let idp = event.target_of_type("IdP");
        let issuer = event
            .text("authenticationContext.issuer.id")
            .or_else(|| idp.as_ref().and_then(|t| t.id.clone().or_else(|| t.alternate_id.clone())))
            .or_else(|| event.debug_data("issuer"));
        let Some(issuer) = issuer else { return };
        if self.known.iter().any(|k| k.eq_ignore_ascii_case(&issuer)) {
            return;
        }
        let key = format!("issuer:{issuer}");
        let seen = state::recall(&key).is_some();
        state::remember(&key, "1", days(self.memory_days));
        if seen {
            return;
        }
        let user = event.actor().alternate_id().unwrap_or_else(|| "unknown user".into());
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

export_detection!(IdpNewIssuer);
