//! The hook endpoint: Okta's verification challenge and event POSTs, the
//! secret checked, the body read with a bound and time limit, the events
//! queued for the org's poll loop; refusals answered, counted and logged
//! at a bounded rate.

use super::*;

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
pub(super) struct HookBody {
    pub(super) data: HookData,
}

#[derive(Deserialize)]
pub(super) struct HookData {
    /// Each event's JSON exactly as sent.
    pub(super) events: Vec<Box<RawValue>>,
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

pub(super) struct App {
    pub(super) orgs: HashMap<String, HookOrg>,
    pub(super) counters: Arc<Counters>,
    pub(super) max_body: usize,
    pub(super) warnings: WarnLimiter,
}

/// Refusal warnings: the first of each (org, status) at once, then at most
/// one per [`WARN_EVERY`] saying how many were not logged (the counters
/// have them all), so that a client hammering the listener cannot flood the log.
#[derive(Default)]
pub(super) struct WarnLimiter(pub(super) Mutex<HashMap<(String, u16), (std::time::Instant, u64)>>);

pub(super) const WARN_EVERY: Duration = Duration::from_secs(10);

impl WarnLimiter {
    /// `Some(suffix)` when this warning is to be logged.
    pub(super) fn allow(&self, org: &str, status: u16) -> Option<String> {
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

/// The response, with `Connection: close`: for requests refused before authenticating.
pub(super) fn closing(mut r: Response) -> Response {
    r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

pub(super) async fn hook(
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

pub(super) async fn answer(
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
pub(super) const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the body up to `max` bytes. A larger one is read on and thrown
/// away (up to 16 × `max`) before the 413, so that the client reads the
/// answer instead of a connection reset.
pub(super) async fn read_body(mut body: Body, max: usize) -> Result<Vec<u8>, Refusal> {
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

