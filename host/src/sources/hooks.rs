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
//! whichever path brings it first. Each event is marked [`Origin::Hook`]:
//! whoever holds the secret can push events, so their messages say so, and a
//! pushed event cannot hide Okta's own: a polled copy whose content differs
//! from the pushed one with the same uuid is delivered too
//! ([`crate::pipeline::dedup::Verdict::Differing`]). A body nested deeper than
//! [`MAX_DEPTH`] (plus the three levels of the hook's own wrapping) is
//! refused with 400 before any JSON parser sees it. Refusals (401, 404, 405,
//! 400, 413, and 503 when the org's queue is full or every slot for
//! authenticated connections is taken, so that Okta retries) are counted per
//! org and status in [`Counters`].
//!
//! Exposed to the internet, the listener bounds what a client can hold
//! without the secret ([`LIMITS`], [`Slots`]). A connection is *pending*
//! from accept until one of its requests shows a right secret, then
//! *authenticated*. The two draw from separate pools:
//! - pending connections: at most 192 in all and 16 per IP address (per /64
//!   for IPv6, which hands out a /64 at a time), and 3 s
//!   from accept (TLS handshake included) to an authenticated request's
//!   headers, or the connection is closed. Okta itself gives up after 3 s, so
//!   a connection that has not shown the secret by then is not Okta's. The
//!   accept loop never waits for room: a newcomer over a cap pushes out the
//!   oldest pending connection (of its address, or of all), so idle or
//!   trickling connections cannot keep Okta's out; only a flood of more than
//!   192 new connections in the moment between Okta's connect and its
//!   headers could, which is beyond what any listener can absorb (filter on
//!   Okta's address ranges in front for that);
//! - authenticated connections: 64 more, never pushed out by newcomers, idle
//!   at most 10 s between requests (hyper's header timeout). When they are all
//!   taken, a newly authenticated request gets 503 (Okta retries).
//!
//! Requests refused before authenticating are answered with
//! `Connection: close`. Connections closed by these limits are counted by
//! reason (`per_ip`, `pre_auth_full`, `pre_auth_timeout`) in [`Counters`].

use crate::config::{HooksConfig, OktaConfig};
use crate::event::{Event, MAX_DEPTH, Origin};
use crate::shutdown::Shutdown;
use crate::sources::okta::parse_events;
use crate::telemetry::stats::Stats;
use anyhow::{Context, bail};
use axum::body::Body;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::header::{ALLOW, AUTHORIZATION, CONNECTION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
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
        let env = cfg.hook_secret_env.as_deref().map(|var| ("hook_secret_env", var));
        let file = cfg.hook_secret_file.as_deref().map(|path| ("hook_secret_file", path));
        let Some(secret) = crate::secret::env_or_file(&cfg.name, env, file, |var| std::env::var(var).ok())? else {
            return Ok(None);
        };
        let secret = secret.expose();
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
    closed: Mutex<BTreeMap<&'static str, u64>>,
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

    fn closed(&self, why: Closed) {
        *self.closed.lock().unwrap_or_else(|p| p.into_inner()).entry(why.label()).or_default() += 1;
    }

    /// (reason, connections closed by the listener's limits before they authenticated).
    pub fn closed_snapshot(&self) -> Vec<(&'static str, u64)> {
        self.closed.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (*k, *v)).collect()
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
    #[error("JSON nested deeper than {MAX_DEPTH} levels in an event")]
    TooDeep,
    #[error("all {0} connection slots for authenticated clients are taken; retry later")]
    Crowded(usize),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::UnknownOrg => StatusCode::NOT_FOUND,
            Refusal::Method(_) => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BadRequest(_) | Refusal::TooDeep => StatusCode::BAD_REQUEST,
            Refusal::Busy | Refusal::Crowded(_) => StatusCode::SERVICE_UNAVAILABLE,
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
/// A body nested deeper than its events may be ([`MAX_DEPTH`], under the
/// wrapping object, `data` and the `events` array) is refused before parsing.
pub fn events_of(body: &[u8]) -> Result<Vec<Box<RawValue>>, Refusal> {
    if crate::event::too_deep(body, MAX_DEPTH + 3) {
        return Err(Refusal::TooDeep);
    }
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
        let slots = Arc::new(Slots::new(LIMITS, counters.clone()));
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
                    closing(Refusal::UnknownOrg.into_response())
                }
            })
            .with_state(app);
        tokio::spawn(accept_loop(self.tcp, self.tls, router, slots, shutdown));
    }
}

