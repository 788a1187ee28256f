//! The audit log's group commit: entries appended from many threads at once are all stored,
//! each exactly once, by the time their callers go on.

use std::collections::HashSet;
use std::sync::Arc;

use hearth_core::audit_log::AuditLog;
use hearth_core::{Context, Services};
use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    AppId, AuditAction, AuditEntry, AuditOutcome, ItemId, RecordId, Relationship, SystemClock, Timestamp,
};
use hearth_store::{LocalBlobStore, Store};
use hearth_store_sqlite::SqliteStore;

fn entry(record: RecordId, n: u32) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Timestamp(1_700_000_000_000_000 + i64::from(n)),
        account: None,
        app: Some(AppId("audit-test".into())),
        online: false,
        record: Some(record),
        action: AuditAction::Read,
        items: vec![ItemVersionRef {
            id: ItemId::new(),
            version: n,
        }],
        data_types: vec![],
        outcome: AuditOutcome::Success,
    }
}

fn ours(store: &dyn Store, record: RecordId) -> Vec<u32> {
    store
        .audit_trail(
            record,
            &AuditFilter {
                app: Some(AppId("audit-test".into())),
                limit: 10_000,
                ..AuditFilter::default()
            },
        )
        .unwrap()
        .iter()
        .map(|e| e.items[0].version)
        .collect()
}

#[test]
fn concurrent_appends_are_each_stored_once_before_returning() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("h.db")).unwrap());
    let svc = Services::new(
        store.clone(),
        Arc::new(LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap()),
        Arc::new(SystemClock),
    );
    let op = Context::operator();
    let ann = svc.create_account(&op, "ann@example.org", "Ann").unwrap();
    let record = svc
        .create_record(&op, ann.id, "Ann", Relationship::SelfRecord, None)
        .unwrap()
        .id;

    let log = AuditLog::start(store.clone());
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let log = log.clone();
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..50u32 {
                    let n = t * 1000 + i + 1;
                    log.append(entry(record, n)).unwrap();
                    // Stored by the time append returns.
                    assert!(ours(&*store, record).contains(&n), "entry {n} not stored yet");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stored = ours(&*store, record);
    assert_eq!(stored.len(), 400);
    assert_eq!(stored.iter().collect::<HashSet<_>>().len(), 400, "each once");
}
