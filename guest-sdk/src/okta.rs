//! What several detections need to know about Okta's System Log, in one place:
//! which factor an MFA event is about and whether it is a push or a weak one,
//! whose account an event is about, whether it concerns the Admin Console,
//! which user agents are scripts rather than browsers, the device token hash,
//! and Okta's own behaviour and risk signals.
//!
//! Field names follow Okta's `LogEvent` reference
//! (<https://developer.okta.com/docs/reference/api/system-log/>).

use crate::config::Config;
use crate::event::{Event, Target};
use crate::state;
use crate::time::minutes;
use crate::{Info, Severity};

/// User-agent fragments (lower case) of HTTP libraries, command-line tools
/// and headless browsers, with the tool's name. People sign in with browsers
/// and the Okta apps; these are scripts, AitM kits and cookie replayers.
/// `okhttp` is left out: legitimate Android apps built on it sign in to Okta.
pub const NON_BROWSER_AGENTS: &[(&str, &str)] = &[
    ("python-requests", "python-requests"),
    ("python-urllib", "python-urllib"),
    ("python-httpx", "python-httpx"),
    ("aiohttp", "aiohttp"),
    ("curl/", "curl"),
    ("wget/", "wget"),
    ("go-http-client", "Go-http-client"),
    ("axios/", "axios"),
    ("node-fetch", "node-fetch"),
    ("undici", "undici"),
    ("libwww-perl", "libwww-perl"),
    ("apache-httpclient", "Apache-HttpClient"),
    ("headlesschrome", "HeadlessChrome"),
    ("phantomjs", "PhantomJS"),
];

/// The tool a raw user agent names, when it is one of [`NON_BROWSER_AGENTS`]
/// (any case; the first in the list when it names several).
///
/// One pass over the user agent, copying nothing: at each byte only the
/// fragments that start with that letter are compared. A lower-cased copy
/// searched for each fragment in turn was the largest cost of a detection
/// that asks this of every sign-in.
pub fn non_browser_tool(user_agent: &str) -> Option<&'static str> {
    let ua = user_agent.as_bytes();
    let mut first: Option<usize> = None;
    for at in 0..ua.len() {
        let mut starting_here = AGENTS_BY_FIRST_BYTE[ua[at].to_ascii_lowercase() as usize];
        while starting_here != 0 {
            let i = starting_here.trailing_zeros() as usize;
            starting_here &= starting_here - 1;
            let needle = NON_BROWSER_AGENTS[i].0.as_bytes();
            if ua[at..].len() >= needle.len() && ua[at..at + needle.len()].eq_ignore_ascii_case(needle) {
                first = Some(first.map_or(i, |f| f.min(i)));
            }
        }
        if first == Some(0) {
            break;
        }
    }
    first.map(|i| NON_BROWSER_AGENTS[i].1)
}

/// For each lower-case byte, the [`NON_BROWSER_AGENTS`] fragments (bits by
/// index) that start with it.
const AGENTS_BY_FIRST_BYTE: [u16; 256] = {
    assert!(NON_BROWSER_AGENTS.len() <= 16);
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < NON_BROWSER_AGENTS.len() {
        let needle = NON_BROWSER_AGENTS[i].0.as_bytes();
        let mut j = 0;
        while j < needle.len() {
            assert!(!needle[j].is_ascii_uppercase(), "fragments are lower case");
            j += 1;
        }
        table[needle[0] as usize] |= 1 << i;
        i += 1;
    }
    table
};

/// Upper-case fragments of factor names that prove little: a password, a
/// code sent by SMS, email or voice call, a security question.
pub const WEAK_FACTORS: &[&str] = &["PASSWORD", "SMS", "EMAIL", "CALL", "VOICE", "QUESTION"];

/// True when `factor` contains one of the upper-case `weak` fragments (any case).
pub fn is_weak_factor(factor: &str, weak: &[String]) -> bool {
    let f = factor.to_ascii_uppercase();
    weak.iter().any(|w| f.contains(w.to_ascii_uppercase().as_str()))
}

