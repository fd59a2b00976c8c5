//! Micro-benchmarks of the per-event hot path, with criterion:
//! `cargo bench -p oktawatch-bench` (never part of `cargo test`).
//!
//! Each group has its baseline beside it: the event parse against a
//! `serde_json::Value` parse of the same text (what the floor program and the
//! host did before), lookups against the same lookups on that tree, and the
//! envelope and spool steps per event.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use oktawatch::pipeline::envelope::Envelope;
use oktawatch::event::{Event, JsonValueTrait};
use oktawatch::pipeline::spool::Spool;
use std::hint::black_box;

const EVENTS: usize = 2_000;

fn corpus() -> Vec<String> {
    let mut g = oktawatch_bench::corpus::Generator::new(5, EVENTS as u64);
    (0..EVENTS).map(|_| g.next_event().to_string()).collect()
}

/// Paths detections read most (event type, actor, outcome, client, geo, debug data).
const PATHS: &[&str] = &[
    "eventType",
    "actor.alternateId",
    "outcome.result",
    "client.ipAddress",
    "client.geographicalContext.country",
    "debugContext.debugData.requestUri",
    "securityContext.isProxy",
    "authenticationContext.externalSessionId",
];

fn serde_lookup<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn parse(c: &mut Criterion) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("serde_json::Value (baseline)", |b| {
        b.iter(|| lines.iter().for_each(|l| drop(black_box(serde_json::from_str::<serde_json::Value>(l).unwrap()))))
    });
    g.bench_function("Event::parse (sonic-rs arena)", |b| {
        b.iter(|| lines.iter().for_each(|l| drop(black_box(Event::parse(l).unwrap()))))
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let lines = corpus();
    let trees: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let events: Vec<Event> = lines.iter().map(|l| Event::parse(l).unwrap()).collect();
    let mut g = c.benchmark_group("lookup 8 paths");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("serde_json::Value (baseline)", |b| {
        b.iter(|| {
            for t in &trees {
                for p in PATHS {
                    black_box(serde_lookup(t, p).and_then(|v| v.as_str()));
                }
            }
        })
    });
    g.bench_function("Event::lookup", |b| {
        b.iter(|| {
            for e in &events {
                for p in PATHS {
                    black_box(e.lookup(p).and_then(|v| v.as_str()));
                }
            }
        })
    });
    g.finish();
}

fn deliver(c: &mut Criterion) {
    let lines = corpus();
    let events: Vec<Event> = lines.iter().map(|l| Event::parse(l).unwrap()).collect();
    let env = Envelope::new("replay", "oktawatch");
    let mut g = c.benchmark_group("deliver");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function("copy of the raw bytes (baseline)", |b| {
        b.iter(|| events.iter().for_each(|e| drop(black_box(e.raw().to_string()))))
    });
    g.bench_function("Envelope::raw_event", |b| b.iter(|| events.iter().for_each(|e| drop(black_box(env.raw_event(e))))));
    let bodies: Vec<String> = events.iter().map(|e| env.raw_event(e).0).collect();
    g.bench_function("Spool::append, pages of 1000", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let (j, _) = Spool::open(dir.path(), u64::MAX, false, 0).unwrap();
                (dir, j)
            },
            |(dir, mut j)| {
                for page in bodies.chunks(1000) {
                    j.append(page.iter().map(|b| b.as_bytes()), b"").unwrap();
                }
                (dir, j)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, parse, lookup, deliver);
criterion_main!(benches);
