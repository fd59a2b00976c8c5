//! An Okta System Log API emulator on loopback, for the demo and the tests.
//!
//! It serves `GET /api/v1/logs` the way Okta's polling works: events in
//! persistence order (a late event, with an older `published`, comes after
//! the ones persisted before it), `since` and `limit`, opaque `after`
//! cursors in `Link: rel="next"` headers (present even on an empty page),
//! `X-Rate-Limit-*` headers with a real bucket and 429 when it is empty, and
//! SSWS token checks answered with Okta's error bodies, and a `Date` header
//! on its own clock (which can be set off the host's). Faults can be
//! queued: 5xx, an HTML 503 from a "proxy", slow answers, tampered, foreign
//! or missing next links, a 429 penalty of a chosen length, chosen (also
//! poisonous) rate-limit headers, an oversized body. Every request is
//! recorded for the tests to inspect, also those to paths it does not serve.
//!
//! With [`EmulatorOptions::oauth`] it is also an OAuth 2.0 authorization
//! server for one API Services app (see [`oauth`](mod@crate::oauth)):
//! `POST /oauth2/v1/token` verifies client assertions and DPoP proofs for
//! real, and `/api/v1/logs` takes the access tokens it issued.
//!
//! [`demo_feed`](mod@demo_feed) is the sample feed `oktawatch demo` serves.
//!
//! This crate is the test harness, not the product: the service links it
//! only for `oktawatch demo` (the host's default `demo` feature); the tests
//! and the bench use it directly. It shares no code with the host, so that
//! it checks the host against Okta's documented behaviour, not against itself.

pub mod demo_feed;
pub mod oauth;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A scripted misbehaviour, applied to the next request that passes auth and rate limiting.
#[derive(Debug, Clone)]
pub enum Fault {
    /// A JSON error body with this status.
    Status(u16),
    /// `503` with an HTML body, as a proxy in front of Okta would send.
    Html503,
    /// Answer normally after this delay.
    Delay(Duration),
    /// Answer normally, but with a `next` link to another host.
    TamperedNext,
    /// Answer normally, without a `next` link.
    NoNext,
    /// `401`, as when a token is revoked.
    Unauthorized,
    /// `429`, and every request after it too until this time has passed (a penalty).
    RateLimited(Duration),
    /// This status (200: a normal page) with these headers in place of the
    /// rate-limit ones: garbage, huge or far-future values.
    Headers { status: u16, headers: Vec<(String, String)> },
    /// Answer normally, but with a same-origin `next` link to `/api/v1/users`.
    ForeignNext,
    /// `200` with a JSON array body of this many bytes (and a next link).
    Oversized(usize),
}

#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub at: SystemTime,
    /// Path and query as received.
    pub uri: String,
    pub status: u16,
    /// Events in the answer.
    pub events: usize,
    /// The rate-limit window it counted in (its reset, epoch seconds).
    pub window: u64,
    /// The `Authorization` scheme sent (`SSWS`, `DPoP`, `Bearer`), or empty.
    pub auth: String,
    /// When it was answered on the emulator's clock (epoch ms; see [`Emulator::set_clock_offset`]).
    pub okta_ms: u64,
}

struct Emu {
    token: String,
    /// (published ms, JSON text) in persistence order.
    events: Vec<(Option<i64>, String)>,
    faults: VecDeque<Fault>,
    requests: Vec<RequestRecord>,
    rate_limit: u64,
    rate_window: Duration,
    window_start: u64,
    used: u64,
    origin: String,
    oauth: Option<oauth::Server>,
    /// The emulator's clock minus the host's, in ms.
    clock_offset_ms: i64,
    /// No request is served before this (emulator clock, epoch ms).
    penalty_until_ms: u64,
}

impl Emu {
    /// Now on the emulator's clock (epoch ms).
    fn now(&self) -> u64 {
        u64::try_from((epoch_ms() as i64).saturating_add(self.clock_offset_ms)).unwrap_or(0)
    }
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<Mutex<Emu>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// The SSWS token it accepts.
    pub token: String,
    /// Requests per rate-limit window.
    pub rate_limit: u64,
    pub rate_window: Duration,
    /// An OAuth 2.0 API Services app whose tokens are accepted too.
    pub oauth: Option<oauth::OAuthApp>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            token: "emulator-token".into(),
            rate_limit: 600,
            rate_window: Duration::from_secs(60),
            oauth: None,
        }
    }
}

pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Okta's ISO 8601 timestamps (`2024-08-13T15:58:20.353Z`, also as `since`
/// and `until`), as ms since the epoch.
fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.timestamp_millis())
}

