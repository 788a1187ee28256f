//! Conformance cases: unaudited reads (fetch anywhere, fetch, fetch versions, scan) and audit entries
//! appended in a batch.

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{AuditAction, ItemId, ItemQuery, RecordId, WriteOp};

use super::*;

fn trail_len(store: &dyn Store, record: RecordId) -> usize {
    store.audit_trail(record, &AuditFilter::default()).unwrap().len()
}

pub fn unaudited_reads_and_batched_audit(store: &dyn Store) {
    let (_, a) = new_record(store);
    let (_, b) = new_record(store);
    let w1 = create(store, a.id, weight("70.50", t(100)));
    let w2 = create(store, b.id, weight("80", t(100)));
    write(
        store,
        a.id,
        vec![WriteOp::Update {
            id: w1,
            expected_version: 1,
            content: weight("71.25", t(100)),
        }],
    )
    .unwrap();
    let before_a = trail_len(store, a.id);

    let unknown = ItemId::new();

    // Current versions wherever they live, each saying its record.
    let any = store.fetch_any(&[w2, unknown, w1]).unwrap();
    let got: Vec<(ItemId, RecordId, u32)> = any
        .iter()
        .map(|i| (i.meta.id, i.meta.record_id, i.meta.version))
        .collect();
    assert_eq!(got, vec![(w2, b.id, 1), (w1, a.id, 2)]);
    assert!(any[1].body.as_deref().unwrap().contains("71.25"));

    // Current versions, only within the record asked.
    let items = store.fetch(a.id, &[w1, w2, unknown]).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].meta.id, items[0].meta.version), (w1, 2));
    assert!(items[0].body.as_deref().unwrap().contains("71.25"));

    // Given versions, in the order asked.
    let v = |id, version| ItemVersionRef { id, version };
    let versions = store
        .fetch_versions(a.id, &[v(w1, 1), v(w1, 2), v(w1, 9), v(w2, 1)])
        .unwrap();
    let got: Vec<(ItemId, u32)> = versions.iter().map(|i| (i.meta.id, i.meta.version)).collect();
    assert_eq!(got, vec![(w1, 1), (w1, 2)]);
    assert!(versions[0].body.as_deref().unwrap().contains("70.50"));

    // A query without an audit row.
    let page = store
        .scan(
            a.id,
            &ItemQuery {
                data_types: vec!["weight".into()],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        trail_len(store, a.id),
        before_a,
        "unaudited reads write no audit row"
    );

    // Audit entries appended together, each with its own items.
    let mut e1 = audit(AuditAction::Read, Some(a.id), t(30));
    e1.items = vec![v(w1, 2)];
    e1.data_types = vec!["weight".into()];
    let mut e2 = audit(AuditAction::Query, Some(b.id), t(31));
    e2.items = vec![v(w2, 1)];
    store.append_audits(&[e1, e2]).unwrap();
    store.append_audits(&[]).unwrap();
    let trail = store.audit_trail(a.id, &AuditFilter::default()).unwrap();
    assert_eq!(trail.len(), before_a + 1);
    assert_eq!(trail[0].action, AuditAction::Read);
    assert_eq!(trail[0].items, vec![v(w1, 2)]);
    assert_eq!(trail[0].data_types, vec!["weight".to_string()]);
    let trail_b = store.audit_trail(b.id, &AuditFilter::default()).unwrap();
    assert_eq!(trail_b[0].action, AuditAction::Query);
    assert_eq!(trail_b[0].items, vec![v(w2, 1)]);

    // A batch naming a record that does not exist writes nothing.
    let mut bad = audit(AuditAction::Read, Some(RecordId::new()), t(32));
    bad.items = vec![v(w1, 2)];
    let ok = audit(AuditAction::Read, Some(a.id), t(33));
    if store.append_audits(&[ok, bad]).is_ok() {
        // A backend may keep an entry for an unknown record without a record key; it must then
        // have kept both entries.
        assert_eq!(trail_len(store, a.id), before_a + 2);
    } else {
        assert_eq!(
            trail_len(store, a.id),
            before_a + 1,
            "a failed batch writes nothing"
        );
    }
}
