//! Three detections of the pack re-implemented natively, line for line from
//! their sources in `detections/` (`okta-brute-force-user`,
//! `okta-password-spray`, `okta-api-token-created`), on the host's parsed
//! [`Event`] and the host's own detection state: the baseline for the
//! sandbox's per-event cost. The SDK's accessors return owned strings; so do
//! these, so the native side does the same work minus the sandbox.

use oktawatch::event::Event;
use oktawatch::runtime::state::{DetectionState, StateStore};
use oktawatch::event::{JsonContainerTrait, JsonType, JsonValueTrait};
use std::sync::{Arc, Mutex};

/// What a native detection raises (the fields of the contract's `alert`).
#[derive(Debug)]
pub struct Alert {
    pub title: String,
    pub dedup_key: Option<String>,
    pub context: Vec<(String, String)>,
}

fn text(ev: &Event, path: &str) -> Option<String> {
    ev.lookup(path).and_then(|v| v.as_str()).filter(|s| !(s.is_empty() || s.eq_ignore_ascii_case("null") || s.eq_ignore_ascii_case("unknown"))).map(str::to_string)
}

fn field(ctx: &mut Vec<(String, String)>, k: &str, v: Option<impl ToString>) {
    if let Some(v) = v {
        ctx.push((k.to_string(), v.to_string()));
    }
}

const MINUTE: u64 = 60_000;

/// A native detection with its own state, as the host would give it.
pub struct Native {
    pub id: &'static str,
    pub event_types: &'static [&'static str],
    state: Arc<Mutex<DetectionState>>,
    run: fn(&mut DetectionState, &Event, i64, &mut Vec<Alert>),
}

impl Native {
    /// The three detections, each with fresh in-memory state.
    pub fn all() -> Vec<Native> {
        let mk = |id, event_types, run| Native {
            id,
            event_types,
            state: StateStore::in_memory(100_000, 16 << 20).for_detection(id).expect("in memory"),
            run,
        };
        vec![
            mk("okta-api-token-created", &["system.api_token.create", "system.api_token.update", "system.api_token.revoke"][..], api_token as fn(&mut DetectionState, &Event, i64, &mut Vec<Alert>)),
            mk("okta-brute-force-user", &["user.session.start"][..], brute_force),
            mk("okta-password-spray", &["user.session.start"][..], password_spray),
        ]
    }

    pub fn subscribes(&self, event_type: &str) -> bool {
        self.event_types.contains(&event_type)
    }

    /// One event, on the event clock `now`.
    pub fn on_event(&self, ev: &Event, now: i64, out: &mut Vec<Alert>) {
        let mut st = self.state.lock().unwrap();
        (self.run)(&mut st, ev, now, out)
    }
}

fn marked(st: &mut DetectionState, key: &str, now: i64) -> bool {
    st.get(&format!("seq:{key}"), now).is_some()
}
fn mark(st: &mut DetectionState, key: &str, within: u64, now: i64) {
    st.set(&format!("seq:{key}"), b"1".to_vec(), within, now);
}

fn brute_force(st: &mut DetectionState, ev: &Event, now: i64, out: &mut Vec<Alert>) {
    let (threshold, window_minutes) = (10u32, 15u64);
    if ev.event_type() != "user.session.start" || text(ev, "outcome.result").as_deref() != Some("FAILURE") {
        return;
    }
    let Some(user) = text(ev, "actor.alternateId").map(|u| u.to_lowercase()) else { return };
    let window = window_minutes * MINUTE;
    let ip = text(ev, "client.ipAddress");
    let failures = st.count(&format!("fail:{user}"), window, now, true);
    let ips = match &ip {
        Some(ip) => st.distinct(&format!("ips:{user}"), ip, window, now),
        None => st.members(&format!("ips:{user}"), window, now).len() as u32,
    };
    if failures < threshold {
        return;
    }
    let fired = format!("fired:{user}");
    if marked(st, &fired, now) {
        return;
    }
    mark(st, &fired, window, now);
    let mut ctx = Vec::new();
    field(&mut ctx, "user", Some(&user));
    field(&mut ctx, "failures", Some(failures));
    field(&mut ctx, "distinct_ips", Some(ips));
    field(&mut ctx, "last_ip", ip);
    field(&mut ctx, "country", text(ev, "client.geographicalContext.country"));
    field(&mut ctx, "reason", text(ev, "outcome.reason"));
    field(&mut ctx, "window_minutes", Some(window_minutes));
    out.push(Alert { title: format!("{failures} failed sign-ins for {user} in {window_minutes} min"), dedup_key: Some(user), context: ctx });
}

