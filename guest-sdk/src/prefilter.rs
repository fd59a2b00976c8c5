//! Prefilters: conditions on an event's fields that the host evaluates
//! before it calls the detection (declared in [`crate::Info::prefilter`]).
//!
//! The conditions of one prefilter must all hold; a detection's prefilters
//! are OR'ed; with none, it gets every event of its types. Strings compare
//! exactly (case-sensitive); a missing field, or one that is not a string,
//! fails every string test.
//!
//! ```ignore
//! Info::new("okta-brute-force-user", "…")
//!     .event_types(&["user.session.start"])
//!     .prefilter(Prefilter::new().equals("outcome.result", "FAILURE"))
//! ```

use crate::bindings::oktawatch::detection::types::{Condition, Prefilter as WitPrefilter, Test};

/// One prefilter: conditions that must all hold.
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    all: Vec<Condition>,
}

impl Prefilter {
    pub fn new() -> Self {
        Prefilter::default()
    }
    fn with(mut self, path: &str, test: Test, negate: bool) -> Self {
        self.all.push(Condition { path: path.to_string(), test, negate });
        self
    }
    /// The field is the string `value`.
    pub fn equals(self, path: &str, value: &str) -> Self {
        self.with(path, Test::Equals(value.to_string()), false)
    }
    /// The field is one of these strings.
    pub fn one_of(self, path: &str, values: &[&str]) -> Self {
        self.with(path, Test::OneOf(values.iter().map(|v| v.to_string()).collect()), false)
    }
    /// The field is a string starting with `prefix`.
    pub fn prefix(self, path: &str, prefix: &str) -> Self {
        self.with(path, Test::Prefix(prefix.to_string()), false)
    }
    /// The field is present and not null.
    pub fn exists(self, path: &str) -> Self {
        self.with(path, Test::Exists, false)
    }
    /// The field is missing or null.
    pub fn absent(self, path: &str) -> Self {
        self.with(path, Test::Absent, false)
    }
    /// The field is not the string `value` (also when missing).
    pub fn not_equals(self, path: &str, value: &str) -> Self {
        self.with(path, Test::Equals(value.to_string()), true)
    }
    /// The field is none of these strings (also when missing).
    pub fn not_one_of(self, path: &str, values: &[&str]) -> Self {
        self.with(path, Test::OneOf(values.iter().map(|v| v.to_string()).collect()), true)
    }
    /// The field does not start with `prefix` (also when missing).
    pub fn not_prefix(self, path: &str, prefix: &str) -> Self {
        self.with(path, Test::Prefix(prefix.to_string()), true)
    }

    #[doc(hidden)]
    pub fn into_wit(self) -> WitPrefilter {
        WitPrefilter { all: self.all }
    }
}
