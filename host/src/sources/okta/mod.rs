//! The Okta System Log poller (`GET /api/v1/logs`), following Okta's polling model.
//!
//! - The first request is `since=<start>&limit=N` (ascending, no `until`);
//!   after that only the `Link: rel="next"` URL is followed. No `after`
//!   cursor is ever crafted, and pages are never cut by `published` (Okta
//!   orders polling results by persistence time, so that would lose late
//!   events).
//! - A `next` URL on another scheme, host or port than the org, or with
//!   another path than `/api/v1/logs`, is refused: a tampered Link header
//!   must not carry the token elsewhere (another host, or another API).
//! - Rate limits: `X-Rate-Limit-*` headers are read on every answer; this
//!   client keeps its own use under a share of the bucket, sends nothing
//!   during a 429 until the reset (plus jitter, at least 1 s). Okta's `Date`
//!   header gives the skew between the host clock and Okta's, in which the
//!   resets are. A reset or penalty further than two rate-limit windows
//!   ahead (`rate_limit_window`, Okta's is a minute) is taken as two windows;
//!   a missing or garbled reset on a 429 as one.
//! - With a state dir ([`OktaSource::remember_rate_in`]) that view (limit,
//!   remaining, reset, our use in the window, a 429 penalty's end, the skew)
//!   is saved in `ratelimit.json` when it changes, and honoured at the next
//!   start: a restart inside a penalty or with this client's share spent
//!   waits for the reset before its first request, and says so once.
//! - Bodies are read with a cap ([`MAX_PAGE_BYTES`] for a page, a smaller one
//!   for error answers); Okta's error fields are cut to a bounded length
//!   before they reach a log or `oktawatch check`.
//! - 5xx, timeouts, connection errors and non-JSON bodies are retried with
//!   capped exponential backoff; 401/403 are reported with Okta's
//!   `errorCode`/`errorSummary` and retried slowly (tokens get rotated: a
//!   `token_file` is read again before each retry).
//! - The token is never logged, printed or put in an error message. One
//!   taken from an environment variable is removed from the environment at
//!   start ([`take_env_tokens`]).
//! - With `auth = "oauth"` the requests carry an OAuth access token instead
//!   (see [`super::oauth`]): got before the first request, renewed before it
//!   runs out, dropped and fetched again once after a 401; a DPoP nonce asked
//!   for by the API is sent on one retry.

pub mod auth;
pub(crate) mod http;
pub(crate) mod link;
mod rate;

use auth::Auth;
use auth::oauth::{OAuth, TokenError};
use auth::ssws::Token;
pub(crate) use auth::ssws::take_env_tokens;
use self::http::{BodyError, bounded, describe_reqwest, now_ms, read_capped, snippet};
use link::link_next;
use rate::Rate;
use crate::pipeline::checkpoint::{RateFile, RateState};
use crate::config::{AuthKind, OktaConfig};
use crate::shutdown::{Shutdown, sleep_or_shutdown};
use crate::telemetry::stats::Stats;
use anyhow::{Context, bail};
use rand::RngExt;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde_json::value::RawValue;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The largest page body read from `/api/v1/logs`: 1000 events of 32 KiB
/// each (Okta's events are a few KiB; a full page is a few MiB).
pub const MAX_PAGE_BYTES: usize = 32 << 20;
/// The largest error body read (Okta's are well under 1 KiB); the rest is not read.
pub const MAX_ERROR_BYTES: usize = 64 << 10;
/// A `Date` further than this from the host clock is not believed.
const MAX_SKEW_MS: u64 = 86_400_000;

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

