//! The service with a detections folder of compiled test guests, for the
//! runtime suites (`runtime.rs`, `hostile_runtime.rs`): the [`Rig`], and the
//! helpers both suites read the service's output with.

use crate::{EmulatorOptions, Host, Okta, TOKEN, Wazuh, guest, make_events, now_ms, write_config};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long anything a rig waits for may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// A private world: temp dir, detections folder, socket, emulator, config.
pub struct Rig {
    pub _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub dets: PathBuf,
    pub cfg: PathBuf,
    pub okta: Okta,
    pub wazuh: Wazuh,
}

impl Rig {
    /// With these test guests in the folder (each as `<name>.wasm`).
    pub fn new(guests: &[&str]) -> Rig {
        Self::with(guests, "")
    }

    /// … and more `[detections]` settings.
    pub fn with(guests: &[&str], detections: &str) -> Rig {
        let tmp = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
        let root = tmp.path().to_path_buf();
        let dets = root.join("det");
        std::fs::create_dir(&dets).unwrap();
        for g in guests {
            install(&dets, &std::fs::read(guest(g)).unwrap(), &format!("{g}.wasm"));
        }
        let wazuh = Wazuh::bind(&root.join("q"));
        let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
        // A roomy per-event budget: the tests run on a busy machine.
        let extra = format!(
            "\n[detections]\ndir = \"{}\"\nsuppression = \"0s\"\ntimeout = \"250ms\"\n{detections}\n",
            dets.display()
        );
        let cfg = write_config(&root, &okta.url(), &wazuh.path, &extra);
        Rig { _tmp: tmp, root, dets, cfg, okta, wazuh }
    }

    /// `oktawatch run` on the rig's config, `log` its `OKTAWATCH_LOG` filter.
    pub fn run(&self, log: &str) -> Host {
        Host::start(
            &["run", "--config", self.cfg.to_str().unwrap()],
            &[("OKTAWATCH_TEST_TOKEN", TOKEN), ("OKTAWATCH_LOG", log), ("NO_COLOR", "1")],
        )
    }

    /// Waits until every uuid has arrived as a raw event.
    pub fn wait_raw(&self, uuids: &[String]) {
        self.wazuh.wait(&format!("{} raw events", uuids.len()), WAIT, |w| {
            let got = w.uuids();
            uuids.iter().all(|u| got.contains(u))
        });
    }
}

/// Puts `bytes` in place as `name` atomically (dotfile, then rename).
pub fn install(dir: &Path, bytes: &[u8], name: &str) {
    let tmp = dir.join(format!(".{name}.part"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// A component whose only import is `name` (an empty instance).
pub fn importing(name: &str, body: &str) -> Vec<u8> {
    wat::parse_str(format!("(component (import \"{name}\" (instance {body})))")).unwrap()
}

/// `n` events from `make_events`, `published` from half an hour ago, shaped by `f`.
pub fn events(n: usize, tag: &str, f: impl Fn(usize, &mut Value)) -> Vec<Value> {
    let mut evs = make_events(n, now_ms() - 30 * 60 * 1000, tag);
    for (i, e) in evs.iter_mut().enumerate() {
        f(i, e);
    }
    evs
}

/// The `uuid` of an event.
pub fn uuid_of(e: &Value) -> String {
    e["uuid"].as_str().unwrap().to_string()
}

/// Alerts (kind `alert`) of one detection, in order.
pub fn alerts_of(w: &Wazuh, id: &str) -> Vec<Value> {
    w.alerts().into_iter().filter(|a| a["kind"] == "alert" && a["detection"]["id"] == id).collect()
}

/// `detection_disabled` notices of one detection, in order.
pub fn disabled_of(w: &Wazuh, id: &str) -> Vec<Value> {
    w.alerts().into_iter().filter(|a| a["kind"] == "detection_disabled" && a["detection"]["id"] == id).collect()
}

/// An alert's or notice's title.
pub fn title(a: &Value) -> &str {
    a["alert"]["title"].as_str().unwrap_or("")
}

/// SIGTERM, and expects a clean exit with no panic.
pub fn stop(h: Host) -> String {
    let (status, log) = h.terminate(WAIT);
    assert!(status.success(), "exit status {status}; log:\n{log}");
    assert!(!log.contains("panicked"), "a panic was logged:\n{log}");
    log
}

/// Log lines that contain every needle.
pub fn log_lines<'a>(log: &'a str, needles: &[&str]) -> Vec<&'a str> {
    log.lines().filter(|l| needles.iter().all(|n| l.contains(n))).collect()
}

/// Waits for a log line that contains every needle.
pub fn wait_line(h: &Host, needles: &[&str]) {
    let started = Instant::now();
    while log_lines(&h.log(), needles).is_empty() {
        assert!(started.elapsed() < WAIT, "timed out waiting for a line with {needles:?}; log:\n{}", h.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
