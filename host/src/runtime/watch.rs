//! The detections folder: load everything at start, then follow changes.
//!
//! Every `*.wasm` (not dotfiles or editor/temp names) is loaded in
//! parallel at start, in the caller's thread ([`Folder::load`]) or in the
//! background ([`Folder::load_in_background`]: the service's orgs start
//! meanwhile, and events handled before the set is installed do not run
//! through it). The folder is watched: after a short quiet period each
//! touched path is examined again: new or changed content is loaded and
//! swapped in between two pages (state kept: it is keyed by detection id); a
//! removed file is unloaded; a broken file is rejected with a clear log line
//! while the previous version keeps running. In the background load, a large
//! file with nothing in the compile cache (a Python or JavaScript runtime:
//! seconds of CPU) is compiled after the rest of the set is installed, and
//! joins it when ready ([`LARGE_BYTES`]).
//!
//! A detection id belongs to one file. Each file is first compiled and
//! described with no state and no config; when two or more files claim the
//! same id, every claimant is refused (loudly, naming the others), and none
//! is given that id's persisted state or config: first come is not first
//! served, or any file dropped in the folder could take a real detection's
//! state. Once only one file claims the id again (the others removed or
//! changed), it is examined again and loaded.

use super::loader::{self, LoadError};
use super::{Described, DetectionSet, LoadOptions, Loaded, Runtime};
use notify::{RecursiveMode, Watcher};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the folder must be quiet before changes are acted on.
const QUIET: Duration = Duration::from_millis(150);

/// In a background load, files over this size with no compiled artifact in
/// the cache (a language runtime: CPython, SpiderMonkey; 10-20 MiB, seconds
/// of CPU to compile) are loaded after the others are installed, so that
/// they hold up neither the orgs nor the rest of the detections.
pub const LARGE_BYTES: u64 = 4 << 20;

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    pub file: PathBuf,
    pub id: Option<String>,
    pub version: Option<String>,
    /// `loaded`, or the kind of rejection (`not_wasm`, `forbidden_import`, …).
    pub status: String,
    pub message: Option<String>,
}

pub struct Folder {
    dir: PathBuf,
    runtime: Arc<Runtime>,
    files: Mutex<BTreeMap<PathBuf, FileStatus>>,
    /// Held while the set in force is being changed (the first load, a rescan).
    changing: Mutex<()>,
    /// True once the first load has installed its set.
    loaded: tokio::sync::watch::Sender<bool>,
    pub reloads: AtomicU64,
    pub rejections: AtomicU64,
}

/// An event of a file being opened or read, not changed.
fn is_read(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode};
    matches!(kind, notify::EventKind::Access(a) if !matches!(a, AccessKind::Close(AccessMode::Write)))
}

/// True for files the folder should load.
pub fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    name.ends_with(".wasm") && !name.starts_with('.') && !name.starts_with('#') && !name.contains(".tmp")
}

impl Folder {
    fn new(runtime: Arc<Runtime>, dir: &Path) -> anyhow::Result<Arc<Folder>> {
        std::fs::read_dir(dir).map_err(|e| anyhow::anyhow!("detections folder {}: {e}", dir.display()))?;
        Ok(Arc::new(Folder {
            dir: dir.to_path_buf(),
            runtime,
            files: Mutex::new(BTreeMap::new()),
            changing: Mutex::new(()),
            loaded: tokio::sync::watch::Sender::new(false),
            reloads: AtomicU64::new(0),
            rejections: AtomicU64::new(0),
        }))
    }

    /// Loads every detection in `dir` (in parallel) and installs the set.
    pub fn load(runtime: Arc<Runtime>, dir: &Path) -> anyhow::Result<Arc<Folder>> {
        let folder = Folder::new(runtime, dir)?;
        folder.load_all(false)?;
        Ok(folder)
    }

