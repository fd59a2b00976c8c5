//! The spool: an append-only, bounded spool of messages on disk.
//!
//! Every message goes through it: the pipeline appends a page's messages and
//! then a commit record (the page's cursor and dedup keys), and the sender
//! sends from it in order, recording its position after each send. So:
//! - a page is "handed to the sink" once its commit record is written;
//! - while Wazuh is down the spool grows (up to its bound, then the
//!   pipeline holds the source back) and drains in order when it returns;
//! - after a crash, a torn or uncommitted tail is cut off (that page is
//!   fetched again), and at most the one message in flight is sent twice;
//! - what the checkpoint claims is never cut: an unreadable record there
//!   (oversized, checksum mismatch, garbage, a truncated file) is replaced
//!   in place by a padding record of the same length, the damaged segment is
//!   kept beside it (`<name>.seg.damaged-<time>`), and every valid record
//!   after it is still delivered. Offsets never move, so the checkpoint, the
//!   send position and later segments stay valid.
//!
//! Layout: segment files `<start offset>.seg` holding records
//! `[u32 len][u32 crc32(kind+payload)][u8 kind][payload]` (kinds: message,
//! commit, padding), global byte offsets across segments, and a `sent` file
//! holding the send position. A record over [`MAX_RECORD`] is refused at append.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const KIND_MESSAGE: u8 = b'M';
const KIND_COMMIT: u8 = b'C';
/// Stands in for damaged bytes found at recovery; read past like a commit.
const KIND_PAD: u8 = b'P';
const HEADER: u64 = 9;
const SEGMENT_BYTES: u64 = 64 << 20;
/// A record larger than this is refused at append and is damage when read.
pub const MAX_RECORD: u32 = 16 << 20;
/// The most padding recovery makes for missing bytes (a segment holds 64 MiB and one page).
const MAX_SEGMENT_GAP: u64 = 4 * SEGMENT_BYTES;

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("spool is full ({used} of {bound} bytes unsent): is Wazuh down? holding the source back")]
    Full { used: u64, bound: u64 },
    #[error("spool: a record of {len} bytes is over the {MAX_RECORD}-byte bound; refused")]
    TooLarge { len: usize },
    #[error("spool segment {path} is damaged beyond repair: {why}")]
    Damaged { path: PathBuf, why: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.to_path_buf(), source }
}

/// A commit record found on disk when the spool was opened.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Spool offset just past the commit record.
    pub end: u64,
    pub payload: Vec<u8>,
}

/// What opening found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Commit records still on disk, oldest first.
    pub commits: Vec<Commit>,
    /// Bytes cut off the tail: a torn write or a page without its commit.
    pub truncated_bytes: u64,
    /// Damage found inside what must be kept, and repaired with padding.
    pub repairs: Vec<Repair>,
}

/// One damaged segment, repaired in place.
#[derive(Debug, Clone)]
pub struct Repair {
    /// The segment, now readable again.
    pub segment: PathBuf,
    /// The damaged original, kept for a look.
    pub kept: PathBuf,
    /// The unreadable byte ranges (spool offsets), now padding.
    pub holes: Vec<(u64, u64)>,
}

impl Repair {
    pub fn bytes(&self) -> u64 {
        self.holes.iter().map(|(a, b)| b - a).sum()
    }
}

struct Positions {
    /// Start offsets of the segment files, oldest first.
    segments: VecDeque<u64>,
    /// End of the last commit record: what the sender may read.
    committed: u64,
    /// Next message the sender will send.
    sent: u64,
    /// Offset covered by the saved checkpoint; segments at or past it stay.
    durable: u64,
    closed: bool,
    /// Threads waiting for the sender's progress (room, drained): the sender
    /// wakes them only when there are some (a wake-up is a syscall per message).
    waiters: usize,
}

struct Shared {
    dir: PathBuf,
    pos: Mutex<Positions>,
    changed: Condvar,
}

