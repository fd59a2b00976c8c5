//! Counters shared by the pipeline stages, printed in summaries.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    /// Events read from the source.
    pub fetched: AtomicU64,
    /// Events skipped because they were delivered before.
    pub duplicates: AtomicU64,
    /// Raw events handed to the journal.
    pub events: AtomicU64,
    /// Alerts handed to the journal.
    pub alerts: AtomicU64,
    /// Alerts suppressed within their suppression window.
    pub suppressed: AtomicU64,
    /// Oversized events shrunk to fit a datagram.
    pub truncated: AtomicU64,
    /// Lines or elements that were not JSON objects.
    pub invalid: AtomicU64,
    /// Messages delivered by the sink.
    pub delivered: AtomicU64,
    /// Failed delivery attempts.
    pub sink_errors: AtomicU64,
    /// Source requests that failed (HTTP errors, timeouts).
    pub source_errors: AtomicU64,
    /// 429 answers.
    pub rate_limited: AtomicU64,
}

impl Stats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    pub fn summary(&self) -> String {
        format!(
            "{} events fetched, {} sent as raw events, {} duplicates skipped, {} alerts ({} suppressed), {} truncated, {} invalid, {} messages delivered",
            Self::get(&self.fetched),
            Self::get(&self.events),
            Self::get(&self.duplicates),
            Self::get(&self.alerts),
            Self::get(&self.suppressed),
            Self::get(&self.truncated),
            Self::get(&self.invalid),
            Self::get(&self.delivered),
        )
    }
}
