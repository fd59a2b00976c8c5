//! Reads three fields of every event and raises nothing: the cost of the sandbox itself.
use oktawatch_guest::prelude::*;
struct Trivial;
impl Detection for Trivial {
    fn info() -> Info { Info::new("test-trivial", "Trivial").severity(Severity::Info) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Trivial) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let t = e.event_type();
        let a = e.actor().alternate_id();
        let ip = e.client().ip();
        if t == "never" && a.is_none() && ip.is_none() { alerts.push(Alert::new("never")); }
    }
}
export_detection!(Trivial);
