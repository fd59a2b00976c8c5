//! Hostile: traps on every event
use oktawatch_guest::prelude::*;
struct Hostile;
#[allow(unreachable_code, unused_variables, unconditional_recursion)]
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-trap", "Hostile hostile-trap").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        panic!("boom on {}", e.uuid());
    }
}
export_detection!(Hostile);
