//! Secrets (API tokens, access tokens, private keys, hook secrets): one type
//! that never shows its value ([`Secret`]), and one way of reading them, so
//! that every secret gets the same treatment: a file is read whole, with a
//! warning (naming the file, never its content) when its mode lets the group
//! or others read it ([`read`]); a secret the config names as "an
//! environment variable or a file" is the first line of either
//! ([`env_or_file`]).

use std::os::unix::fs::PermissionsExt;
use anyhow::Context;
use std::path::Path;

/// A secret text; Debug shows `***`, and there is no Display.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Reads the secret file at `path` as text; warns when it is readable by group or others.
pub fn read(path: &Path, what: &str) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                "{what} {} has mode {:04o}: readable by others than its owner; `chmod 600` it (or hand it over with systemd's LoadCredential)",
                path.display(),
                mode & 0o7777
            );
        }
    }
    Ok(text)
}

/// The first line (trimmed) of the secret that org `org`'s config puts in
/// the environment variable `env` (`(config key, variable)`, looked up with
/// `getenv`) or, without one, in the file `file` (`(config key, path)`).
/// None when the config names neither.
pub fn env_or_file(
    org: &str,
    env: Option<(&str, &str)>,
    file: Option<(&str, &Path)>,
    getenv: impl FnOnce(&str) -> Option<String>,
) -> anyhow::Result<Option<Secret>> {
    let raw = match (env, file) {
        (Some((key, var)), _) => {
            getenv(var).with_context(|| format!("org `{org}`: environment variable {var} ({key}) is not set"))?
        }
        (None, Some((key, path))) => read(path, &format!("org `{org}`: {key}"))
            .with_context(|| format!("org `{org}`: reading {key} {}", path.display()))?,
        (None, None) => return Ok(None),
    };
    Ok(Some(Secret(raw.lines().next().unwrap_or("").trim().to_string())))
}
