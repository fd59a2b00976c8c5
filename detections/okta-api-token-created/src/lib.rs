//! Okta API tokens (SSWS) created, changed or revoked.
//!
//! An API token is a long-lived credential that acts with its creator's admin
//! rights; an attacker who mints one keeps access after a password reset.
//!
//! Rule: for successful operations only:
//! - `system.api_token.create` / `system.api_token.update`: medium when the
//!   token is restricted to network zones, high when it is usable from any
//!   network. The token's network setting is looked for in
//!   `debugContext.debugData` (`connection` `ANYWHERE` or `ZONE`, zone ids in
//!   `include`). When the event says nothing about it the token counts as
//!   usable from anywhere, which is Okta's default for a token.
//! - `system.api_token.revoke`: low (worth a line in the audit trail, and a
//!   clue when an attacker cleans up after itself).
//!
//! No config.
use oktawatch_guest::prelude::*;

struct ApiTokenCreated;

/// What the event says about where the token may be used from.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Network {
    /// Explicitly `ANYWHERE` (possibly with excluded zones).
    Anywhere,
    /// Restricted to one or more network zones.
    Zones,
    /// Nothing said: Okta's default, any network.
    Unstated,
}

impl Detection for ApiTokenCreated {
    fn info() -> Info {
        Info::new("okta-api-token-created", "Okta API token created")
            .severity(Severity::Medium)
            .mitre(&["T1098.001", "T1528"])
            .description(
                "An administrator created or changed an Okta API token (SSWS); high when the token is usable \
                 from any network. Token revocations are reported at low severity.",
            )
            .event_types(&["system.api_token.create", "system.api_token.update", "system.api_token.revoke"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(ApiTokenCreated)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let action = match event.event_type() {
            "system.api_token.create" => "created",
            "system.api_token.update" => "updated",
            "system.api_token.revoke" => "revoked",
            _ => return,
        };
        if event.failed() {
            return;
        }

        let actor = okta::actor_or_unknown(event);
        let token = event.target_of_type("Token");
        let token_name = token.as_ref().and_then(|t| t.display_name.clone());
        let token_id = token.as_ref().and_then(|t| t.id.clone());
        let label = token_name.clone().or_else(|| token_id.clone()).unwrap_or_else(|| "unnamed token".into());

        let alert = if action == "revoked" {
            Alert::new(format!("API token {label} revoked by {actor}")).severity(Severity::Low)
        } else {
            let network = match event.get("debugContext.debugData") {
                Some(Value::Json(text)) | Some(Value::Text(text)) => network_of(&text),
                _ => Network::Unstated,
            };
            let anywhere = network != Network::Zones;
            let reach = if anywhere { "usable from any network" } else { "restricted to network zones" };
            Alert::new(format!("API token {label} {action} by {actor} ({reach})"))
                .severity(if anywhere { Severity::High } else { Severity::Medium })
                .field(
                    "network",
                    match network {
                        Network::Anywhere => "ANYWHERE",
                        Network::Zones => "ZONE",
                        Network::Unstated => "not stated (Okta default: anywhere)",
                    },
                )
        };
        alerts.push(
            alert
                .dedup(format!("{action}:{}", token_id.as_deref().unwrap_or(&label)))
                .field("actor", actor.as_str())
                .field("token", token_name)
                .field("token_id", token_id)
                .field("client_ip", event.client().ip()),
        );
    }
}

/// Reads the token's network restriction from `debugData` JSON text, whatever
/// its nesting: `"connection": "ZONE"` or a non-empty `"include"` zone list
/// mean restricted, `"ANYWHERE"` means unrestricted.
fn network_of(debug_data: &str) -> Network {
    let flat: String = debug_data.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    if flat.contains("\"anywhere\"") {
        return Network::Anywhere;
    }
    let zone_markers = ["connection\":\"zone\"", "\"include\":[\""];
    if zone_markers.iter().any(|m| flat.contains(m)) {
        return Network::Zones;
    }
    Network::Unstated
}

export_detection!(ApiTokenCreated);
