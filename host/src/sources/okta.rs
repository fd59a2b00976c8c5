//! The Okta System Log poller (`GET /api/v1/logs`), following Okta's polling model.
//!
//! - The first request is `since=<start>&limit=N` (ascending, no `until`);
//!   after that only the `Link: rel="next"` URL is followed. No `after`
//!   cursor is ever crafted, and pages are never cut by `published` (Okta
//!   orders polling results by persistence time, so that would lose late
//!   events).
//! - A `next` URL on another scheme, host or port than the org is refused:
//!   a tampered Link header must not carry the token elsewhere.
//! - Rate limits: `X-Rate-Limit-*` headers are read on every answer; this
//!   client keeps its own use under a share of the bucket, sends nothing
//!   during a 429 until the reset (plus jitter, at least 1 s).
//! - 5xx, timeouts, connection errors and non-JSON bodies are retried with
//!   capped exponential backoff; 401/403 are reported with Okta's
//!   `errorCode`/`errorSummary` and retried slowly (tokens get rotated: a
//!   `token_file` is read again before each retry).
//! - The token is never logged, printed or put in an error message.
//! - With `auth = "oauth"` the requests carry an OAuth access token instead
//!   (see [`super::oauth`]): got before the first request, renewed before it
//!   runs out, dropped and fetched again once after a 401; a DPoP nonce asked
//!   for by the API is sent on one retry.

use super::oauth::{OAuth, TokenError};
use crate::config::{AuthKind, OktaConfig};
use crate::stats::Stats;
use anyhow::{Context, bail};
use rand::RngExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use url::Url;

/// The API token; its Debug and Display never show it.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// Reads the token as the config says: from an environment variable or a file.
    pub fn load(cfg: &OktaConfig) -> anyhow::Result<Token> {
        let raw = match (&cfg.token_env, &cfg.token_file) {
            (Some(var), _) => std::env::var(var)
                .with_context(|| format!("org `{}`: environment variable {var} (token_env) is not set", cfg.name))?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("org `{}`: reading token_file {}", cfg.name, path.display()))?,
            (None, None) => bail!("org `{}`: no token_env or token_file", cfg.name),
        };
        let t = raw.lines().next().unwrap_or("").trim().to_string();
        if t.is_empty() {
            bail!("org `{}`: the API token is empty", cfg.name);
        }
        if t.chars().any(|c| c.is_control() || c == ' ') {
            bail!("org `{}`: the API token has spaces or control characters", cfg.name);
        }
        Ok(Token(t))
    }

    fn header(&self) -> HeaderValue {
        let mut v = HeaderValue::from_str(&format!("SSWS {}", self.0)).expect("checked characters");
        v.set_sensitive(true);
        v
    }
}

/// One page as Okta returned it.
pub struct Fetched {
    /// The events' JSON texts, in the order Okta sent them.
    pub events: Vec<Box<RawValue>>,
    /// Where to go next (Okta always sends one while polling).
    pub next: Url,
}

impl Fetched {
    /// The page's events, parsed once (see [`parse_events`]).
    pub fn parse_events(&self, org: &str, stats: &Stats) -> Vec<crate::event::Event> {
        parse_events(&self.events, "a page", org, stats)
    }
}

/// Events from their JSON texts (a polled page, or an event hook's
/// `data.events`), parsed once. An element that is not a JSON object is
/// counted as invalid and logged with its position, never dropped silently.
pub fn parse_events(raws: &[Box<RawValue>], from: &str, org: &str, stats: &Stats) -> Vec<crate::event::Event> {
    let mut events = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().enumerate() {
        match crate::event::Event::parse(raw.get()) {
            Ok(e) => events.push(e),
            Err(e) => {
                stats.invalid.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let text = raw.get();
                let mut end = text.len().min(200);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                tracing::error!(org, "element {i} of {from} is not an event ({e}); skipped: {}", &text[..end]);
            }
        }
    }
    events
}

/// Shutdown signal shared by the async tasks.
pub type Shutdown = watch::Receiver<bool>;

/// Sleeps, unless shutdown comes first. True when it slept the whole time.
pub async fn sleep_or_shutdown(d: Duration, shutdown: &mut Shutdown) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = shutdown.changed() => false,
    }
}

#[derive(Debug, Default, Clone)]
struct RateWindow {
    limit: Option<u64>,
    remaining: Option<u64>,
    /// Epoch seconds when the bucket refills.
    reset: Option<u64>,
    /// Our requests since that window started.
    used: u64,
}

/// How requests are authorized.
#[derive(Debug)]
enum Auth {
    Ssws(Token),
    OAuth(Box<OAuth>),
}

