//! # Okta session or device cookie reused from another network and client
//!
//! Rule: two, on the same sign-in and SSO events:
//!
//! - **Session replayed.** The first event seen for a session
//!   (`authenticationContext.externalSessionId`, else the root session id)
//!   records its IP, ASN (`securityContext.asNumber`), raw user agent and OS.
//!   A later event of the same session fires when it comes from a different
//!   IP AND a different ASN (both ASNs known) AND with a different user agent
//!   or OS. A stolen `sid` cookie replayed by an attacker shows exactly this:
//!   same session, new network, new client. A user moving from office to
//!   home keeps the browser; a phone switching cells keeps the carrier's ASN.
//!   One alert per session.
//! - **Device cookie replayed into a new session.** The first successful
//!   event of a user with a device token hash (`debugContext.debugData.dtHash`,
//!   the hash of Okta's per-browser `DT` cookie) records its IP, OS, browser
//!   and session. A later successful event of the same user with the same
//!   dtHash fires when it belongs to another session AND comes from another
//!   IP AND reports another OS or browser (`client.userAgent.os` /
//!   `.browser`; "Unknown" counts as a value when a raw user agent is
//!   present). One browser's cookie keeps its OS and browser for its whole
//!   life, so a second client stack behind one dtHash is the cookie copied
//!   into an attacker's client, who then signed in afresh with it. One alert
//!   per user and dtHash.
//!
//! Config keys (defaults):
//! - `session_hours = 24`: how long the first sighting of a session is kept
//! - `device_days = 30`: how long the first sighting of a user's dtHash is kept
//!
//! References: Okta's guidance on session hijacking and session roaming
//! (ThreatInsight session protection, `security.session.detect_client_roaming`);
//! Okta System Log LogEvent `debugContext.debugData.dtHash`, grouped per user
//! with more than one IP and more than one OS or browser as in Okta's own
//! session-hijacking detection; MITRE ATT&CK T1539 (Steal Web Session Cookie)
//! and T1550.004 (Use Alternate Authentication Material: Web Session Cookie).
use oktawatch_guest::prelude::*;
use serde::{Deserialize, Serialize};

const EVENT_TYPES: &[&str] = &[
    "user.session.start",
    "user.authentication.sso",
    "user.authentication.auth_via_mfa",
    "user.authentication.verify",
    "policy.evaluate_sign_on",
    "user.session.access_admin_app",
];

struct SessionCookieReuse {
    session_hours: u64,
    device_days: u64,
}

/// Where and with what a session (or a device cookie) was first seen.
#[derive(Serialize, Deserialize)]
struct Sighting {
    ip: String,
    asn: String,
    ua: String,
    os: String,
    user: String,
    browser: String,
    session: String,
}

impl Detection for SessionCookieReuse {
    fn info() -> Info {
        Info::new("okta-session-cookie-reuse", "Okta session reused from another network and client")
            .severity(Severity::High)
            .mitre(&["T1539", "T1550.004"])
            .description(
                "The same Okta session id appears from a different IP and ASN with a different user agent \
                 or OS than when it started, or a user's device cookie (dtHash) shows up in a new session \
                 from another IP with another OS or browser: a stolen cookie being replayed.",
            )
            .event_types(EVENT_TYPES)
            .config_int("session_hours", 24, "how long the first sighting of a session is kept")
            .config_int("device_days", 30, "how long the first sighting of a user's dtHash is kept")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let session_hours: u64 = config.get("session_hours")?;
        let device_days: u64 = config.get("device_days")?;
        if session_hours == 0 || device_days == 0 {
            return Err("session_hours and device_days must be greater than 0".into());
        }
        Ok(SessionCookieReuse { session_hours, device_days })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !EVENT_TYPES.contains(&event.event_type()) {
            return;
        }
        let Some(ip) = event.client().ip() else { return };
        // Every field both rules read, in one host call.
        let [sid, root, root_debug, ua, os, browser, dt] = event.text_fields([
            "authenticationContext.externalSessionId",
            "authenticationContext.rootSessionId",
            "debugContext.debugData.rootSessionId",
            "client.userAgent.rawUserAgent",
            "client.userAgent.os",
            "client.userAgent.browser",
            "debugContext.debugData.dtHash",
        ]);
        let sid = sid.or(root).or(root_debug);
        let now = Sighting {
            ip,
            asn: event.number("securityContext.asNumber").map(|n| (n as u64).to_string()).unwrap_or_default(),
            ua: ua.unwrap_or_default(),
            os: os.unwrap_or_default(),
            user: okta::actor_login(event).unwrap_or_default(),
            browser: browser.unwrap_or_default(),
            session: sid.clone().unwrap_or_default(),
        };
        if let Some(sid) = &sid {
            self.session_replayed(event, sid, &now, alerts);
        }
        if let Some(dt) = dt {
            self.device_cookie_replayed(event, &dt, &now, alerts);
        }
    }
}

