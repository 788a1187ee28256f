//! The lossless record export against a real SQLite store and blob directory.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use hearth_core::items::Envelope;
use hearth_core::{Context, ItemRequest, Services, WriteOutcome};
use hearth_domain::{
    AccessLevel, AuditAction, AuditEntry, AuditOutcome, BlobRef, ItemId, ItemState, Record, Relationship,
    SystemClock,
};
use hearth_import::export::{
    EnvelopeLine, ExportError, ExportManifest, FORMAT, FORMAT_VERSION, RecordFile, export_record,
};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Fixture {
    svc: Services,
    record: Record,
    dir: tempfile::TempDir,
    blob: Vec<u8>,
    blob_sha: String,
    /// The weight observation: created with 72.50, then updated to 73.25.
    weight: ItemId,
    /// An observation created then deleted.
    deleted: ItemId,
}

fn services(dir: &Path) -> Services {
    let store = SqliteStore::open(dir.join("hearth.db")).unwrap();
    let blobs = LocalBlobStore::open_dir(dir.join("blobs")).unwrap();
    Services::new(Arc::new(store), Arc::new(blobs), Arc::new(SystemClock))
}

fn weight(patient: ItemId, value: &str, when: &str) -> Value {
    let text = format!(
        r#"{{"resourceType":"Observation","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"29463-7"}}]}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"{when}","valueQuantity":{{"value":{value},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}"#
    );
    serde_json::from_str(&text).unwrap()
}

fn created(o: &WriteOutcome) -> ItemId {
    match o {
        WriteOutcome::Created(m) => m.id,
        other => panic!("expected a create, got {other:?}"),
    }
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let svc = services(dir.path());
    let op = Context::operator();
    let ann = svc.create_account(&op, "ann@example.org", "Ann Example").unwrap();
    let bob = svc.create_account(&op, "bob@example.org", "Bob Example").unwrap();
    let record = svc
        .create_record(&op, ann.id, "Ann", Relationship::SelfRecord, None)
        .unwrap();
    svc.grant_access(&op, record.id, bob.id, Relationship::Spouse, AccessLevel::View)
        .unwrap();

    // A blob larger than one copy chunk.
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let info = svc.blobs().put(&mut blob.as_slice()).unwrap();
    let envelope = Envelope {
        source: Some("bathroom scale".into()),
        note: Some("after breakfast".into()),
        tags: vec!["morning".into(), "home".into()],
        blobs: vec![BlobRef {
            name: String::new(),
            content_type: "application/octet-stream".into(),
            size: info.size,
            sha256: info.sha256.clone(),
        }],
        client_id: Some("scale-1".into()),
        ..Envelope::default()
    };
    let p = record.patient_item;
    let out = svc
        .write(
            &op,
            record.id,
            vec![
                ItemRequest::Create {
                    id: None,
                    resource: weight(p, "72.50", "2024-03-01T08:00:00Z"),
                    envelope: envelope.clone(),
                },
                ItemRequest::Create {
                    id: None,
                    resource: weight(p, "80.0", "2024-02-01T08:00:00Z"),
                    envelope: Envelope::default(),
                },
            ],
        )
        .unwrap();
    let (weight_id, deleted) = (created(&out[0]), created(&out[1]));
    svc.write(
        &op,
        record.id,
        vec![ItemRequest::Update {
            id: weight_id,
            expected_version: Some(1),
            resource: weight(p, "73.25", "2024-03-01T08:00:00Z"),
            envelope,
        }],
    )
    .unwrap();
    svc.write(
        &op,
        record.id,
        vec![ItemRequest::Delete {
            id: deleted,
            expected_version: None,
        }],
    )
    .unwrap();
    Fixture {
        svc,
        record,
        dir,
        blob,
        blob_sha: info.sha256,
        weight: weight_id,
        deleted,
    }
}

