//! The bounds on every detection: [`Limits`] (time, memory, alerts,
//! recycling, quarantine); the bounds on what a detection says about itself
//! ([`check_info`], [`bounds`]) and on every message it can put in a failure
//! or a refusal ([`cut`], [`MAX_REASON`]); and the bounds on its alerts, per
//! event ([`Limits::bound_alerts`]) and as a budget per page and per minute
//! ([`Limits::spend_budget`]).

use super::bindings;
use super::call::Failure;
use super::detection::Info;
use super::quarantine::Slot;
use super::{config_schema, prefilter};
use std::time::{Duration, Instant};

/// Bounds and settings for every detection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock time per event per detection.
    pub timeout: Duration,
    /// Linear memory per detection, summed over all its memories.
    pub memory_bytes: usize,
    /// Alerts one detection may raise for one event.
    pub max_alerts: usize,
    /// Alerts one detection may raise on one page (all events of one call
    /// of [`Runtime::process_for`](super::Runtime::process_for)); past it the detection is quarantined.
    pub max_alerts_per_page: usize,
    /// … and within one minute of wall time, over all pages and orgs.
    pub max_alerts_per_minute: usize,
    /// Size of one alert (title, key, context, MITRE ids) in bytes.
    pub max_alert_bytes: usize,
    /// A Store is replaced after this many events (linear memory never shrinks).
    pub recycle_every: u64,
    /// … or once its memory grew this much past what it had when ready (after
    /// `configure`): a language runtime starts with tens of MiB of its own,
    /// which is no reason to start it again after every event.
    pub recycle_memory: usize,
    /// Failures within [`Self::failure_window`] that quarantine a detection.
    pub max_failures: usize,
    pub failure_window: Duration,
    /// First quarantine; doubles on each further one, up to an hour.
    pub quarantine: Duration,
    /// `Some(n)`: wasmtime's pooling allocator sized for `n` live instances
    /// (one per detection, plus the ones being loaded). None: on-demand
    /// allocation, the default: pooling instantiates ~30% faster (runtime
    /// bench), but at one instantiation per `recycle_every` events that is
    /// noise, and on-demand reserves nothing up front on small machines.
    pub pooling: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_millis(10),
            memory_bytes: 32 << 20,
            max_alerts: 16,
            // Two per event of a full Okta page; the pack raises far fewer.
            max_alerts_per_page: 2000,
            max_alerts_per_minute: 20_000,
            max_alert_bytes: 16 << 10,
            recycle_every: 10_000,
            recycle_memory: 16 << 20,
            max_failures: 3,
            failure_window: Duration::from_secs(60),
            quarantine: Duration::from_secs(30),
            pooling: None,
        }
    }
}

/// Longest failure or refusal message kept (a trap's text, a `configure`
/// error): it goes into log lines, status files and `detection_disabled`
/// notices.
pub const MAX_REASON: usize = 512;

/// Bounds on what `describe` returns, in bytes (counts for lists).
pub mod bounds {
    pub const ID: usize = 64;
    pub const TITLE: usize = 200;
    pub const VERSION: usize = 64;
    pub const DESCRIPTION: usize = 4096;
    pub const MITRE_ID: usize = 32;
    pub const MITRE_IDS: usize = 32;
    pub const EVENT_TYPE: usize = 128;
    pub const EVENT_TYPES: usize = 200;
}

