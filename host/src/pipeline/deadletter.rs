//! The dead-letter file: what can never be delivered is kept and counted,
//! never retried for ever and never dropped silently.
//!
//! One NDJSON file per org (`dead-letter.ndjson` in its state dir, mode
//! 0600): each line names the time, the reason and the size, and holds the
//! message or event text (cut to [`MAX_ENTRY`] bytes). The file is bounded:
//! past [`MAX_FILE`] it is rotated once to `dead-letter.1.ndjson`. Every
//! entry is counted (`oktawatch_dead_letters_total`); the log says so at most
//! once a minute, with how many went unlogged.

use crate::telemetry::stats::Stats;
use serde_json::json;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most of one message or event kept in an entry.
pub const MAX_ENTRY: usize = 1 << 20;
/// The file is rotated past this size (so at most twice this on disk).
pub const MAX_FILE: u64 = 64 << 20;

/// The dead-letter file of one org; cheap to share between the pipeline and its sender.
#[derive(Clone)]
pub struct DeadLetters {
    inner: Arc<Inner>,
}

struct Inner {
    org: String,
    path: PathBuf,
    stats: Arc<Stats>,
    state: Mutex<State>,
}

struct State {
    file: Option<File>,
    bytes: u64,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl DeadLetters {
    pub fn new(dir: &Path, org: &str, stats: Arc<Stats>) -> DeadLetters {
        let path = dir.join("dead-letter.ndjson");
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let state = Mutex::new(State { file: None, bytes, last_log: None, unlogged: 0 });
        DeadLetters { inner: Arc::new(Inner { org: org.to_string(), path, stats, state }) }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Keeps `data` with `reason`; counts it; logs (rate-limited). Never fails:
    /// a dead-letter file that cannot be written is logged, and the entry still counted.
    pub fn put(&self, reason: &str, data: &[u8]) {
        let i = &self.inner;
        i.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
        let cut = data.len().min(MAX_ENTRY);
        let line = json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "org": i.org,
            "reason": reason,
            "bytes": data.len(),
            "cut": cut < data.len(),
            "data": String::from_utf8_lossy(&data[..cut]),
        })
        .to_string()
            + "\n";
        let mut st = i.state.lock().unwrap();
        let written = self.append(&mut st, line.as_bytes());
        let now = Instant::now();
        if st.last_log.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(60)) {
            let more = std::mem::take(&mut st.unlogged);
            st.last_log = Some(now);
            match written {
                Ok(()) => tracing::error!(org = %i.org, "{reason}: kept in {} and skipped ({more} more since the last report)", i.path.display()),
                Err(e) => tracing::error!(org = %i.org, "{reason}: skipped; the dead-letter file {} cannot be written: {e} ({more} more since the last report)", i.path.display()),
            }
        } else {
            st.unlogged += 1;
        }
    }

    fn append(&self, st: &mut State, line: &[u8]) -> std::io::Result<()> {
        let path = &self.inner.path;
        if st.bytes + line.len() as u64 > MAX_FILE && st.bytes > 0 {
            st.file = None;
            std::fs::rename(path, path.with_extension("1.ndjson"))?;
            st.bytes = 0;
        }
        if st.file.is_none() {
            st.file = Some(OpenOptions::new().create(true).append(true).mode(0o600).open(path)?);
        }
        st.file.as_mut().unwrap().write_all(line)?;
        st.bytes += line.len() as u64;
        Ok(())
    }
}
