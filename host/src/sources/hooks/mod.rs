//! Okta event hooks: Okta pushes System Log events to us, seconds after they
//! happen, instead of waiting for the next poll.
//!
//! One path per org, `/hooks/okta/<org name>`, over HTTPS (rustls with the
//! `ring` provider), or plain HTTP on loopback only (checked by the config).
//! Okta's protocol:
//! - `GET` with `x-okta-verification-challenge`: the one-time verification,
//!   answered `{"verification": "<the value>"}`;
//! - `POST` with `{"eventType": "com.okta.event_hook", …, "data": {"events": […]}}`.
//!
//! Both carry the shared secret verbatim in `Authorization`; it is compared
//! in constant time (SHA-256 of both sides, then `subtle`), and neither the
//! secret nor the header is ever logged. A POST is parsed, queued for the
//! org's poll loop ([`HookBatch`]) and answered at once (204), well within
//! Okta's 3-second limit; the org's [`crate::pipeline::Pipeline`] handles it
//! next, with the same dedup as polled pages, so an event reaches Wazuh once
//! whichever path brings it first. Each event is marked [`Origin::Hook`]:
//! whoever holds the secret can push events, so their messages say so, and a
//! pushed event cannot hide Okta's own: a polled copy whose content differs
//! from the pushed one with the same uuid is delivered too
//! ([`crate::pipeline::dedup::Verdict::Differing`]). A body nested deeper than
//! [`MAX_DEPTH`] (plus the three levels of the hook's own wrapping) is
//! refused with 400 before any JSON parser sees it. Refusals (401, 404, 405,
//! 400, 413, and 503 when the org's queue is full or every slot for
//! authenticated connections is taken, so that Okta retries) are counted per
//! org and status in [`Counters`].
//!
//! Exposed to the internet, the listener bounds what a client can hold
//! without the secret ([`LIMITS`], [`Slots`]). A connection is *pending*
//! from accept until one of its requests shows a right secret, then
//! *authenticated*. The two draw from separate pools:
//! - pending connections: at most 192 in all and 16 per IP address (per /64
//!   for IPv6, which hands out a /64 at a time), and 3 s
//!   from accept (TLS handshake included) to an authenticated request's
//!   headers, or the connection is closed. Okta itself gives up after 3 s, so
//!   a connection that has not shown the secret by then is not Okta's. The
//!   accept loop never waits for room: a newcomer over a cap pushes out the
//!   oldest pending connection (of its address, or of all), so idle or
//!   trickling connections cannot keep Okta's out; only a flood of more than
//!   192 new connections in the moment between Okta's connect and its
//!   headers could, which is beyond what any listener can absorb (filter on
//!   Okta's address ranges in front for that);
//! - authenticated connections: 64 more, never pushed out by newcomers, idle
//!   at most 10 s between requests (hyper's header timeout). When they are all
//!   taken, a newly authenticated request gets 503 (Okta retries).
//!
//! Requests refused before authenticating are answered with
//! `Connection: close`. Connections closed by these limits are counted by
//! reason (`per_ip`, `pre_auth_full`, `pre_auth_timeout`) in [`Counters`].

use crate::config::{HooksConfig, OktaConfig};
use crate::event::{Event, MAX_DEPTH, Origin};
use crate::shutdown::Shutdown;
use crate::sources::okta::parse_events;
use crate::telemetry::stats::Stats;
use anyhow::{Context, bail};
use axum::body::Body;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::header::{ALLOW, AUTHORIZATION, CONNECTION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_rustls::TlsAcceptor;

mod handler;
mod server;
mod slots;

pub use handler::Refusal;
pub use server::{Listener, check_tls};
pub use slots::{LIMITS, Slot, Slots};
use handler::*;
use slots::*;

/// Events Okta pushed in one request, parsed, for the org's poll loop.
pub type HookBatch = Vec<Event>;

/// The metrics label for requests to a path that names no hook-enabled org.
pub const UNKNOWN_ORG: &str = "(unknown)";

/// An org's shared secret, kept only as its SHA-256; never shown.
pub struct HookSecret([u8; 32]);

impl std::fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookSecret(***)")
    }
}

impl HookSecret {
    /// The org's secret as the config says (environment variable or the
    /// first line of a file), or None when the org takes no hooks.
    pub fn load(cfg: &OktaConfig) -> anyhow::Result<Option<HookSecret>> {
        let env = cfg.hook_secret_env.as_deref().map(|var| ("hook_secret_env", var));
        let file = cfg.hook_secret_file.as_deref().map(|path| ("hook_secret_file", path));
        let Some(secret) = crate::secret::env_or_file(&cfg.name, env, file, |var| std::env::var(var).ok())? else {
            return Ok(None);
        };
        let secret = secret.expose();
        if secret.len() < 16 {
            bail!("org `{}`: the event hook secret is shorter than 16 characters", cfg.name);
        }
        if secret.chars().any(|c| c.is_control() || !c.is_ascii()) {
            bail!("org `{}`: the event hook secret has control or non-ASCII characters", cfg.name);
        }
        Ok(Some(Self::new(secret.as_bytes())))
    }

    pub fn new(secret: &[u8]) -> HookSecret {
        HookSecret(Sha256::digest(secret).into())
    }

    /// Whether `given` is the secret; the time taken does not depend on where they differ.
    pub fn matches(&self, given: &[u8]) -> bool {
        let given: [u8; 32] = Sha256::digest(given).into();
        given.ct_eq(&self.0).into()
    }
}

/// One org that takes event hooks.
pub struct HookOrg {
    pub name: String,
    pub secret: HookSecret,
    /// Into the org's poll loop.
    pub queue: mpsc::Sender<HookBatch>,
    pub stats: Arc<Stats>,
}

