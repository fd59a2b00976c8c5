//! Okta event hooks: Okta pushes System Log events to us, seconds after they
//! happen, instead of waiting for the next poll.
//!
//! One path per org, `/hooks/okta/<org name>`, over HTTPS (rustls with the
//! `ring` provider), or plain HTTP on loopback only (checked by the config).
//! Okta's protocol:
//! - `GET` with `x-okta-verification-challenge`: the one-time verification,
//!   answered `{"verification": "<the value>"}`;
//! - `POST` with `{"eventType": "com.okta.event_hook", …, "data": {"events": […]}}`.
//!
//! Both carry the shared secret verbatim in `Authorization`; it is compared
//! in constant time (SHA-256 of both sides, then `subtle`), and neither the
//! secret nor the header is ever logged. A POST is parsed, queued for the
//! org's poll loop ([`HookBatch`]) and answered at once (204), well within
//! Okta's 3-second limit; the org's [`crate::pipeline::Pipeline`] handles it
//! next, with the same dedup as polled pages, so an event reaches Wazuh once
//! whichever path brings it first. Refusals (401, 404, 405, 400, 413, and 503
//! when the org's queue is full, so that Okta retries) are counted per org
//! and status in [`Counters`]. Exposed to the internet, the listener bounds
//! what a client can hold: 256 connections at once, 10 s for a TLS handshake
//! and for a request's headers, a time limit on the body.

use crate::config::{HooksConfig, OktaConfig};
use crate::event::Event;
use crate::sources::okta::{Shutdown, parse_events};
use crate::stats::Stats;
use anyhow::{Context, bail};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{ALLOW, AUTHORIZATION};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

/// Events Okta pushed in one request, parsed, for the org's poll loop.
pub type HookBatch = Vec<Event>;

/// The metrics label for requests to a path that names no hook-enabled org.
pub const UNKNOWN_ORG: &str = "(unknown)";

/// An org's shared secret, kept only as its SHA-256; never shown.
pub struct HookSecret([u8; 32]);

impl std::fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookSecret(***)")
    }
}

impl HookSecret {
    /// The org's secret as the config says (environment variable or the
    /// first line of a file), or None when the org takes no hooks.
    pub fn load(cfg: &OktaConfig) -> anyhow::Result<Option<HookSecret>> {
        let raw = match (&cfg.hook_secret_env, &cfg.hook_secret_file) {
            (Some(var), _) => std::env::var(var).with_context(|| {
                format!("org `{}`: environment variable {var} (hook_secret_env) is not set", cfg.name)
            })?,
            (None, Some(path)) => std::fs::read_to_string(path)
                .with_context(|| format!("org `{}`: reading hook_secret_file {}", cfg.name, path.display()))?,
            (None, None) => return Ok(None),
        };
        let secret = raw.lines().next().unwrap_or("").trim();
        if secret.len() < 16 {
            bail!("org `{}`: the event hook secret is shorter than 16 characters", cfg.name);
        }
        if secret.chars().any(|c| c.is_control() || !c.is_ascii()) {
            bail!("org `{}`: the event hook secret has control or non-ASCII characters", cfg.name);
        }
        Ok(Some(Self::new(secret.as_bytes())))
    }

    pub fn new(secret: &[u8]) -> HookSecret {
        HookSecret(Sha256::digest(secret).into())
    }

    /// Whether `given` is the secret; the time taken does not depend on where they differ.
    pub fn matches(&self, given: &[u8]) -> bool {
        let given: [u8; 32] = Sha256::digest(given).into();
        given.ct_eq(&self.0).into()
    }
}

/// One org that takes event hooks.
pub struct HookOrg {
    pub name: String,
    pub secret: HookSecret,
    /// Into the org's poll loop.
    pub queue: mpsc::Sender<HookBatch>,
    pub stats: Arc<Stats>,
}

/// Hook requests by (org, status) and events accepted by org, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    events: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn request(&self, org: &str, status: StatusCode) {
        *self.requests.lock().unwrap().entry((org.to_string(), status.as_u16())).or_default() += 1;
    }

    fn events(&self, org: &str, n: usize) {
        *self.events.lock().unwrap().entry(org.to_string()).or_default() += n as u64;
    }

    /// ((org, status), requests).
    pub fn requests_snapshot(&self) -> Vec<((String, u16), u64)> {
        self.requests.lock().unwrap().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// (org, events accepted).
    pub fn events_snapshot(&self) -> Vec<(String, u64)> {
        self.events.lock().unwrap().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// Why a hook request is refused; each maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no org takes event hooks at this path")]
    UnknownOrg,
    #[error("method {0} is not GET or POST")]
    Method(Method),
    #[error("wrong or missing Authorization header")]
    Unauthorized,
    #[error("body over the {0} KiB limit (hooks.max_body_kb)")]
    TooLarge(usize),
    #[error("{0}")]
    BadRequest(String),
    #[error("the org's queue is full (Wazuh or the pipeline is behind); Okta will retry")]
    Busy,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::UnknownOrg => StatusCode::NOT_FOUND,
            Refusal::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() }).to_string();
        let mut r = (self.status(), [("content-type", "application/json")], body).into_response();
        if let Refusal::Method(_) = self {
            r.headers_mut().insert(ALLOW, "GET, POST".parse().expect("a valid header"));
        }
        r
    }
}

