//! Helpers for the end-to-end tests: a real Wazuh-like datagram socket,
//! configs, synthetic events and one org's set-up; the oktawatch process and
//! the Okta emulator come from `oktawatch-testkit` (shared with the bench).

pub mod polyglot;
pub mod rig;
pub mod wazuh;

use serde_json::{Value, json};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use oktawatch_testkit::{Emulator, EmulatorOptions, Fault, Host, Okta, oktawatch_bin as bin, uuid_for};

/// A compiled test guest (see `tests/guests/`), by crate name.
pub fn guest(name: &str) -> PathBuf {
    let p = Path::new(env!("OKTAWATCH_TEST_GUESTS")).join(format!("{}.wasm", name.replace('-', "_")));
    assert!(p.is_file(), "test guest {} was not built", p.display());
    p
}

/// The public sample events (`tests/fixtures/okta-samples/`, with their sources and licences).
pub fn samples_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/okta-samples/events.ndjson")
}

/// Where Wazuh's analysisd would be: a Unix datagram socket that records every message.
pub struct Wazuh {
    pub path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Wazuh {
    /// Binds the socket at `path` (removing a stale file first).
    pub fn bind(path: &Path) -> Wazuh {
        Self::bind_into(path, Arc::new(Mutex::new(Vec::new())))
    }

    /// Binds again, keeping what was received before (analysisd restarted).
    pub fn rebind(self) -> Wazuh {
        let path = self.path.clone();
        let messages = self.messages.clone();
        self.close();
        Self::bind_into(&path, messages)
    }

    fn bind_into(path: &Path, messages: Arc<Mutex<Vec<String>>>) -> Wazuh {
        let _ = std::fs::remove_file(path);
        let sock = UnixDatagram::bind(path).expect("binding the test socket");
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (messages.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 70_000];
            while !s.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    m.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
        });
        Wazuh { path: path.to_path_buf(), messages, stop, thread: Some(thread) }
    }

    /// Stops receiving and removes the socket file (analysisd going down).
    pub fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let _ = std::fs::remove_file(&self.path);
    }

    /// Every datagram received, as sent (`1:location:json`).
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// The JSON bodies, parsed (panics on a datagram that is not `1:loc:json`).
    pub fn bodies(&self) -> Vec<Value> {
        self.messages()
            .iter()
            .map(|m| {
                let body = split_header(m).1;
                serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {m}"))
            })
            .collect()
    }

    /// The raw Okta events received, in order.
    pub fn events(&self) -> Vec<Value> {
        self.bodies().into_iter().filter(|b| b["integration"] == "okta").map(|b| b["okta"].clone()).collect()
    }

    /// The alert bodies (`oktawatch` objects) received, in order.
    pub fn alerts(&self) -> Vec<Value> {
        self.bodies().into_iter().filter(|b| b["integration"] == "oktawatch").map(|b| b["oktawatch"].clone()).collect()
    }

    /// The uuids of the raw events received, in order.
    pub fn uuids(&self) -> Vec<String> {
        self.events().iter().map(|e| e["uuid"].as_str().unwrap_or("").to_string()).collect()
    }

    /// Waits until `done` holds for the messages, or panics after `timeout` with `what`.
    pub fn wait(&self, what: &str, timeout: Duration, done: impl Fn(&Wazuh) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Wazuh {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `1:location:json` → (`1:location:`, json), honouring `|` escapes in the location.
pub fn split_header(m: &str) -> (&str, &str) {
    let b = m.as_bytes();
    assert!(m.starts_with("1:"), "no queue id: {m}");
    let mut i = 2;
    while i < b.len() {
        match b[i] {
            b'|' => i += 2,
            b':' => return (&m[..=i], &m[i + 1..]),
            _ => i += 1,
        }
    }
    panic!("no location separator: {m}");
}

/// The token the emulator accepts in tests.
pub const TOKEN: &str = "00test-TOKEN-a1b2c3d4e5f6-never-log-me";

/// Writes an oktawatch config for one org and returns its path.
pub fn write_config(dir: &Path, org_url: &str, socket: &Path, extra: &str) -> PathBuf {
    let org = format!(
        r#"
[[okta]]
name = "test"
org_url = "{org_url}"
token_env = "OKTAWATCH_TEST_TOKEN"
poll_interval = "1s"
page_limit = 100
"#
    );
    write_config_for(dir, &org, socket, extra)
}

/// Writes `dir/oktawatch.toml` for these `[[okta]]` orgs (TOML text), the
/// Wazuh socket and `dir/state` (without fsync; `extra` goes into `[state]`
/// and may open further sections), and returns its path.
pub fn write_config_for(dir: &Path, orgs: &str, socket: &Path, extra: &str) -> PathBuf {
    let text = format!(
        r#"{orgs}
[wazuh]
socket = "{}"

[state]
dir = "{}"
fsync = false
{extra}
"#,
        socket.display(),
        dir.join("state").display()
    );
    let path = dir.join("oktawatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` realistic sign-in events, `published` one second apart from `start_ms`, unique uuids.
pub fn make_events(n: usize, start_ms: i64, tag: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let published = oktawatch::event::format_ms(start_ms + i as i64 * 1000);
            json!({
                "uuid": uuid_for(tag, i),
                "published": published,
                "eventType": "user.session.start",
                "version": "0",
                "severity": "INFO",
                "displayMessage": "User login to Okta",
                "actor": {"id": format!("00u{i:017}"), "type": "User", "alternateId": format!("user{}@example.com", i % 50), "displayName": "Test User"},
                "client": {"userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"}, "zone": "null", "device": "Computer", "ipAddress": "198.51.100.10",
                           "geographicalContext": {"city": "Chicago", "state": "Illinois", "country": "United States", "postalCode": "60601", "geolocation": {"lat": 41.88, "lon": -87.62}}},
                "outcome": {"result": "SUCCESS", "reason": null},
                "target": [],
                "transaction": {"type": "WEB", "id": format!("tx{i}"), "detail": {}},
                "debugContext": {"debugData": {"requestUri": "/idp/idx/identify", "seq": i, "tag": tag}},
                "authenticationContext": {"externalSessionId": format!("idx{i}")},
                "securityContext": {"asNumber": 7922, "asOrg": "comcast", "isp": "comcast", "domain": "comcast.net", "isProxy": false}
            })
        })
        .collect()
}

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Every file below `dir`, recursively (for scanning state folders).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

/// A plain HTTP/1.1 GET to `addr` (host:port); returns (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The metrics address a service logged (`metrics on http://ADDR/metrics`).
pub fn metrics_addr(log: &str) -> String {
    log.split("metrics on http://").nth(1).expect("the metrics address in the log").split('/').next().unwrap().to_string()
}

/// What each detection of the built-in pack says about itself, as the runtime loads it.
pub fn pack_infos() -> Vec<oktawatch::runtime::Info> {
    use oktawatch::runtime::{LoadOptions, Limits, Runtime, loader, state::StateStore};
    assert!(!oktawatch::pack::FILES.is_empty(), "this build has no built-in pack");
    let rt = Runtime::new(Limits::default(), Arc::new(StateStore::in_memory(1, 1)), Default::default(), None)
        .expect("a runtime");
    oktawatch::pack::FILES
        .iter()
        .map(|f| {
            let compiled = loader::compile_bytes(rt.engine(), f.wasm, None)
                .unwrap_or_else(|e| panic!("pack detection {}: {e}", f.name));
            let opts = LoadOptions { fresh_state: true, config: Some(String::new()) };
            let det = rt
                .load_compiled(compiled, Path::new(f.name), &opts)
                .unwrap_or_else(|e| panic!("pack detection {}: {e}", f.name));
            det.info.clone()
        })
        .collect()
}

/// The public samples as Okta would push them now: each with a fresh uuid
/// and a recent `published` (so that polling, from an hour back, serves them too).
pub fn fresh_samples(tag: &str) -> Vec<String> {
    let text = std::fs::read_to_string(samples_path()).expect("tests/fixtures/okta-samples/events.ndjson");
    let now = now_ms();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            v["uuid"] = json!(uuid_for(tag, i));
            v["published"] = json!(oktawatch::event::format_ms(now - 60_000 + i as i64));
            serde_json::to_string(&v).unwrap()
        })
        .collect()
}

