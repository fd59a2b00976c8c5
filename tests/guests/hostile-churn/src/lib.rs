//! Hostile: churns its state. Every `user.session.start` event writes 1000
//! new keys of 1 KiB (within the bounds: the state is full and evicts, which
//! is no failure); every 100th event (`debugData.seq` 99, 199, …) makes
//! 5000 state operations, past the host's bound per event.
use oktawatch_guest::prelude::*;
struct Churn {
    pad: String,
}
impl Detection for Churn {
    fn info() -> Info {
        Info::new("hostile-churn", "Hostile hostile-churn").severity(Severity::Low).event_types(&["user.session.start"])
    }
    fn new(_: &Config) -> Result<Self, String> {
        Ok(Churn { pad: "k".repeat(980) })
    }
    fn on_event(&mut self, e: &Event, _alerts: &mut Alerts) {
        let seq = e.number("debugContext.debugData.seq").unwrap_or(0.0) as u64;
        let ops = if seq % 100 == 99 { 5_000 } else { 1_000 };
        let uuid = e.uuid();
        for i in 0..ops {
            state::remember(&format!("{uuid}:{i}:{}", self.pad), "v", 0);
        }
    }
}
export_detection!(Churn);
