//! Shared helpers for the integration tests: loading the Synthea R4 bundles.

#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

pub fn synthea_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/synthea-r4")
}

/// The Synthea bundle files, sorted.
pub fn synthea_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(synthea_dir())
        .expect("synthea-r4 data directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Parses one bundle file.
pub fn load(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read bundle");
    serde_json::from_str(&text).expect("bundle is JSON")
}

/// Every Synthea bundle file (sorted), parsed.
pub fn synthea_bundles() -> Vec<(String, Value)> {
    synthea_files()
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), load(&p)))
        .collect()
}

/// The `entry[].resource` values of a bundle.
pub fn entries(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
}
