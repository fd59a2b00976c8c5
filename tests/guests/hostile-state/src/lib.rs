//! Hostile: fills its state with unique keys
use oktawatch_guest::prelude::*;
struct Hostile;
#[allow(unreachable_code, unused_variables, unconditional_recursion)]
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-state", "Hostile hostile-state").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        for i in 0..2_000u32 { state::remember(&format!("{}:{i}", e.uuid()), &"v".repeat(1024), 0); }
    }
}
export_detection!(Hostile);
