//! A System Log stream was deactivated, deleted or reconfigured.
//!
//! Log streams push Okta's System Log to a SIEM (AWS EventBridge, Splunk
//! Cloud). Turning one off, deleting it or repointing it blinds the defenders
//! that rely on it, which is what an intruder does before acting.
//!
//! Rule: a successful `system.log_stream.lifecycle.deactivate`,
//! `system.log_stream.lifecycle.delete` or
//! `system.log_stream.lifecycle.update` → high, naming the stream and the
//! admin. No config.
use oktawatch_guest::prelude::*;

struct LogStreamTampering;

impl Detection for LogStreamTampering {
    fn info() -> Info {
        Info::new("okta-log-stream-tampering", "Okta log stream disabled, deleted or changed")
            .severity(Severity::High)
            .mitre(&["T1562.008"])
            .description("A System Log stream to a SIEM was deactivated, deleted or reconfigured.")
            .event_types(&[
                "system.log_stream.lifecycle.deactivate",
                "system.log_stream.lifecycle.delete",
                "system.log_stream.lifecycle.update",
            ])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
    }

    fn new(_config: &Config) -> Result<Self, String> {
        Ok(LogStreamTampering)
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let action = match event.event_type() {
            "system.log_stream.lifecycle.deactivate" => "deactivated",
            "system.log_stream.lifecycle.delete" => "deleted",
            "system.log_stream.lifecycle.update" => "reconfigured",
            _ => return,
        };
        if event.failed() {
            return;
        }

        let stream = event.targets().into_iter().next();
        let stream_name = stream.as_ref().and_then(okta::target_name).unwrap_or_else(|| "unnamed stream".into());
        let actor = okta::actor_or_unknown(event);
        alerts.push(
            Alert::new(format!("Log stream {stream_name} {action} by {actor}"))
                .dedup(format!("{}:{stream_name}", event.event_type()))
                .field("actor", actor.as_str())
                .field("log_stream", stream_name.as_str())
                .field("log_stream_id", stream.as_ref().and_then(|t| t.id.clone()))
                .field("log_stream_type", stream.and_then(|t| t.kind))
                .field("action", event.event_type())
                .field("client_ip", event.client().ip()),
        );
    }
}

export_detection!(LogStreamTampering);
