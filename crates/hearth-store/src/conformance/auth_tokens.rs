//! Conformance cases for OAuth tokens ([`crate::AuthStore`]): storing, spending, revoking and
//! expiring them; and single-use values (tokens, emailed links, subjects) under concurrent
//! callers.

use hearth_domain::auth::{
    CodeData, EmailPurpose, EmailToken, SpendOutcome, TokenIssuer, TokenKind, TokenRecord,
};
use hearth_domain::{AccountId, AppId, AuditAction};

use super::auth::{account_entry, hash, token};
use super::*;

fn join_all<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>) -> Vec<T> {
    handles
        .into_iter()
        .map(|h| h.join().expect("caller panicked"))
        .collect()
}

// ---- cases ----------------------------------------------------------------------------------

pub fn oauth_tokens_lifecycle(store: &dyn Store) {
    let (ann, record) = new_record(store);
    let bob = new_account(store, "bob.tokens@example.org");

    // A code with everything filled, confined to a record.
    let code = TokenRecord {
        record: Some(record.id),
        expires_at: t(600),
        code: Some(CodeData {
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            nonce: Some("n-0S6_WzA2Mj".into()),
        }),
        ..token("code", TokenKind::Code, Some(ann.id), "fam-1")
    };
    store
        .put_token(
            &code,
            Some(&account_entry(AuditAction::TokenIssued, ann.id, t(1))),
        )
        .unwrap();
    assert_eq!(store.token(&code.hash).unwrap(), Some(code.clone()));
    assert!(store.token(&hash("missing")).unwrap().is_none());

    // Spent once; then replays see the first use.
    let spent = TokenRecord {
        used_at: Some(t(5)),
        ..code.clone()
    };
    assert_eq!(
        store.spend_token(&code.hash, t(5)).unwrap(),
        SpendOutcome::Spent(spent.clone())
    );
    assert_eq!(
        store.spend_token(&code.hash, t(6)).unwrap(),
        SpendOutcome::AlreadyUsed(spent.clone())
    );
    assert_eq!(
        store.spend_token(&hash("missing"), t(6)).unwrap(),
        SpendOutcome::NotFound
    );

    // A token of nobody (a backend service), issued by the operator, offline.
    let access = TokenRecord {
        online: false,
        issuer: TokenIssuer::Operator,
        ..token("access", TokenKind::Access, None, "fam-1")
    };
    let refresh = token("refresh", TokenKind::Refresh, Some(ann.id), "fam-1");
    let other = token("other", TokenKind::Access, Some(ann.id), "fam-2");
    for tok in [&access, &refresh, &other] {
        store.put_token(tok, None).unwrap();
    }
    assert_eq!(store.token(&access.hash).unwrap(), Some(access.clone()));

    // Revoking one token, then a family; repeated calls revoke nothing more.
    let revoke_entry = account_entry(AuditAction::TokenRevoked, ann.id, t(7));
    assert!(
        store
            .revoke_token(&other.hash, t(7), Some(&revoke_entry))
            .unwrap()
    );
    assert!(!store.revoke_token(&other.hash, t(8), None).unwrap());
    assert!(!store.revoke_token(&hash("missing"), t(8), None).unwrap());
    assert_eq!(store.token(&other.hash).unwrap().unwrap().revoked_at, Some(t(7)));
    let family_entry = account_entry(AuditAction::TokenRevoked, ann.id, t(9));
    assert_eq!(
        store.revoke_family("fam-1", t(9), Some(&family_entry)).unwrap(),
        3
    );
    assert_eq!(store.revoke_family("fam-1", t(10), None).unwrap(), 0);
    for h in [&code.hash, &access.hash, &refresh.hash] {
        assert_eq!(store.token(h).unwrap().unwrap().revoked_at, Some(t(9)));
    }
    assert_eq!(store.token(&other.hash).unwrap().unwrap().revoked_at, Some(t(7)));
    let ats: Vec<_> = store
        .account_audit(ann.id, 10)
        .unwrap()
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(ats, vec![t(9), t(7), t(1)]);

    // Everything an app holds for one account, or for no account.
    let x = AppId("x.app".into());
    let held = |seed: &str, app: &AppId, account: Option<AccountId>| TokenRecord {
        app: app.clone(),
        ..token(seed, TokenKind::Access, account, seed)
    };
    let b1 = held("b1", &x, Some(ann.id));
    let b2 = TokenRecord {
        record: Some(record.id),
        ..held("b2", &x, Some(ann.id))
    };
    let b3 = held("b3", &x, Some(bob.id));
    let b4 = held("b4", &x, None);
    let b5 = held("b5", &AppId("y.app".into()), Some(ann.id));
    for tok in [&b1, &b2, &b3, &b4, &b5] {
        store.put_token(tok, None).unwrap();
    }
    assert_eq!(store.revoke_tokens_of(&x, Some(ann.id), t(11)).unwrap(), 2);
    assert_eq!(store.revoke_tokens_of(&x, Some(ann.id), t(12)).unwrap(), 0);
    assert_eq!(store.revoke_tokens_of(&x, None, t(13)).unwrap(), 1);
    let revoked_at = |h: &str| store.token(h).unwrap().unwrap().revoked_at;
    assert_eq!(revoked_at(&b1.hash), Some(t(11)));
    assert_eq!(revoked_at(&b2.hash), Some(t(11)));
    assert_eq!(revoked_at(&b3.hash), None);
    assert_eq!(revoked_at(&b4.hash), Some(t(13)));
    assert_eq!(revoked_at(&b5.hash), None);

    // Tokens that expired before the cut-off go; the one expiring at it stays.
    let expiring = |seed: &str, at: i64| TokenRecord {
        expires_at: t(at),
        ..token(seed, TokenKind::Access, Some(ann.id), "fam-3")
    };
    let (e1, e2, e3) = (expiring("e1", 50), expiring("e2", 99), expiring("e3", 100));
    for tok in [&e1, &e2, &e3] {
        store.put_token(tok, None).unwrap();
    }
    assert_eq!(store.delete_expired_tokens(t(100)).unwrap(), 2);
    assert!(store.token(&e1.hash).unwrap().is_none());
    assert!(store.token(&e2.hash).unwrap().is_none());
    assert!(store.token(&e3.hash).unwrap().is_some());
    assert!(store.token(&code.hash).unwrap().is_some());
    assert_eq!(store.delete_expired_tokens(t(100)).unwrap(), 0);
}

