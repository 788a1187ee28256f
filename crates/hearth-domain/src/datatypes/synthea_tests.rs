//! The registry against real data: every resource of the Synthea R4 sample bundles in
//! `/work/shared/data/synthea-r4` (or `$HEARTH_SYNTHEA_DIR`). Skipped when the data is absent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

use super::*;

fn load() -> Option<Vec<Value>> {
    let dir = std::env::var_os("HEARTH_SYNTHEA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data/synthea-r4"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("synthea data not found at {}; skipping", dir.display());
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut bundle: Value = serde_json::from_str(&text).unwrap();
        if let Some(Value::Array(entries)) = bundle.get_mut("entry") {
            out.extend(
                entries
                    .iter_mut()
                    .filter_map(|e| e.get_mut("resource").map(Value::take)),
            );
        }
    }
    Some(out)
}

/// The named type of an Observation computed directly from its LOINC codes, independently of
/// the registry's tables.
fn expected_vital(res: &Value) -> Option<&'static str> {
    let codings = res.get("code")?.get("coding")?.as_array()?;
    codings.iter().find_map(|c| {
        if c.get("system")?.as_str()? != "http://loinc.org" {
            return None;
        }
        Some(match c.get("code")?.as_str()? {
            "29463-7" => "weight",
            "8302-2" => "height",
            "39156-5" => "bmi",
            "85354-9" | "55284-4" => "blood-pressure",
            "8867-4" => "heart-rate",
            "9279-1" => "respiratory-rate",
            "8310-5" | "8331-1" => "body-temperature",
            "2339-0" => "blood-glucose",
            "4548-4" => "hba1c",
            "2093-3" | "2085-9" | "18262-6" | "2571-8" => "lipid-panel",
            _ => return None,
        })
    })
}

#[test]
fn synthea_bundles_classify_date_and_pass_rules() {
    let Some(resources) = load() else { return };
    assert!(resources.len() > 30_000, "only {} resources", resources.len());
    let reg = registry();

    // classification speed (the import path needs ≥ 20,000 resources/s)
    let start = Instant::now();
    let classes: Vec<Classification> = resources.iter().map(|r| reg.classify(r)).collect();
    let secs = start.elapsed().as_secs_f64();
    let rate = resources.len() as f64 / secs;
    eprintln!(
        "classified {} resources in {secs:.3}s ({rate:.0}/s)",
        resources.len()
    );
    assert!(rate > 20_000.0, "classification too slow: {rate:.0}/s");

    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut no_date: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with_end: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rule_failures = Vec::new();
    for (res, class) in resources.iter().zip(&classes) {
        let rt = res["resourceType"].as_str().unwrap();
        // (a) every resource gets a key of its own resource type
        assert!(!class.key.is_empty());
        match class.named {
            Some(dt) => {
                assert_eq!(dt.resource_type, rt);
                assert_eq!(dt.key, class.key);
            }
            None => assert_eq!(class.key, generic_key(rt)),
        }
        assert!(reg.get(&class.key).is_some(), "{} not in the registry", class.key);
        *by_key.entry(class.key.clone()).or_default() += 1;

        // (b) independent count of the vitals and labs by LOINC code
        if rt == "Observation"
            && let Some(k) = expected_vital(res)
        {
            *expected.entry(k).or_default() += 1;
            assert_eq!(class.key, k, "{}", res["id"]);
        }

        // (c) effective dates
        if effective_date(res).is_none() {
            *no_date.entry(rt).or_default() += 1;
        }
        if end_date(res).is_some() {
            *with_end.entry(rt).or_default() += 1;
        }

        // (d) rules of the named type
        if let Some(dt) = class.named {
            let issues = check_rules(dt, res);
            if !issues.is_empty() {
                rule_failures.push(format!("{} {}: {issues:?}", dt.key, res["id"]));
            }
        }

        // primary codes are well-formed
        for c in primary_codes(res) {
            assert!(c.contains('|'), "{c}");
        }
    }
    eprintln!("data types: {by_key:#?}");
    eprintln!("no effective date: {no_date:?}; with end date: {with_end:?}");

    for (k, n) in &expected {
        assert_eq!(by_key.get(*k).copied().unwrap_or(0), *n, "count of {k}");
    }
    for k in [
        "weight",
        "height",
        "bmi",
        "blood-pressure",
        "body-temperature",
        "blood-glucose",
        "hba1c",
        "lipid-panel",
    ] {
        assert!(expected.get(k).copied().unwrap_or(0) > 0, "no {k} in the data");
    }
    assert!(by_key.get("lab-result").copied().unwrap_or(0) > 1000);
    assert_eq!(by_key.get("fhir:Claim"), Some(&4124));

    // Types without dates in Synthea: Patient, Organization, Practitioner (identities) and Goal
    // (Synthea writes neither startDate nor statusDate).
    for (rt, n) in &no_date {
        assert!(
            matches!(*rt, "Patient" | "Organization" | "Practitioner" | "Goal"),
            "{n} {rt} resources without an effective date"
        );
    }
    assert!(with_end.get("Condition").copied().unwrap_or(0) > 0);
    assert!(with_end.get("Encounter").copied().unwrap_or(0) > 0);

    assert!(
        rule_failures.is_empty(),
        "{} rule failures, e.g. {:?}",
        rule_failures.len(),
        &rule_failures[..rule_failures.len().min(5)]
    );
}
