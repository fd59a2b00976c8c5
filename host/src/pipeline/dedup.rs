//! The set of recently delivered events, so a page read again delivers nothing twice.
//!
//! A [`Key`] has two halves: the high 64 bits name the event (a hash of
//! [`crate::event::Event::key`]: the uuid, or a content hash for events
//! without a real one), the low 64 bits hash its content as a JSON value
//! (object keys sorted, spacing ignored, so two serializations of one event
//! hash alike). An event is a *copy* when an event with the same name and the
//! same content was delivered before: it is skipped. An event whose name was
//! delivered before with *other* content is a *differing copy*
//! ([`Verdict::Differing`]): it is delivered too, and counted. That is what
//! keeps an event pushed to the event hook by a holder of the secret from
//! pre-empting Okta's own event with the same uuid: the polled copy, when it
//! differs, still reaches Wazuh (each message says which path brought it).
//!
//! Bounded by count (oldest forgotten first) and persisted in `dedup.log`:
//! since version 2, an 8-byte header ([`MAGIC`]) then 16-byte keys, appended
//! and compacted when the file grows past twice the bound. A version 1 file
//! (no header: 16-byte hashes of the name alone) is read as names with
//! unknown content, which match any copy of that name (skipped as before),
//! and rewritten as version 2 at once.

use crate::event::{Event, JsonContainerTrait, JsonType, JsonValueTrait, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::{Xxh3Default, xxh3_128};

/// `name << 64 | content`; see the module doc.
pub type Key = u128;

/// The first bytes of a version 2 `dedup.log`.
pub const MAGIC: [u8; 8] = *b"owdedup\x02";

/// The content half of a key read from a version 1 log: unknown, matches any content.
const ANY_CONTENT: u64 = 0;

/// The dedup key of an event: its name and a hash of its content.
pub fn key_of(event: &Event) -> Key {
    let name = (xxh3_128(event.key().as_bytes()) >> 64) as u64;
    let mut h = Xxh3Default::new();
    hash_value(&mut h, event.value());
    // 0 is kept for "unknown content" (version 1 entries).
    let content = h.digest().max(1);
    ((name as u128) << 64) | content as u128
}

fn name_of(k: Key) -> u64 {
    (k >> 64) as u64
}

#[cfg(test)]
fn content_of(k: Key) -> u64 {
    k as u64
}

/// Hashes a JSON value so that key order and spacing do not count. Events
/// reach here parsed, so nested at most [`crate::event::MAX_DEPTH`] levels.
fn hash_value(h: &mut Xxh3Default, v: &Value) {
    match v.get_type() {
        JsonType::Null => h.update(b"n"),
        JsonType::Boolean => h.update(if v.as_bool() == Some(true) { b"t" } else { b"f" }),
        JsonType::Number => {
            if let Some(i) = v.as_i64() {
                h.update(b"i");
                h.update(&i.to_le_bytes());
            } else if let Some(u) = v.as_u64() {
                h.update(b"u");
                h.update(&u.to_le_bytes());
            } else {
                h.update(b"d");
                h.update(&v.as_f64().unwrap_or(0.0).to_bits().to_le_bytes());
            }
        }
        JsonType::String => hash_str(h, b's', v.as_str().unwrap_or("")),
        JsonType::Array => {
            let items = v.as_array().map(|a| &a[..]).unwrap_or(&[]);
            h.update(b"[");
            h.update(&(items.len() as u64).to_le_bytes());
            for item in items {
                hash_value(h, item);
            }
        }
        JsonType::Object => {
            let mut fields: Vec<(&str, &Value)> = v.as_object().map(|o| o.iter().collect()).unwrap_or_default();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            h.update(b"{");
            h.update(&(fields.len() as u64).to_le_bytes());
            for (k, item) in fields {
                hash_str(h, b'k', k);
                hash_value(h, item);
            }
        }
    }
}

fn hash_str(h: &mut Xxh3Default, tag: u8, s: &str) {
    h.update(&[tag]);
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// What the set says about an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Never seen: deliver.
    New,
    /// The same event (name and content) was delivered: skip.
    Copy,
    /// Its name was delivered with other content: deliver, and count.
    Differing,
}

pub struct DedupSet {
    set: HashSet<Key>,
    /// Keys in `set` by name.
    names: HashMap<u64, u32>,
    order: VecDeque<Key>,
    max: usize,
    log: Option<Log>,
}

/// The open `dedup.log` and how many keys it holds.
struct Log {
    path: PathBuf,
    file: File,
    entries: usize,
}

impl DedupSet {
    /// An in-memory set (replays).
    pub fn in_memory(max: usize) -> Self {
        DedupSet { set: HashSet::new(), names: HashMap::new(), order: VecDeque::new(), max, log: None }
    }

    /// Loads the set persisted in `dir` (or starts empty), then rewrites the
    /// file compacted in the current version (a torn last key is dropped).
    pub fn open(dir: &Path, max: usize) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join("dedup.log");
        let mut s = Self::in_memory(max);
        let mut buf = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut buf)?;
        }
        match buf.strip_prefix(&MAGIC) {
            Some(keys) => {
                for chunk in keys.chunks_exact(16) {
                    s.remember(u128::from_le_bytes(chunk.try_into().unwrap()));
                }
            }
            // Version 1: the hash of the name alone; its high half is the name half of a key.
            None => {
                for chunk in buf.chunks_exact(16) {
                    let old = u128::from_le_bytes(chunk.try_into().unwrap());
                    s.remember(((name_of(old) as u128) << 64) | ANY_CONTENT as u128);
                }
            }
        }
        s.log = Some(Log { file: write_log(&path, &s.order)?, path, entries: s.order.len() });
        Ok(s)
    }

    /// Whether the event with key `k` was delivered before, and how.
    pub fn verdict(&self, k: Key) -> Verdict {
        let name = name_of(k);
        if self.set.contains(&k) || self.set.contains(&(((name as u128) << 64) | ANY_CONTENT as u128)) {
            Verdict::Copy
        } else if self.names.contains_key(&name) {
            Verdict::Differing
        } else {
            Verdict::New
        }
    }

    #[cfg(test)]
    pub fn contains(&self, k: Key) -> bool {
        self.verdict(k) == Verdict::Copy
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }

    fn remember(&mut self, k: Key) {
        if self.set.insert(k) {
            self.order.push_back(k);
            *self.names.entry(name_of(k)).or_default() += 1;
            while self.order.len() > self.max {
                let old = self.order.pop_front().unwrap();
                self.set.remove(&old);
                if let Some(n) = self.names.get_mut(&name_of(old)) {
                    *n -= 1;
                    if *n == 0 {
                        self.names.remove(&name_of(old));
                    }
                }
            }
        }
    }

    /// Adds keys and appends them to the log.
    pub fn insert_all(&mut self, keys: &[Key]) -> io::Result<()> {
        for &k in keys {
            self.remember(k);
        }
        if let Some(log) = &mut self.log {
            let mut buf = Vec::with_capacity(keys.len() * 16);
            for k in keys {
                buf.extend_from_slice(&k.to_le_bytes());
            }
            log.file.write_all(&buf)?;
            log.entries += keys.len();
            if log.entries > self.max * 2 {
                log.file = write_log(&log.path, &self.order)?;
                log.entries = self.order.len();
            }
        }
        Ok(())
    }
}

