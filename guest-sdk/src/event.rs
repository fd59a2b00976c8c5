//! Typed, on-demand access to one Okta System Log event held by the host.
//!
//! The event type, `published`, `outcome.result`, `actor.alternateId` and
//! `client.ipAddress` come with the call (the contract's `event-head`) and
//! cost no host call, also when asked for by path ([`Event::str`]). Every
//! other accessor asks the host for its field(s); nothing is copied or
//! parsed in the guest unless asked for. Field names follow Okta's
//! `LogEvent` (https://developer.okta.com/docs/reference/api/system-log/).

use crate::Value;
use crate::bindings::oktawatch::detection::types::EventHead;
use crate::imports::{self as host, Raw};

/// One event, borrowed from the host for the duration of `on_event`.
pub struct Event<'a> {
    raw: Raw<'a>,
    head: EventHead,
}

impl<'a> Event<'a> {
    #[doc(hidden)]
    pub fn new(raw: Raw<'a>, head: EventHead) -> Self {
        Event { raw, head }
    }

    /// `eventType`, e.g. `user.session.start` ("" when missing).
    pub fn event_type(&self) -> &str {
        &self.head.event_type
    }
    /// `uuid`, or a stable hash of the content when the event has no real uuid.
    pub fn uuid(&self) -> String {
        host::uuid(self.raw)
    }
    /// `published` in ms since the Unix epoch: the event clock.
    pub fn published_ms(&self) -> i64 {
        self.head.published_ms
    }
    /// `outcome.result` as written (`SUCCESS`, `FAILURE`, …), without a host call.
    pub fn outcome_result(&self) -> Option<&str> {
        self.head.outcome_result.as_deref()
    }
    /// `outcome.result` is `result`, from the head (no host call).
    pub fn outcome_is(&self, result: &str) -> bool {
        self.outcome_result() == Some(result)
    }
    /// `outcome.result` is `SUCCESS` or `ALLOW`, from the head (no host call;
    /// [`Event::outcome`] also fetches the reason).
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome_result(), Some("SUCCESS" | "ALLOW"))
    }
    /// `outcome.result` is `FAILURE` or `DENY`, from the head (no host call).
    pub fn failed(&self) -> bool {
        matches!(self.outcome_result(), Some("FAILURE" | "DENY"))
    }
    /// The head's string for `path`, when `path` is one of its fields.
    fn from_head(&self, path: &str) -> Option<&Option<String>> {
        match path {
            "outcome.result" => Some(&self.head.outcome_result),
            "actor.alternateId" => Some(&self.head.actor_alternate_id),
            "client.ipAddress" => Some(&self.head.client_ip),
            _ => None,
        }
    }
    /// Any value by dotted path (`target[0].detailEntry.methodTypeUsed`).
    pub fn get(&self, path: &str) -> Option<Value> {
        host::get(self.raw, path)
    }
    /// A string by dotted path; `None` when missing, null or not a string.
    pub fn str(&self, path: &str) -> Option<String> {
        match self.from_head(path) {
            Some(v) => v.clone(),
            None => host::get_str(self.raw, path),
        }
    }
    /// A string, treating Okta's placeholder strings (`""`, `"null"`, `"unknown"`) as missing.
    pub fn text(&self, path: &str) -> Option<String> {
        self.str(path).filter(|s| !is_placeholder(s))
    }
    /// A boolean by path (also accepts the strings `"true"`/`"false"`).
    pub fn bool(&self, path: &str) -> Option<bool> {
        self.get(path).and_then(bool_of)
    }
    /// A number by path (integers, floats, and numeric strings).
    pub fn number(&self, path: &str) -> Option<f64> {
        self.get(path).and_then(number_of)
    }
    /// Length of an array (or keys of an object) by path.
    pub fn len(&self, path: &str) -> Option<u32> {
        host::len(self.raw, path)
    }
    /// Several values in one host call, in the order asked.
    pub fn get_many(&self, paths: &[String]) -> Vec<Option<Value>> {
        host::get_many(self.raw, paths)
    }
    /// Several strings in one host call (placeholders such as `"null"` kept).
    pub fn strs(&self, paths: &[String]) -> Vec<Option<String>> {
        host::get_strs(self.raw, paths)
    }
    /// Several strings in one host call, Okta's placeholders (`""`, `"null"`, `"unknown"`) as None.
    pub fn texts(&self, paths: &[&str]) -> Vec<Option<String>> {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        self.strs(&paths).into_iter().map(|v| v.filter(|s| !is_placeholder(s))).collect()
    }
    /// [`Event::texts`] for a fixed list, as an array to destructure:
    /// `let [sid, os] = event.text_fields(["authenticationContext.externalSessionId", "client.userAgent.os"]);`
    /// One host call for all of them (the head's fields cost none).
    pub fn text_fields<const N: usize>(&self, paths: [&str; N]) -> [Option<String>; N] {
        let asked: Vec<&str> = paths.iter().copied().filter(|p| self.from_head(p).is_none()).collect();
        let mut answers = if asked.is_empty() { Vec::new() } else { self.texts(&asked) }.into_iter();
        paths.map(|p| match self.from_head(p) {
            Some(v) => v.clone().filter(|s| !is_placeholder(s)),
            None => answers.next().flatten(),
        })
    }
    /// The whole event as JSON text (costly; prefer the accessors).
    pub fn to_json(&self) -> String {
        host::to_json(self.raw)
    }

    /// True when `eventType` is `name`, or starts with `prefix.` for `prefix.*`.
    pub fn is(&self, pattern: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => self.event_type().starts_with(prefix),
            None => self.event_type() == pattern,
        }
    }

    pub fn actor(&self) -> Actor<'_> {
        Actor { event: self }
    }
    pub fn client(&self) -> Client<'_> {
        Client { event: self }
    }
    /// `outcome`: the result from the head, the reason in one host call (for
    /// the result alone, [`Event::succeeded`], [`Event::failed`] and
    /// [`Event::outcome_is`] cost none).
    pub fn outcome(&self) -> Outcome {
        Outcome { result: self.text("outcome.result"), reason: self.text("outcome.reason") }
    }
    /// `target[]` (up to 64), each with id, type, alternateId and displayName: two host calls.
    pub fn targets(&self) -> Vec<Target> {
        let n = self.len("target").unwrap_or(0).min(64) as usize;
        if n == 0 {
            return Vec::new();
        }
        let paths: Vec<String> = (0..n)
            .flat_map(|i| ["id", "type", "alternateId", "displayName"].map(|f| format!("target[{i}].{f}")))
            .collect();
        let mut v = self.strs(&paths).into_iter().map(|s| s.filter(|s| !is_placeholder(s)));
        (0..n)
            .map(|_| Target {
                id: v.next().flatten(),
                kind: v.next().flatten(),
                alternate_id: v.next().flatten(),
                display_name: v.next().flatten(),
            })
            .collect()
    }
    /// The first target of the given `type` (e.g. `User`, `AppInstance`).
    pub fn target_of_type(&self, kind: &str) -> Option<Target> {
        self.targets().into_iter().find(|t| t.kind.as_deref() == Some(kind))
    }
    /// `securityContext`, in one host call.
    pub fn security_context(&self) -> SecurityContext {
        let paths = ["asNumber", "asOrg", "isp", "domain", "isProxy"].map(|f| format!("securityContext.{f}"));
        let mut v = self.get_many(&paths).into_iter();
        SecurityContext {
            as_number: v.next().flatten().and_then(number_of).map(|n| n as u64),
            as_org: v.next().flatten().and_then(text_of),
            isp: v.next().flatten().and_then(text_of),
            domain: v.next().flatten().and_then(text_of),
            is_proxy: v.next().flatten().and_then(bool_of),
        }
    }
    /// `debugContext.debugData.<key>` as a string.
    pub fn debug_data(&self, key: &str) -> Option<String> {
        self.text(&format!("debugContext.debugData.{key}"))
    }
    /// `authenticationContext.externalSessionId`.
    pub fn session_id(&self) -> Option<String> {
        self.text("authenticationContext.externalSessionId")
    }
    /// `authenticationContext.rootSessionId`, else `debugContext.debugData.rootSessionId`.
    pub fn root_session_id(&self) -> Option<String> {
        self.text("authenticationContext.rootSessionId").or_else(|| self.debug_data("rootSessionId"))
    }
    /// `transaction.id`.
    pub fn transaction_id(&self) -> Option<String> {
        self.text("transaction.id")
    }
    /// `displayMessage`.
    pub fn display_message(&self) -> Option<String> {
        self.text("displayMessage")
    }
    /// `severity` as Okta logs it (`INFO`, `WARN`, `ERROR`, `DEBUG`).
    pub fn okta_severity(&self) -> Option<String> {
        self.text("severity")
    }
}

