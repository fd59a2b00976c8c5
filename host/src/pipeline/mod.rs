//! One org's pipeline: page → dedup → detections → envelopes → spool → sink.
//!
//! [`Pipeline::handle_page`] is the unit of progress. It skips events
//! delivered before, runs the detections, appends the page's messages and a
//! commit record (cursor + dedup keys) to the spool, then saves the
//! checkpoint. The sender thread delivers from the spool. After a crash,
//! [`Pipeline::open`] finds commits newer than the checkpoint in the spool
//! and adopts them, so a page is never both lost and never delivered twice
//! (at most the one datagram in flight is repeated).

pub(crate) mod alert;
pub(crate) mod checkpoint;
pub(crate) mod deadletter;
pub(crate) mod dedup;
pub(crate) mod deliver;
pub mod envelope;
pub(crate) mod poll;
pub mod spool;

use crate::pipeline::checkpoint::CheckpointFile;
use crate::pipeline::deadletter::DeadLetters;
use crate::pipeline::dedup::DedupSet;
use crate::pipeline::envelope::{Envelope, Fit};
use crate::event::Event;
use crate::pipeline::spool::{Spool, SpoolError};
use crate::runtime::Runtime;
use crate::pipeline::alert::{Suppressor, alert_body, disabled_body};
use crate::pipeline::deliver::Abort;
use crate::sinks::Sink;
use crate::telemetry::stats::Stats;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

/// The most events handled as one spool page (its commit record: 16 bytes each).
const MAX_BATCH: usize = 50_000;

/// Settings of one pipeline.
pub struct PipelineOptions {
    pub name: String,
    pub location: String,
    pub spool_max_bytes: u64,
    pub fsync: bool,
    /// None: deliver every event (replays).
    pub dedup_max: Option<usize>,
    /// Keep a checkpoint (Okta orgs) or not (replays, demo).
    pub checkpoint: bool,
    pub suppression: Duration,
}

/// What [`Pipeline::handle_page`] did with a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handled {
    /// Events delivered now.
    pub fresh: usize,
    /// Events skipped: delivered before (by polling or by an event hook) or repeated in the page.
    pub duplicates: usize,
}

pub struct Pipeline {
    name: String,
    envelope: Envelope,
    runtime: Option<Arc<Runtime>>,
    spool: Spool,
    dedup: Option<DedupSet>,
    checkpoint: Option<CheckpointFile>,
    suppressor: Suppressor,
    dead: DeadLetters,
    stats: Arc<Stats>,
    sender: Option<(JoinHandle<()>, Abort)>,
    /// The cursor to resume from (Okta orgs).
    pub cursor: Option<String>,
}

/// The commit record: the page's cursor and the dedup keys of its events.
fn encode_commit(cursor: Option<&str>, keys: &[dedup::Key]) -> Vec<u8> {
    let c = cursor.unwrap_or("").as_bytes();
    let mut out = Vec::with_capacity(4 + c.len() + keys.len() * 16);
    out.extend_from_slice(&(c.len() as u32).to_le_bytes());
    out.extend_from_slice(c);
    for k in keys {
        out.extend_from_slice(&k.to_le_bytes());
    }
    out
}

fn decode_commit(b: &[u8]) -> Option<(Option<String>, Vec<dedup::Key>)> {
    let n = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let cursor = std::str::from_utf8(b.get(4..4 + n)?).ok()?;
    let keys = b.get(4 + n..)?.chunks_exact(16).map(|c| u128::from_le_bytes(c.try_into().unwrap())).collect();
    Some(((!cursor.is_empty()).then(|| cursor.to_string()), keys))
}

