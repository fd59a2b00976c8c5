//! A detection's settings: its section of the host config, with keys the
//! detection declares once (name, type, default, doc).
//!
//! ```toml
//! [detections.config.okta-brute-force]
//! threshold = 10
//! window_minutes = 15
//! allow = ["10.0.0.1", "10.0.0.2"]
//! ```
//!
//! The detection declares its keys on its [`Info`](crate::Info)
//! (`.config_int("threshold", 10, "failed sign-ins that make an attack")`) and
//! reads them in `new` with [`Config::get`]: `config.get::<u32>("threshold")?`.
//! A key the section sets but the detection does not declare, a value of the
//! wrong type, or a `get` of an undeclared name is an error, never a silent
//! default; [`Config::for_keys`] reports every problem of a section at once.
//!
//! Under contract 0.1 the host passes the section as flat TOML text; this
//! module reads integers, floats, booleans, strings and arrays of strings.

use std::collections::BTreeMap;

/// The type of a config key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Boolean,
    Integer,
    Float,
    Text,
    TextList,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Boolean => "a boolean",
            Kind::Integer => "an integer",
            Kind::Float => "a number",
            Kind::Text => "a string",
            Kind::TextList => "an array of strings",
        }
    }
}

/// A config value of one of the [`Kind`]s.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    TextList(Vec<String>),
}

impl ConfigValue {
    /// The value as a key of `kind` holds it (an integer is a valid float), or `None`.
    fn as_kind(&self, kind: Kind) -> Option<ConfigValue> {
        match (kind, self) {
            (Kind::Boolean, ConfigValue::Boolean(_))
            | (Kind::Integer, ConfigValue::Integer(_))
            | (Kind::Float, ConfigValue::Float(_))
            | (Kind::Text, ConfigValue::Text(_))
            | (Kind::TextList, ConfigValue::TextList(_)) => Some(self.clone()),
            (Kind::Float, ConfigValue::Integer(i)) => Some(ConfigValue::Float(*i as f64)),
            // `[]` parses as an empty list whatever its declared element type.
            _ => None,
        }
    }
}

/// One declared key: what `Info::config_int` and its siblings record.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub kind: Kind,
    pub default: ConfigValue,
    pub doc: String,
}

/// Declaring config keys on a detection's [`Info`](crate::Info).
impl crate::Info {
    fn config_key(mut self, name: &str, kind: Kind, default: ConfigValue, doc: &str) -> Self {
        self.config.retain(|k| k.name != name);
        self.config.push(Key { name: name.to_string(), kind, default, doc: doc.to_string() });
        self
    }
    /// An integer key (`threshold = 10`), read as `i64`, `u64`, `u32` or `usize`.
    pub fn config_int(self, name: &str, default: i64, doc: &str) -> Self {
        self.config_key(name, Kind::Integer, ConfigValue::Integer(default), doc)
    }
    /// A number key (`max_speed_kmh = 900.0`; an integer is accepted), read as `f64`.
    pub fn config_float(self, name: &str, default: f64, doc: &str) -> Self {
        self.config_key(name, Kind::Float, ConfigValue::Float(default), doc)
    }
    /// A boolean key (`include_failures = true`).
    pub fn config_bool(self, name: &str, default: bool, doc: &str) -> Self {
        self.config_key(name, Kind::Boolean, ConfigValue::Boolean(default), doc)
    }
    /// A string key (`min_level = "low"`).
    pub fn config_text(self, name: &str, default: &str, doc: &str) -> Self {
        self.config_key(name, Kind::Text, ConfigValue::Text(default.to_string()), doc)
    }
    /// An array-of-strings key (`allow = ["a", "b"]`).
    pub fn config_list(self, name: &str, default: &[&str], doc: &str) -> Self {
        let default = default.iter().map(|s| s.to_string()).collect();
        self.config_key(name, Kind::TextList, ConfigValue::TextList(default), doc)
    }
    /// The declared config keys.
    pub fn config_keys(&self) -> &[Key] {
        &self.config
    }
}

/// The detection's config: every declared key, with the section's value or its default.
#[derive(Clone, Debug, Default)]
pub struct Config {
    values: BTreeMap<String, ConfigValue>,
}

