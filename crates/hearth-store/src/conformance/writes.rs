//! Conformance cases: accounts, records and custodians, versions, conflicts, atomic batches,
//! references, client ids.

use hearth_domain::audit::AuditFilter;
use hearth_domain::{
    Access, AccessLevel, Account, AccountId, AuditAction, ItemId, Record, RecordId, Relationship, WriteOp,
};

use super::*;
use crate::StoreError;
use crate::contract::{ChangeSet, NewRecordSpec};

// ---- cases ----------------------------------------------------------------------------------

pub fn accounts(store: &dyn Store) {
    store.ping().expect("ping");
    let a = new_account(store, "ann@example.org");
    assert_eq!(store.account(a.id).unwrap(), Some(a.clone()));
    assert_eq!(store.account_by_email("ann@example.org").unwrap(), Some(a));
    assert!(store.account_by_email("nobody@example.org").unwrap().is_none());
    let dup = Account {
        id: AccountId::new(),
        email: "ann@example.org".into(),
        display_name: "x".into(),
        created_at: t(1),
    };
    let err = store
        .create_account(&dup, &audit(AuditAction::CreateAccount, None, t(1)))
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateEmail), "{err:?}");
    assert!(store.account(dup.id).unwrap().is_none());
}

pub fn records_and_custodians(store: &dyn Store) {
    let (owner, record) = new_record(store);
    let got = store.record(record.id).unwrap().unwrap();
    assert_eq!(got.display_name, "Ann");
    assert_eq!(got.patient_item, record.patient_item);
    assert_eq!(got.last_seq, 1);
    let mine = store.records_of(owner.id).unwrap();
    assert_eq!(mine.len(), 1);
    assert!(mine[0].1.is_custodian());
    assert_eq!(mine[0].1.relationship, Relationship::SelfRecord);
    assert!(store.list_records().unwrap().iter().any(|r| r.id == record.id));

    // A second person as a viewer; the owner stays the only custodian.
    let spouse = new_account(store, "bob@example.org");
    let viewer = Access {
        record_id: record.id,
        account_id: spouse.id,
        relationship: Relationship::Spouse,
        level: AccessLevel::View,
        granted_at: t(5),
        data_types: None,
        expires_at: None,
        audit: false,
    };
    store
        .put_access(&viewer, &audit(AuditAction::GrantAccess, Some(record.id), t(5)))
        .unwrap();
    assert_eq!(store.accesses(record.id).unwrap().len(), 2);
    assert_eq!(store.records_of(spouse.id).unwrap()[0].1, viewer);

    // A third who may also change data; still no custodian.
    let parent = new_account(store, "carol@example.org");
    let modifier = Access {
        record_id: record.id,
        account_id: parent.id,
        relationship: Relationship::Parent,
        level: AccessLevel::Modify,
        granted_at: t(5),
        data_types: None,
        expires_at: None,
        audit: false,
    };
    store
        .put_access(&modifier, &audit(AuditAction::GrantAccess, Some(record.id), t(5)))
        .unwrap();
    assert_eq!(store.records_of(parent.id).unwrap()[0].1, modifier);
    let levels = |store: &dyn Store| {
        let mut v: Vec<(AccountId, AccessLevel)> = store
            .accesses(record.id)
            .unwrap()
            .iter()
            .map(|a| (a.account_id, a.level))
            .collect();
        v.sort();
        v
    };
    let mut expect = vec![
        (owner.id, AccessLevel::Custodian),
        (spouse.id, AccessLevel::View),
        (parent.id, AccessLevel::Modify),
    ];
    expect.sort();
    assert_eq!(levels(store), expect);

    // The last custodian can neither leave nor be demoted.
    let err = store
        .remove_access(
            record.id,
            owner.id,
            &audit(AuditAction::RevokeAccess, Some(record.id), t(6)),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::LastCustodian), "{err:?}");
    for level in [AccessLevel::View, AccessLevel::Modify] {
        let demoted = Access {
            level,
            ..mine[0].1.clone()
        };
        let err = store
            .put_access(&demoted, &audit(AuditAction::GrantAccess, Some(record.id), t(6)))
            .unwrap_err();
        assert!(matches!(err, StoreError::LastCustodian), "{err:?}");
    }
    assert_eq!(levels(store), expect);
    assert!(
        store
            .accesses(record.id)
            .unwrap()
            .iter()
            .any(|a| a.account_id == owner.id && a.is_custodian())
    );

    // With a second custodian the first may leave.
    let promoted = Access {
        level: AccessLevel::Custodian,
        ..viewer
    };
    store
        .put_access(&promoted, &audit(AuditAction::GrantAccess, Some(record.id), t(7)))
        .unwrap();
    store
        .remove_access(
            record.id,
            owner.id,
            &audit(AuditAction::RevokeAccess, Some(record.id), t(8)),
        )
        .unwrap();
    assert!(store.records_of(owner.id).unwrap().is_empty());

    let ghost = Access {
        account_id: AccountId::new(),
        ..promoted
    };
    assert!(
        store
            .put_access(&ghost, &audit(AuditAction::GrantAccess, Some(record.id), t(9)))
            .is_err()
    );
    assert!(matches!(
        store.accesses(RecordId::new()),
        Err(StoreError::RecordNotFound(_))
    ));
}