/// `s`, cut to at most `max` bytes (on a character boundary, marked `…`).
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// What a detection says about itself goes into every alert, notice, log
/// line and status file: each field is bounded, and the id, which state and
/// suppression are keyed by, is plain. A refusal names the field, its size
/// and the bound (never the content, which may be the oversized part).
pub fn check_info(info: &Info) -> Result<(), String> {
    use bounds::*;
    let id = &info.id;
    if id.is_empty()
        || id.len() > ID
        || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        let shown = if id.len() <= ID { format!("`{id}`") } else { format!("of {} bytes", id.len()) };
        return Err(format!("id {shown}: 1-{ID} lower-case letters, digits, `-` or `_`"));
    }
    if info.title.is_empty() {
        return Err("title: empty".into());
    }
    let field = |name: String, len: usize, max: usize| match len > max {
        true => Err(format!("{name}: {len} bytes, at most {max}")),
        false => Ok(()),
    };
    let count = |name: &str, n: usize, max: usize| match n > max {
        true => Err(format!("{name}: {n} entries, at most {max}")),
        false => Ok(()),
    };
    field("title".into(), info.title.len(), TITLE)?;
    field("version".into(), info.version.len(), VERSION)?;
    field("description".into(), info.description.len(), DESCRIPTION)?;
    count("mitre", info.mitre.len(), MITRE_IDS)?;
    for (i, m) in info.mitre.iter().enumerate() {
        field(format!("mitre[{i}]"), m.len(), MITRE_ID)?;
    }
    count("event_types", info.event_types.len(), EVENT_TYPES)?;
    for (i, t) in info.event_types.iter().enumerate() {
        field(format!("event_types[{i}]"), t.len(), EVENT_TYPE)?;
    }
    prefilter::check(&info.prefilters)?;
    config_schema::check_keys(&info.config)?;
    Ok(())
}

impl Limits {
    /// Takes `alerts` out of the detection's alert budget (per page, per
    /// minute); what does not fit is dropped and the budget is spent.
    pub(super) fn spend_budget(&self, slot: &mut Slot, page: &mut usize, alerts: &mut Vec<bindings::Alert>) -> Option<Failure> {
        if slot.minute.0.elapsed() >= Duration::from_secs(60) {
            slot.minute = (Instant::now(), 0);
        }
        let (per_page, per_minute) = (self.max_alerts_per_page, self.max_alerts_per_minute);
        let page_room = per_page.saturating_sub(*page);
        let minute_room = per_minute.saturating_sub(slot.minute.1);
        let raised = alerts.len();
        let spent = (raised > page_room.min(minute_room)).then(|| {
            let why = if page_room <= minute_room {
                format!("alert budget spent: {} alerts on one page (at most {per_page})", *page + raised)
            } else {
                format!("alert budget spent: {} alerts within a minute (at most {per_minute})", slot.minute.1 + raised)
            };
            alerts.truncate(page_room.min(minute_room));
            Failure::Limit(why)
        });
        *page += alerts.len();
        slot.minute.1 += alerts.len();
        spent
    }

    /// At most [`Self::max_alerts`] alerts for one event, none over
    /// [`Self::max_alert_bytes`]: what is over is dropped and the call has
    /// failed, the alerts within bounds kept.
    pub(super) fn bound_alerts(
        &self,
        mut alerts: Vec<bindings::Alert>,
    ) -> Result<Vec<bindings::Alert>, (Failure, Vec<bindings::Alert>)> {
        let mut problem = None;
        if alerts.len() > self.max_alerts {
            problem = Some(format!("{} alerts for one event (at most {})", alerts.len(), self.max_alerts));
            alerts.truncate(self.max_alerts);
        }
        let max = self.max_alert_bytes;
        let before = alerts.len();
        alerts.retain(|a| alert_bytes(a) <= max);
        if alerts.len() < before && problem.is_none() {
            problem = Some(format!("{} alert(s) over {} KiB dropped", before - alerts.len(), max >> 10));
        }
        match problem {
            None => Ok(alerts),
            Some(p) => Err((Failure::Limit(p), alerts)),
        }
    }
}

