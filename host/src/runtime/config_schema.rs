//! A detection's config keys (contract 0.2): what `describe` declares, and
//! the host's check of the detection's config section against it.
//!
//! The section (`[detections.config.<id>]`) may set only declared keys,
//! each with a value of its key's type; every problem is reported at once,
//! naming the detection and the key. `configure` then receives every
//! declared key, with the section's value or the declared default. The keys
//! the host understands on every detection ([`super::host_keys`]) are never
//! unknown; [`check_config`] checks them too.

use super::bindings::oktawatch::detection::types::{ConfigKey, ConfigType, ConfigValue};

/// Bounds on the declarations (`describe` is untrusted).
pub mod bounds {
    pub const KEYS: usize = 64;
    pub const NAME: usize = 64;
    pub const DOC: usize = 1024;
    /// Bytes of a default (a text, or a list's strings together).
    pub const DEFAULT: usize = 4096;
    pub const LIST: usize = 256;
}

pub fn type_name(t: ConfigType) -> &'static str {
    match t {
        ConfigType::Boolean => "a boolean",
        ConfigType::Integer => "an integer",
        ConfigType::Float => "a number",
        ConfigType::Text => "a string",
        ConfigType::TextList => "a list of strings",
    }
}

fn kind_of(v: &ConfigValue) -> ConfigType {
    match v {
        ConfigValue::Boolean(_) => ConfigType::Boolean,
        ConfigValue::Integer(_) => ConfigType::Integer,
        ConfigValue::Float(_) => ConfigType::Float,
        ConfigValue::Text(_) => ConfigType::Text,
        ConfigValue::TextList(_) => ConfigType::TextList,
    }
}

/// Checks what a detection declares: names, docs, defaults of their own type.
pub fn check_keys(keys: &[ConfigKey]) -> Result<(), String> {
    use bounds::*;
    if keys.len() > KEYS {
        return Err(format!("config: {} keys, at most {KEYS}", keys.len()));
    }
    for (i, k) in keys.iter().enumerate() {
        let n = &k.name;
        if n.is_empty() || n.len() > NAME || !n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            let shown = if n.len() <= NAME { format!("`{n}`") } else { format!("of {} bytes", n.len()) };
            return Err(format!("config[{i}]: name {shown}: 1-{NAME} lower-case letters, digits or `_`"));
        }
        if keys[..i].iter().any(|o| o.name == *n) {
            return Err(format!("config[{i}]: `{n}` declared twice"));
        }
        if k.doc.len() > DOC {
            return Err(format!("config[{i}] `{n}`: doc of {} bytes, at most {DOC}", k.doc.len()));
        }
        let size = match &k.default {
            ConfigValue::Text(t) => t.len(),
            ConfigValue::TextList(l) if l.len() > LIST => {
                return Err(format!("config[{i}] `{n}`: default of {} strings, at most {LIST}", l.len()));
            }
            ConfigValue::TextList(l) => l.iter().map(String::len).sum(),
            _ => 0,
        };
        if size > DEFAULT {
            return Err(format!("config[{i}] `{n}`: default of {size} bytes, at most {DEFAULT}"));
        }
        if kind_of(&k.default) != k.kind {
            return Err(format!("config[{i}] `{n}`: declared {}, its default is {}", type_name(k.kind), type_name(kind_of(&k.default))));
        }
    }
    super::host_keys::check_declared(keys)
}

fn toml_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date-time",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// One section value as the key's type, or why not.
fn convert(kind: ConfigType, v: &toml::Value) -> Result<ConfigValue, String> {
    let wrong = || Err(format!("expected {}, found {}", type_name(kind), toml_type(v)));
    Ok(match (kind, v) {
        (ConfigType::Boolean, toml::Value::Boolean(b)) => ConfigValue::Boolean(*b),
        (ConfigType::Integer, toml::Value::Integer(i)) => ConfigValue::Integer(*i),
        (ConfigType::Float, toml::Value::Float(f)) => ConfigValue::Float(*f),
        (ConfigType::Float, toml::Value::Integer(i)) => ConfigValue::Float(*i as f64),
        (ConfigType::Text, toml::Value::String(s)) => ConfigValue::Text(s.clone()),
        (ConfigType::TextList, toml::Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    toml::Value::String(s) => out.push(s.clone()),
                    other => return Err(format!("expected a list of strings, item {i} is {}", toml_type(other))),
                }
            }
            ConfigValue::TextList(out)
        }
        _ => return wrong(),
    })
}

