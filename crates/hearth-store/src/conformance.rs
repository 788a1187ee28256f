//! The conformance suite: one set of cases that every [`Store`] backend must pass, so SQLite and
//! PostgreSQL behave the same. A backend's test file expands [`conformance_tests!`] with a
//! factory returning a fresh, empty, migrated store (or `None` to skip, e.g. when no PostgreSQL
//! server is configured).
//!
//! The cases cover: accounts; records, access and the last-custodian rule; versions and history;
//! stale-version conflicts; atomic batches; references that must exist; client-id uniqueness;
//! soft delete and restore; purge; flags; queries with filters, ordering and stable cursors;
//! audit entries for reads and writes; the change sequence; export.

use std::any::Any;

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    Access, Account, AccountId, Actor, AppId, AuditAction, AuditEntry, AuditOutcome, BlobRef, ChangeKind,
    Item, ItemContent, ItemFlags, ItemId, ItemLink, ItemQuery, ItemState, Order, Record, RecordId,
    Relationship, StateFilter, Timestamp, WriteOp,
};

use crate::contract::{ChangeSet, ExportSink, NewRecordSpec, WriteBatch};
use crate::{Store, StoreError, StoreResult};

/// A fresh store and whatever keeps it alive (a temporary directory, a scratch database).
pub struct Fixture {
    pub store: Box<dyn Store>,
    pub guard: Box<dyn Any>,
}

/// Expands into one `#[test]` per conformance case. `$factory: fn() -> Option<Fixture>`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@cases $factory;
            accounts, records_and_custodians, versions_and_history, stale_version_conflicts,
            batches_are_atomic, references_must_exist, client_ids_are_unique_per_writer,
            soft_delete_and_restore, purge_drops_content, flags_and_envelope_round_trip,
            queries_filter_and_order, cursors_are_stable_under_writes, reads_and_writes_are_audited,
            change_sequence_is_monotonic, export_streams_everything, decimals_round_trip_exactly);
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let factory: fn() -> Option<$crate::conformance::Fixture> = $factory;
                match factory() {
                    Some(fx) => $crate::conformance::$case(&*fx.store),
                    None => eprintln!("skipped {}: backend not configured", stringify!($case)),
                }
            }
        )*
    };
}

// ---- builders -------------------------------------------------------------------------------

pub fn t(secs: i64) -> Timestamp {
    Timestamp(1_700_000_000_000_000 + secs * 1_000_000)
}

fn audit(action: AuditAction, record: Option<RecordId>, at: Timestamp) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        account: None,
        app: Some(AppId("conformance".into())),
        online: false,
        record,
        action,
        items: vec![],
        data_types: vec![],
        outcome: AuditOutcome::Success,
    }
}

fn actor() -> Actor {
    Actor::app(AppId("conformance".into()), None, false)
}

pub fn content(resource_type: &str, data_type: &str, body: &str, effective: Timestamp) -> ItemContent {
    ItemContent {
        resource_type: resource_type.into(),
        data_type: data_type.into(),
        body: body.into(),
        effective,
        end_date: None,
        flags: ItemFlags::default(),
        source: None,
        note: None,
        tags: vec![],
        links: vec![],
        blobs: vec![],
        codes: vec![],
        client_id: None,
    }
}

