//! # Account matching a known indicator (IOC list from config)
//!
//! Rule: an account named in `accounts` is created, activated or
//! reactivated (`user.lifecycle.create` / `.activate` / `.reactivate`, the
//! `User` target), signs in (`user.session.start`, the actor), or is given
//! an admin role (`user.account.privilege.grant`, the `User` target). A name
//! matches the whole login or its part before `@`, without case. The
//! default list holds the indicator of Okta's October 2023 support-system
//! breach, the account `svc_network_backup` the intruder created; replace or
//! extend it with your threat-intel feed's account names (the list is read
//! from the detection's config each time it is configured). Sign-ins and
//! grants are critical; creation is high.
//!
//! Config keys (defaults):
//! - `accounts = ["svc_network_backup"]`
//!
//! References: Okta Security's October 2023 incident write-up and the
//! indicators it published (BeyondTrust's and Cloudflare's reports name the
//! same account); MITRE ATT&CK T1136.003 (Create Cloud Account) and T1078.004.
use oktawatch_guest::prelude::*;

const DEFAULT_ACCOUNTS: &[&str] = &["svc_network_backup"];

struct IocAccount {
    accounts: Vec<String>,
}

impl Detection for IocAccount {
    fn info() -> Info {
        Info::new("okta-ioc-account", "Okta account matching a known indicator")
            .severity(Severity::High)
            .mitre(&["T1136.003", "T1078.004"])
            .description(
                "An account on the indicator list (by default svc_network_backup, from Okta's 2023 breach) was \
                 created, activated, signed in or granted a role.",
            )
            .event_types(&[
                "user.lifecycle.create",
                "user.lifecycle.activate",
                "user.lifecycle.reactivate",
                "user.session.start",
                "user.account.privilege.grant",
            ])
            .config_list("accounts", DEFAULT_ACCOUNTS, "indicator account names (whole login or the part before @)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let accounts: Vec<String> = config.get("accounts")?;
        Ok(IocAccount { accounts: accounts.iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect() })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let signin = event.is("user.session.start");
        let subject = if signin {
            event.actor().alternate_id()
        } else {
            okta::user_target(&event.targets())
        };
        let Some(subject) = subject else { return };
        let Some(ioc) = self.matching(&subject) else { return };
        let outcome = event.outcome();
        if signin && !outcome.success() && !outcome.failure() {
            return;
        }
        let actor = okta::actor_or_unknown(event);
        let ip = event.client().ip();
        let (title, severity) = match event.event_type() {
            "user.session.start" => (
                format!(
                    "IOC account {subject} sign-in ({}) from {}",
                    outcome.result.as_deref().unwrap_or("UNKNOWN"),
                    ip.as_deref().unwrap_or("unknown IP")
                ),
                Severity::Critical,
            ),
            "user.account.privilege.grant" => (format!("IOC account {subject} granted an admin role by {actor}"), Severity::Critical),
            other => (format!("IOC account {subject} {} by {actor}", other.trim_start_matches("user.lifecycle.")), Severity::High),
        };
        alerts.push(
            Alert::new(title)
                .severity(severity)
                .dedup(format!("{subject}|{}", event.event_type()))
                .field("account", &subject)
                .field("indicator", ioc.as_str())
                .field("actor", &actor)
                .field("ip", ip),
        );
    }
}

impl IocAccount {
    fn matching(&self, login: &str) -> Option<String> {
        let login = login.to_lowercase();
        let local = login.split('@').next().unwrap_or(&login).to_string();
        self.accounts.iter().find(|a| **a == login || **a == local).cloned()
    }
}

export_detection!(IocAccount);
