//! Live reload of the service's config file: on SIGHUP, and when the file
//! changes (the folder holding it is watched as the detections folder is,
//! acted on after the same quiet period, and only when the file's bytes
//! differ from the last ones read: editors write, rename and touch).
//!
//! A reload reads and validates the whole file (every problem at once,
//! detection sections checked against what each detection declares and the
//! host keys). When anything is wrong, every problem is logged, the
//! previous configuration stays in force, and the refusal is counted
//! (`oktawatch_config_reloads_total{result="refused"}`). Otherwise the
//! detections whose `[detections.config.<id>]` section changed are
//! configured again between two pages, their state kept
//! ([`crate::runtime::reconfigure`]), each logged as `detection
//! reconfigured`; the other sections that changed need a restart to take
//! effect, and are named in one warning per change. A config reached
//! through a symlink to another folder is reloaded by SIGHUP only.

use crate::config::Config;
use crate::runtime::Runtime;
use crate::runtime::reconfigure::ReloadCounters;
use crate::runtime::watch::Folder;
use crate::shutdown::Shutdown;
use notify::{RecursiveMode, Watcher};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the config's folder must be quiet before a change is acted on.
const QUIET: Duration = Duration::from_millis(150);

pub struct Reloader {
    path: PathBuf,
    runtime: Arc<Runtime>,
    folder: Option<Arc<Folder>>,
    /// The last configuration accepted (at start, or by a reload).
    accepted: Mutex<Config>,
    /// The hash of the file's bytes last read.
    last_read: Mutex<Option<[u8; 32]>>,
    pub counters: Arc<ReloadCounters>,
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&sha2::Sha256::digest(bytes));
    out
}

