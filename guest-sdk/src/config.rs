//! A detection's settings: the keys its [`crate::Info`] declares, with the
//! values of its section of the host config, checked by the host.
//!
//! ```toml
//! [detections.config.okta-brute-force]
//! threshold = 10
//! allow = ["10.0.0.1", "10.0.0.2"]
//! ```
//!
//! ```ignore
//! Info::new("okta-brute-force", "…")
//!     .config_int("threshold", 10, "failures that make a brute force")
//!     .config_list("allow", &[], "IPs never alerted on");
//! // in `new`:
//! let threshold: u32 = config.get("threshold")?;
//! let allow: Vec<String> = config.get("allow")?;
//! ```
//!
//! The host refuses a section with an undeclared key or a value of the wrong
//! type (at load and in `oktawatch check`, every problem at once), and hands
//! `configure` every declared key with the section's value or its default.
//! [`Config::get`] is an error for a key that was not declared or a value
//! that does not fit the type asked for (a negative number as `u32`): never a
//! silent default.

use crate::ConfigValue;
use std::collections::BTreeMap;

pub(crate) use crate::bindings::oktawatch::detection::types::ConfigType;

#[derive(Clone, Debug, Default)]
pub struct Config {
    values: BTreeMap<String, ConfigValue>,
}

/// A type [`Config::get`] can read.
pub trait FromConfig: Sized {
    /// What the type is, for errors (`an integer of 0..=4294967295`).
    const WHAT: &'static str;
    fn from_config(value: &ConfigValue) -> Option<Self>;
}

fn found(v: &ConfigValue) -> String {
    match v {
        ConfigValue::Boolean(b) => format!("the boolean {b}"),
        ConfigValue::Integer(i) => format!("the integer {i}"),
        ConfigValue::Float(f) => format!("the number {f}"),
        ConfigValue::Text(_) => "a string".into(),
        ConfigValue::TextList(_) => "a list of strings".into(),
    }
}

