//! Sharing through the services on real stores (SQLite always; PostgreSQL too when
//! `HEARTH_TEST_POSTGRES_URL` is set), on a manual clock: invitations with types, expiry and
//! PIN; what a viewer may and may not do, the same through the FHIR API's token path; expiry on
//! the dot and its sweep; resend, cancel, decline, lock-out; the history of changes and audit
//! rights; hand-over; the last custodian; emergency codes.

#![allow(clippy::unwrap_used)]

#[path = "../../hearth-store-postgres/tests/common/mod.rs"]
mod pg;

use std::sync::{Arc, Mutex};

use hearth_core::auth::{AuthSettings, Mail, Mailer};
use hearth_core::sharing::invitations::InviteRequest;
use hearth_core::sharing::people::AccessChange;
use hearth_core::{Context, ItemRequest, ServiceError, Services};
use hearth_domain::audit::AuditFilter;
use hearth_domain::sharing::EmergencySection;
use hearth_domain::time::ManualClock;
use hearth_domain::{
    AccessLevel, AccountId, AuditAction, ItemId, ItemQuery, Record, Relationship, Timestamp,
};
use hearth_store::{LocalBlobStore, Store};
use serde_json::json;

/// Stands in for the SMTP relay: keeps what was sent.
#[derive(Default)]
struct Sent(Mutex<Vec<Mail>>);

impl Mailer for Sent {
    fn send(&self, mail: &Mail, _at: Timestamp) -> Result<(), String> {
        self.0.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

impl Sent {
    fn to(&self, who: &str) -> Vec<Mail> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to == who)
            .cloned()
            .collect()
    }
    /// The token of the last invitation link mailed to `who`.
    fn link_token(&self, who: &str) -> String {
        let mail = self
            .to(who)
            .into_iter()
            .rev()
            .find(|m| m.body.contains("/invitations/"))
            .unwrap();
        let at = mail.body.find("/invitations/").unwrap() + "/invitations/".len();
        mail.body[at..].split_whitespace().next().unwrap().to_string()
    }
}

struct Fx {
    svc: Services,
    clock: Arc<ManualClock>,
    sent: Arc<Sent>,
    ann: AccountId,
    bo: AccountId,
    record: Record,
    weight: ItemId,
    allergy: ItemId,
    _guards: (tempfile::TempDir, Option<pg::ScratchDb>),
}

const DAY: i64 = 86_400;

fn fixtures() -> Vec<(&'static str, Fx)> {
    let mut out = vec![("sqlite", fixture(false).unwrap())];
    if let Some(fx) = fixture(true) {
        out.push(("postgres", fx));
    }
    out
}