/// True for a push factor's name (`OKTA_VERIFY_PUSH`, `push`, "Okta Verify Push").
pub fn is_push(factor: &str) -> bool {
    factor.to_ascii_lowercase().contains("push")
}

/// The factor an MFA event names: `debugContext.debugData.factor` (Classic),
/// else the first `target[].detailEntry.methodTypeUsed` (Identity Engine).
pub fn factor(event: &Event) -> Option<String> {
    event.debug_data("factor").or_else(|| methods_used(event).into_iter().next())
}

/// Every `target[].detailEntry.methodTypeUsed` of the event (first 8 targets), in one host call.
pub fn methods_used(event: &Event) -> Vec<String> {
    let n = event.len("target").unwrap_or(0).min(8) as usize;
    if n == 0 {
        return Vec::new();
    }
    let paths: Vec<String> = (0..n).map(|i| format!("target[{i}].detailEntry.methodTypeUsed")).collect();
    event
        .strs(&paths)
        .into_iter()
        .flatten()
        .filter(|s| !crate::event::is_placeholder(s))
        .collect()
}

/// Some(true) for a push factor, Some(false) for another named factor, None
/// when the event names no factor. A Classic `debugData.factor` decides
/// alone; otherwise any push among the targets' methods makes it a push.
pub fn push_factor(event: &Event) -> Option<bool> {
    if let Some(f) = event.debug_data("factor") {
        return Some(is_push(&f));
    }
    let methods = methods_used(event);
    if methods.is_empty() { None } else { Some(methods.iter().any(|m| is_push(m))) }
}

/// Where an event stands in an Okta Verify push exchange (see [`push_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushStep {
    /// A push sent to the user's phone (`system.push.send_factor_verify_push`).
    Sent,
    /// A push denied or failed: `user.mfa.okta_verify.deny_push` (Classic), or an
    /// `auth_via_mfa` FAILURE with a push factor, or with reason
    /// `INVALID_CREDENTIALS` and no factor logged (how Identity Engine logs a denied push).
    Denied,
    /// A successful `user.authentication.auth_via_mfa` (any factor).
    MfaSuccess,
    /// Anything else: another factor's failure, another event type.
    Other,
}

/// Sorts an event into its [`PushStep`].
pub fn push_step(event: &Event) -> PushStep {
    match event.event_type() {
        "user.mfa.okta_verify.deny_push" => PushStep::Denied,
        "system.push.send_factor_verify_push" => PushStep::Sent,
        "user.authentication.auth_via_mfa" => {
            let outcome = event.outcome();
            if outcome.is("SUCCESS") {
                return PushStep::MfaSuccess;
            }
            if !outcome.is("FAILURE") {
                return PushStep::Other;
            }
            match push_factor(event) {
                Some(true) => PushStep::Denied,
                Some(false) => PushStep::Other,
                None if outcome.reason.as_deref() == Some("INVALID_CREDENTIALS") => PushStep::Denied,
                None => PushStep::Other,
            }
        }
        _ => PushStep::Other,
    }
}

/// The push-bombing rule `okta-mfa-push-bombing` raises an alert on and
/// `okta-mfa-bombing-then-success` watches for: per user,
/// [`Self::deny_threshold`] denied or failed pushes within
/// [`Self::deny_window_minutes`], or [`Self::push_threshold`] pushes sent
/// within [`Self::push_window_minutes`]; its four config keys, declared and
/// read here.
pub struct PushBombing {
    pub deny_threshold: u32,
    pub deny_window_minutes: u64,
    pub push_threshold: u32,
    pub push_window_minutes: u64,
}

