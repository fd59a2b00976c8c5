//! A deny-all WASI 0.2 for detections.
//!
//! The standard component toolchains of other languages (componentize-py,
//! componentize-js, wasi-libc through the preview1 adapter) import WASI 0.2
//! even when a detection uses none of it: their runtimes ask for the
//! environment, the clocks, randomness and standard output at start. This
//! module links those interfaces (wasmtime-wasi's `p2`, synchronous) with
//! nothing of the host behind them, so the contract's promise holds: no
//! files, network, clock or randomness beyond what the host hands over.
//!
//! - Files: no preopened directory, so no descriptor can ever be had; stdin
//!   is empty.
//! - Environment and arguments: empty; no initial working directory.
//! - Sockets and name lookup: every use is refused (`access-denied`,
//!   `permanent-resolver-failure`): wasmtime-wasi's defaults, which
//!   [`new_ctx`] spells out.
//! - stdout and stderr: lines into the host log, tagged with the detection id
//!   (`info` and `warn`), at most [`LINES_PER_SEC`] lines a second (the rest
//!   counted and said once), each cut to [`MAX_LINE`] bytes, control
//!   characters escaped. They present as terminals, so that a guest's libc
//!   line-buffers them (a reactor never exits to flush a full buffer).
//! - Wall clock: the event clock (`published` of the event in hand), as the
//!   contract's state has it; replays see the times they saw live.
//! - Monotonic clock: advances only by the CPU time the detection's own calls
//!   spend (the work done), never by the host's waiting or other detections.
//! - Random (secure and insecure): deterministic, seeded from the detection id
//!   and the event's uuid for each event, so a replay draws the same numbers.
//! - Sleeps: `subscribe-duration` and `subscribe-instant` trap. A sleep would
//!   block inside a host call, where epoch interruption cannot stop it; with
//!   no timer there is no pollable that is not ready at once (stdin is empty,
//!   the log streams always take a write), so `poll` never blocks either.
//!
//! - HTTP: componentize-js imports `wasi:http/types` and
//!   `wasi:http/outgoing-handler` by default (for `fetch`). They are linked
//!   (wasmtime-wasi-http, built without its HTTP client) and every request is
//!   answered `HTTP-request-denied` before anything leaves the guest's memory.
//!
//! Other interfaces (`wasi:http/incoming-handler`, wasi:keyvalue, wasi:nn,
//! WASI 0.3, …) are refused at load by the loader's import check (see
//! [`is_allowed`]), before the file is compiled.

use rand::SeedableRng as _;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamError, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::host::{HostCtx, thread_cpu_time};

/// The WASI packages a detection may import, all at 0.2.x.
pub const PACKAGES: &[&str] = &["wasi:cli", "wasi:clocks", "wasi:filesystem", "wasi:io", "wasi:random", "wasi:sockets"];
/// The interfaces of wasi:http a detection may import (0.2.x): no more than
/// componentize-js's `fetch` needs.
pub const HTTP_INTERFACES: &[&str] = &["wasi:http/types", "wasi:http/outgoing-handler"];

