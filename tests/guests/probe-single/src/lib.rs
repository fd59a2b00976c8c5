//! Fires on every `test.single` event, naming the actor.
use oktawatch_guest::prelude::*;
struct Single;
impl Detection for Single {
    fn info() -> Info {
        Info::new("test-single", "Test single-event detection").severity(Severity::Low).event_types(&["test.single"])
    }
    fn new(_: &Config) -> Result<Self, String> { Ok(Single) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        alerts.push(Alert::new(format!("single event by {}", e.actor().alternate_id().unwrap_or_default())).field("uuid", e.uuid()));
    }
}
export_detection!(Single);
