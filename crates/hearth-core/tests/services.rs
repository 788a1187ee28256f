//! The services' rules, end to end on a real SQLite store: client-id idempotency, read-only
//! items, the one-Patient rule, references that must resolve inside the record, audit of
//! successes and failures, people's access, and atomic batches.

use std::sync::Arc;

use hearth_core::prepare::EnvelopeFields;
use hearth_core::{Context, ItemRequest, ServiceError, Services, WriteOutcome};
use hearth_domain::audit::AuditFilter;
use hearth_domain::{
    AccessLevel, AuditAction, AuditOutcome, ItemFlags, ItemId, ItemQuery, Record, Relationship, SystemClock,
};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;
use serde_json::{Value, json};

struct Fx {
    svc: Services,
    record: Record,
    _dir: tempfile::TempDir,
}

fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
    let svc = Services::new(Arc::new(store), Arc::new(blobs), Arc::new(SystemClock));
    let op = Context::operator();
    let ann = svc.create_account(&op, "ann@example.org", "Ann").unwrap();
    let record = svc
        .create_record(&op, ann.id, "Ann", Relationship::SelfRecord, None)
        .unwrap();
    Fx {
        svc,
        record,
        _dir: dir,
    }
}

fn weight(fx: &Fx, kg: &str) -> Value {
    serde_json::from_str(&format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"29463-7"}}]}},"subject":{{"reference":"Patient/{}"}},"effectiveDateTime":"2024-03-01T08:00:00Z","valueQuantity":{{"value":{kg},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}"#,
        fx.record.patient_item
    ))
    .unwrap()
}

fn create(resource: Value, envelope: EnvelopeFields) -> ItemRequest {
    ItemRequest::Create {
        id: None,
        resource,
        envelope,
    }
}

fn with_client_id(c: &str) -> EnvelopeFields {
    EnvelopeFields {
        client_id: Some(c.into()),
        ..Default::default()
    }
}

#[test]
fn the_same_client_id_is_a_no_op_or_a_new_version() {
    let fx = fx();
    let op = Context::operator();
    let first = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![create(weight(&fx, "70.0"), with_client_id("scale-1"))],
        )
        .unwrap();
    let WriteOutcome::Created(meta) = &first[0] else {
        panic!("{first:?}")
    };
    let again = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![create(weight(&fx, "70.0"), with_client_id("scale-1"))],
        )
        .unwrap();
    assert!(
        matches!(&again[0], WriteOutcome::Unchanged(m) if m.id == meta.id && m.version == 1),
        "{again:?}"
    );
    let changed = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![create(weight(&fx, "70.5"), with_client_id("scale-1"))],
        )
        .unwrap();
    assert!(
        matches!(&changed[0], WriteOutcome::Updated(m) if m.id == meta.id && m.version == 2),
        "{changed:?}"
    );
    let item = fx.svc.read_one(&op, fx.record.id, meta.id).unwrap();
    assert!(item.body.unwrap().contains("70.5"));
    // Another writer has its own key space.
    let tool = Context::tool("device-gateway");
    let other = fx
        .svc
        .write(
            &tool,
            fx.record.id,
            vec![create(weight(&fx, "70.5"), with_client_id("scale-1"))],
        )
        .unwrap();
    assert!(matches!(&other[0], WriteOutcome::Created(m) if m.id != meta.id));
}

#[test]
fn read_only_items_keep_their_content() {
    let fx = fx();
    let op = Context::operator();
    let env = EnvelopeFields {
        flags: ItemFlags {
            personal: false,
            read_only: true,
        },
        ..Default::default()
    };
    let out = fx
        .svc
        .write(&op, fx.record.id, vec![create(weight(&fx, "70"), env)])
        .unwrap();
    let id = out[0].meta().id;
    let err = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Update {
                id,
                expected_version: None,
                resource: weight(&fx, "71"),
                envelope: EnvelopeFields::default(),
            }],
        )
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Invalid(i) if i[0].message.contains("read-only")),
        "{err:?}"
    );
    // Tags and the note may change; the flag stays.
    let env = EnvelopeFields {
        tags: vec!["checked".into()],
        note: Some("ok".into()),
        ..Default::default()
    };
    let out = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Update {
                id,
                expected_version: Some(1),
                resource: weight(&fx, "70"),
                envelope: env,
            }],
        )
        .unwrap();
    assert_eq!(out[0].meta().version, 2);
    assert!(out[0].meta().flags.read_only);
    assert_eq!(out[0].meta().tags, vec!["checked".to_string()]);
    // The flag cannot be set later.
    let plain = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![create(weight(&fx, "72"), EnvelopeFields::default())],
        )
        .unwrap();
    let env = EnvelopeFields {
        flags: ItemFlags {
            personal: false,
            read_only: true,
        },
        ..Default::default()
    };
    let err = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Update {
                id: plain[0].meta().id,
                expected_version: None,
                resource: weight(&fx, "72"),
                envelope: env,
            }],
        )
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)));
}