fn weight(kg: &str, at: Timestamp) -> ItemContent {
    let mut c = content(
        "Observation",
        "weight",
        &format!(r#"{{"resourceType":"Observation","status":"final","valueQuantity":{{"value":{kg}}}}}"#),
        at,
    );
    c.codes = vec!["http://loinc.org|29463-7".into()];
    c
}

fn new_account(store: &dyn Store, email: &str) -> Account {
    let account = Account {
        id: AccountId::new(),
        email: email.into(),
        display_name: email.into(),
        created_at: t(0),
    };
    store
        .create_account(&account, &audit(AuditAction::CreateAccount, None, t(0)))
        .expect("create account");
    account
}

/// A record owned by a fresh account, with its Patient item.
fn new_record(store: &dyn Store) -> (Account, Record) {
    let owner = new_account(store, &format!("{}@example.org", AccountId::new()));
    let patient = ItemId::new();
    let record = Record {
        id: RecordId::new(),
        display_name: "Ann".into(),
        patient_item: patient,
        created_at: t(0),
        last_seq: 0,
    };
    let access = Access {
        record_id: record.id,
        account_id: owner.id,
        relationship: Relationship::SelfRecord,
        custodian: true,
        granted_at: t(0),
    };
    let body = format!(r#"{{"resourceType":"Patient","id":"{patient}"}}"#);
    store
        .apply(&ChangeSet {
            new_records: vec![NewRecordSpec {
                record: record.clone(),
                access,
                audit: audit(AuditAction::CreateRecord, Some(record.id), t(0)),
            }],
            batches: vec![batch(
                record.id,
                vec![WriteOp::Create {
                    id: patient,
                    content: content("Patient", "demographics", &body, t(0)),
                }],
            )],
        })
        .expect("create record");
    (owner, record)
}

fn batch(record: RecordId, ops: Vec<WriteOp>) -> WriteBatch {
    WriteBatch {
        record,
        actor: actor(),
        at: t(10),
        ops,
        must_exist: vec![],
        audit: audit(AuditAction::Write, Some(record), t(10)),
    }
}

fn write(
    store: &dyn Store,
    record: RecordId,
    ops: Vec<WriteOp>,
) -> StoreResult<Vec<hearth_domain::ItemMeta>> {
    let mut r = store.apply(&ChangeSet {
        new_records: vec![],
        batches: vec![batch(record, ops)],
    })?;
    Ok(r.remove(0).versions)
}

fn create(store: &dyn Store, record: RecordId, c: ItemContent) -> ItemId {
    let id = ItemId::new();
    write(store, record, vec![WriteOp::Create { id, content: c }]).expect("create item");
    id
}

fn read_one(store: &dyn Store, record: RecordId, id: ItemId) -> Option<Item> {
    store
        .read(record, &[id], &audit(AuditAction::Read, Some(record), t(20)))
        .expect("read")
        .into_iter()
        .next()
}

fn query(store: &dyn Store, record: RecordId, q: &ItemQuery) -> hearth_domain::Page {
    store
        .query(record, q, &audit(AuditAction::Query, Some(record), t(20)))
        .expect("query")
}

fn ids(items: &[Item]) -> Vec<ItemId> {
    items.iter().map(|i| i.meta.id).collect()
}

fn last_seq(store: &dyn Store, record: RecordId) -> i64 {
    store
        .record(record)
        .expect("record")
        .expect("record exists")
        .last_seq
}

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
    assert!(mine[0].1.custodian);
    assert_eq!(mine[0].1.relationship, Relationship::SelfRecord);
    assert!(store.list_records().unwrap().iter().any(|r| r.id == record.id));

    // A second person as a viewer; the owner stays the only custodian.
    let spouse = new_account(store, "bob@example.org");
    let viewer = Access {
        record_id: record.id,
        account_id: spouse.id,
        relationship: Relationship::Spouse,
        custodian: false,
        granted_at: t(5),
    };
    store
        .put_access(&viewer, &audit(AuditAction::GrantAccess, Some(record.id), t(5)))
        .unwrap();
    assert_eq!(store.accesses(record.id).unwrap().len(), 2);
    assert_eq!(store.records_of(spouse.id).unwrap()[0].1, viewer);

    // The last custodian can neither leave nor be demoted.
    let err = store
        .remove_access(
            record.id,
            owner.id,
            &audit(AuditAction::RevokeAccess, Some(record.id), t(6)),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::LastCustodian), "{err:?}");
    let demoted = Access {
        custodian: false,
        ..mine[0].1.clone()
    };
    let err = store
        .put_access(&demoted, &audit(AuditAction::GrantAccess, Some(record.id), t(6)))
        .unwrap_err();
    assert!(matches!(err, StoreError::LastCustodian), "{err:?}");
    assert!(
        store
            .accesses(record.id)
            .unwrap()
            .iter()
            .any(|a| a.account_id == owner.id && a.custodian)
    );

    // With a second custodian the first may leave.
    let promoted = Access {
        custodian: true,
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
                custodian: true,
                granted_at: t(1),
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

pub fn soft_delete_and_restore(store: &dyn Store) {
    let (_, record) = new_record(store);
    let id = create(store, record.id, weight("70", t(100)));
    let del = write(
        store,
        record.id,
        vec![WriteOp::Delete {
            id,
            expected_version: 1,
        }],
    )
    .unwrap();
    assert_eq!((del[0].version, del[0].state), (2, ItemState::Deleted));
    let q = ItemQuery {
        data_types: vec!["weight".into()],
        ..Default::default()
    };
    assert!(query(store, record.id, &q).items.is_empty());
    let deleted = query(
        store,
        record.id,
        &ItemQuery {
            state: StateFilter::Deleted,
            ..q.clone()
        },
    );
    assert_eq!(ids(&deleted.items), vec![id]);
    assert_eq!(deleted.items[0].meta.state, ItemState::Deleted);
    assert!(deleted.items[0].body.as_ref().unwrap().contains("70"));

    let res = write(
        store,
        record.id,
        vec![WriteOp::Restore {
            id,
            expected_version: 2,
        }],
    )
    .unwrap();
    assert_eq!((res[0].version, res[0].state), (3, ItemState::Active));
    let back = read_one(store, record.id, id).unwrap();
    assert_eq!(back.meta.state, ItemState::Active);
    assert!(back.body.unwrap().contains("70"));
    assert_eq!(ids(&query(store, record.id, &q).items), vec![id]);
    assert_eq!(
        query(
            store,
            record.id,
            &ItemQuery {
                state: StateFilter::Any,
                ..q
            }
        )
        .items
        .len(),
        1
    );
}

pub fn purge_drops_content(store: &dyn Store) {
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
    let meta = store
        .purge(
            record.id,
            id,
            &actor(),
            t(50),
            &audit(AuditAction::Purge, Some(record.id), t(50)),
        )
        .unwrap();
    assert_eq!(meta.state, ItemState::Purged);
    assert_eq!(meta.version, 3);
    let hist = store
        .history(
            record.id,
            id,
            &audit(AuditAction::History, Some(record.id), t(51)),
        )
        .unwrap();
    assert_eq!(hist.len(), 3);
    assert!(
        hist.iter().all(|i| i.body.is_none()),
        "purged versions keep no content"
    );
    let q = ItemQuery {
        state: StateFilter::Any,
        ..Default::default()
    };
    assert!(!ids(&query(store, record.id, &q).items).contains(&id));
    let changes = store.changes(record.id, 0, 100).unwrap();
    assert_eq!(changes.last().unwrap().kind, ChangeKind::Purge);
    assert!(matches!(
        store.purge(
            record.id,
            id,
            &actor(),
            t(52),
            &audit(AuditAction::Purge, Some(record.id), t(52))
        ),
        Err(StoreError::ItemNotFound(_))
    ));
    // A purged item can be neither updated nor restored.
    assert!(
        write(
            store,
            record.id,
            vec![WriteOp::Restore {
                id,
                expected_version: 3
            }]
        )
        .is_err()
    );
}

pub fn flags_and_envelope_round_trip(store: &dyn Store) {
    let (_, record) = new_record(store);
    let other = create(store, record.id, weight("70", t(1)));
    let mut c = weight("72", t(2));
    c.flags = ItemFlags {
        personal: true,
        read_only: true,
    };
    c.source = Some("Withings WBS06".into());
    c.note = Some("after breakfast".into());
    c.tags = vec!["home".into(), "morning".into()];
    c.links = vec![ItemLink {
        target: other,
        relationship: "previous".into(),
    }];
    c.blobs = vec![BlobRef {
        name: "raw".into(),
        content_type: "application/json".into(),
        size: 3,
        sha256: "ab".repeat(32),
    }];
    c.end_date = Some(t(1000));
    c.client_id = Some("k".into());
    let id = create(store, record.id, c.clone());
    let item = read_one(store, record.id, id).unwrap();
    let m = &item.meta;
    assert_eq!(m.flags, c.flags);
    assert_eq!(
        (&m.source, &m.note, &m.tags, &m.links, &m.blobs),
        (&c.source, &c.note, &c.tags, &c.links, &c.blobs)
    );
    assert_eq!(
        (m.end_date, m.effective, m.codes.clone()),
        (c.end_date, c.effective, c.codes.clone())
    );
    assert_eq!(
        (m.resource_type.as_str(), m.data_type.as_str()),
        ("Observation", "weight")
    );
    assert_eq!(m.created.app, Some(AppId("conformance".into())));
    assert_eq!(m.created.at, t(10));
    assert_eq!(m.writer, actor().writer_key());

    let q = ItemQuery {
        data_types: vec!["weight".into()],
        ..Default::default()
    };
    assert_eq!(
        ids(&query(store, record.id, &q).items),
        vec![other],
        "personal items are hidden by default"
    );
    let all = query(
        store,
        record.id,
        &ItemQuery {
            include_personal: true,
            ..q
        },
    );
    assert_eq!(ids(&all.items), vec![id, other]);
}

pub fn queries_filter_and_order(store: &dyn Store) {
    let (_, record) = new_record(store);
    let w1 = create(store, record.id, weight("70", t(100)));
    let w2 = create(store, record.id, weight("71", t(300)));
    let w3 = create(store, record.id, weight("72", t(200)));
    let mut h = content(
        "Observation",
        "height",
        r#"{"resourceType":"Observation"}"#,
        t(250),
    );
    h.codes = vec!["http://loinc.org|8302-2".into()];
    let h1 = create(store, record.id, h);

    let q = |q: ItemQuery| ids(&query(store, record.id, &q).items);
    let weights = ItemQuery {
        data_types: vec!["weight".into()],
        ..Default::default()
    };
    assert_eq!(
        q(weights.clone()),
        vec![w2, w3, w1],
        "newest effective first by default"
    );
    assert_eq!(
        q(ItemQuery {
            order: Order::EffectiveAsc,
            ..weights.clone()
        }),
        vec![w1, w3, w2]
    );
    assert_eq!(
        q(ItemQuery {
            effective_from: Some(t(200)),
            effective_to: Some(t(300)),
            ..weights.clone()
        }),
        vec![w3]
    );
    assert_eq!(
        q(ItemQuery {
            data_types: vec!["weight".into(), "height".into()],
            ..Default::default()
        }),
        vec![w2, h1, w3, w1]
    );
    assert_eq!(
        q(ItemQuery {
            data_types: vec!["unknown-type".into()],
            ..Default::default()
        }),
        Vec::<ItemId>::new()
    );
    assert_eq!(
        q(ItemQuery {
            code: Some("http://loinc.org|8302-2".into()),
            ..Default::default()
        }),
        vec![h1]
    );
    assert_eq!(
        q(ItemQuery {
            code: Some("8302-2".into()),
            ..Default::default()
        }),
        vec![h1]
    );
    assert_eq!(
        q(ItemQuery {
            code: Some("http://snomed.info/sct|8302-2".into()),
            ..Default::default()
        }),
        Vec::<ItemId>::new()
    );
    assert_eq!(
        q(ItemQuery {
            created_by_app: Some(AppId("conformance".into())),
            ..weights.clone()
        })
        .len(),
        3
    );
    assert!(
        q(ItemQuery {
            created_by_app: Some(AppId("other".into())),
            ..weights.clone()
        })
        .is_empty()
    );

    // Updated ordering and updated-since follow the write time.
    let mut b = batch(
        record.id,
        vec![WriteOp::Update {
            id: w1,
            expected_version: 1,
            content: weight("69", t(100)),
        }],
    );
    b.at = t(500);
    store
        .apply(&ChangeSet {
            new_records: vec![],
            batches: vec![b],
        })
        .unwrap();
    assert_eq!(
        q(ItemQuery {
            updated_since: Some(t(400)),
            ..Default::default()
        }),
        vec![w1]
    );
    assert_eq!(
        q(ItemQuery {
            order: Order::UpdatedDesc,
            ..weights.clone()
        })[0],
        w1
    );
    assert_eq!(
        q(ItemQuery {
            updated_by_app: Some(AppId("conformance".into())),
            ..weights
        })
        .len(),
        3
    );
}

pub fn cursors_are_stable_under_writes(store: &dyn Store) {
    let (_, record) = new_record(store);
    let mut all = Vec::new();
    for i in 0..25 {
        // Several items share an effective date, so the tie-breaker matters.
        all.push(create(
            store,
            record.id,
            weight(&format!("{i}"), t(1000 + (i / 3) * 10)),
        ));
    }
    let mut seen = Vec::new();
    let mut q = ItemQuery {
        data_types: vec!["weight".into()],
        limit: 4,
        ..Default::default()
    };
    let mut pages = 0;
    loop {
        let page = query(store, record.id, &q);
        assert!(page.items.len() <= 4);
        seen.extend(ids(&page.items));
        pages += 1;
        // Writes between pages: new items newer and older than the cursor.
        create(store, record.id, weight("1", t(5000 + pages)));
        create(store, record.id, weight("1", t(10 + pages)));
        match page.next {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    let originals: Vec<ItemId> = seen.iter().copied().filter(|i| all.contains(i)).collect();
    assert_eq!(originals.len(), 25, "every original item exactly once");
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), seen.len(), "no item seen twice");
}

pub fn reads_and_writes_are_audited(store: &dyn Store) {
    let (_, record) = new_record(store);
    let id = create(store, record.id, weight("70", t(1)));
    read_one(store, record.id, id).unwrap();
    query(store, record.id, &ItemQuery::default());
    let fail = AuditEntry {
        outcome: AuditOutcome::Failure("stale version".into()),
        items: vec![ItemVersionRef { id, version: 1 }],
        ..audit(AuditAction::Write, Some(record.id), t(30))
    };
    let fid = store.append_audit(&fail).unwrap();
    assert!(fid > 0);

    let trail = store
        .audit_trail(
            record.id,
            &AuditFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    let actions: Vec<AuditAction> = trail.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::Write,
            AuditAction::Query,
            AuditAction::Read,
            AuditAction::Write,
            AuditAction::Write,
            AuditAction::CreateRecord
        ]
    );
    assert_eq!(trail[0].outcome, AuditOutcome::Failure("stale version".into()));
    assert_eq!(
        trail[2].items,
        vec![ItemVersionRef { id, version: 1 }],
        "a read records what it returned"
    );
    assert_eq!(
        trail[3].items,
        vec![ItemVersionRef { id, version: 1 }],
        "a write records what it wrote"
    );
    assert!(
        trail[1].items.len() >= 2,
        "a query records every item it returned"
    );
    assert_eq!(trail[2].app, Some(AppId("conformance".into())));
    assert_eq!(
        trail[2].data_types,
        vec!["weight".to_string()],
        "a read records the data types it returned"
    );
    let reads = store
        .audit_trail(
            record.id,
            &AuditFilter {
                action: Some(AuditAction::Read),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(reads.len(), 1);
    let page = store
        .audit_trail(
            record.id,
            &AuditFilter {
                limit: 2,
                ..Default::default()
            },
        )
        .unwrap();
    let rest = store
        .audit_trail(
            record.id,
            &AuditFilter {
                before_id: Some(page[1].id),
                limit: 100,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.len() + rest.len(), trail.len());

    // A read of a record that does not exist is refused without an entry.
    let nowhere = RecordId::new();
    assert!(matches!(
        store.read(nowhere, &[id], &audit(AuditAction::Read, Some(nowhere), t(40))),
        Err(StoreError::RecordNotFound(_))
    ));
}

pub fn change_sequence_is_monotonic(store: &dyn Store) {
    let (_, record) = new_record(store);
    let a = create(store, record.id, weight("1", t(1)));
    let b = ItemId::new();
    write(
        store,
        record.id,
        vec![
            WriteOp::Create {
                id: b,
                content: weight("2", t(2)),
            },
            WriteOp::Update {
                id: a,
                expected_version: 1,
                content: weight("3", t(1)),
            },
        ],
    )
    .unwrap();
    write(
        store,
        record.id,
        vec![WriteOp::Delete {
            id: b,
            expected_version: 1,
        }],
    )
    .unwrap();
    let changes = store.changes(record.id, 0, 100).unwrap();
    let seqs: Vec<i64> = changes.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    let kinds: Vec<(ChangeKind, ItemId, u32)> = changes.iter().map(|c| (c.kind, c.item, c.version)).collect();
    assert_eq!(
        kinds[1..],
        [
            (ChangeKind::Create, a, 1),
            (ChangeKind::Create, b, 1),
            (ChangeKind::Update, a, 2),
            (ChangeKind::Delete, b, 2)
        ]
    );
    assert_eq!(changes[1].data_type, "weight");
    assert_eq!(store.changes(record.id, 3, 100).unwrap().len(), 2);
    assert_eq!(store.changes(record.id, 0, 2).unwrap().len(), 2);
    assert_eq!(last_seq(store, record.id), 5);
    // Another record has its own sequence.
    let (_, other) = new_record(store);
    assert_eq!(
        store
            .changes(other.id, 0, 10)
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect::<Vec<_>>(),
        vec![1]
    );
}

#[derive(Default)]
struct Collect {
    versions: Vec<Item>,
    audits: Vec<AuditEntry>,
}

impl ExportSink for Collect {
    fn version(&mut self, item: &Item) -> StoreResult<()> {
        self.versions.push(item.clone());
        Ok(())
    }
    fn audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        self.audits.push(entry.clone());
        Ok(())
    }
}

pub fn export_streams_everything(store: &dyn Store) {
    let (_, record) = new_record(store);
    let a = create(store, record.id, weight("1", t(1)));
    write(
        store,
        record.id,
        vec![WriteOp::Update {
            id: a,
            expected_version: 1,
            content: weight("2", t(1)),
        }],
    )
    .unwrap();
    write(
        store,
        record.id,
        vec![WriteOp::Delete {
            id: a,
            expected_version: 2,
        }],
    )
    .unwrap();
    read_one(store, record.id, a);
    let mut sink = Collect::default();
    store.export(record.id, &mut sink).unwrap();
    let got: Vec<(ItemId, u32, i64)> = sink
        .versions
        .iter()
        .map(|i| (i.meta.id, i.meta.version, i.meta.seq))
        .collect();
    assert_eq!(
        got,
        vec![(record.patient_item, 1, 1), (a, 1, 2), (a, 2, 3), (a, 3, 4)]
    );
    assert!(sink.versions[2].body.as_ref().unwrap().contains('2'));
    assert_eq!(sink.versions[3].meta.state, ItemState::Deleted);
    let actions: Vec<AuditAction> = sink.audits.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        vec![
            AuditAction::CreateRecord,
            AuditAction::Write,
            AuditAction::Write,
            AuditAction::Write,
            AuditAction::Write,
            AuditAction::Read
        ]
    );
}

pub fn decimals_round_trip_exactly(store: &dyn Store) {
    let (_, record) = new_record(store);
    let body = r#"{"resourceType":"Observation","status":"final","_status":{"extension":[{"url":"http://example.org/x","valueString":"é"}]},"valueQuantity":{"value":72.50,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},"extension":[{"url":"http://example.org/unknown","valueDecimal":1.000000000000000000001}]}"#;
    let id = create(store, record.id, content("Observation", "weight", body, t(1)));
    assert_eq!(
        read_one(store, record.id, id).unwrap().body.as_deref(),
        Some(body)
    );
}
