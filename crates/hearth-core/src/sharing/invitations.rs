//! Invitations to share a record (healthvault.md §4: `AuthorizeRecord` with e-mail, expiry,
//! PIN, invitation expiry; `AcceptRecordAuthorization`, rejection, resend).
//!
//! The link's secret is stored as a SHA-256 fingerprint and replaced on resend; a PIN is an
//! argon2 hash, and five wrong PINs lock the invitation (the inviter is told). Accepting needs a
//! signed-in account whose email is the one invited, so a forwarded link is useless to others.

use hearth_domain::account::normalize_email;
use hearth_domain::sharing::{Invitation, InvitationStatus, MAX_PIN_FAILURES};
use hearth_domain::{
    Access, AccessLevel, AccountId, AuditAction, InvitationId, RecordId, Relationship, Timestamp,
};

use super::check_types;
use crate::auth::Policy;
use crate::auth::secrets::{fingerprint, hash_password, new_token, verify_password};
use crate::authz::Operation;
use crate::{Context, ServiceError, ServiceResult, Services};

/// Invitation mails per inviter: 20 an hour freely, then each waits, doubling up to an hour (a
/// custodian's account cannot be used to flood strangers' mailboxes).
pub const INVITATIONS_PER_HOUR: Policy = Policy {
    // A hit counts before it is judged: 19 free, so the 21st in the hour waits.
    free: 19,
    window_secs: 60 * 60,
    max_lock_secs: 60 * 60,
};

/// Longest an invitation may stay open, days.
pub const MAX_INVITATION_DAYS: u32 = 30;

#[derive(Clone, Debug)]
pub struct InviteRequest {
    pub email: String,
    pub name: String,
    pub relationship: Relationship,
    pub level: AccessLevel,
    /// `None`: every data type, including types added later.
    pub data_types: Option<Vec<String>>,
    /// Required for view and for view-and-modify; ignored for custodians (no time limit).
    pub access_expires_at: Option<Timestamp>,
    pub audit: bool,
    pub note: Option<String>,
    pub pin: Option<String>,
    /// How long the invitation stays open.
    pub invitation_days: u32,
    /// Hand the record over: the invitee becomes custodian of their own record and the
    /// inviter's access ends when they accept.
    pub hand_over: bool,
}

/// What the invitation page shows to whoever holds the link.
#[derive(Clone, Debug)]
pub struct InvitationView {
    pub invitation: Invitation,
    pub record_name: String,
    pub inviter_name: String,
}

fn invalid(path: &str, message: &str) -> ServiceError {
    ServiceError::invalid("value", path.to_string(), message.to_string())
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("This invitation does not exist, or its link was replaced by a newer one.".into())
}