impl PushBombing {
    /// The event types whose [`PushStep`] it needs.
    pub const EVENT_TYPES: &'static [&'static str] =
        &["user.mfa.okta_verify.deny_push", "user.authentication.auth_via_mfa", "system.push.send_factor_verify_push"];

    /// Declares its event types and config keys, with their defaults.
    pub fn declare(info: Info) -> Info {
        info.event_types(Self::EVENT_TYPES)
            .config_int("deny_threshold", 3, "denied or failed pushes that make a bombing")
            .config_int("deny_window_minutes", 5, "window for denied pushes")
            .config_int("push_threshold", 10, "pushes sent that make a bombing")
            .config_int("push_window_minutes", 10, "window for pushes sent")
    }

    /// Its keys from the detection's config (see [`Self::has_zero`]).
    pub fn from_config(config: &Config) -> Result<PushBombing, String> {
        Ok(PushBombing {
            deny_threshold: config.get("deny_threshold")?,
            deny_window_minutes: config.get("deny_window_minutes")?,
            push_threshold: config.get("push_threshold")?,
            push_window_minutes: config.get("push_window_minutes")?,
        })
    }

    /// A threshold or window of 0 (which a detection refuses).
    pub fn has_zero(&self) -> bool {
        self.deny_threshold == 0 || self.push_threshold == 0 || self.deny_window_minutes == 0 || self.push_window_minutes == 0
    }

    /// For a denied or sent push of `user`: counts it in its window and
    /// gives (count, threshold, window in minutes, what was counted); `None`
    /// for any other step.
    pub fn count(&self, step: PushStep, user: &str) -> Option<(u32, u32, u64, &'static str)> {
        match step {
            PushStep::Denied => Some((
                state::count_in_window(&format!("deny:{user}"), minutes(self.deny_window_minutes)),
                self.deny_threshold,
                self.deny_window_minutes,
                "denied pushes",
            )),
            PushStep::Sent => Some((
                state::count_in_window(&format!("sent:{user}"), minutes(self.push_window_minutes)),
                self.push_threshold,
                self.push_window_minutes,
                "pushes sent",
            )),
            PushStep::MfaSuccess | PushStep::Other => None,
        }
    }
}

/// The user an event is about when the actor is usually that user (sign-ins,
/// MFA, pushes): the actor when it is a user, else the `User` target; lower-cased.
pub fn subject_user(event: &Event) -> Option<String> {
    let actor = event.actor();
    let kind = actor.kind();
    if (kind.is_none() || kind.as_deref() == Some("User"))
        && let Some(login) = actor.alternate_id()
    {
        return Some(login.to_lowercase());
    }
    user_target(&event.targets())
}

/// The user an admin or Okta acted on (lockouts, factor resets, risk): the
/// `User` target, else the actor; lower-cased.
pub fn affected_user(event: &Event, targets: &[Target]) -> Option<String> {
    user_target(targets).or_else(|| event.actor().alternate_id().map(|u| u.to_lowercase()))
}

/// The login (else display name) of the first `User` target, lower-cased.
pub fn user_target(targets: &[Target]) -> Option<String> {
    targets
        .iter()
        .find(|t| t.kind.as_deref() == Some("User"))
        .and_then(|t| t.alternate_id.clone().or_else(|| t.display_name.clone()))
        .map(|u| u.to_lowercase())
}

/// `actor.alternateId` lower-cased (the login typed at the sign-in page, also for unknown users).
pub fn actor_login(event: &Event) -> Option<String> {
    event.actor().alternate_id().map(|u| u.to_lowercase())
}

/// `actor.alternateId` as logged, or "unknown actor": who to name in an admin-change title.
pub fn actor_or_unknown(event: &Event) -> String {
    event.actor().alternate_id().unwrap_or_else(|| "unknown actor".into())
}

/// A target's best name: display name, else alternate id, else id.
pub fn target_name(target: &Target) -> Option<String> {
    target.display_name.clone().or_else(|| target.alternate_id.clone()).or_else(|| target.id.clone())
}

/// Names Okta gives the Admin Console app in `target[]` (display name, or the
/// app's internal name `saasure`).
pub const ADMIN_CONSOLE_NAMES: &[&str] = &["Okta Admin Console", "saasure", "Okta Administration"];

/// True when a target of the event is the Okta Admin Console app (sign-on
/// policy evaluations, verifications and SSO into the console name it so).
pub fn targets_admin_console(targets: &[Target]) -> bool {
    targets.iter().any(|t| {
        [&t.display_name, &t.alternate_id, &t.id]
            .into_iter()
            .flatten()
            .any(|n| ADMIN_CONSOLE_NAMES.iter().any(|a| n.eq_ignore_ascii_case(a)))
    })
}

