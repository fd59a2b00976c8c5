//! The validation pass: what serde cannot check, every problem reported at
//! once with its key, so that a bad file is fixed in one go.

use super::*;
use std::collections::HashSet;

/// Every problem found in a config, each with its key.
#[derive(Debug)]
pub struct Problems(pub Vec<String>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s) in the configuration:", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}
impl std::error::Error for Problems {}

impl Config {
    /// Checks what serde cannot; lists every problem, section by section.
    pub fn validate(&self) -> Result<(), Problems> {
        let mut p = Vec::new();
        let mut names = HashSet::new();
        for (i, o) in self.okta.iter().enumerate() {
            check_org(&format!("okta[{i}]"), o, &mut names, self.hooks.is_some(), &mut p);
        }
        if let Some(h) = &self.hooks {
            check_hooks(h, &self.okta, &mut p);
        }
        check_wazuh(&self.wazuh, &mut p);
        check_sink(&self.sink, &mut p);
        check_state(&self.state, &mut p);
        check_detections(&self.detections, &mut p);
        if let Some(m) = &self.metrics {
            check_metrics(m, &mut p);
        }
        if p.is_empty() { Ok(()) } else { Err(Problems(p)) }
    }
}

/// One `[[okta]]` org, named `at` in its problems: a unique name, the URL,
/// the authentication ([`check_ssws`] or [`check_oauth`]), polling and rate
/// limits, and a hook secret only with a `[hooks]` section (`hooks`).
fn check_org(at: &str, o: &OktaConfig, names: &mut HashSet<String>, hooks: bool, p: &mut Vec<String>) {
    if o.name.is_empty() || !o.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        p.push(format!("{at}.name: `{}` must be non-empty letters, digits, `-` or `_`", o.name));
    }
    if !names.insert(o.name.clone()) {
        p.push(format!("{at}.name: `{}` is used by another org", o.name));
    }
    if let Err(e) = check_org_url(&o.org_url) {
        p.push(format!("{at}.org_url: {e}"));
    }
    match o.auth {
        AuthKind::Ssws => check_ssws(at, o, p),
        AuthKind::Oauth => check_oauth(at, o, p),
    }
    if o.poll_interval < Duration::from_secs(1) {
        p.push(format!("{at}.poll_interval: at least 1s"));
    }
    if o.initial_lookback > Duration::from_secs(180 * 86_400) {
        p.push(format!("{at}.initial_lookback: Okta keeps 90 days and refuses more than 180 days"));
    }
    if !(o.rate_limit_share > 0.0 && o.rate_limit_share <= 1.0) {
        p.push(format!("{at}.rate_limit_share: between 0 (excluded) and 1, e.g. 0.5"));
    }
    if o.rate_limit_window < Duration::from_secs(1) || o.rate_limit_window > Duration::from_secs(3600) {
        p.push(format!("{at}.rate_limit_window: between 1s and 1h (Okta's is 1m)"));
    }
    if !(1..=1000).contains(&o.page_limit) {
        p.push(format!("{at}.page_limit: between 1 and 1000"));
    }
    if o.hook_secret_env.is_some() && o.hook_secret_file.is_some() {
        p.push(format!("{at}: set only one of hook_secret_env and hook_secret_file"));
    }
    if o.has_hook() && !hooks {
        p.push(format!("{at}: a hook secret is set but there is no [hooks] section to listen for Okta"));
    }
}

/// `auth = "ssws"`: one source for the API token, none of the OAuth keys.
fn check_ssws(at: &str, o: &OktaConfig, p: &mut Vec<String>) {
    match (&o.token_env, &o.token_file) {
        (None, None) => p.push(format!("{at}: set token_env or token_file (the SSWS API token)")),
        (Some(_), Some(_)) => p.push(format!("{at}: set only one of token_env and token_file")),
        _ => {}
    }
    for (key, set) in [
        ("client_id", o.client_id.is_some()),
        ("private_key_file", o.private_key_file.is_some()),
        ("key_id", o.key_id.is_some()),
    ] {
        if set {
            p.push(format!("{at}.{key}: only with auth = \"oauth\""));
        }
    }
}

/// `auth = "oauth"`: no SSWS token; the client ID, the private key and scopes.
fn check_oauth(at: &str, o: &OktaConfig, p: &mut Vec<String>) {
    for (key, set) in [("token_env", o.token_env.is_some()), ("token_file", o.token_file.is_some())] {
        if set {
            p.push(format!("{at}.{key}: not with auth = \"oauth\" (the SSWS token is for auth = \"ssws\")"));
        }
    }
    match &o.client_id {
        None => p.push(format!("{at}.client_id: required with auth = \"oauth\" (the API Services app's client ID)")),
        Some(c) if c.is_empty() || c.chars().any(|c| c.is_control() || c == ' ') => {
            p.push(format!("{at}.client_id: must be non-empty, without spaces"))
        }
        Some(_) => {}
    }
    if o.private_key_file.is_none() {
        p.push(format!("{at}.private_key_file: required with auth = \"oauth\" (PEM or JWK)"));
    }
    if o.key_id.as_ref().is_some_and(|k| k.is_empty()) {
        p.push(format!("{at}.key_id: must not be empty (leave it out instead)"));
    }
    if o.scopes.is_empty() {
        p.push(format!("{at}.scopes: at least one, e.g. [\"okta.logs.read\"]"));
    }
    if o.scopes.iter().any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control())) {
        p.push(format!("{at}.scopes: each scope is one non-empty word"));
    }
}