impl Pipeline {
    /// Opens the pipeline's state in `dir` (spool, dedup set, checkpoint) and recovers.
    pub fn open(
        dir: &Path,
        opts: PipelineOptions,
        runtime: Option<Arc<Runtime>>,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Pipeline> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the state directory {}", dir.display()))?;
        let checkpoint = opts.checkpoint.then(|| CheckpointFile::new(dir));
        let saved = match &checkpoint {
            Some(cp) => cp.load()?,
            None => None,
        };
        let claimed = saved.as_ref().map(|c| c.spool_end).unwrap_or(0);
        let (spool, recovery) = Spool::open(&dir.join("spool"), opts.spool_max_bytes, opts.fsync, claimed)?;
        if recovery.truncated_bytes > 0 {
            tracing::warn!(org = %opts.name, "spool: cut {} bytes of an unfinished page after a crash; that page will be fetched again", recovery.truncated_bytes);
        }
        for r in &recovery.repairs {
            tracing::error!(
                org = %opts.name,
                "spool: {} unreadable bytes in {} ({} damaged range(s)); the messages there are lost, every valid one after them is delivered; the damaged file is kept as {} (remove it once looked at: health stays 503 until then)",
                r.bytes(), r.segment.display(), r.holes.len(), r.kept.display()
            );
        }
        let mut dedup = match opts.dedup_max {
            Some(max) => Some(DedupSet::open(dir, max).with_context(|| format!("dedup set in {}", dir.display()))?),
            None => None,
        };
        let mut cursor = None;
        if let Some(cp_file) = &checkpoint {
            let mut end = claimed;
            cursor = saved.and_then(|c| c.cursor);
            // Commits newer than the checkpoint: the crash came between the two.
            let mut adopted = 0;
            for c in recovery.commits.iter().filter(|c| c.end > claimed) {
                let Some((cur, keys)) = decode_commit(&c.payload) else { continue };
                if let Some(d) = dedup.as_mut() {
                    d.insert_all(&keys)?;
                }
                cursor = cur.or(cursor);
                end = c.end;
                adopted += 1;
            }
            if adopted > 0 {
                tracing::info!(org = %opts.name, "recovered {adopted} page(s) spooled after the last checkpoint");
                cp_file.save(cursor.as_deref(), end)?;
            }
            spool.set_durable(end);
        }
        let pending = spool.unsent();
        if pending > 0 {
            tracing::info!(org = %opts.name, "{pending} bytes waiting in the spool from the last run; they go first");
        }
        Ok(Pipeline {
            name: opts.name.clone(),
            envelope: Envelope::new(&opts.name, &opts.location),
            runtime,
            spool,
            dedup,
            checkpoint,
            suppressor: Suppressor::new(opts.suppression),
            dead: DeadLetters::new(dir, &opts.name, stats.clone()),
            stats,
            sender: None,
            cursor,
        })
    }

