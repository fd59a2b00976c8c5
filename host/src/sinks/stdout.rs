//! NDJSON on standard output, one message per line.

use super::{Sink, SinkError};
use std::io::{self, BufWriter, Stdout, Write};

pub struct StdoutSink {
    out: BufWriter<Stdout>,
}

impl StdoutSink {
    pub fn new() -> Self {
        StdoutSink { out: BufWriter::with_capacity(64 << 10, io::stdout()) }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn send(&mut self, body: &[u8]) -> Result<(), SinkError> {
        self.out.write_all(body).and_then(|_| self.out.write_all(b"\n")).map_err(SinkError::Unavailable)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn describe(&self) -> String {
        "stdout".into()
    }
}