/// Writes `keys` as a fresh version 2 log at `path` (through a renamed
/// temporary file) and returns it open for appending.
fn write_log(path: &Path, keys: &VecDeque<Key>) -> io::Result<File> {
    let tmp = path.with_extension("log.tmp");
    let mut w = BufWriter::new(File::create(&tmp)?);
    w.write_all(&MAGIC)?;
    for k in keys {
        w.write_all(&k.to_le_bytes())?;
    }
    w.into_inner()?.sync_all()?;
    fs::rename(&tmp, path)?;
    OpenOptions::new().append(true).open(path)
}

/// The events of one page seen so far, so that a page repeating an event
/// is judged like the set judges a page read again.
#[derive(Default)]
pub struct Page {
    keys: HashSet<Key>,
    names: HashSet<u64>,
}

impl Page {
    /// The verdict on `k` given the set and the page's events before it; remembers `k`.
    pub fn admit(&mut self, set: &DedupSet, k: Key) -> Verdict {
        if self.keys.contains(&k) {
            return Verdict::Copy;
        }
        let verdict = match set.verdict(k) {
            Verdict::New if self.names.contains(&name_of(k)) => Verdict::Differing,
            v => v,
        };
        if verdict != Verdict::Copy {
            self.keys.insert(k);
            self.names.insert(name_of(k));
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: u64, content: u64) -> Key {
        ((name as u128) << 64) | content as u128
    }

    fn ev(text: &str) -> Event {
        Event::parse(text).unwrap()
    }

    #[test]
    fn persists_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DedupSet::open(dir.path(), 3).unwrap();
        s.insert_all(&[key(1, 1), key(2, 1), key(3, 1), key(4, 1)]).unwrap();
        assert!(!s.contains(key(1, 1)) && s.contains(key(4, 1)));
        assert_eq!(s.verdict(key(1, 1)), Verdict::New, "forgotten with its name");
        for i in 5..20 {
            s.insert_all(&[key(i, 7)]).unwrap();
        }
        drop(s);
        let s = DedupSet::open(dir.path(), 3).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.contains(key(19, 7)) && s.contains(key(17, 7)) && !s.contains(key(16, 7)));
        assert_eq!(s.verdict(key(19, 8)), Verdict::Differing);
        assert_eq!(s.verdict(key(16, 8)), Verdict::New);
        let bytes = fs::read(dir.path().join("dedup.log")).unwrap();
        assert_eq!(&bytes[..8], &MAGIC);
        assert_eq!(bytes.len(), 8 + 3 * 16, "compacted when opened");
    }

    #[test]
    fn a_torn_last_key_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DedupSet::open(dir.path(), 10).unwrap();
        s.insert_all(&[key(1, 1), key(2, 2)]).unwrap();
        drop(s);
        let path = dir.path().join("dedup.log");
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 5);
        fs::write(&path, &bytes).unwrap();
        let mut s = DedupSet::open(dir.path(), 10).unwrap();
        assert_eq!(s.len(), 1);
        s.insert_all(&[key(3, 3)]).unwrap();
        drop(s);
        let s = DedupSet::open(dir.path(), 10).unwrap();
        assert!(s.contains(key(1, 1)) && !s.contains(key(2, 2)) && s.contains(key(3, 3)));
    }

    #[test]
    fn a_version_1_log_is_read_as_names_of_any_content() {
        let dir = tempfile::tempdir().unwrap();
        let a = ev(r#"{"uuid":"11111111-0000-4000-8000-000000000001","eventType":"x"}"#);
        let b = ev(r#"{"uuid":"11111111-0000-4000-8000-000000000002","eventType":"x"}"#);
        // Version 1 kept xxh3_128 of the event key, 16 bytes each, no header.
        let mut v1 = Vec::new();
        v1.extend_from_slice(&xxh3_128(a.key().as_bytes()).to_le_bytes());
        v1.extend_from_slice(&xxh3_128(b.key().as_bytes()).to_le_bytes()[..9]); // torn
        fs::write(dir.path().join("dedup.log"), &v1).unwrap();
        let s = DedupSet::open(dir.path(), 10).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.verdict(key_of(&a)), Verdict::Copy);
        let a_changed = ev(r#"{"uuid":"11111111-0000-4000-8000-000000000001","eventType":"y"}"#);
        assert_eq!(s.verdict(key_of(&a_changed)), Verdict::Copy, "content unknown: any copy is one");
        assert_eq!(s.verdict(key_of(&b)), Verdict::New);
        drop(s);
        let bytes = fs::read(dir.path().join("dedup.log")).unwrap();
        assert_eq!(&bytes[..8], &MAGIC, "rewritten as version 2");
        let s = DedupSet::open(dir.path(), 10).unwrap();
        assert_eq!(s.verdict(key_of(&a_changed)), Verdict::Copy);
    }

    #[test]
    fn content_is_compared_as_json() {
        let u = "2a992f80-d1ad-4f62-900e-8c68bb72a21b";
        let a = key_of(&ev(&format!(r#"{{"uuid":"{u}","eventType":"x","n":[1,{{"p":true,"q":null}}]}}"#)));
        let spaced = key_of(&ev(&format!(r#"{{ "eventType" : "x", "n":[1, {{"q":null,"p":true}}], "uuid":"{u}" }}"#)));
        let upper = key_of(&ev(&format!(r#"{{"uuid":"{}","eventType":"x","n":[1,{{"p":true,"q":null}}]}}"#, u.to_uppercase())));
        assert_eq!(a, spaced, "key order and spacing do not count");
        assert_ne!(a, upper, "the uuid as written is content");
        assert_eq!(name_of(a), name_of(upper), "but names the same event");
        let changed = key_of(&ev(&format!(r#"{{"uuid":"{u}","eventType":"x","n":[1,{{"p":false,"q":null}}]}}"#)));
        assert_eq!(name_of(a), name_of(changed));
        assert_ne!(content_of(a), content_of(changed));
        let as_string = key_of(&ev(&format!(r#"{{"uuid":"{u}","eventType":"x","n":["1",{{"p":true,"q":null}}]}}"#)));
        assert_ne!(a, as_string);
    }

    #[test]
    fn verdicts_in_a_page_and_across_pages() {
        let mut s = DedupSet::in_memory(100);
        let mut page = Page::default();
        assert_eq!(page.admit(&s, key(1, 1)), Verdict::New);
        assert_eq!(page.admit(&s, key(1, 1)), Verdict::Copy);
        assert_eq!(page.admit(&s, key(1, 2)), Verdict::Differing);
        assert_eq!(page.admit(&s, key(1, 2)), Verdict::Copy);
        s.insert_all(&[key(1, 1), key(1, 2)]).unwrap();
        let mut page = Page::default();
        assert_eq!(page.admit(&s, key(1, 2)), Verdict::Copy);
        assert_eq!(page.admit(&s, key(1, 3)), Verdict::Differing);
        assert_eq!(page.admit(&s, key(2, 1)), Verdict::New);
    }
}
