//! Turning a `.wasm` file into a checked, ready-to-instantiate detection.
//!
//! Accepts a component, or a core module built with the SDK for
//! `wasm32-unknown-unknown` (its embedded WIT metadata is turned into a
//! component here). Rejects anything that imports outside the contract or
//! speaks another version of it. Compiled artifacts are cached by the sha256
//! of the file and the engine's compatibility hash, in a directory only the
//! host writes: deserializing is trusted code loading, so an artifact never
//! comes from a place a detection author controls.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The contract's package and version, as imported by a detection.
pub const PACKAGE: &str = "oktawatch:detection";
pub const VERSION: &str = "0.1.0";
const INTERFACES: &[&str] = &["types", "event", "state", "log"];

/// Why a file was not loaded. Callers tell these apart (metrics, messages).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read: {0}")]
    Read(#[from] std::io::Error),
    #[error("not a WebAssembly file (bad magic bytes)")]
    NotWasm,
    #[error("not a detection component: {0:#}")]
    Componentize(anyhow::Error),
    #[error("does not compile: {0:#}")]
    Compile(anyhow::Error),
    #[error("imports `{0}`, which is outside the detection contract (no files, network, clocks, environment)")]
    ForbiddenImport(String),
    #[error("speaks contract `{found}`; this host speaks {PACKAGE}@{VERSION}")]
    ContractVersion { found: String },
    #[error("does not match the detection contract: {0:#}")]
    Contract(anyhow::Error),
    #[error("failed in describe: {0}")]
    Describe(String),
    #[error("bad description: {0}")]
    BadInfo(String),
    #[error("rejected its config: {0}")]
    Configure(String),
    #[error("id `{id}` is already provided by {other}")]
    DuplicateId { id: String, other: PathBuf },
}

impl LoadError {
    /// A short label for metrics and listings.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadError::Read(_) => "read",
            LoadError::NotWasm => "not_wasm",
            LoadError::Componentize(_) => "not_component",
            LoadError::Compile(_) => "compile",
            LoadError::ForbiddenImport(_) => "forbidden_import",
            LoadError::ContractVersion { .. } => "contract_version",
            LoadError::Contract(_) => "contract",
            LoadError::Describe(_) => "describe",
            LoadError::BadInfo(_) => "bad_info",
            LoadError::Configure(_) => "configure",
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
    let bytes = std::fs::read(path)?;
    compile_bytes(engine, &bytes, cache)
}

pub fn compile_bytes(engine: &Engine, bytes: &[u8], cache: Option<&Path>) -> Result<Compiled, LoadError> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let cached = cache.map(|dir| dir.join(format!("{sha256}-{:016x}.cwasm", engine_hash(engine))));
    if let Some(file) = cached.as_ref().filter(|f| f.is_file()) {
        // SAFETY: the cache directory is written only by this host (see the
        // module doc); the file name binds the source hash and the engine.
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
            .map_err(LoadError::Componentize)?
    } else {
        bytes.to_vec()
    };
    let component = Component::new(engine, &component_bytes).map_err(|e| LoadError::Compile(e.into()))?;
    check_imports(engine, &component)?;
    if let Some(file) = &cached
        && let Err(e) = write_cache(&component, file) {
            tracing::warn!("cannot write the compile cache {}: {e:#}", file.display());
        }
    Ok(Compiled { component, sha256, from_cache: false })
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

fn write_cache(component: &Component, file: &Path) -> anyhow::Result<()> {
    let dir = file.parent().expect("cache files live in a directory");
    std::fs::create_dir_all(dir)?;
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
        // The world's own `use` of contract types (`okta-event`, …) appears
        // as a bare type import: a type grants no capability.
        if !name.contains(':')
            && matches!(item.ty, ComponentItem::Type(_) | ComponentItem::Resource(_))
        {
            continue;
        }
        let Some(rest) = name.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')) else {
            return Err(LoadError::ForbiddenImport(name.to_string()));
        };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if !INTERFACES.contains(&iface) {
            return Err(LoadError::ForbiddenImport(name.to_string()));
        }
        if !compatible(version) {
            return Err(LoadError::ContractVersion { found: name.to_string() });
        }
    }
    Ok(())
}

/// Same major.minor for 0.x, as semver has it.
fn compatible(version: &str) -> bool {
    let ours: Vec<&str> = VERSION.split('.').collect();
    let theirs: Vec<&str> = version.split('.').collect();
    theirs.len() == 3 && theirs[0] == ours[0] && theirs[1] == ours[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(compatible("0.1.0"));
        assert!(compatible("0.1.7"));
        assert!(!compatible("0.2.0"));
        assert!(!compatible(""));
    }
}