pub struct OktaSource {
    cfg: OktaConfig,
    org: Url,
    http: reqwest::Client,
    auth: Auth,
    rate: RateWindow,
    stats: Arc<Stats>,
    retry_initial: Duration,
    retry_max: Duration,
    auth_retry: Duration,
}

/// Seconds since the Unix epoch.
pub(crate) fn now_epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl OktaSource {
    pub fn new(cfg: OktaConfig, stats: Arc<Stats>) -> anyhow::Result<OktaSource> {
        let org = crate::config::check_org_url(&cfg.org_url).map_err(|e| anyhow::anyhow!("org `{}`: {e}", cfg.name))?;
        let auth = match cfg.auth {
            AuthKind::Ssws => Auth::Ssws(Token::load(&cfg)?),
            AuthKind::Oauth => Auth::OAuth(Box::new(OAuth::new(&cfg, &org)?)),
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("oktawatch/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client")?;
        Ok(OktaSource {
            retry_initial: cfg.retry_initial,
            retry_max: cfg.retry_max,
            auth_retry: cfg.auth_retry,
            cfg,
            org,
            http,
            auth,
            rate: RateWindow::default(),
            stats,
        })
    }

    /// The cold-start request: events since `now - initial_lookback`.
    pub fn first_url(&self, since: chrono::DateTime<chrono::Utc>) -> Url {
        let mut u = self.org.join("/api/v1/logs").expect("a valid path");
        u.query_pairs_mut()
            .append_pair("since", &since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .append_pair("limit", &self.cfg.page_limit.to_string());
        u
    }

    /// A bounded request (backfill): `since`..`until`, not the polling model.
    pub fn bounded_url(&self, since: chrono::DateTime<chrono::Utc>, until: chrono::DateTime<chrono::Utc>) -> Url {
        let mut u = self.first_url(since);
        u.query_pairs_mut().append_pair("until", &until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        u
    }

    pub fn initial_lookback(&self) -> Duration {
        self.cfg.initial_lookback
    }

    pub fn page_limit(&self) -> usize {
        self.cfg.page_limit as usize
    }

    /// Checks that a URL stays on the org (scheme, host and port).
    pub fn check_same_origin(&self, u: &Url) -> anyhow::Result<()> {
        if u.scheme() != self.org.scheme()
            || u.host_str() != self.org.host_str()
            || u.port_or_known_default() != self.org.port_or_known_default()
        {
            bail!(
                "refusing a next link to {}://{}: it is not the org {} (tampered Link header?)",
                u.scheme(),
                u.host_str().unwrap_or("?"),
                self.org
            );
        }
        Ok(())
    }

    /// Fetches `url`, retrying until it succeeds; None on shutdown.
    pub async fn fetch(&mut self, url: &Url, shutdown: &mut Shutdown) -> Option<Fetched> {
        let mut backoff = self.retry_initial;
        loop {
            self.pace(shutdown).await?;
            let attempt = tokio::select! {
                r = self.try_fetch(url) => r,
                _ = shutdown.changed() => return None,
            };
            Stats::set_failing(&self.stats.source_failing_since_ms, attempt.is_err());
            let wait = match attempt {
                Ok(page) => return Some(page),
                Err(Failure::RateLimited(wait)) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(org = %self.cfg.name, "Okta rate limit reached (429): waiting {:.1?} for the reset", wait);
                    wait
                }
                Err(Failure::Auth(msg)) => {
                    self.stats.source_errors.fetch_add(1, Ordering::Relaxed);
                    let wait = self.auth_retry;
                    match &mut self.auth {
                        Auth::Ssws(token) => {
                            tracing::error!(org = %self.cfg.name, "{msg}; retrying in {wait:.0?} (fix the token; a token_file is read again)");
                            if self.cfg.token_file.is_some() {
                                match Token::load(&self.cfg) {
                                    Ok(t) => *token = t,
                                    Err(e) => tracing::error!(org = %self.cfg.name, "{e:#}"),
                                }
                            }
                        }
                        Auth::OAuth(oauth) => {
                            tracing::error!(org = %self.cfg.name, "{msg}; retrying in {wait:.0?} (fix the app or the key; private_key_file is read again)");
                            oauth.forget_token();
                            if let Err(e) = oauth.reload_key() {
                                tracing::error!(org = %self.cfg.name, "{e}");
                            }
                        }
                    }
                    wait
                }
                Err(Failure::Retry(msg)) => {
                    self.stats.source_errors.fetch_add(1, Ordering::Relaxed);
                    let wait = jitter(backoff);
                    tracing::warn!(org = %self.cfg.name, "{msg}; retrying in {wait:.1?}");
                    backoff = (backoff * 2).min(self.retry_max);
                    wait
                }
            };
            if !sleep_or_shutdown(wait, shutdown).await {
                return None;
            }
        }
    }

    /// One request for the newest minute, for `oktawatch check`.
    pub async fn probe(&mut self) -> anyhow::Result<String> {
        let mut u = self.org.join("/api/v1/logs").expect("a valid path");
        let since = chrono::Utc::now() - chrono::Duration::minutes(1);
        u.query_pairs_mut()
            .append_pair("since", &since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .append_pair("limit", "1");
        match self.try_fetch(&u).await {
            Ok(page) => Ok(format!(
                "reached Okta's System Log{} ({} event(s) in the last minute; rate limit {} of {} left)",
                match &self.auth {
                    Auth::Ssws(_) => " with the API token".to_string(),
                    Auth::OAuth(o) => format!(" as {}", o.describe()),
                },
                page.events.len(),
                self.rate.remaining.map(|r| r.to_string()).unwrap_or("?".into()),
                self.rate.limit.map(|r| r.to_string()).unwrap_or("?".into()),
            )),
            Err(Failure::RateLimited(w)) => Err(anyhow::anyhow!("rate limited (429) for {w:.0?}")),
            Err(Failure::Auth(m)) | Err(Failure::Retry(m)) => Err(anyhow::anyhow!(m)),
        }
    }

    /// Waits while this client has used its share of the current window.
    async fn pace(&mut self, shutdown: &mut Shutdown) -> Option<()> {
        let (Some(limit), Some(reset)) = (self.rate.limit, self.rate.reset) else { return Some(()) };
        let now = now_epoch();
        if now >= reset {
            self.rate.used = 0;
            return Some(());
        }
        let share = ((limit as f64) * self.cfg.rate_limit_share).floor().max(1.0) as u64;
        let exhausted = self.rate.remaining == Some(0);
        if self.rate.used >= share || exhausted {
            let wait = jitter(Duration::from_secs(reset - now)).max(Duration::from_secs(1));
            tracing::info!(
                org = %self.cfg.name,
                "used {} of this client's {} requests in the rate-limit window (limit {limit}); waiting {wait:.1?}",
                self.rate.used, share
            );
            if !sleep_or_shutdown(wait, shutdown).await {
                return None;
            }
            self.rate.used = 0;
        }
        Some(())
    }

    fn read_rate(&mut self, h: &HeaderMap) {
        let num = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).and_then(|s| s.trim().parse::<u64>().ok());
        let reset = num("x-rate-limit-reset");
        if reset.is_some() && reset != self.rate.reset {
            // A new window: count our use afresh (this request included).
            self.rate.used = 1;
        }
        self.rate.limit = num("x-rate-limit-limit").or(self.rate.limit);
        self.rate.remaining = num("x-rate-limit-remaining");
        if let Some(r) = self.rate.remaining {
            self.stats.rate_remaining.store(r, std::sync::atomic::Ordering::Relaxed);
        }
        self.rate.reset = reset.or(self.rate.reset);
    }

    /// The authorization headers for a GET of `url` (OAuth: getting a token first if needed).
    async fn auth_headers(&mut self, url: &Url) -> Result<Vec<(HeaderName, HeaderValue)>, Failure> {
        match &mut self.auth {
            Auth::Ssws(t) => Ok(vec![(AUTHORIZATION, t.header())]),
            Auth::OAuth(o) => {
                let token_failure = |e: TokenError| match e {
                    TokenError::Refused { .. } => Failure::Auth(e.to_string()),
                    TokenError::Unavailable(m) => Failure::Retry(m),
                };
                o.ensure_token(&self.http).await.map_err(token_failure)?;
                o.headers("GET", url).map_err(token_failure)
            }
        }
    }

    async fn try_fetch(&mut self, url: &Url) -> Result<Fetched, Failure> {
        // OAuth: one retry with a new DPoP nonce, one with a new token after a 401.
        let (mut nonce_retried, mut renewed) = (false, false);
        let (status, next, body) = loop {
            let auth = self.auth_headers(url).await?;
            self.rate.used += 1;
            let mut req = self.http.get(url.clone()).header(ACCEPT, "application/json");
            for (name, value) in auth {
                req = req.header(name, value);
            }
            let resp = req.send().await.map_err(|e| {
                self.stats.count_request(0);
                Failure::Retry(format!("request to {} failed: {}", redact(url), describe_reqwest(&e)))
            })?;
            let status = resp.status();
            self.stats.count_request(status.as_u16());
            self.read_rate(resp.headers());
            let next = link_next(resp.headers());
            let asks_nonce = match &mut self.auth {
                Auth::OAuth(o) => o.note_api_answer(status.as_u16(), resp.headers()),
                Auth::Ssws(_) => false,
            };
            let body = resp
                .bytes()
                .await
                .map_err(|e| Failure::Retry(format!("reading the answer from {}: {}", redact(url), describe_reqwest(&e))))?;
            if let (401, Auth::OAuth(o)) = (status.as_u16(), &mut self.auth) {
                if asks_nonce && !nonce_retried {
                    tracing::info!(org = %self.cfg.name, "Okta asked for a DPoP nonce (use_dpop_nonce); retrying with it");
                    nonce_retried = true;
                    continue;
                }
                if !renewed {
                    tracing::warn!(org = %self.cfg.name, "Okta refused the access token (401: {}); getting a new one", okta_error(&body));
                    o.forget_token();
                    renewed = true;
                    continue;
                }
            }
            break (status, next, body);
        };
        if status.as_u16() == 429 {
            let reset = self.rate.reset.unwrap_or(0);
            let secs = reset.saturating_sub(now_epoch());
            return Err(Failure::RateLimited(jitter(Duration::from_secs(secs)).max(Duration::from_secs(1))));
        }
        if status.as_u16() == 401 || status.as_u16() == 403 {
            return Err(Failure::Auth(format!("Okta refused the token ({status}): {}", okta_error(&body))));
        }
        if !status.is_success() {
            return Err(Failure::Retry(format!("Okta answered {status}: {}", okta_error(&body))));
        }
        let events: Vec<Box<RawValue>> = serde_json::from_slice(&body).map_err(|_| {
            Failure::Retry(format!("Okta answered {status} with a body that is not a JSON array ({})", snippet(&body)))
        })?;
        let next = match next {
            Some(n) => url.join(&n).map_err(|e| Failure::Retry(format!("bad next link: {e}")))?,
            None => {
                return Err(Failure::Retry(
                    "Okta answered without a next link (polling always has one); asking again".into(),
                ));
            }
        };
        self.check_same_origin(&next).map_err(|e| Failure::Retry(format!("{e:#}")))?;
        Ok(Fetched { events, next })
    }
}

enum Failure {
    RateLimited(Duration),
    Auth(String),
    Retry(String),
}

/// `rel="next"` from a Link header (Okta sends `self` and `next` as separate headers).
pub fn link_next(h: &HeaderMap) -> Option<String> {
    for v in h.get_all(reqwest::header::LINK) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            if pieces.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            }) {
                return Some(target.trim_start_matches('<').trim_end_matches('>').to_string());
            }
        }
    }
    None
}

