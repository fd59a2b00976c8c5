//! The detection pack built into this binary (see `build.rs`).

/// One detection of the pack: its crate name, `.wasm` and test cases.
pub struct PackFile {
    pub name: &'static str,
    pub wasm: &'static [u8],
    /// `cases.json` next to the crate (may be empty).
    pub cases: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/pack.rs"));

/// Writes the pack's `.wasm` files (and their cases) into `dir`.
pub fn export(dir: &std::path::Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    for f in FILES {
        std::fs::write(dir.join(format!("{}.wasm", f.name)), f.wasm)?;
        if !f.cases.is_empty() {
            std::fs::write(dir.join(format!("{}.cases.json", f.name)), f.cases)?;
        }
    }
    Ok(FILES.len())
}
