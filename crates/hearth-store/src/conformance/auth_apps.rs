//! Conformance cases for consent ([`crate::AuthStore`]): registered apps, grants and
//! pseudonymous subjects.

use hearth_domain::audit::AuditFilter;
use hearth_domain::auth::{App, AppKind, AppRule, ClientAuth, Grant, GrantedRule, Perms, TypeSet};
use hearth_domain::{AccountId, AppId, AuditAction, AuditEntry};

use super::auth::{account_entry, hash, record_entry};
use super::*;
use crate::{GrantUse, StoreError};

/// The JWK Set of the sample app, as text: key order and the decimal are kept exactly.
const JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS384","n":"0vx7agoebGcQSuuPiLJXZpt","e":"AQAB"}],"x-weight":1.50}"#;

fn sample_app(id: &str) -> App {
    App {
        id: AppId(id.into()),
        name: format!("App {id}"),
        description: "Tracks weight and blood pressure.".into(),
        logo_uri: Some("https://app.example/logo.png".into()),
        redirect_uris: vec!["https://app.example/cb".into(), "com.example.app:/cb".into()],
        kind: AppKind::ConfidentialWeb,
        auth_method: ClientAuth::PrivateKeyJwt,
        secret_hash: None,
        jwks: Some(serde_json::from_str(JWKS).unwrap()),
        rules: vec![
            AppRule {
                name: "vitals".into(),
                data_types: TypeSet::Only(vec!["weight".into(), "blood-pressure".into()]),
                permissions: Perms::READ.union(Perms::CREATE),
                offline: true,
                required: true,
                reason: "To chart your vitals.".into(),
            },
            AppRule {
                name: "everything".into(),
                data_types: TypeSet::all(),
                permissions: Perms::READ,
                offline: false,
                required: false,
                reason: "To show a summary.".into(),
            },
        ],
        created_at: t(1),
        updated_at: t(1),
        disabled: false,
    }
}

fn rule(name: &str, data_types: TypeSet, permissions: Perms, offline: bool) -> GrantedRule {
    GrantedRule {
        name: name.into(),
        data_types,
        permissions,
        offline,
    }
}

fn sample_grant(app: &str, record: RecordId, account: AccountId) -> Grant {
    Grant {
        app: AppId(app.into()),
        record,
        account,
        rules: vec![rule(
            "vitals",
            TypeSet::Only(vec!["weight".into()]),
            Perms::READ,
            true,
        )],
        granted_at: t(10),
        updated_at: t(10),
        revoked_at: None,
        last_read_at: None,
        last_write_at: None,
    }
}

// ---- cases ----------------------------------------------------------------------------------

pub fn apps_register_and_update(store: &dyn Store) {
    let admin = new_account(store, "admin.apps@example.org");
    let entry = |action, at| account_entry(action, admin.id, t(at));
    let app = sample_app("b.app");
    store
        .create_app(&app, &entry(AuditAction::RegisterApp, 1))
        .unwrap();
    let got = store.app(&app.id).unwrap().unwrap();
    assert_eq!(got, app);
    assert_eq!(serde_json::to_string(got.jwks.as_ref().unwrap()).unwrap(), JWKS);
    assert!(store.app(&AppId("nope".into())).unwrap().is_none());

    let err = store
        .create_app(&sample_app("b.app"), &entry(AuditAction::RegisterApp, 2))
        .unwrap_err();
    assert!(matches!(err, StoreError::DuplicateApp), "{err:?}");

    // Listed by client id, compared byte by byte.
    let public = App {
        kind: AppKind::Public,
        auth_method: ClientAuth::None,
        jwks: None,
        logo_uri: None,
        ..sample_app("a.app")
    };
    store
        .create_app(&public, &entry(AuditAction::RegisterApp, 3))
        .unwrap();
    store
        .create_app(&sample_app("Z.app"), &entry(AuditAction::RegisterApp, 4))
        .unwrap();
    let ids: Vec<String> = store.list_apps().unwrap().into_iter().map(|a| a.id.0).collect();
    assert_eq!(ids, vec!["Z.app", "a.app", "b.app"]);
    assert_eq!(store.app(&public.id).unwrap(), Some(public));

    let updated = App {
        name: "Renamed".into(),
        auth_method: ClientAuth::ClientSecretBasic,
        secret_hash: Some(hash("secret")),
        jwks: None,
        rules: vec![AppRule {
            data_types: TypeSet::Only(vec!["weight".into(), "height".into(), "blood-pressure".into()]),
            ..app.rules[0].clone()
        }],
        updated_at: t(5),
        disabled: true,
        ..app.clone()
    };
    store
        .update_app(&updated, &entry(AuditAction::UpdateApp, 5))
        .unwrap();
    assert_eq!(store.app(&app.id).unwrap(), Some(updated));
    let err = store
        .update_app(&sample_app("missing.app"), &entry(AuditAction::UpdateApp, 6))
        .unwrap_err();
    assert!(matches!(err, StoreError::AppNotFound), "{err:?}");
    assert!(store.app(&AppId("missing.app".into())).unwrap().is_none());

    // Only the writes that succeeded left their entries.
    let ats: Vec<_> = store
        .account_audit(admin.id, 10)
        .unwrap()
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(ats, vec![t(5), t(4), t(3), t(1)]);
}

