//! Conformance cases for sign-in ([`crate::AuthStore`]): credentials, sessions, emailed tokens,
//! signing keys, the account-level audit trail; and the builders the other auth cases share.
//! Apps, grants and subjects are in `auth_apps`; OAuth tokens and races in `auth_tokens`.

use hearth_domain::auth::{
    Credentials, EmailPurpose, EmailToken, Session, SigningKey, TokenIssuer, TokenKind, TokenRecord,
};
use hearth_domain::{AccountId, AuditAction, AuditEntry, AuditOutcome, RecordId, Timestamp};

use super::*;

// ---- builders -------------------------------------------------------------------------------

/// An entry about `account` that belongs to no record.
pub(super) fn account_entry(action: AuditAction, account: AccountId, at: Timestamp) -> AuditEntry {
    AuditEntry {
        account: Some(account),
        ..audit(action, None, at)
    }
}

/// An entry about `account` in `record`.
pub(super) fn record_entry(
    action: AuditAction,
    account: AccountId,
    record: RecordId,
    at: Timestamp,
) -> AuditEntry {
    AuditEntry {
        account: Some(account),
        ..audit(action, Some(record), at)
    }
}

/// A 64-character lower-case hex string (what SHA-256 hashes look like), distinct per `seed`.
pub(super) fn hash(seed: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut i = 0u64;
    while out.len() < 64 {
        let h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64 ^ i, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let _ = write!(out, "{h:016x}");
        i += 1;
    }
    out
}

pub(super) fn token(seed: &str, kind: TokenKind, account: Option<AccountId>, family: &str) -> TokenRecord {
    TokenRecord {
        hash: hash(seed),
        kind,
        app: hearth_domain::AppId("tokens.example".into()),
        account,
        record: None,
        scope: "openid fhirUser patient/Observation.rs".into(),
        online: true,
        issuer: TokenIssuer::Consent,
        family: family.into(),
        issued_at: t(1),
        expires_at: t(3600),
        used_at: None,
        revoked_at: None,
        code: None,
    }
}

// ---- cases ----------------------------------------------------------------------------------

pub fn credentials_round_trip(store: &dyn Store) {
    let ann = new_account(store, "ann.creds@example.org");
    let bob = new_account(store, "bob.creds@example.org");
    assert!(store.credentials(ann.id).unwrap().is_none());

    let bare = Credentials {
        account: ann.id,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        password_changed_at: t(1),
        email_verified_at: None,
        totp_secret: None,
        totp_enabled_at: None,
        totp_last_step: 0,
        recovery_codes: vec![],
    };
    store.put_credentials(&bare, None).unwrap();
    assert_eq!(store.credentials(ann.id).unwrap(), Some(bare.clone()));
    assert!(store.account_audit(ann.id, 10).unwrap().is_empty());

    // Replacing fills every optional field; the audit entry comes with it.
    let full = Credentials {
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA".into(),
        password_changed_at: t(2),
        email_verified_at: Some(t(3)),
        totp_secret: Some("JBSWY3DPEHPK3PXP".into()),
        totp_enabled_at: Some(t(4)),
        totp_last_step: 56_666_667,
        recovery_codes: vec![hash("code-1"), hash("code-2"), hash("code-3")],
        ..bare.clone()
    };
    let entry = account_entry(AuditAction::TwoFactorEnabled, ann.id, t(4));
    store.put_credentials(&full, Some(&entry)).unwrap();
    assert_eq!(store.credentials(ann.id).unwrap(), Some(full.clone()));
    assert!(store.credentials(ann.id).unwrap().unwrap().two_factor_on());
    let trail = store.account_audit(ann.id, 10).unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(
        trail[0],
        AuditEntry {
            id: trail[0].id,
            ..entry
        }
    );

    // And back to empty optional fields.
    let off = Credentials {
        totp_secret: None,
        totp_enabled_at: None,
        email_verified_at: None,
        recovery_codes: vec![],
        ..full
    };
    store.put_credentials(&off, None).unwrap();
    assert_eq!(store.credentials(ann.id).unwrap(), Some(off));
    assert!(store.credentials(bob.id).unwrap().is_none());
}

