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

use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Entries are postcard-encoded [`Entry`] values; a format change gets a new table name.
const TABLE: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("state_v1");
/// Occurrences kept per counter; past this the oldest are forgotten.
const MAX_TIMES: usize = 10_000;
/// Members kept per distinct set (far above any detection threshold); past
/// this the least recently seen are forgotten.
const MAX_MEMBERS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {0}")]
    Db(String),
}

fn db_err(e: impl std::fmt::Display) -> StateError {
    StateError::Db(e.to_string())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Entry {
    Value { data: Vec<u8>, at: i64, expires: i64 },
    Counter { times: VecDeque<i64>, window: u64 },
    Distinct { members: HashMap<String, i64>, window: u64 },
}

impl Entry {
    fn size(&self) -> usize {
        match self {
            Entry::Value { data, .. } => data.len() + 16,
            Entry::Counter { times, .. } => times.len() * 8 + 8,
            Entry::Distinct { members, .. } => members.keys().map(|k| k.len() + 8).sum::<usize>() + 8,
        }
    }
    /// The latest event time this entry was written at.
    fn last_touched(&self) -> i64 {
        match self {
            Entry::Value { at, .. } => *at,
            Entry::Counter { times, .. } => times.back().copied().unwrap_or(i64::MIN),
            Entry::Distinct { members, .. } => members.values().copied().max().unwrap_or(i64::MIN),
        }
    }

    fn expired(&self, now: i64) -> bool {
        match self {
            Entry::Value { expires, .. } => *expires != 0 && *expires <= now,
            Entry::Counter { times, window } => times.back().is_none_or(|&t| t < now - *window as i64),
            Entry::Distinct { members, window } => members.values().all(|&t| t < now - *window as i64),
        }
    }
}

/// One detection's state.
#[derive(Debug)]
pub struct DetectionState {
    entries: HashMap<String, Entry>,
    dirty: HashSet<String>,
    bytes: usize,
    max_keys: usize,
    max_bytes: usize,
    /// Latest event time seen, for expiry sweeps.
    latest: i64,
    /// Times the quota was reached.
    pub quota_hits: u64,
    /// Entries dropped (least recently touched first) to stay within the quota.
    pub evicted: u64,
}

impl DetectionState {
    fn new(max_keys: usize, max_bytes: usize) -> Self {
        DetectionState {
            entries: HashMap::new(),
            dirty: HashSet::new(),
            bytes: 0,
            max_keys,
            max_bytes,
            latest: i64::MIN,
            quota_hits: 0,
            evicted: 0,
        }
    }

    fn put(&mut self, key: &str, entry: Entry) -> bool {
        let new = entry.size() + key.len();
        let old = self.entries.get(key).map(|e| e.size() + key.len());
        let over = |s: &Self| {
            (old.is_none() && s.entries.len() >= s.max_keys) || s.bytes - old.unwrap_or(0) + new > s.max_bytes
        };
        if over(self) {
            self.make_room();
            if over(self) {
                // A single value larger than the whole quota.
                self.quota_hits += 1;
                return false;
            }
        }
        self.bytes = self.bytes - old.unwrap_or(0) + new;
        self.entries.insert(key.to_string(), entry);
        self.mark_dirty(key);
        true
    }

    /// The quota is reached: drop what expired by the latest event time,
    /// and, unless that freed a tenth of the quota, the least recently
    /// touched entries down to 90% of it. One pass makes room for many puts,
    /// so the cost per put stays small even when state is always full.
    fn make_room(&mut self) {
        self.quota_hits += 1;
        let now = self.latest;
        let expired: Vec<String> = self.entries.iter().filter(|(_, e)| e.expired(now)).map(|(k, _)| k.clone()).collect();
        for k in expired {
            self.delete(&k);
        }
        let (keys_goal, bytes_goal) = (self.max_keys * 9 / 10, self.max_bytes * 9 / 10);
        if self.entries.len() <= keys_goal && self.bytes <= bytes_goal {
            return;
        }
        let mut by_age: Vec<(i64, String)> = self.entries.iter().map(|(k, e)| (e.last_touched(), k.clone())).collect();
        by_age.sort_unstable();
        for (_, k) in by_age {
            if self.entries.len() <= keys_goal && self.bytes <= bytes_goal {
                break;
            }
            self.delete(&k);
            self.evicted += 1;
        }
    }

    fn delete(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.size() + key.len();
            self.dirty.insert(key.to_string());
        }
    }

    fn observe(&mut self, now: i64) {
        self.latest = self.latest.max(now);
    }

    pub fn get(&mut self, key: &str, now: i64) -> Option<Vec<u8>> {
        self.observe(now);
        match self.entries.get(key)? {
            Entry::Value { data, expires, .. } if *expires == 0 || *expires > now => Some(data.clone()),
            _ => None,
        }
    }

    pub fn set(&mut self, key: &str, data: Vec<u8>, ttl_ms: u64, now: i64) -> bool {
        self.observe(now);
        let expires = if ttl_ms == 0 { 0 } else { now.saturating_add(ttl_ms as i64) };
        self.put(key, Entry::Value { data, at: now, expires })
    }

    pub fn remove(&mut self, key: &str) {
        self.delete(key);
    }

    /// Records one occurrence at `now` (unless `record` is false) and counts
    /// those in `(now - window, now]`. In place: O(log n) plus what it prunes.
    pub fn count(&mut self, key: &str, window: u64, now: i64, record: bool) -> u32 {
        self.observe(now);
        let from = now.saturating_sub(window as i64);
        let within = |times: &VecDeque<i64>| (times.partition_point(|&t| t <= now) - times.partition_point(|&t| t <= from)) as u32;
        if !record {
            return match self.entries.get(key) {
                Some(Entry::Counter { times, .. }) => within(times),
                _ => 0,
            };
        }
        if !matches!(self.entries.get(key), Some(Entry::Counter { .. }))
            && !self.put(key, Entry::Counter { times: VecDeque::new(), window })
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
        let before = times.len();
        while times.len() > 1 && times.front().is_some_and(|&t| t <= from) || times.len() > MAX_TIMES {
            times.pop_front();
        }
        let n = within(times);
        let removed = before - times.len();
        self.bytes = self.bytes + 8 - removed * 8;
        self.mark_dirty(key);
        n
    }

    /// Records `member` at `now`; returns how many distinct members were seen
    /// in `(now - window, now]`. In place: O(members), at most [`MAX_MEMBERS`].
    pub fn distinct(&mut self, key: &str, member: &str, window: u64, now: i64) -> u32 {
        self.observe(now);
        let from = now.saturating_sub(window as i64);
        if !matches!(self.entries.get(key), Some(Entry::Distinct { .. }))
            && !self.put(key, Entry::Distinct { members: HashMap::new(), window })
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
        let mut delta: isize = 0;
        match members.get_mut(member) {
            Some(t) => *t = (*t).max(now),
            None => {
                members.insert(member.to_string(), now);
                delta += (member.len() + 8) as isize;
            }
        }
        members.retain(|m, t| {
            let keep = *t > from;
            if !keep {
                delta -= (m.len() + 8) as isize;
            }
            keep
        });
        if members.len() > MAX_MEMBERS {
            let mut by_time: Vec<(i64, String)> = members.iter().map(|(k, t)| (*t, k.clone())).collect();
            by_time.sort_unstable();
            for (_, k) in by_time.iter().take(members.len() - MAX_MEMBERS) {
                members.remove(k);
                delta -= (k.len() + 8) as isize;
            }
        }
        let n = members.values().filter(|&&t| t <= now).count() as u32;
        self.bytes = (self.bytes as isize + delta).max(0) as usize;
        self.mark_dirty(key);
        n
    }

    /// The distinct members seen in `(now - window, now]`, sorted, recording nothing.
    pub fn members(&mut self, key: &str, window: u64, now: i64) -> Vec<String> {
        self.observe(now);
        let from = now.saturating_sub(window as i64);
        let mut within: Vec<String> = match self.entries.get(key) {
            Some(Entry::Distinct { members, .. }) => {
                members.iter().filter(|(_, t)| **t > from && **t <= now).map(|(k, _)| k.clone()).collect()
            }
            _ => Vec::new(),
        };
        within.sort();
        within
    }

    fn mark_dirty(&mut self, key: &str) {
        if !self.dirty.contains(key) {
            self.dirty.insert(key.to_string());
        }
    }

    /// Stores `value` as last seen; returns the previous one with its time.
    pub fn last_seen(&mut self, key: &str, value: &str, ttl_ms: u64, now: i64) -> Option<(String, i64)> {
        self.observe(now);
        let prev = match self.entries.get(key) {
            Some(Entry::Value { data, at, expires }) if *expires == 0 || *expires > now => {
                Some((String::from_utf8_lossy(data).into_owned(), *at))
            }
            _ => None,
        };
        self.set(key, value.as_bytes().to_vec(), ttl_ms, now);
        prev
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
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

    pub fn open(path: &Path, max_keys: usize, max_bytes: usize) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(db_err)?;
        }
        let db = Database::create(path).map_err(|e| StateError::Db(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(TABLE).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(StateStore { db: Some(db), detections: Mutex::new(HashMap::new()), max_keys, max_bytes })
    }

    /// The state of one detection id, loaded from disk on first use.
    pub fn for_detection(&self, id: &str) -> Result<Arc<Mutex<DetectionState>>, StateError> {
        let mut map = self.detections.lock().unwrap();
        if let Some(s) = map.get(id) {
            return Ok(s.clone());
        }
        let mut state = DetectionState::new(self.max_keys, self.max_bytes);
        if let Some(db) = &self.db {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(TABLE).map_err(db_err)?;
            for row in table.range((id, "")..).map_err(db_err)? {
                let (k, v) = row.map_err(db_err)?;
                let (det, key) = k.value();
                if det != id {
                    break;
                }
                if let Ok(entry) = postcard::from_bytes::<Entry>(v.value()) {
                    state.bytes += entry.size() + key.len();
                    state.entries.insert(key.to_string(), entry);
                }
            }
        }
        let state = Arc::new(Mutex::new(state));
        map.insert(id.to_string(), state.clone());
        Ok(state)
    }

    /// Writes every change since the last flush in one transaction.
    pub fn flush(&self) -> Result<usize, StateError> {
        let Some(db) = &self.db else {
            // Nothing to write, but the change sets must not grow forever.
            for s in self.detections.lock().unwrap().values() {
                s.lock().unwrap().dirty.clear();
            }
            return Ok(0);
        };
        let states: Vec<(String, Arc<Mutex<DetectionState>>)> =
            self.detections.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut changes: Vec<(String, String, Option<Vec<u8>>)> = Vec::new();
        for (id, s) in &states {
            let mut s = s.lock().unwrap();
            let dirty: Vec<String> = s.dirty.drain().collect();
            for key in dirty {
                let bytes = s.entries.get(&key).map(|e| postcard::to_allocvec(e).expect("entry serializes"));
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

    #[test]
    fn memory_store_forgets_its_change_set() {
        let store = StateStore::in_memory(100, 1 << 20);
        let s = store.for_detection("det").unwrap();
        for i in 0..50 {
            s.lock().unwrap().set(&format!("k{i}"), vec![1], 10, i);
        }
        assert_eq!(s.lock().unwrap().dirty.len(), 50);
        store.flush().unwrap();
        assert!(s.lock().unwrap().dirty.is_empty());
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
}
