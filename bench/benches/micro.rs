//! Micro-benchmarks of the hot path, per event: parse, envelope, journal
//! append. `cargo bench -p oktawatch-bench` (plain timing, best of 5; never
//! part of `cargo test`).

use oktawatch::envelope::Envelope;
use oktawatch::event::Event;
use oktawatch::journal::Journal;
use std::time::Instant;

fn best(n: usize, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let mut g = oktawatch_bench::corpus::Generator::new(5, 20_000);
    let lines: Vec<String> = (0..20_000).map(|_| g.next_event().to_string()).collect();
    let n = lines.len();
    let mean = lines.iter().map(|l| l.len()).sum::<usize>() / n;
    println!("{n} corpus events, mean {mean} B");
    let value = best(n, || lines.iter().for_each(|l| drop(std::hint::black_box(serde_json::from_str::<serde_json::Value>(l).unwrap()))));
    let parse = best(n, || lines.iter().for_each(|l| drop(std::hint::black_box(Event::parse(l).unwrap()))));
    let events: Vec<Event> = lines.iter().map(|l| Event::parse(l).unwrap()).collect();
    let env = Envelope::new("replay", "oktawatch");
    let wrap = best(n, || events.iter().for_each(|e| drop(std::hint::black_box(env.raw_event(e)))));
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path(), u64::MAX, false).unwrap();
    let bodies: Vec<String> = events.iter().map(|e| env.raw_event(e).0).collect();
    let append = best(n, || {
        for page in bodies.chunks(1000) {
            j.append(page.iter().map(|b| b.as_bytes()), b"").unwrap();
        }
    });
    println!("| step | ns/event | vs serde_json::Value parse |\n|---|---|---|");
    for (name, ns) in [("serde_json::Value parse", value), ("Event::parse", parse), ("Envelope::raw_event", wrap), ("Journal::append (page of 1000)", append)] {
        println!("| {name} | {ns:.0} | {:.2} |", ns / value);
    }
}