/// Reads how many bytes wait in the spool.
#[derive(Clone)]
pub struct SpoolGauge(Arc<Shared>);

impl SpoolGauge {
    pub fn unsent(&self) -> u64 {
        let p = self.0.pos.lock().unwrap();
        p.committed - p.sent
    }

    /// Damaged segments kept after a repair (`*.seg.damaged-*`), until someone removes them.
    pub fn damaged(&self) -> Vec<PathBuf> {
        let Ok(dir) = fs::read_dir(&self.0.dir) else { return Vec::new() };
        let mut out: Vec<PathBuf> = dir
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_str().is_some_and(|n| n.contains(".seg.damaged-")))
            .map(|e| e.path())
            .collect();
        out.sort();
        out
    }
}

/// The writing side (the pipeline); [`Spool::reader`] gives the sending side.
pub struct Spool {
    shared: Arc<Shared>,
    file: File,
    file_start: u64,
    buf: Vec<u8>,
    bound: u64,
    fsync: bool,
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, recovering from a crash.
    /// `claimed` is the offset the saved checkpoint covers (0 without one):
    /// nothing before it is ever cut, damaged or not.
    pub fn open(dir: &Path, bound: u64, fsync: bool, claimed: u64) -> Result<(Spool, Recovery), SpoolError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut starts: Vec<u64> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        starts.sort_unstable();

