//! Figure 5: hot reload under a steady load. `oktawatch run` polls the
//! emulator every second while 400 events/s are made visible on it; a pack
//! file is replaced (written elsewhere, renamed in) by a byte-distinct
//! variant three times; the time from the rename to the host's log line
//! "detection replaced" (the new set installed: the next page runs on it) is
//! recorded. Then every event pushed must have reached the socket: lost = 0.
//! Baseline: the watcher's 150 ms quiet period.

use super::{Ctx, okta, start_service, run_config, variant};
use std::collections::HashSet;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Figures {
    pub median_ms: f64,
    pub max_ms: f64,
    pub pushed: usize,
    pub lost: usize,
}

pub fn measure(ctx: &Ctx) -> Figures {
    let dir = ctx.path("reload");
    let dets = dir.join("detections");
    std::fs::create_dir_all(&dets).unwrap();
    oktawatch::pack::export(&dets).unwrap();
    let socket = dir.join("queue.sock");
    let okta = okta();
    let cfg = run_config(&dir, &okta.emulator.url(), &socket, &dets, "poll_interval = \"1s\"");

    let sock = UnixDatagram::bind(&socket).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let seen: Arc<Mutex<HashSet<String>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, st) = (seen.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        while !st.load(Ordering::Relaxed) {
            let Ok(n) = sock.recv(&mut buf) else { continue };
            let text = String::from_utf8_lossy(&buf[..n]);
            let Some(body) = text.strip_prefix("1:oktawatch:") else { continue };
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if v["integration"] == "okta"
                && let Some(u) = v["okta"]["uuid"].as_str()
            {
                s2.lock().unwrap().insert(u.to_string());
            }
        }
    });

    let service = start_service(ctx, &cfg, &okta);
    let log = service.log_lines();

    // The steady load: 40 events every 100 ms, published now.
    let feeding = Arc::new(AtomicBool::new(true));
    let pushed = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut times = Vec::new();
    std::thread::scope(|scope| {
        let feeder = scope.spawn(|| {
            let mut g = crate::corpus::Generator::new(9, 1_000_000);
            while feeding.load(Ordering::Relaxed) {
                let now = chrono::Utc::now().timestamp_millis();
                let batch: Vec<serde_json::Value> = (0..40)
                    .map(|_| {
                        let mut e = g.next_event();
                        e["published"] = serde_json::json!(oktawatch::event::format_ms(now));
                        e
                    })
                    .collect();
                pushed.lock().unwrap().extend(batch.iter().map(|e| e["uuid"].as_str().unwrap().to_string()));
                okta.emulator.push(batch);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        std::thread::sleep(Duration::from_secs(3));
        let target = dets.join("okta-brute-force-user.wasm");
        let original = std::fs::read(&target).unwrap();
        for round in 0..3 {
            let replaced = || log.lock().unwrap().iter().filter(|(_, l)| l.contains("detection replaced")).map(|(at, _)| *at).collect::<Vec<u64>>();
            let before = replaced().len();
            let tmp = dir.join(format!("incoming-{round}"));
            std::fs::write(&tmp, variant(&original, &format!("reload-{round}"))).unwrap();
            let t = crate::mono_ns();
            std::fs::rename(&tmp, &target).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(at) = replaced().get(before) {
                    times.push((at - t) as f64 / 1e6);
                    break;
                }
                if Instant::now() > deadline {
                    eprintln!("  reload round {round}: no 'detection replaced' within 20 s");
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        feeding.store(false, Ordering::Relaxed);
        feeder.join().unwrap();
    });
    let pushed = pushed.lock().unwrap().clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < pushed.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = service.terminate(Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    let seen = seen.lock().unwrap();
    let lost = pushed.iter().filter(|u| !seen.contains(*u)).count();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let f = Figures {
        median_ms: super::pct(&times, 0.5),
        max_ms: times.last().copied().unwrap_or(f64::NAN),
        pushed: pushed.len(),
        lost,
    };
    eprintln!("  reload: {:?} ms; {} events pushed, {} lost", times, f.pushed, f.lost);
    f
}
