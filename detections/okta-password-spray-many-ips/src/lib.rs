//! # Tenant-wide password spray over many IPs
//!
//! Rule: within `window_minutes`, failed sign-ins (`user.session.start`,
//! `outcome.result` = `FAILURE`) across the whole org reach at least
//! `min_users` distinct users from at least `min_ips` distinct source IPs
//! that each try few times: an IP with more than `max_failures_per_ip`
//! failures in the window is left out (it is brute force, or a one-IP spray
//! that `okta-password-spray` reports). That is the shape of a spray spread over a
//! proxy pool or botnet, which `okta-password-spray` (one IP, many users)
//! and `okta-distributed-brute-force` (one user, many IPs) do not see.
//! Fires once per window for the org.
//!
//! Config keys (defaults):
//! - `min_users = 10`: distinct users failing org-wide
//! - `min_ips = 5`: distinct source IPs
//! - `max_failures_per_ip = 3`: an IP with more failures in the window is not counted
//! - `window_minutes = 60`
//!
//! References: MITRE ATT&CK T1110.003 (Password Spraying); Okta ThreatInsight
//! and Elastic's "Potential Password Spraying" rules describe the same
//! many-users, many-origins, few-tries shape.
use oktawatch_guest::prelude::*;

struct SprayManyIps {
    min_users: u32,
    min_ips: u32,
    max_failures_per_ip: u32,
    window_minutes: u64,
}

impl Detection for SprayManyIps {
    fn info() -> Info {
        Info::new("okta-password-spray-many-ips", "Okta tenant-wide password spray over many IPs")
            .severity(Severity::High)
            .mitre(&["T1110.003"])
            .description(
                "Failed Okta sign-ins for many users from many IPs within an hour, each IP trying only a few \
                 times: a password spray spread across a proxy pool.",
            )
            .event_types(&["user.session.start"])
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
            .config_int("min_users", 10, "distinct users failing org-wide")
            .config_int("min_ips", 5, "distinct source IPs")
            .config_int("max_failures_per_ip", 3, "an IP with more failures in the window is not counted")
            .config_int("window_minutes", 60, "the window")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = SprayManyIps {
            min_users: config.get("min_users")?,
            min_ips: config.get("min_ips")?,
            max_failures_per_ip: config.get("max_failures_per_ip")?,
            window_minutes: config.get("window_minutes")?,
        };
        if d.min_users == 0 || d.min_ips == 0 || d.window_minutes == 0 || d.max_failures_per_ip == 0 {
            return Err("min_users, min_ips, max_failures_per_ip and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || !event.outcome_is("FAILURE") {
            return;
        }
        let Some(ip) = event.client().ip() else { return };
        let Some(user) = okta::actor_login(event) else { return };
        let window = minutes(self.window_minutes);

        if state::count_in_window(&format!("fail:{ip}"), window) > self.max_failures_per_ip {
            return; // a heavy IP: not this shape
        }
        let failures = state::count_in_window("light", window);
        let users = state::distinct_in_window("users", &user, window);
        if state::distinct_in_window("ips", &ip, window) < self.min_ips || users < self.min_users {
            return;
        }
        // The IPs that stayed light (one counted early may have turned heavy since).
        let light: Vec<(String, u32)> = state::distinct_members("ips", window)
            .into_iter()
            .map(|i| {
                let n = state::peek_count(&format!("fail:{i}"), window);
                (i, n)
            })
            .filter(|(_, n)| *n <= self.max_failures_per_ip)
            .collect();
        let ips = light.len() as u32;
        if ips < self.min_ips || !state::once_per("org", window) {
            return;
        }
        let mut sample: Vec<String> = light.into_iter().map(|(i, _)| i).collect();
        sample.sort();
        sample.truncate(10);
        alerts.push(
            Alert::new(format!(
                "Password spray across the org: {failures} failed sign-ins for {users} users from {ips} IPs in {} min",
                self.window_minutes
            ))
            .dedup("org")
            .field("failures", failures)
            .field("distinct_users", users)
            .field("distinct_ips", ips)
            .field("ips_sample", sample.join(", "))
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(SprayManyIps);