        let mut recovery = Recovery::default();
        let mut committed = starts.first().copied().unwrap_or(0);
        for (i, &start) in starts.iter().enumerate() {
            let path = segment_path(dir, start);
            // A segment before the last must reach the next one; the last ends where its records do.
            let next = starts.get(i + 1).copied();
            let scan = scan_segment(&path, start, next, claimed)?;
            recovery.commits.extend(scan.commits);
            recovery.truncated_bytes += scan.cut;
            if let Some(r) = scan.repair {
                recovery.repairs.push(r);
            }
            committed = scan.end;
        }
        // Drop empty trailing segments other than the first (rolled, never written).
        while starts.len() > 1 && *starts.last().unwrap() == committed {
            let path = segment_path(dir, starts.pop().unwrap());
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        if starts.is_empty() {
            starts.push(committed);
        }
        let file_start = *starts.last().unwrap();
        let path = segment_path(dir, file_start);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;

        let first = starts[0];
        let mut sent = read_sent(dir).clamp(first, committed);
        // A send position inside a repaired hole restarts at the padding record.
        for (a, b) in recovery.repairs.iter().flat_map(|r| r.holes.iter()) {
            if sent > *a && sent < *b {
                sent = *a;
            }
        }
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            pos: Mutex::new(Positions {
                segments: starts.into(),
                committed,
                sent,
                durable: committed,
                closed: false,
                waiters: 0,
            }),
            changed: Condvar::new(),
        });
        let spool = Spool { shared, file, file_start, buf: Vec::with_capacity(1 << 20), bound, fsync };
        Ok((spool, recovery))
    }

    /// A handle that reads the unsent bytes from elsewhere (metrics).
    pub fn gauge(&self) -> SpoolGauge {
        SpoolGauge(self.shared.clone())
    }

    /// Bytes written but not yet sent.
    pub fn unsent(&self) -> u64 {
        let p = self.shared.pos.lock().unwrap();
        p.committed - p.sent
    }

    /// Refuses when the unsent bytes exceed the bound (the caller waits and retries).
    pub fn check_room(&self) -> Result<(), SpoolError> {
        let used = self.unsent();
        if used >= self.bound { Err(SpoolError::Full { used, bound: self.bound }) } else { Ok(()) }
    }

    /// Waits up to `timeout` for the sender to make room; true when there is room.
    pub fn wait_room(&self, timeout: Duration) -> bool {
        self.shared.wait_progress(timeout, |p| p.committed - p.sent >= self.bound && !p.closed, |p| {
            p.committed - p.sent < self.bound
        })
    }

    /// Appends a page: its messages, then the commit record. Returns the
    /// offset past the commit. Nothing of the page is visible to the sender
    /// (or to a recovery) before the commit record is complete.
    pub fn append<'a>(
        &mut self,
        messages: impl IntoIterator<Item = &'a [u8]>,
        commit: &'a [u8],
    ) -> Result<u64, SpoolError> {
        let start = self.shared.pos.lock().unwrap().committed;
        if start - self.file_start >= SEGMENT_BYTES {
            self.roll(start)?;
        }
        self.buf.clear();
        for (kind, m) in messages.into_iter().map(|m| (KIND_MESSAGE, m)).chain([(KIND_COMMIT, commit)]) {
            if m.len() > MAX_RECORD as usize {
                self.buf.clear();
                return Err(SpoolError::TooLarge { len: m.len() });
            }
            encode(&mut self.buf, kind, m);
        }
        let path = segment_path(&self.shared.dir, self.file_start);
        self.file.write_all(&self.buf).map_err(io_err(&path))?;
        if self.fsync {
            self.file.sync_data().map_err(io_err(&path))?;
        }
        let end = start + self.buf.len() as u64;
        // A large page's buffer is not kept between pages: a process serving
        // many orgs would hold one per org (50 orgs × a few MiB).
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::with_capacity(1 << 20);
        }
        let mut p = self.shared.pos.lock().unwrap();
        p.committed = end;
        self.shared.changed.notify_all();
        Ok(end)
    }

    fn roll(&mut self, start: u64) -> Result<(), SpoolError> {
        let path = segment_path(&self.shared.dir, start);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        sync_dir(&self.shared.dir);
        self.file = file;
        self.file_start = start;
        self.shared.pos.lock().unwrap().segments.push_back(start);
        Ok(())
    }

    /// Tells the spool that a checkpoint covering everything up to `end` is
    /// saved: sent segments before it may now be deleted.
    pub fn set_durable(&self, end: u64) {
        let mut p = self.shared.pos.lock().unwrap();
        p.durable = end;
        drop(p);
        self.shared.collect_garbage();
    }

    /// The sending side, starting at the saved send position.
    pub fn reader(&self) -> Result<SpoolReader, SpoolError> {
        let sent = self.shared.pos.lock().unwrap().sent;
        let path = self.shared.dir.join("sent");
        let sent_file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        Ok(SpoolReader { shared: self.shared.clone(), pos: sent, file: None, record: Vec::new(), sent_file })
    }

    /// Wakes a waiting reader and makes it return `None` once it has sent everything committed.
    pub fn close(&self) {
        self.shared.pos.lock().unwrap().closed = true;
        self.shared.changed.notify_all();
    }

    /// Waits until everything committed is sent, up to `timeout`. True when drained.
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        self.shared.wait_progress(timeout, |p| p.sent < p.committed, |p| p.sent >= p.committed)
    }
}

impl Shared {
    /// Waits while `waiting` holds (up to `timeout`), counted as a waiter so
    /// the sender wakes it; returns `done` on the final positions.
    fn wait_progress(
        &self,
        timeout: Duration,
        waiting: impl FnMut(&mut Positions) -> bool,
        done: impl FnOnce(&Positions) -> bool,
    ) -> bool {
        let mut p = self.pos.lock().unwrap();
        p.waiters += 1;
        let (mut p, _) = self.changed.wait_timeout_while(p, timeout, waiting).unwrap();
        p.waiters -= 1;
        done(&p)
    }

    /// Deletes segments entirely before both the send and durable positions.
    fn collect_garbage(&self) {
        let mut p = self.pos.lock().unwrap();
        let keep_from = p.sent.min(p.durable);
        while p.segments.len() > 1 && p.segments[1] <= keep_from {
            let start = p.segments.pop_front().unwrap();
            let _ = fs::remove_file(segment_path(&self.dir, start));
        }
    }
}

