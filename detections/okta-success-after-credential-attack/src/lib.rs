//! # Successful sign-in after a credential attack
//!
//! Rule: a user or a source IP collects `threshold` or more failed sign-ins
//! (`user.session.start`, `outcome.result` = `FAILURE`) within
//! `window_minutes`; a successful `user.session.start` then follows within
//! `within_minutes` (of the last failure) for that same user, or from that
//! same IP for any user. The guessing worked: the account is likely
//! compromised. One alert per user per `within_minutes`.
//!
//! Config keys (defaults):
//! - `threshold = 5`: failures that make an attack (per user, and per IP)
//! - `window_minutes = 60`: window for counting failures
//! - `within_minutes = 60`: how long after the attack a success is reported
//!
//! References: MITRE ATT&CK T1110 (Brute Force) leading to T1078 (Valid
//! Accounts). "Failures followed by success" is the classic correlation in
//! Okta SIEM content (Splunk, Elastic, Sigma) for confirmed credential compromise.
use oktawatch_guest::prelude::*;

struct SuccessAfterAttack {
    threshold: u32,
    window_minutes: u64,
    within_minutes: u64,
}

impl Detection for SuccessAfterAttack {
    fn info() -> Info {
        Info::new("okta-success-after-credential-attack", "Okta sign-in succeeded after a credential attack")
            .severity(Severity::Critical)
            .mitre(&["T1110", "T1078"])
            .description(
                "A successful Okta sign-in for a user, or from an IP, that just had many failed sign-ins: \
                 a brute force or spray that worked.",
            )
            .event_types(&["user.session.start"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().one_of("outcome.result", &["FAILURE", "SUCCESS"]))
            .config_int("threshold", 5, "failures that make an attack (per user, and per IP)")
            .config_int("window_minutes", 60, "window for counting failures")
            .config_int("within_minutes", 60, "how long after the attack a success is reported")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = SuccessAfterAttack {
            threshold: config.get("threshold")?,
            window_minutes: config.get("window_minutes")?,
            within_minutes: config.get("within_minutes")?,
        };
        if d.threshold == 0 || d.window_minutes == 0 || d.within_minutes == 0 {
            return Err("threshold, window_minutes and within_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") {
            return;
        }
        let result = event.text("outcome.result");
        let user = okta::actor_login(event);
        let ip = event.client().ip();
        match result.as_deref() {
            Some("FAILURE") => self.record_failure(user.as_deref(), ip.as_deref()),
            Some("SUCCESS") => {
                let Some(user) = user else { return };
                self.check_success(event, &user, ip.as_deref(), alerts)
            }
            _ => {}
        }
    }
}

impl SuccessAfterAttack {
    /// Counts the failure per user and per IP; over the threshold, (re)arms the attack marker.
    fn record_failure(&self, user: Option<&str>, ip: Option<&str>) {
        let window = minutes(self.window_minutes);
        let within = minutes(self.within_minutes);
        if let Some(user) = user {
            let n = state::count_in_window(&format!("fail:user:{user}"), window);
            if n >= self.threshold {
                state::set(&format!("attack:user:{user}"), &n, within);
            }
        }
        if let Some(ip) = ip {
            let n = state::count_in_window(&format!("fail:ip:{ip}"), window);
            if n >= self.threshold {
                state::set(&format!("attack:ip:{ip}"), &n, within);
            }
        }
    }

    fn check_success(&self, event: &Event, user: &str, ip: Option<&str>, alerts: &mut Alerts) {
        let user_failures: Option<u32> = state::get(&format!("attack:user:{user}"));
        let ip_failures: Option<u32> = ip.and_then(|ip| state::get(&format!("attack:ip:{ip}")));
        if user_failures.is_none() && ip_failures.is_none() {
            return;
        }
        if !state::once_per(&format!("fired:{user}"), minutes(self.within_minutes)) {
            return;
        }

        let ip_text = ip.unwrap_or("an unknown IP");
        let why = match (&user_failures, &ip_failures) {
            (Some(u), Some(i)) => format!("{u} failures for the user and {i} from {ip_text}"),
            (Some(u), None) => format!("{u} failures for the user"),
            (None, Some(i)) => format!("{i} failures from {ip_text}"),
            (None, None) => unreachable!(),
        };
        alerts.push(
            Alert::new(format!(
                "Successful sign-in for {user} from {ip_text} after a credential attack ({why} in {} min)",
                self.window_minutes
            ))
            .dedup(user.to_string())
            .field("user", user)
            .field("ip", ip)
            .field("user_failures", user_failures)
            .field("ip_failures", ip_failures)
            .field("country", event.text("client.geographicalContext.country"))
            .field("session_id", event.session_id())
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(SuccessAfterAttack);
