//! The one authorisation decision, table-driven: every combination of an app rule (create,
//! read, update or delete on three data types; online or offline; required or optional) × the
//! person's access to the record (view, modify, custodian) × the token being online or offline ×
//! the operation (read, create, update, delete) on items of the rule's type and of another type.
//! Expected: allowed exactly when the rule grants the operation on that type, the person's own
//! access allows it, and the rule covers the token's mode. Then: token scopes narrow further,
//! personal items stay invisible to apps, a revoked grant fails on the very next request, and
//! each app sees its own pseudonymous id for a person.

use std::sync::Arc;

use hearth_core::auth::apps::AppRegistration;
use hearth_core::auth::consent::ConsentAnswer;
use hearth_core::context::AppAccess;
use hearth_core::prepare::EnvelopeFields;
use hearth_core::{Context, ItemRequest, ServiceError, Services, WriteOutcome};
use hearth_domain::auth::{AppKind, AppRule, Perms, Scopes, TokenIssuer, TypeSet};
use hearth_domain::time::ManualClock;
use hearth_domain::{AccessLevel, AccountId, AppId, ItemFlags, ItemId, Record, Relationship, Timestamp};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;
use serde_json::{Value, json};

const TYPES: [&str; 3] = ["weight", "blood-pressure", "condition"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Read,
    Create,
    Update,
    Delete,
}

impl Op {
    const ALL: [Op; 4] = [Op::Read, Op::Create, Op::Update, Op::Delete];
    fn perm(self) -> Perms {
        match self {
            Op::Read => Perms::READ,
            Op::Create => Perms::CREATE,
            Op::Update => Perms::UPDATE,
            Op::Delete => Perms::DELETE,
        }
    }
}

struct Fx {
    svc: Services,
    record: Record,
    owner: AccountId,
    _dir: tempfile::TempDir,
}

fn setup() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(1_790_000_000_000_000)));
    let svc = Services::new(Arc::new(store), Arc::new(blobs), clock);
    let op = Context::operator();
    let owner = svc.create_account(&op, "owner@example.org", "Owner").unwrap();
    let record = svc
        .create_record(&op, owner.id, "Child", Relationship::Child, None)
        .unwrap();
    Fx {
        svc,
        record,
        owner: owner.id,
        _dir: dir,
    }
}

