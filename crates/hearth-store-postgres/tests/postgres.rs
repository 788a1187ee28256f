//! Checks specific to the PostgreSQL backend: concurrent writers on one record, concurrent
//! starts, bulk creates, an unreachable server, upgrading an earlier schema. They need
//! `HEARTH_TEST_POSTGRES_URL` (see `conformance.rs`) and print that they were skipped without it.

mod common;

use std::sync::Arc;

use common::{URL_VAR, scratch};
use hearth_domain::{
    Access, AccessLevel, Account, AccountId, Actor, AppId, AuditAction, AuditEntry, AuditOutcome, ItemId,
    ItemQuery, Record, RecordId, Relationship, WriteOp,
};
use hearth_store::conformance::{content, t};
use hearth_store::contract::{ChangeSet, NewRecordSpec, WriteBatch};
use hearth_store::{Store, StoreError};
use hearth_store_postgres::PostgresStore;

fn skip(name: &str) {
    eprintln!("skipped {name}: set {URL_VAR} to run it");
}

fn audit(action: AuditAction, record: Option<RecordId>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: t(1),
        account: None,
        app: Some(AppId("pg-test".into())),
        online: false,
        record,
        action,
        items: vec![],
        data_types: vec![],
        outcome: AuditOutcome::Success,
    }
}

fn new_record(store: &dyn Store) -> RecordId {
    let owner = Account {
        id: AccountId::new(),
        email: format!("{}@example.org", AccountId::new()),
        display_name: "o".into(),
        created_at: t(0),
    };
    store
        .create_account(&owner, &audit(AuditAction::CreateAccount, None))
        .unwrap();
    let patient = ItemId::new();
    let record = Record {
        id: RecordId::new(),
        display_name: "R".into(),
        patient_item: patient,
        created_at: t(0),
        last_seq: 0,
    };
    let access = Access {
        record_id: record.id,
        account_id: owner.id,
        relationship: Relationship::SelfRecord,
        level: AccessLevel::Custodian,
        granted_at: t(0),
        data_types: None,
        expires_at: None,
        audit: false,
    };
    store
        .apply(&ChangeSet {
            new_records: vec![NewRecordSpec {
                record: record.clone(),
                access,
                audit: audit(AuditAction::CreateRecord, Some(record.id)),
            }],
            batches: vec![],
        })
        .unwrap();
    record.id
}

fn batch(record: RecordId, app: &str, ops: Vec<WriteOp>) -> WriteBatch {
    WriteBatch {
        record,
        actor: Actor::app(AppId(app.into()), None, false),
        at: t(2),
        ops,
        must_exist: vec![],
        audit: audit(AuditAction::Write, Some(record)),
    }
}

