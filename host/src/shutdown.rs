//! Stopping: the shutdown signal every long-running part watches
//! ([`Shutdown`]), a sleep it cuts short, and SIGINT/SIGTERM turned into it.

use std::time::Duration;
use tokio::sync::watch;

/// Shutdown signal shared by the async tasks.
pub type Shutdown = watch::Receiver<bool>;

/// Sleeps, unless shutdown comes first. True when it slept the whole time.
pub async fn sleep_or_shutdown(d: Duration, shutdown: &mut Shutdown) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = shutdown.changed() => false,
    }
}

/// Stops on SIGINT or SIGTERM.
#[cfg(feature = "demo")]
pub fn on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    stop_on_signals(tx);
    rx
}

/// Sends `true` on `tx` at SIGINT or SIGTERM.
pub fn stop_on_signals(tx: watch::Sender<bool>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: finishing the page in hand"),
            _ = int.recv() => tracing::info!("SIGINT: finishing the page in hand"),
        }
        let _ = tx.send(true);
    });
}