pub fn sessions_lifecycle(store: &dyn Store) {
    let ann = new_account(store, "ann.sessions@example.org");
    let bob = new_account(store, "bob.sessions@example.org");
    let session = |seed: &str, account: AccountId| Session {
        id_hash: hash(seed),
        account,
        created_at: t(1),
        expires_at: t(86_400),
        last_seen_at: t(1),
        mfa_pending: true,
        user_agent: format!("Mozilla/5.0 ({seed})"),
    };
    let (s1, s2, s3) = (
        session("s1", ann.id),
        session("s2", ann.id),
        session("s3", bob.id),
    );
    for s in [&s1, &s2, &s3] {
        store.create_session(s).unwrap();
    }
    assert_eq!(store.session(&s1.id_hash).unwrap(), Some(s1.clone()));
    assert_eq!(store.session(&s3.id_hash).unwrap(), Some(s3.clone()));
    assert!(store.session(&hash("nope")).unwrap().is_none());

    let seen = Session {
        last_seen_at: t(60),
        expires_at: t(90_000),
        mfa_pending: false,
        ..s1.clone()
    };
    store.update_session(&seen).unwrap();
    assert_eq!(store.session(&s1.id_hash).unwrap(), Some(seen));

    store.delete_session(&s2.id_hash).unwrap();
    assert!(store.session(&s2.id_hash).unwrap().is_none());
    store.delete_session(&s2.id_hash).unwrap();

    assert_eq!(store.delete_sessions_of(ann.id).unwrap(), 1);
    assert!(store.session(&s1.id_hash).unwrap().is_none());
    assert_eq!(store.session(&s3.id_hash).unwrap(), Some(s3));
    assert_eq!(store.delete_sessions_of(ann.id).unwrap(), 0);
}

pub fn email_tokens_are_single_use(store: &dyn Store) {
    let ann = new_account(store, "ann.email@example.org");
    let verify = EmailToken {
        hash: hash("verify"),
        account: ann.id,
        purpose: EmailPurpose::Verify,
        created_at: t(1),
        expires_at: t(100),
        used_at: None,
    };
    store.put_email_token(&verify).unwrap();

    // The wrong purpose and the moment of expiry give nothing and leave the token usable.
    assert!(
        store
            .take_email_token(&verify.hash, EmailPurpose::Reset, t(2))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_email_token(&verify.hash, EmailPurpose::Verify, t(100))
            .unwrap()
            .is_none()
    );
    let taken = store
        .take_email_token(&verify.hash, EmailPurpose::Verify, t(5))
        .unwrap();
    assert_eq!(
        taken,
        Some(EmailToken {
            used_at: Some(t(5)),
            ..verify.clone()
        })
    );
    assert!(
        store
            .take_email_token(&verify.hash, EmailPurpose::Verify, t(6))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_email_token(&hash("unknown"), EmailPurpose::Verify, t(6))
            .unwrap()
            .is_none()
    );

    let reset = EmailToken {
        hash: hash("reset"),
        purpose: EmailPurpose::Reset,
        expires_at: t(10),
        ..verify
    };
    store.put_email_token(&reset).unwrap();
    assert!(
        store
            .take_email_token(&reset.hash, EmailPurpose::Reset, t(20))
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_email_token(&reset.hash, EmailPurpose::Reset, t(9))
            .unwrap()
            .is_some()
    );
}

pub fn signing_keys_newest_first(store: &dyn Store) {
    assert!(store.signing_keys().unwrap().is_empty());
    let key = |kid: &str, at: i64| {
        SigningKey {
        kid: kid.into(),
        alg: "RS256".into(),
        private_pem: format!("-----BEGIN PRIVATE KEY-----\n{kid}\n-----END PRIVATE KEY-----\n"),
        public_jwk: serde_json::from_str(&format!(
            r#"{{"kty":"RSA","kid":"{kid}","use":"sig","alg":"RS256","n":"0vx7agoebGcQSuuPiLJXZpt","e":"AQAB"}}"#
        ))
        .unwrap(),
        created_at: t(at),
    }
    };
    let (k1, k2, k3) = (key("k1", 1), key("k2", 3), key("k3", 2));
    for k in [&k1, &k2, &k3] {
        store.put_signing_key(k).unwrap();
    }
    assert_eq!(store.signing_keys().unwrap(), vec![k2, k3, k1]);
}

pub fn account_audit_is_account_level(store: &dyn Store) {
    let (ann, record) = new_record(store);
    let bob = new_account(store, "bob.audit@example.org");
    let append = |e: AuditEntry| AuditEntry {
        id: store.append_audit(&e).unwrap(),
        ..e
    };
    let first = append(account_entry(AuditAction::SignIn, ann.id, t(1)));
    append(record_entry(AuditAction::Read, ann.id, record.id, t(2)));
    append(account_entry(AuditAction::SignIn, bob.id, t(3)));
    append(audit(AuditAction::Read, None, t(4)));
    let failed = append(AuditEntry {
        outcome: AuditOutcome::Failure("wrong password".into()),
        ..account_entry(AuditAction::SignInFailed, ann.id, t(5))
    });

    assert_eq!(
        store.account_audit(ann.id, 10).unwrap(),
        vec![failed.clone(), first]
    );
    assert_eq!(store.account_audit(ann.id, 1).unwrap(), vec![failed]);
    assert_eq!(store.account_audit(bob.id, 10).unwrap().len(), 1);
    assert!(store.account_audit(AccountId::new(), 10).unwrap().is_empty());
}