impl Services {
    /// Checks and normalises an invitation request at `now`.
    fn checked(&self, mut req: InviteRequest, now: Timestamp) -> ServiceResult<InviteRequest> {
        req.email = normalize_email(&req.email)
            .ok_or_else(|| invalid("email", "Enter the email address of the person to invite."))?;
        req.name = req.name.trim().to_string();
        if req.name.is_empty() || req.name.chars().count() > 200 {
            return Err(invalid("name", "Enter the person's name (up to 200 characters)."));
        }
        req.note = req.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        if req.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
            return Err(invalid("note", "Keep the note under 1,000 characters."));
        }
        req.pin = req.pin.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        if let Some(pin) = &req.pin
            && (pin.chars().count() < 4
                || pin.chars().count() > 12
                || !pin.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(invalid("pin", "A PIN has 4 to 12 letters or digits."));
        }
        if req.invitation_days == 0 || req.invitation_days > MAX_INVITATION_DAYS {
            return Err(invalid(
                "invitation_days",
                "An invitation stays open 1 to 30 days.",
            ));
        }
        if req.hand_over {
            req.level = AccessLevel::Custodian;
            req.relationship = Relationship::SelfRecord;
        }
        if req.level == AccessLevel::Custodian {
            // Custodians reach everything, with no time limit.
            req.data_types = None;
            req.access_expires_at = None;
            req.audit = true;
        } else {
            req.data_types = check_types(req.data_types)?;
            match req.access_expires_at {
                None => {
                    return Err(invalid(
                        "access_expires",
                        "Choose when this access ends: view and view-and-modify access are for a set time.",
                    ));
                }
                Some(t) if t <= now => {
                    return Err(invalid("access_expires", "The access must end in the future."));
                }
                Some(_) => {}
            }
        }
        Ok(req)
    }

    /// Invites someone to `record` (custodians). Emails them the link.
    pub fn invite(&self, ctx: &Context, record: RecordId, req: InviteRequest) -> ServiceResult<Invitation> {
        self.audited(ctx, Some(record), AuditAction::InvitationSent, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let inviter = ctx
                .actor()
                .account
                .ok_or_else(|| ServiceError::Forbidden("only a person can invite someone".into()))?;
            let now = self.now();
            let req = self.checked(req, now)?;
            self.auth.throttle.hit(&format!("invite:{inviter}"), INVITATIONS_PER_HOUR)?;
            if let Some(existing) = self.account_by_email(&req.email)?
                && let Some(a) = crate::authz::live_accesses(&*self.store, record, now)?
                    .into_iter()
                    .find(|a| a.account_id == existing.id)
                && a.level >= req.level
                && !req.hand_over
            {
                return Err(invalid(
                    "email",
                    "This person can already see this record; change their access in the list of people instead.",
                ));
            }
            let token = new_token("hinv");
            let invitation = Invitation {
                id: InvitationId::new(),
                record,
                invited_by: inviter,
                email: req.email,
                name: req.name,
                relationship: req.relationship,
                level: req.level,
                data_types: req.data_types,
                access_expires_at: req.access_expires_at,
                audit: req.audit,
                note: req.note,
                pin_hash: req.pin.as_deref().map(hash_password),
                pin_failures: 0,
                token_hash: fingerprint(&token),
                hand_over: req.hand_over,
                created_at: now,
                sent_at: now,
                expires_at: now.plus_seconds(i64::from(req.invitation_days) * 86_400),
                status: InvitationStatus::Pending,
                answered_at: None,
                answered_by: None,
            };
            let entry = self.audit_entry(ctx, Some(record), AuditAction::InvitationSent);
            self.store.put_invitation(&invitation, Some(&entry))?;
            self.mail_invitation(&invitation, &token)?;
            Ok(invitation)
        })
    }

    /// The record's invitations, newest first (custodians).
    pub fn invitations(&self, ctx: &Context, record: RecordId) -> ServiceResult<Vec<Invitation>> {
        self.authorize(ctx, record, Operation::ManageAccess)?;
        Ok(self.store.invitations_of_record(record)?)
    }

    fn pending_invitation(&self, record: RecordId, id: InvitationId) -> ServiceResult<Invitation> {
        let inv = self
            .store
            .invitation(id)?
            .filter(|i| i.record == record)
            .ok_or_else(not_found)?;
        if inv.status != InvitationStatus::Pending {
            return Err(ServiceError::Conflict(format!(
                "This invitation was already {}.",
                inv.status.as_str()
            )));
        }
        Ok(inv)
    }

    /// Sends a pending invitation again with a new link (the old link stops working) and a
    /// fresh open period as long as the first.
    pub fn resend_invitation(&self, ctx: &Context, record: RecordId, id: InvitationId) -> ServiceResult<()> {
        self.audited(ctx, Some(record), AuditAction::InvitationResent, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let mut inv = self.pending_invitation(record, id)?;
            self.auth
                .throttle
                .hit(&format!("invite:{}", inv.invited_by), INVITATIONS_PER_HOUR)?;
            let now = self.now();
            let open_for = inv.expires_at.0 - inv.created_at.0;
            let token = new_token("hinv");
            inv.token_hash = fingerprint(&token);
            inv.sent_at = now;
            inv.expires_at = Timestamp(now.0 + open_for);
            let entry = self.audit_entry(ctx, Some(record), AuditAction::InvitationResent);
            self.store.put_invitation(&inv, Some(&entry))?;
            self.mail_invitation(&inv, &token)
        })
    }

    /// Cancels a pending invitation (custodians).
    pub fn cancel_invitation(&self, ctx: &Context, record: RecordId, id: InvitationId) -> ServiceResult<()> {
        self.audited(ctx, Some(record), AuditAction::InvitationCancelled, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let mut inv = self.pending_invitation(record, id)?;
            inv.status = InvitationStatus::Cancelled;
            inv.answered_at = Some(self.now());
            let entry = self.audit_entry(ctx, Some(record), AuditAction::InvitationCancelled);
            self.store.put_invitation(&inv, Some(&entry))?;
            Ok(())
        })
    }

    /// The invitation a link names, for its page.
    pub fn invitation_by_link(&self, token: &str) -> ServiceResult<InvitationView> {
        let inv = self
            .store
            .invitation_by_token(&fingerprint(token))?
            .ok_or_else(not_found)?;
        let record_name = self
            .store
            .record(inv.record)?
            .map(|r| r.display_name)
            .ok_or_else(not_found)?;
        let inviter_name = self
            .store
            .account(inv.invited_by)?
            .map_or_else(|| "A Hearth user".to_string(), |a| a.display_name);
        Ok(InvitationView {
            invitation: inv,
            record_name,
            inviter_name,
        })
    }

    fn open_invitation(&self, account: AccountId, token: &str) -> ServiceResult<Invitation> {
        let inv = self
            .store
            .invitation_by_token(&fingerprint(token))?
            .ok_or_else(not_found)?;
        let now = self.now();
        if !inv.is_open(now) {
            return Err(ServiceError::Conflict(match inv.shown_status(now) {
                "expired" => "This invitation has expired. Ask for a new one.".to_string(),
                "locked" => {
                    "Too many wrong PINs were entered: this invitation no longer works. Ask for a new one."
                        .into()
                }
                s => format!("This invitation was already {s}."),
            }));
        }
        let me = self.account(account)?;
        if me.email != inv.email {
            return Err(ServiceError::Forbidden(format!(
                "This invitation was sent to another email address. Sign in with the account for {} to answer it.",
                mask_email(&inv.email)
            )));
        }
        Ok(inv)
    }

    /// Accepts an invitation as `account` (whose email it was sent to), checking the PIN if
    /// one was set. Returns the record now shared.
    pub fn accept_invitation(&self, account: AccountId, token: &str, pin: &str) -> ServiceResult<RecordId> {
        let ctx = Context::person(account);
        let inv = self.open_invitation(account, token)?;
        let record = inv.record;
        self.audited(&ctx, Some(record), AuditAction::InvitationAccepted, || {
            let key = format!("invitation-pin:{}", inv.id);
            self.auth.throttle.check(&key)?;
            if let Some(hash) = &inv.pin_hash
                && !verify_password(pin.trim(), hash)
            {
                return Err(self.wrong_pin(&ctx, inv.clone(), &key));
            }
            let now = self.now();
            let mut access = Access::new(record, account, inv.relationship, inv.level, now);
            access.data_types = inv.data_types.clone();
            access.expires_at = inv.access_expires_at;
            access.audit = inv.audit;
            let mut accepted = inv.clone();
            accepted.status = InvitationStatus::Accepted;
            accepted.answered_at = Some(now);
            accepted.answered_by = Some(account);
            let remove = inv.hand_over.then_some(inv.invited_by);
            let entry = self.audit_entry(&ctx, Some(record), AuditAction::InvitationAccepted);
            if !self.store.accept_invitation(&accepted, &access, remove, &entry)? {
                return Err(ServiceError::Conflict(
                    "This invitation was already answered.".into(),
                ));
            }
            self.auth.throttle.clear(&key);
            self.notify_accepted(&accepted, &access);
            Ok(record)
        })
    }

    fn wrong_pin(&self, ctx: &Context, mut inv: Invitation, key: &str) -> ServiceError {
        self.auth.throttle.fail(key, Policy::TOTP);
        inv.pin_failures += 1;
        let locked = inv.pin_failures >= MAX_PIN_FAILURES;
        if locked {
            inv.status = InvitationStatus::Locked;
        }
        let entry = self.audit_entry(ctx, Some(inv.record), AuditAction::InvitationPinFailed);
        if let Err(e) = self.store.put_invitation(&inv, Some(&entry)) {
            return e.into();
        }
        if locked {
            self.notify_locked(&inv);
            ServiceError::Conflict(
                "Too many wrong PINs were entered: this invitation no longer works. Ask for a new one."
                    .into(),
            )
        } else {
            ServiceError::invalid(
                "value",
                "pin",
                format!(
                    "That PIN is not right. {} tries left.",
                    MAX_PIN_FAILURES - inv.pin_failures
                ),
            )
        }
    }

    /// Declines an invitation as `account` (whose email it was sent to).
    pub fn decline_invitation(&self, account: AccountId, token: &str) -> ServiceResult<()> {
        let ctx = Context::person(account);
        let mut inv = self.open_invitation(account, token)?;
        self.audited(&ctx, Some(inv.record), AuditAction::InvitationDeclined, || {
            inv.status = InvitationStatus::Declined;
            inv.answered_at = Some(self.now());
            inv.answered_by = Some(account);
            let entry = self.audit_entry(&ctx, Some(inv.record), AuditAction::InvitationDeclined);
            self.store.put_invitation(&inv, Some(&entry))?;
            self.notify_declined(&inv);
            Ok(())
        })
    }
}

/// `a***@example.org`: enough to recognise an address without disclosing it.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}