/// Lines of stdout and stderr, together, one detection may write in a second.
pub const LINES_PER_SEC: u32 = 20;
/// Longest line kept; the rest of it is dropped (marked `…`).
pub const MAX_LINE: usize = 2048;
/// Largest `get-random-bytes` / `get-insecure-random-bytes` (wasmtime-wasi
/// allocates the answer on the host before copying it into the guest).
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// Whether `name` (an import of a component) is an interface this module links.
pub fn is_allowed(name: &str) -> bool {
    let Some((iface, version)) = name.split_once('@') else { return false };
    let Some((package, _interface)) = iface.split_once('/') else { return false };
    (PACKAGES.contains(&package) || HTTP_INTERFACES.contains(&iface))
        && version.strip_prefix("0.2.").is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

/// What a detection's Store holds for WASI.
pub struct Wasi {
    ctx: WasiCtx,
    /// The event clock in milliseconds (the wall clock).
    event_ms: Arc<AtomicI64>,
    work: WorkClock,
    secure: SeededRng,
    insecure: SeededRng,
    id: Arc<str>,
    http: wasmtime_wasi_http::WasiHttpCtx,
    http_hooks: DenyHttp,
    /// False for a component that imports no WASI: it cannot read the clocks
    /// or draw random, so nothing is reseeded or marked for it per call.
    imported: bool,
}

impl Wasi {
    pub fn new(id: Arc<str>) -> Wasi {
        let event_ms = Arc::new(AtomicI64::new(0));
        let work = WorkClock::default();
        let secure = SeededRng::new(seed(b"secure", &id, ""));
        let insecure = SeededRng::new(seed(b"insecure", &id, ""));
        let out = Arc::new(Mutex::new(LogLines::new(id.clone())));
        let ctx = new_ctx(&id, &event_ms, &work, &secure, &insecure, &out);
        Wasi { ctx, event_ms, work, secure, insecure, id, http: wasmtime_wasi_http::WasiHttpCtx::new(), http_hooks: DenyHttp, imported: true }
    }

    /// The event in hand: the wall clock reads its time, and random draws
    /// start again from a seed of the detection id and the event's uuid.
    pub fn begin_event(&mut self, now_ms: i64, uuid: &str) {
        if !self.imported {
            return;
        }
        self.event_ms.store(now_ms, Ordering::Relaxed);
        self.secure.reseed(seed(b"secure", &self.id, uuid));
        self.insecure.reseed(seed(b"insecure", &self.id, uuid));
    }

    /// A call into the guest starts on this thread (see [`WorkClock`]).
    pub fn begin_call(&mut self) {
        if self.imported {
            self.work.begin_call();
        }
    }

    /// Whether the component in this Store imports WASI (see [`imports_wasi`]).
    pub fn set_imported(&mut self, imported: bool) {
        self.imported = imported;
    }
}

/// Whether `component` imports any WASI interface.
pub fn imports_wasi(engine: &wasmtime::Engine, component: &wasmtime::component::Component) -> bool {
    component.component_type().imports(engine).any(|(name, _)| name.starts_with("wasi:"))
}

/// A context with nothing behind it but the host's log and event clock.
fn new_ctx(
    id: &str,
    event_ms: &Arc<AtomicI64>,
    work: &WorkClock,
    secure: &SeededRng,
    insecure: &SeededRng,
    out: &Arc<Mutex<LogLines>>,
) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    // No preopens, env, args or cwd: the builder starts with none.
    b.stdout(LogStream { out: out.clone(), stream: Stream::Stdout })
        .stderr(LogStream { out: out.clone(), stream: Stream::Stderr })
        .wall_clock(EventClock(event_ms.clone()))
        .monotonic_clock(work.clone())
        .secure_random(secure.clone())
        .insecure_random(insecure.clone())
        .insecure_random_seed(u128::from_le_bytes(seed(b"insecure-seed", id, "")[..16].try_into().expect("16 bytes")))
        .max_random_size(MAX_RANDOM_BYTES)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    b.build()
}

fn seed(kind: &[u8], id: &str, uuid: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"oktawatch wasi random\0");
    h.update(kind);
    h.update(b"\0");
    h.update(id.as_bytes());
    h.update(b"\0");
    h.update(uuid.as_bytes());
    h.finalize().into()
}

impl WasiView for HostCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi.ctx, table: &mut self.table }
    }
}

impl wasmtime_wasi_http::WasiHttpView for HostCtx {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView { ctx: &mut self.wasi.http, table: &mut self.table, hooks: &mut self.wasi.http_hooks }
    }
}

/// Every outgoing request is refused.
struct DenyHttp;

impl wasmtime_wasi_http::WasiHttpHooks for DenyHttp {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Links WASI 0.2 into the detections' linker: wasmtime-wasi's synchronous
/// interfaces, then the monotonic clock replaced by [`Wasi`]'s own (no
/// timers), and wasi:http's types and outgoing handler (no client).
pub fn add_to_linker(linker: &mut Linker<HostCtx>) -> anyhow::Result<()> {
    wasmtime_wasi::p2::add_to_linker_sync(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let r = monotonic_clock::add_to_linker::<HostCtx, Clock>(linker, |c| &mut c.wasi);
    linker.allow_shadowing(false);
    r?;
    Ok(())
}

struct Clock;

impl HasData for Clock {
    type Data<'a> = &'a mut Wasi;
}

/// Why a sleep traps.
#[derive(Debug, thiserror::Error)]
#[error("wasi: {0} is not available to detections (a detection runs on the event clock and may not wait)")]
pub struct Denied(pub &'static str);

impl monotonic_clock::Host for Wasi {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(self.work.read())
    }
    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(1_000)
    }
    fn subscribe_instant(&mut self, _when: monotonic_clock::Instant) -> wasmtime::Result<Resource<DynPollable>> {
        Err(wasmtime::Error::new(Denied("sleeping (monotonic-clock.subscribe-instant)")))
    }
    fn subscribe_duration(&mut self, _d: monotonic_clock::Duration) -> wasmtime::Result<Resource<DynPollable>> {
        Err(wasmtime::Error::new(Denied("sleeping (monotonic-clock.subscribe-duration)")))
    }
}

/// The wall clock: the event clock.
struct EventClock(Arc<AtomicI64>);

impl wasmtime_wasi::HostWallClock for EventClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        // Before 1970 (a bad `published`) reads as the epoch.
        Duration::from_millis(self.0.load(Ordering::Relaxed).max(0) as u64)
    }
}