impl Emulator {
    /// Starts on `127.0.0.1` on a free port, on the current tokio runtime.
    pub async fn start(opts: EmulatorOptions) -> std::io::Result<Emulator> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let oauth = match opts.oauth {
            Some(app) => Some(
                oauth::Server::new(app, &origin).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
            ),
            None => None,
        };
        let state = Arc::new(Mutex::new(Emu {
            token: opts.token,
            events: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            rate_limit: opts.rate_limit,
            rate_window: opts.rate_window,
            window_start: epoch_ms(),
            used: 0,
            origin,
            oauth,
            clock_offset_ms: 0,
            penalty_until_ms: 0,
        }));
        let app = axum::Router::new()
            .route("/api/v1/logs", get(logs))
            .route("/oauth2/v1/token", post(token))
            .fallback(elsewhere)
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Emulator { addr, state, stop: Some(tx) })
    }

    /// `http://127.0.0.1:PORT`: the org URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes events visible, appended in persistence order.
    pub fn push<I: IntoIterator<Item = serde_json::Value>>(&self, events: I) {
        let mut s = self.state.lock().unwrap();
        for e in events {
            let published = e.get("published").and_then(serde_json::Value::as_str).and_then(parse_time);
            s.events.push((published, e.to_string()));
        }
    }

    /// Makes raw JSON texts visible as they are (odd shapes included).
    pub fn push_raw<I: IntoIterator<Item = String>>(&self, events: I) {
        let mut s = self.state.lock().unwrap();
        for text in events {
            let published = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("published").and_then(serde_json::Value::as_str).and_then(parse_time));
            s.events.push((published, text));
        }
    }

    pub fn event_count(&self) -> usize {
        self.state.lock().unwrap().events.len()
    }

    /// Queues faults for the next requests.
    pub fn inject<I: IntoIterator<Item = Fault>>(&self, faults: I) {
        self.state.lock().unwrap().faults.extend(faults);
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Changes the bucket (and starts a new window).
    pub fn set_rate_limit(&self, limit: u64, window: Duration) {
        let mut s = self.state.lock().unwrap();
        s.rate_limit = limit;
        s.rate_window = window;
        s.window_start = s.now();
        s.used = 0;
    }

    /// Sets the emulator's clock `offset_ms` off the host's (negative: behind);
    /// its `Date` header, rate-limit resets and penalties follow it.
    pub fn set_clock_offset(&self, offset_ms: i64) {
        let mut s = self.state.lock().unwrap();
        let shift = offset_ms.saturating_sub(s.clock_offset_ms);
        s.clock_offset_ms = offset_ms;
        s.window_start = u64::try_from((s.window_start as i64).saturating_add(shift)).unwrap_or(0);
    }

    /// Every request from now until `d` has passed gets a 429 whose reset is the penalty's end.
    pub fn penalize(&self, d: Duration) {
        let mut s = self.state.lock().unwrap();
        s.penalty_until_ms = s.now() + d.as_millis() as u64;
    }

    /// Empties the bucket until the window ends (the next request gets a 429).
    pub fn exhaust_bucket(&self) {
        let mut s = self.state.lock().unwrap();
        s.used = s.rate_limit;
    }

    /// The token requests answered so far (OAuth mode).
    pub fn token_requests(&self) -> Vec<oauth::TokenRecord> {
        self.state.lock().unwrap().oauth.as_ref().map(|o| o.records.clone()).unwrap_or_default()
    }

    /// Every access token issued so far (for leak checks).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().unwrap().oauth.as_ref().map(|o| o.issued()).unwrap_or_default()
    }

    /// Changes the lifetime of the access tokens issued from now on.
    pub fn set_token_lifetime(&self, expires_in: Duration) {
        if let Some(o) = self.state.lock().unwrap().oauth.as_mut() {
            o.set_lifetime(expires_in);
        }
    }

    /// Revokes every access token issued so far (the API then answers 401).
    pub fn revoke_tokens(&self) {
        if let Some(o) = self.state.lock().unwrap().oauth.as_mut() {
            o.revoke_all();
        }
    }

    /// Epoch seconds at which the current window ends (the emulator's clock).
    pub fn rate_reset(&self) -> u64 {
        let s = self.state.lock().unwrap();
        (s.window_start + s.rate_window.as_millis() as u64).div_ceil(1000)
    }

    /// The end of the last penalty (emulator clock, epoch ms; 0 for none).
    pub fn penalty_until_ms(&self) -> u64 {
        self.state.lock().unwrap().penalty_until_ms
    }
}