#[test]
fn a_record_has_exactly_one_patient() {
    let fx = fx();
    let op = Context::operator();
    let err = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![create(
                json!({"resourceType": "Patient", "gender": "female"}),
                EnvelopeFields::default(),
            )],
        )
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Invalid(i) if i[0].message.contains("exactly one Patient")),
        "{err:?}"
    );
    let err = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Delete {
                id: fx.record.patient_item,
                expected_version: None,
            }],
        )
        .unwrap_err();
    assert!(matches!(err, ServiceError::Invalid(_)));
    // Updating the record's Patient edits the demographics.
    let out = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Update {
                id: fx.record.patient_item,
                expected_version: None,
                resource: json!({"resourceType": "Patient", "gender": "female", "birthDate": "1990-02-03"}),
                envelope: EnvelopeFields::default(),
            }],
        )
        .unwrap();
    assert_eq!(out[0].meta().version, 2);
    assert_eq!(out[0].meta().data_type, "demographics");
}

#[test]
fn references_resolve_inside_the_record() {
    let fx = fx();
    let op = Context::operator();
    let ann = fx.svc.account_by_email("ann@example.org").unwrap().unwrap();
    let other = fx
        .svc
        .create_record(&op, ann.id, "Kid", Relationship::Child, None)
        .unwrap();
    // A Patient reference to another record's Patient is refused, naming the path.
    let mut w = weight(&fx, "70");
    w["subject"] = json!({"reference": format!("Patient/{}", other.patient_item)});
    let err = fx
        .svc
        .write(&op, fx.record.id, vec![create(w, EnvelopeFields::default())])
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Invalid(i) if i[0].path.ends_with("Observation.subject")),
        "{err:?}"
    );
    // An item of another record does not resolve either.
    let kid_weight = {
        let mut w = weight(&fx, "20");
        w["subject"] = json!({"reference": format!("Patient/{}", other.patient_item)});
        fx.svc
            .write(&op, other.id, vec![create(w, EnvelopeFields::default())])
            .unwrap()[0]
            .meta()
            .id
    };
    let mut w = weight(&fx, "70");
    w["derivedFrom"] = json!([{"reference": format!("Observation/{kid_weight}")}]);
    let err = fx
        .svc
        .write(&op, fx.record.id, vec![create(w, EnvelopeFields::default())])
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Invalid(i) if i[0].message.contains("does not resolve")),
        "{err:?}"
    );
    // Items created in the same batch resolve.
    let first = ItemId::new();
    let mut second = weight(&fx, "71");
    second["derivedFrom"] = json!([{"reference": format!("Observation/{first}")}]);
    let out = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![
                ItemRequest::Create {
                    id: Some(first),
                    resource: weight(&fx, "70"),
                    envelope: EnvelopeFields::default(),
                },
                create(second, EnvelopeFields::default()),
            ],
        )
        .unwrap();
    assert_eq!(out.len(), 2);
}

#[test]
fn failures_are_audited_and_batches_are_atomic() {
    let fx = fx();
    let op = Context::operator();
    let mut bad = weight(&fx, "70");
    bad["valueQuantity"]["code"] = json!("cm");
    let err = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![
                create(weight(&fx, "70"), EnvelopeFields::default()),
                create(bad, EnvelopeFields::default()),
            ],
        )
        .unwrap_err();
    let ServiceError::Invalid(issues) = &err else {
        panic!("{err:?}")
    };
    assert!(
        issues[0].path.starts_with("item[1]") && issues[0].path.contains("valueQuantity"),
        "{issues:?}"
    );
    let q = ItemQuery {
        data_types: vec!["weight".into()],
        ..Default::default()
    };
    assert!(
        fx.svc.query(&op, fx.record.id, &q).unwrap().items.is_empty(),
        "nothing of the batch was stored"
    );
    let trail = fx
        .svc
        .audit_trail(
            &op,
            fx.record.id,
            &AuditFilter {
                action: Some(AuditAction::Write),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        matches!(&trail[0].outcome, AuditOutcome::Failure(m) if m.contains("valueQuantity")),
        "{trail:?}"
    );
}