    /// The spool's unsent bytes, readable from other tasks.
    pub fn spool_gauge(&self) -> crate::pipeline::spool::SpoolGauge {
        self.spool.gauge()
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Starts delivering from the spool to `sink`.
    pub fn start_sender(&mut self, sink: Box<dyn Sink>) -> anyhow::Result<()> {
        let abort = Abort::default();
        let reader = self.spool.reader()?;
        let handle =
            deliver::spawn_sender(self.name.clone(), reader, sink, self.stats.clone(), self.dead.clone(), abort.clone());
        self.sender = Some((handle, abort));
        Ok(())
    }

    /// The events of a page or hook batch, each parsed once. An element that
    /// is not an event (not JSON, not an object, nested too deep) is counted,
    /// kept in the dead-letter file with the reason, and skipped.
    pub fn parse_page(&self, raws: &[Box<serde_json::value::RawValue>], from: &str) -> Vec<Event> {
        let mut events = Vec::with_capacity(raws.len());
        for (i, raw) in raws.iter().enumerate() {
            match Event::parse(raw.get()) {
                Ok(e) => events.push(e),
                Err(e) => {
                    self.stats.invalid.fetch_add(1, Ordering::Relaxed);
                    self.dead.put(&format!("element {i} of {from} is not an event ({e})"), raw.get().as_bytes());
                }
            }
        }
        events
    }

    /// The org's dead-letter file.
    pub fn dead_letters(&self) -> &DeadLetters {
        &self.dead
    }

    /// None when there is room in the spool, else the reason (Wazuh down for long).
    pub fn spool_full(&self) -> Option<SpoolError> {
        self.spool.check_room().err()
    }

    pub fn wait_room(&self, timeout: Duration) -> bool {
        self.spool.wait_room(timeout)
    }

    /// Processes one page and hands it to the spool; `cursor` is the link
    /// to follow after this page (saved with it). A `None` cursor (an event
    /// hook batch) leaves the saved cursor where it was; the batch's dedup
    /// keys are committed and remembered all the same.
    pub fn handle_page(&mut self, mut events: Vec<Event>, cursor: Option<&str>) -> anyhow::Result<Handled> {
        // A commit record holds 16 bytes per event: huge batches (a hook body of
        // tiny events) go in parts so that it stays far below the spool's record bound.
        if events.len() > MAX_BATCH {
            let mut done = Handled { fresh: 0, duplicates: 0 };
            while events.len() > MAX_BATCH {
                let rest = events.split_off(MAX_BATCH);
                let h = self.handle_page(std::mem::replace(&mut events, rest), None)?;
                done.fresh += h.fresh;
                done.duplicates += h.duplicates;
            }
            let h = self.handle_page(events, cursor)?;
            return Ok(Handled { fresh: done.fresh + h.fresh, duplicates: done.duplicates + h.duplicates });
        }
        let received = events.len();
        self.stats.fetched.fetch_add(events.len() as u64, Ordering::Relaxed);
        let mut fresh: Vec<Arc<Event>> = Vec::with_capacity(events.len());
        let mut keys: Vec<dedup::Key> = Vec::with_capacity(events.len());
        if let Some(d) = &self.dedup {
            // A copy (same uuid, same content) is skipped; a differing copy is
            // delivered (its message names its origin) and counted.
            let mut page = dedup::Page::default();
            let mut differing: Option<(usize, String)> = None;
            for ev in events {
                let k = dedup::key_of(&ev);
                match page.admit(d, k) {
                    dedup::Verdict::Copy => {
                        self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    dedup::Verdict::Differing => {
                        self.stats.differing_copies.fetch_add(1, Ordering::Relaxed);
                        differing.get_or_insert_with(|| (0, format!("{} ({:?})", ev.key(), ev.origin()))).0 += 1;
                    }
                    dedup::Verdict::New => {}
                }
                keys.push(k);
                fresh.push(Arc::new(ev));
            }
            if let Some((n, first)) = differing {
                tracing::warn!(org = %self.name, "{n} event(s) share their uuid with an event delivered before but not its content: delivered too (first: {first})");
            }
        } else {
            fresh.extend(events.into_iter().map(Arc::new));
        }

        let outcome = match &self.runtime {
            Some(rt) => rt.process_for(&self.name, &fresh),
            None => Default::default(),
        };

        // The raw event, then its alerts, event by event.
        let mut messages: Vec<String> = Vec::with_capacity(fresh.len() + outcome.alerts.len());
        let mut alerts = outcome.alerts.iter().peekable();
        let mut disabled = outcome.disabled.iter().peekable();
        for (i, ev) in fresh.iter().enumerate() {
            let (body, fit) = self.envelope.raw_event(ev);
            if fit == Fit::Shrunk {
                self.stats.truncated.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(org = %self.name, event = %ev.key(), "event over the datagram limit: sent shrunk, marked truncated");
            }
            messages.push(body);
            while let Some(a) = alerts.next_if(|a| a.event_index == i) {
                let now = ev.published_ms().unwrap_or(0);
                match self.suppressor.admit(&a.detection.info.id, a.alert.dedup_key.as_deref(), now) {
                    Some(before) => {
                        messages.push(self.envelope.alert(alert_body(a, ev, before)));
                        self.stats.alerts.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        self.stats.suppressed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            while let Some(d) = disabled.next_if(|d| d.event_index == i) {
                messages.push(self.envelope.alert(disabled_body(d, ev)));
            }
        }
        self.stats.events.fetch_add(fresh.len() as u64, Ordering::Relaxed);
        self.stats.suppression_evicted.store(self.suppressor.evicted, Ordering::Relaxed);
        // Keys spelled otherwise than Okta spells them (`eventtype`) reach no detection: say so.
        let untyped = fresh.iter().filter(|e| e.event_type().is_empty()).count();
        if untyped > 0 {
            self.stats.untyped.fetch_add(untyped as u64, Ordering::Relaxed);
            tracing::warn!(org = %self.name, "{untyped} event(s) of this page have no `eventType`: delivered raw, seen by no detection");
        }

        if let Some(newest) = fresh.iter().filter_map(|e| e.published_ms()).max() {
            self.stats.newest_published_ms.fetch_max(newest, Ordering::Relaxed);
        }
        let commit = encode_commit(cursor, &keys);
        let end = self.spool.append(messages.iter().map(|m| m.as_bytes()), &commit)?;

        if let Some(d) = self.dedup.as_mut() {
            d.insert_all(&keys).context("recording delivered event ids")?;
        }
        if let Some(rt) = &self.runtime
            && let Err(e) = rt.state_store().flush() {
                tracing::error!("saving detection state: {e}");
            }
        match &self.checkpoint {
            Some(cp) => {
                cp.save(cursor.or(self.cursor.as_deref()), end)?;
                self.spool.set_durable(end);
            }
            // No checkpoint (replays): nothing will resume from the spool, so
            // sent segments may go at once instead of piling up on disk.
            None => self.spool.set_durable(end),
        }
        if cursor.is_some() {
            self.cursor = cursor.map(str::to_string);
        }
        Ok(Handled { fresh: fresh.len(), duplicates: received - fresh.len() })
    }

    /// Lets the sender deliver what is spooled (up to `grace`), then stops it.
    /// Returns the bytes left in the spool for the next run.
    pub fn finish(mut self, grace: Duration) -> u64 {
        self.spool.close();
        let drained = self.spool.wait_drained(grace);
        if let Some((handle, abort)) = self.sender.take() {
            if !drained {
                abort.abort();
            }
            let _ = handle.join();
        }
        let left = self.spool.unsent();
        if left > 0 {
            tracing::warn!(org = %self.name, "{left} bytes stay in the spool (the sink is unavailable); they go first next time");
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_round_trip() {
        let b = encode_commit(Some("https://x/api/v1/logs?after=1"), &[1, u128::MAX]);
        assert_eq!(decode_commit(&b), Some((Some("https://x/api/v1/logs?after=1".into()), vec![1, u128::MAX])));
        assert_eq!(decode_commit(&encode_commit(None, &[])), Some((None, vec![])));
    }

    fn open(dir: &Path) -> Pipeline {
        let opts = PipelineOptions {
            name: "t".into(),
            location: "oktawatch".into(),
            spool_max_bytes: 1 << 20,
            fsync: false,
            dedup_max: Some(1000),
            checkpoint: true,
            suppression: Duration::ZERO,
        };
        Pipeline::open(dir, opts, None, Arc::new(Stats::default())).unwrap()
    }

    fn events(uuids: &[&str]) -> Vec<Event> {
        uuids.iter().map(|u| Event::parse(&format!(r#"{{"uuid":"{u}","eventType":"x"}}"#)).unwrap()).collect()
    }

    #[test]
    fn a_hook_batch_keeps_the_cursor_and_is_remembered_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            "11111111-0000-4000-8000-000000000001",
            "11111111-0000-4000-8000-000000000002",
            "11111111-0000-4000-8000-000000000003",
        );
        let mut p = open(dir.path());
        p.handle_page(events(&[a]), Some("https://x/api/v1/logs?after=1")).unwrap();
        // A hook batch: no cursor; the saved one stays.
        let h = p.handle_page(events(&[b, a]), None).unwrap();
        assert_eq!(h, Handled { fresh: 1, duplicates: 1 });
        assert_eq!(p.cursor.as_deref(), Some("https://x/api/v1/logs?after=1"));
        drop(p);
        let mut p = open(dir.path());
        assert_eq!(p.cursor.as_deref(), Some("https://x/api/v1/logs?after=1"));
        // The polled copies of hook-delivered events are dropped after the restart.
        let h = p.handle_page(events(&[a, b, c]), Some("https://x/api/v1/logs?after=2")).unwrap();
        assert_eq!(h, Handled { fresh: 1, duplicates: 2 });
    }
}
