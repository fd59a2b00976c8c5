//! # Impossible travel between two Okta sign-ins
//!
//! Rule: for each user, the last successful `user.session.start` with known
//! coordinates (`client.geographicalContext.geolocation`) is remembered. A
//! new successful sign-in fires when reaching it from the previous one needs
//! more than `max_speed_kmh`, and the two places are at least
//! `min_distance_km` apart (IP geolocation is coarse: nearby points at short
//! intervals would give absurd speeds). Pairs where either sign-in went
//! through a proxy (`securityContext.isProxy` true) are skipped: the
//! location is the proxy's, not the user's. So are pairs from the same IP
//! (a GeoIP database update moved the IP, not the user).
//!
//! Config keys (defaults):
//! - `max_speed_kmh = 900` (a commercial flight)
//! - `min_distance_km = 100`
//! - `memory_days = 30`: how long the last sign-in of a user is kept
//!
//! References: the "impossible travel" analytic common to identity providers
//! and SIEMs (Okta's own behaviour detection "New Geo-Location" / velocity);
//! MITRE ATT&CK T1078 (Valid Accounts).
use oktawatch_guest::prelude::*;
use serde::{Deserialize, Serialize};

struct ImpossibleTravel {
    max_speed_kmh: f64,
    min_distance_km: f64,
    memory_days: u64,
}

/// One sign-in location, as stored in state.
#[derive(Serialize, Deserialize)]
struct Place {
    lat: f64,
    lon: f64,
    proxy: bool,
    ip: String,
    city: String,
    country: String,
}

impl Place {
    fn label(&self) -> String {
        match (self.city.is_empty(), self.country.is_empty()) {
            (false, false) => format!("{}, {}", self.city, self.country),
            (true, false) => self.country.clone(),
            (false, true) => self.city.clone(),
            (true, true) => self.ip.clone(),
        }
    }
}

impl Detection for ImpossibleTravel {
    fn info() -> Info {
        Info::new("okta-impossible-travel", "Okta impossible travel")
            .severity(Severity::High)
            .mitre(&["T1078"])
            .description(
                "Two successful Okta sign-ins for one user from places too far apart for the time \
                 between them: one of them is likely not the user.",
            )
            .event_types(&["user.session.start"])
            .config_float("max_speed_kmh", 900.0, "speeds above this are impossible (a commercial flight)")
            .config_float("min_distance_km", 100.0, "places closer than this are never reported (GeoIP is coarse)")
            .config_int("memory_days", 30, "how long the last sign-in of a user is kept")
            .prefilter(Prefilter::new().equals("outcome.result", "SUCCESS"))
    }

    fn new(config: &Config) -> Result<Self, String> {
        let d = ImpossibleTravel {
            max_speed_kmh: config.get("max_speed_kmh")?,
            min_distance_km: config.get("min_distance_km")?,
            memory_days: config.get("memory_days")?,
        };
        if d.max_speed_kmh.is_nan() || d.max_speed_kmh <= 0.0 || d.min_distance_km < 0.0 || d.memory_days == 0 {
            return Err("max_speed_kmh and memory_days must be > 0, min_distance_km >= 0".into());
        }
        Ok(d)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        if !event.is("user.session.start") || !event.outcome_is("SUCCESS") {
            return;
        }
        let Some(user) = okta::actor_login(event) else { return };
        let geo = event.client().geo();
        let Some((lat, lon)) = geo.point() else { return };
        let here = Place {
            lat,
            lon,
            proxy: event.bool("securityContext.isProxy").unwrap_or(false),
            ip: event.client().ip().unwrap_or_default(),
            city: geo.city.unwrap_or_default(),
            country: geo.country.unwrap_or_default(),
        };
        // The previous sign-in of this user and its event time; this one in its place.
        let key = format!("last:{user}");
        let previous: Option<(Place, i64)> = state::get(&key);
        state::set(&key, &(&here, event.published_ms()), days(self.memory_days));
        let Some((there, previous_ms)) = previous else { return };
        if here.proxy || there.proxy || (!here.ip.is_empty() && here.ip == there.ip) {
            // A proxy's location is not the user's; one IP placed in two spots is a GeoIP change, not travel.
            return;
        }
        let km = distance_km((there.lat, there.lon), (here.lat, here.lon));
        let elapsed_ms = event.published_ms() - previous_ms;
        if km < self.min_distance_km || elapsed_ms < 0 {
            return;
        }
        let speed = speed_kmh(km, elapsed_ms);
        if speed <= self.max_speed_kmh {
            return;
        }
        let elapsed_min = elapsed_ms / 60_000;
        let speed_text = if speed.is_finite() { format!("{speed:.0} km/h") } else { "no time between".into() };
        alerts.push(
            Alert::new(format!(
                "Impossible travel for {user}: {} to {}, {km:.0} km in {elapsed_min} min ({speed_text})",
                there.label(),
                here.label()
            ))
            .dedup(format!("{user}|{}|{}", there.ip, here.ip))
            .field("user", &user)
            .field("from_ip", &there.ip)
            .field("from_place", there.label())
            .field("to_ip", &here.ip)
            .field("to_place", here.label())
            .field("distance_km", format!("{km:.0}"))
            .field("minutes_between", elapsed_min)
            .field("speed_kmh", if speed.is_finite() { format!("{speed:.0}") } else { "inf".into() })
            .field("session_id", event.session_id())
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(ImpossibleTravel);
