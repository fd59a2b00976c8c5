//! Detection state on the event clock, kept in memory and persisted in redb.
//!
//! Each detection id has its own namespace of keys holding a value with a
//! TTL, a sliding-window counter, or a set of distinct members with their
//! last time. "Now" is the current event's `published` time, so replays
//! are exact. Changes are flushed to `state.redb` after each page in one
//! transaction; a detection reloaded (or the host restarted) finds its
//! state again. A quota per detection (keys and bytes) bounds memory and
//! disk: when it is reached, expired entries go first, then the least
//! recently touched (on the event clock).
//!
//! Memory stays bounded whatever a detection does:
//! - the change set (keys to write at the next flush) holds only keys that
//!   are live now or were on disk at the last flush, so it is never larger
//!   than twice the quota: a key written and evicted within one page leaves
//!   nothing behind;
//! - the state clock never jumps ahead on one event: an event published
//!   more than [`MAX_AHEAD_MS`] after the host's clock is taken to happen at
//!   the latest believable event time (it neither expires nor prunes
//!   anything by its own time);
//! - windows and TTLs of any size are clamped, never overflow.
//!
//! A corrupt `state.redb` does not stop the service: it is renamed aside
//! (kept for inspection) and detection state starts empty.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Entries are postcard-encoded [`Entry`] values; a format change gets a new table name.
const TABLE: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("state_v1");
/// Occurrences kept per counter; past this the oldest are forgotten.
const MAX_TIMES: usize = 10_000;
/// Members kept per distinct set (far above any detection threshold); past
/// this the least recently seen are forgotten.
const MAX_MEMBERS: usize = 1_000;
/// Entries a detection's map holds before its first sweep of expired ones
/// (see [`DetectionState::sweep`]).
const SWEEP_MIN: usize = 1_024;
/// A sweep drops only what expired this long before the latest event time:
/// events arrive in persistence order, not always in `published` order, and
/// one behind the latest must still find what was live at its own time.
const SWEEP_SLACK_MS: i64 = 3600 * 1000;
/// redb's page cache for `state.redb`. Its default (1 GiB) grew the
/// service's memory with every state write: 50 orgs × 2000 events held
/// ~450 MiB of cached pages. Every entry also lives in memory
/// ([`DetectionState`]); the file is read in full only at start.
const CACHE_BYTES: usize = 8 << 20;
/// An event published further than this ahead of the host's clock does not
/// move the state clock (one day: Okta's clock and ours agree to seconds).
pub const MAX_AHEAD_MS: i64 = 24 * 3600 * 1000;

/// A window or TTL in ms as a span on the clock (a `u64` above `i64::MAX` is "for ever").
fn span(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The host's clock, in ms since the epoch. Read on every state operation
/// (to bound events from the future), so the coarse clock: a few ms of
/// resolution and no `vdso` time-keeping read, against a one-day bound.
fn wall_ms() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own; the clock id is a constant.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } != 0 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    }
    ts.tv_sec.saturating_mul(1000).saturating_add(ts.tv_nsec / 1_000_000)
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {0}")]
    Db(String),
}

fn db_err(e: impl std::fmt::Display) -> StateError {
    StateError::Db(e.to_string())
}

/// One key's entry. Kept compact (40 bytes; with its `Box<str>` key, a
/// 56-byte slot in the detection's map): a detection may hold 100k of them.
/// The encoding (postcard) is the one `state_v1` always had: a byte
/// sequence, a sequence of times, a map of members.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Entry {
    Value { data: Box<[u8]>, at: i64, expires: i64 },
    /// Occurrence times, sorted. Those out of the window leave in batches
    /// (see [`DetectionState::count`]), so the front may hold some.
    Counter { times: Vec<i64>, window: u64 },
    Distinct { members: Members, window: u64 },
}

const _: () = assert!(size_of::<Entry>() == 40);

/// A distinct set: each member with the latest time it was seen. A small
/// vector (members are few, at most [`MAX_MEMBERS`]): a scan costs less than
/// hashing, and there is no table per key. Encoded as a map, as before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Members(Vec<(Box<str>, i64)>);

impl Serialize for Members {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(m, t)| (&**m, t)))
    }
}

