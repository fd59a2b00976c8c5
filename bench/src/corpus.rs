//! The synthetic System Log corpus: a seeded, reproducible day of a mid-size org.
//!
//! About 2,000 people in three offices and remote, 40 apps. The event-type mix
//! follows what a real org's System Log is made of: sign-ins and policy
//! evaluations, SSO, MFA, OAuth tokens, sign-outs, a trickle of lifecycle and
//! admin events and Okta's own signals. Every ~20k events an attack is mixed
//! in (brute force, password spray, push bombing, admin persistence). A
//! successful sign-in starts a session that the user's next events share
//! until it ends or idles out (2 h), and each user's browser keeps one device
//! cookie hash (`dtHash`), as in a real org's log; until 2026-12-02 every
//! event had a fresh random session and dtHash, so session- and
//! device-keyed detections kept one state entry per event. Events
//! carry Okta's real nesting (`debugContext.debugData` with the long
//! `logOnlySecurityData`/`behaviors`/`risk` strings, `target[]`,
//! `request.ipChain`); sizes run from ~1 KB to tens of KB (bulk group changes,
//! token grants with long scope lists).

use serde_json::{Value, json};

/// splitmix64: tiny, fast and deterministic.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    #[allow(clippy::should_implement_trait)] // an endless generator, not an Iterator
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn alnum(&mut self, n: usize) -> String {
        const C: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| C[self.below(62) as usize] as char).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from_digit(self.below(16) as u32, 16).unwrap()).collect()
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
    }
}

const USERS: u64 = 2000;
const APPS: &[&str] = &[
    "Salesforce", "Slack", "GitHub Enterprise", "AWS IAM Identity Center", "Zoom", "Google Workspace", "Jira",
    "Confluence", "Workday", "ServiceNow", "Box", "DocuSign", "Zendesk", "Datadog", "PagerDuty", "Tableau",
    "Snowflake", "Figma", "Miro", "Notion", "1Password", "Okta Dashboard", "Okta Admin Console", "Greenhouse",
    "Coupa", "Expensify", "Gong", "HubSpot", "Splunk", "CrowdStrike", "Netsuite", "Asana", "Dropbox", "Lucid",
    "Adobe", "Airtable", "Loom", "Sentry", "Vercel", "Cloudflare",
];
/// (city, state, country, postal, lat, lon, ip prefix)
const PLACES: &[(&str, &str, &str, &str, f64, f64, &str)] = &[
    ("San Francisco", "California", "United States", "94105", 37.79, -122.39, "192.0.2."),
    ("Chicago", "Illinois", "United States", "60601", 41.88, -87.62, "198.51.100."),
    ("London", "England", "United Kingdom", "EC2A", 51.52, -0.08, "203.0.113."),
    ("Austin", "Texas", "United States", "78701", 30.27, -97.74, "100.64.12."),
    ("Toronto", "Ontario", "Canada", "M5V", 43.64, -79.39, "100.64.40."),
];
const AGENTS: &[(&str, &str, &str)] = &[
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Mac OS X", "CHROME"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0", "Windows 10", "EDGE"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", "Mac OS X", "SAFARI"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "iOS", "MOBILE_SAFARI"),
    ("Okta Verify/9.12.0 (iPhone; iOS 17.4)", "iOS", "UNKNOWN"),
];

/// The event-type mix, per 10,000 events.
const MIX: &[(&str, u32)] = &[
    ("user.session.start", 1700),
    ("policy.evaluate_sign_on", 1500),
    ("user.authentication.sso", 1800),
    ("user.authentication.auth_via_mfa", 600),
    ("system.push.send_factor_verify_push", 300),
    ("user.authentication.verify", 400),
    ("app.oauth2.as.authorize.code", 400),
    ("app.oauth2.as.token.grant.access_token", 600),
    ("user.session.end", 500),
    ("user.authentication.authenticate", 300),
    ("user.session.access_admin_app", 100),
    ("group.user_membership.add", 150),
    ("application.user_membership.add", 100),
    ("user.account.update_password", 50),
    ("user.account.reset_password", 30),
    ("user.mfa.factor.activate", 50),
    ("user.mfa.factor.deactivate", 20),
    ("user.lifecycle.create", 20),
    ("user.lifecycle.activate", 20),
    ("user.lifecycle.deactivate", 10),
    ("user.account.lock", 15),
    ("security.threat.detected", 15),
    ("system.org.rate_limit.warning", 15),
    ("policy.rule.update", 5),
    ("user.account.privilege.grant", 3),
    ("system.api_token.create", 2),
];

