//! Trains the zstd dictionary Hearth compresses resource bodies with, from the official FHIR R4
//! examples (npm `hl7.fhir.r4.examples@4.0.1`, CC0): the clinical and administrative resources,
//! not the conformance ones (StructureDefinition, ValueSet…), minified as Hearth stores them.
//!
//!   cargo run -p hearth-store --example train_dictionary -- PATH/TO/package data/fhir-r4.zdict
//!
//! The dictionary is committed; bodies record the id of the dictionary they were compressed with,
//! so a new dictionary can be added later without rewriting stored data.

use std::path::PathBuf;

const SKIP: &[&str] = &[
    "StructureDefinition",
    "ValueSet",
    "CodeSystem",
    "SearchParameter",
    "OperationDefinition",
    "CapabilityStatement",
    "ImplementationGuide",
    "ConceptMap",
    "NamingSystem",
    "CompartmentDefinition",
    "StructureMap",
    "GraphDefinition",
    "MessageDefinition",
    "TerminologyCapabilities",
    "ExampleScenario",
    "TestScript",
    "TestReport",
    "Bundle",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (dir, out) = match (args.get(1), args.get(2)) {
        (Some(d), Some(o)) => (PathBuf::from(d), PathBuf::from(o)),
        _ => {
            eprintln!("usage: train_dictionary PACKAGE_DIR OUT_FILE");
            std::process::exit(2);
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read package dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read(&f) else { continue };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&text) else {
            continue;
        };
        let Some(rt) = v.get("resourceType").and_then(|r| r.as_str()) else {
            continue;
        };
        if SKIP.contains(&rt) {
            continue;
        }
        let min = serde_json::to_vec(&v).expect("serialise");
        if min.len() < 16 * 1024 {
            samples.push(min);
        }
    }
    let total: usize = samples.iter().map(Vec::len).sum();
    let dict = zstd::dict::from_samples(&samples, 64 * 1024).expect("train");
    std::fs::write(&out, &dict).expect("write dictionary");
    println!(
        "{} samples, {} bytes -> dictionary of {} bytes at {}",
        samples.len(),
        total,
        dict.len(),
        out.display()
    );
}
