//! The saved position of one Okta org: a small versioned state file.
//!
//! Written atomically (temp file, `sync_all`, rename, directory sync), so a
//! crash leaves either the old or the new state, never a torn one. The
//! cursor is the full `next` URL of the last page whose events were all
//! handed to the journal; `journal_end` ties it to the journal's commit
//! record for that page (see [`crate::journal`]).

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
    /// Journal offset just past the commit record of the page `cursor` follows.
    pub journal_end: u64,
    /// When it was saved (RFC 3339), for people reading the file.
    pub saved_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("state file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("state file {path} is not valid: {source}")]
    Invalid { path: PathBuf, source: serde_json::Error },
    #[error("state file {path} has version {found}; this oktawatch reads version {VERSION}")]
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
    pub fn save(&self, cursor: Option<&str>, journal_end: u64) -> Result<(), CheckpointError> {
        let cp = Checkpoint {
            version: VERSION,
            cursor: cursor.map(str::to_string),
            journal_end,
            saved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let io = |source| CheckpointError::Io { path: self.path.clone(), source };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io)?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(serde_json::to_string_pretty(&cp).expect("serializes").as_bytes()).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(io)?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(())
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
        assert_eq!(cp.journal_end, 42);
        fs::write(f.path(), r#"{"version":9}"#).unwrap();
        assert!(matches!(f.load(), Err(CheckpointError::Version { found: 9, .. })));
    }
}