/// Writes `n` events (one JSON object a line) from `seed`.
pub struct Generator {
    rng: Rng,
    /// Event clock, ms.
    now: i64,
    step_ms: i64,
    /// Attack events waiting to go out.
    queue: std::collections::VecDeque<Value>,
    emitted: u64,
    /// Each user's current Okta session and until when it lasts (ms): a
    /// session spans the sign-in, its policy checks, SSO and MFA events.
    sessions: std::collections::HashMap<u64, (String, i64)>,
}

/// How long a session lasts without a new sign-in (Okta's default: 2 hours idle).
const SESSION_MS: i64 = 2 * 3600 * 1000;

/// 2025-03-03T00:00:00Z: the corpus day.
pub const START_MS: i64 = 1_740_960_000_000;

impl Generator {
    /// A day's worth of log spread over `n` events.
    pub fn new(seed: u64, n: u64) -> Generator {
        Generator { rng: Rng::new(seed), now: START_MS, step_ms: (86_400_000 / n.max(1) as i64).max(1), queue: Default::default(), emitted: 0, sessions: Default::default() }
    }

    /// The next event.
    pub fn next_event(&mut self) -> Value {
        self.emitted += 1;
        self.now += self.rng.below(2 * self.step_ms as u64 + 1) as i64;
        if self.emitted % 20_000 == 10_000 {
            let scenario = (self.emitted / 20_000) % 4;
            self.plan_attack(scenario);
        }
        if let Some(mut ev) = self.queue.pop_front() {
            ev["published"] = json!(oktawatch::event::format_ms(self.now));
            return ev;
        }
        let roll = self.rng.below(10_000) as u32;
        let mut acc = 0;
        let ty = MIX
            .iter()
            .find(|(_, w)| {
                acc += w;
                roll < acc
            })
            .map(|(t, _)| *t)
            .unwrap_or("user.session.start");
        let user = self.rng.below(USERS);
        self.event(ty, user, None)
    }

    fn plan_attack(&mut self, scenario: u64) {
        let victim = self.rng.below(USERS);
        let bad_ip = format!("185.220.{}.{}", 100 + self.rng.below(50), self.rng.below(250));
        match scenario {
            // Brute force on one user: 12 failures, then success.
            0 => {
                for _ in 0..12 {
                    let ev = self.failed_sign_in(victim, &bad_ip);
                    self.queue.push_back(ev);
                }
                let ev = self.event("user.session.start", victim, Some(&bad_ip));
                self.queue.push_back(ev);
            }
            // Password spray: 8 users, 2–3 failures each, one IP.
            1 => {
                for k in 0..8 {
                    for _ in 0..2 + self.rng.below(2) {
                        let ev = self.failed_sign_in((victim + k * 37) % USERS, &bad_ip);
                        self.queue.push_back(ev);
                    }
                }
            }
            // Push bombing: 10 pushes, denials, then an approval.
            2 => {
                for i in 0..11 {
                    let mut ev = self.event("system.push.send_factor_verify_push", victim, Some(&bad_ip));
                    ev["outcome"] = json!({"result": if i < 10 { "FAILURE" } else { "SUCCESS" }, "reason": if i < 10 { "User rejected Okta push verify" } else { "" }});
                    self.queue.push_back(ev);
                }
            }
            // Admin persistence: privilege grant then an API token usable anywhere.
            _ => {
                let ev = self.event("user.account.privilege.grant", victim, Some(&bad_ip));
                self.queue.push_back(ev);
                let ev = self.event("system.api_token.create", victim, Some(&bad_ip));
                self.queue.push_back(ev);
            }
        }
    }

    fn failed_sign_in(&mut self, user: u64, ip: &str) -> Value {
        let mut ev = self.event("user.session.start", user, Some(ip));
        ev["outcome"] = json!({"result": "FAILURE", "reason": "INVALID_CREDENTIALS"});
        ev["displayMessage"] = json!("User login to Okta");
        ev
    }

