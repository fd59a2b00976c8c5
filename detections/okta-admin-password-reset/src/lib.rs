//! # A user's password reset by an admin
//!
//! Rule: a successful `user.account.reset_password` or
//! `user.account.expire_password` whose actor is not the user it targets →
//! medium: an admin (or Okta support, or an API token acting as an admin)
//! reset or expired someone else's password. Help-desk social engineering
//! ends here: the caller gets a reset for the account they want; an intruder
//! with admin rights resets a victim's password to sign in as them. A
//! user's own self-service reset (actor = target) is left alone.
//! `okta-support-reset` raises the high alert when the actor is Okta support.
//!
//! Config keys (defaults):
//! - `ignore_actors = []`: actor logins not reported (a provisioning service account), any case
//! - `include_expire = true`: also report forced password expiry
//!
//! References: Okta event types `user.account.reset_password` and
//! `user.account.expire_password`; public detections of admin-initiated
//! password resets; MITRE ATT&CK T1098 (Account Manipulation).
use oktawatch_guest::prelude::*;

struct AdminPasswordReset {
    ignore_actors: Vec<String>,
    include_expire: bool,
}

impl Detection for AdminPasswordReset {
    fn info() -> Info {
        Info::new("okta-admin-password-reset", "Okta user password reset by an admin")
            .severity(Severity::Medium)
            .mitre(&["T1098"])
            .description("An administrator reset or expired another user's Okta password.")
            .event_types(&["user.account.reset_password", "user.account.expire_password"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(Prefilter::new().not_one_of("outcome.result", &["FAILURE", "DENY"]))
            .config_list("ignore_actors", &[], "actor logins not reported (any case)")
            .config_bool("include_expire", true, "also report forced password expiry")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let ignore: Vec<String> = config.get("ignore_actors")?;
        Ok(AdminPasswordReset {
            ignore_actors: ignore.iter().map(|a| a.to_lowercase()).collect(),
            include_expire: config.get("include_expire")?,
        })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let what = match event.event_type() {
            "user.account.reset_password" => "reset",
            "user.account.expire_password" if self.include_expire => "expired",
            _ => return,
        };
        if event.failed() {
            return;
        }
        let Some(user) = okta::user_target(&event.targets()) else { return };
        let actor = okta::actor_login(event).unwrap_or_else(|| "unknown actor".into());
        if actor == user || self.ignore_actors.contains(&actor) {
            return;
        }
        alerts.push(
            Alert::new(format!("Password of {user} {what} by {actor}"))
                .dedup(format!("{what}:{user}:{actor}"))
                .field("user", &user)
                .field("actor", &actor)
                .field("action", event.event_type())
                .field("client_ip", event.client().ip())
                .field("user_agent", event.client().user_agent()),
        );
    }
}

export_detection!(AdminPasswordReset);