impl Config {
    /// Checks a section (flat TOML text) against the declared `keys`: every
    /// line that does not parse, every key not declared and every value of the
    /// wrong type is reported, all in one error.
    pub fn for_keys(text: &str, keys: &[Key]) -> Result<Self, String> {
        let mut problems = Vec::new();
        let mut given = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok((k, v)) => {
                    given.insert(k, v);
                }
                Err(e) => problems.push(format!("line {}: {e}", n + 1)),
            }
        }
        let mut values = BTreeMap::new();
        for key in keys {
            let value = match given.remove(&key.name) {
                None => key.default.clone(),
                Some(v) => match v.as_kind(key.kind) {
                    Some(v) => v,
                    None if v == ConfigValue::TextList(Vec::new()) && key.kind == Kind::TextList => v,
                    None => {
                        problems.push(format!("`{}` must be {}", key.name, key.kind.name()));
                        continue;
                    }
                },
            };
            values.insert(key.name.clone(), value);
        }
        for name in given.keys() {
            let known: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            problems.push(format!("unknown key `{name}` (keys: {known})"));
        }
        if problems.is_empty() { Ok(Config { values }) } else { Err(format!("config: {}", problems.join("; "))) }
    }

    /// The config built from already-checked values (what contract 0.2's
    /// `configure` receives).
    pub fn from_values(values: impl IntoIterator<Item = (String, ConfigValue)>) -> Self {
        Config { values: values.into_iter().collect() }
    }

    /// The value of a declared key as a `T` (`bool`, `i64`, `u64`, `u32`,
    /// `usize`, `f64`, `String`, `Vec<String>`); an undeclared name, another
    /// type or a number out of `T`'s range is an error naming the key.
    pub fn get<T: FromConfig>(&self, name: &str) -> Result<T, String> {
        let value = self.values.get(name).ok_or_else(|| format!("config key `{name}` is not declared"))?;
        T::from_config(value).ok_or_else(|| format!("config key `{name}`: {} is not {}", shown(value), T::WHAT))
    }
}

/// A type a config value reads as (see [`Config::get`]).
pub trait FromConfig: Sized {
    /// What the type is, for error messages ("a whole number ≥ 0").
    const WHAT: &'static str;
    fn from_config(value: &ConfigValue) -> Option<Self>;
}