/// `[hooks]`: the listener's address (loopback unless TLS), TLS files in
/// pairs, the body and queue bounds, and at least one org to accept hooks for.
fn check_hooks(h: &HooksConfig, okta: &[OktaConfig], p: &mut Vec<String>) {
    match h.listen.parse::<std::net::SocketAddr>() {
        Err(_) => p.push(format!("hooks.listen: `{}` is not an address:port such as 0.0.0.0:8443", h.listen)),
        Ok(addr) if !h.tls() && !addr.ip().is_loopback() => p.push(format!(
            "hooks.listen: `{}` is not a loopback address, and plain HTTP is allowed only on loopback \
             (e.g. behind a local TLS proxy): set tls_cert and tls_key for HTTPS",
            h.listen
        )),
        Ok(_) => {}
    }
    if h.tls_cert.is_some() != h.tls_key.is_some() {
        p.push("hooks: set both tls_cert and tls_key (HTTPS), or neither (plain HTTP on loopback)".into());
    }
    if !(1..=65_536).contains(&h.max_body_kb) {
        p.push("hooks.max_body_kb: between 1 and 65536".into());
    }
    if h.queue_batches == 0 {
        p.push("hooks.queue_batches: at least 1".into());
    }
    if !okta.iter().any(OktaConfig::has_hook) {
        p.push("hooks: no [[okta]] org has hook_secret_env or hook_secret_file, so no hook would be accepted".into());
    }
}

/// `[wazuh]`: the location that heads every message.
fn check_wazuh(w: &WazuhConfig, p: &mut Vec<String>) {
    if let Err(e) = check_location(&w.location) {
        p.push(format!("wazuh.location: {e}"));
    }
}

/// `[sink]`: a file sink needs its path.
fn check_sink(s: &SinkConfig, p: &mut Vec<String>) {
    if s.kind == SinkKind::File && s.path.is_none() {
        p.push("sink.path: required when sink.kind = \"file\"".into());
    }
}

/// `[state]`: room for the spool.
fn check_state(s: &StateConfig, p: &mut Vec<String>) {
    if s.spool_max_mb == 0 {
        p.push("state.spool_max_mb: at least 1".into());
    }
}

/// `[detections]`: memory and time per detection.
fn check_detections(d: &DetectionsConfig, p: &mut Vec<String>) {
    if d.memory_mb < 1 || d.memory_mb > 4096 {
        p.push("detections.memory_mb: between 1 and 4096".into());
    }
    if d.timeout < Duration::from_millis(1) {
        p.push("detections.timeout: at least 1ms".into());
    }
}

/// `[metrics]`: the listener's address.
fn check_metrics(m: &MetricsConfig, p: &mut Vec<String>) {
    if m.listen.parse::<std::net::SocketAddr>().is_err() {
        p.push(format!("metrics.listen: `{}` is not an address:port such as 127.0.0.1:9464", m.listen));
    }
}

/// Longest `wazuh.location`, in bytes. It heads every datagram (`1:<location>:`,
/// `:` and `|` escaped, so up to twice as long), and a datagram holds at most
/// 65,535 bytes: 256 leaves the JSON body more than 65,000 of them.
pub const MAX_LOCATION: usize = 256;

/// A Wazuh location: one line of printable text, non-empty, at most [`MAX_LOCATION`] bytes.
pub fn check_location(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > MAX_LOCATION {
        let head: String = s.chars().take(32).flat_map(char::escape_debug).collect();
        return Err(format!(
            "`{head}…` is {} bytes, at most {MAX_LOCATION} (it heads every message, and a Wazuh datagram holds 65535 bytes)",
            s.len()
        ));
    }
    if let Some((at, c)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "`{}` has the control character U+{:04X} at byte {at}; Wazuh takes one line of printable text              (no newline, tab or NUL: it would split or cut the message)",
            s.escape_debug(),
            c as u32
        ));
    }
    Ok(())
}

/// An org URL: https, or http on a loopback address only.
pub fn check_org_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    match u.scheme() {
        "https" => {}
        "http" if is_loopback(&u) => {}
        "http" => return Err(format!("`{s}`: http is allowed only for loopback addresses; use https")),
        other => return Err(format!("`{s}`: scheme `{other}` is not https")),
    }
    if u.host_str().is_none() {
        return Err(format!("`{s}` has no host"));
    }
    if u.path() != "/" && !u.path().is_empty() {
        return Err(format!("`{s}`: give the org URL only, without a path"));
    }
    Ok(u)
}

pub fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}
