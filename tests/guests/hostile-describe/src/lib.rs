//! Hostile: describes itself with a version of 1 MiB (it would go into every alert).
use oktawatch_guest::prelude::*;
struct Hostile;
impl Detection for Hostile {
    fn info() -> Info {
        Info::new("hostile-describe", "Hostile hostile-describe")
            .version(&"9".repeat(1 << 20))
            .severity(Severity::Low)
            .event_types(&["test.hostile"])
    }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, _: &Event, alerts: &mut Alerts) { alerts.push(Alert::new("describe ran")); }
}
export_detection!(Hostile);
