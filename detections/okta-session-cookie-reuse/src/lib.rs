//! # Okta session cookie reused from another network and client
//!
//! Rule: the first event seen for a session (`authenticationContext.externalSessionId`,
//! else the root session id) records its IP, ASN
//! (`securityContext.asNumber`), raw user agent and OS. A later event of the
//! same session fires when it comes from a different IP AND a different ASN
//! (both ASNs known) AND with a different user agent or OS. A stolen `sid`
//! cookie replayed by an attacker shows exactly this: same session, new
//! network, new client. A user moving from office to home keeps the browser;
//! a phone switching cells keeps the carrier's ASN. One alert per session.
//!
//! Config keys (defaults):
//! - `session_hours = 24`: how long the first sighting of a session is kept
//!
//! References: Okta's guidance on session hijacking and session roaming
//! (ThreatInsight session protection, `security.session.detect_client_roaming`);
//! MITRE ATT&CK T1539 (Steal Web Session Cookie) and T1550.004 (Use Alternate
//! Authentication Material: Web Session Cookie).
use oktawatch_guest::prelude::*;

struct SessionCookieReuse {
    session_hours: u64,
}

/// Where and with what a session was first seen.
struct Sighting {
    ip: String,
    asn: String,
    ua: String,
    os: String,
    user: String,
}

impl Sighting {
    fn encode(&self) -> String {
        [&self.ip, &self.asn, &self.ua, &self.os, &self.user].map(|s| s.replace('\t', " ")).join("\t")
    }
    fn decode(text: &str) -> Option<Sighting> {
        let mut p = text.splitn(5, '\t').map(str::to_string);
        Some(Sighting { ip: p.next()?, asn: p.next()?, ua: p.next()?, os: p.next()?, user: p.next()? })
    }
}

impl Detection for SessionCookieReuse {
    fn info() -> Info {
        Info::new("okta-session-cookie-reuse", "Okta session reused from another network and client")
            .severity(Severity::High)
            .mitre(&["T1539", "T1550.004"])
            .description(
                "The same Okta session id appears from a different IP and ASN with a different user agent \
                 or OS than when it started: a stolen session cookie being replayed.",
            )
            .event_types(&[
                "user.session.start",
                "user.authentication.sso",
                "user.authentication.auth_via_mfa",
                "user.authentication.verify",
                "policy.evaluate_sign_on",
                "user.session.access_admin_app",
            ])
    }

    fn new(config: &Config) -> Result<Self, String> {
        let session_hours = config.u64("session_hours", 24);
        if session_hours == 0 {
            return Err("session_hours must be greater than 0".into());
        }
        Ok(SessionCookieReuse { session_hours })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !matches!(
            event.event_type(),
            "user.session.start"
                | "user.authentication.sso"
                | "user.authentication.auth_via_mfa"
                | "user.authentication.verify"
                | "policy.evaluate_sign_on"
                | "user.session.access_admin_app"
        ) {
            return;
        }
        let Some(sid) = event.session_id().or_else(|| event.root_session_id()) else { return };
        let Some(ip) = event.client().ip() else { return };
        let client = event.client();
        let now = Sighting {
            ip,
            asn: event.number("securityContext.asNumber").map(|n| (n as u64).to_string()).unwrap_or_default(),
            ua: client.user_agent().unwrap_or_default(),
            os: client.os().unwrap_or_default(),
            user: event.actor().alternate_id().map(|u| u.to_lowercase()).unwrap_or_default(),
        };
        let key = format!("sess:{sid}");
        let Some(first) = state::recall(&key).and_then(|t| Sighting::decode(&t)) else {
            state::remember(&key, &now.encode(), hours(self.session_hours));
            return;
        };

        let new_network = first.ip != now.ip && !first.asn.is_empty() && !now.asn.is_empty() && first.asn != now.asn;
        let new_client = (first.ua != now.ua && !now.ua.is_empty()) || (first.os != now.os && !now.os.is_empty());
        if !new_network || !new_client {
            return;
        }
        let fired = format!("fired:{sid}");
        if state::marked(&fired) {
            return;
        }
        state::mark(&fired, hours(self.session_hours));

        let user = if now.user.is_empty() { first.user.clone() } else { now.user.clone() };
        let who = if user.is_empty() { String::new() } else { format!(" for {user}") };
        alerts.push(
            Alert::new(format!(
                "Okta session{who} reused from {} (AS{}) after {} (AS{}) with a different client",
                now.ip, now.asn, first.ip, first.asn
            ))
            .dedup(sid.clone())
            .field("user", Some(user).filter(|u| !u.is_empty()))
            .field("session_id", &sid)
            .field("first_ip", &first.ip)
            .field("first_asn", &first.asn)
            .field("first_user_agent", &first.ua)
            .field("first_os", &first.os)
            .field("ip", &now.ip)
            .field("asn", &now.asn)
            .field("as_org", event.text("securityContext.asOrg"))
            .field("country", event.text("client.geographicalContext.country"))
            .field("user_agent", &now.ua)
            .field("os", &now.os)
            .field("event_type", event.event_type()),
        );
    }
}

export_detection!(SessionCookieReuse);
