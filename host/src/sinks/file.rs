//! NDJSON appended to a file, one `write` per message so a killed process
//! never leaves a message acknowledged but unwritten.

use super::{Sink, SinkError};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub struct FileSink {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl FileSink {
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(FileSink { path: path.to_path_buf(), file, buf: Vec::new() })
    }
}

impl Sink for FileSink {
    fn send(&mut self, body: &[u8]) -> Result<(), SinkError> {
        self.buf.clear();
        self.buf.extend_from_slice(body);
        self.buf.push(b'\n');
        self.file.write_all(&self.buf).map_err(SinkError::Unavailable)
    }
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}