fn okta_error(status: StatusCode, code: &str, summary: &str) -> Response {
    let body = serde_json::json!({
        "errorCode": code, "errorSummary": summary, "errorLink": code,
        "errorId": "oae-emulator", "errorCauses": [],
    });
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn token(State(state): State<Arc<Mutex<Emu>>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut s = state.lock().unwrap();
    match s.oauth.as_mut() {
        Some(o) => o.token_endpoint(&headers, &body),
        None => (StatusCode::NOT_FOUND, "no OAuth app configured").into_response(),
    }
}

fn cursor(index: usize, since: Option<i64>) -> String {
    // Opaque to clients, like Okta's.
    format!("{index:x}.{}", since.map(|s| format!("{s:x}")).unwrap_or_default())
}

fn parse_cursor(c: &str) -> Option<(usize, Option<i64>)> {
    let (i, s) = c.split_once('.')?;
    let since = if s.is_empty() { None } else { Some(i64::from_str_radix(s, 16).ok()?) };
    Some((usize::from_str_radix(i, 16).ok()?, since))
}

/// Any path it does not serve: recorded (a client must never come here) and 404.
async fn elsewhere(State(state): State<Arc<Mutex<Emu>>>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let r = okta_error(StatusCode::NOT_FOUND, "E0000022", "The endpoint does not support the provided HTTP method");
    record(&state, &headers, &uri, &r, 0);
    r
}

fn record(state: &Arc<Mutex<Emu>>, headers: &HeaderMap, uri: &axum::http::Uri, response: &Response, events: usize) {
    let window = response
        .headers()
        .get("x-rate-limit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut s = state.lock().unwrap();
    let okta_ms = s.now();
    s.requests.push(RequestRecord {
        at: SystemTime::now(),
        uri: uri.to_string(),
        status: response.status().as_u16(),
        events,
        window,
        auth: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(' ').next())
            .unwrap_or("")
            .to_string(),
        okta_ms,
    });
}

async fn logs(
    State(state): State<Arc<Mutex<Emu>>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
) -> Response {
    let (mut response, delay, events) = answer(&state, &headers, &q, uri.path());
    if !response.headers().contains_key("date") {
        let now = state.lock().unwrap().now();
        let date = chrono::DateTime::from_timestamp_millis(now as i64).unwrap_or_default();
        let value = date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        response.headers_mut().insert("date", HeaderValue::from_str(&value).unwrap());
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    record(&state, &headers, &uri, &response, events);
    response
}

fn answer(
    state: &Arc<Mutex<Emu>>,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    path: &str,
) -> (Response, Option<Duration>, usize) {
    let mut s = state.lock().unwrap();
    let s = &mut *s;
    // The bucket.
    let now = s.now();
    let window_ms = s.rate_window.as_millis() as u64;
    if now >= s.window_start + window_ms {
        s.window_start = now;
        s.used = 0;
    }
    let reset = (s.window_start + window_ms).div_ceil(1000);
    let rate_headers = |r: &mut Response, limit: u64, remaining: u64| {
        let h = r.headers_mut();
        h.insert("x-rate-limit-limit", HeaderValue::from(limit));
        h.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
        h.insert("x-rate-limit-reset", HeaderValue::from(reset));
    };
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    let ssws_ok = authorization == format!("SSWS {}", s.token);
    if !ssws_ok {
        match s.oauth.as_mut() {
            Some(o) if !authorization.starts_with("SSWS ") => {
                let htu = format!("{}{path}", s.origin);
                if let Err(r) = o.authorize_api(headers, "GET", &htu) {
                    return (*r, None, 0);
                }
            }
            _ => return (okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided"), None, 0),
        }
    }
    let too_many = || {
        okta_error(StatusCode::TOO_MANY_REQUESTS, "E0000047", "API call exceeded rate limit due to too many requests.")
    };
    if matches!(s.faults.front(), Some(Fault::RateLimited(_))) {
        let Some(Fault::RateLimited(d)) = s.faults.pop_front() else { unreachable!() };
        s.penalty_until_ms = now + d.as_millis() as u64;
    }
    if now < s.penalty_until_ms {
        let mut r = too_many();
        let h = r.headers_mut();
        h.insert("x-rate-limit-limit", HeaderValue::from(s.rate_limit));
        h.insert("x-rate-limit-remaining", HeaderValue::from(0));
        h.insert("x-rate-limit-reset", HeaderValue::from(s.penalty_until_ms.div_ceil(1000)));
        return (r, None, 0);
    }
    if s.used >= s.rate_limit {
        let mut r = too_many();
        rate_headers(&mut r, s.rate_limit, 0);
        return (r, None, 0);
    }
    s.used += 1;
    let (limit, remaining) = (s.rate_limit, s.rate_limit - s.used);

    let mut delay = None;
    let mut tampered = false;
    let mut no_next = false;
    let mut foreign = false;
    let mut poison: Option<Vec<(String, String)>> = None;
    let mut oversized = None;
    match s.faults.pop_front() {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = okta_error(status, "E0000009", "Internal Server Error");
            rate_headers(&mut r, limit, remaining);
            return (r, None, 0);
        }
        Some(Fault::Html503) => {
            let mut r = (
                StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "text/html")],
                "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
            )
                .into_response();
            rate_headers(&mut r, limit, remaining);
            return (r, None, 0);
        }
        Some(Fault::Unauthorized) => {
            return (okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided"), None, 0);
        }
        Some(Fault::Delay(d)) => delay = Some(d),
        Some(Fault::TamperedNext) => tampered = true,
        Some(Fault::NoNext) => no_next = true,
        Some(Fault::ForeignNext) => foreign = true,
        Some(Fault::Oversized(n)) => oversized = Some(n),
        Some(Fault::Headers { status, headers }) if status != 200 => {
            let mut r = if status == 429 { too_many() } else { okta_error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), "E0000009", "Internal Server Error") };
            set_headers(&mut r, &headers);
            return (r, None, 0);
        }
        Some(Fault::Headers { headers, .. }) => poison = Some(headers),
        Some(Fault::RateLimited(_)) => unreachable!("taken before the bucket"),
        None => {}
    }

    let page_limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100).clamp(1, 1000);
    let (start, since) = match q.get("after") {
        Some(c) => match parse_cursor(c) {
            Some(x) => x,
            None => {
                let r = okta_error(StatusCode::BAD_REQUEST, "E0000001", "Api validation failed: after");
                return (r, None, 0);
            }
        },
        None => {
            let since = q.get("since").map(|v| parse_time(v));
            match since {
                Some(None) => {
                    let r = okta_error(StatusCode::BAD_REQUEST, "E0000001", "Api validation failed: since");
                    return (r, None, 0);
                }
                Some(Some(ms)) => (0, Some(ms)),
                None => (0, None),
            }
        }
    };
    // A bounded request (`until`) ends at that time; the cursor carries it on.
    let until = q.get("until").and_then(|v| parse_time(v));
    let mut body = String::from("[");
    let mut next_index = start;
    let mut count = 0;
    for (i, (published, text)) in s.events.iter().enumerate().skip(start) {
        if count == page_limit {
            break;
        }
        next_index = i + 1;
        if let (Some(since), Some(p)) = (since, published)
            && *p < since {
                continue;
            }
        if let (Some(until), Some(p)) = (until, published)
            && *p >= until {
                continue;
            }
        if count > 0 {
            body.push(',');
        }
        body.push_str(text);
        count += 1;
    }
    body.push(']');
    if count < page_limit {
        // Everything persisted so far was looked at.
        next_index = s.events.len().max(start);
    }
    let origin = if tampered { "http://evil.example:9".to_string() } else { s.origin.clone() };
    let this = match q.get("after") {
        Some(a) => format!("{}/api/v1/logs?after={a}&limit={page_limit}", s.origin),
        None => format!("{}/api/v1/logs?limit={page_limit}", s.origin),
    };
    let until_q = q.get("until").map(|u| format!("&until={}", url_encode(u))).unwrap_or_default();
    let path = if foreign { "/api/v1/users" } else { "/api/v1/logs" };
    // An oversized answer is no page: its next link asks for the same events again.
    let next_index = if oversized.is_some() { start } else { next_index };
    let next = format!("{origin}{path}?after={}&limit={page_limit}{until_q}", cursor(next_index, since));
    if let Some(n) = oversized {
        // Not a page: the events stay for the next request.
        body = format!("[\"{}\"]", "x".repeat(n.saturating_sub(4)));
        count = 0;
    }
    let mut r = (StatusCode::OK, [("content-type", "application/json")], body).into_response();
    rate_headers(&mut r, limit, remaining);
    if let Some(headers) = &poison {
        set_headers(&mut r, headers);
    }
    let h = r.headers_mut();
    h.append("link", HeaderValue::from_str(&format!("<{this}>; rel=\"self\"")).unwrap());
    if !no_next {
        h.append("link", HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).unwrap());
    }
    (r, delay, count)
}

/// Puts `headers` on `r` in place of those of the same names (values as given, garbage included).
fn set_headers(r: &mut Response, headers: &[(String, String)]) {
    for (name, value) in headers {
        let name = axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        r.headers_mut().insert(name, HeaderValue::from_str(value).expect("a header value"));
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(parse_cursor(&cursor(42, Some(1_700_000_000_000))), Some((42, Some(1_700_000_000_000))));
        assert_eq!(parse_cursor(&cursor(0, None)), Some((0, None)));
        assert_eq!(parse_cursor("zz"), None);
    }
}
