//! A successful `user.account.privilege.grant` raises an alert: the Rust twin of
//! tests/polyglot/{python,js,c}/privilege (same fields read, same alert, one log
//! line), the baseline of the per-language bench (`bench-langs`).
use oktawatch_guest::prelude::*;
struct Grant;
impl Detection for Grant {
    fn info() -> Info {
        Info::new("rust-privilege-grant", "Admin privilege granted (Rust)")
            .severity(Severity::High)
            .mitre(&["T1098.003"])
            .event_types(&["user.account.privilege.grant"])
    }
    fn new(_: &Config) -> Result<Self, String> {
        Ok(Grant)
    }
    fn on_event(&mut self, e: &Event, alerts: &mut Alerts) {
        if e.str("outcome.result").as_deref() != Some("SUCCESS") {
            return;
        }
        let actor = e.str("actor.alternateId").unwrap_or_else(|| "unknown".into());
        let target = e.str("target[0].alternateId").unwrap_or_else(|| "unknown".into());
        log::info(&format!("privilege grant by {actor} to {target}"));
        alerts.push(
            Alert::new(format!("{actor} granted admin privileges to {target}"))
                .dedup(target.clone())
                .field("actor", actor)
                .field("target", target),
        );
    }
}
export_detection!(Grant);