/// The listener's connection limits (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Pending connections (not yet authenticated), all addresses together.
    pub pending: usize,
    /// Pending connections from one IP address.
    pub per_ip: usize,
    /// Authenticated connections, a pool of their own.
    pub authenticated: usize,
    /// From accept (TLS handshake included) to an authenticated request's headers.
    pub pre_auth_timeout: Duration,
}

/// The limits the listener runs with: 256 connections at most, 64 of them kept for authenticated clients.
pub const LIMITS: Limits =
    Limits { pending: 192, per_ip: 16, authenticated: 64, pre_auth_timeout: Duration::from_secs(3) };

/// An authenticated connection must send each request's headers within this
/// (also the longest it may sit idle between requests).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the listener closed a connection before it authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// A newer connection from the same address came while it had [`Limits::per_ip`] pending.
    PerIp,
    /// A newer connection came while [`Limits::pending`] were pending.
    PendingFull,
    /// No authenticated request within [`Limits::pre_auth_timeout`].
    Timeout,
}

impl Closed {
    fn label(self) -> &'static str {
        match self {
            Closed::PerIp => "per_ip",
            Closed::PendingFull => "pre_auth_full",
            Closed::Timeout => "pre_auth_timeout",
        }
    }
}

/// The connection slots: which connections are pending (oldest first) and
/// from where, and how many are authenticated.
pub struct Slots {
    limits: Limits,
    counters: Arc<Counters>,
    warnings: WarnLimiter,
    inner: Mutex<SlotsInner>,
}

#[derive(Default)]
struct SlotsInner {
    next_id: u64,
    /// Pending connections by id (ids grow, so the first is the oldest).
    pending: BTreeMap<u64, (IpAddr, Arc<Notify>)>,
    pending_per_ip: HashMap<IpAddr, usize>,
    authenticated: usize,
}

impl SlotsInner {
    /// Takes a connection out of the pending set; its push-out signal if it was there.
    fn unpend(&mut self, id: u64) -> Option<Arc<Notify>> {
        let (ip, notify) = self.pending.remove(&id)?;
        if let Some(n) = self.pending_per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.pending_per_ip.remove(&ip);
            }
        }
        Some(notify)
    }
}

impl Slots {
    pub fn new(limits: Limits, counters: Arc<Counters>) -> Slots {
        Slots { limits, counters, warnings: WarnLimiter::default(), inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A pending slot for a new connection from `ip`; pushes out the oldest
    /// pending connection of that address, or of all, when a cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Arc<Slot> {
        let mut g = self.lock();
        if g.pending_per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.per_ip {
            let oldest = g.pending.iter().find(|(_, (a, _))| *a == ip).map(|(id, _)| *id);
            self.push_out(&mut g, oldest, Closed::PerIp);
        }
        if g.pending.len() >= self.limits.pending {
            let oldest = g.pending.keys().next().copied();
            self.push_out(&mut g, oldest, Closed::PendingFull);
        }
        let id = g.next_id;
        g.next_id += 1;
        let pushed_out = Arc::new(Notify::new());
        g.pending.insert(id, (ip, pushed_out.clone()));
        *g.pending_per_ip.entry(ip).or_default() += 1;
        drop(g);
        Arc::new(Slot {
            id,
            slots: self.clone(),
            pushed_out,
            authenticated: AtomicBool::new(false),
            deadline: tokio::time::Instant::now() + self.limits.pre_auth_timeout,
        })
    }

    fn push_out(&self, g: &mut SlotsInner, id: Option<u64>, why: Closed) {
        let Some(notify) = id.and_then(|id| g.unpend(id)) else { return };
        // A stored permit: the connection's task sees it even if not waiting yet.
        notify.notify_one();
        self.close_counted(why);
    }

    fn close_counted(&self, why: Closed) {
        self.counters.closed(why);
        if let Some(more) = self.warnings.allow(why.label(), 0) {
            let what = match why {
                Closed::PerIp => format!("a newer one came from the same address ({} pending at most)", self.limits.per_ip),
                Closed::PendingFull => format!("a newer one came while {} were pending", self.limits.pending),
                Closed::Timeout => format!("no request with the secret within {:?}", self.limits.pre_auth_timeout),
            };
            tracing::warn!("event hooks: a connection not yet authenticated was closed: {what}{more}");
        }
    }

    /// (pending, authenticated) connections now.
    #[cfg(test)]
    pub fn in_use(&self) -> (usize, usize) {
        let g = self.lock();
        (g.pending.len(), g.authenticated)
    }
}

/// One connection's place in [`Slots`]; given back when dropped.
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
    pushed_out: Arc<Notify>,
    authenticated: AtomicBool,
    deadline: tokio::time::Instant,
}