#[test]
fn concurrent_writers_keep_the_sequence_gap_free() {
    let Some((guard, url)) = scratch() else {
        return skip("concurrent_writers_keep_the_sequence_gap_free");
    };
    let store = Arc::new(PostgresStore::connect(&url).unwrap());
    let records = [new_record(&*store), new_record(&*store)];
    let threads: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    // Each change set writes both records, in an order that alternates, so a
                    // backend locking in batch order would deadlock.
                    let (a, b) = if (n + i) % 2 == 0 {
                        (records[0], records[1])
                    } else {
                        (records[1], records[0])
                    };
                    let mk = |r| {
                        let c = content("Observation", "weight", r#"{"resourceType":"Observation"}"#, t(i));
                        batch(
                            r,
                            &format!("app-{n}"),
                            vec![WriteOp::Create {
                                id: ItemId::new(),
                                content: c,
                            }],
                        )
                    };
                    store
                        .apply(&ChangeSet {
                            new_records: vec![],
                            batches: vec![mk(a), mk(b)],
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    for r in records {
        let seqs: Vec<i64> = store
            .changes(r, 0, 10_000)
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect();
        assert_eq!(seqs, (1..=120).collect::<Vec<_>>());
        assert_eq!(store.record(r).unwrap().unwrap().last_seq, 120);
    }
    drop(store);
    drop(guard);
}

#[test]
fn concurrent_updates_of_one_item_conflict_cleanly() {
    let Some((guard, url)) = scratch() else {
        return skip("concurrent_updates_of_one_item_conflict_cleanly");
    };
    let store = Arc::new(PostgresStore::connect(&url).unwrap());
    let record = new_record(&*store);
    let id = ItemId::new();
    let c = content("Observation", "weight", r#"{"resourceType":"Observation"}"#, t(1));
    store
        .apply(&ChangeSet {
            new_records: vec![],
            batches: vec![batch(
                record,
                "a",
                vec![WriteOp::Create {
                    id,
                    content: c.clone(),
                }],
            )],
        })
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, c) = (store.clone(), c.clone());
            std::thread::spawn(move || {
                let op = WriteOp::Update {
                    id,
                    expected_version: 1,
                    content: c,
                };
                store.apply(&ChangeSet {
                    new_records: vec![],
                    batches: vec![batch(record, "a", vec![op])],
                })
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one update wins"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(
                r,
                StoreError::VersionConflict {
                    expected: 1,
                    actual: 2,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    let page = store
        .query(
            record,
            &ItemQuery::default(),
            &audit(AuditAction::Query, Some(record)),
        )
        .unwrap();
    assert_eq!(page.items[0].meta.version, 2);
    drop(store);
    drop(guard);
}

#[test]
fn concurrent_starts_migrate_once() {
    let Some((guard, url)) = scratch() else {
        return skip("concurrent_starts_migrate_once");
    };
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresStore::connect(&url).map(|_| ()))
        })
        .collect();
    for th in threads {
        th.join().unwrap().unwrap();
    }
    let store = PostgresStore::connect(&url).unwrap();
    store.migrate().unwrap();
    assert_eq!(store.backend_name(), "postgres");
    drop(store);
    drop(guard);
}

#[test]
fn an_unreachable_server_is_unavailable() {
    if std::env::var(URL_VAR).is_err() {
        return skip("an_unreachable_server_is_unavailable");
    }
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1")
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

fn weight_with(cid: Option<&str>, code: &str) -> hearth_domain::ItemContent {
    let mut c = content("Observation", "weight", r#"{"resourceType":"Observation"}"#, t(3));
    c.client_id = cid.map(str::to_string);
    c.codes = vec![format!("http://loinc.org|{code}")];
    c
}

#[test]
fn bulk_creates_match_the_op_by_op_path() {
    let Some((guard, url)) = scratch() else {
        return skip("bulk_creates_match_the_op_by_op_path");
    };
    let store = PostgresStore::connect(&url).unwrap();
    let record = new_record(&store);
    let apply = |ops: Vec<WriteOp>| {
        store.apply(&ChangeSet {
            new_records: vec![],
            batches: vec![batch(record, "imp", ops)],
        })
    };
    let ids: Vec<ItemId> = (0..3).map(|_| ItemId::new()).collect();
    let ops = ids
        .iter()
        .enumerate()
        .map(|(i, id)| WriteOp::Create {
            id: *id,
            content: weight_with(Some(&format!("c{i}")), &format!("x{i}")),
        })
        .collect();
    let res = apply(ops).unwrap();
    let seqs: Vec<i64> = res[0].versions.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let q = |code: &str| {
        let q = ItemQuery {
            code: Some(code.into()),
            ..Default::default()
        };
        store
            .query(record, &q, &audit(AuditAction::Query, Some(record)))
            .unwrap()
            .items
    };
    assert_eq!(q("x1")[0].meta.id, ids[1]);
    let found = store
        .find_by_client_ids(record, "app:imp", &["c2".into(), "c0".into()])
        .unwrap();
    assert_eq!(
        found.iter().map(|m| m.meta.id).collect::<Vec<_>>(),
        vec![ids[2], ids[0]]
    );
    // Items keep their op order as the tie-breaker (same effective date).
    let page = store
        .query(
            record,
            &ItemQuery::default(),
            &audit(AuditAction::Query, Some(record)),
        )
        .unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.meta.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1], ids[0]]
    );

    // The first failing op decides the error, as op by op.
    let fresh = || WriteOp::Create {
        id: ItemId::new(),
        content: weight_with(Some(&ItemId::new().to_string()), "y"),
    };
    let dup_cid = || WriteOp::Create {
        id: ItemId::new(),
        content: weight_with(Some("c1"), "y"),
    };
    let dup_item = || WriteOp::Create {
        id: ids[0],
        content: weight_with(None, "y"),
    };
    let err = apply(vec![fresh(), dup_cid(), dup_item()]).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateClientId(c) if c == "c1"),
        "{err:?}"
    );
    let err = apply(vec![fresh(), dup_item(), dup_cid()]).unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateItem(i) if i == ids[0]),
        "{err:?}"
    );
    assert_eq!(store.record(record).unwrap().unwrap().last_seq, 3);
    assert!(q("y").is_empty());
    drop(store);
    drop(guard);
}

#[test]
fn access_levels_come_from_the_custodian_flag() {
    let Some((guard, url)) = scratch() else {
        return skip("access_levels_come_from_the_custodian_flag");
    };
    let (record, owner, helper) = (RecordId::new(), AccountId::new(), AccountId::new());
    {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(hearth_store_postgres::schema::MIGRATIONS[0].1)
            .unwrap();
        c.batch_execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0);",
        )
        .unwrap();
        for (id, email) in [(owner, "o@example.org"), (helper, "h@example.org")] {
            c.execute(
                "INSERT INTO accounts (id, email, display_name, created_at) VALUES ($1, $2, 'x', 0)",
                &[&id.0, &email],
            )
            .unwrap();
        }
        let rk: i64 = c
            .query_one(
                "INSERT INTO records (id, display_name, patient_item, created_at) VALUES ($1, 'R', $2, 0)
                 RETURNING rk",
                &[&record.0, &RecordId::new().0],
            )
            .unwrap()
            .get(0);
        for (id, custodian) in [(owner, true), (helper, false)] {
            c.execute(
                "INSERT INTO record_access (rk, account_id, relationship, custodian, granted_at)
                 VALUES ($1, $2, 'self', $3, 0)",
                &[&rk, &id.0, &custodian],
            )
            .unwrap();
        }
    }

    let store = PostgresStore::connect(&url).unwrap();
    let mut levels: Vec<_> = store
        .accesses(record)
        .unwrap()
        .into_iter()
        .map(|a| (a.account_id, a.level))
        .collect();
    levels.sort();
    let mut expect = vec![(owner, AccessLevel::Custodian), (helper, AccessLevel::Modify)];
    expect.sort();
    assert_eq!(levels, expect);
    drop(store);
    drop(guard);
}
