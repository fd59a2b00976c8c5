//! # AD agent created or configured; AD agent activity from a new source
//!
//! Rule: three alerts on Okta's Active Directory agents (`system.agent.ad.*`):
//! - **created** (high): `system.agent.ad.create` or `system.agent.ad.reactivate`;
//!   an extra agent lets whoever runs it answer Okta's delegated
//!   authentication for AD users (any password accepted);
//! - **configured** (medium): `system.agent.ad.update`,
//!   `system.agent.ad.config_change_detected` or `system.agent.ad.upgrade`;
//! - **new source** (medium): any other agent event from a `client.ipAddress`
//!   not seen for that agent (`actor.id`, else `actor.alternateId`) within
//!   `memory_days`, once the agent has a baseline (it was seen before from
//!   another IP). An agent host that moved, or a cloned agent token used elsewhere.
//!
//! The agent is a target whose type names an agent (when an admin acts on
//! it), else the actor (the agent's own events).
//!
//! Failed events are ignored. The title says which of the three fired.
//!
//! Config keys (defaults):
//! - `memory_days = 30`: how long an agent's source IPs are remembered
//!
//! References: Okta's event-type catalog (`system.agent.ad.*`); Okta's
//! customer detection "New AD agent created"; MITRE ATT&CK T1556.007
//! (Modify Authentication Process: Hybrid Identity).
use oktawatch_guest::prelude::*;

struct AdAgent {
    memory_days: u64,
}

impl Detection for AdAgent {
    fn info() -> Info {
        Info::new("okta-ad-agent", "Okta AD agent created, configured or active from a new source")
            .severity(Severity::High)
            .mitre(&["T1556.007"])
            .description(
                "An Okta Active Directory agent was created or reconfigured, or an existing agent spoke to Okta \
                 from an IP it never used: a rogue agent can accept any password for AD users.",
            )
            .event_types(&["system.agent.ad.*"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_int("memory_days", 30, "how long an agent's source IPs are remembered")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let memory_days: u64 = config.get("memory_days")?;
        if memory_days == 0 {
            return Err("memory_days must be greater than 0".into());
        }
        Ok(AdAgent { memory_days })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if event.failed() {
            return;
        }
        // The agent: a target whose type names an agent (an admin creating one), else the actor (the agent itself).
        let targets = event.targets();
        let agent_target = targets.iter().find(|t| t.kind.as_deref().is_some_and(|k| k.to_lowercase().contains("agent")));
        let agent = agent_target
            .and_then(|t| t.id.clone())
            .or_else(|| event.actor().id())
            .or_else(|| event.actor().alternate_id())
            .unwrap_or_else(|| "unknown agent".into());
        let agent_name = agent_target
            .and_then(okta::target_name)
            .or_else(|| event.actor().display_name())
            .unwrap_or_else(|| agent.clone());
        let ip = event.client().ip();
        let memory = days(self.memory_days);
        let kind = event.event_type().to_string();
        let created = matches!(kind.as_str(), "system.agent.ad.create" | "system.agent.ad.reactivate");
        let configured =
            matches!(kind.as_str(), "system.agent.ad.update" | "system.agent.ad.config_change_detected" | "system.agent.ad.upgrade");

        // Source baseline: every event records its IP for the agent.
        let mut new_source = false;
        if let Some(ip) = &ip {
            let known = state::recall(&format!("ip:{agent}:{ip}")).is_some();
            let has_baseline = state::recall(&format!("agent:{agent}")).is_some();
            state::remember(&format!("ip:{agent}:{ip}"), "1", memory);
            state::remember(&format!("agent:{agent}"), "1", memory);
            new_source = !known && has_baseline;
        }
        let by = event.actor().alternate_id().unwrap_or_else(|| agent.clone());
        let alert = if created {
            Alert::new(format!("Okta AD agent {agent_name} created ({kind}) from {}", ip.as_deref().unwrap_or("unknown IP")))
                .dedup(format!("created|{agent}"))
        } else if configured {
            Alert::new(format!("Okta AD agent {agent_name} configured ({kind}) by {by}"))
                .severity(Severity::Medium)
                .dedup(format!("configured|{agent}|{kind}"))
        } else if new_source {
            Alert::new(format!(
                "Okta AD agent {agent_name} active from a new source {} ({kind})",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .severity(Severity::Medium)
            .dedup(format!("source|{agent}|{}", ip.as_deref().unwrap_or("")))
        } else {
            return;
        };
        alerts.push(
            alert
                .field("agent", &agent_name)
                .field("agent_id", &agent)
                .field("event_type", kind.as_str())
                .field("ip", ip)
                .field("host", event.text("client.userAgent.rawUserAgent")),
        );
    }
}

export_detection!(AdAgent);
