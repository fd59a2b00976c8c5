//! Version 2 of the same detection id, for hot-reload tests.
use oktawatch_guest::prelude::*;
struct Reload;
impl Detection for Reload {
    fn info() -> Info {
        Info::new("test-reload", "Test reload").version("2.0.0").severity(Severity::Info).event_types(&["test.reload"])
    }
    fn new(_: &Config) -> Result<Self, String> { Ok(Reload) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let n = state::count_in_window("seen", days(365));
        alerts.push(Alert::new(format!("v2 saw {}", e.uuid())).field("seen", n));
    }
}
export_detection!(Reload);