/// The event hook request body; only `data.events` is needed.
#[derive(Deserialize)]
struct HookBody {
    data: HookData,
}

#[derive(Deserialize)]
struct HookData {
    /// Each event's JSON exactly as sent.
    events: Vec<Box<RawValue>>,
}

/// The events of an event hook request body, each as its exact JSON text.
pub fn events_of(body: &[u8]) -> Result<Vec<Box<RawValue>>, Refusal> {
    serde_json::from_slice::<HookBody>(body)
        .map(|b| b.data.events)
        .map_err(|e| Refusal::BadRequest(format!("not an Okta event hook body with data.events: {e}")))
}

/// The bound listener, before it serves.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    max_body: usize,
}

struct App {
    orgs: HashMap<String, HookOrg>,
    counters: Arc<Counters>,
    max_body: usize,
    warnings: WarnLimiter,
}

/// Refusal warnings: the first of each (org, status) at once, then at most
/// one per [`WARN_EVERY`] saying how many were not logged (the counters
/// have them all), so that a client hammering the listener cannot flood the log.
#[derive(Default)]
struct WarnLimiter(Mutex<HashMap<(String, u16), (std::time::Instant, u64)>>);

const WARN_EVERY: Duration = Duration::from_secs(10);

impl WarnLimiter {
    /// `Some(suffix)` when this warning is to be logged.
    fn allow(&self, org: &str, status: u16) -> Option<String> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        match seen.get_mut(&(org.to_string(), status)) {
            Some((last, skipped)) if now.duration_since(*last) < WARN_EVERY => {
                *skipped += 1;
                None
            }
            Some((last, skipped)) => {
                let more = std::mem::take(skipped);
                *last = now;
                Some(if more > 0 { format!(" ({more} more like it not logged)") } else { String::new() })
            }
            None => {
                seen.insert((org.to_string(), status), (now, 0));
                Some(String::new())
            }
        }
    }
}

impl Listener {
    /// Reads the TLS files and binds `hooks.listen`.
    pub async fn bind(cfg: &HooksConfig) -> anyhow::Result<Listener> {
        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            _ => None,
        };
        let tcp = TcpListener::bind(&cfg.listen).await.with_context(|| format!("hooks.listen {}", cfg.listen))?;
        Ok(Listener { tcp, tls, max_body: cfg.max_body_kb as usize * 1024 })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves the orgs' hook paths until `shutdown`.
    pub fn serve(self, orgs: Vec<HookOrg>, counters: Arc<Counters>, shutdown: Shutdown) {
        let app = Arc::new(App {
            orgs: orgs.into_iter().map(|o| (o.name.clone(), o)).collect(),
            counters,
            max_body: self.max_body,
            warnings: WarnLimiter::default(),
        });
        let fallback_app = app.clone();
        let router = axum::Router::new()
            .route("/hooks/okta/{org}", axum::routing::any(hook))
            .fallback(move || {
                let app = fallback_app.clone();
                async move {
                    app.counters.request(UNKNOWN_ORG, StatusCode::NOT_FOUND);
                    Refusal::UnknownOrg.into_response()
                }
            })
            .with_state(app);
        tokio::spawn(accept_loop(self.tcp, self.tls, router, shutdown));
    }
}

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;
/// A connection must send a request's headers within this, or it is closed
/// (a slow client cannot hold a connection open by trickling bytes).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections (TLS handshakes in their own tasks, bounded in time),
/// at most [`MAX_CONNECTIONS`] at once, until `shutdown`.
async fn accept_loop(tcp: TcpListener, tls: Option<TlsAcceptor>, router: axum::Router, mut shutdown: Shutdown) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            a = tcp.accept() => match a {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("event hooks: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let (tls, router, shutdown) = (tls.clone(), router.clone(), shutdown.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(stream, router, shutdown).await,
                Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, router, shutdown).await,
                    Ok(Err(e)) => tracing::debug!("event hooks: TLS handshake with {peer}: {e}"),
                    Err(_) => tracing::debug!("event hooks: TLS handshake with {peer} timed out"),
                },
            }
        });
    }
}

/// HTTP/1.1 on one connection, with the header timeout; finishes the request
/// in hand on shutdown.
async fn serve_connection<I>(io: I, router: axum::Router, mut shutdown: Shutdown)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("event hooks: connection: {e}");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

