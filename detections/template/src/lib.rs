//! # Example detection: sign-in from a new country
//!
//! A template to copy. It is small but real: a user's successful Okta
//! sign-in from a country not seen for that user in the last 30 days.
//!
//! ## The parts
//!
//! - **[`Detection::info`]**: who the detection is. The `id` is stable across
//!   versions (state and alert suppression are keyed by it; a new file with
//!   the same id replaces the running one). The severity is the default of
//!   every alert (Wazuh level: info 3, low 5, medium 8, high 12, critical 14).
//!   `event_types` lists the Okta event types to receive (exact names or
//!   `prefix.*`); the host sends nothing else.
//! - **[`Detection::new`]**: builds the detection from its config, the flat
//!   TOML section `[detections.config.okta-example-new-country]` of the host
//!   config (empty when there is none). An `Err` rejects the file at load.
//! - **[`Detection::on_event`]**: looks at one event and pushes zero or more
//!   alerts. Keep nothing between events in `self` but settings: the host may
//!   replace the instance at any time (after a failure, or every N events).
//!   What must be remembered goes to [`state`], kept by the host.
//! - **[`state`]**: per-detection storage on the *event clock*: "now" is the
//!   event's `published` time, so a replay gives the same alerts as the live
//!   run. TTLs and windows are milliseconds: use `days(..)`, `hours(..)`,
//!   `minutes(..)`.
//! - **[`export_detection!`]**: exports the type as the wasm component's
//!   `describe`, `configure` and `on-event`.
//!
//! ## The rule
//!
//! For each user (`actor.alternateId`, lower-cased) and successful
//! `user.session.start` with a known `client.geographicalContext.country`:
//! - the user's last sign-in is kept with [`state::last_seen`]; a user with no
//!   sign-in in the last `memory_days` has no baseline yet: no alert;
//! - each country is remembered per user with [`state::set`] for
//!   `memory_days`; a country that [`state::get`] does not know is new.
//!
//! Config keys (defaults):
//! - `memory_days = 30`: how long a user's countries are remembered
//! - `allowed_countries = []`: countries that never alert (e.g. `["United States"]`)
use oktawatch_guest::prelude::*;

/// Settings only: everything that must outlive one event lives in `state`.
struct NewCountry {
    memory_days: u64,
    allowed_countries: Vec<String>,
}

impl Detection for NewCountry {
    fn info() -> Info {
        Info::new("okta-example-new-country", "Okta sign-in from a new country")
            .version("0.1.0")
            .severity(Severity::Low)
            .mitre(&["T1078"])
            .description(
                "A user signed in to Okta from a country not seen for them in the last 30 days \
                 (example detection from the template).",
            )
            .event_types(&["user.session.start"])
            // Every key the config section may set, with its default and a line of doc: a key
            // not declared here, or a value of the wrong type, rejects the config at load.
            .config_int("memory_days", 30, "how long a user's countries are remembered")
            .config_list("allowed_countries", &[], "countries that never alert")
    }

    fn new(config: &Config) -> Result<Self, String> {
        // Typed and fallible: `?` turns a bad value into a refused load, never a silent default.
        let memory_days: u64 = config.get("memory_days")?;
        if memory_days == 0 {
            return Err("memory_days must be greater than 0".into());
        }
        Ok(NewCountry { memory_days, allowed_countries: config.get("allowed_countries")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.outcome_is("SUCCESS") {
            return;
        }
        // The login, lower-cased (Okta's placeholders "", "null", "unknown" count as missing).
        let Some(user) = okta::actor_login(event) else { return };
        let geo = event.client().geo();
        let Some(country) = geo.country.clone() else { return };
        let memory = days(self.memory_days);

        // The previous sign-in of this user (country, event time), and this one stored in its place.
        let previous = state::last_seen(&format!("last:{user}"), &country, memory);
        // Was this country seen for this user within the memory? Remember it (again) either way.
        let seen_key = format!("seen:{user}:{country}");
        // State values are typed (serde): here just "seen", any serializable value works.
        let known_country = state::get::<bool>(&seen_key).is_some();
        state::set(&seen_key, &true, memory);

        let Some((previous_country, previous_ms)) = previous else {
            return; // No baseline for this user yet.
        };
        if known_country || self.allowed_countries.iter().any(|c| c.eq_ignore_ascii_case(&country)) {
            return;
        }
        let hours_since = (event.published_ms() - previous_ms).max(0) / 3_600_000;
        alerts.push(
            Alert::new(format!("{user} signed in from a new country: {country}"))
                .dedup(format!("{user}|{country}"))
                .field("user", &user)
                .field("country", &country)
                .field("city", geo.city)
                .field("ip", event.client().ip())
                .field("previous_country", previous_country)
                .field("hours_since_previous_signin", hours_since),
        );
    }
}

export_detection!(NewCountry);