impl Slot {
    /// Moves the connection to the authenticated pool (a request showed a
    /// right secret). False when that pool is full, or the connection was
    /// pushed out meanwhile.
    fn authenticate(&self) -> bool {
        if self.is_authenticated() {
            return true;
        }
        let mut g = self.slots.lock();
        if g.authenticated >= self.slots.limits.authenticated || !g.pending.contains_key(&self.id) {
            return false;
        }
        g.unpend(self.id);
        g.authenticated += 1;
        self.authenticated.store(true, Ordering::Release);
        true
    }

    fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Acquire)
    }

    /// Completes when the connection is to be closed: pushed out by a
    /// newcomer, or its pre-authentication time is up. Never, once authenticated.
    async fn cut(&self) {
        tokio::select! {
            _ = self.pushed_out.notified() => {}
            _ = tokio::time::sleep_until(self.deadline) => {
                let pending = self.slots.lock().unpend(self.id).is_some();
                if !pending {
                    // Authenticated (or pushed out at this very moment).
                    if self.is_authenticated() {
                        std::future::pending::<()>().await;
                    }
                    return;
                }
                self.slots.close_counted(Closed::Timeout);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.slots.lock();
        if self.is_authenticated() {
            g.authenticated -= 1;
        } else {
            g.unpend(self.id);
        }
    }
}

/// The address a connection counts against for [`Limits::per_ip`]: the IPv4
/// address, or the /64 of an IPv6 one (a single host often has a whole /64).
fn address_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

/// Accepts connections until `shutdown`, each with a [`Slot`]; never waits
/// for room (see [`Slots::admit`]). TLS handshakes run in the connections' tasks.
async fn accept_loop(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    slots: Arc<Slots>,
    mut shutdown: Shutdown,
) {
    loop {
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
        let slot = slots.admit(address_of(peer.ip()));
        let (tls, router, shutdown) = (tls.clone(), router.clone(), shutdown.clone());
        tokio::spawn(async move {
            let work = async {
                match tls {
                    None => serve_connection(stream, router, slot.clone(), shutdown).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => serve_connection(stream, router, slot.clone(), shutdown).await,
                        Err(e) => tracing::debug!("event hooks: TLS handshake with {peer}: {e}"),
                    },
                }
            };
            tokio::select! {
                _ = work => {}
                _ = slot.cut() => tracing::debug!("event hooks: connection from {peer} closed before it authenticated"),
            }
        });
    }
}

/// HTTP/1.1 on one connection, with the header timeout and the connection's
/// slot handed to each request; finishes the request in hand on shutdown.
async fn serve_connection<I>(io: I, router: axum::Router, slot: Arc<Slot>, mut shutdown: Shutdown)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper::service::Service as _;
    let router = hyper_util::service::TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(slot.clone());
        router.call(req)
    });
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

