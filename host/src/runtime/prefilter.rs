//! Prefilters: conditions a detection declares in `describe` (contract
//! 0.2), evaluated by the host before it calls `on-event`.
//!
//! A detection's prefilters are OR'ed; the conditions of one are AND'ed;
//! none declared = every event of its types. A condition tests the field at
//! a dotted path: a string equal to / one of / starting with, present, or
//! absent (missing or null), optionally negated. Strings compare exactly;
//! a missing field, or one that is not a string, fails every string test.
//!
//! [`Index`] compiles the prefilters of a whole detection set: each
//! distinct path is looked up at most once per event, however many
//! detections test it ([`Fields`]).

use super::bindings::oktawatch::detection::types::{Prefilter, Test};
use crate::event::{Event, JsonType, JsonValueTrait, Value};
use std::collections::HashMap;

/// Bounds on what a detection may declare (`describe` is untrusted).
pub mod bounds {
    pub const FILTERS: usize = 32;
    pub const CONDITIONS: usize = 32;
    pub const PATH: usize = 1024;
    pub const STRING: usize = 1024;
    pub const ONE_OF: usize = 256;
}

/// Refuses prefilters past [`bounds`], naming the one at fault.
pub fn check(filters: &[Prefilter]) -> Result<(), String> {
    use bounds::*;
    if filters.len() > FILTERS {
        return Err(format!("prefilters: {} entries, at most {FILTERS}", filters.len()));
    }
    for (i, f) in filters.iter().enumerate() {
        if f.all.len() > CONDITIONS {
            return Err(format!("prefilters[{i}]: {} conditions, at most {CONDITIONS}", f.all.len()));
        }
        for (j, c) in f.all.iter().enumerate() {
            let at = format!("prefilters[{i}].all[{j}]");
            if c.path.is_empty() || c.path.len() > PATH {
                return Err(format!("{at}.path: {} bytes, 1 to {PATH}", c.path.len()));
            }
            let strings: &[String] = match &c.test {
                Test::Equals(s) | Test::Prefix(s) => std::slice::from_ref(s),
                Test::OneOf(list) => {
                    if list.len() > ONE_OF {
                        return Err(format!("{at}: one-of of {} strings, at most {ONE_OF}", list.len()));
                    }
                    list
                }
                Test::Exists | Test::Absent => &[],
            };
            if let Some(s) = strings.iter().find(|s| s.len() > STRING) {
                return Err(format!("{at}: a string of {} bytes, at most {STRING}", s.len()));
            }
        }
    }
    Ok(())
}

/// A field as a test sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// missing or null
    Absent,
    Str(&'a str),
    /// a number, boolean, object or array
    Other,
}

impl<'a> Field<'a> {
    pub fn of(v: Option<&'a Value>) -> Field<'a> {
        match v {
            None => Field::Absent,
            Some(v) => match v.get_type() {
                JsonType::Null => Field::Absent,
                JsonType::String => Field::Str(v.as_str().unwrap_or_default()),
                _ => Field::Other,
            },
        }
    }
}

/// Whether `test` holds for `field` (before negation).
pub fn holds(test: &Test, field: Field<'_>) -> bool {
    match (test, field) {
        (Test::Absent, f) => f == Field::Absent,
        (Test::Exists, f) => f != Field::Absent,
        (Test::Equals(s), Field::Str(v)) => v == s,
        (Test::OneOf(list), Field::Str(v)) => list.iter().any(|s| s == v),
        (Test::Prefix(p), Field::Str(v)) => v.starts_with(p.as_str()),
        _ => false,
    }
}

struct Cond {
    path: usize,
    test: Test,
    negate: bool,
}

/// The prefilters of every detection of a set, with their paths interned.
#[derive(Default)]
pub struct Index {
    paths: Vec<String>,
    /// Per detection: None = no prefilter (every event of its types).
    detections: Vec<Option<Vec<Vec<Cond>>>>,
}

/// One event's fields, each path looked up at most once.
pub struct Fields<'e> {
    event: &'e Event,
    seen: Vec<Option<Field<'e>>>,
}

impl<'e> Fields<'e> {
    fn get(&mut self, paths: &[String], i: usize) -> Field<'e> {
        if let Some(f) = self.seen[i] {
            return f;
        }
        let f = Field::of(self.event.lookup(&paths[i]));
        self.seen[i] = Some(f);
        f
    }
}