impl SessionCookieReuse {
    /// Same session id, new network (IP and ASN) and new client (user agent or OS).
    fn session_replayed(&self, event: &Event, sid: &str, now: &Sighting, alerts: &mut Alerts) {
        let key = format!("sess:{sid}");
        let Some(first) = state::get::<Sighting>(&key) else {
            state::set(&key, now, hours(self.session_hours));
            return;
        };

        let new_network = first.ip != now.ip && !first.asn.is_empty() && !now.asn.is_empty() && first.asn != now.asn;
        let new_client = (first.ua != now.ua && !now.ua.is_empty()) || (first.os != now.os && !now.os.is_empty());
        if !new_network || !new_client {
            return;
        }
        if !state::once_per(&format!("fired:{sid}"), hours(self.session_hours)) {
            return;
        }

        let user = if now.user.is_empty() { first.user.clone() } else { now.user.clone() };
        let who = if user.is_empty() { String::new() } else { format!(" for {user}") };
        alerts.push(
            Alert::new(format!(
                "Okta session{who} reused from {} (AS{}) after {} (AS{}) with a different client",
                now.ip, now.asn, first.ip, first.asn
            ))
            .dedup(sid.to_string())
            .field("user", Some(user).filter(|u| !u.is_empty()))
            .field("session_id", sid)
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

    /// Same user and dtHash, another session, another IP, another OS or browser.
    fn device_cookie_replayed(&self, event: &Event, dt: &str, now: &Sighting, alerts: &mut Alerts) {
        if now.user.is_empty() || !event.succeeded() {
            return;
        }
        let key = format!("dt:{}:{dt}", now.user);
        let Some(first) = state::get::<Sighting>(&key) else {
            state::set(&key, now, days(self.device_days));
            return;
        };
        let new_session = !now.session.is_empty() && now.session != first.session;
        let new_client = !now.ua.is_empty() && (first.os != now.os || first.browser != now.browser);
        if !new_session || first.ip == now.ip || !new_client {
            return;
        }
        if !state::once_per(&format!("fired-dt:{}:{dt}", now.user), days(self.device_days)) {
            return;
        }

        let stack = |s: &Sighting| format!("{}/{}", or_unknown(&s.os), or_unknown(&s.browser));
        let short: String = dt.chars().take(12).collect();
        alerts.push(
            Alert::new(format!(
                "Okta device cookie {short}… of {} replayed into a new session from {} ({}) after {} ({})",
                now.user,
                now.ip,
                stack(now),
                first.ip,
                stack(&first)
            ))
            .dedup(format!("dt:{}:{dt}", now.user))
            .field("user", &now.user)
            .field("dt_hash", dt)
            .field("session_id", &now.session)
            .field("first_session_id", Some(first.session.as_str()).filter(|s| !s.is_empty()))
            .field("first_ip", &first.ip)
            .field("first_os", &first.os)
            .field("first_browser", &first.browser)
            .field("ip", &now.ip)
            .field("asn", Some(now.asn.as_str()).filter(|a| !a.is_empty()))
            .field("as_org", event.text("securityContext.asOrg"))
            .field("country", event.text("client.geographicalContext.country"))
            .field("user_agent", &now.ua)
            .field("os", &now.os)
            .field("browser", &now.browser)
            .field("event_type", event.event_type()),
        );
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "unknown" } else { s }
}

export_detection!(SessionCookieReuse);