pub fn versions_and_history(store: &dyn Store) {
    let (_, record) = new_record(store);
    let id = create(store, record.id, weight("70.0", t(100)));
    let v2 = write(
        store,
        record.id,
        vec![WriteOp::Update {
            id,
            expected_version: 1,
            content: weight("71.5", t(100)),
        }],
    )
    .unwrap();
    assert_eq!(v2[0].version, 2);
    let cur = read_one(store, record.id, id).unwrap();
    assert_eq!(cur.meta.version, 2);
    assert!(cur.body.unwrap().contains("71.5"));
    let old = store
        .read_version(
            record.id,
            id,
            1,
            &audit(AuditAction::Read, Some(record.id), t(20)),
        )
        .unwrap()
        .unwrap();
    assert!(old.body.unwrap().contains("70.0"));
    assert_eq!(old.meta.version, 1);
    let hist = store
        .history(
            record.id,
            id,
            &audit(AuditAction::History, Some(record.id), t(20)),
        )
        .unwrap();
    assert_eq!(
        hist.iter().map(|i| i.meta.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(hist[1].meta.created, hist[0].meta.created);
    assert!(
        store
            .read_version(
                record.id,
                id,
                9,
                &audit(AuditAction::Read, Some(record.id), t(20))
            )
            .unwrap()
            .is_none()
    );
    // Items are confined to their record.
    let (_, other) = new_record(store);
    assert!(read_one(store, other.id, id).is_none());
    let err = write(
        store,
        other.id,
        vec![WriteOp::Update {
            id,
            expected_version: 2,
            content: weight("1", t(1)),
        }],
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::ItemNotFound(_)), "{err:?}");
}

pub fn stale_version_conflicts(store: &dyn Store) {
    let (_, record) = new_record(store);
    let id = create(store, record.id, weight("70", t(100)));
    write(
        store,
        record.id,
        vec![WriteOp::Update {
            id,
            expected_version: 1,
            content: weight("71", t(100)),
        }],
    )
    .unwrap();
    let seq = last_seq(store, record.id);
    let err = write(
        store,
        record.id,
        vec![WriteOp::Update {
            id,
            expected_version: 1,
            content: weight("99", t(100)),
        }],
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionConflict {
                expected: 1,
                actual: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = write(
        store,
        record.id,
        vec![WriteOp::Delete {
            id,
            expected_version: 1,
        }],
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err:?}");
    assert_eq!(last_seq(store, record.id), seq);
    assert!(
        read_one(store, record.id, id)
            .unwrap()
            .body
            .unwrap()
            .contains("71")
    );
}

pub fn batches_are_atomic(store: &dyn Store) {
    let (_, record) = new_record(store);
    let existing = create(store, record.id, weight("70", t(100)));
    let seq = last_seq(store, record.id);
    let (a, b) = (ItemId::new(), ItemId::new());
    let err = write(
        store,
        record.id,
        vec![
            WriteOp::Create {
                id: a,
                content: weight("1", t(1)),
            },
            WriteOp::Create {
                id: b,
                content: weight("2", t(2)),
            },
            WriteOp::Update {
                id: existing,
                expected_version: 7,
                content: weight("3", t(3)),
            },
        ],
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::VersionConflict { .. }), "{err:?}");
    assert!(read_one(store, record.id, a).is_none());
    assert!(read_one(store, record.id, b).is_none());
    assert_eq!(last_seq(store, record.id), seq);
    // No success audit entry was left by the failed batch.
    let writes = store
        .audit_trail(
            record.id,
            &AuditFilter {
                action: Some(AuditAction::Write),
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(writes.iter().all(|e| !e.items.iter().any(|r| r.id == a)));

    // A change set spanning a new record and an existing one is atomic too.
    let (owner2, _) = new_record(store);
    let patient = ItemId::new();
    let rec2 = Record {
        id: RecordId::new(),
        display_name: "Kid".into(),
        patient_item: patient,
        created_at: t(1),
        last_seq: 0,
    };
    let set = ChangeSet {
        new_records: vec![NewRecordSpec {
            record: rec2.clone(),
            access: Access {
                record_id: rec2.id,
                account_id: owner2.id,
                relationship: Relationship::Child,
                level: AccessLevel::Custodian,
                granted_at: t(1),
                data_types: None,
                expires_at: None,
                audit: false,
            },
            audit: audit(AuditAction::CreateRecord, Some(rec2.id), t(1)),
        }],
        batches: vec![
            batch(
                rec2.id,
                vec![WriteOp::Create {
                    id: patient,
                    content: content("Patient", "demographics", r#"{"resourceType":"Patient"}"#, t(1)),
                }],
            ),
            batch(
                record.id,
                vec![WriteOp::Create {
                    id: existing,
                    content: weight("5", t(5)),
                }],
            ),
        ],
    };
    let err = store.apply(&set).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateItem(_)), "{err:?}");
    assert!(store.record(rec2.id).unwrap().is_none());
    assert!(store.records_of(owner2.id).unwrap().len() == 1);
}

pub fn references_must_exist(store: &dyn Store) {
    let (_, record) = new_record(store);
    let target = create(store, record.id, weight("70", t(1)));
    let mut b = batch(
        record.id,
        vec![WriteOp::Create {
            id: ItemId::new(),
            content: weight("1", t(1)),
        }],
    );
    b.must_exist = vec![target, record.patient_item];
    store
        .apply(&ChangeSet {
            new_records: vec![],
            batches: vec![b],
        })
        .unwrap();

    let missing = ItemId::new();
    let new_id = ItemId::new();
    let mut b = batch(
        record.id,
        vec![WriteOp::Create {
            id: new_id,
            content: weight("1", t(1)),
        }],
    );
    b.must_exist = vec![missing];
    let err = store
        .apply(&ChangeSet {
            new_records: vec![],
            batches: vec![b],
        })
        .unwrap_err();
    assert!(
        matches!(err, StoreError::MissingReference(m) if m == missing),
        "{err:?}"
    );
    assert!(read_one(store, record.id, new_id).is_none());

    // An item of another record does not count.
    let (_, other) = new_record(store);
    let mut b = batch(
        other.id,
        vec![WriteOp::Create {
            id: ItemId::new(),
            content: weight("1", t(1)),
        }],
    );
    b.must_exist = vec![target];
    assert!(matches!(
        store.apply(&ChangeSet {
            new_records: vec![],
            batches: vec![b]
        }),
        Err(StoreError::MissingReference(_))
    ));
}

pub fn client_ids_are_unique_per_writer(store: &dyn Store) {
    let (_, record) = new_record(store);
    let mut c = weight("70", t(1));
    c.client_id = Some("scale-reading-1".into());
    let id = create(store, record.id, c.clone());
    let writer = actor().writer_key();
    let found = store
        .find_by_client_ids(record.id, &writer, &["scale-reading-1".into(), "nope".into()])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].meta.id, id);
    assert_eq!(found[0].content_hash, c.content_hash()[..16]);
    assert_eq!(found[0].meta.client_id.as_deref(), Some("scale-reading-1"));

    let err = write(
        store,
        record.id,
        vec![WriteOp::Create {
            id: ItemId::new(),
            content: c.clone(),
        }],
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateClientId(_)), "{err:?}");

    // An update with new content keeps the key and refreshes the hash.
    let mut c2 = weight("71", t(1));
    c2.client_id = Some("scale-reading-1".into());
    write(
        store,
        record.id,
        vec![WriteOp::Update {
            id,
            expected_version: 1,
            content: c2.clone(),
        }],
    )
    .unwrap();
    let found = store
        .find_by_client_ids(record.id, &writer, &["scale-reading-1".into()])
        .unwrap();
    assert_eq!(found[0].content_hash, c2.content_hash()[..16]);
    assert_eq!(found[0].meta.version, 2);

    // Another writer, or another record, has its own key space.
    assert!(
        store
            .find_by_client_ids(record.id, "app:someone-else", &["scale-reading-1".into()])
            .unwrap()
            .is_empty()
    );
    let (_, other) = new_record(store);
    create(store, other.id, c);
}