async fn hook(
    State(app): State<Arc<App>>,
    Path(org): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(o) = app.orgs.get(&org) else {
        if let Some(more) = app.warnings.allow(UNKNOWN_ORG, 404) {
            let shown: String = org.chars().take(64).collect();
            tracing::warn!("event hook request for {shown:?}, which is no hook-enabled org (404){more}");
        }
        app.counters.request(UNKNOWN_ORG, StatusCode::NOT_FOUND);
        return Refusal::UnknownOrg.into_response();
    };
    let response = match answer(&app, o, &method, &headers, body).await {
        Ok(r) => r,
        Err(refusal) => {
            let status = refusal.status().as_u16();
            if let Some(more) = app.warnings.allow(&o.name, status) {
                tracing::warn!(org = %o.name, "event hook {method} refused ({status}): {refusal}{more}");
            }
            refusal.into_response()
        }
    };
    app.counters.request(&o.name, response.status());
    response
}

async fn answer(app: &App, o: &HookOrg, method: &Method, headers: &HeaderMap, body: Body) -> Result<Response, Refusal> {
    if method != Method::GET && method != Method::POST {
        return Err(Refusal::Method(method.clone()));
    }
    let given = headers.get(AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !o.secret.matches(given) {
        return Err(Refusal::Unauthorized);
    }
    if method == Method::GET {
        let challenge = headers
            .get("x-okta-verification-challenge")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Refusal::BadRequest("no x-okta-verification-challenge header".into()))?;
        tracing::info!(org = %o.name, "event hook verification: Okta's one-time challenge answered");
        let body = serde_json::json!({ "verification": challenge }).to_string();
        return Ok((StatusCode::OK, [("content-type", "application/json")], body).into_response());
    }
    let bytes = read_body(body, app.max_body).await?;
    let raws = events_of(&bytes)?;
    let events = parse_events(&raws, "an event hook request", &o.name, &o.stats);
    let n = events.len();
    if n > 0 {
        o.queue.try_send(events).map_err(|_| Refusal::Busy)?;
    }
    app.counters.events(&o.name, n);
    tracing::debug!(org = %o.name, "event hook: {n} event(s) queued");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the body up to `max` bytes. A larger one is read on and thrown
/// away (up to 16 × `max`) before the 413, so that the client reads the
/// answer instead of a connection reset.
async fn read_body(mut body: Body, max: usize) -> Result<Vec<u8>, Refusal> {
    let read = async {
        let mut buf = Vec::new();
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Refusal::BadRequest(format!("reading the body: {e}")))?;
            let Ok(data) = frame.into_data() else { continue };
            seen += data.len();
            if seen <= max {
                buf.extend_from_slice(&data);
            } else if seen > max.saturating_mul(16) {
                break;
            }
        }
        if seen > max { Err(Refusal::TooLarge(max / 1024)) } else { Ok(buf) }
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| Err(Refusal::BadRequest(format!("the body did not come within {BODY_TIMEOUT:?}"))))
}

/// Loads the TLS files as the listener would (for `oktawatch check`).
pub fn check_tls(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<()> {
    tls_acceptor(cert, key).map(|_| ())
}

/// A rustls server config from PEM files (certificate chain, private key).
fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("hooks.tls_cert {}", cert.display()))?;
    if certs.is_empty() {
        bail!("hooks.tls_cert {}: no certificate in the file", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("hooks.tls_key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("hooks: the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_warnings_are_rate_limited() {
        let w = WarnLimiter::default();
        assert_eq!(w.allow("a", 401).as_deref(), Some(""));
        assert_eq!(w.allow("a", 401), None);
        assert_eq!(w.allow("a", 401), None);
        assert_eq!(w.allow("a", 404).as_deref(), Some(""), "another status is another warning");
        assert_eq!(w.allow("b", 401).as_deref(), Some(""), "another org is another warning");
        // After the quiet period, one line says how many were skipped.
        w.0.lock().unwrap().get_mut(&("a".to_string(), 401)).unwrap().0 -= WARN_EVERY;
        assert_eq!(w.allow("a", 401).as_deref(), Some(" (2 more like it not logged)"));
        assert_eq!(w.allow("a", 401), None);
    }

    #[test]
    fn secrets_compare_whole() {
        let s = HookSecret::new(b"0123456789abcdef-secret");
        assert!(s.matches(b"0123456789abcdef-secret"));
        assert!(!s.matches(b"0123456789abcdef-secreT"));
        assert!(!s.matches(b"0123456789abcdef-secret "));
        assert!(!s.matches(b""));
        assert_eq!(format!("{s:?}"), "HookSecret(***)");
    }

    #[test]
    fn bodies_keep_each_event_exactly() {
        let body = br#"{"eventType":"com.okta.event_hook","eventId":"x","data":{"events":[{"uuid":"a", "b" :[1,2]},{"c":"\u00e9"}]}}"#;
        let raws = events_of(body).unwrap();
        assert_eq!(raws.iter().map(|r| r.get()).collect::<Vec<_>>(), [r#"{"uuid":"a", "b" :[1,2]}"#, r#"{"c":"\u00e9"}"#]);
        assert!(matches!(events_of(b"{\"data\":{}}"), Err(Refusal::BadRequest(_))));
        assert!(matches!(events_of(b"{nope"), Err(Refusal::BadRequest(_))));
        assert_eq!(Refusal::Busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
