//! # Okta sign-in or session use from a non-browser client
//!
//! Rule: a successful sign-in (`user.session.start`), SSO
//! (`user.authentication.sso`), MFA (`user.authentication.auth_via_mfa`) or
//! admin-console access (`user.session.access_admin_app`) whose raw user
//! agent is a scripting library, command-line tool or headless browser:
//! python-requests, python-urllib, python-httpx, aiohttp, curl, wget,
//! Go-http-client, axios, node-fetch, undici, libwww-perl, Apache-HttpClient,
//! HeadlessChrome, PhantomJS. People sign in with browsers and the Okta apps;
//! adversary-in-the-middle kits (Evilginx-style proxies) and cookie replay
//! scripts replay the stolen session with whatever HTTP client they are built on.
//!
//! `okhttp` is not in the default list: legitimate Android apps built on it
//! authenticate against Okta. Add it with `extra_agents` if that fits your org.
//!
//! Config keys (defaults):
//! - `extra_agents = []`: more user-agent substrings to treat as non-browser (case-insensitive)
//! - `allow_agents = []`: user-agent substrings that are never reported (your own automation)
//!
//! References: Okta's advisories on AitM phishing and session replay; MITRE
//! ATT&CK T1557 (Adversary-in-the-Middle) and T1539 (Steal Web Session Cookie).
use oktawatch_guest::prelude::*;

const EVENT_TYPES: &[&str] = &[
    "user.session.start",
    "user.authentication.sso",
    "user.authentication.auth_via_mfa",
    "user.session.access_admin_app",
];

struct NonBrowserReplay {
    extra_agents: Vec<String>,
    allow_agents: Vec<String>,
}

impl Detection for NonBrowserReplay {
    fn info() -> Info {
        Info::new("okta-aitm-non-browser-replay", "Okta session used from a non-browser client")
            .severity(Severity::High)
            .mitre(&["T1557", "T1539"])
            .description(
                "A successful Okta sign-in, SSO or MFA from a scripting library or headless browser user \
                 agent: the mark of an AitM proxy or a replayed session cookie.",
            )
            .event_types(EVENT_TYPES)
            .config_list("extra_agents", &[], "more user-agent substrings treated as non-browser (any case)")
            .config_list("allow_agents", &[], "user-agent substrings never reported (your own automation)")
            .prefilter(Prefilter::new().one_of("outcome.result", &["SUCCESS", "ALLOW"]))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_lowercase()).filter(|s| !s.is_empty()).collect();
        Ok(NonBrowserReplay {
            extra_agents: lower(config.get("extra_agents")?),
            allow_agents: lower(config.get("allow_agents")?),
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !EVENT_TYPES.contains(&event.event_type()) {
            return;
        }
        if !event.succeeded() {
            return;
        }
        let Some(ua) = event.client().user_agent() else { return };
        let Some(tool) = self.non_browser_tool(&ua) else { return };
        let user = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let ip = event.client().ip();
        alerts.push(
            Alert::new(format!(
                "{} by {user} from {} with non-browser client {tool}",
                action(event.event_type()),
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .dedup(format!("{user}|{tool}"))
            .field("user", &user)
            .field("tool", &tool)
            .field("user_agent", &ua)
            .field("ip", ip)
            .field("country", event.text("client.geographicalContext.country"))
            .field("as_org", event.text("securityContext.asOrg"))
            .field("session_id", event.session_id())
            .field("event_type", event.event_type()),
        );
    }
}

impl NonBrowserReplay {
    /// The tool a user agent names, unless allowed (any case).
    fn non_browser_tool(&self, ua: &str) -> Option<String> {
        // The configured lists are lower-cased; the user agent only when there are any.
        let lower = if self.allow_agents.is_empty() && self.extra_agents.is_empty() { String::new() } else { ua.to_lowercase() };
        if self.allow_agents.iter().any(|a| lower.contains(a.as_str())) {
            return None;
        }
        okta::non_browser_tool(ua).map(str::to_string).or_else(|| {
            let extra = self.extra_agents.iter().find(|a| lower.contains(a.as_str()))?;
            Some(extra.trim_end_matches('/').to_string())
        })
    }
}

fn action(event_type: &str) -> &'static str {
    match event_type {
        "user.session.start" => "Okta sign-in",
        "user.authentication.sso" => "SSO",
        "user.authentication.auth_via_mfa" => "MFA",
        _ => "Admin console access",
    }
}

export_detection!(NonBrowserReplay);
