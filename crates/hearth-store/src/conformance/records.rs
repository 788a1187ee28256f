//! Conformance cases: renaming a record, and deleting one with everything that belongs to it
//! (accesses, items, grants, the tokens confined to it, its audit trail); finding the record
//! that holds an item.

use hearth_domain::audit::AuditFilter;
use hearth_domain::auth::{
    App, AppKind, AppRule, ClientAuth, Grant, GrantedRule, Perms, TokenKind, TokenRecord, TypeSet,
};
use hearth_domain::{Access, AccessLevel, AppId, AuditAction, AuditEntry, Relationship, WriteOp};

use super::auth::{account_entry, token};
use super::*;
use crate::StoreError;

pub fn rename_and_delete_record(store: &dyn Store) {
    let (ann, record) = new_record(store);
    let (_, kept) = new_record(store);
    let kept_item = create(store, kept.id, weight("80", t(1)));
    let mut c = weight("70", t(1));
    c.client_id = Some("scale-1".into());
    let item = create(store, record.id, c);

    store
        .rename_record(
            record.id,
            "Ann B.",
            &audit(AuditAction::UpdateRecord, Some(record.id), t(2)),
        )
        .unwrap();
    assert_eq!(store.record(record.id).unwrap().unwrap().display_name, "Ann B.");
    let renamed = store
        .audit_trail(
            record.id,
            &AuditFilter {
                action: Some(AuditAction::UpdateRecord),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(renamed.len(), 1);
    let err = store
        .rename_record(
            RecordId::new(),
            "x",
            &audit(AuditAction::UpdateRecord, None, t(2)),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::RecordNotFound(_)), "{err:?}");

    // Someone else with access, an app's grant, and tokens inside and outside the record.
    let bob = new_account(store, "bob.delete@example.org");
    store
        .put_access(
            &Access {
                record_id: record.id,
                account_id: bob.id,
                relationship: Relationship::Spouse,
                level: AccessLevel::View,
                granted_at: t(3),
                data_types: None,
                expires_at: None,
                audit: false,
            },
            &audit(AuditAction::GrantAccess, Some(record.id), t(3)),
        )
        .unwrap();
    let app = App {
        id: AppId("delete.app".into()),
        name: "Delete".into(),
        description: String::new(),
        logo_uri: None,
        redirect_uris: vec!["https://delete.example/cb".into()],
        kind: AppKind::Public,
        auth_method: ClientAuth::None,
        secret_hash: None,
        jwks: None,
        rules: vec![AppRule {
            name: "all".into(),
            data_types: TypeSet::all(),
            permissions: Perms::READ,
            offline: false,
            required: true,
            reason: "r".into(),
        }],
        created_at: t(1),
        updated_at: t(1),
        disabled: false,
    };
    store
        .create_app(&app, &account_entry(AuditAction::RegisterApp, ann.id, t(3)))
        .unwrap();
    let grant = Grant {
        app: app.id.clone(),
        record: record.id,
        account: ann.id,
        rules: vec![GrantedRule {
            name: "all".into(),
            data_types: TypeSet::all(),
            permissions: Perms::READ,
            offline: false,
        }],
        granted_at: t(3),
        updated_at: t(3),
        revoked_at: None,
        last_read_at: None,
        last_write_at: None,
    };
    store
        .put_grant(&grant, &audit(AuditAction::ConsentGranted, Some(record.id), t(3)))
        .unwrap();
    let inside = TokenRecord {
        record: Some(record.id),
        ..token("inside", TokenKind::Access, Some(ann.id), "f-in")
    };
    let outside = token("outside", TokenKind::Access, Some(ann.id), "f-out");
    store.put_token(&inside, None).unwrap();
    store.put_token(&outside, None).unwrap();

    let entry = account_entry(AuditAction::DeleteRecord, ann.id, t(4));
    store.delete_record(record.id, &entry).unwrap();
    assert!(store.record(record.id).unwrap().is_none());
    assert!(store.records_of(ann.id).unwrap().is_empty());
    assert!(store.records_of(bob.id).unwrap().is_empty());
    assert!(!store.list_records().unwrap().iter().any(|r| r.id == record.id));
    assert!(matches!(
        store.accesses(record.id),
        Err(StoreError::RecordNotFound(_))
    ));
    assert!(matches!(
        store.audit_trail(record.id, &AuditFilter::default()),
        Err(StoreError::RecordNotFound(_))
    ));
    assert!(store.grant(&app.id, record.id, ann.id).unwrap().is_none());
    assert!(store.grants_by_account(ann.id).unwrap().is_empty());
    assert!(store.token(&inside.hash).unwrap().is_none());
    assert_eq!(store.token(&outside.hash).unwrap(), Some(outside));
    let trail = store.account_audit(ann.id, 10).unwrap();
    assert_eq!(
        trail[0],
        AuditEntry {
            id: trail[0].id,
            ..entry
        }
    );

    // The item is gone: its id is free again; the other record is untouched.
    write(
        store,
        kept.id,
        vec![WriteOp::Create {
            id: item,
            content: weight("71", t(5)),
        }],
    )
    .unwrap();
    assert!(read_one(store, kept.id, kept_item).is_some());
    assert!(read_one(store, kept.id, item).is_some());

    let err = store
        .delete_record(record.id, &account_entry(AuditAction::DeleteRecord, ann.id, t(6)))
        .unwrap_err();
    assert!(matches!(err, StoreError::RecordNotFound(_)), "{err:?}");
}

pub fn items_are_located_by_id(store: &dyn Store) {
    let (_, first) = new_record(store);
    let (_, second) = new_record(store);
    let a = create(store, first.id, weight("70", t(1)));
    let b = create(store, second.id, weight("80", t(2)));
    assert_eq!(store.item_record(a).unwrap(), Some(first.id));
    assert_eq!(store.item_record(b).unwrap(), Some(second.id));
    // Each record's Patient is an item like any other.
    assert_eq!(store.item_record(second.patient_item).unwrap(), Some(second.id));
    assert_eq!(store.item_record(hearth_domain::ItemId::new()).unwrap(), None);
    // Deleted items are still located (their record decides what a reader sees); a deleted
    // record's items are not.
    write(
        store,
        first.id,
        vec![WriteOp::Delete {
            id: a,
            expected_version: 1,
        }],
    )
    .unwrap();
    assert_eq!(store.item_record(a).unwrap(), Some(first.id));
    store
        .delete_record(second.id, &audit(AuditAction::DeleteRecord, None, t(3)))
        .unwrap();
    assert_eq!(store.item_record(b).unwrap(), None);
}
