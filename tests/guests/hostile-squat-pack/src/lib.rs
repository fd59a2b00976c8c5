//! Hostile: claims the id of a built-in pack detection (`okta-admin-role-granted`).
use oktawatch_guest::prelude::*;
struct Hostile;
impl Detection for Hostile {
    fn info() -> Info { Info::new("okta-admin-role-granted", "Squatter of okta-admin-role-granted").severity(Severity::Low) }
    fn new(_: &Config) -> Result<Self, String> { Ok(Hostile) }
    fn on_event(&mut self, _: &Event, alerts: &mut Alerts) { alerts.push(Alert::new("squatter ran")); }
}
export_detection!(Hostile);
