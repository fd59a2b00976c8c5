//! The TOML configuration: parsed strictly, then validated as a whole.
//!
//! Unknown keys are rejected by serde; [`Config::validate`] then reports
//! every remaining problem at once, each with its key, so a bad file is
//! fixed in one go. See `oktawatch.example.toml` for every setting.

mod durations;
mod validate;

pub use validate::{MAX_LOCATION, Problems, check_location, check_org_url, is_loopback};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, PartialEq)]
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
#[derive(Debug, Clone, Deserialize, PartialEq)]
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `/metrics` and `/healthz` (loopback by default).
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
    /// `/healthz` turns unhealthy when the source or the sink has been failing this long.
    #[serde(default = "default_unhealthy_after", with = "durations")]
    pub unhealthy_after: Duration,
    /// `/healthz` turns unhealthy when an org's poller has not reached the present this long.
    #[serde(default = "default_unhealthy_lag", with = "durations")]
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
#[derive(Debug, Clone, Deserialize, PartialEq)]
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
    #[serde(default = "default_poll", with = "durations")]
    pub poll_interval: Duration,
    #[serde(default = "default_lookback", with = "durations")]
    pub initial_lookback: Duration,
    /// Share of the org's `/api/v1/logs` rate-limit bucket this client may use.
    #[serde(default = "default_share")]
    pub rate_limit_share: f64,
    /// Okta's rate-limit window (one minute); a server's reset or 429 wait is capped at two of them.
    #[serde(default = "default_rate_window", with = "durations")]
    pub rate_limit_window: Duration,
    /// Events per request (Okta's maximum is 1000).
    #[serde(default = "default_limit")]
    pub page_limit: u32,
    #[serde(default = "default_timeout", with = "durations")]
    pub request_timeout: Duration,
    /// First wait after a failed request (5xx, timeout, bad body); doubles up to `retry_max`.
    #[serde(default = "default_retry_initial", with = "durations")]
    pub retry_initial: Duration,
    #[serde(default = "default_retry_max", with = "durations")]
    pub retry_max: Duration,
    /// Wait after 401/403 before trying again (tokens get rotated).
    #[serde(default = "default_auth_retry", with = "durations")]
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WazuhConfig {
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    #[serde(default = "default_location")]
    pub location: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectionsConfig {
    /// Folder of `*.wasm` detections, watched for changes. None = no detections.
    pub dir: Option<PathBuf>,
    /// Wall-clock limit per detection per event.
    #[serde(default = "default_event_timeout", with = "durations")]
    pub timeout: Duration,
    /// Linear memory limit per detection.
    #[serde(default = "default_memory")]
    pub memory_mb: u64,
    /// Alerts with the same detection and dedup key within this window are sent once.
    #[serde(default = "default_suppression", with = "durations")]
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