fn fixture(postgres: bool) -> Option<Fx> {
    let dir = tempfile::tempdir().unwrap();
    let (store, guard): (Arc<dyn Store>, _) = if postgres {
        let (guard, url) = pg::scratch()?;
        (
            Arc::new(hearth_store_postgres::PostgresStore::connect(&url).unwrap()),
            Some(guard),
        )
    } else {
        (
            Arc::new(hearth_store_sqlite::SqliteStore::open(dir.path().join("h.db")).unwrap()),
            None,
        )
    };
    let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
    let clock = Arc::new(ManualClock::new(
        Timestamp::parse_rfc3339("2026-11-01T09:00:00Z").unwrap(),
    ));
    let sent = Arc::new(Sent::default());
    let svc = Services::new(store, Arc::new(blobs), clock.clone()).with_auth(
        AuthSettings {
            public_url: "https://hearth.example".into(),
            ..AuthSettings::default()
        },
        sent.clone(),
    );
    let op = Context::operator();
    let ann = svc.create_account(&op, "ann@example.org", "Ann").unwrap().id;
    let bo = svc.create_account(&op, "bo@example.org", "Bo").unwrap().id;
    let record = svc
        .create_record(&op, ann, "Cleo", Relationship::Child, None)
        .unwrap();
    let out = svc
        .write(
            &Context::person(ann),
            record.id,
            vec![
                ItemRequest::Create {
                    id: None,
                    resource: json!({"resourceType": "Observation", "status": "final",
                        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                        "subject": {"reference": format!("Patient/{}", record.patient_item)},
                        "effectiveDateTime": "2026-10-01",
                        "valueQuantity": {"value": 18.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
                    envelope: Default::default(),
                },
                ItemRequest::Create {
                    id: None,
                    resource: json!({"resourceType": "AllergyIntolerance",
                        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
                        "code": {"text": "Peanuts"}, "criticality": "high",
                        "reaction": [{"manifestation": [{"text": "Anaphylaxis"}]}],
                        "patient": {"reference": format!("Patient/{}", record.patient_item)}}),
                    envelope: Default::default(),
                },
            ],
        )
        .unwrap();
    Some(Fx {
        weight: out[0].meta().id,
        allergy: out[1].meta().id,
        svc,
        clock,
        sent,
        ann,
        bo,
        record,
        _guards: (dir, guard),
    })
}

fn invite(
    fx: &Fx,
    email: &str,
    level: AccessLevel,
    types: Option<&[&str]>,
    days: i64,
    pin: Option<&str>,
) -> InviteRequest {
    InviteRequest {
        email: email.into(),
        name: "Bo".into(),
        relationship: Relationship::Guardian,
        level,
        data_types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
        access_expires_at: Some(fx.svc.now().plus_seconds(days * DAY)),
        audit: false,
        note: Some("For the school trip".into()),
        pin: pin.map(String::from),
        invitation_days: 7,
        hand_over: false,
    }
}

#[test]
fn a_viewer_of_chosen_types_sees_only_them_until_the_access_expires() {
    for (backend, fx) in fixtures() {
        let ann = Context::person(fx.ann);
        let bo = Context::person(fx.bo);
        let r = fx.record.id;
        fx.svc
            .invite(
                &ann,
                r,
                invite(
                    &fx,
                    "BO@example.org",
                    AccessLevel::View,
                    Some(&["weight"]),
                    3,
                    Some("4321"),
                ),
            )
            .unwrap();
        let mail = fx.sent.to("bo@example.org").pop().unwrap();
        assert!(
            mail.body.contains("Weight") && mail.body.contains("school trip") && mail.body.contains("PIN"),
            "{backend}: {}",
            mail.body
        );
        let token = fx.sent.link_token("bo@example.org");

        // Before accepting, Bo has nothing.
        assert!(
            matches!(
                fx.svc.query(&bo, r, &ItemQuery::default()),
                Err(ServiceError::NotFound(_))
            ),
            "{backend}"
        );
        let wrong = fx.svc.accept_invitation(fx.bo, &token, "0000").unwrap_err();
        assert!(
            matches!(&wrong, ServiceError::Invalid(i) if i[0].message.contains("4 tries left")),
            "{backend}: {wrong:?}"
        );
        assert_eq!(fx.svc.accept_invitation(fx.bo, &token, "4321").unwrap(), r);
        assert!(
            fx.sent
                .to("bo@example.org")
                .iter()
                .any(|m| m.subject.starts_with("Access granted")),
            "{backend}"
        );
        assert!(
            fx.sent
                .to("ann@example.org")
                .iter()
                .any(|m| m.subject.contains("accepted")),
            "{backend}"
        );

        // Bo sees weights only, cannot write, share or read the history.
        let page = fx.svc.query(&bo, r, &ItemQuery::default()).unwrap();
        let types: Vec<_> = page.items.iter().map(|i| i.meta.data_type.as_str()).collect();
        assert_eq!(types, vec!["weight"], "{backend}");
        assert!(
            fx.svc.read(&bo, r, &[fx.allergy]).unwrap().is_empty(),
            "{backend}"
        );
        assert_eq!(fx.svc.read(&bo, r, &[fx.weight]).unwrap().len(), 1, "{backend}");
        // Several queries at once (a page's sections): the same limits, one audited read.
        let audited = |f: &Fx| {
            let filter = AuditFilter {
                account: Some(f.bo),
                limit: 500,
                ..Default::default()
            };
            f.svc
                .history_of_changes(&Context::person(f.ann), r, &filter)
                .unwrap()
                .entries
                .len()
        };
        let before = audited(&fx);
        let by_type = |t: &str| ItemQuery {
            data_types: vec![t.into()],
            ..Default::default()
        };
        let pages = fx
            .svc
            .query_each(&bo, r, &[by_type("weight"), by_type("allergy")])
            .unwrap();
        assert_eq!((pages[0].items.len(), pages[1].items.len()), (1, 0), "{backend}");
        assert_eq!(audited(&fx), before + 1, "{backend}");
        let write = fx.svc.write(
            &bo,
            r,
            vec![ItemRequest::Delete {
                id: fx.weight,
                expected_version: None,
            }],
        );
        assert!(
            matches!(write, Err(ServiceError::Forbidden(_))),
            "{backend}: {write:?}"
        );
        assert!(
            matches!(fx.svc.record_people(&bo, r), Err(ServiceError::Forbidden(_))),
            "{backend}"
        );
        assert!(
            matches!(
                fx.svc.history_of_changes(&bo, r, &AuditFilter::default()),
                Err(ServiceError::Forbidden(_))
            ),
            "{backend}"
        );
        assert!(
            matches!(fx.svc.history(&bo, r, fx.weight), Err(ServiceError::Forbidden(_))),
            "{backend}"
        );

        // The FHIR API's token path for Bo reaches exactly the same.
        let (t, _) = fx
            .svc
            .issue_operator_token(&Context::operator(), None, Some(fx.bo), "user/*.cruds", 600 * DAY)
            .unwrap();
        let app = fx.svc.resolve_bearer(&t).unwrap().0;
        assert!(
            fx.svc
                .fhir_read(&app, "Observation", &fx.weight.to_string())
                .is_ok(),
            "{backend}"
        );
        assert!(
            fx.svc
                .fhir_read(&app, "AllergyIntolerance", &fx.allergy.to_string())
                .is_err(),
            "{backend}"
        );

        // Three days later, to the microsecond, it stops.
        let now = fx.svc.now();
        let expiry = fx
            .svc
            .accesses(&ann, r)
            .unwrap()
            .into_iter()
            .find(|a| a.account_id == fx.bo)
            .unwrap()
            .expires_at
            .unwrap();
        fx.clock.set(Timestamp(expiry.0 - 10));
        assert!(
            fx.svc.read(&bo, r, &[fx.weight]).is_ok(),
            "{backend}: still in force just before"
        );
        fx.clock.set(expiry);
        assert!(
            matches!(fx.svc.read(&bo, r, &[fx.weight]), Err(ServiceError::NotFound(_))),
            "{backend}"
        );
        assert!(
            fx.svc
                .fhir_read(&app, "Observation", &fx.weight.to_string())
                .is_err(),
            "{backend}"
        );
        assert!(fx.svc.live_records_of(fx.bo).unwrap().is_empty(), "{backend}");
        assert!(now < expiry);
        // The sweep removes it and tells Bo and the custodians.
        assert_eq!(fx.svc.sweep_expired_access().unwrap(), 1, "{backend}");
        assert_eq!(fx.svc.sweep_expired_access().unwrap(), 0, "{backend}");
        assert!(
            fx.sent
                .to("bo@example.org")
                .iter()
                .any(|m| m.subject.starts_with("Access expired")),
            "{backend}"
        );
        assert!(
            fx.sent
                .to("ann@example.org")
                .iter()
                .any(|m| m.subject.starts_with("Access expired")),
            "{backend}"
        );
        let trail = fx
            .svc
            .history_of_changes(&ann, r, &AuditFilter::default())
            .unwrap();
        let actions: Vec<_> = trail.entries.iter().map(|e| e.entry.action).collect();
        for a in [
            AuditAction::InvitationSent,
            AuditAction::InvitationPinFailed,
            AuditAction::InvitationAccepted,
            AuditAction::AccessExpired,
        ] {
            assert!(actions.contains(&a), "{backend}: {a:?} in {actions:?}");
        }
        // Filtered by person and data type.
        let bo_reads = fx
            .svc
            .history_of_changes(
                &ann,
                r,
                &AuditFilter {
                    account: Some(fx.bo),
                    data_type: Some("weight".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(!bo_reads.entries.is_empty(), "{backend}");
        assert!(
            bo_reads
                .entries
                .iter()
                .all(|e| e.person == "Bo" && e.entry.data_types.contains(&"weight".to_string())),
            "{backend}"
        );
    }
}

#[test]
fn invitations_are_resent_cancelled_declined_and_locked() {
    for (backend, fx) in fixtures() {
        let ann = Context::person(fx.ann);
        let r = fx.record.id;
        // Expiry is required below custodian; unknown types are refused.
        let mut req = invite(&fx, "bo@example.org", AccessLevel::Modify, None, 3, None);
        req.access_expires_at = None;
        assert!(
            matches!(fx.svc.invite(&ann, r, req), Err(ServiceError::Invalid(_))),
            "{backend}"
        );
        let bad = invite(
            &fx,
            "bo@example.org",
            AccessLevel::View,
            Some(&["no-such-type"]),
            3,
            None,
        );
        assert!(
            matches!(fx.svc.invite(&ann, r, bad), Err(ServiceError::Invalid(_))),
            "{backend}"
        );

        let inv = fx
            .svc
            .invite(
                &ann,
                r,
                invite(&fx, "bo@example.org", AccessLevel::View, None, 3, None),
            )
            .unwrap();
        let first = fx.sent.link_token("bo@example.org");
        fx.svc.resend_invitation(&ann, r, inv.id).unwrap();
        let second = fx.sent.link_token("bo@example.org");
        assert_ne!(first, second, "{backend}");
        assert!(
            matches!(fx.svc.invitation_by_link(&first), Err(ServiceError::NotFound(_))),
            "{backend}: the old link stops working"
        );
        // Only the invited address may answer.
        let eve = fx
            .svc
            .create_account(&Context::operator(), "eve@example.org", "Eve")
            .unwrap()
            .id;
        assert!(
            matches!(
                fx.svc.accept_invitation(eve, &second, ""),
                Err(ServiceError::Forbidden(_))
            ),
            "{backend}"
        );
        fx.svc.cancel_invitation(&ann, r, inv.id).unwrap();
        assert!(
            matches!(
                fx.svc.accept_invitation(fx.bo, &second, ""),
                Err(ServiceError::Conflict(_))
            ),
            "{backend}"
        );

        // Declined.
        fx.svc
            .invite(
                &ann,
                r,
                invite(&fx, "bo@example.org", AccessLevel::View, None, 3, None),
            )
            .unwrap();
        let t = fx.sent.link_token("bo@example.org");
        fx.svc.decline_invitation(fx.bo, &t).unwrap();
        assert!(
            fx.sent
                .to("ann@example.org")
                .iter()
                .any(|m| m.subject.contains("declined")),
            "{backend}"
        );
        assert!(fx.svc.live_records_of(fx.bo).unwrap().is_empty(), "{backend}");

        // Five wrong PINs lock it (the throttle also slows them down; the clock moves on).
        fx.svc
            .invite(
                &ann,
                r,
                invite(&fx, "bo@example.org", AccessLevel::View, None, 3, Some("2468")),
            )
            .unwrap();
        let t = fx.sent.link_token("bo@example.org");
        for _ in 0..5 {
            let _ = fx.svc.accept_invitation(fx.bo, &t, "1111");
            fx.clock.advance_seconds(20 * 60);
        }
        assert!(
            matches!(
                fx.svc.accept_invitation(fx.bo, &t, "2468"),
                Err(ServiceError::Conflict(_))
            ),
            "{backend}"
        );
        assert!(
            fx.sent
                .to("ann@example.org")
                .iter()
                .any(|m| m.subject.contains("locked")),
            "{backend}"
        );

        // An invitation expires.
        fx.svc
            .invite(
                &ann,
                r,
                invite(&fx, "bo@example.org", AccessLevel::View, None, 30, None),
            )
            .unwrap();
        let t = fx.sent.link_token("bo@example.org");
        fx.clock.advance_seconds(8 * DAY);
        assert!(
            matches!(
                fx.svc.accept_invitation(fx.bo, &t, ""),
                Err(ServiceError::Conflict(_))
            ),
            "{backend}"
        );

        // An inviter sends 20 invitation mails an hour freely; the next one must wait.
        let mut sent = 0;
        let refused = loop {
            let to = format!("guest{sent}@example.org");
            match fx
                .svc
                .invite(&ann, r, invite(&fx, &to, AccessLevel::View, None, 3, None))
            {
                Ok(_) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent <= 20, "{backend}: no limit");
        };
        assert_eq!(sent, 20, "{backend}");
        assert!(
            matches!(refused, ServiceError::Throttled { .. }),
            "{backend}: {refused:?}"
        );
        fx.clock.advance_seconds(2 * 60 * 60);
        assert!(
            fx.svc
                .invite(
                    &ann,
                    r,
                    invite(&fx, "late@example.org", AccessLevel::View, None, 3, None)
                )
                .is_ok()
        );
    }
}

#[test]
fn custodians_change_access_hand_over_and_keep_a_custodian() {
    for (backend, fx) in fixtures() {
        let ann = Context::person(fx.ann);
        let bo = Context::person(fx.bo);
        let r = fx.record.id;
        // Bo as a view-and-modify sharee with audit rights.
        let mut req = invite(&fx, "bo@example.org", AccessLevel::Modify, None, 10, None);
        req.audit = true;
        fx.svc.invite(&ann, r, req).unwrap();
        fx.svc
            .accept_invitation(fx.bo, &fx.sent.link_token("bo@example.org"), "")
            .unwrap();
        assert!(
            fx.svc.history_of_changes(&bo, r, &AuditFilter::default()).is_ok(),
            "{backend}: audit rights"
        );
        assert!(
            matches!(fx.svc.record_people(&bo, r), Err(ServiceError::Forbidden(_))),
            "{backend}"
        );
        // Ann narrows Bo to allergies, without audit.
        fx.svc
            .change_access(
                &ann,
                r,
                fx.bo,
                AccessChange {
                    level: AccessLevel::View,
                    data_types: Some(vec!["allergy".into()]),
                    expires_at: Some(fx.svc.now().plus_seconds(DAY)),
                    audit: false,
                },
            )
            .unwrap();
        assert!(
            fx.sent
                .to("bo@example.org")
                .iter()
                .any(|m| m.subject.starts_with("Access changed")),
            "{backend}"
        );
        assert!(
            matches!(
                fx.svc.history_of_changes(&bo, r, &AuditFilter::default()),
                Err(ServiceError::Forbidden(_))
            ),
            "{backend}"
        );
        assert!(fx.svc.read(&bo, r, &[fx.weight]).unwrap().is_empty(), "{backend}");
        // The last custodian can be neither demoted nor removed.
        let demote = fx.svc.change_access(
            &ann,
            r,
            fx.ann,
            AccessChange {
                level: AccessLevel::View,
                data_types: None,
                expires_at: Some(fx.svc.now().plus_seconds(DAY)),
                audit: false,
            },
        );
        assert!(
            matches!(demote, Err(ServiceError::Conflict(_))),
            "{backend}: {demote:?}"
        );
        assert!(
            matches!(
                fx.svc.remove_access(&ann, r, fx.ann),
                Err(ServiceError::Conflict(_))
            ),
            "{backend}"
        );
        // Hand-over to Cleo herself: she becomes custodian, Ann's access ends.
        let cleo = fx
            .svc
            .create_account(&Context::operator(), "cleo@example.org", "Cleo")
            .unwrap()
            .id;
        let mut hand = invite(&fx, "cleo@example.org", AccessLevel::Custodian, None, 0, None);
        hand.hand_over = true;
        fx.svc.invite(&ann, r, hand).unwrap();
        fx.svc
            .accept_invitation(cleo, &fx.sent.link_token("cleo@example.org"), "")
            .unwrap();
        let people = fx.svc.record_people(&Context::person(cleo), r).unwrap();
        assert!(
            people.iter().any(|p| p.access.account_id == cleo
                && p.access.is_custodian()
                && p.access.relationship == Relationship::SelfRecord),
            "{backend}"
        );
        assert!(!people.iter().any(|p| p.access.account_id == fx.ann), "{backend}");
        assert!(
            matches!(fx.svc.read(&ann, r, &[fx.weight]), Err(ServiceError::NotFound(_))),
            "{backend}"
        );
        // Cleo removes Bo; Bo is told.
        fx.svc.remove_access(&Context::person(cleo), r, fx.bo).unwrap();
        assert!(
            fx.sent
                .to("bo@example.org")
                .iter()
                .any(|m| m.subject.starts_with("Access removed")),
            "{backend}"
        );
    }
}

#[test]
fn emergency_codes_open_the_chosen_profile_and_are_audited() {
    for (backend, fx) in fixtures() {
        let ann = Context::person(fx.ann);
        let r = fx.record.id;
        fx.svc
            .set_emergency_profile(
                &ann,
                r,
                vec![EmergencySection::Allergies, EmergencySection::BloodType],
                Some("EpiPen in the bag".into()),
            )
            .unwrap();
        let (code, typed) = fx.svc.create_emergency_code(&ann, r).unwrap();
        // Typed carelessly: lower case, spaces instead of dashes.
        let view = fx
            .svc
            .open_emergency(&typed.to_lowercase().replace('-', " "), "203.0.113.9")
            .unwrap();
        assert_eq!(view.blocks.len(), 2, "{backend}");
        assert_eq!(
            view.blocks[0].lines,
            vec!["Peanuts: Anaphylaxis (criticality high)".to_string()],
            "{backend}"
        );
        assert_eq!(view.note.as_deref(), Some("EpiPen in the bag"));
        let used = fx
            .svc
            .history_of_changes(
                &ann,
                r,
                &AuditFilter {
                    action: Some(AuditAction::EmergencyAccess),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(used.entries.len(), 1, "{backend}");
        assert_eq!(
            used.entries[0].entry.items.len(),
            1,
            "{backend}: the allergy shown"
        );
        assert!(
            fx.sent
                .to("ann@example.org")
                .iter()
                .any(|m| m.subject.starts_with("Emergency access used") && m.body.contains(&code.hint)),
            "{backend}: {:?}",
            fx.sent.to("ann@example.org")
        );
        // Wrong codes are throttled per address: five free, then waits.
        for _ in 0..6 {
            assert!(
                matches!(
                    fx.svc.open_emergency("AAAA-AAAA-AAAA-AAAA", "198.51.100.7"),
                    Err(ServiceError::Invalid(_))
                ),
                "{backend}"
            );
        }
        assert!(
            matches!(
                fx.svc.open_emergency(&typed, "198.51.100.7"),
                Err(ServiceError::Throttled { .. })
            ),
            "{backend}"
        );
        // A revoked code stops at once, and its use is recorded as refused.
        fx.svc.revoke_emergency_code(&ann, r, code.id).unwrap();
        assert!(
            matches!(
                fx.svc.open_emergency(&typed, "203.0.113.9"),
                Err(ServiceError::Invalid(_))
            ),
            "{backend}"
        );
        let refused = fx
            .svc
            .history_of_changes(
                &ann,
                r,
                &AuditFilter {
                    action: Some(AuditAction::EmergencyAccessFailed),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(refused.entries.len(), 1, "{backend}");
        // Only custodians manage it.
        let bo = Context::person(fx.bo);
        assert!(fx.svc.create_emergency_code(&bo, r).is_err(), "{backend}");
    }
}