pub struct OktaSource {
    cfg: OktaConfig,
    org: Url,
    http: reqwest::Client,
    auth: Auth,
    rate: Rate,
    stats: Arc<Stats>,
    retry_initial: Duration,
    retry_max: Duration,
    auth_retry: Duration,
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
            rate: Rate {
                view: RateState::default(),
                saved: RateState::default(),
                file: None,
                window: cfg.rate_limit_window,
                announced: false,
                save_failed: false,
            },
            cfg,
            org,
            http,
            auth,
            stats,
        })
    }

    /// Keeps the rate-limit view in `dir` (the org's state dir, beside its
    /// checkpoint) and takes up the one saved there: a wait it still calls
    /// for is logged now and kept before the first request.
    pub fn remember_rate_in(mut self, dir: &Path) -> OktaSource {
        let file = RateFile::new(dir);
        let name = self.cfg.name.clone();
        match file.load() {
            Ok(Some(mut saved)) => {
                saved.saved_at = String::new();
                saved.version = 0;
                self.rate.view = saved.clone();
                self.rate.saved = saved;
                if let Some(r) = self.rate.view.remaining {
                    self.stats.rate_remaining.store(r, Ordering::Relaxed);
                }
                self.announce();
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(org = %name, "{e}; ignored (it is written again after Okta's next answer)"),
        }
        self.rate.file = Some(file);
        self
    }

    /// Logs the wait the saved view calls for, if any.
    fn announce(&mut self) {
        let rate = &self.rate;
        let (view, now) = (&rate.view, rate.okta_now_ms());
        let name = &self.cfg.name;
        if let Some(p) = view.penalty_until_ms.filter(|&p| p > now) {
            tracing::info!(
                org = %name,
                "rate limit: Okta answered 429 before this start; no request until {} ({:.1?} from now, plus jitter), the end of that penalty",
                rate.describe(p),
                rate.until(p)
            );
            self.rate.announced = true;
            return;
        }
        let (Some(limit), Some(reset)) = (view.limit, view.reset_ms) else { return };
        let share = rate.share(limit, self.cfg.rate_limit_share);
        if reset > now && (view.used >= share || view.remaining == Some(0)) {
            tracing::info!(
                org = %name,
                "rate limit: {} of this client's {share} requests used and {} of {limit} left in the window before this start; no request until it ends at {} ({:.1?} from now, plus jitter)",
                view.used,
                view.remaining.map(|r| r.to_string()).unwrap_or("?".into()),
                rate.describe(reset),
                rate.until(reset)
            );
            self.rate.announced = true;
        } else if reset > now {
            tracing::debug!(org = %name, "rate limit: {} of this client's {share} requests used in the window ending at {}", view.used, rate.describe(reset));
        }
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

    /// Checks that a URL stays on the org (scheme, host and port) and on its
    /// System Log (the path `/api/v1/logs`): the token goes nowhere else.
    pub fn check_same_origin(&self, u: &Url) -> anyhow::Result<()> {
        if u.scheme() != self.org.scheme()
            || u.host_str() != self.org.host_str()
            || u.port_or_known_default() != self.org.port_or_known_default()
        {
            bail!(
                "refusing a next link to {}://{}: it is not the org {} (tampered Link header?)",
                u.scheme(),
                bounded(u.host_str().unwrap_or("?"), 100),
                self.org
            );
        }
        if u.path() != "/api/v1/logs" {
            bail!(
                "refusing a next link to the path {}: a System Log cursor stays on /api/v1/logs, and the token is sent nowhere else (tampered Link header?)",
                bounded(u.path(), 100)
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
                Err(Failure::RateLimited(until)) => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        org = %self.cfg.name,
                        "Okta rate limit reached (429): no request until {} ({:.1?}, plus jitter)",
                        self.rate.describe(until),
                        self.rate.until(until)
                    );
                    // `pace` waits for the penalty's end.
                    Duration::ZERO
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
                    backoff = backoff.saturating_mul(2).min(self.retry_max);
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
                self.rate.view.remaining.map(|r| r.to_string()).unwrap_or("?".into()),
                self.rate.view.limit.map(|r| r.to_string()).unwrap_or("?".into()),
            )),
            Err(Failure::RateLimited(until)) => {
                Err(anyhow::anyhow!("rate limited (429) until {} ({:.0?})", self.rate.describe(until), self.rate.until(until)))
            }
            Err(Failure::Auth(m)) | Err(Failure::Retry(m)) => Err(anyhow::anyhow!(m)),
        }
    }

    /// Waits for a 429 penalty's end, or while this client has used its
    /// share of the current window. None on shutdown.
    async fn pace(&mut self, shutdown: &mut Shutdown) -> Option<()> {
        let now = self.rate.okta_now_ms();
        let announced = std::mem::take(&mut self.rate.announced);
        if let Some(p) = self.rate.view.penalty_until_ms.filter(|&p| p > now) {
            let wait = jitter(self.rate.until(p)).max(Duration::from_secs(1));
            if !announced {
                tracing::info!(org = %self.cfg.name, "waiting {wait:.1?} for the end of Okta's 429 penalty ({})", self.rate.describe(p));
            }
            if !sleep_or_shutdown(wait, shutdown).await {
                return None;
            }
            self.rate.view.used = 0;
            return Some(());
        }
        let (Some(limit), Some(reset)) = (self.rate.view.limit, self.rate.view.reset_ms) else { return Some(()) };
        if now >= reset {
            self.rate.view.used = 0;
            return Some(());
        }
        let share = self.rate.share(limit, self.cfg.rate_limit_share);
        let exhausted = self.rate.view.remaining == Some(0);
        if self.rate.view.used >= share || exhausted {
            let wait = jitter(self.rate.until(reset)).max(Duration::from_secs(1));
            if !announced {
                tracing::info!(
                    org = %self.cfg.name,
                    "used {} of this client's {} requests in the rate-limit window (limit {limit}); waiting {wait:.1?}",
                    self.rate.view.used, share
                );
            }
            if !sleep_or_shutdown(wait, shutdown).await {
                return None;
            }
            self.rate.view.used = 0;
        }
        Some(())
    }

    /// Reads an answer's `Date` and `X-Rate-Limit-*` headers; on a 429, the
    /// penalty's end. Numbers that make no sense are ignored (with a
    /// warning) or capped at two windows ahead.
    fn read_rate(&mut self, h: &HeaderMap, status: u16) {
        let name = self.cfg.name.clone();
        let text = |n: &str| h.get(n).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
        if let Some(date) = text("date") {
            match chrono::DateTime::parse_from_rfc2822(&date) {
                Ok(d) => {
                    let skew = (now_ms() as i64).saturating_sub(d.timestamp_millis());
                    if skew.unsigned_abs() <= MAX_SKEW_MS {
                        self.rate.view.skew_ms = skew;
                    } else {
                        tracing::warn!(org = %name, "Okta's Date header `{}` is more than a day off the host clock; not believed", bounded(&date, 64));
                    }
                }
                Err(_) => tracing::warn!(org = %name, "Okta's Date header `{}` is not an HTTP date; ignored", bounded(&date, 64)),
            }
        }
        let num = |n: &str| {
            let raw = text(n)?;
            let parsed = raw.parse::<u64>().ok();
            if parsed.is_none() {
                tracing::warn!(org = %name, "Okta's {n} `{}` is not a number; ignored", bounded(&raw, 64));
            }
            parsed
        };
        let (now, cap) = (self.rate.okta_now_ms(), self.rate.cap_ms());
        let reset = num("x-rate-limit-reset").map(|secs| {
            let at = secs.saturating_mul(1000);
            if at > now.saturating_add(cap) {
                tracing::warn!(
                    org = %name,
                    "Okta's X-Rate-Limit-Reset {secs} is {:.0}s ahead; taken as {:.0?} (two rate-limit windows)",
                    at.saturating_sub(now) as f64 / 1000.0,
                    Duration::from_millis(cap)
                );
                now.saturating_add(cap)
            } else {
                at
            }
        });
        let new_window = reset.is_some() && reset != self.rate.view.reset_ms;
        self.rate.view.limit = num("x-rate-limit-limit").or(self.rate.view.limit);
        self.rate.view.remaining = num("x-rate-limit-remaining");
        if new_window {
            // A new window: count our use afresh, this request included, and at
            // least what Okta says is spent (the process before a restart may
            // have sent into this window without living to save it).
            let spent = match (self.rate.view.limit, self.rate.view.remaining) {
                (Some(l), Some(r)) => l.saturating_sub(r),
                _ => 1,
            };
            self.rate.view.used = spent.max(1);
        }
        if let Some(r) = self.rate.view.remaining {
            self.stats.rate_remaining.store(r, Ordering::Relaxed);
        }
        self.rate.view.reset_ms = reset.or(self.rate.view.reset_ms);
        if status == 429 {
            let until = match reset {
                Some(r) => r.max(now.saturating_add(1000)),
                None => {
                    let window = u64::try_from(self.rate.window.as_millis()).unwrap_or(u64::MAX);
                    tracing::warn!(org = %name, "a 429 without a usable X-Rate-Limit-Reset; waiting one rate-limit window");
                    now.saturating_add(window)
                }
            };
            self.rate.view.penalty_until_ms = Some(until);
            self.rate.view.remaining = Some(0);
        }
        self.rate.save(&name);
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
            // Counted (and saved) before it is sent: a crash right after still counts it.
            self.rate.view.used = self.rate.view.used.saturating_add(1);
            self.rate.save(&self.cfg.name);
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
            self.read_rate(resp.headers(), status.as_u16());
            let next = link_next(resp.headers());
            let asks_nonce = match &mut self.auth {
                Auth::OAuth(o) => o.note_api_answer(status.as_u16(), resp.headers()),
                Auth::Ssws(_) => false,
            };
            // A page may be large; an error answer is only quoted, so its start is enough.
            let (cap, cut) = if status.is_success() { (MAX_PAGE_BYTES, false) } else { (MAX_ERROR_BYTES, true) };
            let body = read_capped(resp, cap, cut).await.map_err(|e| match e {
                BodyError::TooLarge { .. } => Failure::Retry(format!(
                    "the answer from {} is {e}, the cap for a page; refused (lower page_limit if this org's pages are really that large)",
                    redact(url)
                )),
                BodyError::Read(e) => Failure::Retry(format!("reading the answer from {}: {}", redact(url), describe_reqwest(&e))),
            })?;
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
            let until = self.rate.view.penalty_until_ms.unwrap_or(0);
            return Err(Failure::RateLimited(until));
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
    /// A 429: no request before this time (epoch ms, Okta's clock).
    RateLimited(u64),
    Auth(String),
    Retry(String),
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
            format!("{}: {}", bounded(&c, 64), bounded(&s.unwrap_or_default(), 300))
        }
        _ => snippet(body),
    }
}