    /// One event of type `ty` by user number `user`, from `ip` (else the user's office).
    pub fn event(&mut self, ty: &str, user: u64, ip: Option<&str>) -> Value {
        let failed = ty == "user.session.start" && self.rng.chance(0.08);
        let session = self.session(ty, user, failed);
        let r = &mut self.rng;
        let place = PLACES[(user % PLACES.len() as u64) as usize];
        let ip = ip.map(str::to_string).unwrap_or_else(|| format!("{}{}", place.6, 1 + (user * 7 + r.below(3)) % 250));
        let agent_no = (user + r.below(8) / 7) % AGENTS.len() as u64;
        let agent = AGENTS[agent_no as usize];
        let login = format!("user{user:04}@acme.example");
        let actor = json!({"id": format!("00u{:017}", user), "type": "User", "alternateId": login, "displayName": format!("User {user:04}"), "detailEntry": null});
        let geo = json!({"city": place.0, "state": place.1, "country": place.2, "postalCode": place.3, "geolocation": {"lat": place.4, "lon": place.5}});
        let request_id = r.alnum(27);
        let mut debug = json!({
            "requestId": request_id,
            "requestUri": "/idp/idx/authenticators/poll",
            "url": format!("/idp/idx/authenticators/poll?stateHandle={}", r.alnum(40)),
            "dtHash": device_hash(user, agent_no),
            "threatSuspected": "false",
            "traceId": r.uuid(),
        });
        let mut outcome = json!({"result": if failed { "FAILURE" } else { "SUCCESS" }, "reason": if failed { json!("INVALID_CREDENTIALS") } else { Value::Null }});
        let mut targets: Vec<Value> = Vec::new();
        let app = *r.pick(APPS);
        let app_target = |r: &mut Rng| json!({"id": format!("0oa{}", r.alnum(17)), "type": "AppInstance", "alternateId": app, "displayName": app, "detailEntry": {"signOnModeType": "SAML_2_0"}});
        match ty {
            "policy.evaluate_sign_on" => {
                debug["behaviors"] = json!("{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}");
                debug["risk"] = json!("{level=LOW}");
                debug["logOnlySecurityData"] = json!(format!(
                    r#"{{"risk":{{"level":"LOW"}},"behaviors":{{"New Geo-Location":"NEGATIVE","New Device":"NEGATIVE","New IP":"NEGATIVE","New State":"NEGATIVE","New Country":"NEGATIVE","Velocity":"NEGATIVE","New City":"NEGATIVE"}},"deviceContext":{{"fingerprint":"{}","platform":"{}"}},"trace":"{}"}}"#,
                    r.hex(40), agent.1, r.alnum(120)
                ));
                targets.push(json!({"id": format!("rul{}", r.alnum(17)), "type": "Rule", "alternateId": "unknown", "displayName": "Catch-all Rule", "detailEntry": {"SingleSignOnMode": "MFA_REQUIRED"}}));
                targets.push(json!({"id": format!("rst{}", r.alnum(17)), "type": "PolicyEntity", "alternateId": "unknown", "displayName": "Default Policy", "detailEntry": {"policyType": "OKTA_SIGN_ON"}}));
                targets.push(app_target(r));
            }
            "user.authentication.sso" | "app.oauth2.as.authorize.code" => {
                debug["initiationType"] = json!("IDP_INITIATED");
                debug["signOnMode"] = json!("SAML 2.0");
                targets.push(app_target(r));
                targets.push(json!({"id": format!("0ua{}", r.alnum(17)), "type": "AppUser", "alternateId": login, "displayName": format!("User {user:04}"), "detailEntry": null}));
            }
            "app.oauth2.as.token.grant.access_token" => {
                // Long scope lists and a big grant: a few KB up to tens of KB.
                let n = if r.chance(0.05) { 200 + r.below(400) } else { 5 + r.below(20) };
                let scopes: Vec<String> = (0..n).map(|i| format!("okta.{}.{}", ["users", "groups", "apps", "logs", "policies"][(i % 5) as usize], if i % 2 == 0 { "read" } else { "manage" })).collect();
                debug["grantedScopes"] = json!(scopes.join(" "));
                debug["grantType"] = json!("authorization_code");
                debug["tokenExpiresAt"] = json!("2025-03-03T01:00:00.000Z");
                targets.push(json!({"id": format!("aut{}", r.alnum(17)), "type": "access_token", "alternateId": format!("AT.{}", r.alnum(40)), "displayName": "Access Token", "detailEntry": {"expires": "2025-03-03T01:00:00.000Z", "subject": login, "hash": r.alnum(22)}}));
                targets.push(app_target(r));
            }
            "group.user_membership.add" | "application.user_membership.add" => {
                // Bulk changes: sometimes dozens to hundreds of targets.
                let n = if r.chance(0.1) { 30 + r.below(120) } else { 1 };
                for i in 0..n {
                    let u = (user + i * 13) % USERS;
                    targets.push(json!({"id": format!("00u{:017}", u), "type": "User", "alternateId": format!("user{u:04}@acme.example"), "displayName": format!("User {u:04}"), "detailEntry": null}));
                }
                targets.push(json!({"id": format!("00g{}", r.alnum(17)), "type": "UserGroup", "alternateId": "unknown", "displayName": format!("{app} users"), "detailEntry": null}));
            }
            "system.push.send_factor_verify_push" | "user.authentication.auth_via_mfa" | "user.authentication.verify" => {
                debug["factor"] = json!("OKTA_VERIFY_PUSH");
                debug["factorIntent"] = json!("AUTHENTICATION");
                targets.push(json!({"id": format!("opf{}", r.alnum(17)), "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "Okta Verify", "detailEntry": {"methodTypeUsed": "Okta Verify Push", "methodUsedVerifiedProperties": "[DEVICE_BOUND, HARDWARE_PROTECTED, USER_VERIFYING]"}}));
            }
            "system.api_token.create" => {
                debug["connection"] = json!("ANYWHERE");
                targets.push(json!({"id": format!("00T{}", r.alnum(17)), "type": "Token", "alternateId": "unknown", "displayName": format!("ci-token-{}", r.alnum(6)), "detailEntry": null}));
            }
            "security.threat.detected" => {
                debug["threatDetections"] = json!(r#"{"Password Spray":"MEDIUM"}"#);
                debug["threatSuspected"] = json!("true");
                outcome = json!({"result": "DENY", "reason": "Password Spray"});
            }
            _ => {
                targets.push(json!({"id": format!("00u{:017}", user), "type": "User", "alternateId": login, "displayName": format!("User {user:04}"), "detailEntry": null}));
            }
        }
        // A proxy or two in front, sometimes.
        let mut chain = vec![json!({"ip": ip, "geographicalContext": geo, "version": "V4", "source": null})];
        for _ in 0..r.below(3) {
            chain.push(json!({"ip": format!("10.{}.{}.{}", r.below(255), r.below(255), r.below(255)), "geographicalContext": null, "version": "V4", "source": null}));
        }
        json!({
            "actor": actor,
            "client": {"userAgent": {"rawUserAgent": agent.0, "os": agent.1, "browser": agent.2}, "zone": "null", "device": "Computer", "id": null, "ipAddress": ip, "geographicalContext": geo},
            "device": null,
            "authenticationContext": {"authenticationProvider": null, "credentialProvider": null, "credentialType": null, "issuer": null, "interface": null, "authenticationStep": 0, "rootSessionId": session, "externalSessionId": session},
            "displayMessage": display(ty),
            "eventType": ty,
            "outcome": outcome,
            "published": oktawatch::event::format_ms(self.now),
            "securityContext": {"asNumber": 7922, "asOrg": "comcast", "isp": "comcast", "domain": "comcast.net", "isProxy": false},
            "severity": if ty.starts_with("security.") { "WARN" } else { "INFO" },
            "debugContext": {"debugData": debug},
            "legacyEventType": format!("core.{}", ty.replace('.', "_")),
            "transaction": {"type": "WEB", "id": request_id, "detail": {}},
            "uuid": r.uuid(),
            "version": "0",
            "request": {"ipChain": chain},
            "target": targets,
        })
    }

    /// The session an event of `ty` by `user` belongs to, as in a real org:
    /// a successful sign-in starts one that the user's next events share
    /// until it ends or times out; a failed sign-in belongs to none of them;
    /// an event with no live session carries one begun before the log starts.
    fn session(&mut self, ty: &str, user: u64, failed: bool) -> String {
        if failed {
            return format!("idx{}", self.rng.alnum(25));
        }
        let now = self.now;
        let live = self.sessions.get(&user).filter(|(_, until)| *until > now).map(|(s, _)| s.clone());
        let session = match live {
            Some(s) if ty != "user.session.start" => s,
            _ => format!("idx{}", self.rng.alnum(25)),
        };
        if ty == "user.session.end" {
            self.sessions.remove(&user);
        } else {
            self.sessions.insert(user, (session.clone(), now + SESSION_MS));
        }
        session
    }
}

/// Okta's device token hash: one per user and browser (the `DT` cookie).
fn device_hash(user: u64, agent: u64) -> String {
    let mut g = Rng::new(0xD7 ^ (user << 8) ^ agent);
    (0..4).map(|_| format!("{:016x}", g.next())).collect()
}

fn display(ty: &str) -> &'static str {
    match ty {
        "user.session.start" => "User login to Okta",
        "policy.evaluate_sign_on" => "Evaluation of sign-on policy",
        "user.authentication.sso" => "User single sign on to app",
        "system.push.send_factor_verify_push" => "Push notification sent for verification",
        "user.session.end" => "User logout from Okta",
        "app.oauth2.as.token.grant.access_token" => "OAuth2 access token is granted",
        "system.api_token.create" => "Create API token",
        "user.account.privilege.grant" => "Grant user privilege",
        _ => "Okta event",
    }
}

/// Writes `n` events from `seed` to `path` as NDJSON; returns the bytes written.
pub fn write(path: &std::path::Path, n: u64, seed: u64) -> std::io::Result<u64> {
    use std::io::Write;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut g = Generator::new(seed, n);
    let mut bytes = 0;
    for _ in 0..n {
        let line = g.next_event().to_string();
        bytes += line.len() as u64 + 1;
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(bytes)
}
