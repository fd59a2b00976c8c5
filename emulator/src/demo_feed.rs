//! The bundled demo feed that `oktawatch demo` serves from its embedded Okta API emulator.
//!
//! Fifty minutes (or any span) of System Log for a fictional org, Acme (`acme.example`): about
//! 25 people at the San Francisco, Chicago and London offices signing in (password, Okta Verify
//! push), single sign-on to Salesforce, Slack, GitHub and AWS, OAuth tokens, sign-outs, an IT
//! admin onboarding two hires, the odd mistyped password. Mixed in (about a fifth of the feed):
//!
//! 1. brute force on dana@ from 203.0.113.50 (VPS): 12 failures in under 10 minutes, then success;
//! 2. password spray from 198.51.100.23: 8 users, 2–3 failures each, within 30 minutes;
//! 3. Okta Verify push bombing of erin@ from the spray host, ending in an approved push;
//! 4. session cookie reuse: heidi@'s session `idxSTOLEN…` replayed by python-requests from 185.220.101.9;
//! 5. impossible travel: frank@ signs in from Chicago, then from Singapore 20 minutes later;
//! 6. grace@ signs in through a Tor exit (`securityContext.isProxy` true);
//! 7. admin persistence by mallory-admin@: Super Administrator for a new svc-backup@, API token,
//!    SAML IdP with an unknown issuer, MFA rule downgraded, network zone widened, log stream off;
//! 8. Okta signals: ThreatInsight, session roaming, user risk HIGH, 6 accounts locked in
//!    4 minutes, Okta support access granted, an org rate-limit violation.
//!
//! Offices and most attackers use documentation address ranges. Timing and choices come from a
//! fixed seed (the same story every run); ids and uuids from the arguments, so feeds generated at
//! different times share no uuid.

use serde_json::{Map, Value, json};

const DOMAIN: &str = "acme.example";
const MINUTE: f64 = 60_000.0;
/// The span the attack durations are written for; a shorter span compresses them.
const NOMINAL_SPAN_MS: f64 = 50.0 * MINUTE;

/// splitmix64: tiny and deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A value in `lo..hi` (`lo` when the range is empty).
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { lo + self.below((hi - lo) as u64) as i64 }
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| CHARS[self.below(62) as usize] as char).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from_digit(self.below(16) as u32, 16).unwrap()).collect()
    }
}

/// A 20-character Okta object id (`00u…`, `0oa…`) that depends only on `name`.
fn stable_id(prefix: &str, name: &str) -> String {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{prefix}{}", Rng(h).alnum(20 - prefix.len()))
}