impl Index {
    /// `filters[d]`: the prefilters of detection `d` of the set.
    pub fn new<'a>(filters: impl IntoIterator<Item = &'a [Prefilter]>) -> Index {
        let mut by_path: HashMap<String, usize> = HashMap::new();
        let mut paths = Vec::new();
        let detections = filters
            .into_iter()
            .map(|fs| {
                (!fs.is_empty()).then(|| {
                    fs.iter()
                        .map(|f| {
                            f.all
                                .iter()
                                .map(|c| {
                                    let path = *by_path.entry(c.path.clone()).or_insert_with(|| {
                                        paths.push(c.path.clone());
                                        paths.len() - 1
                                    });
                                    Cond { path, test: c.test.clone(), negate: c.negate }
                                })
                                .collect()
                        })
                        .collect()
                })
            })
            .collect();
        Index { paths, detections }
    }

    /// Whether detection `d` declared any prefilter.
    pub fn filters(&self, d: usize) -> bool {
        self.detections.get(d).is_some_and(|f| f.is_some())
    }

    /// The cache for one event (reused by every detection it is tested for).
    pub fn fields<'e>(&self, event: &'e Event) -> Fields<'e> {
        Fields { event, seen: vec![None; self.paths.len()] }
    }

    /// Whether detection `d` is to be called for the event of `fields`.
    pub fn passes(&self, d: usize, fields: &mut Fields<'_>) -> bool {
        let Some(Some(filters)) = self.detections.get(d) else { return true };
        filters.iter().any(|all| all.iter().all(|c| holds(&c.test, fields.get(&self.paths, c.path)) != c.negate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::oktawatch::detection::types::Condition;
    use proptest::prelude::*;

    /// The rule read straight from the contract's text, on serde_json's tree
    /// and its JSON pointers: no interning, no cache, no sonic-rs.
    fn reference(filters: &[Prefilter], event: &serde_json::Value) -> bool {
        let field = |path: &str| {
            let pointer: String = path.replace('[', ".").replace(']', "").split('.').map(|s| format!("/{s}")).collect();
            event.pointer(&pointer).cloned()
        };
        filters.is_empty()
            || filters.iter().any(|f| {
                f.all.iter().all(|c| {
                    let v = field(&c.path);
                    let s = v.as_ref().and_then(|v| v.as_str());
                    let absent = matches!(v, None | Some(serde_json::Value::Null));
                    let r = match &c.test {
                        Test::Absent => absent,
                        Test::Exists => !absent,
                        Test::Equals(x) => s == Some(x.as_str()),
                        Test::OneOf(xs) => s.is_some_and(|s| xs.iter().any(|x| x == s)),
                        Test::Prefix(p) => s.is_some_and(|s| s.starts_with(p.as_str())),
                    };
                    r != c.negate
                })
            })
    }

    const WORDS: &[&str] = &["SUCCESS", "FAILURE", "SUC", "", "user.session.start", "user"];

    fn leaf() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            (0i64..3).prop_map(serde_json::Value::from),
            prop::sample::select(WORDS).prop_map(serde_json::Value::from),
        ]
    }

    /// Events over the keys `a`, `b`, `c`, two levels deep, with arrays.
    fn event() -> impl Strategy<Value = serde_json::Value> {
        let inner = || {
            prop::collection::btree_map(prop::sample::select(&["a", "b", "c"][..]), leaf(), 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        };
        let node = prop_oneof![leaf(), inner(), prop::collection::vec(inner(), 0..2).prop_map(serde_json::Value::from)];
        prop::collection::btree_map(prop::sample::select(&["a", "b", "c"][..]), node, 0..4)
            .prop_map(|m| serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    fn test() -> impl Strategy<Value = Test> {
        let word = || prop::sample::select(WORDS).prop_map(str::to_string);
        prop_oneof![
            word().prop_map(Test::Equals),
            prop::collection::vec(word(), 0..3).prop_map(Test::OneOf),
            word().prop_map(Test::Prefix),
            Just(Test::Exists),
            Just(Test::Absent),
        ]
    }

    fn condition() -> impl Strategy<Value = Condition> {
        let path = prop::sample::select(&["a", "b", "a.b", "b.c", "a[0].b", "c[1].a", "a.c"][..]).prop_map(str::to_string);
        (path, test(), any::<bool>()).prop_map(|(path, test, negate)| Condition { path, test, negate })
    }

    fn prefilters() -> impl Strategy<Value = Vec<Prefilter>> {
        prop::collection::vec(prop::collection::vec(condition(), 0..4).prop_map(|all| Prefilter { all }), 0..4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Several detections in one index (sharing paths and the per-event
        /// cache) decide as the reference does for each.
        #[test]
        fn index_agrees_with_the_reference(sets in prop::collection::vec(prefilters(), 1..4), events in prop::collection::vec(event(), 1..4)) {
            let index = Index::new(sets.iter().map(|s| s.as_slice()));
            for json in &events {
                let ev = Event::parse(&json.to_string()).unwrap();
                let mut fields = index.fields(&ev);
                for (d, set) in sets.iter().enumerate() {
                    prop_assert_eq!(index.passes(d, &mut fields), reference(set, json), "detection {} on {}", d, json);
                }
            }
        }
    }

    fn cond(path: &str, test: Test, negate: bool) -> Condition {
        Condition { path: path.into(), test, negate }
    }

    #[test]
    fn failure_only_skips_successes() {
        let failures = vec![Prefilter { all: vec![cond("outcome.result", Test::Equals("FAILURE".into()), false)] }];
        let not_okta = vec![Prefilter { all: vec![cond("client.ipAddress", Test::Prefix("10.".into()), true)] }];
        let index = Index::new([failures.as_slice(), &[], not_okta.as_slice()]);
        let ok = Event::parse(r#"{"outcome":{"result":"SUCCESS"},"client":{"ipAddress":"10.1.1.1"}}"#).unwrap();
        let bad = Event::parse(r#"{"outcome":{"result":"FAILURE"},"client":{"ipAddress":null}}"#).unwrap();
        let mut f = index.fields(&ok);
        assert_eq!((index.passes(0, &mut f), index.passes(1, &mut f), index.passes(2, &mut f)), (false, true, false));
        let mut f = index.fields(&bad);
        // A null field fails `prefix`; negated, the condition holds.
        assert_eq!((index.passes(0, &mut f), index.passes(1, &mut f), index.passes(2, &mut f)), (true, true, true));
        assert!(index.filters(0) && !index.filters(1));
    }

    #[test]
    fn bounds_are_checked() {
        let big = Prefilter { all: vec![cond("a", Test::OneOf(vec!["x".into(); 257]), false)] };
        assert_eq!(check(&[big]), Err("prefilters[0].all[0]: one-of of 257 strings, at most 256".into()));
        let empty_path = Prefilter { all: vec![cond("", Test::Exists, false)] };
        assert_eq!(check(&[empty_path]), Err("prefilters[0].all[0].path: 0 bytes, 1 to 1024".into()));
        assert_eq!(check(&vec![Prefilter { all: vec![] }; 33]), Err("prefilters: 33 entries, at most 32".into()));
    }
}