/// An event hook request body around the events' exact texts.
pub fn hook_body(events: &[String]) -> Vec<u8> {
    format!(
        r#"{{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://example.okta.com/api/v1/eventHooks/who","eventId":"b5d4c5e2","data":{{"events":[{}]}},"eventTime":"2026-01-01T00:00:00.000Z","contentType":"application/json"}}"#,
        events.join(",")
    )
    .into_bytes()
}

/// The `uuid` of an event given as JSON text.
pub fn uuid_of(text: &str) -> String {
    serde_json::from_str::<Value>(text).unwrap()["uuid"].as_str().unwrap().to_string()
}

/// How many times each uuid occurs.
pub fn count_each(uuids: &[String]) -> std::collections::HashMap<&str, usize> {
    let mut counts = std::collections::HashMap::new();
    for u in uuids {
        *counts.entry(u.as_str()).or_default() += 1;
    }
    counts
}

/// The value of one series in a Prometheus text exposition.
pub fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// One org against its own emulator: a temp dir (short path: socket paths are
/// limited), the emulator, where the Wazuh socket goes, and a config (`extra`
/// goes into its `[state]` section and may open further sections).
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub okta: Okta,
    pub socket: PathBuf,
    pub config: PathBuf,
}

/// See [`Setup`].
pub fn setup(extra: &str) -> Setup {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let config = write_config(dir.path(), &okta.url(), &socket, extra);
    Setup { dir, okta, socket, config }
}

