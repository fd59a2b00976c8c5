//! The TOML configuration: parsed strictly, then validated as a whole.
//!
//! Unknown keys are rejected by serde; [`Config::validate`] then reports
//! every remaining problem at once, each with its key, so a bad file is
//! fixed in one go. See `oktawatch.example.toml` for every setting.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub okta: Vec<OktaConfig>,
    #[serde(default)]
    pub wazuh: WazuhConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub detections: DetectionsConfig,
    #[serde(default)]
    pub sink: SinkConfig,
    /// Prometheus metrics and /healthz; off unless the section is present.
    pub metrics: Option<MetricsConfig>,
    /// The Okta event hook listener; off unless the section is present.
    pub hooks: Option<HooksConfig>,
}

/// Okta event hooks: Okta pushes events to `POST /hooks/okta/<org name>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HooksConfig {
    /// Address:port to listen on. Plain HTTP (no TLS files) only on a loopback address.
    pub listen: String,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted (Okta sends at most 50 events a request).
    #[serde(default = "default_max_body_kb")]
    pub max_body_kb: u64,
    /// Batches waiting per org before requests are refused with 503 (Okta retries them).
    #[serde(default = "default_queue_batches")]
    pub queue_batches: usize,
}

impl HooksConfig {
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

fn default_max_body_kb() -> u64 {
    1024
}
fn default_queue_batches() -> usize {
    64
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `/metrics` and `/healthz` (loopback by default).
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
    /// `/healthz` turns unhealthy when the source or the sink has been failing this long.
    #[serde(default = "default_unhealthy_after", with = "humantime_serde_opt")]
    pub unhealthy_after: Duration,
    /// `/healthz` turns unhealthy when an org's poller has not reached the present this long.
    #[serde(default = "default_unhealthy_lag", with = "humantime_serde_opt")]
    pub unhealthy_lag: Duration,
}

fn default_unhealthy_lag() -> Duration {
    Duration::from_secs(1800)
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
}
fn default_unhealthy_after() -> Duration {
    Duration::from_secs(120)
}

/// One Okta org to collect from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaConfig {
    /// Names the org in state paths and in what is sent to Wazuh.
    pub name: String,
    /// `https://example.okta.com` (http only for loopback addresses).
    pub org_url: String,
    /// How to authenticate: an SSWS API token (default) or an OAuth 2.0 service app.
    #[serde(default)]
    pub auth: AuthKind,
    /// Environment variable holding the SSWS API token.
    pub token_env: Option<String>,
    /// File holding the SSWS API token (first line).
    pub token_file: Option<PathBuf>,
    /// OAuth: the API Services app's client ID.
    pub client_id: Option<String>,
    /// OAuth: the app's private key (PEM: PKCS#8, PKCS#1 or SEC1; or a JWK JSON file), RSA or EC P-256.
    pub private_key_file: Option<PathBuf>,
    /// OAuth: the key's ID (`kid` in the client assertion), as shown in the app; a JWK's own `kid` otherwise.
    pub key_id: Option<String>,
    /// OAuth: scopes to request.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// OAuth: bind tokens with DPoP (RFC 9449); a plain Bearer answer is used as it comes.
    #[serde(default = "default_true")]
    pub dpop: bool,
    #[serde(default = "default_poll", with = "humantime_serde_opt")]
    pub poll_interval: Duration,
    #[serde(default = "default_lookback", with = "humantime_serde_opt")]
    pub initial_lookback: Duration,
    /// Share of the org's `/api/v1/logs` rate-limit bucket this client may use.
    #[serde(default = "default_share")]
    pub rate_limit_share: f64,
    /// Okta's rate-limit window (one minute); a server's reset or 429 wait is capped at two of them.
    #[serde(default = "default_rate_window", with = "humantime_serde_opt")]
    pub rate_limit_window: Duration,
    /// Events per request (Okta's maximum is 1000).
    #[serde(default = "default_limit")]
    pub page_limit: u32,
    #[serde(default = "default_timeout", with = "humantime_serde_opt")]
    pub request_timeout: Duration,
    /// First wait after a failed request (5xx, timeout, bad body); doubles up to `retry_max`.
    #[serde(default = "default_retry_initial", with = "humantime_serde_opt")]
    pub retry_initial: Duration,
    #[serde(default = "default_retry_max", with = "humantime_serde_opt")]
    pub retry_max: Duration,
    /// Wait after 401/403 before trying again (tokens get rotated).
    #[serde(default = "default_auth_retry", with = "humantime_serde_opt")]
    pub auth_retry: Duration,
    /// Environment variable holding the event hook's shared secret (the `Authorization` value Okta sends).
    pub hook_secret_env: Option<String>,
    /// File holding the event hook's shared secret (first line).
    pub hook_secret_file: Option<PathBuf>,
}

