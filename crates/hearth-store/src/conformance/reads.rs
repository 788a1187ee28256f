//! Conformance cases: delete and restore, purge, flags, queries, cursors, audit, the change
//! feed, export, exact round trips.

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    AppId, AuditAction, AuditEntry, AuditOutcome, BlobRef, ChangeKind, Item, ItemFlags, ItemId, ItemLink,
    ItemQuery, ItemState, Order, RecordId, StateFilter, WriteOp,
};

use super::*;
use crate::contract::{ChangeSet, ExportSink};
use crate::{StoreError, StoreResult};

// ---- cases: reads, queries, audit, change feed, export ----

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
