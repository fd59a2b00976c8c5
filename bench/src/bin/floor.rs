//! The floor: the least a program can do with the corpus. Reads it, parses
//! each event with serde_json, and sends the same bytes oktawatch sends
//! (`1:oktawatch:{"integration":"okta","org":"replay","okta":<event>}`) to
//! the same socket, one datagram each, on one thread.
//!
//! `floor CORPUS SOCKET`

use std::io::BufRead;
use std::os::unix::net::UnixDatagram;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let corpus = args.next().expect("corpus path");
    let socket = args.next().expect("socket path");
    let sock = UnixDatagram::unbound()?;
    sock.connect(&socket)?;
    let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(corpus)?);
    let header = br#"1:oktawatch:{"integration":"okta","org":"replay","okta":"#;
    let mut buf = Vec::with_capacity(1 << 16);
    let mut n = 0u64;
    for line in input.lines() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text)?;
        std::hint::black_box(&v);
        buf.clear();
        buf.extend_from_slice(header);
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'}');
        loop {
            match sock.send(&buf) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => return Err(e.into()),
            }
        }
        n += 1;
    }
    eprintln!("floor: {n} events sent");
    Ok(())
}
