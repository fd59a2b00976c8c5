//! Reading a secret from a file (an API token, a private key, a hook secret).
//!
//! One place so that every secret file gets the same treatment: read whole,
//! and a warning (naming the file, never its content) when its mode lets the
//! group or others read it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
