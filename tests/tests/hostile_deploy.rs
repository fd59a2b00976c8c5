//! Deployment hardening, against the real binary: owner-only state whatever
//! the umask, a refused `wazuh.location`, no colour codes off a terminal, a
//! non-dumpable process with no core limit, and the systemd unit's hardening
//! (checked by `systemd-analyze` when it is installed).

use oktawatch_tests::*;
use serde_json::json;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

/// A running child whose stdout and stderr are kept as raw bytes.
struct Proc {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Proc {
    /// `cmd` with stdin closed, its output collected, `NO_COLOR` and `RUST_LOG` unset,
    /// the umask 022 (as a login shell has it) and, when given, another user id.
    fn spawn(mut cmd: Command, uid: Option<u32>) -> Proc {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.env_remove("NO_COLOR").env_remove("RUST_LOG").env("OKTAWATCH_LOG", "info").env("TERM", "xterm-256color");
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        // SAFETY: umask is async-signal-safe and cannot fail.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o022);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawning the child");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), stdout.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        Proc { child, stdout, stderr }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    fn stderr(&self) -> Vec<u8> {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code (None: killed by a signal) and all of stderr.
    fn terminate(mut self) -> (Option<i32>, Vec<u8>) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let code = self.wait();
        (code, self.stderr())
    }