impl FromConfig for bool {
    const WHAT: &'static str = "a boolean";
    fn from_config(value: &ConfigValue) -> Option<Self> {
        match value {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}
impl FromConfig for i64 {
    const WHAT: &'static str = "an integer";
    fn from_config(value: &ConfigValue) -> Option<Self> {
        match value {
            ConfigValue::Integer(i) => Some(*i),
            _ => None,
        }
    }
}
macro_rules! unsigned_config {
    ($($t:ty),*) => {$(
        impl FromConfig for $t {
            const WHAT: &'static str = concat!("an integer from 0 to ", stringify!($t), "::MAX");
            fn from_config(value: &ConfigValue) -> Option<Self> {
                match value {
                    ConfigValue::Integer(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
unsigned_config!(u64, u32, usize);
impl FromConfig for f64 {
    const WHAT: &'static str = "a finite number";
    fn from_config(value: &ConfigValue) -> Option<Self> {
        match value {
            ConfigValue::Float(f) if f.is_finite() => Some(*f),
            ConfigValue::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromConfig for String {
    const WHAT: &'static str = "a string";
    fn from_config(value: &ConfigValue) -> Option<Self> {
        match value {
            ConfigValue::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromConfig for Vec<String> {
    const WHAT: &'static str = "an array of strings";
    fn from_config(value: &ConfigValue) -> Option<Self> {
        match value {
            ConfigValue::TextList(v) => Some(v.clone()),
            _ => None,
        }
    }
}

fn shown(value: &ConfigValue) -> String {
    match value {
        ConfigValue::Boolean(b) => b.to_string(),
        ConfigValue::Integer(i) => i.to_string(),
        ConfigValue::Float(f) => f.to_string(),
        ConfigValue::Text(s) => format!("{s:?}"),
        ConfigValue::TextList(v) => format!("{v:?}"),
    }
}

/// `key = value`, with the value typed.
fn parse_line(line: &str) -> Result<(String, ConfigValue), String> {
    if line.starts_with('[') {
        return Err("nested tables are not supported".into());
    }
    let (k, v) = line.split_once('=').ok_or("expected `key = value`")?;
    let k = k.trim();
    let k = k.strip_prefix('"').and_then(|k| k.strip_suffix('"')).unwrap_or(k);
    if k.is_empty() {
        return Err("empty key".into());
    }
    let (value, rest) = parse_value(v.trim_start())?;
    let rest = rest.trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(format!("`{k}`: unexpected `{rest}` after the value"));
    }
    Ok((k.to_string(), value))
}

/// One TOML value at the start of `s`, and what follows it.
fn parse_value(s: &str) -> Result<(ConfigValue, &str), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let mut items = Vec::new();
        let mut rest = rest.trim_start();
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                return Ok((ConfigValue::TextList(items), after));
            }
            let (item, after) = parse_string(rest).ok_or("arrays may hold strings only")??;
            items.push(item);
            rest = after.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
            } else if !rest.starts_with(']') {
                return Err("expected `,` or `]` in an array".into());
            }
        }
    }
    if let Some(parsed) = parse_string(s) {
        let (text, rest) = parsed?;
        return Ok((ConfigValue::Text(text), rest));
    }
    let end = s.find(|c: char| c.is_whitespace() || c == '#').unwrap_or(s.len());
    let (word, rest) = s.split_at(end);
    let value = match word {
        "true" => ConfigValue::Boolean(true),
        "false" => ConfigValue::Boolean(false),
        _ => {
            let digits = word.replace('_', "");
            if let Ok(i) = digits.parse::<i64>() {
                ConfigValue::Integer(i)
            } else if let Ok(f) = digits.parse::<f64>()
                && digits.chars().any(|c| c.is_ascii_digit())
            {
                ConfigValue::Float(f)
            } else {
                return Err(format!("cannot read the value `{word}`"));
            }
        }
    };
    Ok((value, rest))
}

/// A basic (`"…"`, with escapes) or literal (`'…'`) string at the start of
/// `s`; `None` when `s` does not start with a quote.
fn parse_string(s: &str) -> Option<Result<(String, &str), String>> {
    if let Some(body) = s.strip_prefix('\'') {
        return Some(body.find('\'').map(|end| (body[..end].to_string(), &body[end + 1..])).ok_or("unclosed string".into()));
    }
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(Ok((out, &body[i + 1..]))),
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('u') | Some('U') => {
                    let hex: String = chars.by_ref().take_while(|(_, c)| c.is_ascii_hexdigit()).map(|(_, c)| c).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(c) => out.push(c),
                        None => return Some(Err("bad \\u escape".into())),
                    }
                }
                _ => return Some(Err("bad escape in a string".into())),
            },
            c => out.push(c),
        }
    }
    Some(Err("unclosed string".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<Key> {
        crate::Info::new("t", "t")
            .config_int("threshold", 10, "")
            .config_float("speed", 900.0, "")
            .config_bool("on", false, "")
            .config_text("level", "low", "")
            .config_list("allow", &["a"], "")
            .config
    }

    #[test]
    fn defaults_and_values() {
        let c = Config::for_keys("", &keys()).unwrap();
        assert_eq!(c.get::<u32>("threshold"), Ok(10));
        assert_eq!(c.get::<Vec<String>>("allow"), Ok(vec!["a".to_string()]));
        let c = Config::for_keys(
            "threshold = 1_000\nspeed = 5\non = true # yes\nlevel = \"h\\\"i\"\nallow = [\"x\", 'y',]\n",
            &keys(),
        )
        .unwrap();
        assert_eq!(c.get::<u64>("threshold"), Ok(1000));
        assert_eq!(c.get::<f64>("speed"), Ok(5.0));
        assert_eq!(c.get::<bool>("on"), Ok(true));
        assert_eq!(c.get::<String>("level"), Ok("h\"i".to_string()));
        assert_eq!(c.get::<Vec<String>>("allow"), Ok(vec!["x".to_string(), "y".to_string()]));
        assert!(c.get::<u32>("nope").unwrap_err().contains("not declared"));
        assert!(c.get::<String>("threshold").is_err());
    }

    #[test]
    fn every_problem_at_once() {
        let e = Config::for_keys("threshold = \"ten\"\ntreshold = 3\non = maybe\n[x]\n", &keys()).unwrap_err();
        for part in ["`threshold` must be an integer", "unknown key `treshold`", "line 3", "line 4"] {
            assert!(e.contains(part), "{e}");
        }
        let c = Config::for_keys("threshold = -1", &keys()).unwrap();
        assert!(c.get::<u32>("threshold").is_err());
        assert_eq!(c.get::<i64>("threshold"), Ok(-1));
    }
}
