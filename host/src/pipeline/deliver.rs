//! The delivery thread: one per org, it reads the spool in order, sends
//! each message to the sink, and acknowledges it only once delivered. A
//! failing sink is retried with capped backoff, never skipped: the spool
//! holds the messages meanwhile. A message that can never be sent (over the
//! datagram limit, EMSGSIZE) goes to the dead-letter file and delivery moves
//! on. A spool that cannot be read ends the sender loudly: the org is marked
//! failed (health 503) and the service exits non-zero, so that the restart
//! repairs the spool (see [`crate::pipeline::spool`]).

use crate::pipeline::deadletter::DeadLetters;
use crate::pipeline::spool::SpoolReader;
use crate::sinks::{Sink, SinkError};
use crate::telemetry::stats::Stats;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Tells the sender to stop retrying and exit (messages stay in the spool).
#[derive(Clone, Default)]
pub struct Abort(Arc<AtomicBool>);
impl Abort {
    pub fn abort(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    pub fn aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Marks the org failed if the sender thread unwinds (a bug must not leave a silent org).
struct PanicIsFatal(Arc<Stats>);
impl Drop for PanicIsFatal {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fatal.set("the sender thread panicked".into());
        }
    }
}

/// Starts the sender thread: spool → sink, in order, each message acknowledged once delivered.
pub fn spawn_sender(
    name: String,
    mut reader: SpoolReader,
    mut sink: Box<dyn Sink>,
    stats: Arc<Stats>,
    dead: DeadLetters,
    abort: Abort,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("send-{name}"))
        .spawn(move || {
            let _panic_guard = PanicIsFatal(stats.clone());
            let mut failing_since: Option<Instant> = None;
            let mut last_report = Instant::now() - Duration::from_secs(3600);
            loop {
                let idle = || {
                    if let Err(e) = sink.flush() {
                        tracing::warn!(org = %name, "flushing {}: {e}", sink.describe());
                    }
                };
                let msg = match reader.next_or_idle(idle) {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => {
                        let why = format!("reading the spool failed: {e}; stopping so that a restart repairs it");
                        tracing::error!(org = %name, "{why}");
                        Stats::set_failing(&stats.sink_failing_since_ms, true);
                        stats.fatal.set(why);
                        return;
                    }
                };
                let mut backoff = Duration::from_millis(20);
                loop {
                    let sent = sink.send(msg);
                    Stats::set_failing(&stats.sink_failing_since_ms, sent.is_err() && !matches!(sent, Err(SinkError::Permanent(_))));
                    match sent {
                        Ok(()) => {
                            if let Some(since) = failing_since.take() {
                                tracing::info!(org = %name, "{} is back after {:.1?}; draining the spool", sink.describe(), since.elapsed());
                            }
                            stats.delivered.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(SinkError::Permanent(why)) => {
                            dead.put(&format!("a message of {} bytes {why}", msg.len()), msg);
                            break;
                        }
                        Err(e) => {
                            stats.sink_errors.fetch_add(1, Ordering::Relaxed);
                            let since = *failing_since.get_or_insert_with(Instant::now);
                            if last_report.elapsed() >= Duration::from_secs(10) {
                                last_report = Instant::now();
                                tracing::warn!(org = %name, "{} unavailable for {:.0?}: {e}; spooling and retrying", sink.describe(), since.elapsed());
                            }
                            if abort.aborted() {
                                return;
                            }
                            let wait = if matches!(e, SinkError::Busy(_)) { Duration::from_millis(5) } else { backoff };
                            std::thread::sleep(wait);
                            backoff = (backoff * 2).min(Duration::from_secs(2));
                        }
                    }
                }
                reader.ack();
            }
            let _ = sink.flush();
        })
        .expect("spawning the sender thread")
}