/// Checks a detection's section against its keys: every declared key with
/// its value (the section's, else the default), in declared order; or
/// every problem, each naming the detection and the key.
pub fn check_section(id: &str, keys: &[ConfigKey], section: &toml::Table) -> Result<Vec<(String, ConfigValue)>, Vec<String>> {
    let mut problems = Vec::new();
    let unknown = |name: &str| !keys.iter().any(|k| k.name == name) && !super::host_keys::is_host_key(name);
    for (name, _) in section.iter().filter(|(name, _)| unknown(name)) {
        let known = if keys.is_empty() {
            "it declares no config keys".to_string()
        } else {
            format!("it declares {}", keys.iter().map(|k| format!("`{}`", k.name)).collect::<Vec<_>>().join(", "))
        };
        problems.push(format!("detections.config.{id}.{}: unknown key ({known})", super::cut(name, 64)));
    }
    let mut values = Vec::with_capacity(keys.len());
    for k in keys {
        match section.get(&k.name) {
            None => values.push((k.name.clone(), k.default.clone())),
            Some(v) => match convert(k.kind, v) {
                Ok(v) => values.push((k.name.clone(), v)),
                Err(e) => problems.push(format!("detections.config.{id}.{}: {e}", k.name)),
            },
        }
    }
    if problems.is_empty() { Ok(values) } else { Err(problems) }
}

/// [`check_section`] on the section's TOML text (as the runtime holds it).
pub fn check_text(id: &str, keys: &[ConfigKey], text: &str) -> Result<Vec<(String, ConfigValue)>, Vec<String>> {
    let section: toml::Table =
        toml::from_str(text).map_err(|e| vec![format!("detections.config.{id}: not TOML: {}", super::cut(&e.to_string(), 256))])?;
    check_section(id, keys, &section)
}

/// The declared keys' values and the host keys' settings in force.
pub type Checked = (Vec<(String, ConfigValue)>, super::host_keys::HostSettings);

