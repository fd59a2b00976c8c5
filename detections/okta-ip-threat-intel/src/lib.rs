//! # Activity from an IP or network on a threat-intel list
//!
//! Rule: any subscribed event (sign-ins, authentications, SSO, admin
//! console, OAuth, API tokens, admin changes) whose `client.ipAddress` is
//! in one of `networks`: single addresses or CIDR ranges, IPv4 or IPv6, as
//! exported by a threat-intel platform. The list is the detection's config,
//! read again each time the host configures it; an entry that does not
//! parse rejects the config (naming it). A successful event is high, a
//! failed or denied one medium. One alert per IP and actor. Empty list: the
//! detection does nothing.
//!
//! Config keys (defaults):
//! - `networks = []`: e.g. `["203.0.113.0/24", "198.51.100.7", "2001:db8::/32"]`
//! - `label = "threat-intel list"`: named in the alert title (e.g. the feed's name)
//!
//! References: Okta's LogEvent `client.ipAddress`; Panther's and Elastic's
//! IOC-match enrichments; MITRE ATT&CK T1078 (Valid Accounts).
use ipnet::IpNet;
use oktawatch_guest::prelude::*;
use std::net::IpAddr;

const EVENT_TYPES: &[&str] = &[
    "user.session.*",
    "user.authentication.*",
    "user.account.*",
    "user.mfa.*",
    "policy.evaluate_sign_on",
    "app.oauth2.*",
    "system.api_token.*",
    "user.lifecycle.*",
    "group.user_membership.*",
    "application.lifecycle.*",
    "policy.lifecycle.*",
];

struct IpThreatIntel {
    networks: Vec<IpNet>,
    label: String,
}

impl Detection for IpThreatIntel {
    fn info() -> Info {
        Info::new("okta-ip-threat-intel", "Okta activity from an IP on a threat-intel list")
            .severity(Severity::High)
            .mitre(&["T1078"])
            .description("Okta activity from an IP address or network on the configured threat-intel list.")
            .event_types(EVENT_TYPES)
            .config_list("networks", &[], "IP addresses and CIDR ranges, IPv4 or IPv6")
            .config_text("label", "threat-intel list", "the list's name in alert titles")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let mut networks = Vec::new();
        let mut bad = Vec::new();
        for entry in config.get::<Vec<String>>("networks")? {
            let e = entry.trim();
            match e.parse::<IpNet>().or_else(|_| e.parse::<IpAddr>().map(IpNet::from)) {
                Ok(n) => networks.push(n.trunc()),
                Err(_) => bad.push(e.to_string()),
            }
        }
        if !bad.is_empty() {
            return Err(format!("networks: not an IP address or CIDR range: {}", bad.join(", ")));
        }
        Ok(IpThreatIntel { networks, label: config.get("label")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if self.networks.is_empty() {
            return;
        }
        let Some(ip_text) = event.client().ip() else { return };
        let Ok(ip) = ip_text.parse::<IpAddr>() else { return };
        let Some(net) = self.networks.iter().find(|n| n.contains(&ip)) else { return };
        let actor = okta::actor_or_unknown(event);
        let outcome = event.outcome();
        let severity = if outcome.failure() { Severity::Medium } else { Severity::High };
        alerts.push(
            Alert::new(format!(
                "{} by {actor} from {ip_text}, on the {} ({net})",
                event.event_type(),
                self.label
            ))
            .severity(severity)
            .dedup(format!("{ip_text}|{actor}"))
            .field("ip", &ip_text)
            .field("network", net.to_string())
            .field("list", self.label.as_str())
            .field("actor", &actor)
            .field("event_type", event.event_type())
            .field("outcome", outcome.result),
        );
    }
}

export_detection!(IpThreatIntel);