    /// [`Folder::load`] in a thread of its own: returns at once; the set is
    /// installed when every file has been compiled ([`Folder::wait_loaded`]).
    pub fn load_in_background(runtime: Arc<Runtime>, dir: &Path) -> anyhow::Result<Arc<Folder>> {
        let folder = Folder::new(runtime, dir)?;
        let f = folder.clone();
        std::thread::Builder::new().name("detections".into()).spawn(move || {
            if let Err(e) = f.load_all(true) {
                tracing::error!("loading the detections folder: {e:#}");
                // Nothing to wait for: events go on without detections.
                f.loaded.send_replace(true);
            }
        })?;
        Ok(folder)
    }

    /// Whether the first load has installed its set.
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Waits until the first load has installed its set, or `timeout` has
    /// passed; true when it has.
    pub async fn wait_loaded(&self, timeout: Duration) -> bool {
        let mut rx = self.loaded.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|done| *done)).await.is_ok_and(|r| r.is_ok())
    }

    /// `defer_large`: install the set before compiling large files (see [`LARGE_BYTES`]).
    fn load_all(&self, defer_large: bool) -> anyhow::Result<()> {
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        let started = Instant::now();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| anyhow::anyhow!("detections folder {}: {e}", self.dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_candidate(p) && p.is_file())
            .collect();
        paths.sort();
        let (engine, cache) = (self.runtime.engine(), self.runtime.cache_dir());
        let (later, paths): (Vec<PathBuf>, Vec<PathBuf>) =
            paths.into_iter().partition(|p| defer_large && loader::is_slow_to_load(engine, p, LARGE_BYTES, cache));
        let described: Vec<(PathBuf, Result<Described, LoadError>)> =
            paths.into_par_iter().map(|p| (p.clone(), self.runtime.describe_file(&p))).collect();
        let mut claims: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for (path, d) in &described {
            if let Ok(d) = d {
                claims.entry(d.info.id.clone()).or_default().push(path.clone());
            }
        }
        let mut unique = Vec::new();
        for (path, d) in described {
            match d {
                Ok(d) if claims[&d.info.id].len() > 1 => {
                    let others = claims[&d.info.id].iter().filter(|p| **p != path).cloned().collect();
                    let id = d.info.id.clone();
                    self.record_rejected(&path, &LoadError::DuplicateId { id: id.clone(), others }, Some(id), false);
                }
                Ok(d) => unique.push((path, d)),
                Err(e) => self.record_rejected(&path, &e, None, false),
            }
        }
        let attached: Vec<(PathBuf, String, Result<Arc<Loaded>, LoadError>)> = unique
            .into_par_iter()
            .map(|(p, d)| {
                let id = d.info.id.clone();
                let r = self.runtime.attach(d, &p, &LoadOptions::default());
                (p, id, r)
            })
            .collect();
        let mut loaded = Vec::new();
        for (path, id, r) in attached {
            match r {
                Ok(d) => {
                    self.record_loaded(&d);
                    loaded.push(d);
                }
                Err(e) => self.record_rejected(&path, &e, Some(id), false),
            }
        }
        let n = loaded.len();
        let mut disabled: Vec<&str> = loaded.iter().filter(|d| !d.host.enabled).map(|d| d.info.id.as_str()).collect();
        disabled.sort();
        let disabled = disabled.join(", ");
        self.runtime.install(DetectionSet::new(loaded));
        self.loaded.send_replace(true);
        tracing::info!("{n} detections loaded from {} in {:.2?}", self.dir.display(), started.elapsed());
        if !disabled.is_empty() {
            tracing::info!("detections disabled (enabled = false; loaded, not run): {disabled}");
        }
        if !later.is_empty() {
            tracing::info!(
                "compiling {} large detection file(s) in the background (each is installed when ready): {}",
                later.len(),
                later.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            let described: Vec<(PathBuf, Result<Described, LoadError>)> =
                later.into_par_iter().map(|p| (p.clone(), self.runtime.describe_file(&p))).collect();
            for (path, d) in described {
                self.settle(&path, d);
            }
        }
        Ok(())
    }

    fn record_loaded(&self, d: &Loaded) {
        tracing::debug!(detection = %d.info.id, version = %d.info.version, file = %d.source.display(), "detection loaded");
        self.files.lock().unwrap().insert(
            d.source.clone(),
            FileStatus {
                file: d.source.clone(),
                id: Some(d.info.id.clone()),
                version: Some(d.info.version.clone()),
                status: "loaded".into(),
                message: None,
            },
        );
    }

    /// `id`: the id the file claims, when it got as far as saying.
    fn record_rejected(&self, path: &Path, e: &LoadError, id: Option<String>, keeping: bool) {
        self.rejections.fetch_add(1, Ordering::Relaxed);
        let keep = if keeping { "; the previous version keeps running" } else { "" };
        tracing::error!(file = %path.display(), kind = e.kind(), "detection rejected: {e}{keep}");
        let mut files = self.files.lock().unwrap();
        let prev = files.get(path).cloned();
        let version = if keeping { prev.as_ref().and_then(|p| p.version.clone()) } else { None };
        files.insert(
            path.to_path_buf(),
            FileStatus {
                file: path.to_path_buf(),
                id: id.or_else(|| prev.as_ref().and_then(|p| p.id.clone())),
                version,
                status: e.kind().into(),
                message: Some(format!("{e}{keep}")),
            },
        );
    }

    /// What each file in the folder is (for `detections list` and the status file).
    pub fn statuses(&self) -> Vec<FileStatus> {
        self.files.lock().unwrap().values().cloned().collect()
    }

    /// Looks at one path again: load, replace, unload, or reject.
    pub fn rescan(&self, path: &Path) {
        if !is_candidate(path) {
            return;
        }
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        let claimed_before = self.files.lock().unwrap().get(path).and_then(|f| f.id.clone());
        self.examine(path);
        let claimed_now = self.files.lock().unwrap().get(path).and_then(|f| f.id.clone());
        // Files refused for sharing the id this one claimed may now be alone with it.
        if let Some(id) = claimed_before.filter(|id| claimed_now.as_ref() != Some(id)) {
            for other in self.refused_duplicates(&id, path) {
                self.examine(&other);
            }
        }
    }

    /// Files other than `except` refused because they claim `id` with another.
    fn refused_duplicates(&self, id: &str, except: &Path) -> Vec<PathBuf> {
        let files = self.files.lock().unwrap();
        files
            .values()
            .filter(|f| f.status == "duplicate_id" && f.id.as_deref() == Some(id) && f.file != except)
            .map(|f| f.file.clone())
            .collect()
    }

    fn examine(&self, path: &Path) {
        let set = self.runtime.current();
        let current = set.detections.iter().find(|d| d.source == path).cloned();
        if !path.is_file() {
            if let Some(old) = current {
                let rest: Vec<Arc<Loaded>> = set.detections.iter().filter(|d| d.source != path).cloned().collect();
                self.runtime.install(DetectionSet::new(rest));
                tracing::info!(detection = %old.info.id, file = %path.display(), "detection unloaded (file removed)");
            }
            self.files.lock().unwrap().remove(path);
            return;
        }
        if let (Some(old), Ok(bytes)) = (&current, loader::read_bounded(path)) {
            use sha2::Digest;
            if hex::encode(sha2::Sha256::digest(&bytes)) == old.sha256 {
                return;
            }
        }
        self.settle(path, self.runtime.describe_file(path));
    }

    /// A file compiled and described (or not): loads, replaces or rejects it.
    fn settle(&self, path: &Path, described: Result<Described, LoadError>) {
        let set = self.runtime.current();
        let current = set.detections.iter().find(|d| d.source == path).cloned();
        let described = match described {
            Ok(d) => d,
            Err(e) => return self.record_rejected(path, &e, None, current.is_some()),
        };
        let id = described.info.id.clone();
        let mut others: Vec<PathBuf> = set.detections.iter().filter(|o| o.info.id == id && o.source != path).map(|o| o.source.clone()).collect();
        others.extend(self.refused_duplicates(&id, path));
        if !others.is_empty() {
            // Every claimant is refused: the one running that id is unloaded too.
            let squatted: Vec<Arc<Loaded>> = set.detections.iter().filter(|o| o.info.id == id && o.source != path).cloned().collect();
            if !squatted.is_empty() {
                let rest: Vec<Arc<Loaded>> = set.detections.iter().filter(|d| d.info.id != id || d.source == path).cloned().collect();
                self.runtime.install(DetectionSet::new(rest));
                for o in &squatted {
                    let e = LoadError::DuplicateId { id: id.clone(), others: vec![path.to_path_buf()] };
                    tracing::error!(detection = %id, file = %o.source.display(), "detection unloaded: {} also claims its id", path.display());
                    self.record_rejected(&o.source, &e, Some(id.clone()), false);
                }
            }
            let e = LoadError::DuplicateId { id: id.clone(), others };
            return self.record_rejected(path, &e, Some(id), current.is_some());
        }
        let new = match self.runtime.attach(described, path, &LoadOptions::default()) {
            Ok(new) => new,
            Err(e) => return self.record_rejected(path, &e, Some(id), current.is_some()),
        };
        let set = self.runtime.current();
        let mut next: Vec<Arc<Loaded>> = set.detections.iter().filter(|d| d.source != path).cloned().collect();
        match &current {
            Some(old) => tracing::info!(detection = %new.info.id, file = %path.display(), "detection replaced: version {} → {}", old.info.version, new.info.version),
            None => tracing::info!(detection = %new.info.id, version = %new.info.version, file = %path.display(), "detection loaded"),
        }
        next.push(new.clone());
        self.runtime.install(DetectionSet::new(next));
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.record_loaded(&new);
    }

    /// A reload of the detections' config sections ([`Runtime::reconfigure`], `refused` as there),
    /// never during a change of the folder; files refused for their section
    /// before (`config`, `configure`) whose section changed are examined again.
    pub fn reconfigure(
        &self,
        configs: BTreeMap<String, String>,
        refused: Vec<String>,
    ) -> Result<Vec<(String, super::reconfigure::Change)>, Vec<String>> {
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        let before = self.runtime.configs();
        let changed = self.runtime.reconfigure(configs.clone(), refused)?;
        let again: Vec<PathBuf> = self
            .files
            .lock()
            .unwrap()
            .values()
            .filter(|f| matches!(f.status.as_str(), "config" | "configure"))
            .filter(|f| f.id.as_ref().is_some_and(|id| before.get(id) != configs.get(id)))
            .map(|f| f.file.clone())
            .collect();
        for path in again {
            self.examine(&path);
        }
        Ok(changed)
    }

    /// Watches the folder until the returned watcher is dropped.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<notify::RecommendedWatcher> {
        let (tx, rx) = std::sync::mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(move |ev| {
            let _ = tx.send(ev);
        })?;
        watcher.watch(&self.dir, RecursiveMode::NonRecursive)?;
        let folder = Arc::downgrade(self);
        std::thread::Builder::new().name("watch".into()).spawn(move || {
            let mut pending: HashSet<PathBuf> = HashSet::new();
            loop {
                let ev = if pending.is_empty() {
                    match rx.recv() {
                        Ok(ev) => Some(ev),
                        Err(_) => return,
                    }
                } else {
                    match rx.recv_timeout(QUIET) {
                        Ok(ev) => Some(ev),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                };
                match ev {
                    // Reading a file (as the loader does) changes nothing: only writes,
                    // creations, renames and removals are looked at.
                    Some(Ok(ev)) if is_read(&ev.kind) => {}
                    Some(Ok(ev)) => pending.extend(ev.paths.into_iter().filter(|p| is_candidate(p))),
                    Some(Err(e)) => tracing::warn!("watching the detections folder: {e}"),
                    None => {
                        let Some(folder) = folder.upgrade() else { return };
                        let mut paths: Vec<PathBuf> = pending.drain().collect();
                        paths.sort();
                        for p in paths {
                            folder.rescan(&p);
                        }
                    }
                }
            }
        })?;
        Ok(watcher)
    }
}
