//! Input files to units. A unit is what one transaction writes: one bundle, or a slice of an
//! NDJSON file. Errors name the file and, where known, the entry and the position.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::ImportError;

/// Lines of NDJSON per unit (transaction).
pub const NDJSON_UNIT: usize = 2000;

#[derive(Clone, Debug)]
pub struct Entry {
    /// Where the entry is, for messages: `Bundle.entry[3]` or `line 17`.
    pub location: String,
    pub full_url: Option<String>,
    pub resource: Value,
}

#[derive(Clone, Debug)]
pub struct Unit {
    /// The file (or generated source) name, for messages.
    pub source: String,
    pub entries: Vec<Entry>,
}

/// Every importable file under `paths` (directories are walked, sorted by name); NDJSON files
/// holding Patients go first so that other files can refer to them.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| ImportError::io(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| is_importable(f))
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(ImportError::at(
                p.display().to_string(),
                "",
                "no such file or directory",
            ));
        }
    }
    files.sort_by_key(|f| {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        (!(is_ndjson(f) && name.starts_with("Patient")), f.clone())
    });
    Ok(files)
}

fn is_importable(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("json" | "ndjson" | "jsonl")
    )
}

pub fn is_ndjson(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("ndjson" | "jsonl"))
}

/// Reads a file and hands each unit to `f`.
pub fn read_file(path: &Path, f: &mut dyn FnMut(Unit) -> Result<(), ImportError>) -> Result<(), ImportError> {
    let name = path.display().to_string();
    if is_ndjson(path) {
        let reader = BufReader::new(File::open(path).map_err(|e| ImportError::io(path, e))?);
        let mut entries = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| ImportError::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let location = format!("line {}", i + 1);
            let resource: Value = serde_json::from_str(&line)
                .map_err(|e| ImportError::at(&name, &location, format!("invalid JSON: {e}")))?;
            if !resource.is_object() {
                return Err(ImportError::at(
                    &name,
                    &location,
                    "each line must be one FHIR resource (a JSON object)",
                ));
            }
            entries.push(Entry {
                location,
                full_url: None,
                resource,
            });
            if entries.len() == NDJSON_UNIT {
                f(Unit {
                    source: name.clone(),
                    entries: std::mem::take(&mut entries),
                })?;
            }
        }
        if !entries.is_empty() {
            f(Unit {
                source: name,
                entries,
            })?;
        }
        return Ok(());
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut fh| fh.read_to_end(&mut bytes))
        .map_err(|e| ImportError::io(path, e))?;
    f(parse_json(&name, &bytes)?)
}

/// Parses one JSON document: a Bundle or a single resource.
pub fn parse_json(name: &str, bytes: &[u8]) -> Result<Unit, ImportError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.is_eof() {
            "the file ends too early (truncated?)"
        } else {
            "invalid JSON"
        };
        ImportError::at(name, "", format!("{what}: {e}"))
    })?;
    bundle_entries(name, doc)
}

fn bundle_entries(name: &str, doc: Value) -> Result<Unit, ImportError> {
    let Value::Object(mut obj) = doc else {
        return Err(ImportError::at(
            name,
            "",
            "expected a FHIR Bundle or resource (a JSON object)",
        ));
    };
    match obj.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => {}
        Some(_) => {
            return Ok(Unit {
                source: name.into(),
                entries: vec![Entry {
                    location: "resource".into(),
                    full_url: None,
                    resource: Value::Object(obj),
                }],
            });
        }
        None => return Err(ImportError::at(name, "", "missing \"resourceType\"")),
    }
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if !matches!(
        kind.as_str(),
        "transaction" | "batch" | "collection" | "searchset"
    ) {
        return Err(ImportError::at(
            name,
            "Bundle.type",
            format!("bundle type {kind:?} cannot be imported (transaction, batch, collection or searchset)"),
        ));
    }
    let entries = match obj.remove("entry") {
        None => vec![],
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ImportError::at(name, "Bundle.entry", "must be an array")),
    };
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.into_iter().enumerate() {
        let location = format!("Bundle.entry[{i}]");
        let Value::Object(mut e) = e else {
            return Err(ImportError::at(name, &location, "an entry must be an object"));
        };
        if let Some(req) = e.get("request") {
            let method = req.get("method").and_then(Value::as_str).unwrap_or("");
            if !matches!(method, "POST" | "PUT") {
                return Err(ImportError::at(
                    name,
                    format!("{location}.request.method"),
                    format!("method {method:?} cannot be imported (POST or PUT only)"),
                ));
            }
            if req.get("ifNoneExist").is_some() {
                return Err(ImportError::at(
                    name,
                    format!("{location}.request.ifNoneExist"),
                    "conditional creates are not supported by the importer",
                ));
            }
        }
        let full_url = match e.remove("fullUrl") {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            None => None,
            Some(_) => {
                return Err(ImportError::at(
                    name,
                    format!("{location}.fullUrl"),
                    "must be a non-empty string",
                ));
            }
        };
        let resource = match e.remove("resource") {
            Some(r @ Value::Object(_)) => r,
            Some(_) => {
                return Err(ImportError::at(
                    name,
                    format!("{location}.resource"),
                    "must be a FHIR resource object",
                ));
            }
            None => return Err(ImportError::at(name, &location, "the entry has no resource")),
        };
        out.push(Entry {
            location,
            full_url,
            resource,
        });
    }
    Ok(Unit {
        source: name.into(),
        entries: out,
    })
}
