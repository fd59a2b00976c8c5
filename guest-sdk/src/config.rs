//! A detection's settings: its section of the host config, as flat TOML.
//!
//! ```toml
//! [detections.config.okta-brute-force]
//! threshold = 10
//! window_minutes = 15
//! allow = ["10.0.0.1", "10.0.0.2"]
//! ```
//!
//! The host passes the section as TOML text (`key = value` lines). This
//! reader takes integers, floats, booleans, strings and arrays of strings.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Config {
    values: BTreeMap<String, String>,
}

impl Config {
    /// Parses flat `key = value` TOML; errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').ok_or_else(|| format!("config line {}: expected `key = value`", n + 1))?;
            let k = k.trim().trim_matches('"');
            if k.is_empty() {
                return Err(format!("config line {}: empty key", n + 1));
            }
            values.insert(k.to_string(), v.trim().to_string());
        }
        Ok(Config { values })
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|s| s.as_str())
    }
    pub fn u64(&self, key: &str, default: u64) -> u64 {
        self.raw(key).and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
    }
    pub fn u32(&self, key: &str, default: u32) -> u32 {
        self.raw(key).and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
    }
    pub fn f64(&self, key: &str, default: f64) -> f64 {
        self.raw(key).and_then(|v| v.parse().ok()).unwrap_or(default)
    }
    pub fn bool(&self, key: &str, default: bool) -> bool {
        self.raw(key).and_then(|v| v.parse().ok()).unwrap_or(default)
    }
    pub fn string(&self, key: &str, default: &str) -> String {
        self.raw(key).map(unquote).unwrap_or_else(|| default.to_string())
    }
    /// An array of strings (`["a", "b"]`); empty when missing.
    pub fn strings(&self, key: &str) -> Vec<String> {
        let Some(v) = self.raw(key) else { return Vec::new() };
        let inner = v.trim().trim_start_matches('[').trim_end_matches(']');
        inner.split(',').map(|s| unquote(s.trim())).filter(|s| !s.is_empty()).collect()
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(v).to_string()
}