pub fn grants_round_trip(store: &dyn Store) {
    let (ann, record) = new_record(store);
    let (cat, other_record) = new_record(store);
    let bob = new_account(store, "bob.grants@example.org");
    for id in ["one.app", "two.app"] {
        store
            .create_app(
                &sample_app(id),
                &account_entry(AuditAction::RegisterApp, ann.id, t(1)),
            )
            .unwrap();
    }
    let entry = record_entry(AuditAction::ConsentGranted, ann.id, record.id, t(10));
    let g1 = sample_grant("one.app", record.id, ann.id);
    store.put_grant(&g1, &entry).unwrap();
    assert_eq!(store.grant(&g1.app, record.id, ann.id).unwrap(), Some(g1.clone()));
    let grants_audited = store
        .audit_trail(
            record.id,
            &AuditFilter {
                action: Some(AuditAction::ConsentGranted),
                limit: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(grants_audited.len(), 1);
    assert_eq!(
        grants_audited[0],
        AuditEntry {
            id: grants_audited[0].id,
            ..entry
        }
    );

    // Replacing keeps one grant per (app, record, account).
    let g1 = Grant {
        rules: vec![
            rule(
                "vitals",
                TypeSet::Only(vec!["weight".into(), "height".into()]),
                Perms::ALL,
                true,
            ),
            rule("everything", TypeSet::all(), Perms::READ, false),
        ],
        updated_at: t(20),
        revoked_at: Some(t(30)),
        last_read_at: Some(t(25)),
        ..g1
    };
    store
        .put_grant(
            &g1,
            &record_entry(AuditAction::ConsentChanged, ann.id, record.id, t(20)),
        )
        .unwrap();
    assert_eq!(store.grant(&g1.app, record.id, ann.id).unwrap(), Some(g1.clone()));

    let g2 = sample_grant("two.app", record.id, ann.id);
    let g3 = sample_grant("one.app", record.id, bob.id);
    let g4 = sample_grant("one.app", other_record.id, cat.id);
    for g in [&g2, &g3, &g4] {
        store
            .put_grant(
                g,
                &record_entry(AuditAction::ConsentGranted, g.account, g.record, t(11)),
            )
            .unwrap();
    }
    let mut expect = vec![g1.clone(), g2.clone(), g3.clone()];
    expect.sort_by_key(|g| (g.app.clone(), g.account));
    assert_eq!(store.grants_for_record(record.id).unwrap(), expect);
    let mut expect = vec![g1.clone(), g3.clone(), g4.clone()];
    expect.sort_by_key(|g| (g.record, g.account));
    assert_eq!(store.grants_of_app(&g1.app).unwrap(), expect);
    let mut mine = store.grants_by_account(ann.id).unwrap();
    mine.sort_by_key(|g| g.app.clone());
    assert_eq!(mine, vec![g1.clone(), g2.clone()]);
    assert!(store.grants_of_app(&AppId("nope".into())).unwrap().is_empty());
    assert!(store.grant(&g2.app, other_record.id, ann.id).unwrap().is_none());

    let err = store
        .put_grant(
            &sample_grant("unknown.app", record.id, ann.id),
            &record_entry(AuditAction::ConsentGranted, ann.id, record.id, t(12)),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::AppNotFound), "{err:?}");
    let err = store
        .put_grant(
            &sample_grant("one.app", RecordId::new(), ann.id),
            &record_entry(AuditAction::ConsentGranted, ann.id, record.id, t(12)),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::RecordNotFound(_)), "{err:?}");

    // Noting use keeps the latest read and write.
    store
        .touch_grant(&g3.app, record.id, bob.id, GrantUse::Read, t(40))
        .unwrap();
    store
        .touch_grant(&g3.app, record.id, bob.id, GrantUse::Write, t(41))
        .unwrap();
    store
        .touch_grant(&g3.app, record.id, bob.id, GrantUse::Read, t(35))
        .unwrap();
    let touched = store.grant(&g3.app, record.id, bob.id).unwrap().unwrap();
    assert_eq!(
        touched,
        Grant {
            last_read_at: Some(t(40)),
            last_write_at: Some(t(41)),
            ..g3
        }
    );
    store
        .touch_grant(&g2.app, other_record.id, ann.id, GrantUse::Read, t(42))
        .unwrap();
    assert!(store.grant(&g2.app, other_record.id, ann.id).unwrap().is_none());
    assert_eq!(store.grant(&g2.app, record.id, ann.id).unwrap(), Some(g2));
}

pub fn app_subjects_are_pairwise(store: &dyn Store) {
    let ann = new_account(store, "ann.subjects@example.org");
    let bob = new_account(store, "bob.subjects@example.org");
    let (one, two) = (AppId("one.app".into()), AppId("two.app".into()));
    let ann_one = store.app_subject(&one, ann.id).unwrap();
    assert!(!ann_one.is_empty());
    assert_eq!(store.app_subject(&one, ann.id).unwrap(), ann_one);
    let ann_two = store.app_subject(&two, ann.id).unwrap();
    let bob_one = store.app_subject(&one, bob.id).unwrap();
    assert_ne!(ann_two, ann_one);
    assert_ne!(bob_one, ann_one);
    assert_ne!(bob_one, ann_two);
    assert_eq!(store.app_subject(&two, ann.id).unwrap(), ann_two);
    assert_eq!(store.app_subject(&one, bob.id).unwrap(), bob_one);
}
