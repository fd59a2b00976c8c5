//! Hostile: recurses without end
use oktawatch_guest::prelude::*;
struct Hostile;
#[allow(unreachable_code, unused_variables, unconditional_recursion)]
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-recursion", "Hostile hostile-recursion").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        fn down(n: u64) -> u64 { core::hint::black_box(down(n + 1)) + 1 } core::hint::black_box(down(0));
    }
}
export_detection!(Hostile);
