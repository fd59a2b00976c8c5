//! The drain reader: binds the Wazuh-like datagram socket and receives as fast
//! as it can, in its own process. Prints one JSON line when the sender has
//! been quiet for `IDLE_MS` after the first message: datagrams, bytes, raw
//! events, alerts, and the CLOCK_MONOTONIC times of the first and last one.
//!
//! `drain SOCKET [IDLE_MS]`; prints `ready` on stderr once bound.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("socket path");
    let idle: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1500);
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path)?;
    sock.set_read_timeout(Some(Duration::from_millis(idle)))?;
    eprintln!("ready");
    let mut buf = vec![0u8; 70_000];
    let (mut count, mut bytes, mut alerts) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (0u64, 0u64);
    loop {
        match sock.recv(&mut buf) {
            Ok(n) => {
                last = oktawatch_bench::mono_ns();
                if count == 0 {
                    first = last;
                }
                count += 1;
                bytes += n as u64;
                if buf[..n.min(64)].windows(12).any(|w| w == b"\"oktawatch\",") {
                    alerts += 1;
                }
            }
            Err(_) if count == 0 => continue,
            Err(_) => break,
        }
    }
    let _ = std::fs::remove_file(&path);
    println!(
        "{}",
        serde_json::json!({"count": count, "bytes": bytes, "alerts": alerts, "events": count - alerts, "first_ns": first, "last_ns": last})
    );
    Ok(())
}