impl OktaConfig {
    /// An org polled with an SSWS token and every other setting at its default
    /// (as a config naming only `name` and `org_url` would give).
    pub fn new(name: &str, org_url: &str) -> OktaConfig {
        OktaConfig {
            name: name.into(),
            org_url: org_url.into(),
            auth: AuthKind::default(),
            token_env: None,
            token_file: None,
            client_id: None,
            private_key_file: None,
            key_id: None,
            scopes: default_scopes(),
            dpop: default_true(),
            poll_interval: default_poll(),
            initial_lookback: default_lookback(),
            rate_limit_share: default_share(),
            rate_limit_window: default_rate_window(),
            page_limit: default_limit(),
            request_timeout: default_timeout(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            auth_retry: default_auth_retry(),
            hook_secret_env: None,
            hook_secret_file: None,
        }
    }

    /// True when this org takes event hooks.
    pub fn has_hook(&self) -> bool {
        self.hook_secret_env.is_some() || self.hook_secret_file.is_some()
    }
}

/// How an org is authenticated.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// `Authorization: SSWS <API token>`.
    #[default]
    Ssws,
    /// OAuth 2.0 client credentials with `private_key_jwt`, optionally DPoP-bound.
    Oauth,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WazuhConfig {
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    #[serde(default = "default_location")]
    pub location: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    #[serde(default = "default_state_dir")]
    pub dir: PathBuf,
    /// Most bytes the spool may hold unsent before the source is held back.
    #[serde(default = "default_spool_max")]
    pub spool_max_mb: u64,
    /// fsync the spool after each page (off: a power loss may repeat or lose the last pages).
    #[serde(default = "default_true")]
    pub fsync: bool,
    /// Recently delivered event ids remembered per org.
    #[serde(default = "default_dedup")]
    pub dedup_max: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionsConfig {
    /// Folder of `*.wasm` detections, watched for changes. None = no detections.
    pub dir: Option<PathBuf>,
    /// Wall-clock limit per detection per event.
    #[serde(default = "default_event_timeout", with = "humantime_serde_opt")]
    pub timeout: Duration,
    /// Linear memory limit per detection.
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// Alerts with the same detection and dedup key within this window are sent once.
    #[serde(default = "default_suppression", with = "humantime_serde_opt")]
    pub suppression: Duration,
    /// State entries per detection.
    #[serde(default = "default_state_keys")]
    pub state_max_keys: usize,
    /// State bytes per detection.
    #[serde(default = "default_state_bytes")]
    pub state_max_kb: u64,
    /// Per-detection settings, passed to the detection's `configure` as TOML.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Table>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    #[serde(default)]
    pub kind: SinkKind,
    /// For `kind = "file"`: NDJSON appended here.
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    #[default]
    Wazuh,
    Stdout,
    File,
}

fn default_poll() -> Duration {
    Duration::from_secs(5)
}
fn default_lookback() -> Duration {
    Duration::from_secs(3600)
}
fn default_share() -> f64 {
    0.5
}
fn default_rate_window() -> Duration {
    Duration::from_secs(60)
}
fn default_limit() -> u32 {
    1000
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_retry_initial() -> Duration {
    Duration::from_secs(1)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(60)
}
fn default_auth_retry() -> Duration {
    Duration::from_secs(60)
}
fn default_scopes() -> Vec<String> {
    vec!["okta.logs.read".into()]
}
fn default_socket() -> PathBuf {
    PathBuf::from("/var/ossec/queue/sockets/queue")
}
fn default_location() -> String {
    "oktawatch".into()
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/oktawatch")
}
fn default_spool_max() -> u64 {
    1024
}
fn default_true() -> bool {
    true
}
fn default_dedup() -> usize {
    100_000
}
fn default_event_timeout() -> Duration {
    Duration::from_millis(10)
}
fn default_memory() -> u64 {
    32
}
fn default_suppression() -> Duration {
    Duration::from_secs(3600)
}
fn default_state_keys() -> usize {
    100_000
}
fn default_state_bytes() -> u64 {
    4 * 1024
}

impl Default for WazuhConfig {
    fn default() -> Self {
        WazuhConfig { socket: default_socket(), location: default_location() }
    }
}
impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: default_state_dir(),
            spool_max_mb: default_spool_max(),
            fsync: true,
            dedup_max: default_dedup(),
        }
    }
}
impl Default for DetectionsConfig {
    fn default() -> Self {
        DetectionsConfig {
            dir: None,
            timeout: default_event_timeout(),
            memory_mb: default_memory(),
            suppression: default_suppression(),
            state_max_keys: default_state_keys(),
            state_max_kb: default_state_bytes(),
            config: BTreeMap::new(),
        }
    }
}
impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig { kind: SinkKind::Wazuh, path: None }
    }
}