/// An alert's size, counting a few bytes of JSON for each context entry and
/// MITRE id (quotes, colon, comma), so that many empty entries count too.
fn alert_bytes(a: &bindings::Alert) -> usize {
    a.title.len()
        + a.dedup_key.as_ref().map_or(0, |k| k.len())
        + a.context.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>()
        + a.mitre.iter().map(|m| m.len() + 3).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::contract::Version;

    fn info() -> Info {
        Info {
            id: "d".into(),
            title: "t".into(),
            version: "1.0.0".into(),
            severity: "low",
            mitre: vec!["T1078.004".into()],
            description: String::new(),
            event_types: vec!["user.session.start".into()],
            contract: Version::V02,
            prefilters: Vec::new(),
            config: Vec::new(),
        }
    }

    #[test]
    fn describe_fields_are_bounded() {
        assert_eq!(check_info(&info()), Ok(()));
        let mut i = info();
        i.version = "1".repeat(1 << 20);
        assert_eq!(check_info(&i), Err("version: 1048576 bytes, at most 64".into()));
        let mut i = info();
        i.mitre.push("T".repeat(33));
        assert_eq!(check_info(&i), Err("mitre[1]: 33 bytes, at most 32".into()));
        let mut i = info();
        i.event_types = vec!["x".repeat(129)];
        assert_eq!(check_info(&i), Err("event_types[0]: 129 bytes, at most 128".into()));
        let mut i = info();
        i.event_types = vec!["x".into(); 201];
        assert_eq!(check_info(&i), Err("event_types: 201 entries, at most 200".into()));
        let mut i = info();
        i.description = "d".repeat(4097);
        assert_eq!(check_info(&i), Err("description: 4097 bytes, at most 4096".into()));
        let mut i = info();
        i.title = "t".repeat(201);
        assert_eq!(check_info(&i), Err("title: 201 bytes, at most 200".into()));
        let mut i = info();
        i.id = "a".repeat(100_000);
        assert_eq!(check_info(&i), Err("id of 100000 bytes: 1-64 lower-case letters, digits, `-` or `_`".into()));
    }

    fn alerts(n: usize) -> Vec<bindings::Alert> {
        (0..n)
            .map(|i| bindings::Alert { title: format!("a{i}"), severity: None, dedup_key: None, context: vec![], mitre: vec![] })
            .collect()
    }

    #[test]
    fn alert_budget_per_page_and_per_minute() {
        let limits = Limits { max_alerts_per_page: 10, max_alerts_per_minute: 25, ..Limits::default() };
        let mut slot = Slot::new(Duration::from_secs(1));
        // Page 1: 4 + 4 fit, the next 4 only in part.
        let mut page = 0;
        let mut a = alerts(4);
        assert_eq!(limits.spend_budget(&mut slot, &mut page, &mut a), None);
        assert_eq!(limits.spend_budget(&mut slot, &mut page, &mut a), None);
        let mut a = alerts(4);
        let spent = limits.spend_budget(&mut slot, &mut page, &mut a);
        assert_eq!(spent, Some(Failure::Limit("alert budget spent: 12 alerts on one page (at most 10)".into())));
        assert_eq!((a.len(), page, slot.minute.1), (2, 10, 10));
        // Pages 2 and 3: the minute's budget runs out first.
        let mut page = 0;
        let mut a = alerts(10);
        assert_eq!(limits.spend_budget(&mut slot, &mut page, &mut a), None);
        let mut page = 0;
        let mut a = alerts(9);
        let spent = limits.spend_budget(&mut slot, &mut page, &mut a);
        assert_eq!(spent, Some(Failure::Limit("alert budget spent: 29 alerts within a minute (at most 25)".into())));
        assert_eq!((a.len(), slot.minute.1), (5, 25));
        // A minute later the budget is back.
        slot.minute.0 -= Duration::from_secs(61);
        let mut page = 0;
        let mut a = alerts(10);
        assert_eq!(limits.spend_budget(&mut slot, &mut page, &mut a), None);
        assert_eq!(slot.minute.1, 10);
    }

    #[test]
    fn cut_keeps_char_boundaries() {
        assert_eq!(cut("short", 10), "short");
        let c = cut(&"é".repeat(1000), 11);
        assert!(c.len() <= 11 && c.ends_with('…'), "{c}");
        assert_eq!(cut(&"x".repeat(600), MAX_REASON).len(), MAX_REASON);
    }
}