/// The response, with `Connection: close`: for requests refused before authenticating.
fn closing(mut r: Response) -> Response {
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

async fn hook(
    State(app): State<Arc<App>>,
    Extension(slot): Extension<Arc<Slot>>,
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
        return closing(Refusal::UnknownOrg.into_response());
    };
    let response = match answer(&app, o, &slot, &method, &headers, body).await {
        Ok(r) => r,
        Err(refusal) => {
            let status = refusal.status().as_u16();
            if let Some(more) = app.warnings.allow(&o.name, status) {
                tracing::warn!(org = %o.name, "event hook {method} refused ({status}): {refusal}{more}");
            }
            let r = refusal.into_response();
            if slot.is_authenticated() { r } else { closing(r) }
        }
    };
    app.counters.request(&o.name, response.status());
    response
}

async fn answer(
    app: &App,
    o: &HookOrg,
    slot: &Slot,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    if method != Method::GET && method != Method::POST {
        return Err(Refusal::Method(method.clone()));
    }
    let given = headers.get(AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if !o.secret.matches(given) {
        return Err(Refusal::Unauthorized);
    }
    if !slot.authenticate() {
        return Err(Refusal::Crowded(slot.slots.limits.authenticated));
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
    let events: Vec<Event> = parse_events(&raws, "an event hook request", &o.name, &o.stats)
        .into_iter()
        .map(|e| e.with_origin(Origin::Hook))
        .collect();
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
        let deep = format!(r#"{{"data":{{"events":[{{"a":{}1{}}}]}}}}"#, "[".repeat(63), "]".repeat(63));
        assert_eq!(events_of(deep.as_bytes()).unwrap().len(), 1, "an event of 64 levels");
        let deeper = format!(r#"{{"data":{{"events":[{{"a":{}1{}}}]}}}}"#, "[".repeat(64), "]".repeat(64));
        assert!(matches!(events_of(deeper.as_bytes()), Err(Refusal::TooDeep)));
        assert_eq!(Refusal::TooDeep.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn addresses_count_per_ipv4_address_and_per_ipv6_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_of(a), address_of(b));
        assert_eq!(address_of(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(address_of(a), address_of("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(address_of("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(address_of("192.0.2.7".parse().unwrap()), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn pending_connections_are_pushed_out_and_authenticated_ones_kept() {
        let counters = Arc::new(Counters::default());
        let limits = Limits { pending: 3, per_ip: 2, authenticated: 1, pre_auth_timeout: Duration::from_secs(3) };
        let slots = Arc::new(Slots::new(limits, counters.clone()));
        let ip = |d: u8| IpAddr::from([10, 0, 0, d]);
        let a1 = slots.admit(ip(1));
        let a2 = slots.admit(ip(1));
        let a3 = slots.admit(ip(1));
        assert_eq!(slots.in_use(), (2, 0), "a third from one address pushes out its oldest");
        assert!(!a1.authenticate(), "a pushed-out connection cannot authenticate");
        let b1 = slots.admit(ip(2));
        let c1 = slots.admit(ip(3));
        assert_eq!(slots.in_use(), (3, 0), "past the pending cap, the oldest of all goes");
        assert!(!a2.authenticate());
        assert_eq!(counters.closed_snapshot(), vec![("per_ip", 1), ("pre_auth_full", 1)]);
        assert!(b1.authenticate() && b1.authenticate());
        assert_eq!(slots.in_use(), (2, 1));
        assert!(!c1.authenticate(), "the authenticated pool is full");
        // Newcomers never push out an authenticated connection.
        let more: Vec<_> = (0..5).map(|_| slots.admit(ip(2))).collect();
        assert_eq!(slots.in_use(), (3, 1));
        assert!(b1.is_authenticated());
        drop(b1);
        assert_eq!(slots.in_use(), (3, 0));
        assert!(more[4].authenticate(), "room again");
        drop((a1, a2, a3, c1, more));
        assert_eq!(slots.in_use(), (0, 0));
    }
}
