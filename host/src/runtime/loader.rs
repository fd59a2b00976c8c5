//! Turning a `.wasm` file into a checked, ready-to-instantiate detection.
//!
//! Accepts a component, or a core module built with the SDK for
//! `wasm32-unknown-unknown` (its embedded WIT metadata is turned into a
//! component here). Rejects anything that imports outside the contract or
//! speaks another version of it. A file over [`MAX_WASM_BYTES`] is refused
//! from its size, before it is read; a component's imports are read from the
//! binary and checked before it is compiled (compiling a large component
//! costs seconds of CPU), and again on the compiled type.
//!
//! Compiled artifacts are cached by the sha256 of the file and the engine's
//! compatibility hash, in a directory only the host writes: deserializing is
//! trusted code loading (native code runs as is), so an artifact never comes
//! from a place a detection author controls. A cache directory or artifact
//! not owned by the effective user, or writable by group or others, is not
//! used: the file is compiled instead, with one warning per path.

use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The contract's package and versions, as imported by a detection: 0.2,
/// and 0.1 still loaded (see [`super::contract`]).
pub const PACKAGE: &str = "oktawatch:detection";
pub const VERSION: &str = "0.2.0";
pub const VERSIONS: &[&str] = &["0.2.0", "0.1.0"];
const INTERFACES: &[&str] = &["types", "event", "state", "log"];

/// Largest `.wasm` file loaded. The pack's detections are ~100-300 KiB; a
/// component with a whole language runtime (CPython) is tens of MiB.
pub const MAX_WASM_BYTES: u64 = 64 << 20;

/// Why a file was not loaded. Callers tell these apart (metrics, messages).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    #[error("not a WebAssembly file (bad magic bytes)")]
    NotWasm,
    #[error("file of {size} bytes, over the bound of {max} bytes for a detection")]
    TooLarge { size: u64, max: u64 },
    #[error("not a detection component: {0:#}")]
    Componentize(anyhow::Error),
    #[error("does not compile: {0:#}")]
    Compile(anyhow::Error),
    #[error("imports `{0}`, which is outside the detection contract and the WASI 0.2 it links (no incoming HTTP, key-value stores, WASI 0.3 or other host services)")]
    ForbiddenImport(String),
    #[error("speaks contract `{found}`; this host speaks {PACKAGE}@{VERSION} and @0.1.0")]
    ContractVersion { found: String },
    #[error("does not match the detection contract: {0:#}")]
    Contract(anyhow::Error),
    #[error("failed in describe: {0}")]
    Describe(String),
    #[error("bad description: {0}")]
    BadInfo(String),
    #[error("rejected its config: {0}")]
    Configure(String),
    /// Its config section does not fit the keys it declares (contract 0.2): every problem.
    #[error("config section [detections.config.{id}]: {}", .problems.join("; "))]
    Config { id: String, problems: Vec<String> },
    #[error("id `{id}` is claimed by more than one file ({}): none of them is loaded until only one claims it", .others.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DuplicateId { id: String, others: Vec<PathBuf> },
}

impl LoadError {
    /// A short label for metrics and listings.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadError::Read(_) => "read",
            LoadError::NotWasm => "not_wasm",
            LoadError::TooLarge { .. } => "too_large",
            LoadError::Componentize(_) => "not_component",
            LoadError::Compile(_) => "compile",
            LoadError::ForbiddenImport(_) => "forbidden_import",
            LoadError::ContractVersion { .. } => "contract_version",
            LoadError::Contract(_) => "contract",
            LoadError::Describe(_) => "describe",
            LoadError::BadInfo(_) => "bad_info",
            LoadError::Configure(_) => "configure",
            LoadError::Config { .. } => "config",
            LoadError::DuplicateId { .. } => "duplicate_id",
        }
    }
}

/// A compiled, contract-checked component and where it came from.
#[derive(Clone)]
pub struct Compiled {
    pub component: Component,
    pub sha256: String,
    pub from_cache: bool,
}

/// Reads, (componentizes,) checks and compiles one file, using the cache when it can.
pub fn compile(engine: &Engine, path: &Path, cache: Option<&Path>) -> Result<Compiled, LoadError> {
    let bytes = read_bounded(path)?;
    compile_bytes(engine, &bytes, cache)
}

