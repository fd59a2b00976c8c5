//! # Password health report queried
//!
//! Rule: the Okta Password Health report (every user's password status,
//! activation, last sign-in and last password change: a map of the
//! weakest accounts) was requested or downloaded. Okta's help: the report
//! is a CSV that Okta generates and emails once an admin clicks it under
//! Reports; Okta's event-type catalog logs a user's request of an export of
//! an Admin Console report as `analytics.reports.export.request` and its
//! download as `analytics.reports.export.download` (Okta generating the
//! file, `analytics.reports.export.generate`, is Okta's own act and not
//! reported). Such an event is this report's when its
//! `debugContext.debugData.requestUri` (or `requestUrl`) contains
//! `/reports/password-health` or a target names "Password Health". Sigma's
//! hunt for the same request URI (`/reports/password-health/
//! async_csv_download_schedule`, only reached from the Admin Console) is
//! kept on the two events that carry the console's request URI,
//! `user.session.access_admin_app` and `policy.evaluate_sign_on`. A request
//! by an unexpected admin, or from an unexpected place, deserves a look
//! (the 2023 support-system intrusion was followed by such queries). Admins
//! in `allow_admins` are ignored. One alert per admin and IP.
//!
//! Config keys (defaults):
//! - `allow_admins = []`: logins never reported
//!
//! References: Okta's event-type catalog (`analytics.reports.export.*`);
//! Okta's help "Okta Password Health Report"; Sigma's "Okta Password Health
//! Report Query" (the `/reports/password-health/` request URI); Okta's
//! LogEvent `debugContext.debugData.requestUri`; MITRE ATT&CK T1201
//! (Password Policy Discovery) and T1087.004 (Cloud Account Discovery).
use oktawatch_guest::prelude::*;

const PATH: &str = "/reports/password-health";
/// How a report target names it (lower case).
const NAME: &str = "password health";

struct PasswordHealthReport {
    allow_admins: Vec<String>,
}

impl Detection for PasswordHealthReport {
    fn info() -> Info {
        Info::new("okta-password-health-report", "Okta password health report queried")
            .severity(Severity::Medium)
            .mitre(&["T1201", "T1087.004"])
            .description("The Okta password health report (every user's password strength) was queried or exported.")
            .event_types(&[
                "analytics.reports.export.request",
                "analytics.reports.export.download",
                "user.session.access_admin_app",
                "policy.evaluate_sign_on",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().exists("debugContext.debugData.requestUri"))
            .prefilter(Prefilter::new().exists("debugContext.debugData.requestUrl"))
            .prefilter(Prefilter::new().prefix("eventType", "analytics.reports.export."))
            .config_list("allow_admins", &[], "logins never reported")
    }

    fn new(config: &Config) -> Result<Self, String> {
        Ok(PasswordHealthReport { allow_admins: config.get("allow_admins")? })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let uri = event.debug_data("requestUri").or_else(|| event.debug_data("requestUrl"));
        let by_uri = uri.as_deref().is_some_and(|u| u.contains(PATH));
        let export = event.is("analytics.reports.export.*");
        let named = export
            && event.targets().iter().any(|t| {
                [&t.display_name, &t.alternate_id].iter().any(|n| n.as_deref().is_some_and(|n| n.to_ascii_lowercase().contains(NAME)))
            });
        if !by_uri && !named {
            return;
        }
        let uri = uri.unwrap_or_default();
        let admin = event.actor().alternate_id().unwrap_or_else(|| "unknown admin".into());
        if self.allow_admins.iter().any(|a| a.eq_ignore_ascii_case(&admin)) {
            return;
        }
        let ip = event.client().ip();
        let what = match event.event_type() {
            "analytics.reports.export.request" => "export requested",
            "analytics.reports.export.download" => "downloaded",
            _ if uri.contains("csv") => "exported",
            _ => "queried",
        };
        alerts.push(
            Alert::new(format!(
                "Okta password health report {what} by {admin} from {}",
                ip.as_deref().unwrap_or("unknown IP")
            ))
            .dedup(format!("{admin}|{}", ip.as_deref().unwrap_or("")))
            .field("admin", &admin)
            .field("request_uri", (!uri.is_empty()).then_some(uri.as_str()))
            .field("ip", ip)
            .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(PasswordHealthReport);
