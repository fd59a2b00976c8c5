//! OAuth refresh tokens replayed, or an OAuth client secret read by an admin.
//!
//! Okta rotates refresh tokens; when an already-used refresh token is
//! presented again it logs `app.oauth2.as.token.detect_reuse` (custom
//! authorization server) or `app.oauth2.token.detect_reuse` (org
//! authorization server) and revokes the family. Reuse means two parties
//! hold the same token: one of them stole it. Reading a client secret in the
//! Admin Console (`app.oauth2.client.read_client_secret`) is how an admin, or
//! an intruder with an admin session, takes an app's credentials.
//!
//! Rule:
//! - token reuse detected (whatever the outcome, the token is refused) → high;
//! - a successful client secret read → medium.
//!
//! No config.
use oktawatch_guest::prelude::*;

struct OauthTokenReuseAndSecretRead;

impl Detection for OauthTokenReuseAndSecretRead {
    fn info() -> Info {
        Info::new("okta-oauth-token-reuse-and-secret-read", "Okta OAuth refresh token reuse or client secret read")
            .severity(Severity::High)
            .mitre(&["T1528"])
            .description(
                "A rotated OAuth refresh token was presented again (high), or an admin read an OAuth client \
                 secret (medium).",
            )
            .event_types(&[
                "app.oauth2.as.token.detect_reuse",
                "app.oauth2.token.detect_reuse",
                "app.oauth2.client.read_client_secret",
            ])
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(OauthTokenReuseAndSecretRead)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        match event.event_type() {
            "app.oauth2.as.token.detect_reuse" | "app.oauth2.token.detect_reuse" => token_reuse(event, alerts),
            "app.oauth2.client.read_client_secret" => secret_read(event, alerts),
            _ => {}
        }
    }
}

fn token_reuse(event: &Event, alerts: &mut Alerts) {
    let server = if event.event_type() == "app.oauth2.as.token.detect_reuse" {
        event.debug_data("authorizationServerName").unwrap_or_else(|| "custom authorization server".into())
    } else {
        "org authorization server".into()
    };
    // The client presenting the token is the actor; the token's user, when logged, a target.
    let actor = event.actor();
    let client = actor.display_name().or_else(|| actor.alternate_id()).unwrap_or_else(|| "unknown client".into());
    let user = event.target_of_type("User").and_then(|t| t.alternate_id.or(t.display_name));
    let ip = event.client().ip();
    let mut title = format!("Refresh token reuse detected for client {client} on {server}");
    if let Some(u) = &user {
        title.push_str(&format!(" (user {u})"));
    }
    if let Some(ip) = &ip {
        title.push_str(&format!(" from {ip}"));
    }
    alerts.push(
        Alert::new(title)
            .severity(Severity::High)
            .dedup(format!("reuse:{client}:{}", user.as_deref().unwrap_or("")))
            .field("client", client.as_str())
            .field("user", user)
            .field("authorization_server", server.as_str())
            .field("client_ip", ip)
            .field("user_agent", event.client().user_agent())
            .field("reason", event.text("outcome.reason")),
    );
}

fn secret_read(event: &Event, alerts: &mut Alerts) {
    if event.failed() {
        return;
    }
    let admin = okta::actor_or_unknown(event);
    let app = event
        .targets()
        .into_iter()
        .find(|t| matches!(t.kind.as_deref(), Some("AppInstance") | Some("PublicClientApp") | Some("Client")))
        .and_then(|t| t.display_name.or(t.alternate_id).or(t.id))
        .unwrap_or_else(|| "unknown client".into());
    alerts.push(
        Alert::new(format!("OAuth client secret of {app} read by {admin}"))
            .severity(Severity::Medium)
            .dedup(format!("secret:{app}:{admin}"))
            .field("actor", admin.as_str())
            .field("app", app.as_str())
            .field("client_ip", event.client().ip()),
    );
}

export_detection!(OauthTokenReuseAndSecretRead);
