//! The Wazuh queue socket: a Unix datagram socket, one `1:<location>:<json>` per message.
//!
//! analysisd unlinks and re-creates the socket when it restarts: on ENOENT,
//! ECONNREFUSED or ENOTCONN the socket is reconnected and the message sent
//! again; on EAGAIN/ENOBUFS the sender waits and retries. A datagram over
//! Wazuh's limit (one spooled by an older version) or refused with EMSGSIZE
//! can never be sent: it is a permanent error (the sender dead-letters it).

use super::{Sink, SinkError};
use crate::pipeline::envelope::MAX_DATAGRAM;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

pub struct WazuhSink {
    path: PathBuf,
    header: Vec<u8>,
    socket: Option<UnixDatagram>,
    buf: Vec<u8>,
}

impl WazuhSink {
    pub fn new(path: PathBuf, header: &str) -> Self {
        WazuhSink { path, header: header.as_bytes().to_vec(), socket: None, buf: Vec::with_capacity(65536) }
    }

    fn connect(&mut self) -> io::Result<&UnixDatagram> {
        if self.socket.is_none() {
            let s = UnixDatagram::unbound()?;
            s.connect(&self.path)?;
            s.set_write_timeout(Some(Duration::from_millis(500)))?;
            self.socket = Some(s);
        }
        Ok(self.socket.as_ref().unwrap())
    }
}

impl Sink for WazuhSink {
    fn send(&mut self, body: &[u8]) -> Result<(), SinkError> {
        if self.header.len() + body.len() > MAX_DATAGRAM {
            return Err(SinkError::Permanent(format!(
                "is over Wazuh's {MAX_DATAGRAM}-byte datagram limit with its header"
            )));
        }
        self.buf.clear();
        self.buf.extend_from_slice(&self.header);
        self.buf.extend_from_slice(body);
        let buf = std::mem::take(&mut self.buf);
        let result = match self.connect() {
            Ok(s) => s.send(&buf).map(|_| ()),
            Err(e) => Err(e),
        };
        self.buf = buf;
        result.map_err(|e| {
            if e.raw_os_error() == Some(libc::EMSGSIZE) {
                SinkError::Permanent(format!("is refused by {}: {e}", self.path.display()))
            } else if is_busy(&e) {
                SinkError::Busy(e)
            } else {
                // Gone, refused, not connected, or anything else: reconnect next time.
                self.socket = None;
                SinkError::Unavailable(io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))
            }
        })
    }

    fn describe(&self) -> String {
        format!("Wazuh socket {}", self.path.display())
    }
}

fn is_busy(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) || e.raw_os_error() == Some(105)
}