#[test]
fn people_reach_their_records_and_personal_items_stay_with_people() {
    let fx = fx();
    let op = Context::operator();
    let bob = fx.svc.create_account(&op, "bob@example.org", "Bob").unwrap();
    let bob_ctx = Context::person(bob.id);
    assert!(matches!(
        fx.svc.query(&bob_ctx, fx.record.id, &ItemQuery::default()),
        Err(ServiceError::NotFound(_))
    ));
    let ann = fx.svc.account_by_email("ann@example.org").unwrap().unwrap();
    fx.svc
        .grant_access(
            &Context::person(ann.id),
            fx.record.id,
            bob.id,
            Relationship::Spouse,
            AccessLevel::Modify,
        )
        .unwrap();
    let env = EnvelopeFields {
        flags: ItemFlags {
            personal: true,
            read_only: false,
        },
        ..Default::default()
    };
    fx.svc
        .write(&bob_ctx, fx.record.id, vec![create(weight(&fx, "70"), env)])
        .unwrap();
    let q = ItemQuery {
        data_types: vec!["weight".into()],
        include_personal: true,
        ..Default::default()
    };
    assert_eq!(fx.svc.query(&bob_ctx, fx.record.id, &q).unwrap().items.len(), 1);
    // Only custodians see the audit trail and history; the last custodian cannot leave.
    assert!(matches!(
        fx.svc
            .audit_trail(&bob_ctx, fx.record.id, &AuditFilter::default()),
        Err(ServiceError::Forbidden(_))
    ));
    let err = fx
        .svc
        .remove_access(&Context::person(ann.id), fx.record.id, ann.id)
        .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict(_)), "{err:?}");
    // Bob may not create records for Ann.
    let err = fx
        .svc
        .create_record(&bob_ctx, ann.id, "x", Relationship::Other, None)
        .unwrap_err();
    assert!(matches!(err, ServiceError::Forbidden(_)));
}

#[test]
fn stale_updates_conflict_and_delete_restore_round_trip() {
    let fx = fx();
    let op = Context::operator();
    let id = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![create(weight(&fx, "70"), EnvelopeFields::default())],
        )
        .unwrap()[0]
        .meta()
        .id;
    fx.svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Update {
                id,
                expected_version: Some(1),
                resource: weight(&fx, "71"),
                envelope: EnvelopeFields::default(),
            }],
        )
        .unwrap();
    let err = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Update {
                id,
                expected_version: Some(1),
                resource: weight(&fx, "72"),
                envelope: EnvelopeFields::default(),
            }],
        )
        .unwrap_err();
    assert!(matches!(err, ServiceError::VersionConflict(_)), "{err:?}");
    let del = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Delete {
                id,
                expected_version: None,
            }],
        )
        .unwrap();
    assert!(matches!(&del[0], WriteOutcome::Deleted(m) if m.version == 3));
    let again = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Delete {
                id,
                expected_version: None,
            }],
        )
        .unwrap();
    assert!(matches!(&again[0], WriteOutcome::Unchanged(_)));
    let res = fx
        .svc
        .write(
            &op,
            fx.record.id,
            vec![ItemRequest::Restore {
                id,
                expected_version: Some(3),
            }],
        )
        .unwrap();
    assert!(matches!(&res[0], WriteOutcome::Restored(m) if m.version == 4));
    assert_eq!(fx.svc.history(&op, fx.record.id, id).unwrap().len(), 4);
    let gone = fx.svc.purge(&op, fx.record.id, id).unwrap();
    assert_eq!(gone.state, hearth_domain::ItemState::Purged);
    assert!(matches!(
        fx.svc.read_one(&op, fx.record.id, id),
        Err(ServiceError::Gone(_))
    ));
}
