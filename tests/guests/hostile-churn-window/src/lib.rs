//! Hostile: windows and TTLs of 2^63 ms and more (u64::MAX), and a quota
//! small enough (set by the test) that expired entries are swept on every
//! event. Alerts with what it counted: `window <count> <count 2^63>
//! <distinct> <members> <remembered>`.
use oktawatch_guest::prelude::*;
struct Window;
impl Detection for Window {
    fn info() -> Info {
        Info::new("hostile-churn-window", "Hostile hostile-churn-window")
            .severity(Severity::Low)
            .event_types(&["test.hostile"])
    }
    fn new(_: &Config) -> Result<Self, String> {
        Ok(Window)
    }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        let uuid = e.uuid();
        let a = state::count_in_window("a", u64::MAX);
        let b = state::count_in_window("b", 1 << 63);
        let c = state::distinct_in_window("c", &uuid, u64::MAX);
        let m = state::distinct_members("c", 1 << 63).len();
        state::remember("d", "x", u64::MAX);
        let d = state::recall("d").is_some();
        // One more key per event: the quota is reached and swept.
        state::remember(&format!("u:{uuid}"), "x", 1 << 63);
        let p = state::peek_count("a", u64::MAX);
        alerts.push(Alert::new(format!("window {a} {b} {c} {m} {d} {p}")).dedup(uuid));
    }
}
export_detection!(Window);
