//! Config keys the host itself understands, on every detection.
//!
//! A detection's section (`[detections.config.<id>]`) may set, whether or not
//! the detection declares them:
//! - `enabled` (a boolean): false = the host neither indexes nor calls the
//!   detection (it stays loaded, its config checked and its state kept, and
//!   is listed as disabled). Its value is the section's, else the
//!   detection's declared default, else true. A detection that is off until
//!   a user turns it on (an info-level audit trail) declares `enabled` with
//!   the default false.
//! - `mask_event_fields` (a list of strings): fields of the event summary
//!   the host adds to each of the detection's alerts that are replaced by
//!   [`MASKED`] there (see [`MASKABLE`] for the names). A detection whose
//!   events carry a secret in a summarised field (a password typed into the
//!   username field) declares it with those fields as its default; a user
//!   may mask fields of any detection's alerts. The raw event, forwarded on
//!   its own as Okta's record, is not changed.
//!
//! A declared host key must have the host's type for it, and a declared
//! default mask only names [`MASKABLE`] fields ([`check_declared`]); a
//! declared key is also handed to `configure` as every declared key is.

use super::bindings::oktawatch::detection::types::{ConfigKey, ConfigType, ConfigValue};
use super::config_schema::type_name;

pub const ENABLED: &str = "enabled";
pub const MASK: &str = "mask_event_fields";

/// What a masked field of the event summary reads.
pub const MASKED: &str = "[masked]";

/// The event fields the alert's event summary carries, by their path in the
/// event; `target.<field>` stands for that field of every target.
pub const MASKABLE: &[&str] = &[
    "actor.id",
    "actor.type",
    "actor.alternateId",
    "actor.displayName",
    "client.ipAddress",
    "client.userAgent.rawUserAgent",
    "client.geographicalContext.city",
    "client.geographicalContext.state",
    "client.geographicalContext.country",
    "client.geographicalContext.geolocation.lat",
    "client.geographicalContext.geolocation.lon",
    "outcome.result",
    "outcome.reason",
    "target.id",
    "target.type",
    "target.alternateId",
    "target.displayName",
];

/// A detection's host keys, with their values in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    pub enabled: bool,
    /// Paths of [`MASKABLE`], in the order given, without repeats.
    pub masked: Vec<String>,
}

impl Default for HostSettings {
    fn default() -> Self {
        HostSettings { enabled: true, masked: Vec::new() }
    }
}

impl HostSettings {
    /// Whether the summary field at `path` (one of [`MASKABLE`]) is masked.
    pub fn masks(&self, path: &str) -> bool {
        self.masked.iter().any(|m| m == path)
    }
}

fn host_type(name: &str) -> Option<ConfigType> {
    match name {
        ENABLED => Some(ConfigType::Boolean),
        MASK => Some(ConfigType::TextList),
        _ => None,
    }
}

/// Whether `name` is a key the host understands on every detection.
pub fn is_host_key(name: &str) -> bool {
    host_type(name).is_some()
}

fn check_mask(list: &[String]) -> Result<(), String> {
    match list.iter().find(|p| !MASKABLE.contains(&p.as_str())) {
        None => Ok(()),
        Some(p) => Err(format!(
            "`{}` is not a field of the event summary (one of {})",
            super::cut(p, 128),
            MASKABLE.join(", ")
        )),
    }
}

/// What a detection declares of the host keys: of the host's type, and a
/// default mask of known fields only.
pub fn check_declared(keys: &[ConfigKey]) -> Result<(), String> {
    for (i, k) in keys.iter().enumerate() {
        let Some(want) = host_type(&k.name) else { continue };
        if k.kind != want {
            return Err(format!(
                "config[{i}] `{}`: a key the host understands, declared {}; it must be {}",
                k.name,
                type_name(k.kind),
                type_name(want)
            ));
        }
        if let ConfigValue::TextList(list) = &k.default
            && k.name == MASK
        {
            check_mask(list).map_err(|e| format!("config[{i}] `{MASK}` default: {e}"))?;
        }
    }
    Ok(())
}

