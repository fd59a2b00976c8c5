//! Hostile: configures once (at load), then refuses every later configure with
//! an error of 1 MiB (it would go twice into the `detection_disabled` notice);
//! traps on every event, so that the instance is made again.
use oktawatch_guest::prelude::*;
struct Hostile;
impl Detection for Hostile {
    fn info() -> Info { Info::new("hostile-describe-config", "Hostile hostile-describe-config").severity(Severity::Low).event_types(&["test.hostile"]) }
    fn new(_: &Config) -> Result<Self, String> {
        if state::count_in_window("configured", minutes(10)) > 1 { Err("E".repeat(1 << 20)) } else { Ok(Hostile) }
    }
    fn on_event(&mut self, _: &Event, _: &mut Alerts) { panic!("hostile-describe-config traps") }
}
export_detection!(Hostile);
