//! Counters shared by the pipeline stages, printed in summaries.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Why an org can no longer work (its sender or task ended): health answers 503 at once.
#[derive(Debug, Default)]
pub struct Fatal {
    reason: Mutex<Option<String>>,
    /// Wakes the org's task (a stored permit if it is not waiting yet).
    pub notify: tokio::sync::Notify,
}

impl Fatal {
    /// Records the first reason and wakes the org's task.
    pub fn set(&self, reason: String) {
        self.reason.lock().unwrap().get_or_insert(reason);
        self.notify.notify_one();
    }
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap().clone()
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    /// Okta answers by HTTP status (0: no answer: timeout, connection error).
    pub requests: Mutex<BTreeMap<u16, u64>>,
    /// `X-Rate-Limit-Remaining` of the last answer (u64::MAX until known).
    pub rate_remaining: AtomicU64,
    /// The newest `published` handed to the spool (ms), for the cursor lag.
    pub newest_published_ms: AtomicI64,
    /// Since when (ms) the source / the sink has been failing; 0 = working.
    pub source_failing_since_ms: AtomicI64,
    pub sink_failing_since_ms: AtomicI64,
    /// Events read from the source.
    pub fetched: AtomicU64,
    /// Events skipped because they were delivered before.
    pub duplicates: AtomicU64,
    /// Events delivered although an event with the same uuid was delivered
    /// before: their content differs (say, a copy pushed to the event hook
    /// that does not match Okta's polled one).
    pub differing_copies: AtomicU64,
    /// Raw events handed to the spool.
    pub events: AtomicU64,
    /// Alerts handed to the spool.
    pub alerts: AtomicU64,
    /// Alerts suppressed within their suppression window.
    pub suppressed: AtomicU64,
    /// Dedup keys the suppressor forgot (least recently seen first) to stay bounded.
    pub suppression_evicted: AtomicU64,
    /// Oversized events shrunk to fit a datagram.
    pub truncated: AtomicU64,
    /// Lines or elements that were not JSON objects.
    pub invalid: AtomicU64,
    /// Events without an `eventType` (no detection sees them).
    pub untyped: AtomicU64,
    /// Messages delivered by the sink.
    pub delivered: AtomicU64,
    /// Failed delivery attempts.
    pub sink_errors: AtomicU64,
    /// Source requests that failed (HTTP errors, timeouts).
    pub source_errors: AtomicU64,
    /// 429 answers.
    pub rate_limited: AtomicU64,
    /// Messages or events kept in the dead-letter file instead of delivered.
    pub dead_letters: AtomicU64,
    /// Since when (ms) the spool has been full (the source held back); 0 = room.
    pub spool_full_since_ms: AtomicI64,
    /// When (ms) the poller last reached the present (a page shorter than the limit).
    pub caught_up_ms: AtomicI64,
    /// Set when the org's sender or task ended unexpectedly.
    pub fatal: Fatal,
}

impl Stats {
    pub fn count_request(&self, status: u16) {
        *self.requests.lock().unwrap().entry(status).or_default() += 1;
    }

    /// Records whether the source (or sink) works now; keeps the first failure time.
    pub fn set_failing(flag: &AtomicI64, failing: bool) {
        if !failing {
            flag.store(0, Ordering::Relaxed);
        } else if flag.load(Ordering::Relaxed) == 0 {
            flag.store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        }
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    pub fn summary(&self) -> String {
        format!(
            "{} events fetched, {} sent as raw events, {} duplicates skipped, {} alerts ({} suppressed), {} truncated, {} invalid, {} messages delivered, {} dead letters",
            Self::get(&self.fetched),
            Self::get(&self.events),
            Self::get(&self.duplicates),
            Self::get(&self.alerts),
            Self::get(&self.suppressed),
            Self::get(&self.truncated),
            Self::get(&self.invalid),
            Self::get(&self.delivered),
            Self::get(&self.dead_letters),
        )
    }
}
