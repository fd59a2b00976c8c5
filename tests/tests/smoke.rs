use oktawatch_tests::*;
#[test]
fn harness_builds() {
    assert!(bin().is_file());
    assert!(guest("probe-single").is_file());
}
