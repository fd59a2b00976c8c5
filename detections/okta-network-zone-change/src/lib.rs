//! Network zones changed: the allow and block lists that policies rely on.
//!
//! Sign-on policies, API token restrictions and blocklists are built on
//! network zones. Adding an attacker's range to a trusted zone, or removing a
//! blocklist zone, quietly opens the door.
//!
//! Rule: a successful
//! - `zone.create`, `zone.update` or `zone.remove_blacklist` (a zone no
//!   longer used as a blocklist) → medium;
//! - `zone.deactivate` or `zone.delete` → high.
//!
//! Config:
//! - `ignore_zones` (list of strings): zone names not reported (e.g. a zone
//!   an automation rewrites every night). Default none.
use oktawatch_guest::prelude::*;

struct NetworkZoneChange {
    ignore_zones: Vec<String>,
}

impl Detection for NetworkZoneChange {
    fn info() -> Info {
        Info::new("okta-network-zone-change", "Okta network zone changed")
            .severity(Severity::Medium)
            .mitre(&["T1562"])
            .description(
                "A network zone was created, updated or removed from the blocklist (medium), or \
                 deactivated or deleted (high).",
            )
            .event_types(&["zone.create", "zone.update", "zone.remove_blacklist", "zone.deactivate", "zone.delete"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("ignore_zones", &[], "zone names not reported (any case)")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(NetworkZoneChange {
            ignore_zones: config.get::<Vec<String>>("ignore_zones")?.iter().map(|z| z.to_lowercase()).collect(),
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let (action, severity) = match event.event_type() {
            "zone.create" => ("created", Severity::Medium),
            "zone.update" => ("updated", Severity::Medium),
            "zone.remove_blacklist" => ("removed from the blocklist", Severity::Medium),
            "zone.deactivate" => ("deactivated", Severity::High),
            "zone.delete" => ("deleted", Severity::High),
            _ => return,
        };
        if event.failed() {
            return;
        }

        let zone = event.targets().into_iter().next();
        let zone_name = zone.as_ref().and_then(okta::target_name).unwrap_or_else(|| "unnamed zone".into());
        if self.ignore_zones.contains(&zone_name.to_lowercase()) {
            return;
        }
        let actor = okta::actor_or_unknown(event);
        alerts.push(
            Alert::new(format!("Network zone {zone_name} {action} by {actor}"))
                .severity(severity)
                .dedup(format!("{}:{zone_name}", event.event_type()))
                .field("actor", actor.as_str())
                .field("zone", zone_name.as_str())
                .field("zone_id", zone.and_then(|t| t.id))
                .field("action", event.event_type())
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(NetworkZoneChange);
