//! # Distributed brute force against one user
//!
//! Rule: within `window_minutes`, failed sign-ins (`user.session.start`,
//! `outcome.result` = `FAILURE`) for one user come from at least `min_ips`
//! distinct IPs, spread over at least `min_countries` countries or at least
//! `min_asns` autonomous systems. Rotating through proxies or a botnet
//! evades per-IP limits; the spread across networks is what separates it
//! from one user retrying from home and phone. Fires once per user per window.
//!
//! Config keys (defaults):
//! - `min_ips = 5`
//! - `min_countries = 2` (`client.geographicalContext.country`)
//! - `min_asns = 3` (`securityContext.asNumber`)
//! - `window_minutes = 30`
//!
//! References: MITRE ATT&CK T1110 (Brute Force); Okta ThreatInsight notes
//! that credential attacks are commonly distributed across residential
//! proxies and hosting networks to stay under per-IP rate limits.
use oktawatch_guest::prelude::*;

struct DistributedBruteForce {
    min_ips: u32,
    min_countries: u32,
    min_asns: u32,
    window_minutes: u64,
}

impl Detection for DistributedBruteForce {
    fn info() -> Info {
        Info::new("okta-distributed-brute-force", "Okta distributed brute force against one user")
            .severity(Severity::High)
            .mitre(&["T1110"])
            .description(
                "Failed Okta sign-ins for one user from many IPs across several countries or networks \
                 within 30 minutes: a brute force spread over proxies.",
            )
            .event_types(&["user.session.start"])
            .config_int("min_ips", 5, "distinct source IPs failing for the user")
            .config_int("min_countries", 2, "countries those IPs span (client.geographicalContext.country)")
            .config_int("min_asns", 3, "or autonomous systems they span (securityContext.asNumber)")
            .config_int("window_minutes", 30, "the window")
            .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = DistributedBruteForce {
            min_ips: config.get("min_ips")?,
            min_countries: config.get("min_countries")?,
            min_asns: config.get("min_asns")?,
            window_minutes: config.get("window_minutes")?,
        };
        if d.min_ips == 0 || d.window_minutes == 0 {
            return Err("min_ips and window_minutes must be greater than 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || !event.outcome_is("FAILURE") {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        let Some(ip) = event.client().ip() else { return };
        let country = event.text("client.geographicalContext.country");
        let asn = event.number("securityContext.asNumber").map(|n| (n as u64).to_string());
        let window = minutes(self.window_minutes);

        let ips = state::distinct_in_window(&format!("ips:{user}"), &ip, window);
        let countries = state::distinct_if_known(&format!("countries:{user}"), country.as_deref(), window);
        let asns = state::distinct_if_known(&format!("asns:{user}"), asn.as_deref(), window);
        if ips < self.min_ips || (countries < self.min_countries && asns < self.min_asns) {
            return;
        }
        if !state::once_per(&format!("fired:{user}"), window) {
            return;
        }
        alerts.push(
            Alert::new(format!(
                "Failed sign-ins for {user} from {ips} IPs in {} and {} in {} min",
                okta::plural(countries, "country", "countries"),
                okta::plural(asns, "ASN", "ASNs"),
                self.window_minutes
            ))
            .dedup(user.clone())
            .field("user", &user)
            .field("distinct_ips", ips)
            .field("distinct_countries", countries)
            .field("distinct_asns", asns)
            .field("countries", state::members_sample(&format!("countries:{user}"), window, 50))
            .field("last_ip", &ip)
            .field("last_asn", asn)
            .field("window_minutes", self.window_minutes),
        );
    }
}

export_detection!(DistributedBruteForce);
