//! Conformance cases for [`crate::SharingStore`]: per-type expiring accesses, invitations and
//! their atomic acceptance, the expiry query, emergency profiles and codes, and their removal
//! with the record.

use hearth_domain::audit::AuditFilter;
use hearth_domain::sharing::{
    EmergencyCode, EmergencyProfile, EmergencySection, Invitation, InvitationStatus,
};
use hearth_domain::{Access, AccessLevel, AuditAction, EmergencyCodeId, InvitationId, Relationship};

use super::{audit, new_account, new_record, t};
use crate::{Store, StoreError};

fn invitation(record: hearth_domain::RecordId, by: hearth_domain::AccountId, token: &str) -> Invitation {
    Invitation {
        id: InvitationId::new(),
        record,
        invited_by: by,
        email: "bo@example.org".into(),
        name: "Bo".into(),
        relationship: Relationship::Spouse,
        level: AccessLevel::View,
        data_types: Some(vec!["weight".into(), "allergy".into()]),
        access_expires_at: Some(t(5000)),
        audit: false,
        note: Some("for the trip".into()),
        pin_hash: None,
        pin_failures: 0,
        token_hash: token.into(),
        hand_over: false,
        created_at: t(10),
        sent_at: t(10),
        expires_at: t(1000),
        status: InvitationStatus::Pending,
        answered_at: None,
        answered_by: None,
    }
}

pub fn sharing_accesses_round_trip_and_expire(store: &dyn Store) {
    let (_owner, record) = new_record(store);
    let viewer = new_account(store, "viewer@example.org");
    let mut access = Access::new(
        record.id,
        viewer.id,
        Relationship::Friend,
        AccessLevel::View,
        t(1),
    );
    access.data_types = Some(vec!["weight".into(), "blood-pressure".into()]);
    access.expires_at = Some(t(100));
    access.audit = true;
    store
        .put_access(&access, &audit(AuditAction::GrantAccess, Some(record.id), t(1)))
        .unwrap();
    let got = store.accesses(record.id).unwrap();
    assert!(got.contains(&access), "{got:?}");
    let (_, mine) = store
        .records_of(viewer.id)
        .unwrap()
        .into_iter()
        .find(|(r, _)| r.id == record.id)
        .unwrap();
    assert_eq!(mine, access);
    assert!(store.expired_accesses(t(99), 10).unwrap().is_empty());
    assert_eq!(store.expired_accesses(t(100), 10).unwrap(), vec![access.clone()]);
    // Widening to every type, no expiry.
    let mut wide = access.clone();
    wide.data_types = None;
    wide.expires_at = None;
    store
        .put_access(&wide, &audit(AuditAction::ChangeAccess, Some(record.id), t(2)))
        .unwrap();
    assert!(store.accesses(record.id).unwrap().contains(&wide));
    assert!(store.expired_accesses(t(1_000_000), 10).unwrap().is_empty());
    // The audit trail filters by data type.
    let mut named = audit(AuditAction::Read, Some(record.id), t(3));
    named.data_types = vec!["weight".into()];
    store.append_audit(&named).unwrap();
    let found = store
        .audit_trail(
            record.id,
            &AuditFilter {
                data_type: Some("weight".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].action, AuditAction::Read);
}

pub fn invitations_are_accepted_once(store: &dyn Store) {
    let (owner, record) = new_record(store);
    let invitee = new_account(store, "bo@example.org");
    let mut inv = invitation(record.id, owner.id, "hash-1");
    store
        .put_invitation(
            &inv,
            Some(&audit(AuditAction::InvitationSent, Some(record.id), t(10))),
        )
        .unwrap();
    assert_eq!(store.invitation(inv.id).unwrap(), Some(inv.clone()));
    assert_eq!(store.invitation_by_token("hash-1").unwrap(), Some(inv.clone()));
    assert_eq!(store.invitation_by_token("nope").unwrap(), None);
    // Resending replaces the token.
    inv.token_hash = "hash-2".into();
    inv.sent_at = t(20);
    store.put_invitation(&inv, None).unwrap();
    assert_eq!(store.invitation_by_token("hash-1").unwrap(), None);
    assert_eq!(store.invitation_by_token("hash-2").unwrap(), Some(inv.clone()));
    let other = invitation(record.id, owner.id, "hash-3");
    let other = Invitation {
        created_at: t(30),
        ..other
    };
    store.put_invitation(&other, None).unwrap();
    let listed: Vec<_> = store
        .invitations_of_record(record.id)
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, vec![other.id, inv.id], "newest first");

    let mut accepted = inv.clone();
    accepted.status = InvitationStatus::Accepted;
    accepted.answered_at = Some(t(40));
    accepted.answered_by = Some(invitee.id);
    let mut access = Access::new(record.id, invitee.id, inv.relationship, inv.level, t(40));
    access.data_types = inv.data_types.clone();
    access.expires_at = inv.access_expires_at;
    let entry = audit(AuditAction::InvitationAccepted, Some(record.id), t(40));
    assert!(store.accept_invitation(&accepted, &access, None, &entry).unwrap());
    assert!(store.accesses(record.id).unwrap().contains(&access));
    assert_eq!(
        store.invitation(inv.id).unwrap().unwrap().status,
        InvitationStatus::Accepted
    );
    // A second acceptance changes nothing.
    let mut again = access.clone();
    again.level = AccessLevel::Modify;
    assert!(!store.accept_invitation(&accepted, &again, None, &entry).unwrap());
    assert!(store.accesses(record.id).unwrap().contains(&access));

    // A hand-over: the invitee becomes custodian and the inviter's access ends, atomically.
    let mut hand = invitation(record.id, owner.id, "hash-4");
    hand.level = AccessLevel::Custodian;
    hand.hand_over = true;
    store.put_invitation(&hand, None).unwrap();
    let mut done = hand.clone();
    done.status = InvitationStatus::Accepted;
    let custodian = Access::new(
        record.id,
        invitee.id,
        Relationship::SelfRecord,
        AccessLevel::Custodian,
        t(50),
    );
    assert!(
        store
            .accept_invitation(&done, &custodian, Some(owner.id), &entry)
            .unwrap()
    );
    let now: Vec<_> = store.accesses(record.id).unwrap();
    assert_eq!(now, vec![custodian.clone()]);

    // Acceptance that would leave no custodian is refused whole.
    let mut down = invitation(record.id, owner.id, "hash-5");
    down.level = AccessLevel::View;
    store.put_invitation(&down, None).unwrap();
    let mut down_done = down.clone();
    down_done.status = InvitationStatus::Accepted;
    let demoted = Access::new(
        record.id,
        invitee.id,
        Relationship::SelfRecord,
        AccessLevel::View,
        t(60),
    );
    let err = store
        .accept_invitation(&down_done, &demoted, None, &entry)
        .unwrap_err();
    assert!(matches!(err, StoreError::LastCustodian), "{err:?}");
    assert_eq!(
        store.invitation(down.id).unwrap().unwrap().status,
        InvitationStatus::Pending
    );
    assert_eq!(store.accesses(record.id).unwrap(), vec![custodian]);
}

