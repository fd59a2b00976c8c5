//! The spool: an append-only, bounded journal of messages on disk.
//!
//! Every message goes through it: the pipeline appends a page's messages and
//! then a commit record (the page's cursor and dedup keys), and the sender
//! sends from it in order, recording its position after each send. So:
//! - a page is "handed to the sink" once its commit record is written;
//! - while Wazuh is down the journal grows (up to its bound, then the
//!   pipeline holds the source back) and drains in order when it returns;
//! - after a crash, a torn or uncommitted tail is cut off (that page is
//!   fetched again), and at most the one message in flight is sent twice.
//!
//! Layout: segment files `<start offset>.seg` holding records
//! `[u32 len][u32 crc32(kind+payload)][u8 kind][payload]`, global byte
//! offsets across segments, and a `sent` file holding the send position.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const KIND_MESSAGE: u8 = b'M';
const KIND_COMMIT: u8 = b'C';
const HEADER: u64 = 9;
const SEGMENT_BYTES: u64 = 64 << 20;
/// A record larger than this is corruption, not data.
const MAX_RECORD: u32 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("spool is full ({used} of {bound} bytes unsent): is Wazuh down? holding the source back")]
    Full { used: u64, bound: u64 },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io { path: path.to_path_buf(), source }
}

/// A commit record found on disk when the journal was opened.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Journal offset just past the commit record.
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
}