fn password_spray(st: &mut DetectionState, ev: &Event, now: i64, out: &mut Vec<Alert>) {
    let (min_users, min_failures, max_per_user, window_minutes) = (5u32, 15u32, 8u32, 60u64);
    if ev.event_type() != "user.session.start" || text(ev, "outcome.result").as_deref() != Some("FAILURE") {
        return;
    }
    let Some(ip) = text(ev, "client.ipAddress") else { return };
    let Some(user) = text(ev, "actor.alternateId").map(|u| u.to_lowercase()) else { return };
    let window = window_minutes * MINUTE;
    let failures = st.count(&format!("fail:{ip}"), window, now, true);
    let users = st.distinct(&format!("users:{ip}"), &user, window, now);
    let per_user = st.count(&format!("fail:{ip}:{user}"), window, now, true);
    let heavy = format!("heavy:{ip}");
    if per_user > max_per_user {
        mark(st, &heavy, window, now);
        return;
    }
    if users < min_users || failures < min_failures || marked(st, &heavy, now) {
        return;
    }
    let fired = format!("fired:{ip}");
    if marked(st, &fired, now) {
        return;
    }
    mark(st, &fired, window, now);
    let mut sample = st.members(&format!("users:{ip}"), window, now);
    sample.sort();
    sample.truncate(10);
    let mut ctx = Vec::new();
    field(&mut ctx, "ip", Some(&ip));
    field(&mut ctx, "failures", Some(failures));
    field(&mut ctx, "distinct_users", Some(users));
    field(&mut ctx, "users_sample", Some(sample.join(", ")));
    field(&mut ctx, "country", text(ev, "client.geographicalContext.country"));
    field(&mut ctx, "as_org", text(ev, "securityContext.asOrg"));
    field(&mut ctx, "window_minutes", Some(window_minutes));
    out.push(Alert {
        title: format!("Password spray from {ip}: {failures} failed sign-ins across {users} users in {window_minutes} min"),
        dedup_key: Some(ip),
        context: ctx,
    });
}

#[derive(Clone, Copy, PartialEq)]
enum Network {
    Anywhere,
    Zones,
    Unstated,
}

fn network_of(debug_data: &str) -> Network {
    let flat: String = debug_data.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    if flat.contains("\"anywhere\"") {
        return Network::Anywhere;
    }
    if ["connection\":\"zone\"", "\"include\":[\""].iter().any(|m| flat.contains(m)) {
        return Network::Zones;
    }
    Network::Unstated
}

fn api_token(_st: &mut DetectionState, ev: &Event, _now: i64, out: &mut Vec<Alert>) {
    let action = match ev.event_type() {
        "system.api_token.create" => "created",
        "system.api_token.update" => "updated",
        "system.api_token.revoke" => "revoked",
        _ => return,
    };
    if matches!(text(ev, "outcome.result").as_deref(), Some("FAILURE") | Some("DENY")) {
        return;
    }
    let actor = text(ev, "actor.alternateId").unwrap_or_else(|| "unknown actor".into());
    // The SDK's `target_of_type`: every target's fields read, then the first of the kind.
    let n = ev.lookup("target").and_then(|v| v.as_array()).map_or(0, |a| a.len()).min(64);
    let targets: Vec<[Option<String>; 4]> = (0..n)
        .map(|i| {
            ["id", "type", "alternateId", "displayName"].map(|f| text(ev, &format!("target[{i}].{f}")))
        })
        .collect();
    let token = targets.into_iter().find(|t| t[1].as_deref() == Some("Token"));
    let token_name = token.as_ref().and_then(|t| t[3].clone());
    let token_id = token.as_ref().and_then(|t| t[0].clone());
    let label = token_name.clone().or_else(|| token_id.clone()).unwrap_or_else(|| "unnamed token".into());
    let mut ctx = Vec::new();
    let title = if action == "revoked" {
        format!("API token {label} revoked by {actor}")
    } else {
        let network = match ev.lookup("debugContext.debugData") {
            Some(v) if v.get_type() == JsonType::String => network_of(v.as_str().unwrap_or_default()),
            Some(v) if matches!(v.get_type(), JsonType::Object | JsonType::Array) => network_of(&v.to_string()),
            _ => Network::Unstated,
        };
        let reach = if network != Network::Zones { "usable from any network" } else { "restricted to network zones" };
        field(&mut ctx, "network", Some(match network {
            Network::Anywhere => "ANYWHERE",
            Network::Zones => "ZONE",
            Network::Unstated => "not stated (Okta default: anywhere)",
        }));
        format!("API token {label} {action} by {actor} ({reach})")
    };
    field(&mut ctx, "actor", Some(&actor));
    field(&mut ctx, "token", token_name);
    field(&mut ctx, "token_id", token_id.clone());
    field(&mut ctx, "client_ip", text(ev, "client.ipAddress"));
    out.push(Alert { title, dedup_key: Some(format!("{action}:{}", token_id.as_deref().unwrap_or(&label))), context: ctx });
}
