//! This client's view of the org's rate limit (Okta's clock, the share it
//! may use, two windows at the most for any wait), saved in `ratelimit.json`.

use super::http::now_ms;
use crate::pipeline::checkpoint::{RateFile, RateState};
use std::time::Duration;

/// This client's view of the org's rate limit, and where it is kept.
#[derive(Debug)]
pub(super) struct Rate {
    /// What the last answers said (Okta's clock), as saved.
    pub(super) view: RateState,
    /// What was last saved (to save only changes).
    pub(super) saved: RateState,
    pub(super) file: Option<RateFile>,
    /// Okta's window; waits are capped at two.
    pub(super) window: Duration,
    /// The next wait was announced at start: do not log it again.
    pub(super) announced: bool,
    pub(super) save_failed: bool,
}

impl Rate {
    /// Now on Okta's clock (epoch ms), from the host clock and the last skew.
    pub(super) fn okta_now_ms(&self) -> u64 {
        u64::try_from((now_ms() as i64).saturating_sub(self.view.skew_ms)).unwrap_or(0)
    }

    pub(super) fn cap_ms(&self) -> u64 {
        u64::try_from(self.window.as_millis().saturating_mul(2)).unwrap_or(u64::MAX)
    }

    /// How long until `at` (Okta's clock), at most two windows.
    pub(super) fn until(&self, at_ms: u64) -> Duration {
        Duration::from_millis(at_ms.saturating_sub(self.okta_now_ms()).min(self.cap_ms()))
    }

    /// `at` (Okta's clock) as host time, for people; with Okta's time when the clocks differ.
    pub(super) fn describe(&self, at_ms: u64) -> String {
        let time = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "?".into())
        };
        let okta = i64::try_from(at_ms).unwrap_or(i64::MAX);
        let host = time(okta.saturating_add(self.view.skew_ms));
        // `Date` has whole seconds: under 2 s is no news.
        if self.view.skew_ms.unsigned_abs() < 2000 {
            host
        } else {
            format!("{host} on the host clock, {} on Okta's (the host clock is {:.1}s off)", time(okta), self.view.skew_ms as f64 / 1000.0)
        }
    }

    pub(super) fn share(&self, limit: u64, share: f64) -> u64 {
        ((limit as f64) * share).floor().max(1.0) as u64
    }

    /// Saves the view if it changed; a failure is logged once.
    pub(super) fn save(&mut self, org: &str) {
        let Some(file) = &self.file else { return };
        if self.view == self.saved {
            return;
        }
        match file.save(&self.view) {
            Ok(()) => {
                self.saved = self.view.clone();
                self.save_failed = false;
            }
            Err(e) if !self.save_failed => {
                self.save_failed = true;
                tracing::error!(org, "{e}: the rate-limit view will not survive a restart");
            }
            Err(_) => {}
        }
    }
}