fn lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} must end with a newline",
        path.display()
    );
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn export_writes_every_version_blob_and_audit_entry() {
    let f = fixture();
    let ctx = Context::tool("hearth-export");
    // A first export, so the second one carries its audit entry.
    let first = f.dir.path().join("first");
    export_record(&f.svc, &ctx, f.record.id, &first).unwrap();
    let out = f.dir.path().join("exports").join("ann");
    let manifest = export_record(&f.svc, &ctx, f.record.id, &out).unwrap();

    // The manifest on disk is the one returned, and describes every other file exactly.
    let on_disk: ExportManifest =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, manifest);
    assert_eq!(manifest.format, FORMAT);
    assert_eq!(manifest.format_version, FORMAT_VERSION);
    assert_eq!(manifest.record.id, f.record.id);
    assert_eq!(manifest.record.display_name, "Ann");
    let files = tree(&out);
    let listed: HashSet<&str> = manifest.files.iter().map(|m| m.path.as_str()).collect();
    let present: HashSet<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|p| *p != "manifest.json")
        .collect();
    assert_eq!(listed, present);
    for m in &manifest.files {
        let bytes = &files[&m.path];
        assert_eq!(m.bytes, bytes.len() as u64, "{}", m.path);
        assert_eq!(m.sha256, hex::encode(Sha256::digest(bytes)), "{}", m.path);
    }
    let mut sorted = manifest.files.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(sorted, manifest.files);

    // Versions: Patient v1; weight v1, v2; deleted v1, v2 (state deleted).
    let c = &manifest.counts;
    assert_eq!(
        (c.items, c.versions, c.resources, c.purged_versions),
        (3, 5, 5, 0)
    );
    assert_eq!(c.by_resource_type["Patient"].items, 1);
    assert_eq!(c.by_resource_type["Patient"].versions, 1);
    assert_eq!(c.by_resource_type["Observation"].items, 2);
    assert_eq!(c.by_resource_type["Observation"].versions, 4);
    assert_eq!(c.by_resource_type["Observation"].resources, 4);
    assert_eq!((c.blobs, c.blob_bytes), (1, f.blob.len() as u64));

    // envelope.ndjson: every version, in change-sequence order, deserialisable as-is.
    let envelope: Vec<EnvelopeLine> = lines(&out.join("envelope.ndjson"))
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(envelope.len(), 5);
    assert!(envelope.windows(2).all(|w| w[0].meta.seq < w[1].meta.seq));
    assert!(
        envelope
            .iter()
            .all(|e| e.has_body && e.meta.record_id == f.record.id)
    );
    let versions: Vec<(ItemId, u32, ItemState)> = envelope
        .iter()
        .map(|e| (e.meta.id, e.meta.version, e.meta.state))
        .collect();
    assert_eq!(
        versions,
        vec![
            (f.record.patient_item, 1, ItemState::Active),
            (f.weight, 1, ItemState::Active),
            (f.deleted, 1, ItemState::Active),
            (f.weight, 2, ItemState::Active),
            (f.deleted, 2, ItemState::Deleted),
        ]
    );
    let w1 = &envelope[1].meta;
    assert_eq!(w1.source.as_deref(), Some("bathroom scale"));
    assert_eq!(w1.note.as_deref(), Some("after breakfast"));
    assert_eq!(w1.tags, vec!["morning".to_string(), "home".to_string()]);
    assert_eq!(w1.client_id.as_deref(), Some("scale-1"));
    assert_eq!(w1.blobs.len(), 1);
    assert_eq!(w1.blobs[0].sha256, f.blob_sha);
    assert_eq!(w1.writer, "app:hearth-cli");

    // resources/: the stored JSON with meta set, numbers and key order untouched.
    let obs_text = fs::read_to_string(out.join("resources/Observation.ndjson")).unwrap();
    let obs: Vec<&str> = obs_text.lines().collect();
    assert_eq!(obs.len(), 4);
    assert!(obs[0].contains(r#""value":72.50,"#), "{}", obs[0]);
    assert!(obs[1].contains(r#""value":80.0,"#), "{}", obs[1]);
    assert!(obs[2].contains(r#""value":73.25,"#), "{}", obs[2]);
    let first_line: Value = serde_json::from_str(obs[0]).unwrap();
    let keys: Vec<&str> = first_line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "resourceType",
            "id",
            "meta",
            "status",
            "category",
            "code",
            "subject",
            "effectiveDateTime",
            "valueQuantity"
        ]
    );
    assert_eq!(first_line["id"], f.weight.to_string());
    assert_eq!(first_line["meta"]["versionId"], "1");
    assert_eq!(first_line["meta"]["lastUpdated"], w1.updated.at.to_rfc3339());
    let obs_versions: Vec<(String, String)> = obs
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["meta"]["versionId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect: Vec<(String, String)> = envelope[1..]
        .iter()
        .map(|e| (e.meta.id.to_string(), e.meta.version.to_string()))
        .collect();
    assert_eq!(obs_versions, expect);
    let patients = lines(&out.join("resources/Patient.ndjson"));
    assert_eq!(patients.len(), 1);
    assert_eq!(patients[0]["id"], f.record.patient_item.to_string());

    // blobs/: byte for byte.
    assert_eq!(files[&format!("blobs/{}", f.blob_sha)], f.blob);

    // record.json: the record and both accesses with the accounts' identities.
    let rf: RecordFile = serde_json::from_str(&fs::read_to_string(out.join("record.json")).unwrap()).unwrap();
    assert_eq!(rf.record.id, f.record.id);
    assert_eq!(rf.record.patient_item, f.record.patient_item);
    assert_eq!(rf.record.created_at, f.record.created_at);
    assert_eq!(rf.record.last_seq, envelope.last().unwrap().meta.seq);
    let mut people: Vec<(Option<String>, Relationship, AccessLevel)> = rf
        .accesses
        .iter()
        .map(|a| (a.email.clone(), a.relationship, a.level))
        .collect();
    people.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        people,
        vec![
            (
                Some("ann@example.org".into()),
                Relationship::SelfRecord,
                AccessLevel::Custodian
            ),
            (
                Some("bob@example.org".into()),
                Relationship::Spouse,
                AccessLevel::View
            ),
        ]
    );
    // Levels are written as their names.
    let raw: Value = serde_json::from_str(&fs::read_to_string(out.join("record.json")).unwrap()).unwrap();
    let mut levels: Vec<&str> = raw["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["level"].as_str().unwrap())
        .collect();
    levels.sort();
    assert_eq!(levels, vec!["custodian", "view"]);
    assert!(
        rf.accesses
            .iter()
            .any(|a| a.display_name.as_deref() == Some("Ann Example"))
    );

    // audit.ndjson: oldest first, deserialisable, and including the first export.
    let audit: Vec<AuditEntry> = lines(&out.join("audit.ndjson"))
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(audit.len() as u64, c.audit_entries);
    assert!(audit.windows(2).all(|w| w[0].id < w[1].id));
    let actions: Vec<AuditAction> = audit.iter().map(|a| a.action).collect();
    for a in [
        AuditAction::CreateRecord,
        AuditAction::GrantAccess,
        AuditAction::Write,
        AuditAction::Delete,
    ] {
        assert!(actions.contains(&a), "{a:?} missing from {actions:?}");
    }
    let exports: Vec<&AuditEntry> = audit.iter().filter(|a| a.action == AuditAction::Export).collect();
    assert_eq!(exports.len(), 1, "the first export, not this one");
    assert_eq!(exports[0].outcome, AuditOutcome::Success);
    assert_eq!(
        exports[0].app.as_ref().map(|a| a.0.as_str()),
        Some("hearth-export")
    );

    // Nothing temporary is left next to the exports.
    let siblings: Vec<String> = fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(siblings, vec!["ann".to_string()]);
}

#[test]
fn purged_versions_keep_their_envelope_but_no_resource_line() {
    let f = fixture();
    let op = Context::operator();
    f.svc.purge(&op, f.record.id, f.deleted).unwrap();
    let out = f.dir.path().join("out");
    let manifest = export_record(&f.svc, &op, f.record.id, &out).unwrap();
    let c = &manifest.counts;
    // The deleted item now has three versions, none with a body.
    assert_eq!(
        (c.items, c.versions, c.resources, c.purged_versions),
        (3, 6, 3, 3)
    );
    let envelope: Vec<EnvelopeLine> = lines(&out.join("envelope.ndjson"))
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    let purged: Vec<&EnvelopeLine> = envelope.iter().filter(|e| e.meta.id == f.deleted).collect();
    assert_eq!(purged.len(), 3);
    assert!(purged.iter().all(|e| !e.has_body));
    assert_eq!(purged.last().unwrap().meta.state, ItemState::Purged);
    let obs = lines(&out.join("resources/Observation.ndjson"));
    assert_eq!(obs.len(), 2);
    assert!(obs.iter().all(|o| o["id"] == f.weight.to_string()));
}

#[test]
fn a_non_empty_destination_is_refused_and_left_alone() {
    let f = fixture();
    let op = Context::operator();
    let out = f.dir.path().join("taken");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), b"mine").unwrap();
    let before = tree(&out);
    let err = export_record(&f.svc, &op, f.record.id, &out).unwrap_err();
    assert!(matches!(err, ExportError::NotEmpty(_)), "{err}");
    assert_eq!(tree(&out), before);

    // A file in the way is refused too.
    let file = f.dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(
        export_record(&f.svc, &op, f.record.id, &file),
        Err(ExportError::NotEmpty(_))
    ));
    assert_eq!(fs::read(&file).unwrap(), b"x");

    // An empty directory is fine.
    let empty = f.dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    export_record(&f.svc, &op, f.record.id, &empty).unwrap();
    assert!(empty.join("manifest.json").is_file());
}

#[test]
fn a_missing_blob_fails_the_export_leaving_nothing_behind() {
    let f = fixture();
    let op = Context::operator();
    f.svc.blobs().delete(&f.blob_sha).unwrap();
    let parent = f.dir.path().join("exports");
    fs::create_dir(&parent).unwrap();
    let out = parent.join("ann");
    let err = export_record(&f.svc, &op, f.record.id, &out).unwrap_err();
    match &err {
        ExportError::MissingBlob {
            sha256,
            item,
            version,
        } => {
            assert_eq!(sha256, &f.blob_sha);
            assert_eq!((*item, *version), (f.weight, 1));
        }
        other => panic!("expected a missing blob, got {other:?}"),
    }
    assert!(err.to_string().contains(&f.blob_sha));
    assert!(!out.exists());
    assert_eq!(
        fs::read_dir(&parent).unwrap().count(),
        0,
        "no partial directory is left"
    );

    // The failed export is in the audit trail as a failure.
    let trail = f
        .svc
        .audit_trail(
            &op,
            f.record.id,
            &hearth_domain::audit::AuditFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    let export = trail
        .iter()
        .find(|a| a.action == AuditAction::Export)
        .expect("an export entry");
    assert!(matches!(export.outcome, AuditOutcome::Failure(_)));
}

#[test]
fn a_person_without_access_cannot_export() {
    let f = fixture();
    let op = Context::operator();
    let eve = f.svc.create_account(&op, "eve@example.org", "Eve").unwrap();
    let out = f.dir.path().join("eve");
    let err = export_record(&f.svc, &Context::person(eve.id), f.record.id, &out).unwrap_err();
    assert!(matches!(err, ExportError::Service(_)), "{err:?}");
    assert!(!out.exists());
}