/// The top-level sections, and the detection settings outside `config`, that
/// differ between `old` and `new`: none of them is applied without a restart.
pub fn restart_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&old.detections, &new.detections);
    [
        ("okta", old.okta != new.okta),
        ("wazuh", old.wazuh != new.wazuh),
        ("state", old.state != new.state),
        ("sink", old.sink != new.sink),
        ("metrics", old.metrics != new.metrics),
        ("hooks", old.hooks != new.hooks),
        ("detections.dir", a.dir != b.dir),
        ("detections.timeout", a.timeout != b.timeout),
        ("detections.memory_mb", a.memory_mb != b.memory_mb),
        ("detections.suppression", a.suppression != b.suppression),
        ("detections.state_max_keys", a.state_max_keys != b.state_max_keys),
        ("detections.state_max_kb", a.state_max_kb != b.state_max_kb),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

impl Reloader {
    /// `config`: the configuration the service started with, read from `path`.
    pub fn new(path: &Path, config: Config, runtime: Arc<Runtime>, folder: Option<Arc<Folder>>) -> Arc<Reloader> {
        let last_read = std::fs::read(path).ok().map(|b| digest(&b));
        Arc::new(Reloader {
            path: path.to_path_buf(),
            runtime,
            folder,
            accepted: Mutex::new(config),
            last_read: Mutex::new(last_read),
            counters: Arc::new(ReloadCounters::default()),
        })
    }

    /// Reads the file again and applies it, or refuses it; `why` is logged.
    pub fn reload(&self, why: &str) {
        tracing::info!("reloading the configuration {} ({why})", self.path.display());
        match self.apply() {
            Ok(()) => {
                self.counters.ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(problems) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                let list: String = problems.iter().map(|p| format!("\n  - {p}")).collect();
                tracing::error!(
                    "configuration reload refused: {} problem(s) in {}; the previous configuration stays in force:{list}",
                    problems.len(),
                    self.path.display()
                );
            }
        }
    }

    /// True when the file's bytes differ from the last ones read.
    fn changed_on_disk(&self) -> bool {
        match std::fs::read(&self.path) {
            Ok(bytes) => *self.last_read.lock().unwrap() != Some(digest(&bytes)),
            // Gone for a moment (an editor's rename): looked at on its next event.
            Err(_) => false,
        }
    }

    fn apply(&self) -> Result<(), Vec<String>> {
        // Unreadable or not TOML: nothing else can be checked.
        let text = std::fs::read_to_string(&self.path).map_err(|e| vec![format!("cannot read it: {e}")])?;
        *self.last_read.lock().unwrap() = Some(digest(text.as_bytes()));
        let config = Config::parse(&text).map_err(|e| vec![e.to_string()])?;
        // Every other problem at once: the file's, then each detection section's.
        let refused = config.validate().err().map(|p| p.0).unwrap_or_default();
        let configs = super::detection_configs(&config.detections).map_err(|e| vec![format!("detections.config: {e:#}")])?;
        let changed = match &self.folder {
            Some(folder) => folder.reconfigure(configs, refused)?,
            None => self.runtime.reconfigure(configs, refused)?,
        };
        for (id, change) in &changed {
            tracing::info!(detection = %id, "detection reconfigured{}", change.describe());
        }
        let mut accepted = self.accepted.lock().unwrap();
        let restart = restart_sections(&accepted, &config);
        if !restart.is_empty() {
            tracing::warn!(
                "{} changed in {}: not applied until oktawatch is restarted (a reload applies [detections.config.<id>] sections only)",
                restart.join(", "),
                self.path.display()
            );
        }
        tracing::info!(
            "configuration reloaded: {} detection(s) reconfigured",
            changed.len()
        );
        *accepted = config;
        Ok(())
    }

    /// Reloads on SIGHUP and on changes of the file until `shutdown`; the
    /// file is watched while the returned watcher lives.
    pub fn start(self: &Arc<Self>, mut shutdown: Shutdown) -> anyhow::Result<notify::RecommendedWatcher> {
        use tokio::signal::unix::{SignalKind, signal};
        let (tx, rx) = std::sync::mpsc::channel::<&'static str>();
        let me = self.clone();
        std::thread::Builder::new().name("reload".into()).spawn(move || {
            while let Ok(why) = rx.recv() {
                me.reload(why);
            }
        })?;
        // Registered now: from here on SIGHUP reloads instead of ending the process.
        let mut hup = signal(SignalKind::hangup())?;
        let on_hup = tx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    got = hup.recv() => match got {
                        Some(()) => { let _ = on_hup.send("SIGHUP"); }
                        None => return,
                    },
                    _ = shutdown.changed() => return,
                }
            }
        });
        let dir = match self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(d) => d.to_path_buf(),
            None => PathBuf::from("."),
        };
        let (ev_tx, ev_rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(move |ev| {
            let _ = ev_tx.send(ev);
        })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        let me = Arc::downgrade(self);
        std::thread::Builder::new().name("watch-config".into()).spawn(move || {
            let mut pending = false;
            loop {
                let ev = if pending { ev_rx.recv_timeout(QUIET).ok() } else { ev_rx.recv().ok() };
                match ev {
                    Some(Ok(ev)) if !matches!(ev.kind, notify::EventKind::Access(_)) => pending = true,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => tracing::warn!("watching the configuration's folder: {e}"),
                    None if pending => {
                        pending = false;
                        let Some(me) = me.upgrade() else { return };
                        if me.changed_on_disk() {
                            let _ = tx.send("the file changed");
                        }
                    }
                    // The watcher is gone.
                    None => return,
                }
            }
        })?;
        tracing::info!(
            "the configuration is reloaded on SIGHUP and when {} changes (detection sections; others need a restart)",
            self.path.display()
        );
        Ok(watcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_that_need_a_restart_are_named() {
        let base = "[[okta]]\nname='p'\norg_url='https://x.okta.com'\ntoken_env='T'\n";
        let old = Config::parse(&format!("{base}[detections]\ntimeout='10ms'\n[detections.config.d]\nx=1\n")).unwrap();
        let same = Config::parse(&format!("{base}[detections]\ntimeout='10ms'\n[detections.config.d]\nx=2\n")).unwrap();
        assert!(restart_sections(&old, &same).is_empty(), "detection sections reload live");
        let new = Config::parse(&format!(
            "{}poll_interval='9s'\n[wazuh]\nlocation='x'\n[detections]\ntimeout='20ms'\n",
            base
        ))
        .unwrap();
        assert_eq!(restart_sections(&old, &new), ["okta", "wazuh", "detections.timeout"]);
    }
}