/// Reads committed messages in order for the sender.
pub struct SpoolReader {
    shared: Arc<Shared>,
    pos: u64,
    file: Option<(u64, BufReader<File>)>,
    record: Vec<u8>,
    /// Where the send position is recorded after each send.
    sent_file: File,
}

impl SpoolReader {
    /// The next unsent message, waiting for one; `None` once the spool is
    /// closed and everything committed was read. Call [`Self::ack`] after sending it.
    #[allow(clippy::should_implement_trait)] // it lends from self: not an Iterator
    pub fn next(&mut self) -> Result<Option<&[u8]>, SpoolError> {
        self.next_or_idle(|| {})
    }

    /// [`Self::next`], calling `idle` once before it waits for more (the sender
    /// flushes a buffering sink there: commit records after the last message
    /// are read past before waiting, so "caught up" is known only here).
    pub fn next_or_idle(&mut self, mut idle: impl FnMut()) -> Result<Option<&[u8]>, SpoolError> {
        loop {
            let (committed, seg_start, seg_end) = {
                let mut p = self.shared.pos.lock().unwrap();
                if self.pos >= p.committed && !p.closed {
                    drop(p);
                    idle();
                    p = self.shared.pos.lock().unwrap();
                }
                let p = self.shared.changed.wait_while(p, |p| self.pos >= p.committed && !p.closed).unwrap();
                if self.pos >= p.committed {
                    return Ok(None);
                }
                let idx = p.segments.partition_point(|&s| s <= self.pos) - 1;
                (p.committed, p.segments[idx], p.segments.get(idx + 1).copied())
            };
            if seg_end == Some(self.pos) {
                self.file = None;
                continue;
            }
            if self.file.as_ref().map(|(s, _)| *s) != Some(seg_start) {
                let path = segment_path(&self.shared.dir, seg_start);
                let mut f = File::open(&path).map_err(io_err(&path))?;
                f.seek(SeekFrom::Start(self.pos - seg_start)).map_err(io_err(&path))?;
                self.file = Some((seg_start, BufReader::with_capacity(256 << 10, f)));
            }
            let (start, reader) = self.file.as_mut().unwrap();
            let path = segment_path(&self.shared.dir, *start);
            let (kind, len) = read_record(reader, &mut self.record).map_err(io_err(&path))?;
            debug_assert!(self.pos + HEADER + len <= committed);
            if kind == KIND_COMMIT || kind == KIND_PAD {
                // Nothing to send: move past it as if sent.
                self.advance(HEADER + len);
                continue;
            }
            return Ok(Some(&self.record));
        }
    }

    /// Records that the message returned by the last [`Self::next`] was sent.
    pub fn ack(&mut self) {
        self.advance(HEADER + self.record.len() as u64);
    }

    fn advance(&mut self, by: u64) {
        self.pos += by;
        write_sent(&self.sent_file, self.pos);
        let mut p = self.shared.pos.lock().unwrap();
        p.sent = self.pos;
        let gc = p.segments.len() > 1 && p.segments[1] <= p.sent.min(p.durable);
        let wake = p.waiters > 0;
        drop(p);
        if wake {
            self.shared.changed.notify_all();
        }
        if gc {
            self.file = None;
            self.shared.collect_garbage();
        }
    }


}

fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.seg"))
}

fn encode(buf: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    crc.update(payload);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc.finalize().to_le_bytes());
    buf.push(kind);
    buf.extend_from_slice(payload);
}

