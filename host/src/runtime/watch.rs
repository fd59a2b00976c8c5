//! The detections folder: load everything at start, then follow changes.
//!
//! Every `*.wasm` (not dotfiles or editor/temp names) is loaded in
//! parallel at start. The folder is watched: after a short quiet period
//! each touched path is examined again: new or changed content is loaded
//! and swapped in between two pages (state kept: it is keyed by detection
//! id); a removed file is unloaded; a broken file is rejected with a clear
//! log line while the previous version keeps running.

use super::loader::LoadError;
use super::{DetectionSet, Loaded, Runtime};
use notify::{RecursiveMode, Watcher};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the folder must be quiet before changes are acted on.
const QUIET: Duration = Duration::from_millis(150);

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
    pub reloads: AtomicU64,
    pub rejections: AtomicU64,
}

/// True for files the folder should load.
pub fn is_candidate(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    name.ends_with(".wasm") && !name.starts_with('.') && !name.starts_with('#') && !name.contains(".tmp")
}

impl Folder {
    /// Loads every detection in `dir` (in parallel) and installs the set.
    pub fn load(runtime: Arc<Runtime>, dir: &Path) -> anyhow::Result<Arc<Folder>> {
        let folder = Arc::new(Folder {
            dir: dir.to_path_buf(),
            runtime,
            files: Mutex::new(BTreeMap::new()),
            reloads: AtomicU64::new(0),
            rejections: AtomicU64::new(0),
        });
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| anyhow::anyhow!("detections folder {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_candidate(p) && p.is_file())
            .collect();
        paths.sort();
        let results: Vec<(PathBuf, Result<Arc<Loaded>, LoadError>)> =
            paths.into_par_iter().map(|p| (p.clone(), folder.runtime.load(&p))).collect();
        let mut loaded: Vec<Arc<Loaded>> = Vec::new();
        for (path, r) in results {
            let r = r.and_then(|d| match loaded.iter().find(|o| o.info.id == d.info.id) {
                Some(other) => Err(LoadError::DuplicateId { id: d.info.id.clone(), other: other.source.clone() }),
                None => Ok(d),
            });
            match r {
                Ok(d) => {
                    folder.record_loaded(&d);
                    loaded.push(d);
                }
                Err(e) => folder.record_rejected(&path, &e, false),
            }
        }
        folder.runtime.install(DetectionSet::new(loaded));
        Ok(folder)
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

    fn record_rejected(&self, path: &Path, e: &LoadError, keeping: bool) {
        self.rejections.fetch_add(1, Ordering::Relaxed);
        let keep = if keeping { "; the previous version keeps running" } else { "" };
        tracing::error!(file = %path.display(), kind = e.kind(), "detection rejected: {e}{keep}");
        let mut files = self.files.lock().unwrap();
        let prev = files.get(path).cloned();
        files.insert(
            path.to_path_buf(),
            FileStatus {
                file: path.to_path_buf(),
                id: prev.as_ref().and_then(|p| p.id.clone()),
                version: prev.as_ref().and_then(|p| p.version.clone()),
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
        if let (Some(old), Ok(bytes)) = (&current, std::fs::read(path)) {
            use sha2::Digest;
            if hex::encode(sha2::Sha256::digest(&bytes)) == old.sha256 {
                return;
            }
        }
        let result = self.runtime.load(path).and_then(|d| {
            match set.detections.iter().find(|o| o.info.id == d.info.id && o.source != path) {
                Some(other) => Err(LoadError::DuplicateId { id: d.info.id.clone(), other: other.source.clone() }),
                None => Ok(d),
            }
        });
        match result {
            Ok(new) => {
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
            Err(e) => self.record_rejected(path, &e, current.is_some()),
        }
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
