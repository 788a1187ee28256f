//! Reading a `hearth export` directory back (format `hearth-export` 1, see
//! `hearth-import/src/export.rs`), checking the manifest against the files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

pub struct Export {
    pub dir: PathBuf,
    pub manifest: Value,
    pub record: Value,
    /// `envelope.ndjson`, in file order.
    pub envelope: Vec<Value>,
    /// Every line of every `resources/*.ndjson`, by (`id`, `meta.versionId`).
    pub resources: HashMap<(String, String), Value>,
}

impl Export {
    /// Reads the export at `dir`, asserting that the manifest lists exactly the files present
    /// (but itself) with their right sizes and sha256.
    pub fn read(dir: &Path) -> Export {
        let manifest: Value = read_json(&dir.join("manifest.json"));
        assert_eq!(manifest["format"], "hearth-export");
        assert_eq!(manifest["format_version"], 1);
        let listed = manifest["files"].as_array().expect("manifest.files");
        let mut paths = Vec::new();
        for f in listed {
            let rel = f["path"].as_str().expect("files[].path");
            let bytes = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(
                f["sha256"].as_str(),
                Some(hex::encode(Sha256::digest(&bytes)).as_str()),
                "sha256 of {rel} differs from the manifest"
            );
            assert_eq!(
                f["bytes"].as_u64(),
                Some(bytes.len() as u64),
                "size of {rel} differs from the manifest"
            );
            paths.push(rel.to_string());
        }
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted, "manifest files are not sorted by path");
        let on_disk: BTreeSet<String> = walk(dir, dir)
            .into_iter()
            .filter(|p| p != "manifest.json")
            .collect();
        assert_eq!(
            on_disk,
            paths.iter().cloned().collect::<BTreeSet<_>>(),
            "files on disk differ from the manifest's list"
        );

        let record = read_json(&dir.join("record.json"));
        let envelope = read_ndjson(&dir.join("envelope.ndjson"));
        let mut resources = HashMap::new();
        let mut lines = 0u64;
        for rel in paths.iter().filter(|p| p.starts_with("resources/")) {
            let rt = rel
                .strip_prefix("resources/")
                .and_then(|n| n.strip_suffix(".ndjson"))
                .expect("resources/<Type>.ndjson");
            for r in read_ndjson(&dir.join(rel)) {
                assert_eq!(r["resourceType"], rt, "a line of {rel} is not a {rt}");
                let key = (
                    r["id"].as_str().expect("id").to_string(),
                    r["meta"]["versionId"]
                        .as_str()
                        .expect("meta.versionId")
                        .to_string(),
                );
                lines += 1;
                assert!(
                    resources.insert(key.clone(), r).is_none(),
                    "{key:?} appears twice"
                );
            }
        }
        let counts = &manifest["counts"];
        assert_eq!(counts["versions"].as_u64(), Some(envelope.len() as u64));
        assert_eq!(counts["resources"].as_u64(), Some(lines));
        Export {
            dir: dir.to_path_buf(),
            manifest,
            record,
            envelope,
            resources,
        }
    }

    pub fn items(&self) -> u64 {
        self.manifest["counts"]["items"].as_u64().expect("counts.items")
    }

    pub fn versions(&self) -> u64 {
        self.manifest["counts"]["versions"]
            .as_u64()
            .expect("counts.versions")
    }

    pub fn patient_item(&self) -> String {
        self.record["record"]["patient_item"]
            .as_str()
            .expect("record.patient_item")
            .to_string()
    }

    /// The current version of every item: client id → (envelope meta, resource).
    pub fn current_by_client_id(&self) -> BTreeMap<String, (Value, Value)> {
        let mut latest: HashMap<String, Value> = HashMap::new();
        for line in &self.envelope {
            let meta = &line["meta"];
            let id = meta["id"].as_str().expect("meta.id").to_string();
            let newer = latest
                .get(&id)
                .is_none_or(|m| m["version"].as_u64() < meta["version"].as_u64());
            if newer {
                latest.insert(id, meta.clone());
            }
        }
        let mut out = BTreeMap::new();
        for (id, meta) in latest {
            if meta["state"] != "active" {
                continue;
            }
            let Some(cid) = meta["client_id"].as_str().map(str::to_owned) else {
                continue;
            };
            let version = meta["version"].to_string();
            let resource = self
                .resources
                .get(&(id.clone(), version.clone()))
                .unwrap_or_else(|| panic!("no resource line for {id} version {version}"))
                .clone();
            assert!(
                out.insert(cid.clone(), (meta, resource)).is_none(),
                "client id {cid} names two current items"
            );
        }
        out
    }

    /// What must not change when a write is refused: every file but the audit trail and
    /// `record.json` (whose `last_seq` may move with audited failures), by path → sha256.
    pub fn data_fingerprint(&self) -> BTreeMap<String, String> {
        self.manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap_or_default().to_string(),
                    f["sha256"].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|(p, _)| p != "audit.ndjson" && p != "record.json")
            .collect()
    }
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

fn read_ndjson(p: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} does not end with a newline",
        p.display()
    );
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{} line {}: {e}", p.display(), i + 1))
        })
        .collect()
}

/// Files under `dir`, relative, `/`-separated.
fn walk(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read export directory") {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            out.extend(walk(root, &p));
        } else {
            let rel = p.strip_prefix(root).expect("under root");
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    out
}
