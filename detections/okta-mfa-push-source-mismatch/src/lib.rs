//! # Okta Verify push answered from elsewhere than where it was asked for
//!
//! Rule: a push is sent (`system.push.send_factor_verify_push`) for a
//! session (`authenticationContext.externalSessionId`, else the user): its
//! client IP and user agent are the requester's, the browser that typed the
//! password. When a push MFA (`user.authentication.auth_via_mfa` with a push
//! factor: `debugData.factor` or `target[].detailEntry.methodTypeUsed`)
//! follows for that session within `window_minutes` from another IP → high.
//! An adversary-in-the-middle kit or a stolen password makes the request
//! from the attacker's machine, and the push is then answered by the real
//! user somewhere else (or the other way round): one sign-in, two places.
//! The MFA's own outcome is reported (an approved mismatch is the dangerous
//! one; a denied one is an attempt). One alert per session.
//!
//! Config keys (defaults):
//! - `window_minutes = 10`: how long a sent push waits for its answer
//!
//! References: Okta event types `system.push.send_factor_verify_push` and
//! `user.authentication.auth_via_mfa`; public detections that group both by
//! session and look for more than one client IP; MITRE ATT&CK T1621 (MFA
//! Request Generation) and T1557 (Adversary-in-the-Middle).
use oktawatch_guest::prelude::*;

struct PushSourceMismatch {
    window_minutes: u64,
}

impl Detection for PushSourceMismatch {
    fn info() -> Info {
        Info::new("okta-mfa-push-source-mismatch", "Okta Verify push answered from another IP than the request")
            .severity(Severity::High)
            .mitre(&["T1621", "T1557"])
            .description(
                "An Okta Verify push was requested from one IP and the push MFA of the same session came \
                 from another: the password typed in one place, the push answered in another.",
            )
            .event_types(&["system.push.send_factor_verify_push", "user.authentication.auth_via_mfa"])
            .config_int("window_minutes", 10, "how long a sent push waits for its answer")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let window_minutes: u64 = config.get("window_minutes")?;
        if window_minutes == 0 {
            return Err("window_minutes must be greater than 0".into());
        }
        Ok(PushSourceMismatch { window_minutes })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let Some(user) = okta::subject_user(event) else { return };
        let session = event.session_id().unwrap_or_else(|| format!("user:{user}"));
        let key = format!("push:{session}");
        let window = minutes(self.window_minutes);
        let Some(ip) = event.client().ip() else { return };
        if event.is("system.push.send_factor_verify_push") {
            state::set(&key, &(ip, event.client().user_agent()), window);
            return;
        }
        if okta::push_factor(event) != Some(true) {
            return;
        }
        let Some((asked_ip, asked_ua)) = state::get::<(String, Option<String>)>(&key) else { return };
        if asked_ip == ip || !state::once_per(&format!("fired:{session}"), window) {
            return;
        }
        let result = event.outcome().result.unwrap_or_else(|| "UNKNOWN".into());
        alerts.push(
            Alert::new(format!("Okta Verify push for {user} requested from {asked_ip} but answered from {ip} ({result})"))
                .dedup(format!("{user}:{session}"))
                .field("user", &user)
                .field("request_ip", &asked_ip)
                .field("request_user_agent", asked_ua)
                .field("response_ip", &ip)
                .field("response_user_agent", event.client().user_agent())
                .field("result", &result)
                .field("session_id", event.session_id())
                .field("country", event.text("client.geographicalContext.country")),
        );
    }
}

export_detection!(PushSourceMismatch);