pub fn emergency_profiles_and_codes(store: &dyn Store) {
    let (owner, record) = new_record(store);
    assert_eq!(store.emergency_profile(record.id).unwrap(), None);
    let profile = EmergencyProfile {
        sections: vec![EmergencySection::Allergies, EmergencySection::BloodType],
        note: Some("EpiPen in the left pocket".into()),
        updated_at: t(5),
        updated_by: owner.id,
    };
    let entry = audit(AuditAction::EmergencyProfileChanged, Some(record.id), t(5));
    store.put_emergency_profile(record.id, &profile, &entry).unwrap();
    assert_eq!(store.emergency_profile(record.id).unwrap(), Some(profile.clone()));
    let mut code = EmergencyCode {
        id: EmergencyCodeId::new(),
        record: record.id,
        code_hash: "code-hash-1".into(),
        hint: "7QX2".into(),
        created_by: owner.id,
        created_at: t(6),
        revoked_at: None,
        last_used_at: None,
        uses: 0,
    };
    store.put_emergency_code(&code, Some(&entry)).unwrap();
    let second = EmergencyCode {
        id: EmergencyCodeId::new(),
        code_hash: "code-hash-2".into(),
        created_at: t(7),
        ..code.clone()
    };
    store.put_emergency_code(&second, None).unwrap();
    assert_eq!(
        store.emergency_code_by_hash("code-hash-1").unwrap(),
        Some(code.clone())
    );
    let ids: Vec<_> = store
        .emergency_codes(record.id)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, vec![second.id, code.id]);
    code.revoked_at = Some(t(8));
    code.uses = 2;
    store.put_emergency_code(&code, None).unwrap();
    assert_eq!(
        store.emergency_code_by_hash("code-hash-1").unwrap(),
        Some(code.clone())
    );

    let inv = invitation(record.id, owner.id, "hash-del");
    store.put_invitation(&inv, None).unwrap();
    store
        .delete_record(record.id, &audit(AuditAction::DeleteRecord, None, t(9)))
        .unwrap();
    assert_eq!(store.emergency_code_by_hash("code-hash-1").unwrap(), None);
    assert_eq!(store.invitation_by_token("hash-del").unwrap(), None);
}
