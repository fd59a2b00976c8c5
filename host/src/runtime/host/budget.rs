//! The time budget of one call: CPU time, read from the thread's own clock
//! at epoch deadlines, with a wall-clock cap.

use std::time::{Duration, Instant};

/// The time budget of the call in progress.
///
/// The epoch ticker fires every millisecond of wall time. When a call has
/// run for its budget in wall time, [`Budget::on_deadline`] notes the
/// thread's CPU time and grants one more budget; at the next deadline, a
/// call that used most of that interval as CPU is computing and is stopped,
/// one that did not was descheduled on a busy machine and goes on. A hard
/// wall-clock cap (100× the budget, at least 2 s) stops everything. A
/// looping detection is thus stopped after about two budgets, and the
/// thread's CPU clock (a system call) is read only at deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    wall_start: Instant,
    cpu: Duration,
    wall: Duration,
    cpu_mark: Option<Duration>,
}

impl Budget {
    pub fn start(cpu: Duration) -> Budget {
        Budget { wall_start: Instant::now(), cpu, wall: (cpu * 100).max(Duration::from_secs(2)), cpu_mark: None }
    }

    /// Ticks of the epoch per budget.
    pub fn ticks(&self, tick: Duration) -> u64 {
        (self.cpu.as_micros() / tick.as_micros().max(1)).max(1) as u64 + 1
    }

    pub fn on_deadline(&mut self, tick: Duration) -> wasmtime::UpdateDeadline {
        if self.wall_start.elapsed() >= self.wall {
            return wasmtime::UpdateDeadline::Interrupt;
        }
        let now = thread_cpu_time();
        match self.cpu_mark {
            Some(mark) if now.saturating_sub(mark) >= self.cpu * 8 / 10 => wasmtime::UpdateDeadline::Interrupt,
            _ => {
                self.cpu_mark = Some(now);
                wasmtime::UpdateDeadline::Continue(self.ticks(tick))
            }
        }
    }
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
