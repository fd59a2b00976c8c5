//! # Sign-in through an anonymizing proxy
//!
//! Rule: a successful `user.session.start`, or authentication
//! (`user.authentication.sso`, `.auth_via_mfa`, `.verify`, `.auth_via_IDP`,
//! `.auth_via_social`, `.auth_via_inbound_SAML`: a session or token used
//! through the proxy after a clean sign-in), whose `securityContext.isProxy`
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

const EVENT_TYPES: &[&str] = &[
    "user.session.start",
    "user.authentication.sso",
    "user.authentication.auth_via_mfa",
    "user.authentication.verify",
    "user.authentication.auth_via_IDP",
    "user.authentication.auth_via_social",
    "user.authentication.auth_via_inbound_SAML",
];

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
            .event_types(EVENT_TYPES)
            .config_int("quiet_days", 30, "a user is reported once per this many days")
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let quiet_days: u64 = config.get("quiet_days")?;
        if quiet_days == 0 {
            return Err("quiet_days must be greater than 0".into());
        }
        Ok(AnonymizingProxySignin { quiet_days })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !EVENT_TYPES.contains(&event.event_type()) || !event.outcome_is("SUCCESS") {
            return;
        }
        if event.bool("securityContext.isProxy") != Some(true) {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        if !state::once_per(&format!("proxy:{user}"), days(self.quiet_days)) {
            return;
        }
        let ip = event.client().ip();

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
            .field("event_type", event.event_type())
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(AnonymizingProxySignin);