    fn wait(&mut self) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // the readers catch up
                return status.code();
            }
            assert!(started.elapsed() < LONG, "the child did not exit; stderr:\n{}", String::from_utf8_lossy(&self.stderr()));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(mut r: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

fn oktawatch(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args).env("OKTAWATCH_TEST_TOKEN", TOKEN);
    cmd
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Every entry below `dir` (not following symbolic links), `dir` itself first.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if std::fs::symlink_metadata(&out[i]).unwrap().is_dir() {
            let mut children: Vec<PathBuf> = std::fs::read_dir(&out[i]).unwrap().map(|e| e.unwrap().path()).collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

#[test]
fn state_is_owner_only_whatever_the_umask() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let dets = dir.path().join("detections");
    std::fs::create_dir(&dets).unwrap();
    std::fs::copy(guest("probe-window"), dets.join("window.wasm")).unwrap();
    let extra = format!("\n[detections]\ndir = \"{}\"\ntimeout = \"250ms\"\nsuppression = \"0s\"\n", dets.display());
    let config = write_config(dir.path(), &okta.url(), &socket, &extra);
    // A state folder left open by an older version or a looser umask.
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("orgs")).unwrap();
    std::fs::write(state.join("NOTES"), "kept by the admin").unwrap();
    for (p, m) in [(&state, 0o755), (&state.join("orgs"), 0o775), (&state.join("NOTES"), 0o644)] {
        set_mode(p, m);
    }
    let mut events = make_events(40, now_ms() - 20 * 60 * 1000, "modes");
    for e in events.iter_mut().take(10) {
        e["eventType"] = json!("test.window");
        e["actor"]["alternateId"] = json!("one@example.com");
    }
    okta.push(events);
    let wazuh = Wazuh::bind(&socket);

    let host = Proc::spawn(oktawatch(&["run", "--config", config.to_str().unwrap()]), None);
    wazuh.wait("40 events and 8 alerts", LONG, |w| w.events().len() >= 40 && w.alerts().len() >= 8);
    let (code, log) = host.terminate();
    let log = String::from_utf8_lossy(&log).into_owned();
    assert_eq!(code, Some(0), "the service stops cleanly; log:\n{log}");
    assert_eq!((wazuh.events().len(), wazuh.alerts().len()), (40, 8), "{log}");
    assert!(
        log.contains(&format!("state dir {}: 3 entries were readable or writable by group or others", state.display())),
        "the open state folder is reported; log:\n{log}"
    );

    let entries = walk(&state);
    let names: Vec<String> =
        entries.iter().map(|p| p.strip_prefix(&state).unwrap().to_string_lossy().into_owned()).collect();
    for must in ["orgs/test/checkpoint.json", "orgs/test/dedup.log", "detections/state.redb", "detections.json", "NOTES"] {
        assert!(names.iter().any(|n| n == must), "{must} missing under the state dir: {names:?}");
    }
    assert!(names.iter().any(|n| n.starts_with("orgs/test/spool/") && n.ends_with(".seg")), "no spool segment: {names:?}");
    assert!(names.iter().any(|n| n.starts_with("cache/") && n.ends_with(".cwasm")), "no compiled detection: {names:?}");
    for p in &entries {
        let meta = std::fs::symlink_metadata(p).unwrap();
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        assert!(meta.is_dir() || meta.is_file(), "{} is neither a file nor a folder", p.display());
        assert_eq!(mode(p), want, "{} is {:04o}, not {want:04o}", p.display(), mode(p));
    }
    assert!(entries.len() >= 10, "{names:?}");
}

#[test]
fn a_bad_wazuh_location_is_refused_with_every_other_problem() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let socket = dir.path().join("q.sock");
    let long = "x".repeat(70_000);
    for (location, why) in [
        (r#""okta\nprod""#.to_string(), "control character U+000A at byte 4"),
        (r#""okta\u001b[2J""#.to_string(), "control character U+001B at byte 4"),
        (r#""okta\u0000x""#.to_string(), "control character U+0000 at byte 4"),
        (format!("'{long}'"), "is 70000 bytes, at most 256"),
    ] {
        let extra = format!("[wazuh]\nlocation = {location}\n");
        // write_config's [wazuh] table gets the location too; `extra` lands in [state].
        let config = write_config(dir.path(), "https://example.okta.com", &socket, "spool_max_mb = 0\n");
        let text = std::fs::read_to_string(&config).unwrap().replace("[wazuh]\n", &extra);
        std::fs::write(&config, text).unwrap();
        for command in ["check", "run"] {
            let mut p = Proc::spawn(oktawatch(&[command, "--config", config.to_str().unwrap()]), None);
            let code = p.wait();
            let err = String::from_utf8_lossy(&p.stderr()).into_owned();
            assert_eq!(code, Some(2), "`oktawatch {command}` with location {}: {err}", &location[..location.len().min(40)]);
            assert!(err.contains("2 problem(s) in the configuration"), "{command}: {err}");
            let line = err.lines().find(|l| l.contains("wazuh.location:")).unwrap_or_else(|| panic!("{command}: {err}"));
            assert!(line.contains(why), "{command}: {line}");
            assert!(err.contains("state.spool_max_mb: at least 1"), "every problem at once ({command}): {err}");
            assert!(!err.contains(['\u{1b}', '\0']) && !err.contains("okta\nprod"), "the location is echoed escaped: {err:?}");
            assert!(err.len() < 2000, "a long location is not echoed whole ({} bytes)", err.len());
            assert_eq!(p.stdout(), "", "{command}: nothing on stdout before the config is valid");
        }
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// The user the service runs as in [`the_service_is_not_dumpable_and_logs_without_colour`]:
/// ourselves, or `nobody` when we are root (a root process's /proc files are root's anyway).
fn service_uid() -> u32 {
    match euid() {
        0 => 65534,
        me => me,
    }
}

/// A path `uid` can execute: the binary itself, or a copy in `dir` when it is out of reach.
fn executable_by(uid: u32, dir: &Path) -> PathBuf {
    let bin = bin();
    if uid == euid() {
        return bin;
    }
    let reachable = bin.ancestors().skip(1).all(|a| mode(a) & 0o001 != 0) && mode(&bin) & 0o005 == 0o005;
    if reachable {
        return bin;
    }
    let copy = dir.join("oktawatch");
    std::fs::copy(&bin, &copy).unwrap();
    set_mode(&copy, 0o755);
    copy
}

/// (owner of /proc/<pid>, owner of /proc/<pid>/environ, of /proc/<pid>/status).
fn proc_owners(pid: u32) -> (u32, u32, u32) {
    let uid = |p: String| std::fs::metadata(&p).unwrap_or_else(|e| panic!("{p}: {e}")).uid();
    (uid(format!("/proc/{pid}")), uid(format!("/proc/{pid}/environ")), uid(format!("/proc/{pid}/status")))
}

fn core_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap().to_string();
    line.split_whitespace().skip(4).take(2).collect::<Vec<_>>().join(" ")
}

#[test]
fn the_service_is_not_dumpable_and_logs_without_colour() {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let uid = service_uid();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let config = write_config(dir.path(), &okta.url(), &socket, "");
    let exe = executable_by(uid, dir.path());
    // (A program its user cannot read would run non-dumpable for that reason alone.)
    assert!(uid == euid() || mode(&exe) & 0o004 != 0, "{} is readable by others", exe.display());
    let as_user = (uid != euid()).then_some(uid);
    for p in walk(dir.path()) {
        std::os::unix::fs::lchown(&p, Some(uid), Some(uid)).unwrap();
    }
    okta.push(make_events(5, now_ms() - 10 * 60 * 1000, "dump"));
    let wazuh = Wazuh::bind(&socket);
    set_mode(&socket, 0o666); // the service's user may not be ours

    // The control: an ordinary process of that user is dumpable, its /proc files are its own.
    let mut sleep = Command::new("sleep");
    sleep.arg("30");
    let control = Proc::spawn(sleep, as_user);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(proc_owners(control.child.id()), (uid, uid, uid), "a dumpable process owns its /proc files");
    drop(control);

    let mut cmd = Command::new(&exe);
    cmd.args(["run", "--config", config.to_str().unwrap()]).env("OKTAWATCH_TEST_TOKEN", TOKEN);
    let host = Proc::spawn(cmd, as_user);
    wazuh.wait("the 5 events", LONG, |w| w.events().len() >= 5);
    let pid = host.child.id();
    let (dir_owner, environ_owner, status_owner) = proc_owners(pid);
    assert_eq!(dir_owner, uid, "/proc/{pid} belongs to the service's user");
    assert_eq!((environ_owner, status_owner), (0, 0), "a non-dumpable process's /proc files belong to root");
    assert_eq!(core_limit(pid), "0 0", "core size limit, soft and hard");

    let (code, stderr) = host.terminate();
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&stderr));
    assert_eq!(wazuh.events().len(), 5);
    let text = String::from_utf8_lossy(&stderr);
    assert!(text.contains(" INFO ") && text.contains("stopped cleanly"), "{text}");
    assert!(!stderr.contains(&0x1b), "ESC (colour codes) in a log written to a pipe:\n{text:?}");
}

#[test]
fn the_unit_is_hardened() {
    let unit_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/oktawatch.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
    for want in [
        "LimitCORE=0",
        "TemporaryFileSystem=/var/ossec:ro",
        "BindReadOnlyPaths=/var/ossec/queue/sockets",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        "SystemCallErrorNumber=EPERM",
        "MemoryMax=1G",
        "ProtectProc=invisible",
        "ProcSubset=pid",
        "UMask=0077",
        "StateDirectoryMode=0700",
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(lines.contains(&want), "`{want}` is not in {}", unit_path.display());
    }
    assert!(!lines.iter().any(|l| l.starts_with("ReadWritePaths=") && l.contains("/var/ossec")), "no write access to /var/ossec");
    assert!(unit.contains("#LoadCredential=okta-token:/etc/oktawatch/okta-token"), "the token credential is offered");

    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit was checked by its lines only");
        return;
    };
    assert!(version.status.success());
    // verify wants ExecStart's program to exist: point it at the built binary.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("oktawatch.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/oktawatch", bin().to_str().unwrap())).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "systemd-analyze verify: {:?}\n{err}", out.status);
    // The exposure score (systemd >= 250 can rate a unit file offline).
    let help = Command::new("systemd-analyze").arg("--help").output().unwrap();
    if String::from_utf8_lossy(&help.stdout).contains("--offline") {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=15"])
            .arg(&copy)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let score = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_default();
        assert!(out.status.success(), "exposure above 1.5: {score}\n{text}");
    }
}