/// `oktawatch run --config <config>` with the emulator's token.
pub fn start(config: &Path) -> Host {
    Host::start(&["run", "--config", config.to_str().unwrap()], &[("OKTAWATCH_TEST_TOKEN", TOKEN)])
}

impl Setup {
    /// The config written again for an org that takes event hooks (its
    /// secret from `OKTAWATCH_TEST_HOOK_SECRET`), polling every
    /// `poll_interval`; `extra` as in [`setup`] (it opens `[hooks]`).
    pub fn hook_config(&self, poll_interval: &str, extra: &str) -> PathBuf {
        let path = write_config(self.dir.path(), &self.okta.url(), &self.socket, extra);
        let text = std::fs::read_to_string(&path).unwrap().replacen(
            "poll_interval = \"1s\"\n",
            &format!("poll_interval = \"{poll_interval}\"\nhook_secret_env = \"OKTAWATCH_TEST_HOOK_SECRET\"\n"),
            1,
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// [`start`] for a [`Setup::hook_config`]: the emulator's token and the hook secret.
pub fn start_hooked(config: &Path, secret: &str) -> Host {
    Host::start(
        &["run", "--config", config.to_str().unwrap()],
        &[("OKTAWATCH_TEST_TOKEN", TOKEN), ("OKTAWATCH_TEST_HOOK_SECRET", secret)],
    )
}

/// An HTTP client (reqwest over rustls) driven from the sync tests, on a
/// runtime of its own.
pub struct Http {
    pub rt: tokio::runtime::Runtime,
    pub client: reqwest::Client,
}

impl Http {
    /// The client `builder` makes, with a 20 s timeout.
    pub fn with(builder: reqwest::ClientBuilder) -> Http {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Http { rt, client: builder.timeout(Duration::from_secs(20)).build().unwrap() }
    }

    /// (status, body)
    pub fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> (u16, String) {
        let mut req = self.client.request(method.parse().unwrap(), url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        self.rt.block_on(async {
            let r = req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e:?}"));
            (r.status().as_u16(), r.text().await.unwrap())
        })
    }

    /// An event hook delivery: `body` POSTed with `secret` as its authorization.
    pub fn post(&self, url: &str, secret: &str, body: Vec<u8>) -> (u16, String) {
        self.send("POST", url, &[("authorization", secret)], Some(body))
    }
}
