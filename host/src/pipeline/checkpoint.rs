//! The saved state of one Okta org: its position (`checkpoint.json`) and its
//! view of Okta's rate limit (`ratelimit.json`), small versioned files.
//!
//! Both are written atomically (temp file, `sync_all`, rename, directory
//! sync), so a crash leaves either the old or the new state, never a torn
//! one. The cursor is the full `next` URL of the last page whose events were
//! all handed to the spool; `spool_end` (`journal_end` in the file) ties it to the spool's commit
//! record for that page (see [`crate::pipeline::spool`]). A checkpoint that cannot be
//! read stops the start with an error saying how to recover; a rate-limit
//! file that cannot be read is only advice and is ignored with a warning.

use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub version: u32,
    /// The `next` link to request; None before the first page.
    pub cursor: Option<String>,
    /// Spool offset just past the commit record of the page `cursor` follows
    /// (`journal_end` in the file, as written by every version so far).
    #[serde(rename = "journal_end")]
    pub spool_end: u64,
    /// When it was saved (RFC 3339), for people reading the file.
    pub saved_at: String,
}

/// What removing a damaged checkpoint does, for the error messages.
const RECOVERY: &str = "to recover, stop oktawatch and restore that file from a backup, or remove it: \
the org then resumes from the newest page recorded in its spool/ (or, with none there, from \
initial_lookback ago), and events whose ids are still in its dedup.log are not sent again";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("state file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("state file {path} is damaged ({source}); {RECOVERY}")]
    Invalid { path: PathBuf, source: serde_json::Error },
    #[error("state file {path} has version {found}; this oktawatch reads version {VERSION} (run the oktawatch that wrote it); {RECOVERY}")]
    Version { path: PathBuf, found: u32 },
}

/// Where one org's checkpoint lives.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    pub fn new(dir: &Path) -> Self {
        CheckpointFile { path: dir.join("checkpoint.json") }
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved checkpoint, or None when there is none yet.
    pub fn load(&self) -> Result<Option<Checkpoint>, CheckpointError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointError::Io { path: self.path.clone(), source }),
        };
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let v: Versioned = serde_json::from_str(&text)
            .map_err(|source| CheckpointError::Invalid { path: self.path.clone(), source })?;
        if v.version != VERSION {
            return Err(CheckpointError::Version { path: self.path.clone(), found: v.version });
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| CheckpointError::Invalid { path: self.path.clone(), source })
    }

    /// Saves atomically.
    pub fn save(&self, cursor: Option<&str>, spool_end: u64) -> Result<(), CheckpointError> {
        let cp = Checkpoint {
            version: VERSION,
            cursor: cursor.map(str::to_string),
            spool_end,
            saved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let text = serde_json::to_string_pretty(&cp).expect("serializes");
        write_atomic(&self.path, &text).map_err(|source| CheckpointError::Io { path: self.path.clone(), source })
    }
}

/// Writes `text` (and a newline) to `path` atomically: temp file, `sync_all`, rename, directory sync.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    File::open(dir).and_then(|d| d.sync_all())
}

/// Version of `ratelimit.json`.
pub const RATE_VERSION: u32 = 1;

/// An org's last view of Okta's rate limit for `/api/v1/logs`. Times are
/// epoch milliseconds on Okta's clock (as its headers give them);
/// `skew_ms` (host clock minus Okta's, from the `Date` header) turns them
/// into host time, also after a restart on a host whose clock is off.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateState {
    pub version: u32,
    /// `X-Rate-Limit-Limit` of the last answer.
    pub limit: Option<u64>,
    /// `X-Rate-Limit-Remaining` of the last answer.
    pub remaining: Option<u64>,
    /// `X-Rate-Limit-Reset`: when the current window ends.
    pub reset_ms: Option<u64>,
    /// This client's requests in that window.
    pub used: u64,
    /// The end of a 429 penalty: no request before it.
    pub penalty_until_ms: Option<u64>,
    pub skew_ms: i64,
    /// When it was saved (RFC 3339, host clock), for people reading the file.
    pub saved_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RateFileError {
    #[error("rate-limit state {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("rate-limit state {path} is not valid: {source}")]
    Invalid { path: PathBuf, source: serde_json::Error },
    #[error("rate-limit state {path} has version {found}; this oktawatch reads version {RATE_VERSION}")]
    Version { path: PathBuf, found: u32 },
}

/// Where one org's rate-limit state lives (beside its checkpoint).
#[derive(Debug, Clone)]
pub struct RateFile {
    path: PathBuf,
}

impl RateFile {
    pub fn new(dir: &Path) -> Self {
        RateFile { path: dir.join("ratelimit.json") }
    }

    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or None when there is none yet.
    pub fn load(&self) -> Result<Option<RateState>, RateFileError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RateFileError::Io { path: self.path.clone(), source }),
        };
        let invalid = |source| RateFileError::Invalid { path: self.path.clone(), source };
        let state: RateState = serde_json::from_str(&text).map_err(invalid)?;
        if state.version != RATE_VERSION {
            return Err(RateFileError::Version { path: self.path.clone(), found: state.version });
        }
        Ok(Some(state))
    }

    /// Saves atomically (`version` and `saved_at` are filled in).
    pub fn save(&self, state: &RateState) -> Result<(), RateFileError> {
        let state = RateState {
            version: RATE_VERSION,
            saved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ..state.clone()
        };
        let text = serde_json::to_string_pretty(&state).expect("serializes");
        write_atomic(&self.path, &text).map_err(|source| RateFileError::Io { path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_and_version_check() {
        let dir = tempfile::tempdir().unwrap();
        let f = CheckpointFile::new(dir.path());
        assert_eq!(f.load().unwrap(), None);
        f.save(Some("https://x.okta.com/api/v1/logs?after=1"), 42).unwrap();
        let cp = f.load().unwrap().unwrap();
        assert_eq!(cp.cursor.as_deref(), Some("https://x.okta.com/api/v1/logs?after=1"));
        assert_eq!(cp.spool_end, 42);
        fs::write(f.path(), r#"{"version":9}"#).unwrap();
        assert!(matches!(f.load(), Err(CheckpointError::Version { found: 9, .. })));
        fs::write(f.path(), "{\"version\":1,\"cur").unwrap();
        let e = f.load().unwrap_err();
        assert!(matches!(e, CheckpointError::Invalid { .. }));
        let msg = e.to_string();
        assert!(msg.contains("checkpoint.json") && msg.contains("remove it") && msg.contains("spool/"), "{msg}");
    }

    #[test]
    fn rate_state_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = RateFile::new(dir.path());
        assert_eq!(f.load().unwrap(), None);
        let s = RateState { limit: Some(600), remaining: Some(0), reset_ms: Some(5_000), used: 3, penalty_until_ms: Some(5_000), skew_ms: -3_600_000, ..Default::default() };
        f.save(&s).unwrap();
        let back = f.load().unwrap().unwrap();
        assert_eq!((back.version, back.penalty_until_ms, back.skew_ms, back.used), (RATE_VERSION, Some(5_000), -3_600_000, 3));
        fs::write(f.path(), "garbage").unwrap();
        assert!(matches!(f.load(), Err(RateFileError::Invalid { .. })));
    }
}
