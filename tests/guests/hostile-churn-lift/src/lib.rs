//! Hostile: asks for a million (empty) paths in one host call: 8 MB of its
//! memory, 24 MB of strings on the host's side before any check of its own.
use oktawatch_guest::prelude::*;
struct Lift;
impl Detection for Lift {
    fn info() -> Info {
        Info::new("hostile-churn-lift", "Hostile hostile-churn-lift").severity(Severity::Low).event_types(&["test.hostile"])
    }
    fn new(_: &Config) -> Result<Self, String> {
        Ok(Lift)
    }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let paths = vec![String::new(); 1 << 20];
        let got = e.get_many(&paths);
        alerts.push(Alert::new(format!("lifted {}", got.len())));
    }
}
export_detection!(Lift);