/// Okta's error body (`errorCode`, `errorSummary`), or a short snippet.
fn okta_error(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct OktaError {
        error_code: Option<String>,
        error_summary: Option<String>,
    }
    match serde_json::from_slice::<OktaError>(body) {
        Ok(OktaError { error_code: Some(c), error_summary: s }) => {
            format!("{c}: {}", s.unwrap_or_default())
        }
        _ => snippet(body),
    }
}

pub(crate) fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(120)]);
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.trim().is_empty() { "empty body".into() } else { format!("body starts `{}`", s.trim()) }
}

/// The URL without its query (cursors are long and say nothing to a reader).
fn redact(u: &Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "error".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn jitter(d: Duration) -> Duration {
    let extra = rand::rng().random_range(0..=(d.as_millis() as u64 / 10).max(250));
    d + Duration::from_millis(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_parsing() {
        let mut h = HeaderMap::new();
        h.append(reqwest::header::LINK, HeaderValue::from_static("<https://x.okta.com/api/v1/logs?limit=2>; rel=\"self\""));
        h.append(
            reqwest::header::LINK,
            HeaderValue::from_static("<https://x.okta.com/api/v1/logs?after=abc&limit=2>; rel=\"next\""),
        );
        assert_eq!(link_next(&h).as_deref(), Some("https://x.okta.com/api/v1/logs?after=abc&limit=2"));
        assert_eq!(okta_error(br#"{"errorCode":"E0000011","errorSummary":"Invalid token provided"}"#), "E0000011: Invalid token provided");
        assert!(okta_error(b"<html>503</html>").contains("<html>"));
    }

    #[test]
    fn token_is_never_shown() {
        let t = Token("00abcSECRET".into());
        assert!(!format!("{t:?}").contains("SECRET"));
    }
}
