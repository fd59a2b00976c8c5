//! Figure 7: scale. One `oktawatch run` serves `orgs` orgs (default 50),
//! each on its own loopback Okta emulator, with the pack. Once the service
//! has loaded the pack and polled every org, each emulator is given a
//! backlog of `per_org` corpus events (re-stamped to the last minute), which
//! the service fetches at Okta's fastest rate: full pages of 1000 back to
//! back, the next poll a second after a short page.
//!
//! Measured from the backlog's arrival on the emulators to the last event
//! delivered on the socket (read in this process): events per second and
//! per CPU-second of the host (its share of the machine's cores), peak RSS,
//! and per org the lag (the time until its whole backlog was delivered):
//! median and max over orgs.

use super::{Ctx, Okta, TOKEN, okta, watch_with};
use oktawatch_testkit::{LogLines, collect_lines};
use std::collections::HashMap;
use std::io::BufRead;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Figures {
    pub orgs: usize,
    pub per_org: usize,
    pub delivered: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub eps: f64,
    pub eps_per_cpu: f64,
    pub hwm_kib: u64,
    pub lag_p50_s: f64,
    pub lag_max_s: f64,
}

pub fn measure(ctx: &Ctx, orgs: usize, per_org: usize) -> Figures {
    let dir = ctx.path("scale");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("q.sock");
    let emulators: Vec<Okta> = (0..orgs).map(|_| okta()).collect();
    let mut text = String::new();
    for (i, o) in emulators.iter().enumerate() {
        text.push_str(&format!(
            "[[okta]]\nname = \"org{i}\"\norg_url = \"{}\"\ntoken_env = \"BENCH_OKTA_TOKEN\"\npoll_interval = \"1s\"\npage_limit = 1000\n\n",
            o.emulator.url()
        ));
    }
    text.push_str(&format!(
        "[wazuh]\nsocket = \"{}\"\n\n[state]\ndir = \"{}\"\nfsync = false\n\n[detections]\ndir = \"{}\"\n",
        socket.display(),
        dir.join("state").display(),
        ctx.pack.display()
    ));
    let cfg = dir.join("oktawatch.toml");
    std::fs::write(&cfg, text).unwrap();

    // The socket, read here: per org, events delivered and when the last came.
    let sock = UnixDatagram::bind(&socket).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let seen: Arc<Mutex<HashMap<String, (usize, u64)>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, stop2) = (seen.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 17];
        while !stop2.load(Ordering::Relaxed) {
            let Ok(n) = sock.recv(&mut buf) else { continue };
            let at = crate::mono_ns();
            let text = String::from_utf8_lossy(&buf[..n]);
            // Raw events carry their org; alerts are not counted here.
            const NEEDLE: &str = "{\"integration\":\"okta\",\"org\":\"";
            let Some(i) = text.find(NEEDLE) else { continue };
            let rest = &text[i + NEEDLE.len()..];
            let org = rest[..rest.find('"').unwrap_or(0)].to_string();
            let mut s = s2.lock().unwrap();
            let e = s.entry(org).or_insert((0, 0));
            e.0 += 1;
            e.1 = at;
        }
    });

    let pid = Arc::new(AtomicU32::new(0));
    let log: Arc<Mutex<Option<LogLines>>> = Default::default();
    let (p2, l2) = (pid.clone(), log.clone());
    let mut cmd = Command::new(&ctx.host);
    cmd.args(["run", "--config", cfg.to_str().unwrap()])
        .env("BENCH_OKTA_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let watcher = std::thread::spawn(move || {
        let (w, _child) = watch_with(
            cmd,
            |c| {
                p2.store(c.id(), Ordering::Relaxed);
                *l2.lock().unwrap() = Some(collect_lines(c.stderr.take().unwrap()));
            },
            |_, _| {},
        );
        w
    });
    // Loaded and polling every org (empty pages).
    let t0 = Instant::now();
    let ready = || {
        let loaded = log.lock().unwrap().as_ref().is_some_and(|l| l.lock().unwrap().iter().any(|(_, s)| s.contains("detections loaded")));
        loaded && emulators.iter().all(|o| !o.emulator.requests().is_empty())
    };
    while !ready() {
        assert!(t0.elapsed() < Duration::from_secs(120), "the service did not start polling every org");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The backlog: the corpus's first orgs × per_org events, re-stamped.
    let file = std::io::BufReader::new(std::fs::File::open(&ctx.corpus).unwrap());
    let now = chrono::Utc::now().timestamp_millis() - 60_000;
    let mut lines = file.lines().map_while(Result::ok);
    let mut backlogs: Vec<Vec<serde_json::Value>> = Vec::new();
    for _ in 0..orgs {
        let mut evs = Vec::with_capacity(per_org);
        for j in 0..per_org {
            let mut v: serde_json::Value = serde_json::from_str(&lines.next().expect("corpus large enough")).unwrap();
            v["published"] = serde_json::json!(oktawatch::event::format_ms(now + j as i64));
            evs.push(v);
        }
        backlogs.push(evs);
    }
    let host_pid = pid.load(Ordering::Relaxed);
    let cpu_before = crate::procfs::cpu_secs(host_pid).unwrap_or(0.0);
    let pushed_ns = crate::mono_ns();
    for (o, evs) in emulators.iter().zip(backlogs) {
        o.emulator.push(evs);
    }
    let total = orgs * per_org;
    let t1 = Instant::now();
    loop {
        let done: usize = seen.lock().unwrap().values().map(|v| v.0).sum();
        if done >= total || t1.elapsed() > Duration::from_secs(600) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let cpu_after = crate::procfs::cpu_secs(host_pid).unwrap_or(0.0);
    let seen = seen.lock().unwrap().clone();
    // SAFETY: a signal to the child this function spawned.
    unsafe { libc::kill(host_pid as i32, libc::SIGTERM) };
    let watched = watcher.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();

    let delivered: u64 = seen.values().map(|v| v.0 as u64).sum();
    let last = seen.values().map(|v| v.1).max().unwrap_or(pushed_ns);
    let wall_s = (last.saturating_sub(pushed_ns)) as f64 / 1e9;
    let cpu_s = cpu_after - cpu_before;
    let mut lags: Vec<f64> = (0..orgs)
        .map(|i| match seen.get(&format!("org{i}")) {
            Some((n, at)) if *n >= per_org => (at.saturating_sub(pushed_ns)) as f64 / 1e9,
            _ => f64::INFINITY,
        })
        .collect();
    lags.sort_by(|a, b| a.total_cmp(b));
    let f = Figures {
        orgs,
        per_org,
        delivered,
        wall_s,
        cpu_s,
        eps: delivered as f64 / wall_s.max(1e-9),
        eps_per_cpu: delivered as f64 / cpu_s.max(1e-9),
        hwm_kib: watched.hwm_kib,
        lag_p50_s: super::pct(&lags, 0.5),
        lag_max_s: lags.last().copied().unwrap_or(f64::NAN),
    };
    eprintln!(
        "  scale: {orgs} orgs × {per_org}: {delivered} delivered in {wall_s:.2}s = {:.0} ev/s, {cpu_s:.2} CPU-s = {:.0} ev/CPU-s ({:.2} cores), peak RSS {} MiB, lag p50 {:.2}s max {:.2}s",
        f.eps,
        f.eps_per_cpu,
        cpu_s / wall_s.max(1e-9),
        f.hwm_kib >> 10,
        f.lag_p50_s,
        f.lag_max_s
    );
    f
}