/// A file's bytes, refused from its size when over [`MAX_WASM_BYTES`].
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, LoadError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_WASM_BYTES {
        return Err(LoadError::TooLarge { size, max: MAX_WASM_BYTES });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // It may grow while being read.
    file.take(MAX_WASM_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_WASM_BYTES {
        return Err(LoadError::TooLarge { size: bytes.len() as u64, max: MAX_WASM_BYTES });
    }
    Ok(bytes)
}

pub fn compile_bytes(engine: &Engine, bytes: &[u8], cache: Option<&Path>) -> Result<Compiled, LoadError> {
    if bytes.len() as u64 > MAX_WASM_BYTES {
        return Err(LoadError::TooLarge { size: bytes.len() as u64, max: MAX_WASM_BYTES });
    }
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let cache = cache.filter(|dir| !dir.exists() || trusted(dir, false));
    let cached = cache.map(|dir| dir.join(format!("{sha256}-{:016x}.cwasm", engine_hash(engine))));
    if let Some(file) = cached.as_ref().filter(|f| f.symlink_metadata().is_ok() && trusted(f, true)) {
        // SAFETY: the cache directory and the file are ours and writable by
        // no one else (checked just above); the file name binds the source
        // hash and the engine.
        match unsafe { Component::deserialize_file(engine, file) } {
            Ok(component) => {
                check_imports(engine, &component)?;
                return Ok(Compiled { component, sha256, from_cache: true });
            }
            Err(e) => tracing::warn!("ignoring unusable cache entry {}: {e:#}", file.display()),
        }
    }
    let component_bytes = if is_core_module(bytes) {
        wit_component::ComponentEncoder::default()
            .module(bytes)
            .and_then(|enc| enc.validate(true).encode())
            .map_err(|e| LoadError::Componentize(bounded(e)))?
    } else {
        bytes.to_vec()
    };
    check_binary_imports(&component_bytes)?;
    let component = Component::new(engine, &component_bytes).map_err(|e| LoadError::Compile(bounded(e.into())))?;
    check_imports(engine, &component)?;
    if let Some(file) = &cached
        && let Err(e) = write_cache(&component, file) {
            tracing::warn!("cannot write the compile cache {}: {e:#}", file.display());
        }
    Ok(Compiled { component, sha256, from_cache: false })
}

/// An error whose text may quote the file (names of its imports, exports,
/// functions), cut to [`super::MAX_REASON`] bytes.
pub fn bounded(e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(super::cut(&format!("{e:#}"), super::MAX_REASON))
}

/// A core module has version 1; a component has the component layer.
fn is_core_module(bytes: &[u8]) -> bool {
    bytes[4..8] == [1, 0, 0, 0]
}

fn engine_hash(engine: &Engine) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    h.finish()
}

/// Paths already warned about (once each).
static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Whether a cache directory (or artifact) may be trusted: owned by the
/// effective user, not writable by group or others, and (for an artifact)
/// a plain file, not a link. Warns once per path when not.
fn trusted(path: &Path, artifact: bool) -> bool {
    let md = if artifact { std::fs::symlink_metadata(path) } else { std::fs::metadata(path) };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let problem = match md {
        Err(e) => Some(format!("cannot be examined: {e}")),
        Ok(md) if artifact && !md.file_type().is_file() => Some("is not a plain file".to_string()),
        Ok(md) if md.uid() != me => Some(format!("is owned by uid {}, not by this process's uid {me}", md.uid())),
        Ok(md) if md.mode() & 0o022 != 0 => Some(format!("is writable by group or others (mode {:04o})", md.mode() & 0o7777)),
        Ok(_) => None,
    };
    let Some(problem) = problem else { return true };
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if warned.get_or_insert_with(HashSet::new).insert(path.to_path_buf()) {
        let what = if artifact { "compile cache entry" } else { "compile cache directory" };
        tracing::warn!(
            "not using the {what} {}: it {problem}; compiled artifacts are run as native code, so detections are compiled instead",
            path.display()
        );
    }
    false
}

fn write_cache(component: &Component, file: &Path) -> anyhow::Result<()> {
    let dir = file.parent().expect("cache files live in a directory");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let bytes = component.serialize()?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(file)?;
    Ok(())
}

/// Every import must be one of the contract's interfaces at our version.
fn check_imports(engine: &Engine, component: &Component) -> Result<(), LoadError> {
    let ty = component.component_type();
    for (name, item) in ty.imports(engine) {
        check_import(name, matches!(item.ty, ComponentItem::Type(_) | ComponentItem::Resource(_)))?;
    }
    Ok(())
}

/// The same check on the binary, before compiling: the outer component's
/// import section (a walk over the sections, no validation, no code).
fn check_binary_imports(bytes: &[u8]) -> Result<(), LoadError> {
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        // A malformed binary is left for the compiler to refuse with its own words.
        let Ok(payload) = payload else { return Ok(()) };
        match payload {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let Ok(import) = import else { return Ok(()) };
                    check_import(import.name.name, matches!(import.ty, wasmparser::ComponentTypeRef::Type(_)))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// One import by name; `is_type`: it imports a type, not a function or instance.
fn check_import(name: &str, is_type: bool) -> Result<(), LoadError> {
    // The world's own `use` of contract types (`okta-event`, …) appears
    // as a bare type import: a type grants no capability.
    if !name.contains(':') && is_type {
        return Ok(());
    }
    let shown = || super::cut(name, 256);
    // WASI 0.2, linked with nothing behind it (see `super::wasi`).
    if super::wasi::is_allowed(name) {
        return Ok(());
    }
    let Some(rest) = name.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')) else {
        return Err(LoadError::ForbiddenImport(shown()));
    };
    let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
    if !INTERFACES.contains(&iface) {
        return Err(LoadError::ForbiddenImport(shown()));
    }
    if !compatible(version) {
        return Err(LoadError::ContractVersion { found: shown() });
    }
    Ok(())
}

/// Same major.minor as one of ours, for 0.x as semver has it.
fn compatible(version: &str) -> bool {
    let theirs: Vec<&str> = version.split('.').collect();
    VERSIONS.iter().any(|v| {
        let ours: Vec<&str> = v.split('.').collect();
        theirs.len() == 3 && theirs[0] == ours[0] && theirs[1] == ours[1]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(compatible("0.2.0"));
        assert!(!compatible("0.3.0"));
        assert!(!compatible(""));
    }
}