impl FromConfig for bool {
    const WHAT: &'static str = "a boolean";
    fn from_config(v: &ConfigValue) -> Option<Self> {
        match v {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }
}
impl FromConfig for i64 {
    const WHAT: &'static str = "an integer";
    fn from_config(v: &ConfigValue) -> Option<Self> {
        match v {
            ConfigValue::Integer(i) => Some(*i),
            _ => None,
        }
    }
}
macro_rules! unsigned {
    ($($t:ty => $what:literal),*) => {$(
        impl FromConfig for $t {
            const WHAT: &'static str = $what;
            fn from_config(v: &ConfigValue) -> Option<Self> {
                match v {
                    ConfigValue::Integer(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        }
    )*};
}
unsigned!(u64 => "an integer of at least 0", u32 => "an integer of 0..=4294967295", usize => "an integer of at least 0");
impl FromConfig for f64 {
    const WHAT: &'static str = "a number";
    fn from_config(v: &ConfigValue) -> Option<Self> {
        match v {
            ConfigValue::Float(f) => Some(*f),
            ConfigValue::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromConfig for String {
    const WHAT: &'static str = "a string";
    fn from_config(v: &ConfigValue) -> Option<Self> {
        match v {
            ConfigValue::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
}
impl FromConfig for Vec<String> {
    const WHAT: &'static str = "a list of strings";
    fn from_config(v: &ConfigValue) -> Option<Self> {
        match v {
            ConfigValue::TextList(l) => Some(l.clone()),
            _ => None,
        }
    }
}

impl Config {
    /// The values `configure` received.
    #[doc(hidden)]
    pub fn from_values(values: Vec<(String, ConfigValue)>) -> Self {
        Config { values: values.into_iter().collect() }
    }

    /// The value of a declared key as `T`: an error when `name` was not
    /// declared in [`crate::Info`], or its value does not fit `T`.
    pub fn get<T: FromConfig>(&self, name: &str) -> Result<T, String> {
        let v = self.values.get(name).ok_or_else(|| format!("config key `{name}` is not declared in the detection's Info"))?;
        T::from_config(v).ok_or_else(|| format!("config key `{name}`: expected {}, found {}", T::WHAT, found(v)))
    }

    /// The raw value of a declared key.
    pub fn value(&self, name: &str) -> Option<&ConfigValue> {
        self.values.get(name)
    }

    fn or<T: FromConfig>(&self, key: &str, default: T) -> T {
        self.get(key).unwrap_or(default)
    }
    #[deprecated(note = "declare the key with `Info::config_int` and read it with `config.get::<u64>(name)?`")]
    pub fn u64(&self, key: &str, default: u64) -> u64 {
        self.or(key, default)
    }
    #[deprecated(note = "declare the key with `Info::config_int` and read it with `config.get::<u32>(name)?`")]
    pub fn u32(&self, key: &str, default: u32) -> u32 {
        self.or(key, default)
    }
    #[deprecated(note = "declare the key with `Info::config_float` and read it with `config.get::<f64>(name)?`")]
    pub fn f64(&self, key: &str, default: f64) -> f64 {
        self.or(key, default)
    }
    #[deprecated(note = "declare the key with `Info::config_bool` and read it with `config.get::<bool>(name)?`")]
    pub fn bool(&self, key: &str, default: bool) -> bool {
        self.or(key, default)
    }
    #[deprecated(note = "declare the key with `Info::config_text` and read it with `config.get::<String>(name)?`")]
    pub fn string(&self, key: &str, default: &str) -> String {
        self.or(key, default.to_string())
    }
    /// A list of strings; empty when missing.
    #[deprecated(note = "declare the key with `Info::config_list` and read it with `config.get::<Vec<String>>(name)?`")]
    pub fn strings(&self, key: &str) -> Vec<String> {
        self.or(key, Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_values(vec![
            ("threshold".into(), ConfigValue::Integer(10)),
            ("negative".into(), ConfigValue::Integer(-1)),
            ("big".into(), ConfigValue::Integer(1 << 40)),
            ("ratio".into(), ConfigValue::Float(0.5)),
            ("strict".into(), ConfigValue::Boolean(true)),
            ("label".into(), ConfigValue::Text("x".into())),
            ("allow".into(), ConfigValue::TextList(vec!["a".into()])),
        ])
    }

    #[test]
    fn typed_reads() {
        let c = config();
        assert_eq!(c.get::<u32>("threshold"), Ok(10));
        assert_eq!(c.get::<i64>("negative"), Ok(-1));
        assert_eq!(c.get::<u64>("big"), Ok(1 << 40));
        assert_eq!(c.get::<usize>("threshold"), Ok(10));
        assert_eq!(c.get::<f64>("ratio"), Ok(0.5));
        assert_eq!(c.get::<f64>("threshold"), Ok(10.0));
        assert_eq!(c.get::<bool>("strict"), Ok(true));
        assert_eq!(c.get::<String>("label"), Ok("x".to_string()));
        assert_eq!(c.get::<Vec<String>>("allow"), Ok(vec!["a".to_string()]));
    }

    #[test]
    fn misfits_and_undeclared_keys_are_errors() {
        let c = config();
        assert_eq!(c.get::<u32>("negative"), Err("config key `negative`: expected an integer of 0..=4294967295, found the integer -1".into()));
        assert_eq!(c.get::<u32>("big"), Err(format!("config key `big`: expected an integer of 0..=4294967295, found the integer {}", 1u64 << 40)));
        assert_eq!(c.get::<String>("threshold"), Err("config key `threshold`: expected a string, found the integer 10".into()));
        assert_eq!(c.get::<u32>("treshold"), Err("config key `treshold` is not declared in the detection's Info".into()));
    }

    #[test]
    #[allow(deprecated)]
    fn old_methods_still_answer() {
        let c = config();
        assert_eq!(c.u32("threshold", 3), 10);
        assert_eq!(c.u32("missing", 3), 3);
        assert_eq!(c.u32("negative", 3), 3);
        assert_eq!(c.strings("allow"), vec!["a".to_string()]);
        assert_eq!(c.string("label", "d"), "x");
    }
}