pub fn single_use_values_race(store: &dyn Store) {
    const CALLERS: usize = 8;
    let ann = new_account(store, "ann.race@example.org");
    let refresh = token("race-refresh", TokenKind::Refresh, Some(ann.id), "race");
    store.put_token(&refresh, None).unwrap();
    let email = EmailToken {
        hash: hash("race-email"),
        account: ann.id,
        purpose: EmailPurpose::Reset,
        created_at: t(1),
        expires_at: t(100),
        used_at: None,
    };
    store.put_email_token(&email).unwrap();
    let app = hearth_domain::AppId("race.example".into());

    let (spends, takes, subjects) = std::thread::scope(|s| {
        let spends: Vec<_> = (0..CALLERS)
            .map(|_| s.spawn(|| store.spend_token(&refresh.hash, t(5)).unwrap()))
            .collect();
        let takes: Vec<_> = (0..CALLERS)
            .map(|_| {
                s.spawn(|| {
                    store
                        .take_email_token(&email.hash, EmailPurpose::Reset, t(5))
                        .unwrap()
                })
            })
            .collect();
        let subjects: Vec<_> = (0..CALLERS)
            .map(|_| s.spawn(|| store.app_subject(&app, ann.id).unwrap()))
            .collect();
        (join_all(spends), join_all(takes), join_all(subjects))
    });
    let spent = spends
        .iter()
        .filter(|o| matches!(o, SpendOutcome::Spent(_)))
        .count();
    let replayed = spends
        .iter()
        .filter(|o| matches!(o, SpendOutcome::AlreadyUsed(_)))
        .count();
    assert_eq!((spent, replayed), (1, CALLERS - 1), "{spends:?}");
    assert_eq!(takes.iter().filter(|t| t.is_some()).count(), 1, "{takes:?}");
    assert!(subjects.iter().all(|s| *s == subjects[0]), "{subjects:?}");
    assert_eq!(store.app_subject(&app, ann.id).unwrap(), subjects[0]);
}