fn text_of(v: Value) -> Option<String> {
    match v {
        Value::Text(t) if !is_placeholder(&t) => Some(t),
        _ => None,
    }
}

fn number_of(v: Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(i as f64),
        Value::Float(f) => Some(f),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn bool_of(v: Value) -> Option<bool> {
    match v {
        Value::Boolean(b) => Some(b),
        Value::Text(t) if t.eq_ignore_ascii_case("true") => Some(true),
        Value::Text(t) if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Okta writes `"null"`, `""` and `"unknown"` where a value is missing.
pub fn is_placeholder(s: &str) -> bool {
    s.is_empty() || s.eq_ignore_ascii_case("null") || s.eq_ignore_ascii_case("unknown")
}

/// `actor`: who did it.
pub struct Actor<'e> {
    event: &'e Event<'e>,
}
impl Actor<'_> {
    pub fn id(&self) -> Option<String> {
        self.event.text("actor.id")
    }
    /// Usually the login (email) for users, the client id for apps.
    pub fn alternate_id(&self) -> Option<String> {
        self.event.text("actor.alternateId")
    }
    pub fn display_name(&self) -> Option<String> {
        self.event.text("actor.displayName")
    }
    /// `User`, `PublicClientApp`, `SystemPrincipal`, …
    pub fn kind(&self) -> Option<String> {
        self.event.text("actor.type")
    }
}

/// `client`: where it came from.
pub struct Client<'e> {
    event: &'e Event<'e>,
}
impl Client<'_> {
    pub fn ip(&self) -> Option<String> {
        self.event.text("client.ipAddress")
    }
    pub fn user_agent(&self) -> Option<String> {
        self.event.text("client.userAgent.rawUserAgent")
    }
    pub fn os(&self) -> Option<String> {
        self.event.text("client.userAgent.os")
    }
    pub fn browser(&self) -> Option<String> {
        self.event.text("client.userAgent.browser")
    }
    pub fn device(&self) -> Option<String> {
        self.event.text("client.device")
    }
    pub fn zone(&self) -> Option<String> {
        self.event.text("client.zone")
    }
    /// `client.geographicalContext`, in one host call.
    pub fn geo(&self) -> Geo {
        let paths = ["city", "state", "country", "postalCode", "geolocation.lat", "geolocation.lon"]
            .map(|f| format!("client.geographicalContext.{f}"));
        let mut v = self.event.get_many(&paths).into_iter();
        Geo {
            city: v.next().flatten().and_then(text_of),
            state: v.next().flatten().and_then(text_of),
            country: v.next().flatten().and_then(text_of),
            // Seen as a number in some exports.
            postal_code: v.next().flatten().and_then(|x| match x {
                Value::Integer(i) => Some(i.to_string()),
                other => text_of(other),
            }),
            lat: v.next().flatten().and_then(number_of),
            lon: v.next().flatten().and_then(number_of),
        }
    }
}

/// `client.geographicalContext`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Geo {
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub postal_code: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}
impl Geo {
    /// Both coordinates, when known.
    pub fn point(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }
}

/// `outcome`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// `SUCCESS`, `FAILURE`, `SKIPPED`, `ALLOW`, `DENY`, `CHALLENGE`, `UNKNOWN`
    pub result: Option<String>,
    pub reason: Option<String>,
}
impl Outcome {
    pub fn is(&self, result: &str) -> bool {
        self.result.as_deref() == Some(result)
    }
    pub fn success(&self) -> bool {
        self.is("SUCCESS") || self.is("ALLOW")
    }
    pub fn failure(&self) -> bool {
        self.is("FAILURE") || self.is("DENY")
    }
}

/// One entry of `target[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    pub id: Option<String>,
    /// `type`
    pub kind: Option<String>,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
}

/// `securityContext`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SecurityContext {
    pub as_number: Option<u64>,
    pub as_org: Option<String>,
    pub isp: Option<String>,
    pub domain: Option<String>,
    pub is_proxy: Option<bool>,
}
