//! Hostile: spins forever on every event
use oktawatch_guest::prelude::*;
struct Hostile;
#[allow(unreachable_code, unused_variables, unconditional_recursion)]
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-loop", "Hostile hostile-loop").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let mut x: u64 = 0; loop { x = core::hint::black_box(x.wrapping_add(1)); }
    }
}
export_detection!(Hostile);
