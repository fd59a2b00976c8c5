//! Identity provider created, changed or activated: a way to sign in as anyone.
//!
//! An attacker with admin rights can add (or repoint) an inbound SAML/OIDC
//! identity provider they control and then sign in as any user who is routed
//! to it, without passwords or MFA.
//!
//! Rule: a successful `system.idp.lifecycle.create`, `.update` or `.activate`
//! → high. The IdP's issuer is taken from `debugContext.debugData.issuer`
//! (else `debugData.idpIssuer`, else the `IdentityProvider` target's
//! `alternateId` when it looks like an issuer: a URL or URN). An issuer this
//! detection has never seen before (remembered for `issuer_memory_days`)
//! makes the alert critical: "new IdP issuer". After a fresh install the
//! first change of each existing IdP is therefore critical once.
//!
//! Config:
//! - `issuer_memory_days` (integer): how long an issuer stays known; 0 = for
//!   ever. Default 0.
use oktawatch_guest::prelude::*;

struct IdpChange {
    issuer_memory_ms: u64,
}

impl Detection for IdpChange {
    fn info() -> Info {
        Info::new("okta-idp-change", "Okta identity provider created or changed")
            .severity(Severity::High)
            .mitre(&["T1484.002"])
            .description(
                "An inbound identity provider was created, updated or activated; critical when its issuer \
                 was never seen before.",
            )
            .event_types(&[
                "system.idp.lifecycle.create",
                "system.idp.lifecycle.update",
                "system.idp.lifecycle.activate",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_int("issuer_memory_days", 0, "how long an issuer stays known; 0 = for ever")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(IdpChange { issuer_memory_ms: days(config.get("issuer_memory_days")?) })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let action = match event.event_type() {
            "system.idp.lifecycle.create" => "created",
            "system.idp.lifecycle.update" => "updated",
            "system.idp.lifecycle.activate" => "activated",
            _ => return,
        };
        if event.failed() {
            return;
        }

        let idp = event.target_of_type("IdentityProvider");
        let idp_name = idp
            .as_ref()
            .and_then(|t| t.display_name.clone().or_else(|| t.id.clone()))
            .unwrap_or_else(|| "unnamed IdP".into());
        let issuer = event
            .debug_data("issuer")
            .or_else(|| event.debug_data("idpIssuer"))
            .or_else(|| idp.as_ref().and_then(|t| t.alternate_id.clone()).filter(|a| looks_like_issuer(a)));
        let actor = okta::actor_or_unknown(event);

        let new_issuer = match &issuer {
            Some(iss) => {
                let key = format!("issuer:{}", iss.to_lowercase());
                let seen = state::recall(&key).is_some();
                state::remember(&key, &idp_name, self.issuer_memory_ms);
                !seen
            }
            None => false,
        };

        let alert = if new_issuer {
            let iss = issuer.as_deref().unwrap_or_default();
            Alert::new(format!("New IdP issuer {iss}: identity provider {idp_name} {action} by {actor}"))
                .severity(Severity::Critical)
        } else {
            Alert::new(format!("Identity provider {idp_name} {action} by {actor}"))
        };
        alerts.push(
            alert
                .dedup(format!("{action}:{idp_name}:{}", issuer.as_deref().unwrap_or("")))
                .field("actor", actor.as_str())
                .field("idp", idp_name.as_str())
                .field("idp_id", idp.and_then(|t| t.id))
                .field("issuer", issuer.as_deref())
                .field("new_issuer", new_issuer)
                .field("client_ip", event.client().ip()),
        );
    }
}

/// Issuers are URLs (OIDC, most SAML) or URNs.
fn looks_like_issuer(s: &str) -> bool {
    s.contains("://") || s.to_ascii_lowercase().starts_with("urn:")
}

export_detection!(IdpChange);