fn resource(fx: &Fx, data_type: &str) -> Value {
    let patient = format!("Patient/{}", fx.record.patient_item);
    match data_type {
        "weight" => json!({"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "subject": {"reference": patient}, "effectiveDateTime": "2026-01-01T08:00:00Z",
            "valueQuantity": {"value": 20.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
        "blood-pressure" => json!({"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": patient}, "effectiveDateTime": "2026-01-01T08:00:00Z",
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 110, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                 "valueQuantity": {"value": 70, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
        "condition" => json!({"resourceType": "Condition",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195662009"}]},
            "subject": {"reference": patient}}),
        other => panic!("no sample for {other}"),
    }
}

fn create(resource: Value) -> ItemRequest {
    ItemRequest::Create {
        id: None,
        resource,
        envelope: EnvelopeFields::default(),
    }
}

/// An item of `data_type` written by the operator.
fn seed(fx: &Fx, data_type: &str) -> ItemId {
    match fx
        .svc
        .write(
            &Context::operator(),
            fx.record.id,
            vec![create(resource(fx, data_type))],
        )
        .unwrap()
        .pop()
        .unwrap()
    {
        WriteOutcome::Created(m) => m.id,
        other => panic!("{other:?}"),
    }
}

fn register(fx: &Fx, id: &str, data_type: &str, perms: Perms, offline: bool, required: bool) {
    fx.svc
        .register_app(
            &Context::operator(),
            AppRegistration {
                client_id: Some(id.into()),
                name: format!("App {id}"),
                description: String::new(),
                logo_uri: None,
                redirect_uris: vec!["https://app.example/cb".into()],
                kind: AppKind::Public,
                token_endpoint_auth_method: None,
                jwks: None,
                rules: vec![AppRule {
                    name: "main".into(),
                    data_types: TypeSet::Only(vec![data_type.into()]),
                    permissions: perms,
                    offline,
                    required,
                    reason: "to test".into(),
                }],
            },
        )
        .unwrap();
}

fn app_ctx(app: &str, account: AccountId, record: &Record, online: bool, scope: &str) -> Context {
    Context::app(AppAccess {
        app: AppId(app.into()),
        account: Some(account),
        online,
        record: Some(record.id),
        scopes: Scopes::parse(scope).unwrap(),
        issuer: TokenIssuer::Consent,
    })
}

/// Performs `op` on an item of `data_type`; true when it succeeded, false when refused.
fn attempt(fx: &Fx, ctx: &Context, op: Op, data_type: &str) -> bool {
    let r = match op {
        Op::Read => {
            let id = seed(fx, data_type);
            fx.svc.read_one(ctx, fx.record.id, id).map(|_| ())
        }
        Op::Create => fx
            .svc
            .write(ctx, fx.record.id, vec![create(resource(fx, data_type))])
            .map(|_| ()),
        Op::Update => {
            let id = seed(fx, data_type);
            let mut changed = resource(fx, data_type);
            changed["note"] = json!([{"text": "changed"}]);
            fx.svc
                .write(
                    ctx,
                    fx.record.id,
                    vec![ItemRequest::Update {
                        id,
                        expected_version: None,
                        resource: changed,
                        envelope: EnvelopeFields::default(),
                    }],
                )
                .map(|_| ())
        }
        Op::Delete => {
            let id = seed(fx, data_type);
            fx.svc
                .write(
                    ctx,
                    fx.record.id,
                    vec![ItemRequest::Delete {
                        id,
                        expected_version: None,
                    }],
                )
                .map(|_| ())
        }
    };
    match r {
        Ok(()) => true,
        Err(ServiceError::Forbidden(_) | ServiceError::NotFound(_)) => false,
        Err(e) => panic!("{op:?} on {data_type}: unexpected error {e:?}"),
    }
}

#[test]
fn every_rule_times_access_times_mode_times_operation() {
    let fx = setup();
    let op = Context::operator();
    let mut people = Vec::new();
    for level in [AccessLevel::View, AccessLevel::Modify, AccessLevel::Custodian] {
        let a = fx
            .svc
            .create_account(&op, &format!("{level}@example.org"), &format!("{level}"))
            .unwrap();
        fx.svc
            .grant_access(&op, fx.record.id, a.id, Relationship::Parent, level)
            .unwrap();
        people.push((level, a.id));
    }
    let all_scopes = "launch/patient offline_access patient/*.cruds";
    let scopes = Scopes::parse(all_scopes).unwrap();
    let mut checked = 0;
    let mut allowed = 0;
    for (ti, data_type) in TYPES.iter().enumerate() {
        let other = TYPES[(ti + 1) % TYPES.len()];
        for rule_op in Op::ALL {
            for offline in [false, true] {
                for required in [false, true] {
                    let app = format!("{data_type}-{rule_op:?}-{offline}-{required}").to_lowercase();
                    register(&fx, &app, data_type, rule_op.perm(), offline, required);
                    for (level, person) in &people {
                        let answer = ConsentAnswer {
                            optional: if required { vec![] } else { vec!["main".into()] },
                        };
                        let may_grant = level.perms().contains(rule_op.perm());
                        let granted = fx.svc.grant_consent(
                            *person,
                            &AppId(app.clone()),
                            fx.record.id,
                            &scopes,
                            &answer,
                        );
                        assert_eq!(
                            granted.is_ok(),
                            may_grant,
                            "{app} by a {level}: consent {granted:?}"
                        );
                        for online in [true, false] {
                            let ctx = app_ctx(&app, *person, &fx.record, online, all_scopes);
                            for op in Op::ALL {
                                for t in [*data_type, other] {
                                    let expected =
                                        may_grant && op == rule_op && t == *data_type && (online || offline);
                                    let got = attempt(&fx, &ctx, op, t);
                                    assert_eq!(
                                        got, expected,
                                        "app rule {rule_op:?} on {data_type} (offline {offline}, required {required}), \
                                         person {level}, token online {online}: {op:?} on {t}"
                                    );
                                    checked += 1;
                                    allowed += usize::from(got);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // 3 types × 4 rule operations × 2 modes × 2 kinds × 3 levels × 2 token modes × 4 operations × 2 types.
    assert_eq!(checked, 2304);
    assert!(allowed > 0 && allowed < checked / 4, "{allowed} of {checked}");
}

#[test]
fn scopes_narrow_grants_and_personal_items_stay_hidden() {
    let fx = setup();
    register(&fx, "full", "weight", Perms::ALL, true, true);
    let scopes = Scopes::parse("patient/*.cruds").unwrap();
    fx.svc
        .grant_consent(
            fx.owner,
            &AppId("full".into()),
            fx.record.id,
            &scopes,
            &ConsentAnswer { optional: vec![] },
        )
        .unwrap();
    // A read-only weight scope: reading works, writing does not.
    let narrow = app_ctx(
        "full",
        fx.owner,
        &fx.record,
        true,
        "patient/Observation.rs?code=http://loinc.org|29463-7",
    );
    assert!(attempt(&fx, &narrow, Op::Read, "weight"));
    assert!(!attempt(&fx, &narrow, Op::Create, "weight"));
    assert!(!attempt(&fx, &narrow, Op::Read, "blood-pressure"));
    // Personal items are invisible to apps, even with full rules and scopes.
    let full = app_ctx("full", fx.owner, &fx.record, true, "patient/*.cruds");
    let personal = match fx
        .svc
        .write(
            &Context::person(fx.owner),
            fx.record.id,
            vec![ItemRequest::Create {
                id: None,
                resource: resource(&fx, "weight"),
                envelope: EnvelopeFields {
                    flags: ItemFlags {
                        personal: true,
                        read_only: false,
                    },
                    ..Default::default()
                },
            }],
        )
        .unwrap()
        .pop()
        .unwrap()
    {
        WriteOutcome::Created(m) => m.id,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        fx.svc.read_one(&full, fx.record.id, personal),
        Err(ServiceError::NotFound(_))
    ));
    let page = fx
        .svc
        .query(&full, fx.record.id, &hearth_domain::ItemQuery::default())
        .unwrap();
    assert!(!page.items.is_empty());
    assert!(
        page.items
            .iter()
            .all(|i| i.meta.id != personal && i.meta.data_type == "weight")
    );
    // Apps never purge, read the audit trail or manage access.
    assert!(matches!(
        fx.svc.purge(&full, fx.record.id, personal),
        Err(ServiceError::Forbidden(_))
    ));
}

#[test]
fn a_revoked_grant_fails_on_the_very_next_request() {
    let fx = setup();
    register(&fx, "reader", "weight", Perms::READ, false, true);
    let scopes = Scopes::parse("patient/*.rs").unwrap();
    let app = AppId("reader".into());
    fx.svc
        .grant_consent(
            fx.owner,
            &app,
            fx.record.id,
            &scopes,
            &ConsentAnswer { optional: vec![] },
        )
        .unwrap();
    let ctx = app_ctx("reader", fx.owner, &fx.record, true, "patient/*.rs");
    let id = seed(&fx, "weight");
    assert!(fx.svc.read_one(&ctx, fx.record.id, id).is_ok());
    let listed = fx.svc.record_apps(fx.owner, fx.record.id).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].grant.last_read_at.is_some(),
        "the read is noted on the grant"
    );
    fx.svc
        .revoke_consent(fx.owner, &app, fx.record.id, fx.owner)
        .unwrap();
    assert!(matches!(
        fx.svc.read_one(&ctx, fx.record.id, id),
        Err(ServiceError::Forbidden(_))
    ));
    assert!(fx.svc.record_apps(fx.owner, fx.record.id).unwrap().is_empty());
}

#[test]
fn a_viewer_cannot_grant_a_required_write_rule_and_reconsent_is_needed_when_rules_grow() {
    let fx = setup();
    let op = Context::operator();
    let viewer = fx.svc.create_account(&op, "v@example.org", "V").unwrap();
    fx.svc
        .grant_access(
            &op,
            fx.record.id,
            viewer.id,
            Relationship::Friend,
            AccessLevel::View,
        )
        .unwrap();
    register(
        &fx,
        "writer",
        "weight",
        Perms::WRITE.union(Perms::READ),
        false,
        true,
    );
    let scopes = Scopes::parse("patient/*.cruds").unwrap();
    let app = AppId("writer".into());
    // A viewer grants reading only: the required rule is capped to what they may do.
    let g = fx
        .svc
        .grant_consent(
            viewer.id,
            &app,
            fx.record.id,
            &scopes,
            &ConsentAnswer { optional: vec![] },
        )
        .unwrap();
    assert_eq!(g.rules[0].permissions, Perms::READ);
    // The owner grants it all; then the app adds a type to its required rule.
    fx.svc
        .grant_consent(
            fx.owner,
            &app,
            fx.record.id,
            &scopes,
            &ConsentAnswer { optional: vec![] },
        )
        .unwrap();
    let mut reg: AppRegistration = serde_json::from_value(json!({
        "name": "App writer", "kind": "public", "redirect_uris": ["https://app.example/cb"],
        "rules": [{"name": "main", "data_types": ["weight", "height"], "permissions": "crud", "reason": "more"}]
    }))
    .unwrap();
    reg.rules[0].required = true;
    fx.svc.update_app(&op, &app, reg).unwrap();
    let listed = fx.svc.record_apps(fx.owner, fx.record.id).unwrap();
    assert!(listed.iter().all(|a| a.needs_reconsent));
    let offer = fx
        .svc
        .consent_offer(fx.owner, &app, fx.record.id, &scopes)
        .unwrap();
    assert!(!offer.already_granted);
    // The old grant keeps working for the types it covered.
    let ctx = app_ctx("writer", fx.owner, &fx.record, true, "patient/*.cruds");
    assert!(attempt(&fx, &ctx, Op::Create, "weight"));
}

#[test]
fn each_app_sees_its_own_pseudonymous_person_id() {
    let fx = setup();
    let s = fx.svc.store();
    let a = s.app_subject(&AppId("a".into()), fx.owner).unwrap();
    let b = s.app_subject(&AppId("b".into()), fx.owner).unwrap();
    assert_ne!(a, b);
    assert_eq!(a, s.app_subject(&AppId("a".into()), fx.owner).unwrap());
    assert!(!a.contains(&fx.owner.to_string()));
}
