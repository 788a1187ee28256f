//! Accounts, records and access. A record is created together with its one Patient resource and
//! its first custodian, in one transaction.

use hearth_domain::account::normalize_email;
use hearth_domain::{Access, Account, AccountId, AuditAction, ItemId, Record, RecordId, Relationship};
use serde_json::{Value, json};

use crate::authz::{Operation, authorize};
use crate::context::Principal;
use crate::items::{ItemRequest, NewRecordPlan};
use crate::prepare::EnvelopeFields;
use crate::{Context, ServiceError, ServiceResult, Services};

impl Services {
    pub fn create_account(&self, ctx: &Context, email: &str, display_name: &str) -> ServiceResult<Account> {
        self.audited(ctx, None, AuditAction::CreateAccount, || {
            if !matches!(ctx.principal, Principal::Operator | Principal::Tool(_)) {
                return Err(ServiceError::Forbidden(
                    "only the operator creates accounts here".into(),
                ));
            }
            let email = normalize_email(email).ok_or_else(|| {
                ServiceError::invalid("value", "email", format!("{email:?} is not an email address"))
            })?;
            let display_name = display_name.trim();
            if display_name.is_empty() {
                return Err(ServiceError::invalid(
                    "required",
                    "name",
                    "a display name is required",
                ));
            }
            let account = Account {
                id: AccountId::new(),
                email,
                display_name: display_name.into(),
                created_at: self.now(),
            };
            self.store
                .create_account(&account, &self.audit_entry(ctx, None, AuditAction::CreateAccount))?;
            Ok(account)
        })
    }

    pub fn account_by_email(&self, email: &str) -> ServiceResult<Option<Account>> {
        let Some(email) = normalize_email(email) else {
            return Ok(None);
        };
        Ok(self.store.account_by_email(&email)?)
    }

    /// The account for `email`, or a clear "not found" naming it.
    pub fn require_account(&self, email: &str) -> ServiceResult<Account> {
        self.account_by_email(email)?
            .ok_or_else(|| ServiceError::NotFound(format!("no account with email {email}")))
    }

    /// Creates a record owned by `owner` (custodian). `patient` is the record's Patient resource;
    /// without one, a minimal Patient named after the record is made.
    pub fn create_record(
        &self,
        ctx: &Context,
        owner: AccountId,
        display_name: &str,
        relationship: Relationship,
        patient: Option<Value>,
    ) -> ServiceResult<Record> {
        let plan = NewRecordPlan {
            record_id: RecordId::new(),
            patient_item: ItemId::new(),
            display_name: display_name.trim().to_string(),
            owner,
            relationship,
            patient: patient.unwrap_or_else(
                || json!({"resourceType": "Patient", "name": [{"text": display_name.trim()}]}),
            ),
            patient_envelope: EnvelopeFields::default(),
        };
        let id = plan.record_id;
        self.write_many(ctx, vec![plan], vec![])?;
        self.store
            .record(id)?
            .ok_or_else(|| ServiceError::Internal(format!("record {id} vanished after creation")))
    }

    /// Records `ctx` may see: every record for the operator, or the person's own.
    pub fn list_records(&self, owner: Option<AccountId>) -> ServiceResult<Vec<(Record, Vec<Access>)>> {
        let records = match owner {
            Some(a) => self.store.records_of(a)?.into_iter().map(|(r, _)| r).collect(),
            None => self.store.list_records()?,
        };
        records
            .into_iter()
            .map(|r| {
                let acc = self.store.accesses(r.id)?;
                Ok((r, acc))
            })
            .collect()
    }

    pub fn record(&self, ctx: &Context, id: RecordId) -> ServiceResult<Record> {
        authorize(&*self.store, ctx, id, Operation::Read)?;
        self.store
            .record(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("record {id} not found")))
    }

    /// Gives `account` access to a record (or changes it). Custodians and the operator only.
    pub fn grant_access(
        &self,
        ctx: &Context,
        record: RecordId,
        account: AccountId,
        relationship: Relationship,
        custodian: bool,
    ) -> ServiceResult<Access> {
        self.audited(ctx, Some(record), AuditAction::GrantAccess, || {
            authorize(&*self.store, ctx, record, Operation::ManageAccess)?;
            let access = Access {
                record_id: record,
                account_id: account,
                relationship,
                custodian,
                granted_at: self.now(),
            };
            self.store.put_access(
                &access,
                &self.audit_entry(ctx, Some(record), AuditAction::GrantAccess),
            )?;
            Ok(access)
        })
    }

    pub fn remove_access(&self, ctx: &Context, record: RecordId, account: AccountId) -> ServiceResult<()> {
        self.audited(ctx, Some(record), AuditAction::RevokeAccess, || {
            authorize(&*self.store, ctx, record, Operation::ManageAccess)?;
            Ok(self.store.remove_access(
                record,
                account,
                &self.audit_entry(ctx, Some(record), AuditAction::RevokeAccess),
            )?)
        })
    }
}

impl Principal {
    /// Whether this principal may create a record for `owner`.
    pub(crate) fn may_create_record_for(&self, owner: AccountId) -> bool {
        match self {
            Principal::Operator | Principal::Tool(_) => true,
            Principal::Person(a) => *a == owner,
            Principal::App { .. } => false,
        }
    }
}

impl ItemRequest {
    pub(crate) fn patient(id: ItemId, resource: Value, envelope: EnvelopeFields) -> Self {
        ItemRequest::Create {
            id: Some(id),
            resource,
            envelope,
        }
    }
}