/// The URL without its query (cursors are long and say nothing to a reader).
fn redact(u: &Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

/// `d` plus up to a tenth of it (at least 250 ms) at random; never overflows.
fn jitter(d: Duration) -> Duration {
    let tenth = u64::try_from(d.as_millis() / 10).unwrap_or(u64::MAX).max(250);
    d.saturating_add(Duration::from_millis(rand::rng().random_range(0..=tenth)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::http::now_epoch;

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

    /// A source for an SSWS org on a loopback URL, its token in a file under `dir`.
    fn source(dir: &Path, extra: &str) -> OktaSource {
        let token = dir.join("token");
        std::fs::write(&token, "00tok\n").unwrap();
        let text = format!(
            "[[okta]]\nname = \"t\"\norg_url = \"http://127.0.0.1:9\"\ntoken_file = \"{}\"\n{extra}\n[sink]\nkind = \"stdout\"\n",
            token.display()
        );
        let cfg = crate::config::Config::parse(&text).unwrap();
        OktaSource::new(cfg.okta[0].clone(), Arc::new(Stats::default())).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn jitter_never_overflows() {
        assert!(jitter(Duration::MAX) == Duration::MAX);
        assert!(jitter(Duration::from_secs(u64::MAX)) >= Duration::from_secs(u64::MAX));
        let j = jitter(Duration::from_secs(10));
        assert!(j >= Duration::from_secs(10) && j <= Duration::from_secs(11));
    }

    #[test]
    fn poisonous_rate_headers_are_capped_or_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = source(dir.path(), "rate_limit_window = \"2s\"");
        let cap = Duration::from_secs(4);
        for reset in [u64::MAX.to_string(), (now_epoch() + 10 * 365 * 86_400).to_string()] {
            s.read_rate(&headers(&[("x-rate-limit-reset", &reset), ("x-rate-limit-limit", "18446744073709551615")]), 429);
            let until = s.rate.view.penalty_until_ms.unwrap();
            assert!(s.rate.until(until) <= cap, "{reset}: waits {:?}", s.rate.until(until));
            assert!(s.rate.until(s.rate.view.reset_ms.unwrap()) <= cap);
        }
        // Garbage: ignored; a 429 without a usable reset waits one window.
        s.rate.view = RateState::default();
        s.read_rate(&headers(&[("x-rate-limit-reset", "soon"), ("x-rate-limit-remaining", "-1"), ("date", "yesterday")]), 429);
        assert_eq!((s.rate.view.reset_ms, s.rate.view.remaining, s.rate.view.skew_ms), (None, Some(0), 0));
        let wait = s.rate.until(s.rate.view.penalty_until_ms.unwrap());
        assert!(wait > Duration::from_millis(1500) && wait <= Duration::from_secs(2), "{wait:?}");
    }

    #[test]
    fn date_header_gives_the_skew() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = source(dir.path(), "");
        // Okta's clock an hour behind the host's; its reset 30 s ahead on its clock.
        let okta_now = chrono::Utc::now() - chrono::Duration::hours(1);
        let date = okta_now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let reset = (okta_now.timestamp() + 30).to_string();
        s.read_rate(&headers(&[("date", &date), ("x-rate-limit-reset", &reset), ("x-rate-limit-remaining", "0")]), 429);
        assert!((s.rate.view.skew_ms - 3_600_000).abs() < 2_000, "{}", s.rate.view.skew_ms);
        let wait = s.rate.until(s.rate.view.penalty_until_ms.unwrap());
        assert!(wait >= Duration::from_secs(29) && wait <= Duration::from_secs(32), "{wait:?}");
        // A Date more than a day off is not believed.
        s.read_rate(&headers(&[("date", "Fri, 01 Jan 9999 00:00:00 GMT")]), 200);
        assert!((s.rate.view.skew_ms - 3_600_000).abs() < 2_000);
    }

    #[test]
    fn the_view_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = source(dir.path(), "").remember_rate_in(dir.path());
        let reset = (now_epoch() + 20).to_string();
        s.read_rate(&headers(&[("x-rate-limit-reset", &reset), ("x-rate-limit-limit", "10"), ("x-rate-limit-remaining", "0")]), 429);
        let again = source(dir.path(), "").remember_rate_in(dir.path());
        assert_eq!(again.rate.view.penalty_until_ms, s.rate.view.penalty_until_ms);
        assert!(again.rate.announced, "the wait is announced at start");
        // Our share spent (5 of 10 with the default 0.5), no penalty: still a wait at start.
        let mut s = source(dir.path(), "").remember_rate_in(dir.path());
        s.rate.view.penalty_until_ms = None;
        s.rate.view.remaining = Some(4);
        s.rate.view.used = 5;
        s.rate.save("t");
        let again = source(dir.path(), "").remember_rate_in(dir.path());
        assert_eq!(again.rate.view.used, 5);
        assert!(again.rate.announced);
        // A damaged file is ignored.
        std::fs::write(dir.path().join("ratelimit.json"), "{").unwrap();
        let again = source(dir.path(), "").remember_rate_in(dir.path());
        assert_eq!(again.rate.view, RateState::default());
    }

    #[test]
    fn next_links_keep_the_logs_path() {
        let dir = tempfile::tempdir().unwrap();
        let s = source(dir.path(), "");
        assert!(s.check_same_origin(&Url::parse("http://127.0.0.1:9/api/v1/logs?after=1").unwrap()).is_ok());
        let e = s.check_same_origin(&Url::parse("http://127.0.0.1:9/api/v1/users?after=1").unwrap()).unwrap_err();
        assert!(e.to_string().contains("/api/v1/users"), "{e}");
        assert!(s.check_same_origin(&Url::parse("http://evil.example:9/api/v1/logs").unwrap()).is_err());
    }

    #[test]
    fn error_fields_are_bounded() {
        let long = "x".repeat(100_000);
        let body = serde_json::json!({"errorCode": long, "errorSummary": format!("a\nb{long}")}).to_string();
        let e = okta_error(body.as_bytes());
        assert!(e.chars().count() < 400 && !e.contains('\n'), "{}", e.len());
        assert_eq!(bounded("abc", 2), "ab…");
        assert_eq!(bounded("ab", 2), "ab");
    }
}
