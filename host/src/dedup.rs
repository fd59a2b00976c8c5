//! The set of recently delivered events, so a page read again delivers nothing twice.
//!
//! Bounded by count (oldest forgotten first) and persisted as an append-only
//! log of 16-byte key hashes, compacted when it grows past twice the bound.
//! Keys are hashes of [`crate::event::Event::key`] (the uuid, or a content hash).

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

pub type Key = u128;

pub fn key_of(event_key: &str) -> Key {
    xxhash_rust::xxh3::xxh3_128(event_key.as_bytes())
}

pub struct DedupSet {
    set: HashSet<Key>,
    order: VecDeque<Key>,
    max: usize,
    log: Option<(PathBuf, File)>,
    logged: usize,
}

impl DedupSet {
    /// An in-memory set (replays).
    pub fn in_memory(max: usize) -> Self {
        DedupSet { set: HashSet::new(), order: VecDeque::new(), max, log: None, logged: 0 }
    }

    /// Loads the set persisted in `dir` (or starts empty).
    pub fn open(dir: &Path, max: usize) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join("dedup.log");
        let mut s = Self::in_memory(max);
        if let Ok(mut f) = File::open(&path) {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            // A torn last entry (crash mid-write) is ignored.
            for chunk in buf.chunks_exact(16) {
                s.remember(u128::from_le_bytes(chunk.try_into().unwrap()));
            }
            s.logged = buf.len() / 16;
            if buf.len() % 16 != 0 {
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len((buf.len() / 16 * 16) as u64)?;
            }
        }
        let f = OpenOptions::new().create(true).append(true).open(&path)?;
        s.log = Some((path, f));
        Ok(s)
    }

    pub fn contains(&self, k: Key) -> bool {
        self.set.contains(&k)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    fn remember(&mut self, k: Key) {
        if self.set.insert(k) {
            self.order.push_back(k);
            while self.order.len() > self.max {
                let old = self.order.pop_front().unwrap();
                self.set.remove(&old);
            }
        }
    }

    /// Adds keys and appends them to the log.
    pub fn insert_all(&mut self, keys: &[Key]) -> io::Result<()> {
        for &k in keys {
            self.remember(k);
        }
        if let Some((_, f)) = &mut self.log {
            let mut buf = Vec::with_capacity(keys.len() * 16);
            for k in keys {
                buf.extend_from_slice(&k.to_le_bytes());
            }
            f.write_all(&buf)?;
            self.logged += keys.len();
            if self.logged > self.max * 2 {
                self.compact()?;
            }
        }
        Ok(())
    }

    fn compact(&mut self) -> io::Result<()> {
        let Some((path, _)) = &self.log else { return Ok(()) };
        let path = path.clone();
        let tmp = path.with_extension("log.tmp");
        let mut w = BufWriter::new(File::create(&tmp)?);
        for k in &self.order {
            w.write_all(&k.to_le_bytes())?;
        }
        w.into_inner()?.sync_all()?;
        fs::rename(&tmp, &path)?;
        self.logged = self.order.len();
        self.log = Some((path.clone(), OpenOptions::new().append(true).open(&path)?));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persists_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DedupSet::open(dir.path(), 3).unwrap();
        s.insert_all(&[1, 2, 3, 4]).unwrap();
        assert!(!s.contains(1) && s.contains(4));
        for i in 5..20 {
            s.insert_all(&[i]).unwrap();
        }
        drop(s);
        let s = DedupSet::open(dir.path(), 3).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.contains(19) && s.contains(17) && !s.contains(16));
    }
}
