//! Every event type a detection of the built-in pack subscribes to exists in
//! Okta's published event-type catalog (`tests/fixtures/okta-event-types.txt`,
//! its source in `okta-event-types.SOURCES.md`), so a misspelt subscription
//! such as `user.lifecycle.suspended` (Okta logs `user.lifecycle.suspend`)
//! cannot ship: it would never match a real event and its detection would
//! stay silent.
//!
//! The subscriptions are read from each detection's `describe` by loading its
//! wasm in the real runtime, not from its source. An exact type must be in the
//! catalog; a prefix subscription (`system.org.rate_limit.*`) must match at
//! least one catalog entry.

use oktawatch_tests::pack_infos;
use std::collections::BTreeSet;

const CATALOG: &str = include_str!("../fixtures/okta-event-types.txt");

/// The catalog's event types; panics on a line that is not an event type.
fn catalog() -> BTreeSet<&'static str> {
    let types: BTreeSet<&str> = CATALOG.lines().collect();
    for t in &types {
        let well_formed = t.split('.').count() >= 2
            && t.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        assert!(well_formed, "catalog line {t:?} is not an event type");
    }
    types
}

/// The subscriptions that match nothing in the catalog.
fn unknown<'s>(subscriptions: impl IntoIterator<Item = &'s str>, catalog: &BTreeSet<&str>) -> Vec<&'s str> {
    subscriptions
        .into_iter()
        .filter(|s| match s.strip_suffix('*') {
            Some(prefix) => prefix.is_empty() || !catalog.iter().any(|t| t.starts_with(prefix)),
            None => !catalog.contains(s),
        })
        .collect()
}

/// (detection id, its event types) for every detection of the built-in pack.
fn pack_subscriptions() -> Vec<(String, Vec<String>)> {
    pack_infos().into_iter().map(|i| (i.id, i.event_types)).collect()
}

#[test]
fn the_catalog_fixture_is_okta_s_list() {
    let types = catalog();
    assert_eq!(types.len(), CATALOG.lines().count(), "duplicate lines in the catalog");
    assert!(types.len() >= 1000, "{} event types only", types.len());
    for t in ["user.session.start", "user.lifecycle.suspend", "system.org.rate_limit.violation", "policy.evaluate_sign_on"] {
        assert!(types.contains(t), "{t} missing from the catalog");
    }
}

#[test]
fn every_pack_subscription_is_in_okta_s_event_type_catalog() {
    let types = catalog();
    let pack = pack_subscriptions();
    assert_eq!(pack.len(), oktawatch::pack::FILES.len());
    let mut checked = BTreeSet::new();
    let mut wrong = Vec::new();
    for (id, subs) in &pack {
        // A detection that subscribes to nothing gets every event: nothing to check, but say so.
        assert!(!subs.is_empty(), "{id} subscribes to every event type; name the ones it reads");
        for s in unknown(subs.iter().map(String::as_str), &types) {
            wrong.push(format!("{id}: {s}"));
        }
        checked.extend(subs.iter().cloned());
    }
    assert!(wrong.is_empty(), "subscriptions not in Okta's event-type catalog:\n{}", wrong.join("\n"));
    assert!(checked.len() >= 50, "{} distinct subscriptions only", checked.len());
}

#[test]
fn a_misspelt_subscription_is_caught() {
    let types = catalog();
    let subs = [
        "user.lifecycle.suspend",
        "user.lifecycle.suspended",
        "system.org.rate_limit.*",
        "system.org.ratelimit.*",
        "user.session.start",
        "user.session.Start",
        "*",
    ];
    assert_eq!(unknown(subs, &types), ["user.lifecycle.suspended", "system.org.ratelimit.*", "user.session.Start", "*"]);
}