/// `debugContext.debugData.dtHash`: the hash of Okta's per-browser device token cookie (`DT`).
pub fn dt_hash(event: &Event) -> Option<String> {
    event.debug_data("dtHash")
}

/// What Okta writes in `client.device` when it names a kind of device rather than one device.
pub const DEVICE_CLASSES: &[&str] =
    &["Computer", "Mobile", "Tablet", "Desktop", "Phone", "Other", "Unknown", "Unknown device"];

/// One device's identifier: [`dt_hash`], else the Identity Engine `device.id`,
/// else `client.device` when it holds an identifier rather than a [device class](DEVICE_CLASSES).
pub fn device_token(event: &Event) -> Option<String> {
    dt_hash(event)
        .or_else(|| event.text("device.id"))
        .or_else(|| event.client().device().filter(|d| !DEVICE_CLASSES.iter().any(|c| d.eq_ignore_ascii_case(c))))
}

/// The `name=value` / `"name":"value"` pairs of Okta's flattened maps
/// (`{New Device=POSITIVE, New IP=NEGATIVE}` in `debugData.behaviors`, the JSON
/// text of `debugData.logOnlySecurityData`, `{level=HIGH, …}` in `debugData.risk`).
pub fn flat_pairs(text: &str) -> Vec<(String, String)> {
    text.split(['{', '}', ','])
        .filter_map(|piece| {
            let (k, v) = piece.split_once('=').or_else(|| piece.split_once(':'))?;
            let k = k.trim().trim_matches('"').trim();
            let v = v.trim().trim_matches('"').trim();
            (!k.is_empty() && !v.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Okta's behaviour detections that came out POSITIVE for the event ("New
/// Device", "New IP", "New Geo-Location", "Velocity", …), from
/// `debugData.behaviors` and `debugData.logOnlySecurityData`, without repeats.
pub fn positive_behaviors(event: &Event) -> Vec<String> {
    let [behaviors, log_only] =
        event.text_fields(["debugContext.debugData.behaviors", "debugContext.debugData.logOnlySecurityData"]);
    positives([behaviors.as_deref(), log_only.as_deref()])
}

/// The risk level Okta gave the event, upper-cased (`LOW`, `MEDIUM`, `HIGH`):
/// `level` in `debugData.risk`, else in `debugData.logOnlySecurityData`,
/// else `debugData.riskLevel`.
pub fn risk_level(event: &Event) -> Option<String> {
    let [risk, log_only, level] = event.text_fields([
        "debugContext.debugData.risk",
        "debugContext.debugData.logOnlySecurityData",
        "debugContext.debugData.riskLevel",
    ]);
    risk_of(risk.as_deref(), log_only.as_deref(), level.as_deref())
}

/// Okta's own signals on an event: [`positive_behaviors`] and [`risk_level`]
/// together, read in one host call.
pub struct Signals {
    pub positive: Vec<String>,
    pub risk: Option<String>,
}

/// [`Signals`] of the event.
pub fn signals(event: &Event) -> Signals {
    let [behaviors, log_only, risk, level] = event.text_fields([
        "debugContext.debugData.behaviors",
        "debugContext.debugData.logOnlySecurityData",
        "debugContext.debugData.risk",
        "debugContext.debugData.riskLevel",
    ]);
    Signals {
        positive: positives([behaviors.as_deref(), log_only.as_deref()]),
        risk: risk_of(risk.as_deref(), log_only.as_deref(), level.as_deref()),
    }
}

/// The POSITIVE behaviours named in `texts`, without repeats. A text that
/// never says "positive" is not split (most sign-ins: every behaviour NEGATIVE).
fn positives<'t>(texts: impl IntoIterator<Item = Option<&'t str>>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for text in texts.into_iter().flatten().filter(|t| contains_ignore_case(t, "positive")) {
        for (k, v) in flat_pairs(text) {
            if v.eq_ignore_ascii_case("POSITIVE") && !found.iter().any(|f| f.eq_ignore_ascii_case(&k)) {
                found.push(k);
            }
        }
    }
    found
}

/// `level` in `risk`, else in `log_only`, else `level` itself; upper-cased.
fn risk_of(risk: Option<&str>, log_only: Option<&str>, level: Option<&str>) -> Option<String> {
    let level_in = |t: Option<&str>| {
        let t = t.filter(|t| contains_ignore_case(t, "level"))?;
        flat_pairs(t).into_iter().find(|(k, _)| k.eq_ignore_ascii_case("level")).map(|(_, v)| v)
    };
    level_in(risk).or_else(|| level_in(log_only)).or(level.map(str::to_string)).map(|l| l.to_ascii_uppercase())
}

/// `needle` (ASCII, lower case) in `hay`, in any case; no copy of `hay`,
/// and a position is compared further only when its first byte matches.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = needle.first() else { return true };
    hay.windows(needle.len()).any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(needle))
}

/// One severity down, never below info.
pub fn lower(severity: Severity) -> Severity {
    match severity {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

/// `"1 country"`, `"3 countries"`.
pub fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_pairs_read_both_spellings() {
        let b = flat_pairs("{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=POSITIVE}");
        assert_eq!(b[1], ("New Device".into(), "POSITIVE".into()));
        let j = flat_pairs(r#"{"risk":{"level":"LOW"},"behaviors":{"New Device":"POSITIVE","Velocity":"NEGATIVE"}}"#);
        assert!(j.contains(&("level".into(), "LOW".into())));
        assert!(j.contains(&("New Device".into(), "POSITIVE".into())));
        let r = flat_pairs("{previousLevel=LOW, level=HIGH, detectionName=Session Influenced User Risk}");
        assert!(r.contains(&("level".into(), "HIGH".into())));
    }

    #[test]
    fn agents_and_factors() {
        assert_eq!(non_browser_tool("python-requests/2.31.0"), Some("python-requests"));
        assert_eq!(non_browser_tool("Mozilla/5.0 (Windows NT 10.0) Chrome/120"), None);
        assert_eq!(non_browser_tool("Mozilla/5.0 (X11) HeadlessChrome/120 curl/8"), Some("curl"));
        assert_eq!(non_browser_tool("CURL"), None);
        assert_eq!(non_browser_tool("x CURL/"), Some("curl"));
        assert_eq!(non_browser_tool(""), None);
    }

    /// The one-pass search answers as a lower-cased copy searched for each
    /// fragment in list order, on user agents made of fragments, their
    /// prefixes, mixed case and other text (including multi-byte letters).
    #[test]
    fn the_one_pass_search_answers_as_the_plain_one() {
        fn plain(ua: &str) -> Option<&'static str> {
            let ua = ua.to_ascii_lowercase();
            NON_BROWSER_AGENTS.iter().find(|(needle, _)| ua.contains(needle)).map(|(_, name)| *name)
        }
        let mut pieces: Vec<String> = vec!["Mozilla/5.0 ".into(), "(Windows)".into(), "é".into(), "/".into(), "".into(), "Ü-".into()];
        for (needle, _) in NON_BROWSER_AGENTS {
            pieces.push(needle.to_string());
            pieces.push(needle.to_ascii_uppercase());
            pieces.push(needle[..needle.len() / 2].to_string());
            pieces.push(needle[needle.len() / 2..].to_string());
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut named = 0;
        for _ in 0..20_000 {
            let ua: String = (0..next(6)).map(|_| pieces[next(pieces.len())].as_str()).collect();
            assert_eq!(non_browser_tool(&ua), plain(&ua), "{ua:?}");
            named += plain(&ua).is_some() as usize;
        }
        // Both kinds of answer were tried, many times.
        assert!(named > 2_000 && named < 18_000, "{named}");
        assert!(is_push("OKTA_VERIFY_PUSH") && !is_push("sms"));
        let weak: Vec<String> = WEAK_FACTORS.iter().map(|s| s.to_string()).collect();
        assert!(is_weak_factor("sms", &weak) && !is_weak_factor("signed_nonce", &weak));
    }
}
