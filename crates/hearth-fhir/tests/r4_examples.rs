//! The official R4 examples (npm package `hl7.fhir.r4.examples@4.0.1`, unpacked
//! `package/` dir in `HEARTH_R4_EXAMPLES`) validate without errors, except for a
//! short list of genuine defects in the published examples.

use std::collections::BTreeSet;

use hearth_fhir::{is_resource_type, validate_resource};

/// `file: message` of genuine defects in the official R4 examples.
const KNOWN_DEFECTS: &[&str] = &[
    // ImplementationGuide.name and .status are 1..1.
    "ImplementationGuide-fhir.json: missing required element \"name\"",
    "ImplementationGuide-fhir.json: missing required element \"status\"",
    "ig-r4.json: missing required element \"name\"",
    "ig-r4.json: missing required element \"status\"",
    // Questionnaire.item.linkId is 1..1; nested groups of qs1 have none.
    "Questionnaire-qs1.json: missing required element \"linkId\"",
    // SearchParameter.base is 1..*.
    "SearchParameter-codesystem-extensions-CodeSystem-author.json: missing required element \"base\"",
    "SearchParameter-codesystem-extensions-CodeSystem-effective.json: missing required element \"base\"",
    "SearchParameter-codesystem-extensions-CodeSystem-end.json: missing required element \"base\"",
    "SearchParameter-codesystem-extensions-CodeSystem-keyword.json: missing required element \"base\"",
    "SearchParameter-codesystem-extensions-CodeSystem-workflow.json: missing required element \"base\"",
    "SearchParameter-valueset-extensions-ValueSet-author.json: missing required element \"base\"",
    "SearchParameter-valueset-extensions-ValueSet-effective.json: missing required element \"base\"",
    "SearchParameter-valueset-extensions-ValueSet-end.json: missing required element \"base\"",
    "SearchParameter-valueset-extensions-ValueSet-keyword.json: missing required element \"base\"",
    "SearchParameter-valueset-extensions-ValueSet-workflow.json: missing required element \"base\"",
    // Resource ids are at most 64 characters; this one has 65.
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json: \
     \"questionnaireresponse-extensions-QuestionnaireResponse-item-...\" is not a valid id",
];

#[test]
fn r4_examples_validate_cleanly() {
    let Ok(dir) = std::env::var("HEARTH_R4_EXAMPLES") else {
        eprintln!("HEARTH_R4_EXAMPLES not set; skipping the official R4 examples test");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("HEARTH_R4_EXAMPLES dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut found = BTreeSet::new();
    let mut count = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("read example");
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(rt) = value.get("resourceType").and_then(|r| r.as_str()) else {
            continue;
        };
        if !is_resource_type(rt) {
            continue;
        }
        count += 1;
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for issue in validate_resource(&value).into_iter().filter(|i| i.is_error()) {
            eprintln!("{file}: {}: {}", issue.path, issue.message);
            found.insert(format!("{file}: {}", issue.message));
        }
    }
    let expected: BTreeSet<String> = KNOWN_DEFECTS.iter().map(|s| s.to_string()).collect();
    for f in found.difference(&expected) {
        eprintln!("unexpected: {f}");
    }
    for f in expected.difference(&found) {
        eprintln!("no longer found: {f}");
    }
    eprintln!("validated {count} official examples");
    assert_eq!(found, expected);
}
