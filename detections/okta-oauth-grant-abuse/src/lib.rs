//! # OAuth token grant with a mismatched redirect URI or unauthorized scopes
//!
//! Rule: two alerts on failed OAuth token grants (`app.oauth2.token.grant`,
//! `app.oauth2.as.token.grant` and their `.access_token` / `.id_token` /
//! `.refresh_token` forms; `outcome.result` = `FAILURE`):
//! - **mismatched redirect URI** (medium): `outcome.reason` =
//!   `mismatched_redirect_uri`; an authorization code presented with a
//!   redirect URI other than the one it was issued for, which is what a
//!   phishing page relaying codes to its own callback produces;
//! - **unauthorized scopes with client credentials** (high):
//!   `outcome.reason` = `no_matching_scope` and
//!   `debugContext.debugData.grantType` = `client_credentials`; a client
//!   (a stolen client secret or key) probing for scopes it was never granted.
//!
//! One alert per client and kind. Clients in `allow_clients` are ignored.
//!
//! Config keys (defaults):
//! - `allow_clients = []`: client ids (`client.id`, else `actor.id`) never reported
//!
//! References: Okta's LogEvent (`outcome.reason`, `debugData.grantType`,
//! `debugData.requestedScopes`); Okta's customer detection "OAuth mismatched
//! redirect URI"; MITRE ATT&CK T1528 (Steal Application Access Token) and
//! T1550.001 (Application Access Token).
use oktawatch_guest::prelude::*;

struct OauthGrantAbuse {
    allow_clients: Vec<String>,
}

impl Detection for OauthGrantAbuse {
    fn info() -> Info {
        Info::new("okta-oauth-grant-abuse", "Okta OAuth grant with a mismatched redirect URI or unauthorized scopes")
            .severity(Severity::Medium)
            .mitre(&["T1528", "T1550.001"])
            .description(
                "An Okta OAuth token grant failed because its redirect URI did not match (a relayed \
                 authorization code), or a client-credentials client asked for scopes it does not have.",
            )
            .event_types(&[
                "app.oauth2.token.grant",
                "app.oauth2.token.grant.access_token",
                "app.oauth2.token.grant.id_token",
                "app.oauth2.token.grant.refresh_token",
                "app.oauth2.as.token.grant",
                "app.oauth2.as.token.grant.access_token",
                "app.oauth2.as.token.grant.id_token",
                "app.oauth2.as.token.grant.refresh_token",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
            .config_list("allow_clients", &[], "client ids never reported")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(OauthGrantAbuse { allow_clients: config.get("allow_clients")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let outcome = event.outcome();
        if !outcome.is("FAILURE") {
            return;
        }
        let reason = outcome.reason.clone().unwrap_or_default().to_lowercase();
        let grant = event.debug_data("grantType");
        let mismatch = reason.contains("mismatched_redirect_uri");
        let scopes = reason.contains("no_matching_scope") && grant.as_deref() == Some("client_credentials");
        if !mismatch && !scopes {
            return;
        }
        let client = event.text("client.id").or_else(|| event.actor().id()).unwrap_or_else(|| "unknown client".into());
        if self.allow_clients.iter().any(|c| c == &client) {
            return;
        }
        // The client's name when the actor is the client (not the user it acts for).
        let name = match event.actor().kind().as_deref() {
            Some("User") | None => client.clone(),
            _ => event.actor().display_name().unwrap_or_else(|| client.clone()),
        };
        let ip = event.client().ip();
        let alert = if mismatch {
            Alert::new(format!("OAuth token grant with a mismatched redirect URI for client {name}"))
                .dedup(format!("redirect|{client}"))
                .field("redirect_uri", event.debug_data("redirectUri"))
        } else {
            Alert::new(format!("OAuth client {name} asked for unauthorized scopes with client credentials"))
                .severity(Severity::High)
                .dedup(format!("scope|{client}"))
                .field("requested_scopes", event.debug_data("requestedScopes"))
        };
        alerts.push(
            alert
                .field("client_id", &client)
                .field("client", &name)
                .field("grant_type", grant)
                .field("reason", outcome.reason)
                .field("ip", ip),
        );
    }
}

export_detection!(OauthGrantAbuse);
