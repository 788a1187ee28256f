//! Every query shape searches an index: no plan step scans a table or a whole index. Item
//! queries, the sign-in, consent and record-deletion statements, and the bulk export job
//! statements, and the sharing statements.

use hearth_domain::{
    Access, AccessLevel, Account, AccountId, Actor, AppId, AuditAction, AuditEntry, AuditOutcome, Cursor,
    ItemId, ItemQuery, Order, Record, RecordId, Relationship, StateFilter, WriteOp,
};
use hearth_store::Store;
use hearth_store::conformance::{content, t};
use hearth_store::contract::{ChangeSet, NewRecordSpec, WriteBatch};
use hearth_store_sqlite::SqliteStore;

fn entry(action: AuditAction, record: Option<RecordId>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: t(0),
        account: None,
        app: Some(AppId("plans".into())),
        online: false,
        record,
        action,
        items: vec![],
        data_types: vec![],
        outcome: AuditOutcome::Success,
    }
}

#[test]
fn queries_search_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let owner = Account {
        id: AccountId::new(),
        email: "p@example.org".into(),
        display_name: "P".into(),
        created_at: t(0),
    };
    store
        .create_account(&owner, &entry(AuditAction::CreateAccount, None))
        .unwrap();
    let patient = ItemId::new();
    let record = Record {
        id: RecordId::new(),
        display_name: "P".into(),
        patient_item: patient,
        created_at: t(0),
        last_seq: 0,
    };
    let mut ops = vec![WriteOp::Create {
        id: patient,
        content: content("Patient", "demographics", r#"{"resourceType":"Patient"}"#, t(0)),
    }];
    for i in 0..200 {
        let dt = if i % 2 == 0 { "weight" } else { "height" };
        let mut c = content("Observation", dt, r#"{"resourceType":"Observation"}"#, t(i));
        c.codes = vec![format!("http://loinc.org|{i}")];
        ops.push(WriteOp::Create {
            id: ItemId::new(),
            content: c,
        });
    }
    store
        .apply(&ChangeSet {
            new_records: vec![NewRecordSpec {
                record: record.clone(),
                access: Access {
                    record_id: record.id,
                    account_id: owner.id,
                    relationship: Relationship::SelfRecord,
                    level: AccessLevel::Custodian,
                    granted_at: t(0),
                    data_types: None,
                    expires_at: None,
                    audit: false,
                },
                audit: entry(AuditAction::CreateRecord, Some(record.id)),
            }],
            batches: vec![WriteBatch {
                record: record.id,
                actor: Actor::app(AppId("plans".into()), None, false),
                at: t(1),
                ops,
                must_exist: vec![],
                audit: entry(AuditAction::Write, Some(record.id)),
            }],
        })
        .unwrap();

    let weights = ItemQuery {
        data_types: vec!["weight".into()],
        ..Default::default()
    };
    let shapes = vec![
        ("by type", weights.clone()),
        (
            "by type and date",
            ItemQuery {
                effective_from: Some(t(10)),
                effective_to: Some(t(100)),
                ..weights.clone()
            },
        ),
        (
            "by two types",
            ItemQuery {
                data_types: vec!["weight".into(), "height".into()],
                ..Default::default()
            },
        ),
        ("everything", ItemQuery::default()),
        (
            "by date",
            ItemQuery {
                effective_from: Some(t(10)),
                ..Default::default()
            },
        ),
        (
            "updated since",
            ItemQuery {
                updated_since: Some(t(0)),
                order: Order::UpdatedDesc,
                ..Default::default()
            },
        ),
        (
            "by code",
            ItemQuery {
                code: Some("http://loinc.org|10".into()),
                ..Default::default()
            },
        ),
        (
            "by code, any system",
            ItemQuery {
                code: Some("10".into()),
                ..Default::default()
            },
        ),
        (
            "deleted, oldest first",
            ItemQuery {
                state: StateFilter::Deleted,
                order: Order::EffectiveAsc,
                ..weights.clone()
            },
        ),
        (
            "created by an app",
            ItemQuery {
                created_by_app: Some(AppId("plans".into())),
                ..weights.clone()
            },
        ),
        (
            "next page",
            ItemQuery {
                after: Some(Cursor {
                    key: t(50).0,
                    tie: 40,
                }),
                ..weights
            },
        ),
    ];
    for (name, q) in shapes {
        let plan = store.explain_query(record.id, &q).unwrap();
        assert!(!plan.is_empty(), "{name}: no plan");
        for step in &plan {
            assert!(!step.starts_with("SCAN"), "{name}: plan scans: {plan:?}");
        }
        assert!(
            plan.iter().any(|s| s.starts_with("SEARCH i USING INDEX")),
            "{name}: {plan:?}"
        );
    }
}

#[test]
fn auth_and_record_deletion_statements_search_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let plans = store.explain_auth_queries().unwrap();
    for (name, plan) in &plans {
        assert!(!plan.is_empty(), "{name}: no plan");
        for step in plan {
            assert!(!step.starts_with("SCAN"), "{name}: plan scans: {plan:?}");
        }
        assert!(plan.iter().any(|s| s.starts_with("SEARCH")), "{name}: {plan:?}");
    }
    let plan_of = |name: &str| {
        plans
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no plan named {name}"))
    };
    assert_eq!(
        plan_of("account audit"),
        vec!["SEARCH audit USING INDEX audit_account (account=?)"]
    );
    assert_eq!(
        plan_of("record of an item"),
        vec![
            "SEARCH i USING INDEX sqlite_autoindex_items_1 (id=?)",
            "SEARCH r USING INTEGER PRIMARY KEY (rowid=?)"
        ]
    );
    assert_eq!(
        plan_of("tokens of a family"),
        vec!["SEARCH oauth_tokens USING INDEX oauth_tokens_family (family=?)"]
    );
}

#[test]
fn bulk_job_statements_search_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let plans = store.explain_job_queries().unwrap();
    assert_eq!(plans.len(), 6);
    for (name, plan) in &plans {
        assert!(!plan.is_empty(), "{name}: no plan");
        for step in plan {
            assert!(!step.contains("SCAN"), "{name}: plan scans: {plan:?}");
        }
        assert!(plan.iter().any(|s| s.starts_with("SEARCH")), "{name}: {plan:?}");
    }
    let plan_of = |name: &str| {
        plans
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.clone())
            .unwrap_or_else(|| panic!("no plan named {name}"))
    };
    assert!(
        plan_of("the next queued job")
            .iter()
            .any(|s| s.contains("bulk_jobs_requester")),
        "the one-running-per-requester check uses the requester index"
    );
    assert!(
        plan_of("expired jobs")
            .iter()
            .any(|s| s.contains("bulk_jobs_expiry")),
        "{:?}",
        plan_of("expired jobs")
    );
}

#[test]
fn sharing_statements_search_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let plans = store.explain_sharing_queries().unwrap();
    assert_eq!(plans.len(), 5);
    for (name, plan) in &plans {
        for step in plan {
            assert!(!step.starts_with("SCAN"), "{name}: plan scans: {plan:?}");
        }
        assert!(plan.iter().any(|s| s.starts_with("SEARCH")), "{name}: {plan:?}");
    }
    let expired = &plans.iter().find(|(n, _)| *n == "expired accesses").unwrap().1;
    assert!(
        expired.iter().any(|s| s.contains("record_access_expiry")),
        "{expired:?}"
    );
}
