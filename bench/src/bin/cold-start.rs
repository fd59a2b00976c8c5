//! One cold start, as the host does it: a runtime with an AOT cache folder,
//! every `.wasm` in a folder compiled (or read from the cache), described and
//! configured in parallel, installed, and one event processed. The parent
//! (`bench-all`) times the whole process; this prints the inner split.
//!
//! `cold-start DETECTIONS_DIR CACHE_DIR`

use oktawatch::event::Event;
use oktawatch::runtime::state::StateStore;
use oktawatch::runtime::{DetectionSet, Limits, Runtime};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let t = Instant::now();
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("detections dir"));
    let cache = PathBuf::from(args.next().expect("cache dir"));
    let rt = Arc::new(Runtime::new(Limits::default(), Arc::new(StateStore::in_memory(100_000, 16 << 20)), BTreeMap::new(), Some(cache))?);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "wasm")).collect();
    files.sort();
    // In parallel, like the folder loader (which also refuses duplicate ids;
    // the variants here share ids with their originals, so they are installed directly).
    let next = AtomicUsize::new(0);
    let loaded = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let d = rt.load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                    loaded.lock().unwrap().push(d);
                }
            });
        }
    });
    let loaded = loaded.into_inner().unwrap();
    let n = loaded.len();
    rt.install(DetectionSet::new(loaded));
    let t_loaded = t.elapsed();
    let ev = oktawatch_bench::corpus::Generator::new(1, 1).event("user.session.start", 7, None).to_string();
    let out = rt.process(&[Arc::new(Event::parse(&ev)?)]);
    std::hint::black_box(out);
    println!("{{\"detections\":{n},\"loaded_s\":{:.4},\"total_s\":{:.4}}}", t_loaded.as_secs_f64(), t.elapsed().as_secs_f64());
    Ok(())
}
