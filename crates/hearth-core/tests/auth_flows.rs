//! Sign-in and token flows through the services on a real SQLite store with a manual clock:
//! expiry of codes, access tokens and sessions on the dot, refresh rotation, operator tokens,
//! app self-removal, and the audit of every step (account log and record trail).

use std::sync::Arc;

use base64::Engine;
use hearth_core::auth::apps::{AppRegistration, ClientCredentials};
use hearth_core::auth::consent::ConsentAnswer;
use hearth_core::auth::oauth::AuthorizeParams;
use hearth_core::auth::{AuthSettings, OutboxMailer};
use hearth_core::{Context, ServiceError, Services};
use hearth_domain::audit::AuditFilter;
use hearth_domain::auth::Scopes;
use hearth_domain::time::ManualClock;
use hearth_domain::{AccountId, AppId, AuditAction, RecordId, Timestamp};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;
use sha2::Digest;

const PASSWORD: &str = "plum-kettle-orbit-7-sandal";
const VERIFIER: &str = "a-verifier-of-more-than-forty-three-characters-0123456789";

struct Fx {
    svc: Services,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

fn setup() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(1_790_000_000_000_000)));
    let mailer = OutboxMailer::new(dir.path().join("outbox"), "Hearth <h@example.org>".into()).unwrap();
    let svc = Services::new(Arc::new(store), Arc::new(blobs), clock.clone()).with_auth(
        AuthSettings {
            public_url: "https://hearth.example".into(),
            ..AuthSettings::default()
        },
        Arc::new(mailer),
    );
    Fx { svc, clock, dir }
}

/// The token in the newest mail's link.
fn mailed_token(fx: &Fx, path: &str) -> String {
    let mut mails: Vec<_> = std::fs::read_dir(fx.dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    mails.sort();
    let text = std::fs::read_to_string(mails.last().unwrap()).unwrap();
    let at = text.find(&format!("{path}?token=")).expect("a link in the mail") + path.len() + 7;
    text[at..].split_whitespace().next().unwrap().to_string()
}

fn signed_up(fx: &Fx) -> (AccountId, RecordId) {
    fx.svc
        .sign_up("ann@example.org", "Ann", PASSWORD, "10.0.0.1")
        .unwrap();
    let account = fx.svc.verify_email(&mailed_token(fx, "/verify-email")).unwrap();
    let record = fx.svc.list_records(Some(account.id)).unwrap()[0].0.id;
    (account.id, record)
}

fn register(fx: &Fx) -> AppId {
    let reg: AppRegistration = serde_json::from_value(serde_json::json!({
        "client_id": "growth", "name": "Growth", "kind": "public",
        "redirect_uris": ["https://growth.example/cb"],
        "rules": [{"name": "m", "data_types": ["weight"], "permissions": "crs", "offline": true,
                   "required": true, "reason": "charts"}]
    }))
    .unwrap();
    fx.svc.register_app(&Context::operator(), reg).unwrap().app.id
}

fn challenge() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

/// Consent and a code, as the consent page does it; returns the code.
fn code_for(fx: &Fx, account: AccountId, record: RecordId, scope: &str) -> String {
    let req = fx
        .svc
        .check_authorize(&AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some("growth".into()),
            redirect_uri: Some("https://growth.example/cb".into()),
            scope: Some(scope.into()),
            state: Some("xyz".into()),
            code_challenge: Some(challenge()),
            code_challenge_method: Some("S256".into()),
            nonce: None,
            aud: Some("https://hearth.example/fhir".into()),
        })
        .unwrap_or_else(|e| panic!("{e:?}"));
    let grant = fx
        .svc
        .grant_consent(
            account,
            &req.app.id,
            record,
            &req.scopes,
            &ConsentAnswer { optional: vec![] },
        )
        .unwrap();
    let url = fx.svc.issue_code(account, &req, record, &grant).unwrap();
    let q = url.split_once('?').unwrap().1;
    assert!(q.contains("state=xyz") && q.contains("iss=https%3A%2F%2Fhearth.example"));
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .to_string()
}

fn public() -> ClientCredentials {
    ClientCredentials {
        client_id: Some("growth".into()),
        ..Default::default()
    }
}

