//! The people who can see a record, and what custodians change about them (healthvault.md §4:
//! `GetPeopleForRecord`, `UpdateByCustodian`, `RemoveRecordAuthorization`). The record always
//! keeps a custodian (the store enforces it in the same transaction). Expired access has
//! already stopped in `authz`; the sweep here removes it for good and tells the person.

use hearth_domain::{Access, AccessLevel, AccountId, AuditAction, RecordId, Timestamp};
use hearth_store::StoreError;

use super::check_types;
use crate::authz::Operation;
use crate::{Context, ServiceError, ServiceResult, Services};

/// One person with access to a record, for the sharing page.
#[derive(Clone, Debug)]
pub struct SharedPerson {
    pub access: Access,
    pub name: String,
    pub email: String,
    /// False once the access has expired (until the sweep removes it).
    pub live: bool,
}

/// What a custodian sets for someone's access.
#[derive(Clone, Debug)]
pub struct AccessChange {
    pub level: AccessLevel,
    pub data_types: Option<Vec<String>>,
    pub expires_at: Option<Timestamp>,
    pub audit: bool,
}

fn last_custodian(e: StoreError) -> ServiceError {
    match e {
        StoreError::LastCustodian => ServiceError::Conflict(
            "A record must keep a custodian: make someone else a custodian first.".into(),
        ),
        StoreError::AccountNotFound => {
            ServiceError::NotFound("This person has no access to the record.".into())
        }
        e => e.into(),
    }
}

impl Services {
    /// Everyone with access to the record (custodians).
    pub fn record_people(&self, ctx: &Context, record: RecordId) -> ServiceResult<Vec<SharedPerson>> {
        self.authorize(ctx, record, Operation::ManageAccess)?;
        let now = self.now();
        self.store
            .accesses(record)?
            .into_iter()
            .map(|access| {
                let account = self.store.account(access.account_id)?;
                let (name, email) = account.map_or_else(
                    || ("(closed account)".to_string(), String::new()),
                    |a| (a.display_name, a.email),
                );
                Ok(SharedPerson {
                    live: access.is_live(now),
                    access,
                    name,
                    email,
                })
            })
            .collect()
    }

    /// Changes someone's level, data types, expiry or audit rights (custodians).
    pub fn change_access(
        &self,
        ctx: &Context,
        record: RecordId,
        account: AccountId,
        change: AccessChange,
    ) -> ServiceResult<Access> {
        self.audited(ctx, Some(record), AuditAction::ChangeAccess, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let now = self.now();
            let current = self
                .store
                .accesses(record)?
                .into_iter()
                .find(|a| a.account_id == account)
                .ok_or_else(|| ServiceError::NotFound("This person has no access to the record.".into()))?;
            let mut access = current.clone();
            access.level = change.level;
            if change.level == AccessLevel::Custodian {
                access.data_types = None;
                access.expires_at = None;
                access.audit = true;
            } else {
                access.data_types = check_types(change.data_types)?;
                access.audit = change.audit;
                access.expires_at = match change.expires_at {
                    Some(t) if t > now => Some(t),
                    Some(_) => {
                        return Err(ServiceError::invalid(
                            "value",
                            "expires",
                            "The access must end in the future.",
                        ));
                    }
                    None => {
                        return Err(ServiceError::invalid(
                            "required",
                            "expires",
                            "Choose when this access ends: view and view-and-modify access are for a set time.",
                        ));
                    }
                };
            }
            let entry = self.audit_entry(ctx, Some(record), AuditAction::ChangeAccess);
            self.store.put_access(&access, &entry).map_err(last_custodian)?;
            self.notify_changed(record, &access);
            Ok(access)
        })
    }

    /// Removes someone's access (custodians); the last custodian stays.
    pub fn remove_access(&self, ctx: &Context, record: RecordId, account: AccountId) -> ServiceResult<()> {
        self.audited(ctx, Some(record), AuditAction::RevokeAccess, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let entry = self.audit_entry(ctx, Some(record), AuditAction::RevokeAccess);
            self.store
                .remove_access(record, account, &entry)
                .map_err(last_custodian)?;
            self.notify_removed(record, account);
            Ok(())
        })
    }

    /// Removes every access whose expiry has passed, auditing each and telling the person and
    /// the custodians. Returns how many ended. `hearth serve` runs it every minute.
    pub fn sweep_expired_access(&self) -> ServiceResult<usize> {
        let mut ended = 0;
        loop {
            let batch = self.store.expired_accesses(self.now(), 100)?;
            if batch.is_empty() {
                return Ok(ended);
            }
            let mut progress = false;
            for access in batch {
                let ctx = Context::tool("hearth-expiry");
                let entry = self.audit_entry(&ctx, Some(access.record_id), AuditAction::AccessExpired);
                match self
                    .store
                    .remove_access(access.record_id, access.account_id, &entry)
                {
                    Ok(()) => {
                        ended += 1;
                        progress = true;
                        self.notify_expired(&access);
                    }
                    // Removed meanwhile, or a record whose only custodian expired (custodian
                    // access has no expiry, so only data written by hand): leave it be.
                    Err(StoreError::AccountNotFound | StoreError::LastCustodian) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !progress {
                return Ok(ended);
            }
        }
    }
}
