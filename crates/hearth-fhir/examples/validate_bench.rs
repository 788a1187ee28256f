//! Validation throughput on the Synthea R4 sample bundles:
//! `cargo run --release -p hearth-fhir --example validate_bench [DIR]`.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/synthea-r4"));
    let mut resources: Vec<Value> = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("bundle directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let t = Instant::now();
    for p in &paths {
        let bundle: Value = serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json");
        if let Some(Value::Array(entries)) = bundle.get("entry") {
            resources.extend(entries.iter().filter_map(|e| e.get("resource").cloned()));
        }
    }
    println!(
        "parsed {} bundles, {} resources in {:.2?}",
        paths.len(),
        resources.len(),
        t.elapsed()
    );

    // Load the model outside the timed loop.
    let t = Instant::now();
    let _ = hearth_fhir::is_resource_type("Patient");
    println!("model loaded in {:.2?}", t.elapsed());
    let rounds = 5;
    let mut best = f64::MAX;
    let mut errors = 0;
    let mut refs = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        errors = 0;
        for r in &resources {
            errors += hearth_fhir::validate_resource(r)
                .iter()
                .filter(|i| i.is_error())
                .count();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    for r in &resources {
        refs += hearth_fhir::references(r).len();
    }
    let ref_secs = t.elapsed().as_secs_f64();
    println!(
        "validate: {:.0} resources/s single-threaded (best of {rounds}: {:.3}s, {errors} errors)",
        resources.len() as f64 / best,
        best
    );
    println!(
        "references: {:.0} resources/s ({refs} references)",
        resources.len() as f64 / ref_secs
    );
}
