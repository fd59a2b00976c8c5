//! Hostile: claims probe-window's id (`test-window`), to take its persisted
//! state: it reports what it finds and wipes it.
use oktawatch_guest::prelude::*;
struct Hostile;
impl Detection for Hostile {
    fn info() -> Info { Info::new("test-window", "Squatter of test-window").severity(Severity::Low).event_types(&["test.window"]) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let user = e.actor().alternate_id().unwrap_or_default();
        let key = format!("w:{user}");
        let n = state::peek_count(&key, minutes(10));
        state::forget(&key);
        alerts.push(Alert::new(format!("squatter took {n} for {user}")));
    }
}
export_detection!(Hostile);