/// Nanoseconds of CPU time spent in this Store's calls.
///
/// At the start of each call ([`Wasi::begin_call`]) the thread's CPU clock is
/// noted; a read is what was counted before plus the thread's CPU time since
/// the mark, and moves the mark. What a call spends after its last read is
/// not counted: the clock only moves while the guest works and reads it,
/// never backwards, never by the host's time between calls.
#[derive(Clone, Default)]
struct WorkClock(Arc<WorkState>);

#[derive(Default)]
struct WorkState {
    counted: AtomicU64,
    mark: AtomicU64,
}

impl WorkClock {
    fn begin_call(&self) {
        self.0.mark.store(cpu_ns(), Ordering::Relaxed);
    }
    fn read(&self) -> u64 {
        let now = cpu_ns();
        let since = now.saturating_sub(self.0.mark.swap(now, Ordering::Relaxed));
        self.0.counted.fetch_add(since, Ordering::Relaxed) + since
    }
}

fn cpu_ns() -> u64 {
    thread_cpu_time().as_nanos() as u64
}

impl wasmtime_wasi::HostMonotonicClock for WorkClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.read()
    }
}

/// A deterministic generator shared by the WASI context and [`Wasi`], which
/// reseeds it for each event.
#[derive(Clone)]
struct SeededRng(Arc<Mutex<rand::rngs::StdRng>>);

impl SeededRng {
    fn new(seed: [u8; 32]) -> Self {
        SeededRng(Arc::new(Mutex::new(rand::rngs::StdRng::from_seed(seed))))
    }
    fn reseed(&self, seed: [u8; 32]) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = rand::rngs::StdRng::from_seed(seed);
    }
}

impl rand::TryRng for SeededRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).try_fill_bytes(dst)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

/// stdout and stderr of one Store, cut into lines for the host log.
struct LogLines {
    id: Arc<str>,
    /// The line being written, per stream (at most [`MAX_LINE`] bytes kept).
    partial: [Vec<u8>; 2],
    /// Bytes of the line being written that were over [`MAX_LINE`].
    overflow: [bool; 2],
    window: Instant,
    lines: u32,
    dropped: u64,
}

impl LogLines {
    fn new(id: Arc<str>) -> Self {
        LogLines { id, partial: [Vec::new(), Vec::new()], overflow: [false; 2], window: Instant::now(), lines: 0, dropped: 0 }
    }

    fn write(&mut self, stream: Stream, mut bytes: &[u8]) {
        let i = stream as usize;
        while !bytes.is_empty() {
            let (chunk, newline) = match bytes.iter().position(|&b| b == b'\n') {
                Some(n) => (&bytes[..n], true),
                None => (bytes, false),
            };
            let room = MAX_LINE - self.partial[i].len();
            if chunk.len() > room {
                self.overflow[i] = true;
            }
            self.partial[i].extend_from_slice(&chunk[..chunk.len().min(room)]);
            bytes = &bytes[chunk.len() + newline as usize..];
            if newline {
                self.emit(stream);
            }
        }
    }

    fn emit(&mut self, stream: Stream) {
        let i = stream as usize;
        let line = std::mem::take(&mut self.partial[i]);
        let cut = std::mem::take(&mut self.overflow[i]);
        if self.window.elapsed() >= Duration::from_secs(1) {
            if self.dropped > 0 {
                tracing::warn!(detection = &*self.id, "{} more lines of stdout/stderr than the log takes ({LINES_PER_SEC} a second): dropped", self.dropped);
            }
            self.window = Instant::now();
            self.lines = 0;
            self.dropped = 0;
        }
        self.lines += 1;
        if self.lines > LINES_PER_SEC {
            self.dropped += 1;
            return;
        }
        let text = shown(&line, cut);
        match stream {
            Stream::Stdout => tracing::info!(detection = &*self.id, stream = "stdout", "{text}"),
            Stream::Stderr => tracing::warn!(detection = &*self.id, stream = "stderr", "{text}"),
        }
    }
}

/// A guest's line as log text: invalid UTF-8 replaced, control characters
/// escaped (no forged log lines, no terminal escapes), `…` when cut.
fn shown(line: &[u8], cut: bool) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    let mut out = String::with_capacity(text.len() + 3);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cut {
        out.push('…');
    }
    out
}