/// Reads one record into `out`; returns its kind and payload length.
fn read_record(r: &mut impl Read, out: &mut Vec<u8>) -> io::Result<(u8, u64)> {
    let mut h = [0u8; HEADER as usize];
    r.read_exact(&mut h)?;
    let len = u32::from_le_bytes(h[0..4].try_into().unwrap());
    let crc = u32::from_le_bytes(h[4..8].try_into().unwrap());
    if len > MAX_RECORD {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "record length out of range"));
    }
    out.clear();
    out.resize(len as usize, 0);
    r.read_exact(out)?;
    let mut c = crc32fast::Hasher::new();
    c.update(&[h[8]]);
    c.update(out);
    if c.finalize() != crc {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "record checksum mismatch"));
    }
    Ok((h[8], len as u64))
}

/// What recovery made of one segment.
struct Scan {
    /// Offset past the last commit or padding: what the sender may read.
    end: u64,
    commits: Vec<Commit>,
    /// Bytes cut off the tail (a torn or uncommitted page, not claimed).
    cut: u64,
    repair: Option<Repair>,
}

/// Reads a segment starting at offset `start`, repairing it when needed.
/// `next`: where the following segment starts (this one must reach it);
/// None for the last one. `claimed`: offsets below it must stay readable.
fn scan_segment(path: &Path, start: u64, next: Option<u64>, claimed: u64) -> Result<Scan, SpoolError> {
    let data = fs::read(path).map_err(io_err(path))?;
    let file_end = start + data.len() as u64;
    // Where this segment must end (for the last one: as far as the checkpoint claims).
    // Offsets come from file names and the checkpoint, which may be damaged too:
    // padding is made only for what a real segment could have held.
    let must_end = match next {
        Some(n) => n,
        None => claimed.max(start),
    };
    if must_end > file_end.saturating_add(MAX_SEGMENT_GAP) {
        return Err(SpoolError::Damaged {
            path: path.to_path_buf(),
            why: format!(
                "it ends at offset {file_end} but {} at {must_end}; move the spool folder aside to start over (the checkpoint's page is then fetched again)",
                if next.is_some() { "the next segment begins" } else { "the checkpoint claims records" }
            ),
        });
    }
    let mut records: Vec<(u64, u8, u64)> = Vec::new(); // (offset, kind, total length)
    let mut holes: Vec<(u64, u64)> = Vec::new();
    let mut at = 0usize;
    let limit = match next {
        Some(n) => (n.saturating_sub(start) as usize).min(data.len()),
        None => data.len(),
    };
    while at < limit {
        match parse_record(&data[..limit], at) {
            Some((kind, total)) => {
                records.push((start + at as u64, kind, total as u64));
                at += total;
            }
            None => match resync(&data[..limit], at + 1) {
                Some(next_ok) => {
                    holes.push((start + at as u64, start + next_ok as u64));
                    at = next_ok;
                }
                None => break,
            },
        }
    }
    let stop = start + at as u64; // the first unreadable byte of the tail, or the end
    let mut end = records.iter().rev().find(|r| r.1 != KIND_MESSAGE).map(|r| r.0 + r.2).unwrap_or(start);
    let mut cut = 0;
    let mut keep_to = if stop < must_end {
        // Unreadable or missing bytes that must be kept: padding up to where the segment must end.
        holes.push((stop, must_end));
        must_end
    } else if next.is_some() {
        must_end
    } else {
        // The last segment's tail past the last commit: a torn or uncommitted page.
        end = end.max(must_end.min(stop));
        end
    };
    if next.is_none() {
        cut = file_end.saturating_sub(keep_to);
    }
    if keep_to > end {
        end = keep_to;
    }
    // Damage in a tail that is cut anyway needs no padding.
    holes.retain(|h| h.0 < keep_to);
    for h in holes.iter_mut() {
        h.1 = h.1.min(keep_to);
    }
    // A hole too short for a padding header swallows a neighbouring record
    // (never seen with flipped or cut bytes: a damaged record is itself longer).
    let mut fixed: Vec<(u64, u64)> = Vec::new();
    for (mut a, mut b) in holes {
        if b - a < HEADER
            && let Some(pos) = records.iter().rposition(|r| r.0 < a)
        {
            a = records.remove(pos).0;
        }
        if b - a < HEADER
            && let Some(pos) = records.iter().position(|r| r.0 >= b)
        {
            let r = records.remove(pos);
            b = r.0 + r.2;
        }
        if b - a < HEADER {
            b = a + HEADER;
            keep_to = keep_to.max(b);
            end = end.max(b);
        }
        if let Some(last) = fixed.last_mut().filter(|l| l.1 >= a) {
            last.1 = last.1.max(b);
        } else {
            fixed.push((a, b));
        }
    }
    let commits = records
        .iter()
        .filter(|r| r.1 == KIND_COMMIT && fixed.iter().all(|h| r.0 + r.2 <= h.0 || r.0 >= h.1))
        .map(|r| {
            let off = (r.0 - start) as usize + HEADER as usize;
            Commit { end: r.0 + r.2, payload: data[off..off + (r.2 - HEADER) as usize].to_vec() }
        })
        .collect();
    if fixed.is_empty() {
        if file_end != keep_to {
            let f = OpenOptions::new().write(true).open(path).map_err(io_err(path))?;
            f.set_len(keep_to - start).map_err(io_err(path))?;
            f.sync_all().map_err(io_err(path))?;
        }
        return Ok(Scan { end, commits, cut, repair: None });
    }
    // Rewrite with padding over the holes; keep the damaged original beside it.
    let mut repaired = data;
    repaired.resize((keep_to - start) as usize, 0);
    for (a, b) in &fixed {
        let (a, b) = ((a - start) as usize, (b - start) as usize);
        let mut pad = Vec::with_capacity(b - a);
        encode(&mut pad, KIND_PAD, &vec![0u8; b - a - HEADER as usize]);
        repaired[a..b].copy_from_slice(&pad);
    }
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let kept = path.with_extension(format!("seg.damaged-{stamp}"));
    let tmp = path.with_extension("seg.tmp");
    fs::write(&tmp, &repaired).map_err(io_err(&tmp))?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(io_err(&tmp))?;
    fs::rename(path, &kept).map_err(io_err(path))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(Scan { end, commits, cut, repair: Some(Repair { segment: path.to_path_buf(), kept, holes: fixed }) })
}

