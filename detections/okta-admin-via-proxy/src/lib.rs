//! # Okta admin functions reached through a proxy
//!
//! Rule: an event whose `securityContext.isProxy` is true and that is an
//! admin action: `user.session.access_admin_app` (the Admin Console), or any
//! subscribed event whose `debugContext.debugData.requestUri` starts with one
//! of `admin_paths` (Admin Console pages and the management API). Admins
//! do not work through anonymizers; an attacker holding an admin's session
//! or token does. Events from an AS number in `allow_asns` (your own VPN
//! egress, if the provider flags it) are ignored. One alert per actor and IP.
//!
//! Config keys (defaults):
//! - `admin_paths = ["/admin/", "/api/v1/users", "/api/v1/groups", "/api/v1/apps", "/api/v1/policies", "/api/v1/idps", "/api/v1/zones", "/api/v1/authorizationServers", "/api/v1/iam", "/api/v1/roles", "/api/v1/logStreams", "/api/v1/org", "/api/v1/api-tokens", "/api/internal/"]`
//! - `allow_asns = []`: AS numbers (as strings) never reported
//!
//! References: Okta's LogEvent (`securityContext.isProxy`,
//! `debugContext.debugData.requestUri`); Okta's customer detections on
//! admin access through anonymizers; MITRE ATT&CK T1090.003 (Multi-hop
//! Proxy) and T1078.004 (Cloud Accounts).
use oktawatch_guest::prelude::*;

const DEFAULT_ADMIN_PATHS: &[&str] = &[
    "/admin/",
    "/api/v1/users",
    "/api/v1/groups",
    "/api/v1/apps",
    "/api/v1/policies",
    "/api/v1/idps",
    "/api/v1/zones",
    "/api/v1/authorizationServers",
    "/api/v1/iam",
    "/api/v1/roles",
    "/api/v1/logStreams",
    "/api/v1/org",
    "/api/v1/api-tokens",
    "/api/internal/",
];

/// Admin actions that carry the request URI of the call that made them.
const EVENT_TYPES: &[&str] = &[
    "user.session.access_admin_app",
    "user.account.privilege.grant",
    "user.account.privilege.revoke",
    "user.account.reset_password",
    "user.lifecycle.*",
    "user.mfa.factor.deactivate",
    "user.mfa.factor.reset_all",
    "group.user_membership.add",
    "group.privilege.grant",
    "application.lifecycle.*",
    "application.user_membership.add",
    "policy.lifecycle.*",
    "policy.rule.*",
    "system.api_token.create",
    "system.idp.lifecycle.*",
    "zone.*",
    "system.log_stream.lifecycle.*",
    "iam.role.*",
];

struct AdminViaProxy {
    admin_paths: Vec<String>,
    allow_asns: Vec<String>,
}

impl Detection for AdminViaProxy {
    fn info() -> Info {
        Info::new("okta-admin-via-proxy", "Okta admin functions reached through a proxy")
            .severity(Severity::High)
            .mitre(&["T1090.003", "T1078.004"])
            .description(
                "The Okta Admin Console or an admin API call was reached from an IP Okta flags as a proxy or \
                 anonymizer: an admin session or token in someone else's hands.",
            )
            .event_types(EVENT_TYPES)
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().exists("securityContext.isProxy"))
            .config_list("admin_paths", DEFAULT_ADMIN_PATHS, "requestUri prefixes that are admin functions")
            .config_list("allow_asns", &[], "AS numbers (as strings) never reported")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let admin_paths: Vec<String> = config.get("admin_paths")?;
        if let Some(bad) = admin_paths.iter().find(|p| !p.starts_with('/')) {
            return Err(format!("admin_paths: {bad:?} does not start with '/'"));
        }
        Ok(AdminViaProxy { admin_paths, allow_asns: config.get("allow_asns")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let sc = event.security_context();
        if sc.is_proxy != Some(true) {
            return;
        }
        if let Some(asn) = sc.as_number
            && self.allow_asns.iter().any(|a| a.trim() == asn.to_string())
        {
            return;
        }
        let uri = event.debug_data("requestUri");
        let console = event.is("user.session.access_admin_app");
        let admin_path = uri.as_deref().is_some_and(|u| self.admin_paths.iter().any(|p| u.starts_with(p.as_str())));
        if !console && !admin_path {
            return;
        }
        let actor = okta::actor_or_unknown(event);
        let ip = event.client().ip().unwrap_or_else(|| "unknown IP".into());
        let what = if console { "the Admin Console".to_string() } else { format!("{} ({})", event.event_type(), uri.clone().unwrap_or_default()) };
        alerts.push(
            Alert::new(format!("{actor} reached {what} through a proxy from {ip}"))
                .dedup(format!("{actor}|{ip}"))
                .field("actor", &actor)
                .field("ip", &ip)
                .field("request_uri", uri)
                .field("as_org", sc.as_org)
                .field("isp", sc.isp)
                .field("country", event.text("client.geographicalContext.country"))
                .field("outcome", event.outcome().result),
        );
    }
}

export_detection!(AdminViaProxy);