/// Durations as `"5s"`, `"1h"`, `"250ms"` (humantime).
mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
    }
}

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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("{path}: {problems}")]
    Invalid { path: PathBuf, problems: Problems },
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let config = Self::parse(&text).map_err(|source| ConfigError::Parse { path: path.into(), source })?;
        config.validate().map_err(|problems| ConfigError::Invalid { path: path.into(), problems })?;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, Box<toml::de::Error>> {
        toml::from_str(text).map_err(Box::new)
    }

    /// Checks what serde cannot; lists every problem.
    pub fn validate(&self) -> Result<(), Problems> {
        let mut p = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, o) in self.okta.iter().enumerate() {
            let at = format!("okta[{i}]");
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
                AuthKind::Ssws => {
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
                AuthKind::Oauth => {
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
            if o.has_hook() && self.hooks.is_none() {
                p.push(format!("{at}: a hook secret is set but there is no [hooks] section to listen for Okta"));
            }
        }
        if let Some(h) = &self.hooks {
            check_hooks(h, &mut p);
            if !self.okta.iter().any(OktaConfig::has_hook) {
                p.push("hooks: no [[okta]] org has hook_secret_env or hook_secret_file, so no hook would be accepted".into());
            }
        }
        if let Err(e) = check_location(&self.wazuh.location) {
            p.push(format!("wazuh.location: {e}"));
        }
        if self.sink.kind == SinkKind::File && self.sink.path.is_none() {
            p.push("sink.path: required when sink.kind = \"file\"".into());
        }
        if self.state.spool_max_mb == 0 {
            p.push("state.spool_max_mb: at least 1".into());
        }
        if self.detections.memory_mb < 1 || self.detections.memory_mb > 4096 {
            p.push("detections.memory_mb: between 1 and 4096".into());
        }
        if self.detections.timeout < Duration::from_millis(1) {
            p.push("detections.timeout: at least 1ms".into());
        }
        if let Some(m) = &self.metrics
            && m.listen.parse::<std::net::SocketAddr>().is_err() {
                p.push(format!("metrics.listen: `{}` is not an address:port such as 127.0.0.1:9464", m.listen));
            }
        if p.is_empty() { Ok(()) } else { Err(Problems(p)) }
    }
}