/// Everything the host checks of a detection's section (its TOML text):
/// for contract 0.2 the declared keys' values (`configure`'s argument), and
/// for both contracts the host keys in force; or every problem at once.
/// A 0.1 section that is not TOML is the detection's business (it gets the
/// text as it is): the host keys then keep their defaults.
pub fn check_config(
    id: &str,
    keys: &[ConfigKey],
    v02: bool,
    text: &str,
) -> Result<Checked, Vec<String>> {
    let section: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(_) if !v02 => return Ok((Vec::new(), super::host_keys::HostSettings::default())),
        Err(e) => return Err(vec![format!("detections.config.{id}: not TOML: {}", super::cut(&e.to_string(), 256))]),
    };
    let values = if v02 { check_section(id, keys, &section) } else { Ok(Vec::new()) };
    let host = super::host_keys::settings(id, keys, &section);
    match (values, host) {
        (Ok(v), Ok(h)) => Ok((v, h)),
        (v, h) => Err(v.err().unwrap_or_default().into_iter().chain(h.err().unwrap_or_default()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, kind: ConfigType, default: ConfigValue) -> ConfigKey {
        ConfigKey { name: name.into(), kind, default, doc: String::new() }
    }

    fn keys() -> Vec<ConfigKey> {
        vec![
            key("threshold", ConfigType::Integer, ConfigValue::Integer(10)),
            key("ratio", ConfigType::Float, ConfigValue::Float(0.5)),
            key("allow", ConfigType::TextList, ConfigValue::TextList(vec![])),
            key("strict", ConfigType::Boolean, ConfigValue::Boolean(false)),
        ]
    }

    #[test]
    fn defaults_fill_what_the_section_leaves_out() {
        let v = check_text("d", &keys(), "threshold = 3\nratio = 2\n").unwrap();
        assert_eq!(v.len(), 4);
        assert!(matches!(v[0], (ref n, ConfigValue::Integer(3)) if n == "threshold"));
        assert!(matches!(v[1].1, ConfigValue::Float(f) if f == 2.0));
        assert!(matches!(v[3].1, ConfigValue::Boolean(false)));
    }

    #[test]
    fn every_problem_at_once() {
        let text = "treshold = 3\nratio = \"high\"\nallow = [\"a\", 2]\nstrict = 1\n";
        let problems = check_text("okta-x", &keys(), text).unwrap_err();
        assert_eq!(
            problems,
            vec![
                "detections.config.okta-x.treshold: unknown key (it declares `threshold`, `ratio`, `allow`, `strict`)",
                "detections.config.okta-x.ratio: expected a number, found a string",
                "detections.config.okta-x.allow: expected a list of strings, item 1 is an integer",
                "detections.config.okta-x.strict: expected a boolean, found an integer",
            ]
        );
    }

    fn toml_value() -> impl proptest::strategy::Strategy<Value = toml::Value> {
        use proptest::prelude::*;
        prop_oneof![
            any::<bool>().prop_map(toml::Value::Boolean),
            (-5i64..5).prop_map(toml::Value::Integer),
            (-5i64..5).prop_map(|i| toml::Value::Float(i as f64 / 2.0)),
            "[a-z]{0,3}".prop_map(toml::Value::String),
            prop::collection::vec(prop_oneof!["[a-z]{0,2}".prop_map(toml::Value::String), (0i64..2).prop_map(toml::Value::Integer)], 0..3)
                .prop_map(toml::Value::Array),
        ]
    }

    proptest::proptest! {
        /// Any section: either every declared key comes back, in order, with
        /// the section's value where it fits and the default elsewhere; or
        /// the problems are exactly the unknown keys and the misfits.
        #[test]
        fn sections_against_a_reference(entries in proptest::collection::btree_map(
            proptest::sample::select(&["threshold", "ratio", "allow", "strict", "other", "treshold"][..]), toml_value(), 0..6)
        ) {
            let keys = keys();
            let section: toml::Table = entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            let fits = |k: &ConfigKey, v: &toml::Value| match (k.kind, v) {
                (ConfigType::Boolean, toml::Value::Boolean(_)) | (ConfigType::Integer, toml::Value::Integer(_)) => true,
                (ConfigType::Float, toml::Value::Float(_) | toml::Value::Integer(_)) | (ConfigType::Text, toml::Value::String(_)) => true,
                (ConfigType::TextList, toml::Value::Array(a)) => a.iter().all(|x| x.is_str()),
                _ => false,
            };
            let unknown: Vec<&str> = entries.keys().copied().filter(|n| !keys.iter().any(|k| k.name == *n)).collect();
            let misfits: Vec<&str> = keys.iter().filter(|k| section.get(&k.name).is_some_and(|v| !fits(k, v))).map(|k| k.name.as_str()).collect();
            match check_section("d", &keys, &section) {
                Ok(values) => {
                    proptest::prop_assert!(unknown.is_empty() && misfits.is_empty());
                    proptest::prop_assert_eq!(values.len(), keys.len());
                    for ((name, v), k) in values.iter().zip(&keys) {
                        proptest::prop_assert_eq!(name, &k.name);
                        proptest::prop_assert_eq!(kind_of(v), k.kind);
                        if section.get(name).is_none() {
                            proptest::prop_assert_eq!(format!("{v:?}"), format!("{:?}", k.default));
                        }
                    }
                }
                Err(problems) => {
                    proptest::prop_assert_eq!(problems.len(), unknown.len() + misfits.len());
                    for n in unknown.iter().chain(&misfits) {
                        let prefix = format!("detections.config.d.{n}: ");
                        proptest::prop_assert!(problems.iter().any(|p| p.starts_with(&prefix)), "{:?}", problems);
                    }
                }
            }
        }
    }

    #[test]
    fn declarations_are_checked() {
        assert_eq!(check_keys(&keys()), Ok(()));
        let bad = [key("Threshold", ConfigType::Integer, ConfigValue::Integer(1))];
        assert_eq!(check_keys(&bad), Err("config[0]: name `Threshold`: 1-64 lower-case letters, digits or `_`".into()));
        let bad = [key("n", ConfigType::Integer, ConfigValue::Text("1".into()))];
        assert_eq!(check_keys(&bad), Err("config[0] `n`: declared an integer, its default is a string".into()));
        let twice = [key("n", ConfigType::Boolean, ConfigValue::Boolean(true)), key("n", ConfigType::Boolean, ConfigValue::Boolean(true))];
        assert_eq!(check_keys(&twice), Err("config[1]: `n` declared twice".into()));
    }
}