/// stdout or stderr of a detection.
struct LogStream {
    out: Arc<Mutex<LogLines>>,
    stream: Stream,
}

impl wasmtime_wasi::cli::IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        true
    }
}

impl wasmtime_wasi::cli::StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LogWriter { out: self.out.clone(), stream: self.stream })
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LogWriter { out: self.out.clone(), stream: self.stream })
    }
}

/// One handle on stdout or stderr: every write is taken at once.
struct LogWriter {
    out: Arc<Mutex<LogLines>>,
    stream: Stream,
}

/// What one `check-write` permits (a guest writes in pieces of at most this).
const PERMIT: usize = 64 << 10;

impl LogWriter {
    fn take(&self, bytes: &[u8]) {
        self.out.lock().unwrap_or_else(|p| p.into_inner()).write(self.stream, bytes);
    }
}

impl OutputStream for LogWriter {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        if bytes.len() > PERMIT {
            return Err(StreamError::Trap(wasmtime::format_err!("wrote {} bytes, over the permit of {PERMIT}", bytes.len())));
        }
        self.take(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogWriter {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = buf.len().min(PERMIT);
        self.take(&buf[..n]);
        std::task::Poll::Ready(Ok(n))
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_p2_names() {
        assert!(is_allowed("wasi:cli/environment@0.2.0"));
        assert!(is_allowed("wasi:io/streams@0.2.6"));
        assert!(is_allowed("wasi:sockets/tcp@0.2.3"));
        assert!(is_allowed("wasi:http/outgoing-handler@0.2.10"));
        assert!(!is_allowed("wasi:http/incoming-handler@0.2.0"));
        assert!(!is_allowed("wasi:cli/environment@0.2.0-rc-2023-11-10"));
        assert!(!is_allowed("wasi:keyvalue/store@0.2.0-draft"));
        assert!(!is_allowed("wasi:cli/environment@0.3.0-rc-2025-09-16"));
        assert!(!is_allowed("wasi:cli/environment"));
        assert!(!is_allowed("wasi:cli/environment@0.2."));
        assert!(!is_allowed("wasix:cli/environment@0.2.0"));
    }

    #[test]
    fn lines_are_cut_escaped_and_split() {
        let mut l = LogLines::new("d".into());
        l.write(Stream::Stdout, b"ab");
        assert_eq!(l.partial[0], b"ab");
        l.write(Stream::Stdout, b"c\nd");
        assert_eq!((l.partial[0].as_slice(), l.lines), (&b"d"[..], 1));
        l.write(Stream::Stderr, &vec![b'x'; MAX_LINE + 10]);
        assert_eq!((l.partial[1].len(), l.overflow[1]), (MAX_LINE, true));
        l.write(Stream::Stderr, b"\n");
        assert_eq!((l.partial[1].len(), l.overflow[1], l.lines), (0, false, 2));
        assert_eq!(shown(b"a\x1b[31m\r", false), "a\\u{1b}[31m");
        assert_eq!(shown(b"forged\nline", true), "forged\\nline…");
        for _ in 0..100 {
            l.write(Stream::Stdout, b"spam\n");
        }
        assert_eq!(l.lines as u64 - LINES_PER_SEC as u64, l.dropped);
    }

    #[test]
    fn random_is_per_detection_and_event() {
        use rand::Rng as _;
        let draw = |id: &str, uuid: &str| {
            let r = SeededRng::new(seed(b"secure", id, ""));
            r.reseed(seed(b"secure", id, uuid));
            let mut r = r.clone();
            r.next_u64()
        };
        assert_eq!(draw("a", "e1"), draw("a", "e1"));
        assert_ne!(draw("a", "e1"), draw("a", "e2"));
        assert_ne!(draw("a", "e1"), draw("b", "e1"));
    }

    #[test]
    fn work_clock_counts_only_calls() {
        let c = WorkClock::default();
        c.begin_call();
        let a = c.read();
        // Spin on this thread's own CPU clock, not on wall time: on a loaded
        // machine 5 ms of wall time may hold well under 1 ms of CPU.
        let spin = cpu_ns();
        while cpu_ns() < spin + 2_000_000 {}
        let b = c.read();
        assert!(b >= a + 1_000_000, "{a} {b}");
        // Time outside calls (here: asleep, and spinning before the next call begins) is not counted.
        std::thread::sleep(Duration::from_millis(20));
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(5) {}
        c.begin_call();
        let d = c.read();
        assert!(d >= b && d < b + 1_000_000, "{b} {d}");
    }
}