#[test]
fn codes_tokens_and_sessions_expire_on_the_dot_and_everything_is_audited() {
    let fx = setup();
    let (account, record) = signed_up(&fx);
    register(&fx);
    let session = fx
        .svc
        .sign_in("ann@example.org", PASSWORD, "10.0.0.1", "test")
        .unwrap();
    assert!(fx.svc.session(&session.token).unwrap().is_some());

    // A code lives 60 seconds.
    let code = code_for(
        &fx,
        account,
        record,
        "launch/patient offline_access patient/Observation.rs",
    );
    fx.clock.advance_seconds(60);
    let err = fx
        .svc
        .exchange_code(&public(), &code, None, Some(VERIFIER))
        .unwrap_err();
    assert_eq!(err.error, "invalid_grant");

    let code = code_for(
        &fx,
        account,
        record,
        "launch/patient offline_access patient/Observation.rs",
    );
    fx.clock.advance_seconds(59);
    let t = fx
        .svc
        .exchange_code(
            &public(),
            &code,
            Some("https://growth.example/cb"),
            Some(VERIFIER),
        )
        .unwrap();
    assert!(t.refresh_token.is_some() && t.patient.is_some());
    assert!(Scopes::parse(&t.scope).unwrap().offline_access);
    let (ctx, _) = fx.svc.resolve_bearer(&t.access_token).unwrap();
    assert!(fx.svc.records_for(&ctx).unwrap() == vec![record]);

    // An access token lives an hour; the refresh token then gives a new, offline one.
    fx.clock.advance_seconds(3599);
    assert!(fx.svc.resolve_bearer(&t.access_token).is_ok());
    fx.clock.advance_seconds(1);
    assert!(matches!(
        fx.svc.resolve_bearer(&t.access_token),
        Err(ServiceError::Unauthenticated(_))
    ));
    let r = fx
        .svc
        .refresh(&public(), t.refresh_token.as_deref().unwrap(), None)
        .unwrap();
    let (ctx, rec) = fx.svc.resolve_bearer(&r.access_token).unwrap();
    assert!(!rec.online, "a refreshed token acts offline");
    assert!(fx.svc.records_for(&ctx).is_ok());

    // The session ended after an hour without requests.
    assert!(fx.svc.session(&session.token).unwrap().is_none());

    // The app removes its own authorisation: the grant and the token family end.
    assert_eq!(fx.svc.app_removes_authorisation(&ctx, &rec.family).unwrap(), 1);
    assert!(fx.svc.resolve_bearer(&r.access_token).is_err());
    let err = fx
        .svc
        .refresh(&public(), r.refresh_token.as_deref().unwrap(), None)
        .unwrap_err();
    assert_eq!(err.error, "invalid_grant");

    // The account's own log and the record's trail.
    let log: Vec<AuditAction> = fx
        .svc
        .security_log(account, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        AuditAction::SignUp,
        AuditAction::EmailVerified,
        AuditAction::SignIn,
    ] {
        assert!(log.contains(&a), "{a:?} missing from {log:?}");
    }
    let trail: Vec<AuditAction> = fx
        .svc
        .audit_trail(&Context::person(account), record, &AuditFilter::default())
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        AuditAction::ConsentGranted,
        AuditAction::ConsentChanged,
        AuditAction::TokenIssued,
        AuditAction::TokenRefreshed,
        AuditAction::TokenRevoked,
        AuditAction::ConsentRevoked,
    ] {
        assert!(trail.contains(&a), "{a:?} missing from {trail:?}");
    }
}

#[test]
fn wrong_passwords_are_throttled_alike_for_known_and_unknown_emails() {
    let fx = setup();
    signed_up(&fx);
    for email in ["ann@example.org", "nobody@example.org"] {
        for _ in 0..5 {
            let e = fx
                .svc
                .sign_in(email, "wrong-password-here", "10.0.0.2", "t")
                .unwrap_err();
            assert!(
                matches!(e, ServiceError::Unauthenticated(ref m) if m == hearth_core::auth::accounts::SIGN_IN_FAILED)
            );
        }
        let e = fx
            .svc
            .sign_in(email, "wrong-password-here", "10.0.0.2", "t")
            .unwrap_err();
        assert!(matches!(e, ServiceError::Unauthenticated(_)));
        // Now locked: even the right password waits.
        let e = fx.svc.sign_in(email, PASSWORD, "10.0.0.2", "t").unwrap_err();
        assert!(
            matches!(e, ServiceError::Throttled { retry_after_secs: 1 }),
            "{e:?}"
        );
    }
    fx.clock.advance_seconds(2);
    assert!(
        fx.svc
            .sign_in("ann@example.org", PASSWORD, "10.0.0.2", "t")
            .is_ok()
    );
    let log = fx
        .svc
        .security_log(
            fx.svc.account_by_email("ann@example.org").unwrap().unwrap().id,
            100,
        )
        .unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::SignInFailed)
            .count(),
        6
    );
}

#[test]
fn operator_tokens_are_confined_audited_and_revocable() {
    let fx = setup();
    let (account, record) = signed_up(&fx);
    let op = Context::operator();
    let (token, rec) = fx
        .svc
        .issue_operator_token(&op, Some(record), None, "patient/*.rs", 600)
        .unwrap();
    assert_eq!(rec.record, Some(record));
    let (ctx, _) = fx.svc.resolve_bearer(&token).unwrap();
    assert!(fx.svc.query(&ctx, record, &Default::default()).is_ok());
    // Patient scopes need a record, user scopes an account.
    assert!(
        fx.svc
            .issue_operator_token(&op, None, Some(account), "patient/*.rs", 600)
            .is_err()
    );
    assert!(
        fx.svc
            .issue_operator_token(&Context::person(account), Some(record), None, "patient/*.rs", 600)
            .is_err()
    );
    assert!(fx.svc.revoke_as_operator(&op, &token).unwrap());
    assert!(fx.svc.resolve_bearer(&token).is_err());
    let trail = fx
        .svc
        .audit_trail(&Context::person(account), record, &AuditFilter::default())
        .unwrap();
    assert!(trail.iter().any(|e| e.action == AuditAction::TokenIssued));
    assert!(trail.iter().any(|e| e.action == AuditAction::TokenRevoked));
    // An admin key is not a data token, and a data token is not an admin key.
    let key = fx.svc.issue_admin_key(&op, 600).unwrap();
    assert!(fx.svc.resolve_bearer(&key).is_err());
    assert!(fx.svc.resolve_admin_key(&key).is_ok());
    assert!(fx.svc.resolve_admin_key(&token).is_err());
}
