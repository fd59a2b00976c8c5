//! Figure 3: end-to-end latency. `oktawatch run` polls a loopback Okta
//! emulator at the default interval (5 s) with the pack loaded; events that
//! raise an alert each (`system.api_token.create`, distinct tokens) are made
//! visible on the emulator one at a time at an interval out of step with the
//! poll; the time from each one becoming visible to its alert arriving on
//! the socket is recorded. Baseline: the poll interval.
//!
//! With event hooks on, each event is also POSTed to the service's hook
//! listener as Okta would push it, and the time is taken from the POST: the
//! path that does not wait for the next poll.

use super::{Ctx, okta, start_service, pct, run_config};
use crate::corpus::Generator;
use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Figures {
    pub samples: usize,
    pub p50_s: f64,
    pub p99_s: f64,
    pub missing: usize,
}

/// The shared secret of the bench's hook listener.
const HOOK_SECRET: &str = "bench-hook-secret-not-a-secret";

pub fn measure(ctx: &Ctx, samples: usize, hooks: bool) -> Figures {
    let dir = ctx.path(if hooks { "latency-hooks" } else { "latency" });
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("queue.sock");
    let okta = okta();
    // The hook listener's address: a free loopback port.
    let listen = hooks.then(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let extra = match listen {
        Some(listen) => {
            std::fs::write(dir.join("hook-secret"), HOOK_SECRET).unwrap();
            format!("hook_secret_file = \"{}\"\n\n[hooks]\nlisten = \"{listen}\"\n", dir.join("hook-secret").display())
        }
        None => String::new(),
    };
    let hook_url = listen.map(|a| format!("http://{a}/hooks/okta/bench"));
    let cfg = run_config(&dir, &okta.emulator.url(), &socket, &ctx.pack, &extra);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let post = hook_url.map(|url| (url, tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(), reqwest::Client::new()));

    // The socket, in a thread of this process: alert arrival times by event uuid.
    let sock = UnixDatagram::bind(&socket).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let arrived: Arc<Mutex<HashMap<String, u64>>> = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (a, s) = (arrived.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok(n) = sock.recv(&mut buf) else { continue };
            let at = crate::mono_ns();
            let text = String::from_utf8_lossy(&buf[..n]);
            let Some(body) = text.strip_prefix("1:oktawatch:") else { continue };
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            if v["integration"] == "oktawatch"
                && let Some(u) = v["oktawatch"]["event"]["uuid"].as_str()
            {
                a.lock().unwrap().entry(u.to_string()).or_insert(at);
            }
        }
    });

    let service = start_service(ctx, &cfg, &okta);

    let mut generator = Generator::new(42, 1);
    let mut visible: Vec<(String, u64)> = Vec::new();
    for i in 0..samples {
        let mut ev = generator.event("system.api_token.create", 17 + i as u64, None);
        ev["published"] = serde_json::json!(oktawatch::event::format_ms(chrono::Utc::now().timestamp_millis()));
        let uuid = ev["uuid"].as_str().unwrap().to_string();
        let body = serde_json::json!({"eventType": "com.okta.event_hook", "data": {"events": [ev.clone()]}});
        okta.emulator.push([ev]);
        visible.push((uuid, crate::mono_ns()));
        if let Some((url, rt, client)) = &post {
            let sent = rt.block_on(client.post(url).header("Authorization", HOOK_SECRET).header("Content-Type", "application/json").body(body.to_string()).send());
            assert!(sent.is_ok_and(|r| r.status().is_success()), "the hook POST was refused");
        }
        // 1.3 s apart: out of step with the 5 s poll, so arrival phases spread.
        std::thread::sleep(Duration::from_millis(1300));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while arrived.lock().unwrap().len() < samples && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = service.terminate(Duration::from_secs(60));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = reader.join();

    let arrived = arrived.lock().unwrap();
    let mut lat: Vec<f64> =
        visible.iter().filter_map(|(u, t)| arrived.get(u).map(|a| a.saturating_sub(*t) as f64 / 1e9)).collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let f = Figures { samples: lat.len(), p50_s: pct(&lat, 0.5), p99_s: pct(&lat, 0.99), missing: samples - lat.len() };
    eprintln!("  latency{}: {} samples, p50 {:.2}s p99 {:.2}s, {} missing", if hooks { " (event hooks)" } else { "" }, f.samples, f.p50_s, f.p99_s, f.missing);
    f
}
