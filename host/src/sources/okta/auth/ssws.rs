//! SSWS API tokens: read from an environment variable (taken out of the
//! environment at start) or a file; never shown.

use crate::config::{AuthKind, OktaConfig};
use crate::secret::Secret;
use anyhow::bail;
use reqwest::header::HeaderValue;
use std::sync::Mutex;

/// SSWS tokens taken out of the environment at start: (variable, value).
static TAKEN_TOKENS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Reads the `token_env` variable of every SSWS org and removes it from the
/// process environment, so that it is not inherited or readable in
/// `/proc/<pid>/environ`. Call it before any thread is started (before the
/// tokio runtime is built): changing the environment is only sound then.
pub fn take_env_tokens(orgs: &[OktaConfig]) {
    let mut taken = TAKEN_TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    for var in orgs.iter().filter(|o| o.auth == AuthKind::Ssws).filter_map(|o| o.token_env.as_deref()) {
        if let Ok(value) = std::env::var(var) {
            taken.push((var.to_string(), value));
            scrub_env(var);
        }
    }
}

/// Overwrites the value of `var` where the process's environment keeps it
/// (for the initial environment, the memory `/proc/<pid>/environ` shows),
/// then removes the variable.
fn scrub_env(var: &str) {
    let Ok(name) = std::ffi::CString::new(var) else { return };
    // SAFETY: no other thread runs yet (see `take_env_tokens`), so nothing reads or
    // changes the environment meanwhile; `getenv` gives the NUL-terminated value in
    // place, and exactly its `strlen` bytes are overwritten.
    unsafe {
        let value = libc::getenv(name.as_ptr());
        if !value.is_null() {
            std::ptr::write_bytes(value, b'x', libc::strlen(value));
        }
        std::env::remove_var(var);
    }
}

fn env_token(var: &str) -> Option<String> {
    let taken = TAKEN_TOKENS.lock().unwrap_or_else(|e| e.into_inner());
    taken.iter().find(|(v, _)| v == var).map(|(_, t)| t.clone()).or_else(|| std::env::var(var).ok())
}

/// The API token; its Debug never shows it.
#[derive(Clone, Debug)]
pub struct Token(Secret);

impl Token {
    /// Reads the token as the config says: from an environment variable or a file.
    pub fn load(cfg: &OktaConfig) -> anyhow::Result<Token> {
        let env = cfg.token_env.as_deref().map(|var| ("token_env", var));
        let file = cfg.token_file.as_deref().map(|path| ("token_file", path));
        let Some(t) = crate::secret::env_or_file(&cfg.name, env, file, env_token)? else {
            bail!("org `{}`: no token_env or token_file", cfg.name)
        };
        let t = t.expose();
        if t.is_empty() {
            bail!("org `{}`: the API token is empty", cfg.name);
        }
        if t.chars().any(|c| c.is_control() || c == ' ') {
            bail!("org `{}`: the API token has spaces or control characters", cfg.name);
        }
        Ok(Token(Secret::new(t)))
    }

    pub(crate) fn header(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(&format!("SSWS {}", self.0.expose())).expect("checked characters");
        v.set_sensitive(true);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_never_shown() {
        let t = Token(Secret::new("00abcSECRET"));
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!(!format!("{t:?}").contains("SECRET"));
    }
}
