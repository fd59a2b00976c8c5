//! Counts `test.window` events per actor in 10 minutes of event time; fires at the 3rd and later.
use oktawatch_guest::prelude::*;
struct Window;
impl Detection for Window {
    fn info() -> Info {
        Info::new("test-window", "Test windowed detection").severity(Severity::Medium).event_types(&["test.window"])
    }
    fn new(_: &Config) -> Result<Self, String> { Ok(Window) }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let user = e.actor().alternate_id().unwrap_or_default();
        let n = state::count_in_window(&format!("w:{user}"), minutes(10));
        if n >= 3 {
            alerts.push(Alert::new(format!("{n} window events for {user}")).field("count", n));
        }
    }
}
export_detection!(Window);
