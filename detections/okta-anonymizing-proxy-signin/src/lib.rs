//! # Sign-in through an anonymizing proxy
//!
//! Rule: a successful `user.session.start` whose `securityContext.isProxy`
//! is true (Okta's IP intelligence classed the source as an anonymizing
//! proxy: Tor, open proxy, anonymizing VPN). Reported once per user per
//! `quiet_days`, so a user who always travels through the same VPN is not
//! re-reported on every sign-in.
//!
//! Config keys (defaults):
//! - `quiet_days = 30`
//!
//! References: Okta System Log `securityContext.isProxy`; Okta network zones
//! that block anonymizers; MITRE ATT&CK T1090.003 (Proxy: Multi-hop Proxy).
use oktawatch_guest::prelude::*;

struct AnonymizingProxySignin {
    quiet_days: u64,
}

impl Detection for AnonymizingProxySignin {
    fn info() -> Info {
        Info::new("okta-anonymizing-proxy-signin", "Okta sign-in through an anonymizing proxy")
            .severity(Severity::Medium)
            .mitre(&["T1090.003"])
            .description(
                "A user signed in to Okta through an anonymizing proxy (Tor, open proxy, anonymizing VPN); \
                 reported the first time per user in 30 days.",
            )
            .event_types(&["user.session.start"])
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let quiet_days = config.u64("quiet_days", 30);
        if quiet_days == 0 {
            return Err("quiet_days must be greater than 0".into());
        }
        Ok(AnonymizingProxySignin { quiet_days })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || event.text("outcome.result").as_deref() != Some("SUCCESS") {
            return;
        }
        if event.bool("securityContext.isProxy") != Some(true) {
            return;
        }
        let Some(user) = event.actor().alternate_id().map(|u| u.to_lowercase()) else { return };
        let seen = format!("proxy:{user}");
        if state::recall(&seen).is_some() {
            return;
        }
        let ip = event.client().ip();
        state::remember(&seen, ip.as_deref().unwrap_or("?"), days(self.quiet_days));

        let as_org = event.text("securityContext.asOrg");
        let country = event.text("client.geographicalContext.country");
        let via = [as_org.as_deref(), country.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
        let via = if via.is_empty() { String::new() } else { format!(" ({via})") };
        alerts.push(
            Alert::new(format!(
                "{user} signed in through an anonymizing proxy from {}{via}",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .dedup(user.clone())
            .field("user", &user)
            .field("ip", ip)
            .field("as_org", as_org)
            .field("asn", event.number("securityContext.asNumber").map(|n| n as u64))
            .field("country", country)
            .field("session_id", event.session_id())
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(AnonymizingProxySignin);
