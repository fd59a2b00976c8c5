//! Where messages go: the Wazuh queue socket, stdout, or a file. A [`Sink`]
//! sends one message and says why it could not; the delivery thread that
//! drives it (retries, dead letters, acknowledgements) is
//! [`crate::pipeline::deliver`].

pub mod file;
pub(crate) mod stdout;
pub(crate) mod wazuh;

use crate::config::{Config, SinkKind};

/// Why a message was not delivered (it will be tried again).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The destination is gone or refusing (socket missing, no reader).
    #[error("{0}")]
    Unavailable(std::io::Error),
    /// The destination is full for now (EAGAIN, ENOBUFS).
    #[error("busy: {0}")]
    Busy(std::io::Error),
    /// This message can never be sent (too large for the destination).
    #[error("cannot be sent: {0}")]
    Permanent(String),
}

pub trait Sink: Send {
    /// Delivers one JSON message.
    fn send(&mut self, body: &[u8]) -> Result<(), SinkError>;
    /// Pushes out anything buffered (called when the spool is caught up).
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// For log lines: where this sink writes.
    fn describe(&self) -> String;
}

/// The sink the config asks for.
pub fn from_config(config: &Config, header: &str) -> anyhow::Result<Box<dyn Sink>> {
    Ok(match config.sink.kind {
        SinkKind::Wazuh => Box::new(wazuh::WazuhSink::new(config.wazuh.socket.clone(), header)),
        SinkKind::Stdout => Box::new(stdout::StdoutSink::new()),
        SinkKind::File => Box::new(file::FileSink::open(config.sink.path.as_ref().expect("validated"))?),
    })
}