/// The host keys in force for a detection: the section's values (already of
/// the right type when declared; checked here when not), else the declared
/// defaults, else the host's. Every problem, each naming the detection and key.
pub fn settings(id: &str, keys: &[ConfigKey], section: &toml::Table) -> Result<HostSettings, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = HostSettings::default();
    let declared = |name: &str| keys.iter().find(|k| k.name == name).map(|k| &k.default);
    if let Some(ConfigValue::Boolean(b)) = declared(ENABLED) {
        out.enabled = *b;
    }
    if let Some(ConfigValue::TextList(l)) = declared(MASK) {
        out.masked = l.clone();
    }
    match section.get(ENABLED) {
        None => {}
        Some(toml::Value::Boolean(b)) => out.enabled = *b,
        Some(other) => problems.push(format!("detections.config.{id}.{ENABLED}: expected a boolean, found {}", other.type_str())),
    }
    match section.get(MASK) {
        None => {}
        Some(toml::Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => list.push(s.to_string()),
                    None => problems.push(format!("detections.config.{id}.{MASK}: item {i} is {}, not a string", item.type_str())),
                }
            }
            match check_mask(&list) {
                Ok(()) => out.masked = list,
                Err(e) => problems.push(format!("detections.config.{id}.{MASK}: {e}")),
            }
        }
        Some(other) => problems.push(format!("detections.config.{id}.{MASK}: expected a list of strings, found {}", other.type_str())),
    }
    let mut seen = Vec::with_capacity(out.masked.len());
    out.masked.retain(|m| {
        let first = !seen.contains(m);
        seen.push(m.clone());
        first
    });
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, kind: ConfigType, default: ConfigValue) -> ConfigKey {
        ConfigKey { name: name.into(), kind, default, doc: String::new() }
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_then_declared_then_the_section() {
        assert_eq!(settings("d", &[], &table("")).unwrap(), HostSettings::default());
        let off = [key(ENABLED, ConfigType::Boolean, ConfigValue::Boolean(false))];
        assert!(!settings("d", &off, &table("")).unwrap().enabled);
        assert!(settings("d", &off, &table("enabled = true")).unwrap().enabled);
        // Undeclared: a user may still turn any detection off.
        assert!(!settings("d", &[], &table("enabled = false")).unwrap().enabled);
        let mask = [key(MASK, ConfigType::TextList, ConfigValue::TextList(vec!["actor.alternateId".into()]))];
        assert_eq!(settings("d", &mask, &table("")).unwrap().masked, ["actor.alternateId"]);
        let s = settings("d", &mask, &table("mask_event_fields = ['client.ipAddress', 'target.id', 'client.ipAddress']")).unwrap();
        assert_eq!(s.masked, ["client.ipAddress", "target.id"]);
        assert!(s.masks("target.id") && !s.masks("actor.alternateId"));
    }

    #[test]
    fn every_problem_at_once() {
        let problems = settings("okta-x", &[], &table("enabled = 'no'\nmask_event_fields = ['actor.password', 3]")).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert_eq!(problems[0], "detections.config.okta-x.enabled: expected a boolean, found string");
        assert_eq!(problems[1], "detections.config.okta-x.mask_event_fields: item 1 is integer, not a string");
        assert!(problems[2].starts_with("detections.config.okta-x.mask_event_fields: `actor.password` is not a field"), "{problems:?}");
        let problems = settings("d", &[], &table("mask_event_fields = 'actor.id'")).unwrap_err();
        assert_eq!(problems, ["detections.config.d.mask_event_fields: expected a list of strings, found string"]);
    }

    #[test]
    fn declarations_of_host_keys_are_checked() {
        assert_eq!(check_declared(&[key("enabled", ConfigType::Boolean, ConfigValue::Boolean(false))]), Ok(()));
        let wrong = [key("enabled", ConfigType::Integer, ConfigValue::Integer(0))];
        assert_eq!(
            check_declared(&wrong),
            Err("config[0] `enabled`: a key the host understands, declared an integer; it must be a boolean".into())
        );
        let bad_default = [key(MASK, ConfigType::TextList, ConfigValue::TextList(vec!["debugContext".into()]))];
        assert!(check_declared(&bad_default).unwrap_err().starts_with("config[0] `mask_event_fields` default: `debugContext`"));
    }
}
