//! Every resource of the Synthea R4 sample bundles validates without errors.

mod common;

use std::collections::BTreeMap;

use hearth_fhir::validate_resource;

#[test]
fn synthea_resources_validate_cleanly() {
    let bundles = common::synthea_bundles();
    assert!(!bundles.is_empty(), "no Synthea bundles found");
    let mut count = 0usize;
    let mut errors: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (file, bundle) in &bundles {
        // The bundle itself is a valid resource too.
        for issue in validate_resource(bundle).iter().filter(|i| i.is_error()) {
            let key = format!("{}: {}", issue.path, issue.message);
            errors.entry(key).or_insert((0, file.clone())).0 += 1;
        }
        for resource in common::entries(bundle) {
            count += 1;
            for issue in validate_resource(resource).iter().filter(|i| i.is_error()) {
                let key = format!("{}: {}", issue.path, issue.message);
                errors.entry(key).or_insert((0, file.clone())).0 += 1;
            }
        }
    }
    for (k, (n, file)) in &errors {
        eprintln!("{n:6}x {k}   (first in {file})");
    }
    eprintln!("validated {count} Synthea resources");
    assert!(
        errors.is_empty(),
        "{} distinct errors in Synthea data",
        errors.len()
    );
}
