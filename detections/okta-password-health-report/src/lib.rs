//! # Password health report queried
//!
//! Rule: an event whose `debugContext.debugData.requestUri` (or `requestUrl`)
//! contains `/reports/password-health`: an admin (or whoever holds an admin
//! session) read or exported the report of every user's password strength,
//! reuse and age, a map of the weakest accounts. It is only reached from the
//! Admin Console; a request from anywhere else, or by an unexpected admin,
//! deserves a look (the 2023 support-system intrusion was followed by such
//! queries). Admins in `allow_admins` are ignored. One alert per admin and IP.
//!
//! Config keys (defaults):
//! - `allow_admins = []`: logins never reported
//!
//! References: Sigma's "Okta Password Health Report Query" (the
//! `/reports/password-health/` request URI); Okta's LogEvent
//! `debugContext.debugData.requestUri`; MITRE ATT&CK T1201 (Password Policy
//! Discovery) and T1087.004 (Cloud Account Discovery).
use oktawatch_guest::prelude::*;

const PATH: &str = "/reports/password-health";

struct PasswordHealthReport {
    allow_admins: Vec<String>,
}

impl Detection for PasswordHealthReport {
    fn info() -> Info {
        Info::new("okta-password-health-report", "Okta password health report queried")
            .severity(Severity::Medium)
            .mitre(&["T1201", "T1087.004"])
            .description("The Okta password health report (every user's password strength) was queried or exported.")
            .event_types(&["user.session.access_admin_app", "policy.evaluate_sign_on", "analytics.reports.export.*"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().exists("debugContext.debugData.requestUri"))
            .prefilter(Prefilter::new().exists("debugContext.debugData.requestUrl"))
            .config_list("allow_admins", &[], "logins never reported")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(PasswordHealthReport { allow_admins: config.get("allow_admins")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let uri = event.debug_data("requestUri").or_else(|| event.debug_data("requestUrl"));
        let Some(uri) = uri.filter(|u| u.contains(PATH)) else { return };
        let admin = event.actor().alternate_id().unwrap_or_else(|| "unknown admin".into());
        if self.allow_admins.iter().any(|a| a.eq_ignore_ascii_case(&admin)) {
            return;
        }
        let ip = event.client().ip();
        let export = uri.contains("csv") || event.is("analytics.reports.export.*");
        alerts.push(
            Alert::new(format!(
                "Okta password health report {} by {admin} from {}",
                if export { "exported" } else { "queried" },
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .dedup(format!("{admin}|{}", ip.as_deref().unwrap_or("")))
            .field("admin", &admin)
            .field("request_uri", &uri)
            .field("ip", ip)
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(PasswordHealthReport);