/// The record at `at` in `data` when it is whole and its checksum holds: (kind, total length).
fn parse_record(data: &[u8], at: usize) -> Option<(u8, usize)> {
    let h = data.get(at..at + HEADER as usize)?;
    let len = u32::from_le_bytes(h[0..4].try_into().unwrap());
    let kind = h[8];
    if len > MAX_RECORD || !matches!(kind, KIND_MESSAGE | KIND_COMMIT | KIND_PAD) {
        return None;
    }
    let payload = data.get(at + HEADER as usize..at + HEADER as usize + len as usize)?;
    let mut c = crc32fast::Hasher::new();
    c.update(&[kind]);
    c.update(payload);
    (c.finalize() == u32::from_le_bytes(h[4..8].try_into().unwrap())).then_some((kind, HEADER as usize + len as usize))
}

/// The first offset at or after `from` where a whole, valid record starts
/// and the records from it run to the end of `data` or to another valid one.
fn resync(data: &[u8], from: usize) -> Option<usize> {
    (from..data.len()).find(|&at| parse_record(data, at).is_some())
}

fn read_sent(dir: &Path) -> u64 {
    let mut b = [0u8; 16];
    match File::open(dir.join("sent")).and_then(|f| f.read_exact_at(&mut b, 0)) {
        Ok(()) => {
            let pos = u64::from_le_bytes(b[0..8].try_into().unwrap());
            let check = u64::from_le_bytes(b[8..16].try_into().unwrap());
            if check == !pos { pos } else { 0 }
        }
        Err(_) => 0,
    }
}