impl<'de> Deserialize<'de> for Members {
    /// The pairs as they are encoded; [`Entry::checked`] makes them a set.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of members to times")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                // Not sized by the untrusted length: a few bytes of input
                // must not reserve a large vector.
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<Box<str>, i64>()? {
                    pairs.push(pair);
                }
                Ok(Members(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

impl Members {
    fn bytes(&self) -> usize {
        self.0.iter().map(|(m, _)| m.len() + 8).sum()
    }
    fn latest(&self) -> Option<i64> {
        self.0.iter().map(|&(_, t)| t).max()
    }
    /// Forgets the least recently seen past [`MAX_MEMBERS`]; returns the bytes freed.
    fn cap(&mut self) -> usize {
        if self.0.len() <= MAX_MEMBERS {
            return 0;
        }
        // The newest first; among equal times the greater names stay.
        self.0.sort_unstable_by(|a, b| (b.1, &b.0).cmp(&(a.1, &a.0)));
        let freed = self.0[MAX_MEMBERS..].iter().map(|(m, _)| m.len() + 8).sum();
        self.0.truncate(MAX_MEMBERS);
        freed
    }
}

impl Entry {
    fn size(&self) -> usize {
        match self {
            Entry::Value { data, .. } => data.len() + 16,
            Entry::Counter { times, .. } => times.len() * 8 + 8,
            Entry::Distinct { members, .. } => members.bytes() + 8,
        }
    }
    /// The latest event time this entry was written at.
    fn last_touched(&self) -> i64 {
        match self {
            Entry::Value { at, .. } => *at,
            Entry::Counter { times, .. } => times.last().copied().unwrap_or(i64::MIN),
            Entry::Distinct { members, .. } => members.latest().unwrap_or(i64::MIN),
        }
    }

    fn expired(&self, now: i64) -> bool {
        match self {
            Entry::Value { expires, .. } => *expires != 0 && *expires <= now,
            Entry::Counter { times, window } => times.last().is_none_or(|&t| t < now.saturating_sub(span(*window))),
            Entry::Distinct { members, window } => members.0.iter().all(|&(_, t)| t < now.saturating_sub(span(*window))),
        }
    }

    #[cfg(test)]
    fn checked_sorted(mut self) -> Entry {
        if let Entry::Distinct { members, .. } = &mut self {
            members.0.sort();
        }
        self
    }

    /// An entry read from disk, made to keep the invariants the operations
    /// rely on (untrusted bytes): times sorted and at most [`MAX_TIMES`];
    /// each member once, with its latest time, and past [`MAX_MEMBERS`] the
    /// least recently seen forgotten.
    fn checked(mut self) -> Entry {
        match &mut self {
            Entry::Counter { times, .. } => {
                times.sort_unstable();
                let extra = times.len().saturating_sub(MAX_TIMES);
                times.drain(..extra);
            }
            Entry::Distinct { members, .. } => {
                // By name, the latest time first: `dedup` keeps the first of each.
                members.0.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
                members.0.dedup_by(|a, b| a.0 == b.0);
                members.cap();
            }
            Entry::Value { .. } => {}
        }
        self
    }
}

/// The keys changed since the last flush, each with whether it was on disk
/// then (so that deleting it needs a tombstone). Keys not in here are on
/// disk exactly as in the entries. A memory-only store keeps none: it has
/// nothing to write them to (a hash and often a key copy per operation saved).
#[derive(Debug)]
struct ChangeSet {
    keys: HashMap<String, bool>,
    tracked: bool,
}

impl ChangeSet {
    /// Notes a change of `key`; `on_disk`: the key had an entry before this
    /// change (so the disk has it, unless it was created since the last flush).
    fn changed(&mut self, key: &str, on_disk: bool) {
        if self.tracked && !self.keys.contains_key(key) {
            self.keys.insert(key.to_string(), on_disk);
        }
    }

    /// Notes that `key` is gone: nothing to write when it was created since
    /// the last flush, else a tombstone.
    fn gone(&mut self, key: &str) {
        if !self.tracked {
            return;
        }
        match self.keys.get(key) {
            // Created since the last flush: the disk never had it.
            Some(false) => {
                self.keys.remove(key);
            }
            Some(true) => {}
            None => {
                self.keys.insert(key.to_string(), true);
            }
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// One detection's state.
#[derive(Debug)]
pub struct DetectionState {
    entries: HashMap<Box<str>, Entry>,
    dirty: ChangeSet,
    bytes: usize,
    max_keys: usize,
    max_bytes: usize,
    /// Latest event time seen, for expiry sweeps.
    latest: i64,
    /// Entries at which the next sweep of expired ones runs.
    sweep_at: usize,
    /// Times the quota was reached.
    pub quota_hits: u64,
    /// Entries dropped (least recently touched first) to stay within the quota.
    pub evicted: u64,
}

impl DetectionState {
    fn new(max_keys: usize, max_bytes: usize) -> Self {
        DetectionState {
            entries: HashMap::new(),
            dirty: ChangeSet { keys: HashMap::new(), tracked: true },
            bytes: 0,
            max_keys,
            max_bytes,
            latest: i64::MIN,
            sweep_at: SWEEP_MIN,
            quota_hits: 0,
            evicted: 0,
        }
    }

    fn put(&mut self, key: &str, entry: Entry) -> bool {
        if self.entries.len() >= self.sweep_at && !self.entries.contains_key(key) {
            self.sweep();
        }
        let new = entry.size() + key.len();
        if self.over(key, new) {
            self.make_room();
            if self.over(key, new) {
                // A single value larger than the whole quota.
                self.quota_hits += 1;
                return false;
            }
        }
        let old = self.entries.get(key).map(|e| e.size() + key.len());
        self.bytes = self.bytes.saturating_sub(old.unwrap_or(0)) + new;
        self.dirty.changed(key, old.is_some());
        // In place when the key is there (no new key string per write).
        match self.entries.get_mut(key) {
            Some(slot) => *slot = entry,
            None => {
                self.entries.insert(key.into(), entry);
            }
        }
        true
    }

    /// Whether `key` taking `new` bytes would break the quota.
    fn over(&self, key: &str, new: usize) -> bool {
        let old = self.entries.get(key).map(|e| e.size() + key.len());
        (old.is_none() && self.entries.len() >= self.max_keys)
            || self.bytes.saturating_sub(old.unwrap_or(0)).saturating_add(new) > self.max_bytes
    }

    /// The quota is reached: drop what expired by the latest event time,
    /// and, unless that freed a tenth of the quota, the least recently
    /// touched entries down to 90% of it. One pass makes room for many puts,
    /// so the cost per put stays small even when state is always full. No
    /// key is copied: the pass sorts times and sizes only, then drops in place.
    fn make_room(&mut self) {
        self.quota_hits += 1;
        let now = self.latest;
        self.drop_where(|e| e.expired(now));
        let (keys_goal, bytes_goal) = (self.max_keys * 9 / 10, self.max_bytes * 9 / 10);
        if self.entries.len() <= keys_goal && self.bytes <= bytes_goal {
            return;
        }
        // The oldest entries to drop: all touched before `cut`, and `at_cut`
        // of those touched at `cut` (ties are common: a page shares a time).
        let mut ages: Vec<(i64, usize)> = self.entries.iter().map(|(k, e)| (e.last_touched(), e.size() + k.len())).collect();
        ages.sort_unstable_by_key(|a| a.0);
        let (mut keys, mut bytes) = (self.entries.len(), self.bytes);
        let (mut cut, mut at_cut) = (i64::MIN, 0usize);
        for (t, size) in ages {
            if keys <= keys_goal && bytes <= bytes_goal {
                break;
            }
            keys -= 1;
            bytes = bytes.saturating_sub(size);
            if t != cut {
                (cut, at_cut) = (t, 0);
            }
            at_cut += 1;
        }
        let before = self.entries.len();
        self.drop_where(|e| match e.last_touched() {
            t if t < cut => true,
            t if t == cut && at_cut > 0 => {
                at_cut -= 1;
                true
            }
            _ => false,
        });
        self.evicted += (before - self.entries.len()) as u64;
    }

    /// Drops what expired [`SWEEP_SLACK_MS`] before the latest event time.
    /// Run when a new key finds the map twice as large as the last sweep left
    /// it, so that the map holds about twice the live entries rather than a
    /// quota's worth of dead ones (a replay of 200k events left 78k of its
    /// 110k entries expired), and each pass is paid for by the inserts
    /// before it. No operation sees an expired entry, so a sweep changes no
    /// answer for events up to the slack behind the latest.
    fn sweep(&mut self) {
        let now = self.latest.saturating_sub(SWEEP_SLACK_MS);
        self.drop_where(|e| e.expired(now));
        self.sweep_at = self.entries.len().saturating_mul(2).max(SWEEP_MIN);
    }

    /// Drops, in one pass, the entries for which `doomed` holds, noting a
    /// tombstone for each one the disk has.
    fn drop_where(&mut self, mut doomed: impl FnMut(&Entry) -> bool) {
        let DetectionState { entries, dirty, bytes, .. } = self;
        entries.retain(|k, e| {
            if !doomed(e) {
                return true;
            }
            *bytes = bytes.saturating_sub(e.size() + k.len());
            dirty.gone(k);
            false
        });
    }

    fn delete(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes = self.bytes.saturating_sub(e.size() + key.len());
            self.dirty.gone(key);
        }
    }

    /// The state clock for an operation of an event published at `now`:
    /// `now` itself, unless it is more than [`MAX_AHEAD_MS`] ahead of the
    /// host's clock; such an event happens, for state, at the latest
    /// believable time seen (or the host's clock before any), so that one
    /// bad `published` neither wipes windows nor expires every entry.
    fn observe(&mut self, now: i64) -> i64 {
        let wall = wall_ms();
        if now > wall.saturating_add(MAX_AHEAD_MS) {
            return if self.latest == i64::MIN { wall } else { self.latest };
        }
        self.latest = self.latest.max(now);
        now
    }

    pub fn get(&mut self, key: &str, now: i64) -> Option<Vec<u8>> {
        let now = self.observe(now);
        match self.entries.get(key)? {
            Entry::Value { data, expires, .. } if *expires == 0 || *expires > now => Some(data.to_vec()),
            _ => None,
        }
    }

    pub fn set(&mut self, key: &str, data: Vec<u8>, ttl_ms: u64, now: i64) -> bool {
        let now = self.observe(now);
        let expires = if ttl_ms == 0 { 0 } else { now.saturating_add(span(ttl_ms)) };
        self.put(key, Entry::Value { data: data.into(), at: now, expires })
    }

    pub fn remove(&mut self, key: &str) {
        self.delete(key);
    }

    /// Records one occurrence at `now` (unless `record` is false) and counts
    /// those in `(now - window, now]` among the newest [`MAX_TIMES`]. In
    /// place: O(log n) plus an insert, usually at the end. Times out of the
    /// window (and past [`MAX_TIMES`]) are dropped once they are a quarter
    /// of the vector, so that each drop's move is paid for by the inserts
    /// before it.
    pub fn count(&mut self, key: &str, window: u64, now: i64, record: bool) -> u32 {
        let now = self.observe(now);
        let from = now.saturating_sub(span(window));
        let within = |times: &[i64]| {
            let newest = &times[times.len().saturating_sub(MAX_TIMES)..];
            (newest.partition_point(|&t| t <= now) - newest.partition_point(|&t| t <= from)) as u32
        };
        if !record {
            return match self.entries.get(key) {
                Some(Entry::Counter { times, .. }) => within(times),
                _ => 0,
            };
        }
        if !matches!(self.entries.get(key), Some(Entry::Counter { .. }))
            && !self.put(key, Entry::Counter { times: Vec::new(), window })
        {
            return 1;
        }
        if self.bytes + 8 > self.max_bytes {
            self.make_room();
        }
        let Some(Entry::Counter { times, window: w }) = self.entries.get_mut(key) else {
            // Evicted to make room for itself: the quota is far too small.
            return 1;
        };
        *w = window;
        // Events arrive in persistence order, not always in `published`
        // order: keep the times sorted.
        let at = times.partition_point(|&t| t <= now);
        times.insert(at, now);
        // The newest time always stays (the entry's last touch).
        let stale = times.partition_point(|&t| t <= from).min(times.len() - 1);
        let drop = stale.max(times.len().saturating_sub(MAX_TIMES));
        let removed = if drop > 0 && drop * 4 >= times.len() {
            times.drain(..drop);
            drop
        } else {
            0
        };
        let n = within(times);
        self.bytes = (self.bytes + 8).saturating_sub(removed * 8);
        self.dirty.changed(key, true);
        n
    }

    /// Records `member` at `now`; returns how many distinct members were seen
    /// in `(now - window, now]`. In place: O(members), at most [`MAX_MEMBERS`].
    pub fn distinct(&mut self, key: &str, member: &str, window: u64, now: i64) -> u32 {
        let now = self.observe(now);
        let from = now.saturating_sub(span(window));
        if !matches!(self.entries.get(key), Some(Entry::Distinct { .. }))
            && !self.put(key, Entry::Distinct { members: Members::default(), window })
        {
            return 1;
        }
        if self.bytes + member.len() + 8 > self.max_bytes {
            self.make_room();
        }
        let Some(Entry::Distinct { members, window: w }) = self.entries.get_mut(key) else {
            return 1;
        };
        *w = window;
        // One pass: note the member, forget those out of the window.
        let mut delta: isize = 0;
        let mut seen = false;
        members.0.retain_mut(|(m, t)| {
            if **m == *member {
                *t = (*t).max(now);
                seen = true;
            }
            let keep = *t > from;
            if !keep {
                delta -= (m.len() + 8) as isize;
            }
            keep
        });
        if !seen && now > from {
            members.0.push((member.into(), now));
            delta += (member.len() + 8) as isize;
        }
        delta -= members.cap() as isize;
        let n = members.0.iter().filter(|&&(_, t)| t <= now).count() as u32;
        self.bytes = self.bytes.saturating_add_signed(delta);
        self.dirty.changed(key, true);
        n
    }

    /// The distinct members seen in `(now - window, now]`, sorted, recording nothing.
    pub fn members(&mut self, key: &str, window: u64, now: i64) -> Vec<String> {
        let now = self.observe(now);
        let from = now.saturating_sub(span(window));
        let mut within: Vec<String> = match self.entries.get(key) {
            Some(Entry::Distinct { members, .. }) => {
                members.0.iter().filter(|&&(_, t)| t > from && t <= now).map(|(k, _)| k.to_string()).collect()
            }
            _ => Vec::new(),
        };
        within.sort();
        within
    }

    /// Keys waiting for the next flush (at most twice the quota's keys).
    pub fn pending(&self) -> usize {
        self.dirty.len()
    }

    /// Stores `value` as last seen; returns the previous one with its time.
    pub fn last_seen(&mut self, key: &str, value: &str, ttl_ms: u64, now: i64) -> Option<(String, i64)> {
        let now = self.observe(now);
        let prev = match self.entries.get(key) {
            Some(Entry::Value { data, at, expires }) if *expires == 0 || *expires > now => {
                Some((String::from_utf8_lossy(data).into_owned(), *at))
            }
            _ => None,
        };
        self.set(key, value.as_bytes().to_vec(), ttl_ms, now);
        prev
    }

    /// True when `key` was not marked within `(now - window, now]`, and
    /// marks it at `now` ("alert once per window"); a window of 0 is always
    /// true. Its keys live apart from `get`/`set`'s. A mark the quota
    /// refuses still answers true: a full state must not silence a detection.
    pub fn once_per(&mut self, key: &str, window: u64, now: i64) -> bool {
        if window == 0 {
            return true;
        }
        let key = ["\u{1e}once\u{1e}", key].concat();
        if self.get(&key, now).is_some() {
            return false;
        }
        self.set(&key, Vec::new(), window, now);
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Why `state.redb` could not be opened.
#[derive(Debug, thiserror::Error)]
enum Unopened {
    /// The file is not a readable redb database of ours.
    #[error("{0}")]
    Corrupt(String),
    /// Anything else: renaming the file would not help.
    #[error("{0}")]
    Failed(String),
}

/// Whether a redb error means the file itself is bad.
fn unopened(e: redb::Error) -> Unopened {
    use redb::Error;
    let corrupt = match &e {
        Error::Corrupted(_) | Error::UpgradeRequired(_) | Error::RepairAborted => true,
        Error::TableTypeMismatch { .. } | Error::TableIsMultimap(_) | Error::TableIsNotMultimap(_) => true,
        Error::TypeDefinitionChanged { .. } => true,
        Error::Io(io) => matches!(io.kind(), std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof),
        _ => false,
    };
    if corrupt { Unopened::Corrupt(e.to_string()) } else { Unopened::Failed(e.to_string()) }
}

/// Opens the database, checks every page, and reads every row once, so
/// that a damaged file is found here and not half-way through a page.
fn open_checked(path: &Path) -> Result<Database, Unopened> {
    let attempt = || -> Result<Database, redb::Error> {
        let mut db = Database::builder().set_cache_size(CACHE_BYTES).create(path)?;
        if !db.check_integrity()? {
            tracing::warn!("detection state {}: damaged pages were repaired", path.display());
        }
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        let txn = db.begin_read()?;
        for row in txn.open_table(TABLE)?.iter()? {
            row?;
        }
        drop(txn);
        Ok(db)
    };
    // redb's checks for states it never writes are debug assertions in
    // debug builds (errors in release builds): a panic here is a bad file too.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(attempt)) {
        Ok(r) => r.map_err(unopened),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(Unopened::Corrupt(format!("redb: {}", msg.unwrap_or_else(|| "assertion failed".into()))))
        }
    }
}

/// `state.redb.corrupt-<unix seconds>` next to `path`, not taken yet.
fn aside_path(path: &Path) -> PathBuf {
    let secs = wall_ms() / 1000;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "state.redb".into());
    let mut aside = path.with_file_name(format!("{name}.corrupt-{secs}"));
    let mut n = 1;
    while aside.exists() {
        aside = path.with_file_name(format!("{name}.corrupt-{secs}-{n}"));
        n += 1;
    }
    aside
}

/// All detections' state, backed by one redb file (or memory only).
pub struct StateStore {
    db: Option<Database>,
    detections: Mutex<HashMap<String, Arc<Mutex<DetectionState>>>>,
    max_keys: usize,
    max_bytes: usize,
}

impl StateStore {
    /// A store that forgets everything on exit (tests, `oktawatch test`).
    pub fn in_memory(max_keys: usize, max_bytes: usize) -> Self {
        StateStore { db: None, detections: Mutex::new(HashMap::new()), max_keys, max_bytes }
    }

    /// Opens (or creates) `path`. A file that is not a readable redb
    /// database is renamed aside (`state.redb.corrupt-<unix time>`, kept for
    /// inspection) with a warning naming both files, and detections start
    /// with empty state: event collection must not wait for detection state.
    /// Other failures (permissions, another process holding the file) are errors.
    pub fn open(path: &Path, max_keys: usize, max_bytes: usize) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(db_err)?;
        }
        let in_path = |e: String| StateError::Db(format!("{}: {e}", path.display()));
        let db = match open_checked(path) {
            Ok(db) => db,
            Err(Unopened::Failed(e)) => return Err(in_path(e)),
            Err(Unopened::Corrupt(why)) => {
                let aside = aside_path(path);
                std::fs::rename(path, &aside).map_err(|e| in_path(format!("corrupt ({why}), and renaming it failed: {e}")))?;
                tracing::warn!(
                    "detection state {} is corrupt ({why}); moved it to {} and starting with EMPTY detection state \
                     (windows, counters and remembered values are lost; event collection goes on)",
                    path.display(),
                    aside.display()
                );
                open_checked(path).map_err(|e| in_path(e.to_string()))?
            }
        };
        Ok(StateStore { db: Some(db), detections: Mutex::new(HashMap::new()), max_keys, max_bytes })
    }

    /// The state of one detection id, loaded from disk on first use.
    pub fn for_detection(&self, id: &str) -> Result<Arc<Mutex<DetectionState>>, StateError> {
        let mut map = self.detections.lock().unwrap();
        if let Some(s) = map.get(id) {
            return Ok(s.clone());
        }
        let mut state = DetectionState::new(self.max_keys, self.max_bytes);
        state.dirty.tracked = self.db.is_some();
        if let Some(db) = &self.db {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(TABLE).map_err(db_err)?;
            for row in table.range((id, "")..).map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                let (det, key) = k.value();
                if det != id {
                    break;
                }
                match postcard::from_bytes::<Entry>(v.value()) {
                    Ok(entry) => {
                        let entry = entry.checked();
                        state.bytes += entry.size() + key.len();
                        state.entries.insert(key.into(), entry);
                    }
                    // Unreadable: removed at the next flush.
                    Err(_) => {
                        state.dirty.changed(key, true);
                    }
                }
            }
        }
        let state = Arc::new(Mutex::new(state));
        map.insert(id.to_string(), state.clone());
        Ok(state)
    }

    /// Writes every change since the last flush in one transaction.
    pub fn flush(&self) -> Result<usize, StateError> {
        // A memory-only store keeps no change sets: nothing to write.
        let Some(db) = &self.db else { return Ok(0) };
        let states: Vec<(String, Arc<Mutex<DetectionState>>)> =
            self.detections.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut changes: Vec<(String, String, Option<Vec<u8>>)> = Vec::new();
        for (id, s) in &states {
            let mut s = s.lock().unwrap();
            let dirty: Vec<String> = s.dirty.keys.drain().map(|(k, _)| k).collect();
            for key in dirty {
                let bytes = s.entries.get(key.as_str()).map(|e| postcard::to_allocvec(e).expect("entry serializes"));
                changes.push((id.clone(), key, bytes));
            }
        }
        if changes.is_empty() {
            return Ok(0);
        }
        let txn = db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(TABLE).map_err(db_err)?;
            for (id, key, bytes) in &changes {
                match bytes {
                    Some(b) => {
                        table.insert((id.as_str(), key.as_str()), b.as_slice()).map_err(db_err)?;
                    }
                    None => {
                        table.remove((id.as_str(), key.as_str())).map_err(db_err)?;
                    }
                }
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(changes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compact entries encode as `state_v1` always did (a map of
    /// members, sequences of bytes and times), and an untrusted file's
    /// repeated or excess members and unsorted times are made whole.
    #[test]
    fn compact_entries_keep_the_state_v1_encoding() {
        #[derive(Serialize)]
        enum Before {
            Value { data: Vec<u8>, at: i64, expires: i64 },
            Counter { times: std::collections::VecDeque<i64>, window: u64 },
            Distinct { members: std::collections::BTreeMap<String, i64>, window: u64 },
        }
        let enc = |e: &Entry| postcard::to_allocvec(e).unwrap();
        let old = |e: &Before| postcard::to_allocvec(e).unwrap();
        assert_eq!(enc(&Entry::Value { data: b"ab".to_vec().into(), at: 5, expires: 9 }), old(&Before::Value { data: b"ab".to_vec(), at: 5, expires: 9 }));
        assert_eq!(enc(&Entry::Counter { times: vec![1, 2, 3], window: 7 }), old(&Before::Counter { times: [1, 2, 3].into(), window: 7 }));
        let m = Members(vec![("a".into(), 1), ("b".into(), 2)]);
        let was: std::collections::BTreeMap<String, i64> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
        let bytes = old(&Before::Distinct { members: was, window: 3 });
        assert_eq!(enc(&Entry::Distinct { members: m.clone(), window: 3 }), bytes);
        assert_eq!(postcard::from_bytes::<Entry>(&bytes).unwrap().checked_sorted(), Entry::Distinct { members: m, window: 3 }.checked_sorted());
        // Hostile: unsorted times, too many of them, too many members.
        let times: Vec<i64> = (0..MAX_TIMES as i64 + 5).rev().collect();
        let Entry::Counter { times: t, .. } = postcard::from_bytes::<Entry>(&old(&Before::Counter { times: times.into(), window: 1 })).unwrap().checked() else { panic!() };
        assert!(t.len() == MAX_TIMES && t.is_sorted() && t[0] == 5);
        let many: std::collections::BTreeMap<String, i64> = (0..MAX_MEMBERS as i64 + 10).map(|i| (format!("m{i}"), i)).collect();
        let Entry::Distinct { members, .. } = postcard::from_bytes::<Entry>(&old(&Before::Distinct { members: many, window: 1 })).unwrap().checked() else { panic!() };
        assert_eq!(members.0.len(), MAX_MEMBERS);
        assert!(members.0.iter().all(|&(_, t)| t >= 10));
        // A member written twice (no map of ours does; a crafted file may) keeps its latest time.
        // Postcard: variant 2 (Distinct), 2 pairs, ("a", zigzag 8 = 4), ("a", zigzag 4 = 2), window 4.
        let mut bytes = vec![2u8, 2, 1, b'a', 8, 1, b'a', 4, 4];
        let Entry::Distinct { members, window } = postcard::from_bytes::<Entry>(&bytes).unwrap().checked() else { panic!() };
        assert_eq!((members, window), (Members(vec![("a".into(), 4)]), 4));
        bytes[1] = 200; // a claimed length far past the bytes there: an error, not a large allocation
        assert!(postcard::from_bytes::<Entry>(&bytes).is_err());
    }

    #[test]
    fn windows_on_the_event_clock() {
        let mut s = DetectionState::new(100, 1 << 20);
        let min: i64 = 60_000;
        let w = 5 * min as u64;
        assert_eq!(s.count("k", w, 0, true), 1);
        assert_eq!(s.count("k", w, min, true), 2);
        assert_eq!(s.count("k", w, 5 * min, true), 2, "the first fell out of the window");
        // A late event (older published) counts in its own window…
        assert_eq!(s.count("k", w, 4 * min, true), 2);
        // … and in the windows after it.
        assert_eq!(s.count("k", w, 5 * min, false), 3);
        let w = min as u64;
        assert_eq!(s.distinct("d", "a", w, 0), 1);
        assert_eq!(s.distinct("d", "b", w, 10), 2);
        assert_eq!(s.distinct("d", "a", w, 20), 2);
        assert_eq!(s.distinct("d", "c", w, min + 15), 2, "b aged out");
        assert_eq!(s.members("d", w, min + 15), vec!["a".to_string(), "c".to_string()]);
    }

    #[test]
    fn ttl_last_seen_and_quota() {
        let mut s = DetectionState::new(2, 1 << 20);
        assert!(s.set("a", b"1".to_vec(), 100, 0));
        assert_eq!(s.get("a", 99), Some(b"1".to_vec()));
        assert_eq!(s.get("a", 100), None);
        assert_eq!(s.last_seen("ip", "1.1.1.1", 0, 5), None);
        assert_eq!(s.last_seen("ip", "2.2.2.2", 0, 7), Some(("1.1.1.1".into(), 5)));
        // Two keys is the quota: "a" expired at 100 and goes first …
        assert!(s.set("b", vec![], 0, 200));
        assert_eq!(s.quota_hits, 1);
        // … then the least recently touched ("ip", at 7) makes room.
        assert!(s.set("c", vec![], 0, 300));
        assert_eq!(s.get("ip", 300), None);
        assert!(s.get("b", 300).is_some() && s.get("c", 300).is_some());
        assert_eq!(s.evicted, 1);
    }

    /// Far under its quota, a detection's map still holds about twice its
    /// live entries, not every key it ever wrote; what an event up to the
    /// slack behind the latest can see stays.
    #[test]
    fn expired_entries_are_swept_long_before_the_quota() {
        let mut s = DetectionState::new(1_000_000, 1 << 30);
        let minute = 60_000;
        // One new key a second for 10 hours, each live for a minute, and
        // a counter and a distinct set on the same clock.
        for i in 0..36_000i64 {
            let now = i * 1000;
            assert!(s.set(&format!("v{i}"), vec![1], 60_000, now));
            s.count(&format!("c{i}"), 60_000, now, true);
            s.distinct(&format!("d{i}"), "m", 60_000, now);
            assert!(s.len() <= 2 * SWEEP_MIN.max(3 * (60 + SWEEP_SLACK_MS / 1000) as usize) + 3, "{} entries at {i}", s.len());
        }
        let now = 35_999 * 1000;
        assert_eq!(s.get("v35999", now), Some(vec![1]));
        assert_eq!(s.count("c35999", minute as u64, now, false), 1);
        // An event half the slack behind the latest still sees its own time's entries.
        let behind = now - SWEEP_SLACK_MS / 2;
        assert_eq!(s.get(&format!("v{}", behind / 1000), behind), Some(vec![1]));
        assert_eq!(s.quota_hits, 0);
        assert_eq!(s.evicted, 0);
        // The byte count follows: only what is kept is counted.
        let kept: usize = s.entries.iter().map(|(k, e)| e.size() + k.len()).sum();
        assert_eq!(s.bytes, kept);
    }

    #[test]
    fn a_full_state_drops_the_oldest_down_to_nine_tenths_also_when_times_tie() {
        // 100 keys: 40 at time 1, 60 at time 2; the 101st makes room for 10 keys.
        let mut s = DetectionState::new(100, 1 << 20);
        for i in 0..100 {
            assert!(s.set(&format!("k{i}"), vec![], 0, if i < 40 { 1 } else { 2 }));
        }
        assert!(s.set("new", vec![], 0, 3));
        assert_eq!((s.quota_hits, s.evicted, s.len()), (1, 10, 91), "down to 90 keys, then the new one");
        let old_left = (0..40).filter(|i| s.get(&format!("k{i}"), 3).is_some()).count();
        assert_eq!(old_left, 30, "only the oldest go");
        assert!((40..100).all(|i| s.get(&format!("k{i}"), 3).is_some()) && s.get("new", 3).is_some());
        // All at one time: exactly enough of them go, not all.
        let mut s = DetectionState::new(50, 1 << 20);
        for i in 0..50 {
            assert!(s.set(&format!("k{i}"), vec![1; 10], 0, 7));
        }
        assert!(s.set("new", vec![], 0, 7));
        assert_eq!((s.evicted, s.len()), (5, 46));
        assert_eq!(s.bytes, s.entries.iter().map(|(k, e)| e.size() + k.len()).sum::<usize>());
    }

    #[test]
    fn memory_store_keeps_no_change_set_and_a_file_store_does() {
        let store = StateStore::in_memory(100, 1 << 20);
        let s = store.for_detection("det").unwrap();
        for i in 0..50 {
            s.lock().unwrap().set(&format!("k{i}"), vec![1], 10, i);
            s.lock().unwrap().count(&format!("c{i}"), 10, i, true);
        }
        s.lock().unwrap().remove("k1");
        assert_eq!(s.lock().unwrap().len(), 99);
        assert!(s.lock().unwrap().dirty.keys.is_empty());
        assert_eq!(store.flush().unwrap(), 0);

        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("state.redb"), 100, 1 << 20).unwrap();
        let s = store.for_detection("det").unwrap();
        for i in 0..50 {
            s.lock().unwrap().set(&format!("k{i}"), vec![1], 10, i);
        }
        assert_eq!(s.lock().unwrap().dirty.keys.len(), 50);
        assert_eq!(store.flush().unwrap(), 50);
        assert!(s.lock().unwrap().dirty.keys.is_empty());
    }

    #[test]
    fn persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = StateStore::open(&path, 100, 1 << 20).unwrap();
            let s = store.for_detection("det").unwrap();
            s.lock().unwrap().count("k", 1000, 10, true);
            s.lock().unwrap().count("k", 1000, 20, true);
            store.for_detection("other").unwrap().lock().unwrap().set("x", b"y".to_vec(), 0, 0);
            assert_eq!(store.flush().unwrap(), 2);
        }
        let store = StateStore::open(&path, 100, 1 << 20).unwrap();
        let s = store.for_detection("det").unwrap();
        assert_eq!(s.lock().unwrap().count("k", 1000, 30, true), 3);
        assert_eq!(s.lock().unwrap().len(), 1);
    }
    /// Keys that would be written at the next flush: live ones plus tombstones.
    fn live_and_tombstones(s: &DetectionState) -> (usize, usize) {
        let tomb = s.dirty.keys.keys().filter(|k| !s.entries.contains_key(k.as_str())).count();
        (s.dirty.keys.len() - tomb, tomb)
    }

    #[test]
    fn the_change_set_never_outgrows_twice_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let store = StateStore::open(&path, 100, 1 << 20).unwrap();
        let s = store.for_detection("churn").unwrap();
        // A first page: 10,000 new keys into a quota of 100. Keys written
        // and evicted within the page leave nothing to flush.
        for i in 0..10_000 {
            let mut g = s.lock().unwrap();
            g.set(&format!("a{i}"), vec![0; 100], 0, i);
            assert!(g.pending() <= 100, "at {i}: {}", g.pending());
        }
        {
            let g = s.lock().unwrap();
            assert_eq!(live_and_tombstones(&g), (g.len(), 0));
        }
        store.flush().unwrap();
        // The next page evicts what is on disk: tombstones, at most one per key on disk.
        for i in 0..10_000 {
            let mut g = s.lock().unwrap();
            g.set(&format!("b{i}"), vec![0; 100], 0, 10_000 + i);
            assert!(g.pending() <= 200, "at {i}: {}", g.pending());
        }
        let (live, tomb) = live_and_tombstones(&s.lock().unwrap());
        assert!(live <= 100 && tomb > 0 && tomb <= 100, "{live} live, {tomb} tombstones");
        store.flush().unwrap();
        // The disk holds exactly what memory holds.
        let want: std::collections::BTreeSet<String> = s.lock().unwrap().entries.keys().map(|k| k.to_string()).collect();
        drop((s, store));
        let store = StateStore::open(&path, 100, 1 << 20).unwrap();
        let s = store.for_detection("churn").unwrap();
        let got: std::collections::BTreeSet<String> = s.lock().unwrap().entries.keys().map(|k| k.to_string()).collect();
        assert_eq!(got, want);
        assert!(got.iter().all(|k| k.starts_with('b')) && got.len() <= 100);
    }

    #[test]
    fn a_far_future_event_does_not_move_the_state_clock() {
        let t = wall_ms() - 60_000;
        let min = 60_000u64;
        let mut s = DetectionState::new(100, 1 << 20);
        assert_eq!(s.count("k", 10 * min, t, true), 1);
        assert!(s.set("ttl", b"v".to_vec(), 5 * min, t));
        assert_eq!(s.count("k", 10 * min, t + 1000, true), 2);
        // Year 9999: the event counts, at the latest believable time …
        let far = 253_402_300_799_000;
        assert_eq!(s.count("k", 10 * min, far, true), 3);
        assert_eq!(s.count("k", 10 * min, t + 2000, true), 4, "the window was not wiped");
        // … and a sweep for room does not expire by its time.
        s.set("x", vec![], 0, far);
        s.make_room();
        assert_eq!(s.get("ttl", t + 3000), Some(b"v".to_vec()));
        assert_eq!(s.count("k", 10 * min, t + 3000, false), 4);
        // The limit: a day ahead of the host's clock still counts as its own time.
        let soon = wall_ms() + MAX_AHEAD_MS - 60_000;
        assert_eq!(s.count("k", 10 * min, soon, true), 1, "the window moved to `soon`");
        // Before any believable event, the host's clock stands in.
        let mut fresh = DetectionState::new(4, 1 << 20);
        fresh.set("v", vec![], 1000, far);
        let Some(Entry::Value { at, .. }) = fresh.entries.get("v") else { panic!() };
        assert!((*at - wall_ms()).abs() < 60_000, "{at}");
    }

    #[test]
    fn windows_and_ttls_of_any_size() {
        let mut s = DetectionState::new(3, 1 << 20);
        let late = wall_ms();
        for (i, now) in [0, 1000, late].into_iter().enumerate() {
            let n = i as u32 + 1;
            assert_eq!(s.count("a", u64::MAX, now, true), n);
            assert_eq!(s.count("b", 1 << 63, now, true), n);
            assert_eq!(s.distinct("c", &format!("m{i}"), u64::MAX, now), n);
            assert_eq!(s.members("c", 1 << 63, now).len(), n as usize);
            assert_eq!(s.count("a", u64::MAX, now, false), n);
        }
        // Over the quota of 3 keys: the sweep checks expiry of huge windows.
        assert!(s.set("d", b"x".to_vec(), u64::MAX, 0));
        assert_eq!(s.quota_hits, 1);
        assert_eq!(s.get("d", late), Some(b"x".to_vec()), "a TTL of u64::MAX never ends");
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_and_state_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let garbage = b"this is not a redb file, it was cut and overwritten ".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let store = StateStore::open(&path, 100, 1 << 20).unwrap();
        let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("state.redb.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage, "the corrupt file is kept as it was");
        let s = store.for_detection("det").unwrap();
        assert!(s.lock().unwrap().is_empty());
        s.lock().unwrap().set("k", b"v".to_vec(), 0, 1);
        assert_eq!(store.flush().unwrap(), 1);
        drop((s, store));
        // The new file is a good one.
        let store = StateStore::open(&path, 100, 1 << 20).unwrap();
        assert_eq!(store.for_detection("det").unwrap().lock().unwrap().get("k", 2), Some(b"v".to_vec()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_damaged_database_opens_repaired_or_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = StateStore::open(&path, 10_000, 16 << 20).unwrap();
            let s = store.for_detection("det").unwrap();
            for i in 0..2000 {
                s.lock().unwrap().set(&format!("key{i}"), vec![7; 200], 0, i);
            }
            store.flush().unwrap();
        }
        let good = std::fs::read(&path).unwrap();
        let asides = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".corrupt-"))
                .count()
        };
        let mut flipped = good.clone();
        for b in &mut flipped[good.len() / 3..good.len() / 3 + 64] {
            *b ^= 0xff;
        }
        let damaged = [good[..good.len() / 2].to_vec(), good[..good.len() - 4096].to_vec(), good[..100].to_vec(), flipped];
        for (i, bytes) in damaged.iter().enumerate() {
            std::fs::write(&path, bytes).unwrap();
            let moved = asides();
            let store = StateStore::open(&path, 10_000, 16 << 20).unwrap_or_else(|e| panic!("damage {i}: {e}"));
            let n = store.for_detection("det").unwrap().lock().unwrap().len();
            // Either redb repaired it (to the last good commit: all or nothing
            // of the one page here), or it was moved aside and state is empty.
            match asides() - moved {
                0 => assert!(n == 2000 || n == 0, "damage {i}: {n} keys after a repair"),
                1 => assert_eq!(n, 0, "damage {i}"),
                k => panic!("damage {i}: {k} files moved aside"),
            }
        }
    }

    #[test]
    fn other_open_failures_are_errors_and_touch_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        std::fs::create_dir(&path).unwrap();
        assert!(StateStore::open(&path, 10, 1 << 10).is_err());
        assert!(path.is_dir(), "a directory is not renamed");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