fn check_hooks(h: &HooksConfig, p: &mut Vec<String>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed() {
        let c = Config::parse(
            r#"
            [[okta]]
            name = "bad name"
            org_url = "http://example.okta.com"
            rate_limit_share = 2.0
            [sink]
            kind = "file"
            "#,
        )
        .unwrap();
        let e = c.validate().unwrap_err();
        let text = e.to_string();
        assert_eq!(e.0.len(), 5, "{text}");
        for key in ["okta[0].name", "okta[0].org_url", "token_env or token_file", "rate_limit_share", "sink.path"] {
            assert!(text.contains(key), "{key} missing in {text}");
        }
    }

    #[test]
    fn oauth_problems_are_listed() {
        let c = Config::parse(
            r#"
            [[okta]]
            name = "a"
            org_url = "https://a.okta.com"
            auth = "oauth"
            token_env = "T"
            scopes = []
            [[okta]]
            name = "b"
            org_url = "https://b.okta.com"
            token_env = "T"
            client_id = "0oa1"
            "#,
        )
        .unwrap();
        let e = c.validate().unwrap_err();
        let text = e.to_string();
        for key in [
            "okta[0].token_env: not with auth = \"oauth\"",
            "okta[0].client_id: required",
            "okta[0].private_key_file: required",
            "okta[0].scopes: at least one",
            "okta[1].client_id: only with auth = \"oauth\"",
        ] {
            assert!(text.contains(key), "{key} missing in {text}");
        }
        assert_eq!(e.0.len(), 5, "{text}");
        let ok = Config::parse(
            "[[okta]]\nname='p'\norg_url='https://x.okta.com'\nauth='oauth'\nclient_id='0oa1'\nprivate_key_file='/k.pem'\n",
        )
        .unwrap();
        ok.validate().unwrap();
        assert_eq!(ok.okta[0].scopes, ["okta.logs.read"]);
        assert!(ok.okta[0].dpop);
    }

    #[test]
    fn wazuh_location_is_one_short_printable_line() {
        let org = "[[okta]]\nname='p'\norg_url='https://x.okta.com'\ntoken_env='T'\n";
        for (location, why) in [
            (r#""okta\nprod""#, "U+000A at byte 4"),
            (r#""okta\u0000""#, "U+0000 at byte 4"),
            (r#""a\tb""#, "U+0009 at byte 1"),
            (r#""\u001b[31mred""#, "U+001B at byte 0"),
            (r#""caf\u00e9\u0085""#, "U+0085 at byte 5"),
            ("''", "must not be empty"),
            (&format!("'{}'", "x".repeat(MAX_LOCATION + 1)), "257 bytes, at most 256"),
        ] {
            let c = Config::parse(&format!("{org}[wazuh]\nlocation = {location}\n[state]\nspool_max_mb = 0\n")).unwrap();
            let e = c.validate().unwrap_err();
            let text = e.to_string();
            assert_eq!(e.0.len(), 2, "{text}");
            assert!(e.0[0].starts_with("wazuh.location: ") && e.0[0].contains(why), "{location}: {text}");
            assert!(e.0[1].starts_with("state.spool_max_mb"), "every problem at once: {text}");
            assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "no control character echoed: {text:?}");
            assert_eq!(text.lines().count(), 3, "the location's own newline is not echoed: {text}");
        }
        for ok in ["oktawatch", "okta:prod|eu", "Zürich okta", &"x".repeat(MAX_LOCATION)] {
            let c = Config::parse(&format!("{org}[wazuh]\nlocation = '{ok}'\n")).unwrap();
            c.validate().unwrap();
            let env = crate::pipeline::envelope::Envelope::new("p", &c.wazuh.location);
            assert!(env.max_body() > 65_000, "{ok}: {}", env.max_body());
        }
        let worst = ":".repeat(MAX_LOCATION);
        assert!(crate::pipeline::envelope::Envelope::new("p", &worst).max_body() > 65_000, "escaped to twice its length, still room");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Config::parse("[wazuh]\nsockett = \"/x\"\n").unwrap_err();
        assert!(e.to_string().contains("sockett"), "{e}");
    }

    #[test]
    fn durations_and_defaults() {
        let c = Config::parse(
            "[[okta]]\nname='p'\norg_url='https://x.okta.com'\ntoken_env='T'\npoll_interval='2s'\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.okta[0].poll_interval, Duration::from_secs(2));
        assert_eq!(c.okta[0].initial_lookback, Duration::from_secs(3600));
        assert_eq!(c.wazuh.socket, PathBuf::from("/var/ossec/queue/sockets/queue"));
        assert!(check_org_url("http://127.0.0.1:8080").is_ok());
    }

    #[test]
    fn hooks_are_checked() {
        let org = "[[okta]]\nname='p'\norg_url='https://x.okta.com'\ntoken_env='T'\n";
        let ok = Config::parse(&format!("{org}hook_secret_env='S'\n[hooks]\nlisten='127.0.0.1:8080'\n")).unwrap();
        ok.validate().unwrap();
        assert_eq!(ok.hooks.as_ref().unwrap().max_body_kb, 1024);
        let plain = Config::parse(&format!("{org}hook_secret_env='S'\n[hooks]\nlisten='0.0.0.0:8443'\n")).unwrap();
        let text = plain.validate().unwrap_err().to_string();
        assert!(text.contains("hooks.listen") && text.contains("loopback"), "{text}");
        let tls = Config::parse(&format!(
            "{org}hook_secret_file='/s'\n[hooks]\nlisten='0.0.0.0:8443'\ntls_cert='/c.pem'\ntls_key='/k.pem'\n"
        ))
        .unwrap();
        tls.validate().unwrap();
        let half = Config::parse(&format!(
            "{org}hook_secret_env='S'\nhook_secret_file='/s'\n[hooks]\nlisten='[::1]:1'\ntls_cert='/c.pem'\n"
        ))
        .unwrap();
        let e = half.validate().unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
        let orphan = Config::parse(&format!("{org}hook_secret_env='S'\n")).unwrap();
        assert!(orphan.validate().unwrap_err().to_string().contains("no [hooks] section"));
        let unused = Config::parse(&format!("{org}[hooks]\nlisten='127.0.0.1:1'\n")).unwrap();
        assert!(unused.validate().unwrap_err().to_string().contains("no [[okta]] org has hook_secret"));
    }
}
