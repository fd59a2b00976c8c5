//! Wazuh's own analysisd (4.12) for the end-to-end tests, and the project's rules file read as data.
//!
//! `tests/wazuh/build-analysisd.sh` builds `wazuh-analysisd` once from Wazuh's source into a cache
//! under `target/` (see that script for where the source comes from). [`Home`] lays out a
//! throwaway analysisd home with the project's `rules/`, [`Analysisd`] runs `wazuh-analysisd -f`
//! in it with a small wazuh-db stand-in, and gives its real queue socket (where oktawatch
//! writes), its logtest socket, `logs/alerts/alerts.json` and `logs/archives/archives.json`
//! (`logall_json` is on, so every message it received is there with its decoder and rule).
//!
//! Without a Wazuh source the tests that need analysisd print one `skipped: …` line and pass,
//! unless `OKTAWATCH_REQUIRE_WAZUH` is set (CI sets it): then it is a failure.
//!
//! [`load_rules`] and [`expect`] read `rules/oktawatch_rules.xml` as data: the rules' tree, and
//! what it says a message should match, so tests can hold analysisd's answers against it.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The project's rules file.
pub const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/oktawatch_rules.xml");
/// The rules' README (its wazuh-logtest examples are checked).
pub const RULES_README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/README.md");
const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/wazuh/build-analysisd.sh");
/// What a test prints when it cannot run for want of a Wazuh source.
pub const NO_SOURCE: &str = "skipped: no Wazuh source (set OKTAWATCH_WAZUH_SRC)";
/// The hard open-files limit analysisd asks for by default (`analysisd.rlimit_nofile`).
const ANALYSISD_NOFILE: u64 = 458_752;

// ---------------------------------------------------------------------------------------------
// Building

/// The built tree (`bin/wazuh-analysisd`, `lib/`, `ruleset/`, `etc/`, `framework/`), or why not.
fn built() -> &'static Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT.get_or_init(|| {
        if unsafe { libc::geteuid() } != 0 {
            return Err("skipped: wazuh-analysisd runs as root (it chroots into its home)".into());
        }
        let mut cmd = Command::new("bash");
        cmd.arg(BUILD_SCRIPT).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        if std::env::var_os("OKTAWATCH_WAZUH_CACHE").is_none() {
            cmd.env("OKTAWATCH_WAZUH_CACHE", target_dir().join("wazuh-analysisd"));
        }
        let out = cmd.output().unwrap_or_else(|e| panic!("running {BUILD_SCRIPT}: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        match out.status.code() {
            Some(0) => {
                let dist = PathBuf::from(stdout.lines().last().unwrap_or("").trim());
                assert!(dist.join("bin/wazuh-analysisd").is_file(), "{BUILD_SCRIPT} named {} but built nothing there", dist.display());
                Ok(dist)
            }
            Some(3) => Err(NO_SOURCE.into()),
            Some(4) => Err("skipped: wazuh-analysisd cannot be built here: Debian packages missing (named above)".into()),
            _ => panic!("{BUILD_SCRIPT} failed ({}); its messages are above", out.status),
        }
    })
}

/// `target/` (or wherever cargo put this test executable).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable");
    exe.ancestors().nth(3).expect("target/<profile>/deps/<test>").to_path_buf()
}

