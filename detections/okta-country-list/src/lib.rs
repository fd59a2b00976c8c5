//! # Sign-in from a country outside the allow list or on the deny list
//!
//! Rule: a successful sign-in (`user.session.start`, or a single sign-on
//! `user.authentication.sso` when `include_sso = true`) whose
//! `client.geographicalContext.country` is
//! - on `deny_countries` (high): "sign-in from a denied country", or
//! - not on `allow_countries` when that list is not empty (medium):
//!   "sign-in from a country outside the allow list".
//!
//! Names compare without case, as Okta writes them ("United States",
//! "Russia", …). Both lists empty: the detection does nothing. The lists are
//! the detection's config, read again each time the host configures it. One
//! alert per user and country.
//!
//! Config keys (defaults):
//! - `allow_countries = []`
//! - `deny_countries = []`
//! - `include_sso = false`
//!
//! References: Okta's LogEvent `client.geographicalContext`; Panther's and
//! Elastic's geo allow/deny Okta rules; MITRE ATT&CK T1078 (Valid Accounts).
use oktawatch_guest::prelude::*;

struct CountryList {
    allow: Vec<String>,
    deny: Vec<String>,
    include_sso: bool,
}

impl Detection for CountryList {
    fn info() -> Info {
        Info::new("okta-country-list", "Okta sign-in from a country outside the allow list or on the deny list")
            .severity(Severity::Medium)
            .mitre(&["T1078"])
            .description(
                "A user signed in to Okta from a country on the configured deny list, or outside the \
                 configured allow list.",
            )
            .event_types(&["user.session.start", "user.authentication.sso"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
            .config_list("allow_countries", &[], "countries allowed (empty = no allow list)")
            .config_list("deny_countries", &[], "countries denied")
            .config_bool("include_sso", false, "also single sign-ons")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let lower = |k: &str| -> Result<Vec<String>, String> {
            Ok(config.get::<Vec<String>>(k)?.iter().map(|c| c.trim().to_lowercase()).collect())
        };
        let (allow, deny) = (lower("allow_countries")?, lower("deny_countries")?);
        if let Some(c) = allow.iter().find(|c| deny.contains(c)) {
            return Err(format!("{c:?} is on both allow_countries and deny_countries"));
        }
        Ok(CountryList { allow, deny, include_sso: config.get("include_sso")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if self.allow.is_empty() && self.deny.is_empty() {
            return;
        }
        if event.is("user.authentication.sso") && !self.include_sso {
            return;
        }
        if !event.outcome_is("SUCCESS") {
            return;
        }
        let geo = event.client().geo();
        let Some(country) = geo.country.clone() else { return };
        let c = country.to_lowercase();
        let (title, severity) = if self.deny.contains(&c) {
            ("from a denied country", Severity::High)
        } else if !self.allow.is_empty() && !self.allow.contains(&c) {
            ("from a country outside the allow list", Severity::Medium)
        } else {
            return;
        };
        let user = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        alerts.push(
            Alert::new(format!("{user} signed in {title}: {country}"))
                .severity(severity)
                .dedup(format!("{user}|{c}"))
                .field("user", &user)
                .field("country", &country)
                .field("city", geo.city)
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(CountryList);