/// Written in place after each send: the page cache keeps it across a killed
/// process; the pair (pos, !pos) detects a torn write.
fn write_sent(f: &File, pos: u64) {
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&pos.to_le_bytes());
    b[8..16].copy_from_slice(&(!pos).to_le_bytes());
    if let Err(e) = f.write_all_at(&b, 0) {
        tracing::error!("spool: cannot record the send position: {e}");
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut SpoolReader, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let m = String::from_utf8(r.next().unwrap().unwrap().to_vec()).unwrap();
                r.ack();
                m
            })
            .collect()
    }

    #[test]
    fn append_read_ack_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, rec) = Spool::open(dir.path(), 1 << 30, false, 0).unwrap();
        assert!(rec.commits.is_empty());
        j.append([b"a".as_slice(), b"b"], b"c1").unwrap();
        j.append([b"c".as_slice()], b"c2").unwrap();
        let mut r = j.reader().unwrap();
        assert_eq!(drain(&mut r, 1), ["a"]);
        drop((r, j));
        let (j, rec) = Spool::open(dir.path(), 1 << 30, false, 0).unwrap();
        assert_eq!(rec.commits.len(), 2);
        assert_eq!(rec.commits[1].payload, b"c2");
        let mut r = j.reader().unwrap();
        assert_eq!(drain(&mut r, 2), ["b", "c"]);
        j.close();
        assert!(r.next().unwrap().is_none());
    }

    #[test]
    fn torn_tail_and_uncommitted_page_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Spool::open(dir.path(), 1 << 30, false, 0).unwrap();
        j.append([b"kept".as_slice()], b"c1").unwrap();
        drop(j);
        // A page whose commit never made it, then half a record.
        let seg = segment_path(dir.path(), 0);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        let mut buf = Vec::new();
        encode(&mut buf, KIND_MESSAGE, b"lost");
        encode(&mut buf, KIND_MESSAGE, b"torn");
        f.write_all(&buf[..buf.len() - 2]).unwrap();
        drop(f);
        let (j, rec) = Spool::open(dir.path(), 1 << 30, false, 0).unwrap();
        assert_eq!(rec.commits.len(), 1);
        assert!(rec.truncated_bytes > 0);
        let mut r = j.reader().unwrap();
        assert_eq!(drain(&mut r, 1), ["kept"]);
        j.close();
        assert!(r.next().unwrap().is_none());
    }

    #[test]
    fn bound_is_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Spool::open(dir.path(), 64, false, 0).unwrap();
        assert!(j.check_room().is_ok());
        j.append([[0u8; 100].as_slice()], b"c").unwrap();
        assert!(matches!(j.check_room(), Err(SpoolError::Full { .. })));
        let mut r = j.reader().unwrap();
        r.next().unwrap().unwrap();
        r.ack();
        assert!(j.check_room().is_ok());
    }

    /// Writes `pages` pages of messages `m<page>-<i>` (each its own record), returns every
    /// message with its record's range and the offset past the last commit.
    fn fill(dir: &Path, pages: &[usize]) -> (Vec<(String, u64, u64)>, u64) {
        let (mut j, _) = Spool::open(dir, u64::MAX, false, 0).unwrap();
        let mut records = Vec::new();
        let mut pos = 0u64;
        for (p, &n) in pages.iter().enumerate() {
            let msgs: Vec<String> = (0..n).map(|i| format!("m{p}-{i}-{}", "x".repeat((p * 31 + i * 17) % 300))).collect();
            for m in &msgs {
                records.push((m.clone(), pos, pos + HEADER + m.len() as u64));
                pos += HEADER + m.len() as u64;
            }
            pos = j.append(msgs.iter().map(|m| m.as_bytes()), format!("commit{p}").as_bytes()).unwrap();
        }
        (records, pos)
    }

    fn read_all(dir: &Path, claimed: u64) -> (Vec<String>, Recovery) {
        let (j, rec) = Spool::open(dir, u64::MAX, false, claimed).unwrap();
        let mut r = j.reader().unwrap();
        j.close();
        let mut out = Vec::new();
        while let Some(m) = r.next().unwrap() {
            out.push(String::from_utf8(m.to_vec()).unwrap());
            r.ack();
        }
        (out, rec)
    }

    #[test]
    fn a_record_over_the_bound_is_refused_at_append() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Spool::open(dir.path(), u64::MAX, false, 0).unwrap();
        let big = vec![b'x'; MAX_RECORD as usize + 1];
        assert!(matches!(j.append([b"ok".as_slice(), &big], b"c"), Err(SpoolError::TooLarge { .. })));
        j.append([b"after".as_slice()], b"c").unwrap();
        let mut r = j.reader().unwrap();
        assert_eq!(drain(&mut r, 1), ["after"], "nothing of the refused page was written");
    }

    #[test]
    fn a_truncated_segment_before_the_last_keeps_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Spool::open(dir.path(), u64::MAX, false, 0).unwrap();
        let end1 = j.append([b"a".as_slice(), b"b", b"c"], b"c1").unwrap();
        j.roll(end1).unwrap();
        let end2 = j.append([b"d".as_slice()], b"c2").unwrap();
        drop(j);
        // Cut the first segment inside its second message.
        let f = OpenOptions::new().write(true).open(segment_path(dir.path(), 0)).unwrap();
        f.set_len(HEADER + 1 + 4).unwrap();
        drop(f);
        let (got, rec) = read_all(dir.path(), end2);
        assert_eq!(got, ["a", "d"], "the rest of the first segment is padding; the second is whole");
        assert_eq!(rec.repairs.len(), 1);
        assert!(rec.repairs[0].kept.exists());
        // Reopening again changes nothing and repairs nothing.
        let (_, rec) = read_all(dir.path(), end2);
        assert!(rec.repairs.is_empty());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

            /// Flipped bytes anywhere in a checkpointed spool: every record they do not
            /// touch arrives, once, in order; nothing else arrives.
            #[test]
            fn flipped_bytes_lose_only_the_records_they_touch(
                pages in prop::collection::vec(1usize..20, 1..8),
                flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let (records, end) = fill(dir.path(), &pages);
                let seg = segment_path(dir.path(), 0);
                let mut bytes = fs::read(&seg).unwrap();
                let at: Vec<u64> = flips.iter().map(|(i, x)| {
                    let o = i.index(bytes.len());
                    bytes[o] ^= x;
                    o as u64
                }).collect();
                fs::write(&seg, &bytes).unwrap();
                let (got, _) = read_all(dir.path(), end);
                let intact: Vec<String> = records.iter()
                    .filter(|(_, a, b)| at.iter().all(|o| o < a || o >= b))
                    .map(|(m, _, _)| m.clone())
                    .collect();
                prop_assert_eq!(got, intact);
            }

            /// A spool cut at any offset: with the checkpoint past the cut, every whole
            /// record before it arrives once; without one, what arrives is a prefix of the
            /// committed records, in order, none twice.
            #[test]
            fn a_cut_at_any_offset_keeps_every_whole_claimed_record(
                pages in prop::collection::vec(1usize..20, 1..8),
                cut in any::<prop::sample::Index>(),
                claimed_all in any::<bool>(),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let (records, end) = fill(dir.path(), &pages);
                let cut = cut.index(end as usize) as u64;
                let f = OpenOptions::new().write(true).open(segment_path(dir.path(), 0)).unwrap();
                f.set_len(cut).unwrap();
                drop(f);
                let (got, _) = read_all(dir.path(), if claimed_all { end } else { 0 });
                let whole: Vec<String> = records.iter().filter(|(_, _, b)| *b <= cut).map(|(m, _, _)| m.clone()).collect();
                if claimed_all {
                    prop_assert_eq!(got, whole);
                } else {
                    prop_assert!(whole.starts_with(&got), "a prefix of the whole records");
                }
            }
        }
    }
}
