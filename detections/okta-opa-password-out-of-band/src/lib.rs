//! # Okta Privileged Access server account password changed out of band
//!
//! Rule: `pam.server_account.password_change.out_of_band`: Okta Privileged
//! Access found that a server account's password it manages was changed
//! outside of it (on the server itself). Also, with `include_reveal = true`
//! (the default), `pam.server_account.password.reveal` and
//! `pam.service_account.password.reveal` at low severity, so the reveal
//! before a change is in Wazuh too. Either the vaulted credential is being
//! taken over, or someone is working around the vault. Successful events only.
//!
//! Config keys (defaults):
//! - `include_reveal = true`
//!
//! References: Okta's event-type catalog (`pam.*`); Okta's customer
//! detection "OPA password changed out of band"; MITRE ATT&CK T1098
//! (Account Manipulation).
use oktawatch_guest::prelude::*;

const OOB: &str = "pam.server_account.password_change.out_of_band";

struct OpaOutOfBand {
    include_reveal: bool,
}

impl Detection for OpaOutOfBand {
    fn info() -> Info {
        Info::new("okta-opa-password-out-of-band", "Okta Privileged Access server account password changed out of band")
            .severity(Severity::Medium)
            .mitre(&["T1098"])
            .description(
                "A server account password managed by Okta Privileged Access was changed outside of it, or a \
                 vaulted password was revealed.",
            )
            .event_types(&[OOB, "pam.server_account.password.reveal", "pam.service_account.password.reveal"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_bool("include_reveal", true, "also vaulted password reveals, at low severity")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(OpaOutOfBand { include_reveal: config.get("include_reveal")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.failed() {
            return;
        }
        let targets = event.targets();
        let account = targets
            .iter()
            .find(|t| t.kind.as_deref().is_some_and(|k| k.to_lowercase().contains("account")))
            .or(targets.first())
            .and_then(okta::target_name)
            .unwrap_or_else(|| "an account".into());
        let server = targets
            .iter()
            .find(|t| t.kind.as_deref().is_some_and(|k| {
                let k = k.to_lowercase();
                k.contains("server") && !k.contains("account")
            }))
            .and_then(|t| t.display_name.clone().or_else(|| t.alternate_id.clone()));
        let actor = okta::actor_or_unknown(event);
        let alert = if event.is(OOB) {
            Alert::new(format!(
                "Okta Privileged Access: password of {account}{} changed out of band",
                server.as_deref().map(|s| format!(" on {s}")).unwrap_or_default()
            ))
            .dedup(format!("oob|{account}|{}", server.as_deref().unwrap_or("")))
        } else if self.include_reveal {
            Alert::new(format!("Okta Privileged Access: password of {account} revealed to {actor}"))
                .severity(Severity::Low)
                .dedup(format!("reveal|{account}|{actor}"))
        } else {
            return;
        };
        alerts.push(
            alert
                .field("account", &account)
                .field("server", server)
                .field("actor", &actor)
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(OpaOutOfBand);
