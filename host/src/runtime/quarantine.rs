//! Failures and quarantine: a detection's run state ([`Slot`]: its
//! instance, its alert minute, its recent failures); the rule that takes it
//! out of service after [`Limits::max_failures`](super::Limits::max_failures)
//! failures within the window, or at once when its alert budget is spent,
//! for a time that doubles at each quarantine up to an hour; and what is
//! said when it is ([`Disabled`]).

use super::detection::Instance;
use super::{Failure, Loaded, Outcome, Runtime};
use crate::event::Event;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A detection's run state, behind its lock: the instance in hand, its
/// alert minute, its recent failures and its quarantine.
pub(super) struct Slot {
    pub(super) instance: Option<Instance>,
    /// Alerts raised since `minute.0` (the alert budget per minute).
    pub(super) minute: (Instant, usize),
    pub(super) failures: VecDeque<Instant>,
    pub(super) quarantined_until: Option<Instant>,
    pub(super) backoff: Duration,
    pub(super) last_failure: Option<Failure>,
}

impl Slot {
    /// No instance yet, no failures; a first quarantine lasts `backoff`.
    pub(super) fn new(backoff: Duration) -> Slot {
        Slot {
            instance: None,
            minute: (Instant::now(), 0),
            failures: VecDeque::new(),
            quarantined_until: None,
            backoff,
            last_failure: None,
        }
    }

    /// Whether the detection is in quarantine now; a quarantine that is
    /// over ends here (and says so).
    pub(super) fn in_quarantine(&mut self, id: &str) -> bool {
        if let Some(until) = self.quarantined_until {
            if Instant::now() < until {
                return true;
            }
            self.quarantined_until = None;
            tracing::info!(detection = %id, "quarantine over; running it again");
        }
        false
    }

    /// `running`, or for how long it is quarantined and why.
    pub(super) fn status(&self) -> String {
        match self.quarantined_until {
            Some(until) if until > Instant::now() => format!(
                "quarantined for {:.0?} ({})",
                until - Instant::now(),
                self.last_failure.as_ref().map(|f| f.to_string()).unwrap_or_default()
            ),
            _ => "running".into(),
        }
    }
}

/// A detection taken out of service.
pub struct Disabled {
    pub detection: Arc<Loaded>,
    pub reason: Failure,
    pub for_how_long: Duration,
    pub event_index: usize,
    /// At once (its alert budget spent), not after repeated failures.
    pub at_once: bool,
}

impl Runtime {
    /// Counts a failed call; quarantines after repeated failures, or at once.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn failed(&self, det: &Arc<Loaded>, slot: &mut Slot, i: usize, ev: &Event, failure: Failure, at_once: bool, out: &mut Outcome) {
        match &failure {
            Failure::Timeout => det.counters.timeouts.fetch_add(1, Ordering::Relaxed),
            Failure::Limit(_) => det.counters.limits.fetch_add(1, Ordering::Relaxed),
            Failure::Trap(_) => det.counters.traps.fetch_add(1, Ordering::Relaxed),
        };
        tracing::warn!(detection = %det.info.id, event = %ev.key(), "{failure}; instance discarded");
        out.failures.push((i, det.info.id.clone(), failure.clone()));
        let now = Instant::now();
        slot.failures.push_back(now);
        while slot.failures.front().is_some_and(|t| now - *t > self.limits.failure_window) {
            slot.failures.pop_front();
        }
        slot.last_failure = Some(failure.clone());
        if at_once || slot.failures.len() >= self.limits.max_failures {
            let for_how_long = slot.backoff;
            slot.quarantined_until = Some(now + for_how_long);
            slot.backoff = (slot.backoff * 2).min(Duration::from_secs(3600));
            slot.failures.clear();
            det.counters.quarantines.fetch_add(1, Ordering::Relaxed);
            let after = if at_once { "its alert budget was spent" } else { "repeated failures" };
            tracing::error!(detection = %det.info.id, "disabled for {for_how_long:.0?} after {after} ({failure})");
            out.disabled.push(Disabled { detection: det.clone(), reason: failure, for_how_long, event_index: i, at_once });
        }
    }
}