/// True when a missing analysisd must fail the test instead of skipping it.
pub fn required() -> bool {
    std::env::var("OKTAWATCH_REQUIRE_WAZUH").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The built analysisd tree, or `None` after printing why the test is skipped
/// (a panic instead when [`required`]).
pub fn dist() -> Option<&'static Path> {
    match built() {
        Ok(p) => Some(p),
        Err(why) => {
            assert!(!required(), "OKTAWATCH_REQUIRE_WAZUH is set, so this is a failure: {why}");
            // Past the test harness's capture, so that a skip is seen in a plain `cargo test`.
            let _ = writeln!(std::io::stderr().lock(), "{why}");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A home

/// A throwaway analysisd home: the built binary and Wazuh's stock ruleset, the project's
/// `rules/oktawatch_rules.xml` in `etc/rules/`, and an `ossec.conf` like a manager's (the
/// default ruleset and lists, JSON alerts) with `logall_json` on.
pub struct Home {
    dir: tempfile::TempDir,
}

const OSSEC_CONF: &str = r#"<ossec_config>
  <global>
    <jsonout_output>yes</jsonout_output>
    <alerts_log>no</alerts_log>
    <logall>no</logall>
    <logall_json>yes</logall_json>
  </global>
  <alerts>
    <log_alert_level>3</log_alert_level>
  </alerts>
  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>ruleset/rules</rule_dir>
    <rule_exclude>0215-policy_rules.xml</rule_exclude>
    <list>etc/lists/audit-keys</list>
    <list>etc/lists/amazon/aws-eventnames</list>
    <list>etc/lists/security-eventchannel</list>
    <decoder_dir>etc/decoders</decoder_dir>
    <rule_dir>etc/rules</rule_dir>
  </ruleset>
</ossec_config>
"#;

impl Home {
    /// A fresh home with the project's rules; `None` when skipped (see [`dist`]).
    pub fn new() -> Option<Home> {
        let dist = dist()?;
        // Short: the sockets' paths must fit in sun_path.
        let dir = tempfile::Builder::new().prefix("wz").tempdir_in("/tmp").expect("a temporary home");
        let h = dir.path();
        for d in [
            "bin", "lib", "etc/rules", "etc/decoders", "etc/shared", "queue/sockets", "queue/db", "queue/fts",
            "queue/alerts", "logs/alerts", "logs/archives", "logs/firewall", "var/run", "var/db", "stats", "tmp",
        ] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        // Copied, not linked: analysisd finds its home from its own resolved path.
        std::fs::copy(dist.join("bin/wazuh-analysisd"), h.join("bin/wazuh-analysisd")).unwrap();
        std::fs::copy(dist.join("lib/libwazuhext.so"), h.join("lib/libwazuhext.so")).unwrap();
        copy_tree(&dist.join("ruleset"), &h.join("ruleset"));
        copy_tree(&dist.join("etc"), &h.join("etc"));
        copy_tree(&dist.join("framework"), &h.join("framework"));
        std::fs::write(h.join("etc/ossec.conf"), OSSEC_CONF).unwrap();
        std::fs::write(h.join("etc/client.keys"), "").unwrap();
        std::fs::write(h.join("etc/shared/ar.conf"), "").unwrap();
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        if limit.rlim_max < ANALYSISD_NOFILE {
            let mut f = std::fs::OpenOptions::new().append(true).open(h.join("etc/local_internal_options.conf")).unwrap();
            writeln!(f, "analysisd.rlimit_nofile={}", limit.rlim_max).unwrap();
        }
        let home = Home { dir };
        home.add_rules("oktawatch_rules.xml", &std::fs::read_to_string(RULES).expect("reading the rules file"));
        Some(home)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds (or replaces) a rules file in `etc/rules/`.
    pub fn add_rules(&self, name: &str, text: &str) {
        std::fs::write(self.path().join("etc/rules").join(name), text).unwrap();
    }

    /// `wazuh-analysisd -t`: checks the configuration and every rule, and exits.
    pub fn check(&self) -> Output {
        Command::new(self.path().join("bin/wazuh-analysisd"))
            .arg("-t")
            .current_dir(self.path())
            .stdin(Stdio::null())
            .output()
            .expect("running wazuh-analysisd -t")
    }

    /// Starts `wazuh-analysisd -f` and waits for its sockets.
    pub fn start(self) -> Analysisd {
        let wdb = WdbStandIn::start(&self.path().join("queue/db/wdb"));
        let mut child = Command::new(self.path().join("bin/wazuh-analysisd"))
            .arg("-f")
            .current_dir(self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting wazuh-analysisd -f");
        let started = Instant::now();
        loop {
            let sockets = ["queue", "logtest"].map(|s| self.path().join("queue/sockets").join(s));
            if sockets.iter().all(|s| s.exists()) && UnixStream::connect(&sockets[1]).is_ok() {
                return Analysisd { child: Some(child), home: self, _wdb: wdb };
            }
            if let Some(status) = child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self.path().join("logs/ossec.log")).unwrap_or_default();
                panic!("wazuh-analysisd exited ({status}) at start; logs/ossec.log:\n{log}");
            }
            assert!(started.elapsed() < Duration::from_secs(60), "wazuh-analysisd did not open its sockets in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())).flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running

/// A running `wazuh-analysisd -f`; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Analysisd {
    child: Option<Child>,
    home: Home,
    _wdb: WdbStandIn,
}

impl Analysisd {
    /// A home with the project's rules, started; `None` when skipped.
    pub fn start() -> Option<Analysisd> {
        Some(Home::new()?.start())
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The datagram socket oktawatch writes to (`queue/sockets/queue`).
    pub fn queue_socket(&self) -> PathBuf {
        self.home().join("queue/sockets/queue")
    }

    /// `logs/ossec.log` so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home().join("logs/ossec.log")).unwrap_or_default()
    }

    /// The lines of `logs/ossec.log` at WARNING or above, but for those about the MITRE
    /// ATT&CK names (this home has no MITRE database: see `tests/wazuh/`).
    pub fn problems(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| ["WARNING:", "ERROR:", "CRITICAL:"].iter().any(|k| l.contains(k)))
            .filter(|l| !l.contains("Mitre"))
            .map(str::to_string)
            .collect()
    }

    /// Every alert in `logs/alerts/alerts.json` (rules of level 3 and above).
    pub fn alerts(&self) -> Vec<Value> {
        json_lines(&self.home().join("logs/alerts/alerts.json"))
    }

    /// Every message analysisd took in, from `logs/archives/archives.json`, with its
    /// `full_log`, `decoder` and (for a rule above level 0) `rule`.
    pub fn archives(&self) -> Vec<Value> {
        json_lines(&self.home().join("logs/archives/archives.json"))
    }

    /// Waits until analysisd has written `n` messages to its archives and, for those that
    /// matched a rule of level 3 and above, their alerts; returns (archives, alerts).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> (Vec<Value>, Vec<Value>) {
        let started = Instant::now();
        loop {
            let archives = self.archives();
            let alerting = archives.iter().filter(|a| a["rule"]["level"].as_u64().is_some_and(|l| l >= 3)).count();
            let alerts = self.alerts();
            if archives.len() >= n && alerts.len() >= alerting {
                return (archives, alerts);
            }
            assert!(
                started.elapsed() < timeout,
                "analysisd wrote {} of {n} messages to archives.json and {} of {alerting} alerts in {timeout:?}; ossec.log:\n{}",
                archives.len(),
                alerts.len(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one event through the logtest socket in a new session (which reads the
    /// ruleset again), and ends it; returns the answer's `data`.
    pub fn logtest(&self, event: &str) -> Value {
        let mut session = self.logtest_session();
        session.process(event)
    }

    /// A logtest session, for several events (ended when dropped).
    pub fn logtest_session(&self) -> Logtest {
        Logtest { socket: self.home().join("queue/sockets/logtest"), token: None }
    }

    /// Runs Wazuh's own `wazuh-logtest` program (the Python script a manager has as
    /// `bin/wazuh-logtest`) on these input lines; returns what it printed.
    pub fn wazuh_logtest(&self, input: &str) -> String {
        let script = self.home().join("framework/scripts/wazuh_logtest.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .env("PYTHONPATH", self.home().join("framework"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running python3 (the build script installs it)");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "wazuh-logtest failed ({}):\n{text}", out.status);
        text
    }
}

impl Drop for Analysisd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none() {
                if started.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The JSON lines of a file (a line still being written is left out).
fn json_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..i],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", path.display())))
        .collect()
}

/// A session on analysisd's logtest socket: a 4-byte little-endian length, then JSON.
pub struct Logtest {
    socket: PathBuf,
    token: Option<String>,
}

impl Logtest {
    fn request(&self, command: &str, parameters: Value) -> Value {
        let req = json!({"version": 1, "origin": {"name": "oktawatch-tests", "module": "oktawatch-tests"},
                         "command": command, "parameters": parameters})
        .to_string();
        let mut s = UnixStream::connect(&self.socket).expect("connecting to the logtest socket");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(&(req.len() as u32).to_le_bytes()).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).expect("logtest answer length");
        let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
        s.read_exact(&mut buf).expect("logtest answer");
        let answer: Value = serde_json::from_slice(&buf).expect("logtest answers JSON");
        assert_eq!(answer["error"], 0, "logtest refused the request: {answer}");
        answer["data"].clone()
    }

    /// One event; returns the answer's `data` (`output` holds `rule`, `decoder`, `data`).
    pub fn process(&mut self, event: &str) -> Value {
        let mut p = json!({"event": event, "log_format": "syslog", "location": "oktawatch"});
        if let Some(t) = &self.token {
            p["token"] = json!(t);
        }
        let data = self.request("log_processing", p);
        self.token = data["token"].as_str().map(str::to_string);
        data
    }
}

impl Drop for Logtest {
    fn drop(&mut self) {
        if let Some(t) = self.token.take() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.request("remove_session", json!({"token": t}))
            }));
        }
    }
}

/// Stands in for wazuh-db on `queue/db/wdb`: answers every request `ok []`, so that analysisd
/// starts at once instead of retrying the socket for 15 s. (Its only effect: alerts carry no
/// MITRE technique names.)
struct WdbStandIn {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WdbStandIn {
    fn start(path: &Path) -> WdbStandIn {
        let listener = UnixListener::bind(path).expect("binding the wazuh-db stand-in");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        std::thread::spawn(move || answer_ok(conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        WdbStandIn { stop, thread: Some(thread) }
    }
}

fn answer_ok(mut conn: UnixStream) {
    conn.set_nonblocking(false).unwrap();
    let mut len = [0u8; 4];
    while conn.read_exact(&mut len).is_ok() {
        let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
        if conn.read_exact(&mut buf).is_err() {
            return;
        }
        let ok = b"ok []";
        if conn.write_all(&(ok.len() as u32).to_le_bytes()).and_then(|_| conn.write_all(ok)).is_err() {
            return;
        }
    }
}

impl Drop for WdbStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rules file as data

/// Wazuh level for a severity, as documented in the WIT contract and the rules file.
pub fn level_of(severity: &str) -> u32 {
    match severity {
        "info" => 3,
        "low" => 5,
        "medium" => 8,
        "high" => 12,
        "critical" => 14,
        other => panic!("unknown severity {other:?}"),
    }
}

/// The five severities, lowest first.
pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

#[derive(Debug)]
pub struct Field {
    pub name: String,
    pub pattern: String,
    pub negate: bool,
}

#[derive(Debug)]
pub struct Rule {
    pub id: u32,
    pub level: u32,
    pub parents: Vec<u32>,
    pub fields: Vec<Field>,
    pub description: String,
    pub line: u32,
}

impl Rule {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Parses the rules file. Wazuh rule files have several top-level `<group>`
/// elements, so the text is wrapped in one root for the XML parser.
pub fn load_rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(RULES).expect("reading the rules file");
    assert!(!text.trim_start().starts_with("<?xml"), "Wazuh rule files take no XML declaration");
    let wrapped = format!("<root>{text}</root>");
    let doc = roxmltree::Document::parse(&wrapped).unwrap_or_else(|e| panic!("{RULES} is not well-formed XML: {e}"));
    let mut rules = Vec::new();
    for node in doc.descendants().filter(|n| n.has_tag_name("rule")) {
        let line = doc.text_pos_at(node.range().start).row;
        let attr = |name: &str| {
            node.attribute(name).unwrap_or_else(|| panic!("rule at line {line} has no `{name}` attribute"))
        };
        let id: u32 = attr("id").parse().unwrap_or_else(|e| panic!("rule at line {line}: bad id: {e}"));
        let level: u32 = attr("level").parse().unwrap_or_else(|e| panic!("rule {id}: bad level: {e}"));
        assert!(level <= 16, "rule {id}: level {level} over 16");
        assert_eq!(
            node.parent().map(|p| p.tag_name().name()),
            Some("group"),
            "rule {id} (line {line}) is not inside a <group>"
        );
        let mut rule = Rule { id, level, parents: Vec::new(), fields: Vec::new(), description: String::new(), line };
        for child in node.children().filter(|c| c.is_element()) {
            let body = child.text().unwrap_or("").trim();
            match child.tag_name().name() {
                "if_sid" | "if_matched_sid" => {
                    for part in body.split([',', ' ']).filter(|p| !p.is_empty()) {
                        rule.parents.push(part.parse().unwrap_or_else(|e| panic!("rule {id}: bad if_sid {part:?}: {e}")));
                    }
                }
                "field" => rule.fields.push(Field {
                    name: child.attribute("name").unwrap_or_else(|| panic!("rule {id}: <field> without name")).into(),
                    pattern: body.to_string(),
                    negate: child.attribute("negate") == Some("yes"),
                }),
                "description" => rule.description = body.to_string(),
                _ => {}
            }
        }
        rules.push(rule);
    }
    assert!(!rules.is_empty(), "no <rule> in {RULES}");
    rules
}

/// The names a `^prefix(?:a|b|c)$` alternation matches.
pub fn alternation(pattern: &str) -> Option<Vec<String>> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let (prefix, rest) = body.split_once("(?:")?;
    let alts = rest.strip_suffix(')')?;
    Some(alts.split('|').map(|a| format!("{prefix}{a}")).collect())
}

/// The literal values a field pattern of this file matches: `^a\.b$|^c$` or
/// `^prefix(?:a|b)$`. Panics on any other form (this reading would be a guess).
pub fn literals(pattern: &str) -> Vec<String> {
    if let Some(alts) = alternation(pattern) {
        return alts;
    }
    pattern
        .split('|')
        .map(|p| {
            let lit = p.strip_prefix('^').and_then(|p| p.strip_suffix('$'));
            let lit = lit.unwrap_or_else(|| panic!("pattern {pattern:?}: {p:?} is not ^literal$"));
            let unescaped = lit.replace("\\.", ".");
            assert!(
                !unescaped.contains(['\\', '(', ')', '[', '*', '+', '?', '^', '$']),
                "pattern {pattern:?}: {p:?} is not a plain literal"
            );
            unescaped
        })
        .collect()
}

/// A message's field as Wazuh's JSON decoder gives it to rules and `$(…)`: dotted object keys,
/// numbers as integers when whole, booleans as `true`/`false`, an array of scalars as one
/// comma-separated value; `null`, objects in arrays and empty values as nothing.
pub fn decoded(message: &Value, name: &str) -> Option<String> {
    let mut v = message;
    for key in name.split('.') {
        v = v.as_object()?.get(key)?;
    }
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_i64() {
            Some(i) => i.to_string(),
            None => format!("{:.6}", n.as_f64().unwrap_or(0.0)),
        }),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let s = match v {
        Value::Array(a) => a.iter().filter_map(scalar).collect::<Vec<_>>().join(","),
        other => scalar(other)?,
    };
    (!s.is_empty()).then_some(s)
}

/// What the rules file says a message should give: the rule, its level, and its description
/// with every `$(field)` filled in from the message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expected {
    pub rule: u32,
    pub level: u32,
    pub description: String,
}

/// Walks the rules' tree as analysisd does: the first top rule whose fields all match, then
/// down to the first matching child, as long as one matches. The description has its
/// `$(field)`s filled in from the message (an absent one gives nothing, as in analysisd).
pub fn expect(rules: &[Rule], message: &Value) -> Option<Expected> {
    let matches = |r: &Rule| {
        r.fields.iter().all(|f| {
            // Wazuh compiles field patterns without OS_CASE_SENSITIVE.
            let hit = decoded(message, &f.name)
                .is_some_and(|v| literals(&f.pattern).iter().any(|l| l.eq_ignore_ascii_case(&v)));
            hit != f.negate
        })
    };
    let mut rule = rules.iter().find(|r| r.parents.is_empty() && matches(r))?;
    while let Some(child) = rules.iter().find(|c| c.parents.contains(&rule.id) && matches(c)) {
        rule = child;
    }
    let mut description = String::new();
    for (i, part) in rule.description.split("$(").enumerate() {
        match part.split_once(')').filter(|_| i > 0) {
            Some((name, rest)) => {
                description.push_str(&decoded(message, name).unwrap_or_default());
                description.push_str(rest);
            }
            None => description.push_str(part),
        }
    }
    Some(Expected { rule: rule.id, level: rule.level, description })
}

/// The `$(field)`s of a rule's description that the message leaves empty.
pub fn empty_fields(rule: &Rule, message: &Value) -> Vec<String> {
    rule.description
        .split("$(")
        .skip(1)
        .filter_map(|p| p.split_once(')'))
        .map(|(name, _)| name)
        .filter(|name| decoded(message, name).is_none())
        .map(str::to_string)
        .collect()
}

/// Counts by (rule, level), for reports.
pub fn tally<'a>(it: impl Iterator<Item = (u32, u32)> + 'a) -> BTreeMap<(u32, u32), usize> {
    let mut m = BTreeMap::new();
    for k in it {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}
