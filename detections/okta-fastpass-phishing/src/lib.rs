//! # Okta FastPass declined a phishing attempt
//!
//! Rule: `user.authentication.auth_via_mfa` with `outcome.result` FAILURE and
//! `outcome.reason` "FastPass declined phishing attempt" (compared without
//! case). FastPass checks the origin of the sign-in page; it refused because
//! the user was on a look-alike or proxy (AitM) page. The user was phished:
//! their password may already be in the attacker's hands. No config keys.
//!
//! References: Okta's FastPass phishing-resistance documentation and the
//! System Log reason it writes for a blocked attempt; MITRE ATT&CK T1566 (Phishing).
use oktawatch_guest::prelude::*;

const REASON: &str = "fastpass declined phishing attempt";

struct FastPassPhishing;

impl Detection for FastPassPhishing {
    fn info() -> Info {
        Info::new("okta-fastpass-phishing", "Okta FastPass blocked a phishing attempt")
            .severity(Severity::High)
            .mitre(&["T1566"])
            .description(
                "Okta FastPass refused to authenticate because the sign-in came from a phishing origin: \
                 the user was lured to an attacker's page.",
            )
            .event_types(&["user.authentication.auth_via_mfa"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(FastPassPhishing)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.authentication.auth_via_mfa") {
            return;
        }
        let outcome = event.outcome();
        if !outcome.is("FAILURE") || !outcome.reason.as_deref().is_some_and(|r| r.to_ascii_lowercase().contains(REASON))
        {
            return;
        }
        let user = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let ip = event.client().ip();
        let app = event.target_of_type("AppInstance").and_then(|t| t.display_name);
        alerts.push(
            Alert::new(format!(
                "Okta FastPass blocked a phishing attempt against {user} from {}",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .dedup(format!("{user}|{}", ip.as_deref().unwrap_or("")))
            .field("user", &user)
            .field("ip", ip)
            .field("country", event.text("client.geographicalContext.country"))
            .field("app", app)
            .field("origin", event.debug_data("origin"))
            .field("user_agent", event.client().user_agent())
            .field("reason", outcome.reason),
        );
    }
}

export_detection!(FastPassPhishing);
