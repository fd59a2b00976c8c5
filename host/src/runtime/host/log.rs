//! `oktawatch:detection/log`: a detection's log lines, bounded in length
//! and to a burst per second (the rest dropped and counted).

use super::HostCtx;
use crate::runtime::bindings::oktawatch::detection::log;
use std::time::Instant;

/// Log lines per detection per second (a burst up to this, then dropped and counted).
const LOG_PER_SEC: u32 = 20;

impl log::Host for HostCtx {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if self.log_window.elapsed().as_secs() >= 1 {
            self.log_window = Instant::now();
            self.log_count = 0;
        }
        self.log_count += 1;
        if self.log_count > LOG_PER_SEC {
            self.logs_dropped += 1;
            return Ok(());
        }
        let mut message = message;
        if message.len() > 2048 {
            let mut end = 2048;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        let id = &*self.id;
        match level {
            log::Level::Debug => tracing::debug!(detection = id, "{message}"),
            log::Level::Info => tracing::info!(detection = id, "{message}"),
            log::Level::Warn => tracing::warn!(detection = id, "{message}"),
            log::Level::Error => tracing::error!(detection = id, "{message}"),
        }
        Ok(())
    }
}