/// The writing side (the pipeline); [`Journal::reader`] gives the sending side.
pub struct Journal {
    shared: Arc<Shared>,
    file: File,
    file_start: u64,
    buf: Vec<u8>,
    bound: u64,
    fsync: bool,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`, recovering from a crash.
    pub fn open(dir: &Path, bound: u64, fsync: bool) -> Result<(Journal, Recovery), JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut starts: Vec<u64> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        starts.sort_unstable();

        let mut recovery = Recovery::default();
        let mut committed = starts.first().copied().unwrap_or(0);
        let mut broken_at = None;
        for (i, &start) in starts.iter().enumerate() {
            let path = segment_path(dir, start);
            if start != committed && i > 0 {
                // A gap: the previous segment was cut; later ones are orphans.
                broken_at = Some(i);
                break;
            }
            let (end, commits) = scan_segment(&path, start)?;
            recovery.commits.extend(commits);
            let len = fs::metadata(&path).map_err(io_err(&path))?.len();
            if end < start + len {
                recovery.truncated_bytes += start + len - end;
                let f = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
                f.set_len(end - start).map_err(io_err(&path))?;
                f.sync_all().map_err(io_err(&path))?;
                committed = end;
                broken_at = Some(i + 1);
                break;
            }
            committed = end;
        }
        if let Some(i) = broken_at {
            for &start in &starts[i..] {
                let path = segment_path(dir, start);
                recovery.truncated_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
            starts.truncate(i);
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
        let sent = read_sent(dir).clamp(first, committed);
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
        let journal = Journal { shared, file, file_start, buf: Vec::with_capacity(1 << 20), bound, fsync };
        Ok((journal, recovery))
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
    pub fn check_room(&self) -> Result<(), JournalError> {
        let used = self.unsent();
        if used >= self.bound { Err(JournalError::Full { used, bound: self.bound }) } else { Ok(()) }
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
        commit: &[u8],
    ) -> Result<u64, JournalError> {
        let start = self.shared.pos.lock().unwrap().committed;
        if start - self.file_start >= SEGMENT_BYTES {
            self.roll(start)?;
        }
        self.buf.clear();
        for m in messages {
            encode(&mut self.buf, KIND_MESSAGE, m);
        }
        encode(&mut self.buf, KIND_COMMIT, commit);
        let path = segment_path(&self.shared.dir, self.file_start);
        self.file.write_all(&self.buf).map_err(io_err(&path))?;
        if self.fsync {
            self.file.sync_data().map_err(io_err(&path))?;
        }
        let end = start + self.buf.len() as u64;
        if self.buf.capacity() > 8 << 20 {
            self.buf = Vec::with_capacity(1 << 20);
        }
        let mut p = self.shared.pos.lock().unwrap();
        p.committed = end;
        self.shared.changed.notify_all();
        Ok(end)
    }

    fn roll(&mut self, start: u64) -> Result<(), JournalError> {
        let path = segment_path(&self.shared.dir, start);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        sync_dir(&self.shared.dir);
        self.file = file;
        self.file_start = start;
        self.shared.pos.lock().unwrap().segments.push_back(start);
        Ok(())
    }

    /// Tells the journal that a checkpoint covering everything up to `end` is
    /// saved: sent segments before it may now be deleted.
    pub fn set_durable(&self, end: u64) {
        let mut p = self.shared.pos.lock().unwrap();
        p.durable = end;
        drop(p);
        self.shared.collect_garbage();
    }

    /// The sending side, starting at the saved send position.
    pub fn reader(&self) -> Result<JournalReader, JournalError> {
        let sent = self.shared.pos.lock().unwrap().sent;
        let path = self.shared.dir.join("sent");
        let sent_file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        Ok(JournalReader { shared: self.shared.clone(), pos: sent, file: None, record: Vec::new(), sent_file })
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
pub struct JournalReader {
    shared: Arc<Shared>,
    pos: u64,
    file: Option<(u64, BufReader<File>)>,
    record: Vec<u8>,
    /// Where the send position is recorded after each send.
    sent_file: File,
}

impl JournalReader {
    /// The next unsent message, waiting for one; `None` once the journal is
    /// closed and everything committed was read. Call [`Self::ack`] after sending it.
    #[allow(clippy::should_implement_trait)] // it lends from self: not an Iterator
    pub fn next(&mut self) -> Result<Option<&[u8]>, JournalError> {
        loop {
            let (committed, seg_start, seg_end) = {
                let p = self.shared.pos.lock().unwrap();
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
            if kind == KIND_COMMIT {
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

    /// True when every committed message was read (the next `next` would wait).
    pub fn caught_up(&self) -> bool {
        self.pos >= self.shared.pos.lock().unwrap().committed
    }

    /// Offset of the next message to send.
    pub fn position(&self) -> u64 {
        self.pos
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

/// Returns the offset past the last complete commit, and the commits.
fn scan_segment(path: &Path, start: u64) -> Result<(u64, Vec<Commit>), JournalError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut pos = start;
    let mut last_commit_end = start;
    let mut commits = Vec::new();
    let mut rec = Vec::new();
    while let Ok((kind, len)) = read_record(&mut r, &mut rec) {
        pos += HEADER + len;
        if kind == KIND_COMMIT {
            last_commit_end = pos;
            commits.push(Commit { end: pos, payload: rec.clone() });
        } else if kind != KIND_MESSAGE {
            break;
        }
    }
    Ok((last_commit_end, commits))
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

    fn drain(r: &mut JournalReader, n: usize) -> Vec<String> {
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
        let (mut j, rec) = Journal::open(dir.path(), 1 << 30, false).unwrap();
        assert!(rec.commits.is_empty());
        j.append([b"a".as_slice(), b"b"], b"c1").unwrap();
        j.append([b"c".as_slice()], b"c2").unwrap();
        let mut r = j.reader().unwrap();
        assert_eq!(drain(&mut r, 1), ["a"]);
        drop((r, j));
        let (j, rec) = Journal::open(dir.path(), 1 << 30, false).unwrap();
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
        let (mut j, _) = Journal::open(dir.path(), 1 << 30, false).unwrap();
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
        let (j, rec) = Journal::open(dir.path(), 1 << 30, false).unwrap();
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
        let (mut j, _) = Journal::open(dir.path(), 64, false).unwrap();
        assert!(j.check_room().is_ok());
        j.append([[0u8; 100].as_slice()], b"c").unwrap();
        assert!(matches!(j.check_room(), Err(JournalError::Full { .. })));
        let mut r = j.reader().unwrap();
        r.next().unwrap().unwrap();
        r.ack();
        assert!(j.check_room().is_ok());
    }
}
