//! Hostile: raises 10000 alerts per event
use oktawatch_guest::prelude::*;
struct Hostile;
#[allow(unreachable_code, unused_variables, unconditional_recursion)]
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-flood", "Hostile hostile-flood").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        for i in 0..10_000 { alerts.push(Alert::new(format!("flood {i}"))); }
    }
}
export_detection!(Hostile);