/// Hook requests by (org, status) and events accepted by org, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    events: Mutex<BTreeMap<String, u64>>,
    closed: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counters {
    fn request(&self, org: &str, status: StatusCode) {
        *self.requests.lock().unwrap().entry((org.to_string(), status.as_u16())).or_default() += 1;
    }

    fn events(&self, org: &str, n: usize) {
        *self.events.lock().unwrap().entry(org.to_string()).or_default() += n as u64;
    }

    /// ((org, status), requests).
    pub fn requests_snapshot(&self) -> Vec<((String, u16), u64)> {
        self.requests.lock().unwrap().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// (org, events accepted).
    pub fn events_snapshot(&self) -> Vec<(String, u64)> {
        self.events.lock().unwrap().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn closed(&self, why: Closed) {
        *self.closed.lock().unwrap_or_else(|p| p.into_inner()).entry(why.label()).or_default() += 1;
    }

    /// (reason, connections closed by the listener's limits before they authenticated).
    pub fn closed_snapshot(&self) -> Vec<(&'static str, u64)> {
        self.closed.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (*k, *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_warnings_are_rate_limited() {
        let w = WarnLimiter::default();
        assert_eq!(w.allow("a", 401).as_deref(), Some(""));
        assert_eq!(w.allow("a", 401), None);
        assert_eq!(w.allow("a", 401), None);
        assert_eq!(w.allow("a", 404).as_deref(), Some(""), "another status is another warning");
        assert_eq!(w.allow("b", 401).as_deref(), Some(""), "another org is another warning");
        // After the quiet period, one line says how many were skipped.
        w.0.lock().unwrap().get_mut(&("a".to_string(), 401)).unwrap().0 -= WARN_EVERY;
        assert_eq!(w.allow("a", 401).as_deref(), Some(" (2 more like it not logged)"));
        assert_eq!(w.allow("a", 401), None);
    }

    #[test]
    fn secrets_compare_whole() {
        let s = HookSecret::new(b"0123456789abcdef-secret");
        assert!(s.matches(b"0123456789abcdef-secret"));
        assert!(!s.matches(b"0123456789abcdef-secreT"));
        assert!(!s.matches(b"0123456789abcdef-secret "));
        assert!(!s.matches(b""));
        assert_eq!(format!("{s:?}"), "HookSecret(***)");
    }

    #[test]
    fn bodies_keep_each_event_exactly() {
        let body = br#"{"eventType":"com.okta.event_hook","eventId":"x","data":{"events":[{"uuid":"a", "b" :[1,2]},{"c":"\u00e9"}]}}"#;
        let raws = events_of(body).unwrap();
        assert_eq!(raws.iter().map(|r| r.get()).collect::<Vec<_>>(), [r#"{"uuid":"a", "b" :[1,2]}"#, r#"{"c":"\u00e9"}"#]);
        assert!(matches!(events_of(b"{\"data\":{}}"), Err(Refusal::BadRequest(_))));
        assert!(matches!(events_of(b"{nope"), Err(Refusal::BadRequest(_))));
        assert_eq!(Refusal::Busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        let deep = format!(r#"{{"data":{{"events":[{{"a":{}1{}}}]}}}}"#, "[".repeat(63), "]".repeat(63));
        assert_eq!(events_of(deep.as_bytes()).unwrap().len(), 1, "an event of 64 levels");
        let deeper = format!(r#"{{"data":{{"events":[{{"a":{}1{}}}]}}}}"#, "[".repeat(64), "]".repeat(64));
        assert!(matches!(events_of(deeper.as_bytes()), Err(Refusal::TooDeep)));
        assert_eq!(Refusal::TooDeep.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn addresses_count_per_ipv4_address_and_per_ipv6_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_of(a), address_of(b));
        assert_eq!(address_of(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(address_of(a), address_of("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(address_of("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(address_of("192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn pending_connections_are_pushed_out_and_authenticated_ones_kept() {
        let counters = Arc::new(Counters::default());
        let limits = Limits { pending: 3, per_ip: 2, authenticated: 1, pre_auth_timeout: Duration::from_secs(3) };
        let slots = Arc::new(Slots::new(limits, counters.clone()));
        let ip = |d: u8| IpAddr::from([10, 0, 0, d]);
        let a1 = slots.admit(ip(1));
        let a2 = slots.admit(ip(1));
        let a3 = slots.admit(ip(1));
        assert_eq!(slots.in_use(), (2, 0), "a third from one address pushes out its oldest");
        assert!(!a1.authenticate(), "a pushed-out connection cannot authenticate");
        let b1 = slots.admit(ip(2));
        let c1 = slots.admit(ip(3));
        assert_eq!(slots.in_use(), (3, 0), "past the pending cap, the oldest of all goes");
        assert!(!a2.authenticate());
        assert_eq!(counters.closed_snapshot(), vec![("per_ip", 1), ("pre_auth_full", 1)]);
        assert!(b1.authenticate() && b1.authenticate());
        assert_eq!(slots.in_use(), (2, 1));
        assert!(!c1.authenticate(), "the authenticated pool is full");
        // Newcomers never push out an authenticated connection.
        let more: Vec<_> = (0..5).map(|_| slots.admit(ip(2))).collect();
        assert_eq!(slots.in_use(), (3, 1));
        assert!(b1.is_authenticated());
        drop(b1);
        assert_eq!(slots.in_use(), (3, 0));
        assert!(more[4].authenticate(), "room again");
        drop((a1, a2, a3, c1, more));
        assert_eq!(slots.in_use(), (0, 0));
    }
}
