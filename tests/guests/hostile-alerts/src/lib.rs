//! Hostile: raises 16 small alerts (the most allowed for one event) on every
//! event, to spend its alert budget.
use oktawatch_guest::prelude::*;
struct Hostile;
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-alerts", "Hostile hostile-alerts").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, _: &Event, alerts: &mut Alerts) {
        for i in 0..16 { alerts.push(Alert::new(format!("alert {i}"))); }
    }
}
export_detection!(Hostile);