/// Where a request came from: address, geolocation, network.
struct Place {
    ip: &'static str,
    geo: Geo,
    net: Net,
}
/// city, state, country, postal code, latitude, longitude.
type Geo = (&'static str, &'static str, &'static str, &'static str, f64, f64);
/// AS number, AS org, ISP, domain, is a proxy.
type Net = (u32, &'static str, &'static str, &'static str, bool);

const fn place(ip: &'static str, geo: Geo, net: Net) -> Place {
    Place { ip, geo, net }
}

const AMSTERDAM: Geo = ("Amsterdam", "North Holland", "Netherlands", "1098", 52.3520, 4.9392);
const VULTR: Net = (20473, "the constant company, llc", "vultr holdings llc", "vultr.com", false);
const SF: Place = place("192.0.2.10", ("San Francisco", "California", "United States", "94105", 37.7898, -122.3942),
    (7018, "at&t corp.", "at&t services inc.", "att.com", false));
const CHICAGO: Place = place("192.0.2.70", ("Chicago", "Illinois", "United States", "60606", 41.8827, -87.6376),
    (7922, "comcast cable communications, llc", "comcast business", "comcast.net", false));
const LONDON: Place = place("192.0.2.130", ("London", "England", "United Kingdom", "EC2A", 51.5226, -0.0840),
    (2856, "british telecommunications plc", "bt", "bt.com", false));
const BRUTE_VPS: Place = place("203.0.113.50", AMSTERDAM, VULTR);
const MALLORY_VPS: Place = place("203.0.113.77", AMSTERDAM, VULTR);
const SPRAY_HOST: Place = place("198.51.100.23", ("Roubaix", "Hauts-de-France", "France", "59100", 50.6942, 3.1746),
    (16276, "ovh sas", "ovh sas", "ovh.net", false));
const REPLAY_HOST: Place = place("185.220.101.9", ("Frankfurt am Main", "Hesse", "Germany", "60313", 50.1109, 8.6821),
    (9009, "m247 europe srl", "m247 ltd", "m247.com", false));
const SINGAPORE: Place = place("116.86.44.201", ("Singapore", "Central Singapore", "Singapore", "018989", 1.29, 103.85),
    (4657, "starhub ltd", "starhub internet pte ltd", "starhub.com", false));
const TOR_EXIT: Place = place("109.70.100.22", ("Vienna", "Vienna", "Austria", "1010", 48.2085, 16.3721),
    (208323, "foundation for applied privacy", "foundation for applied privacy", "applied-privacy.net", true));
const STUFFING_HOST: Place = place("203.0.113.140", ("London", "England", "United Kingdom", "E14", 51.5054, -0.0235),
    (62240, "clouvider limited", "clouvider", "clouvider.co.uk", false));

/// `client.userAgent` (raw, os, browser) and `client.device`.
type Agent = (&'static str, &'static str, &'static str, &'static str);

const CHROME_MAC: Agent = (concat!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 ",
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"), "Mac OS X", "CHROME", "Computer");
const SAFARI_MAC: Agent = (concat!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 ",
    "(KHTML, like Gecko) Version/17.3 Safari/605.1.15"), "Mac OS X", "SAFARI", "Computer");
const EDGE_WIN: Agent = (concat!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 ",
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.2365.66"), "Windows 10", "EDGE_CHROMIUM", "Computer");
const CHROME_WIN: Agent = (concat!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 ",
    "(KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"), "Windows 10", "CHROME", "Computer");
const IPHONE: Agent = (concat!("Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 ",
    "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1"), "iOS", "MOBILE_SAFARI", "Mobile");
const CHROME_LINUX: Agent = (concat!("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 ",
    "(KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36"), "Linux", "CHROME", "Computer");
const FIREFOX_WIN: Agent = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Windows 10", "FIREFOX", "Computer");
const PY_REQUESTS: Agent = ("python-requests/2.31.0", "Unknown", "UNKNOWN", "Unknown");

/// A SAML app: label and Okta app name.
type App = (&'static str, &'static str);
const SALESFORCE: App = ("Salesforce.com", "salesforce");
const SLACK: App = ("Slack", "slack");
const GITHUB: App = ("GitHub Enterprise Cloud - Organization", "githubcloud");
const AWS: App = ("AWS IAM Identity Center", "amazon_aws_sso");
const APPS: [App; 4] = [SALESFORCE, SLACK, GITHUB, AWS];

/// login, display name, office, usual browser.
const PEOPLE: [(&str, &str, &Place, &Agent); 27] = [
    ("alice", "Alice Nguyen", &SF, &CHROME_MAC), ("bob", "Bob Martinez", &SF, &EDGE_WIN),
    ("carol", "Carol Okafor", &SF, &SAFARI_MAC), ("dana", "Dana Whitfield", &CHICAGO, &CHROME_WIN),
    ("erin", "Erin Kowalski", &SF, &CHROME_MAC), ("frank", "Frank Oduya", &CHICAGO, &CHROME_WIN),
    ("grace", "Grace Lindqvist", &LONDON, &SAFARI_MAC), ("heidi", "Heidi Brandt", &SF, &CHROME_MAC),
    ("ivan", "Ivan Petrov", &LONDON, &EDGE_WIN), ("judy", "Judy Chen", &SF, &SAFARI_MAC),
    ("ken", "Ken Watanabe", &SF, &CHROME_MAC), ("leo", "Leo Fischer", &LONDON, &CHROME_MAC),
    ("maria", "Maria Gonzalez", &CHICAGO, &EDGE_WIN), ("nina", "Nina Haddad", &CHICAGO, &CHROME_WIN),
    ("oscar", "Oscar Dubois", &LONDON, &EDGE_WIN), ("olivia", "Olivia Park", &SF, &CHROME_MAC),
    ("peggy", "Peggy Walsh", &CHICAGO, &SAFARI_MAC), ("quinn", "Quinn Foster", &SF, &EDGE_WIN),
    ("raj", "Raj Patel", &SF, &CHROME_MAC), ("sofia", "Sofia Rossi", &LONDON, &SAFARI_MAC),
    ("trent", "Trent Hughes", &CHICAGO, &EDGE_WIN), ("uma", "Uma Iyer", &SF, &CHROME_WIN),
    ("victor", "Victor Almeida", &LONDON, &CHROME_MAC), ("wendy", "Wendy Brooks", &CHICAGO, &SAFARI_MAC),
    ("xavier", "Xavier Laurent", &LONDON, &EDGE_WIN), ("yuki", "Yuki Tanaka", &SF, &CHROME_MAC),
    ("zoe", "Zoe Adams", &CHICAGO, &CHROME_WIN),
];
/// People whose day is scripted by an attack (no background noise that would blur it).
const SCRIPTED: [&str; 5] = ["dana", "erin", "frank", "grace", "heidi"];

#[derive(Clone)]
struct Who {
    id: String,
    login: String,
    name: String,
}

fn who(login: &str, name: &str) -> Who {
    let email = format!("{login}@{DOMAIN}");
    Who { id: stable_id("00u", &email), login: email, name: name.to_string() }
}

fn person(login: &str) -> Who {
    let (l, n, _, _) = PEOPLE.iter().find(|p| p.0 == login).expect("known person");
    who(l, n)
}

/// Who acts, from where, in which session (external, root); `risky` turns Okta's verdicts up.
#[derive(Clone)]
struct Ctx {
    who: Who,
    place: &'static Place,
    agent: &'static Agent,
    sess: (String, String),
    risky: bool,
}

/// displayMessage, legacyEventType on success and on failure ("" for none), default requestUri.
fn meta(ty: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    const LOGIN: &str = "core.user_auth.login_success";
    const FACTOR_OK: &str = "core.user.factor.attempt_success";
    const FACTOR_FAIL: &str = "core.user.factor.attempt_fail";
    match ty {
        "user.session.start" => ("User login to Okta", LOGIN, "core.user_auth.login_failed", "/idp/idx/identify"),
        "user.session.end" => ("User logout from Okta", "core.user_auth.logout_success", "", "/login/signout"),
        "user.authentication.sso" => ("User single sign on to app", "app.auth.sso", "app.auth.sso", "/app/sso/saml"),
        "policy.evaluate_sign_on" => ("Evaluation of sign-on policy", "", "", "/idp/idx/identify"),
        "user.authentication.verify" => ("Verify user identity", "", "", "/idp/idx/challenge/answer"),
        "system.push.send_factor_verify_push" => {
            ("Push notification sent for verification", "", "", "/idp/idx/challenge")
        }
        "user.authentication.auth_via_mfa" => {
            ("Authentication of user via MFA", FACTOR_OK, FACTOR_FAIL, "/idp/idx/authenticators/poll")
        }
        "user.mfa.okta_verify.deny_push" => {
            ("User rejected Okta push verify", FACTOR_FAIL, FACTOR_FAIL, "/idp/idx/authenticators/poll")
        }
        "user.lifecycle.create" => ("Create Okta user", "core.user.config.user_creation.success", "", "/api/v1/users"),
        "user.lifecycle.activate" => ("Activate Okta user", "core.user.config.user_activated", "", "/api/v1/users"),
        "group.user_membership.add" => {
            ("Add user to group membership", "core.user_group_member.user_add", "", "/api/v1/groups")
        }
        "application.user_membership.add" => {
            ("Add user to application membership", "app.generic.provision.assign_user_to_app", "", "/api/v1/apps")
        }
        "app.oauth2.as.token.grant" => ("OAuth2 token granted", "", "", "/oauth2/default/v1/token"),
        "user.account.privilege.grant" => {
            ("Grant user privilege", "core.user.admin_privilege.granted", "", "/api/v1/users")
        }
        "system.api_token.create" => ("Create API token", "api.token.create", "", "/api/internal/tokens"),
        "system.idp.lifecycle.create" => ("Create IdP", "", "", "/api/v1/idps"),
        "policy.rule.update" => ("Update policy rule", "policy.rule.update", "", "/api/v1/policies"),
        "zone.update" => ("Update network zone", "zone.update", "", "/api/v1/zones"),
        "system.log_stream.lifecycle.deactivate" => ("Deactivate log stream", "", "", "/api/v1/logStreams"),
        "security.threat.detected" => ("Request from suspicious actor", "", "", "/idp/idx/identify"),
        "security.session.detect_client_roaming" => ("Roaming session detected", "", "", "/app/sso/saml"),
        "user.risk.detect" => ("User risk detected", "", "", "/idp/idx/identify"),
        "user.account.lock" => {
            ("Max sign in attempts exceeded", "core.user_auth.account_locked", "", "/idp/idx/identify")
        }
        "user.session.impersonation.grant" => {
            ("Enable impersonation grant", "core.user.impersonation.grant.enabled", "", "/api/internal/impersonation")
        }
        "system.org.rate_limit.violation" => {
            ("Rate limit violation", "core.framework.ratelimit.exceeded", "", "/api/v1/users")
        }
        _ => ("Okta event", "", "", "/"),
    }
}

/// Okta rates these WARN, as it does any failure or denial.
fn warns(ty: &str) -> bool {
    let signals = ["user.risk.detect", "user.account.lock", "system.org.rate_limit.violation"];
    ty.starts_with("security.") || signals.contains(&ty)
}

/// One event about to be emitted: type, outcome, targets, extra debug data, requestUri.
struct E {
    ty: &'static str,
    result: &'static str,
    reason: Option<String>,
    targets: Vec<Value>,
    debug: Map<String, Value>,
    uri: Option<String>,
}

fn ev(ty: &'static str) -> E {
    E { ty, result: "SUCCESS", reason: None, targets: Vec::new(), debug: Map::new(), uri: None }
}

impl E {
    fn outcome(mut self, result: &'static str, reason: &str) -> Self {
        self.result = result;
        self.reason = Some(reason.to_string());
        self
    }
    fn target(mut self, t: Value) -> Self {
        self.targets.push(t);
        self
    }
    fn dbg(mut self, key: &str, value: &str) -> Self {
        self.debug.insert(key.to_string(), json!(value));
        self
    }
    fn uri(mut self, uri: String) -> Self {
        self.uri = Some(uri);
        self
    }
}

fn tgt(id: &str, ty: &str, alt: &str, name: &str, detail: Value) -> Value {
    json!({"id": id, "type": ty, "alternateId": alt, "displayName": name, "detailEntry": detail})
}
fn user_tgt(w: &Who) -> Value {
    tgt(&w.id, "User", &w.login, &w.name, Value::Null)
}
fn app_tgt(app: &App) -> Value {
    tgt(&stable_id("0oa", app.1), "AppInstance", app.0, app.0, json!({"signOnModeType": "SAML_2_0"}))
}
fn app_user_tgt(w: &Who, app: &App) -> Value {
    tgt(&stable_id("0ua", &format!("{}/{}", w.login, app.1)), "AppUser", &w.login, &w.name, Value::Null)
}
/// `w`'s enrollment in an authenticator (`Password`, `Okta Verify`).
fn enrollment(w: &Who, authenticator: &str, method: &str) -> Value {
    let prefix = if authenticator == "Password" { "lae" } else { "pfd" };
    let id = stable_id(prefix, &format!("{}/{authenticator}", w.login));
    let detail = json!({"methodTypeUsed": method, "methodUsedVerifiedProperties": "[USER_PRESENCE]"});
    tgt(&id, "AuthenticatorEnrollment", "unknown", authenticator, detail)
}
fn push_enrollment(w: &Who) -> Value {
    enrollment(w, "Okta Verify", "Get a push notification")
}
fn allow(ty: &'static str) -> E {
    ev(ty).outcome("ALLOW", "Sign-on policy evaluation resulted in ALLOW")
}

struct Gen {
    /// Timing and choices: fixed seed, the same story every run.
    shape: Rng,
    /// Ids, uuids, hashes: seeded from the arguments.
    ids: Rng,
    start: i64,
    span: i64,
    scale: f64,
    out: Vec<(i64, usize, Value)>,
}

impl Gen {
    /// Offset (ms into the span) at a fraction of the span.
    fn at(&self, frac: f64) -> i64 {
        (self.span as f64 * frac) as i64
    }
    /// A duration, compressed when the span is shorter than the nominal 50 minutes.
    fn mins(&self, m: f64) -> i64 {
        (m * MINUTE * self.scale) as i64
    }
    fn secs(&self, s: f64) -> i64 {
        (s * 1000.0 * self.scale) as i64
    }
    fn jitter(&mut self, max_secs: f64) -> i64 {
        let hi = self.secs(max_secs).max(1);
        self.shape.between(0, hi)
    }
    fn rand_at(&mut self, from: f64, to: f64) -> i64 {
        let (lo, hi) = (self.at(from), self.at(to));
        self.shape.between(lo, hi)
    }
    /// A context in a fresh session: root `idx…`, external the same or a classic `102…`.
    fn ctx(&mut self, who: Who, place: &'static Place, agent: &'static Agent, risky: bool) -> Ctx {
        let root = format!("idx{}", self.ids.alnum(22));
        let ext = if self.shape.chance(0.5) { root.clone() } else { format!("102{}", self.ids.alnum(22)) };
        Ctx { who, place, agent, sess: (ext, root), risky }
    }
    /// A time-based (version 1) UUID for the event's millisecond, as Okta's are.
    fn uuid(&mut self, ms: i64) -> String {
        let ticks = (ms as u64).wrapping_mul(10_000).wrapping_add(0x01B2_1DD2_1381_4000) + self.ids.below(10_000);
        let clock = self.ids.below(0x4000) | 0x8000;
        let node = self.ids.next() & 0xFFFF_FFFF_FFFF;
        let (low, mid, high) = (ticks & 0xFFFF_FFFF, (ticks >> 32) & 0xFFFF, ((ticks >> 48) & 0x0FFF) | 0x1000);
        format!("{low:08x}-{mid:04x}-{high:04x}-{clock:04x}-{node:012x}")
    }

    fn emit(&mut self, at: i64, c: &Ctx, e: E) {
        // Sub-second noise, smaller than any gap inside a sequence, so no anchor lands on a round second.
        let off = (at + self.shape.below(97) as i64).clamp(1, (self.span - 1).max(1));
        let ms = self.start + off;
        let (message, legacy_ok, legacy_fail, default_uri) = meta(e.ty);
        let failed = matches!(e.result, "FAILURE" | "DENY");
        let uri = e.uri.unwrap_or_else(|| default_uri.to_string());
        let request_id = self.ids.alnum(27);
        let mut debug = Map::new();
        for (k, v) in [("requestId", request_id.clone()), ("requestUri", uri.clone()), ("url", format!("{uri}?")),
            ("threatSuspected", "false".into()), ("dtHash", self.ids.hex(64))] {
            debug.insert(k.into(), json!(v));
        }
        if matches!(e.ty, "user.session.start" | "policy.evaluate_sign_on") {
            let (verdict, risk) = match c.risky {
                true => ("POSITIVE", "{reasons=Anomalous Geo-Distance, New Device, New IP, level=HIGH}"),
                false => ("NEGATIVE", "{level=LOW}"),
            };
            let kinds = ["New Geo-Location", "New Device", "New IP", "New State", "New Country", "Velocity"];
            let behaviors = kinds.into_iter().chain(["New City"]).map(|b| format!("{b}={verdict}"));
            let behaviors = behaviors.collect::<Vec<_>>().join(", ");
            debug.insert("behaviors".into(), json!(format!("{{{behaviors}}}")));
            debug.insert("risk".into(), json!(risk));
        }
        debug.extend(e.debug);
        let (ip, (city, state, country, postal, lat, lon)) = (c.place.ip, c.place.geo);
        let (asn, org, isp, domain, proxy) = c.place.net;
        let (ua, os, browser, device) = c.agent;
        let geo = json!({"city": city, "state": state, "country": country, "postalCode": postal,
                         "geolocation": {"lat": lat, "lon": lon}});
        let published = chrono::DateTime::from_timestamp_millis(ms).expect("timestamp in range");
        let event = json!({
            "uuid": self.uuid(ms),
            "published": published.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "eventType": e.ty,
            "version": "0",
            "severity": if failed || warns(e.ty) { "WARN" } else { "INFO" },
            "displayMessage": message,
            "legacyEventType": Some(if failed { legacy_fail } else { legacy_ok }).filter(|l| !l.is_empty()),
            "actor": {"id": c.who.id, "type": "User", "alternateId": c.who.login, "displayName": c.who.name},
            "client": {
                "userAgent": {"rawUserAgent": ua, "os": os, "browser": browser},
                "zone": "null", "device": device, "id": null, "ipAddress": ip, "geographicalContext": geo,
            },
            "device": null,
            "authenticationContext": {
                "authenticationProvider": null, "credentialProvider": null, "credentialType": null, "issuer": null,
                "interface": null, "authenticationStep": 0, "rootSessionId": c.sess.1, "externalSessionId": c.sess.0,
            },
            "outcome": {"result": e.result, "reason": e.reason},
            "target": if e.targets.is_empty() { Value::Null } else { Value::Array(e.targets) },
            "transaction": {"type": "WEB", "id": request_id, "detail": {}},
            "debugContext": {"debugData": debug},
            "securityContext": {"asNumber": asn, "asOrg": org, "isp": isp, "domain": domain, "isProxy": proxy},
            "request": {"ipChain": [{"ip": ip, "geographicalContext": geo, "version": "V4", "source": null}]},
        });
        let seq = self.out.len();
        self.out.push((off, seq, event));
    }

    // ---- building blocks -------------------------------------------------------------------

    fn push_sent(&mut self, t: i64, c: &Ctx) {
        let e = ev("system.push.send_factor_verify_push").target(user_tgt(&c.who)).target(push_enrollment(&c.who));
        self.emit(t, c, e.dbg("factor", "OKTA_VERIFY_PUSH"));
    }

    fn mfa(&mut self, t: i64, c: &Ctx, ok: bool) {
        let mut e = ev("user.authentication.auth_via_mfa").target(push_enrollment(&c.who));
        if !ok {
            e = e.outcome("FAILURE", "INVALID_CREDENTIALS");
        }
        let dash = "Okta Dashboard";
        let dash = tgt(&stable_id("0oa", "okta_enduser"), "AppInstance", dash, dash, Value::Null);
        self.emit(t, c, e.target(dash).dbg("factor", "OKTA_VERIFY_PUSH"));
    }

    fn failed_login(&mut self, t: i64, c: &Ctx) {
        self.emit(t, c, ev("user.session.start").outcome("FAILURE", "INVALID_CREDENTIALS"));
    }

    /// Sign-on policy, password, Okta Verify push, session start. Returns the session start time.
    fn sign_in(&mut self, t: i64, c: &Ctx) -> i64 {
        let policy = tgt(&stable_id("00p", "Default Policy"), "PolicyEntity", "unknown", "Default Policy",
            json!({"policyType": "OktaSignOn"}));
        let rule = tgt(&stable_id("0pr", "Require MFA"), "PolicyRule", "unknown", "Require MFA", Value::Null);
        self.emit(t, c, allow("policy.evaluate_sign_on").target(policy).target(rule));
        let mut t = t + self.secs(2.0) + self.jitter(4.0);
        self.emit(t, c, ev("user.authentication.verify").target(enrollment(&c.who, "Password", "Password")));
        t += 300 + self.jitter(2.0);
        self.push_sent(t, c);
        t += self.secs(4.0) + self.jitter(12.0);
        self.mfa(t, c, true);
        t += 400 + self.jitter(2.0);
        self.emit(t, c, ev("user.session.start"));
        t
    }

    fn sso(&mut self, t: i64, c: &Ctx, app: &App) {
        let uri = format!("/app/{}/{}/sso/saml", app.1, stable_id("exk", app.1));
        let e = ev("user.authentication.sso").target(app_tgt(app)).target(app_user_tgt(&c.who, app)).uri(uri);
        self.emit(t, c, e.dbg("appId", &stable_id("0oa", app.1)));
    }

    // ---- background --------------------------------------------------------------------------

    fn background_person(&mut self, w: Who, home: &'static Place, agent: &'static Agent) {
        let end = self.at(0.99);
        // Single sign-ons in a session that started before the span.
        let carried = self.ctx(w.clone(), home, agent, false);
        for _ in 0..self.shape.between(2, 6) {
            let (t, app) = (self.rand_at(0.01, 0.99), APPS[self.shape.below(4) as usize]);
            self.sso(t, &carried, &app);
        }
        let sign_ins = if self.shape.chance(0.4) { 2 } else { 1 };
        for k in 0..sign_ins {
            let c = self.ctx(w.clone(), home, if k == 1 { &IPHONE } else { agent }, false);
            let t0 = self.rand_at(0.03, 0.80);
            if self.shape.chance(0.12) {
                let before = t0 - self.secs(15.0) - self.jitter(40.0);
                self.failed_login(before, &c);
            }
            let mut t = self.sign_in(t0, &c);
            for _ in 0..self.shape.between(2, 7) {
                t += self.secs(20.0) + self.jitter(300.0);
                if t < end {
                    let app = APPS[self.shape.below(4) as usize];
                    self.sso(t, &c, &app);
                }
            }
            t += self.secs(10.0) + self.jitter(120.0);
            if self.shape.chance(0.4) && t < end {
                let grant = json!({"grantType": "authorization_code", "scopes": "openid profile email offline_access"});
                let server = tgt(&stable_id("aus", "default"), "AuthorizationServer", "default", "default", grant);
                let portal = "Acme Developer Portal";
                let portal = tgt(&stable_id("0oa", "devportal"), "AppInstance", portal, portal, Value::Null);
                let e = ev("app.oauth2.as.token.grant").target(server).target(portal);
                self.emit(t, &c, e.dbg("grantType", "authorization_code"));
            }
            t += self.secs(30.0) + self.jitter(300.0);
            if self.shape.chance(0.3) && t < end {
                self.emit(t, &c, ev("user.session.end"));
            }
        }
    }

    /// Olivia (IT) creates, activates and assigns a new hire.
    fn onboard(&mut self, t: i64, login: &str, name: &str, group: &str, apps: [App; 2]) {
        let admin = self.ctx(person("olivia"), &SF, &CHROME_MAC, false);
        let hire = who(login, name);
        let mut t = t;
        let create = ev("user.lifecycle.create").target(user_tgt(&hire));
        self.emit(t, &admin, create.uri("/api/v1/users?activate=false".into()));
        t += self.secs(20.0) + self.jitter(20.0);
        let uri = format!("/api/v1/users/{}/lifecycle/activate", hire.id);
        self.emit(t, &admin, ev("user.lifecycle.activate").target(user_tgt(&hire)).uri(uri));
        for g in ["Everyone", group] {
            t += self.secs(15.0) + self.jitter(30.0);
            let gid = stable_id("00g", g);
            let group = tgt(&gid, "UserGroup", "unknown", g, Value::Null);
            let e = ev("group.user_membership.add").target(user_tgt(&hire)).target(group);
            self.emit(t, &admin, e.uri(format!("/api/v1/groups/{gid}/users/{}", hire.id)));
        }
        for app in apps {
            t += self.secs(15.0) + self.jitter(30.0);
            let e = ev("application.user_membership.add").target(app_user_tgt(&hire, &app)).target(app_tgt(&app));
            self.emit(t, &admin, e.uri(format!("/api/v1/apps/{}/users", stable_id("0oa", app.1))));
        }
    }

    // ---- attacks -----------------------------------------------------------------------------

    /// 1. Twelve wrong passwords for dana@ from a VPS within 10 minutes, then the right one.
    fn brute_force(&mut self) {
        let t0 = self.at(0.10);
        for i in 0..12 {
            let c = self.ctx(person("dana"), &BRUTE_VPS, &CHROME_LINUX, true);
            let t = t0 + self.mins(0.75 * i as f64) + self.jitter(10.0);
            self.failed_login(t, &c);
        }
        let c = self.ctx(person("dana"), &BRUTE_VPS, &CHROME_LINUX, true);
        self.emit(t0 + self.mins(9.5), &c, ev("user.session.start"));
    }

    /// 2. One host, 8 users, 2–3 tries each (19 failures) over 28 minutes; ThreatInsight notices.
    fn password_spray(&mut self) {
        let victims = [("alice", 3), ("bob", 2), ("carol", 2), ("erin", 3), ("ivan", 2), ("judy", 2), ("ken", 3)];
        let victims = [victims.as_slice(), &[("nina", 2)]].concat();
        let round = |r| victims.iter().filter(move |v| v.1 > r).map(|v| v.0);
        let order: Vec<&str> = (0..3).flat_map(round).collect();
        let (t0, step) = (self.at(0.05), self.mins(28.0) / order.len() as i64);
        for (i, v) in order.iter().enumerate() {
            let c = self.ctx(person(v), &SPRAY_HOST, &FIREFOX_WIN, true);
            let t = t0 + step * i as i64 + self.jitter(20.0);
            let e = ev("user.session.start").outcome("FAILURE", "INVALID_CREDENTIALS");
            self.emit(t, &c, e.dbg("threatSuspected", "true"));
            if i == 9 {
                let e = ev("security.threat.detected").outcome("DENY", "Password Spray");
                let e = e.dbg("threatDetections", "{\"Password Spray\":\"198.51.100.23\"}");
                let e = e.dbg("threatSuspected", "true");
                self.emit(t + self.secs(5.0), &c, e);
            }
        }
    }

    /// 3. Erin's password (from the spray), then pushes she denies until one is approved.
    fn push_bombing(&mut self) {
        let c = self.ctx(person("erin"), &SPRAY_HOST, &FIREFOX_WIN, true);
        let t0 = self.at(0.66);
        self.emit(t0 - self.secs(6.0), &c, allow("policy.evaluate_sign_on"));
        let password = ev("user.authentication.verify").target(enrollment(&c.who, "Password", "Password"));
        self.emit(t0 - self.secs(3.0), &c, password);
        for i in 0..6 {
            let t = t0 + self.secs(40.0 * i as f64);
            self.push_sent(t, &c);
            let answer = t + self.secs(8.0) + self.jitter(6.0);
            if matches!(i, 0 | 1 | 3 | 4) {
                let e = ev("user.mfa.okta_verify.deny_push").outcome("FAILURE", "User rejected Okta push verify");
                let e = e.target(user_tgt(&c.who)).target(push_enrollment(&c.who));
                self.emit(answer, &c, e.dbg("factor", "OKTA_VERIFY_PUSH"));
            }
            if matches!(i, 2 | 4) {
                self.mfa(answer + self.secs(10.0), &c, false);
            }
        }
        let ok = t0 + self.secs(200.0) + self.mins(2.0);
        self.mfa(ok, &c, true);
        self.emit(ok + self.secs(1.5), &c, ev("user.session.start"));
        self.sso(ok + self.mins(1.0), &c, &SALESFORCE);
        self.sso(ok + self.mins(2.5), &c, &GITHUB);
    }

    /// 4. Heidi signs in normally; her session cookie is replayed later from another country.
    fn cookie_reuse(&mut self) {
        let id = format!("idxSTOLEN{}", self.ids.alnum(16));
        let c = Ctx { who: person("heidi"), place: &SF, agent: &CHROME_MAC, sess: (id.clone(), id), risky: false };
        let t = self.sign_in(self.at(0.20), &c);
        self.sso(t + self.mins(1.0), &c, &SALESFORCE);
        self.sso(t + self.mins(4.0), &c, &SLACK);
        let thief = Ctx { place: &REPLAY_HOST, agent: &PY_REQUESTS, risky: true, ..c };
        let t = self.at(0.45);
        self.sso(t, &thief, &AWS);
        let roam = ev("security.session.detect_client_roaming").target(user_tgt(&thief.who));
        let roam = roam.dbg("behaviors", "{New IP=POSITIVE, New Country=POSITIVE, New Device=POSITIVE}");
        self.emit(t + self.secs(2.0), &thief, roam);
        self.sso(t + self.secs(40.0), &thief, &GITHUB);
        self.sso(t + self.secs(95.0), &thief, &SALESFORCE);
    }

    /// 5. Frank in Chicago, then Singapore 20 minutes later; Okta raises his risk.
    fn impossible_travel(&mut self) {
        let c = self.ctx(person("frank"), &CHICAGO, &CHROME_WIN, false);
        let t = self.sign_in(self.at(0.30), &c);
        self.sso(t + self.mins(2.0), &c, &SLACK);
        let far = self.ctx(person("frank"), &SINGAPORE, &CHROME_WIN, true);
        let t = self.sign_in(t + self.mins(20.0), &far);
        self.sso(t + self.mins(1.0), &far, &SALESFORCE);
        let risk = ev("user.risk.detect").target(user_tgt(&far.who)).dbg("risk", "{level=HIGH}");
        let risk = risk.dbg("riskLevel", "HIGH").dbg("riskReasons", "Anomalous Geo-Distance, Velocity");
        self.emit(t + self.mins(1.2), &far, risk);
    }

    /// 6. Grace signs in through a Tor exit.
    fn anonymizer(&mut self) {
        let c = self.ctx(person("grace"), &TOR_EXIT, &SAFARI_MAC, true);
        let t = self.sign_in(self.at(0.55), &c);
        self.sso(t + self.mins(1.5), &c, &GITHUB);
    }

    /// 7. An attacker-held admin account plants persistence and blinds monitoring.
    fn admin_persistence(&mut self) {
        let c = self.ctx(who("mallory-admin", "Mallory Reyes"), &MALLORY_VPS, &CHROME_WIN, true);
        let t0 = self.sign_in(self.at(0.72), &c);
        let svc = who("svc-backup", "svc-backup");
        let issuer = "https://sso.acme-partner-login.example/saml2/idp";
        let ids = [stable_id("00T", "backup-sync"), stable_id("0oa", "partner-idp"), stable_id("00p", "Default Policy"),
            stable_id("0pr", "Require MFA"), stable_id("nzo", "Acme Offices"), stable_id("0oX", "Acme SIEM")];
        let steps = [
            (1.0, ev("user.lifecycle.create").target(user_tgt(&svc)).uri("/api/v1/users?activate=false".into())),
            (1.3, ev("user.lifecycle.activate").target(user_tgt(&svc))
                .uri(format!("/api/v1/users/{}/lifecycle/activate", svc.id))),
            (2.2, ev("user.account.privilege.grant").target(user_tgt(&svc))
                .target(tgt("SUPER_ADMIN", "ROLE", "unknown", "Super Administrator", Value::Null))
                .dbg("privilegeGranted", "Super administrator").uri(format!("/api/v1/users/{}/roles", svc.id))),
            (3.5, ev("system.api_token.create").target(tgt(&ids[0], "Token", "unknown", "backup-sync", Value::Null))
                .dbg("connection", "ANYWHERE")),
            (5.0, ev("system.idp.lifecycle.create")
                .target(tgt(&ids[1], "IdentityProvider", "Acme Partner SSO", "Acme Partner SSO",
                    json!({"protocol": "SAML2", "issuer": issuer})))
                .dbg("issuer", issuer).dbg("idpType", "SAML2")),
            (6.5, ev("policy.rule.update")
                .target(tgt(&ids[3], "PolicyRule", "unknown", "Require MFA", json!({"policyRuleFactorMode": "1FA"})))
                .target(tgt(&ids[2], "PolicyEntity", "unknown", "Default Policy", Value::Null))
                .dbg("changeDetails", "{from={factorMode=2FA, factorRequired=true}, to={factorMode=1FA}}")
                .uri(format!("/api/v1/policies/{}/rules/{}", ids[2], ids[3]))),
            (7.5, ev("zone.update").target(tgt(&ids[4], "NetworkZone", "unknown", "Acme Offices", Value::Null))
                .dbg("changeDetails", "{from={gateways=[192.0.2.0/24]}, to={gateways=[192.0.2.0/24, 203.0.113.0/24]}}")
                .uri(format!("/api/v1/zones/{}", ids[4]))),
            (8.5, ev("system.log_stream.lifecycle.deactivate")
                .target(tgt(&ids[5], "LogStream", "unknown", "Acme SIEM", json!({"type": "splunk_cloud_logstreaming"})))
                .uri(format!("/api/v1/logStreams/{}/lifecycle/deactivate", ids[5]))),
        ];
        for (m, e) in steps {
            self.emit(t0 + self.mins(m), &c, e);
        }
        // The new token at work: a script pages through every user until Okta throttles it.
        let script = Ctx { agent: &PY_REQUESTS, ..c };
        let e = ev("system.org.rate_limit.violation").outcome("DENY", "Rate limit exceeded").dbg("threshold", "600");
        let e = e.dbg("timeSpan", "1").dbg("timeUnit", "MINUTES").dbg("operationRateLimitScopeType", "Org");
        self.emit(t0 + self.mins(10.0), &script, e);
    }

    /// 8. Signals from Okta: a lockout burst from a stuffing host, support access granted.
    fn signals(&mut self) {
        let t0 = self.at(0.82);
        for (i, v) in ["peggy", "quinn", "raj", "sofia", "trent", "uma"].iter().enumerate() {
            let c = self.ctx(person(v), &STUFFING_HOST, &CHROME_LINUX, true);
            let t = t0 + self.mins(0.6 * i as f64) + self.jitter(8.0);
            self.emit(t, &c, ev("user.account.lock").target(user_tgt(&c.who)));
            if i == 2 {
                let e = ev("security.threat.detected").outcome("DENY", "Credential Stuffing");
                let e = e.dbg("threatSuspected", "true");
                let e = e.dbg("threatDetections", "{\"Credential Stuffing\":\"203.0.113.140\"}");
                self.emit(t + self.secs(4.0), &c, e);
            }
        }
        let admin = self.ctx(person("olivia"), &SF, &CHROME_MAC, false);
        let e = ev("user.session.impersonation.grant").target(user_tgt(&admin.who)).dbg("grantDurationHours", "8");
        self.emit(self.at(0.62), &admin, e);
    }
}

/// The demo feed: a few hundred Okta System Log events (serde_json::Value objects, Okta LogEvent shape),
/// in persistence order, with `published` spread over the `span_ms` before `now_ms`
/// (the demo calls it with now and 50 minutes). Deterministic for given arguments (seeded splitmix64, no rand
/// crate); the story is the same for any arguments, only ids and times move.
pub fn demo_feed(now_ms: i64, span_ms: i64) -> Vec<serde_json::Value> {
    let span = span_ms.max(2);
    let mut g = Gen {
        shape: Rng(0x0AC3_E0D5_2026_0302),
        ids: Rng((now_ms as u64).rotate_left(17) ^ (span as u64).wrapping_mul(0x9E37_79B9) ^ 0x5EED),
        start: now_ms - span,
        span,
        scale: (span as f64 / NOMINAL_SPAN_MS).min(1.0),
        out: Vec::new(),
    };
    for (login, name, home, agent) in PEOPLE {
        if !SCRIPTED.contains(&login) {
            g.background_person(who(login, name), home, agent);
        }
    }
    let (first, second) = (g.at(0.15), g.at(0.48));
    g.onboard(first, "sam", "Sam Rivera", "Engineering", [SLACK, GITHUB]);
    g.onboard(second, "tina", "Tina Morales", "Sales", [SLACK, SALESFORCE]);
    g.brute_force();
    g.password_spray();
    g.push_bombing();
    g.cookie_reuse();
    g.impossible_travel();
    g.anonymizer();
    g.admin_persistence();
    g.signals();
    g.out.sort_by_key(|(off, seq, _)| (*off, *seq));
    g.out.into_iter().map(|(_, _, event)| event).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    const NOW: i64 = 1_772_445_600_000; // 2026-03-02T10:00:00Z
    const SPAN: i64 = 50 * 60_000;

    fn feed() -> Vec<Value> {
        demo_feed(NOW, SPAN)
    }
    fn s<'a>(e: &'a Value, path: &str) -> &'a str {
        e.pointer(path).and_then(Value::as_str).unwrap_or("")
    }
    fn ms(e: &Value) -> i64 {
        let p = chrono::NaiveDateTime::parse_from_str(s(e, "/published"), "%Y-%m-%dT%H:%M:%S%.3fZ").unwrap();
        p.and_utc().timestamp_millis()
    }
    /// Events of type `ty` by `login` (any actor when empty) with outcome `result` (any when empty).
    fn select<'a>(f: &'a [Value], ty: &str, login: &str, result: &str) -> Vec<&'a Value> {
        let by = |e: &Value| login.is_empty() || s(e, "/actor/alternateId") == format!("{login}@acme.example");
        let res = |e: &Value| result.is_empty() || s(e, "/outcome/result") == result;
        f.iter().filter(|e| s(e, "/eventType") == ty && by(e) && res(e)).collect()
    }
    fn from<'a>(ip: &str, events: Vec<&'a Value>) -> Vec<&'a Value> {
        events.into_iter().filter(|e| s(e, "/client/ipAddress") == ip).collect()
    }
    fn spread(events: &[&Value]) -> i64 {
        let t: Vec<i64> = events.iter().map(|e| ms(e)).collect();
        t.iter().max().unwrap() - t.iter().min().unwrap()
    }

    #[test]
    fn count_uuid_and_size() {
        let f = feed();
        assert!((250..=600).contains(&f.len()), "{} events", f.len());
        let mut seen = HashSet::new();
        for e in &f {
            let u = s(e, "/uuid");
            let parts: Vec<usize> = u.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{u}");
            assert!(u.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f' | '-')), "{u}");
            assert!(seen.insert(u.to_string()), "duplicate {u}");
            assert!((1000..3500).contains(&e.to_string().len()));
        }
    }

    #[test]
    fn published_is_okta_formatted_inside_the_span_in_order() {
        let mut last = i64::MIN;
        for e in &feed() {
            let p = s(e, "/published");
            assert!(p.len() == 24 && p.ends_with('Z') && &p[10..11] == "T" && &p[19..20] == ".", "{p}");
            let t = ms(e);
            assert!(t > NOW - SPAN && t < NOW && t >= last, "{p}");
            last = t;
        }
        for span in [10 * 60_000, 3 * 3_600_000] {
            assert!(demo_feed(NOW, span).iter().all(|e| (NOW - span..NOW).contains(&ms(e))));
        }
    }

    #[test]
    fn deterministic_with_fresh_ids_per_time() {
        assert_eq!(feed(), feed());
        assert_eq!(feed().len(), demo_feed(NOW + 1000, SPAN).len());
        assert_ne!(s(&feed()[0], "/uuid"), s(&demo_feed(NOW + 1000, SPAN)[0], "/uuid"));
    }

    #[test]
    fn credential_attacks() {
        let f = feed();
        // 1. brute force
        let fails = from("203.0.113.50", select(&f, "user.session.start", "dana", "FAILURE"));
        assert!(fails.len() == 12 && spread(&fails) < 10 * 60_000);
        assert!(fails.iter().all(|e| s(e, "/outcome/reason") == "INVALID_CREDENTIALS"));
        let ok = from("203.0.113.50", select(&f, "user.session.start", "dana", "SUCCESS"));
        assert!(ok.len() == 1 && fails.iter().all(|e| ms(e) < ms(ok[0])));
        // 2. spray
        let spray = from("198.51.100.23", select(&f, "user.session.start", "", "FAILURE"));
        let mut per_user = HashMap::new();
        spray.iter().for_each(|e| *per_user.entry(s(e, "/actor/alternateId")).or_insert(0) += 1);
        assert!(spray.len() >= 16 && per_user.len() == 8 && spread(&spray) <= 30 * 60_000);
        assert!(per_user.values().all(|n| (2..=3).contains(n)));
    }

    #[test]
    fn push_bombing_then_approval() {
        let f = feed();
        let pushes = select(&f, "system.push.send_factor_verify_push", "erin", "");
        let denies = select(&f, "user.mfa.okta_verify.deny_push", "erin", "");
        let fails = select(&f, "user.authentication.auth_via_mfa", "erin", "FAILURE");
        let ok = select(&f, "user.authentication.auth_via_mfa", "erin", "SUCCESS");
        assert_eq!((pushes.len(), denies.len(), fails.len(), ok.len()), (6, 4, 2, 1));
        assert!(fails.iter().all(|e| s(e, "/outcome/reason") == "INVALID_CREDENTIALS"));
        let bombing: Vec<&Value> = pushes.iter().chain(&denies).chain(&fails).copied().collect();
        assert!(spread(&bombing) <= 4 * 60_000);
        assert!(bombing.iter().all(|e| ms(e) < ms(ok[0])));
        assert!((119_000..121_000).contains(&(ms(ok[0]) - ms(pushes[5]))));
    }

    #[test]
    fn session_cookie_reuse() {
        let f = feed();
        let sso = select(&f, "user.authentication.sso", "heidi", "SUCCESS");
        let session = |e: &Value| s(e, "/authenticationContext/externalSessionId").to_string();
        let stolen: Vec<_> = sso.iter().filter(|e| session(e).starts_with("idxSTOLEN")).collect();
        let home = stolen.iter().find(|e| s(e, "/client/geographicalContext/city") == "San Francisco").expect("SF use");
        let replay = stolen.iter().find(|e| s(e, "/client/ipAddress") == "185.220.101.9").expect("replay");
        assert_eq!((s(home, "/client/userAgent/browser"), s(home, "/client/userAgent/os")), ("CHROME", "Mac OS X"));
        assert_eq!(session(home), session(replay));
        assert!(s(replay, "/client/userAgent/rawUserAgent").starts_with("python-requests/2.31"));
        assert_ne!(s(home, "/client/geographicalContext/country"), s(replay, "/client/geographicalContext/country"));
        assert_ne!(home["securityContext"]["asNumber"], replay["securityContext"]["asNumber"]);
        assert!(ms(home) < ms(replay));
    }

    #[test]
    fn travel_and_proxy() {
        let f = feed();
        let frank = select(&f, "user.session.start", "frank", "SUCCESS");
        let cities: Vec<&str> = frank.iter().map(|e| s(e, "/client/geographicalContext/city")).collect();
        assert_eq!(cities, ["Chicago", "Singapore"]);
        assert!((19 * 60_000..=21 * 60_000).contains(&spread(&frank)));
        assert_eq!(frank[1]["securityContext"]["isProxy"], false);
        let grace = select(&f, "user.session.start", "grace", "SUCCESS");
        assert!(grace.len() == 1 && grace[0]["securityContext"]["isProxy"] == true);
    }

    #[test]
    fn admin_persistence_and_signals() {
        let f = feed();
        for ty in ["user.account.privilege.grant", "system.api_token.create", "system.idp.lifecycle.create",
                   "policy.rule.update", "zone.update", "system.log_stream.lifecycle.deactivate"] {
            assert_eq!(select(&f, ty, "mallory-admin", "SUCCESS").len(), 1, "{ty}");
        }
        let grant = select(&f, "user.account.privilege.grant", "", "")[0];
        assert_eq!(s(grant, "/target/0/alternateId"), "svc-backup@acme.example");
        assert_eq!(s(grant, "/debugContext/debugData/privilegeGranted"), "Super administrator");
        let threats = select(&f, "security.threat.detected", "", "DENY");
        assert!(!threats.is_empty() && threats.iter().all(|e| s(e, "/severity") == "WARN"));
        let signals = ["security.session.detect_client_roaming", "user.session.impersonation.grant"];
        for ty in signals.into_iter().chain(["system.org.rate_limit.violation"]) {
            assert_eq!(select(&f, ty, "", "").len(), 1, "{ty}");
        }
        assert_eq!(s(select(&f, "user.risk.detect", "frank", "")[0], "/debugContext/debugData/risk"), "{level=HIGH}");
        let locks = select(&f, "user.account.lock", "", "");
        let users: HashSet<&str> = locks.iter().map(|e| s(e, "/target/0/alternateId")).collect();
        assert!(users.len() == 6 && spread(&locks) <= 4 * 60_000);
        let offices = ["192.0.2.10", "192.0.2.70", "192.0.2.130"];
        let share = f.iter().filter(|e| offices.contains(&s(e, "/client/ipAddress"))).count() as f64 / f.len() as f64;
        assert!((0.7..0.9).contains(&share), "background share {share}");
    }
}
