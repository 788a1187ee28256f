//! Accounts, records and access. A record is created together with its one Patient resource and
//! its first custodian, in one transaction.

use hearth_domain::account::normalize_email;
use hearth_domain::{
    Access, AccessLevel, Account, AccountId, AuditAction, ItemId, Record, RecordId, Relationship,
};
use serde_json::{Value, json};

use crate::authz::Operation;
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
    /// The account with this id, or "not found".
    pub fn account(&self, id: AccountId) -> ServiceResult<Account> {
        self.store
            .account(id)?
            .ok_or_else(|| ServiceError::NotFound("account not found".into()))
    }

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
            Some(a) => self.live_records_of(a)?.into_iter().map(|(r, _)| r).collect(),
            None => self.store.list_records()?,
        };
        records
            .into_iter()
            .map(|r| {
                let acc = crate::authz::live_accesses(&*self.store, r.id, self.now())?;
                Ok((r, acc))
            })
            .collect()
    }

    /// The records `account` reaches now, with its access to each (expired access left out).
    pub fn live_records_of(&self, account: AccountId) -> ServiceResult<Vec<(Record, Access)>> {
        let now = self.now();
        Ok(self
            .store
            .records_of(account)?
            .into_iter()
            .filter(|(_, a)| a.is_live(now))
            .collect())
    }

    pub fn record(&self, ctx: &Context, id: RecordId) -> ServiceResult<Record> {
        self.authorize(ctx, id, Operation::Read)?;
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
        level: AccessLevel,
    ) -> ServiceResult<Access> {
        self.audited(ctx, Some(record), AuditAction::GrantAccess, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let access = Access {
                record_id: record,
                account_id: account,
                relationship,
                level,
                granted_at: self.now(),
                data_types: None,
                expires_at: None,
                audit: false,
            };
            self.store.put_access(
                &access,
                &self.audit_entry(ctx, Some(record), AuditAction::GrantAccess),
            )?;
            Ok(access)
        })
    }
}

impl Principal {
    /// Whether this principal may create a record for `owner`.
    pub(crate) fn may_create_record_for(&self, owner: AccountId) -> bool {
        match self {
            Principal::Operator | Principal::Tool(_) => true,
            Principal::Person(a) => *a == owner,
            // An app acting for its person with a `user/` token whose scopes allow creating a
            // Patient (FHIR create of a Patient starts a record).
            Principal::App(a) => {
                a.account == Some(owner)
                    && a.record.is_none()
                    && a.scopes
                        .perms_for(crate::fhir::records::PATIENT_DATA_TYPE)
                        .contains(hearth_domain::auth::Perms::CREATE)
            }
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

/// Record management from a person's own pages: rename, picture, leave, delete.
impl Services {
    /// Renames a record (people who may modify it).
    pub fn rename_record(&self, ctx: &Context, record: RecordId, name: &str) -> ServiceResult<Record> {
        self.audited(ctx, Some(record), AuditAction::UpdateRecord, || {
            self.authorize(ctx, record, Operation::Update)?;
            if matches!(ctx.principal, Principal::App(_)) {
                return Err(ServiceError::Forbidden("apps cannot rename records".into()));
            }
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(ServiceError::invalid(
                    "required",
                    "name",
                    "Enter a name (up to 200 characters).",
                ));
            }
            self.store.rename_record(
                record,
                name,
                &self.audit_entry(ctx, Some(record), AuditAction::UpdateRecord),
            )?;
            self.record(ctx, record)
        })
    }

    /// Sets the record's picture: the Patient's `photo`, as an inline attachment (PNG, JPEG,
    /// GIF or WebP up to 512 KiB).
    pub fn set_record_picture(
        &self,
        ctx: &Context,
        record: RecordId,
        content_type: &str,
        bytes: &[u8],
    ) -> ServiceResult<()> {
        use base64::Engine;
        const MAX: usize = 512 * 1024;
        if !matches!(
            content_type,
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        ) {
            return Err(ServiceError::invalid(
                "value",
                "picture",
                "Choose a PNG, JPEG, GIF or WebP picture.",
            ));
        }
        if bytes.is_empty() || bytes.len() > MAX {
            return Err(ServiceError::invalid(
                "value",
                "picture",
                "The picture must be under 512 KiB.",
            ));
        }
        let rec = self.record(ctx, record)?;
        let patient = self.read_one(ctx, record, rec.patient_item)?;
        let mut resource: Value = serde_json::from_str(patient.body.as_deref().unwrap_or("{}"))
            .map_err(|e| ServiceError::Internal(format!("stored Patient unreadable: {e}")))?;
        resource["photo"] = json!([{
            "contentType": content_type,
            "data": base64::engine::general_purpose::STANDARD.encode(bytes),
            "title": "Record picture",
        }]);
        self.write(
            ctx,
            record,
            vec![ItemRequest::Update {
                id: rec.patient_item,
                expected_version: Some(patient.meta.version),
                resource,
                envelope: EnvelopeFields::default(),
            }],
        )?;
        Ok(())
    }

    /// The record's picture, if it has one: (content type, bytes).
    pub fn record_picture(
        &self,
        ctx: &Context,
        record: RecordId,
    ) -> ServiceResult<Option<(String, Vec<u8>)>> {
        use base64::Engine;
        let rec = self.record(ctx, record)?;
        let patient = self.read_one(ctx, record, rec.patient_item)?;
        let resource: Value = serde_json::from_str(patient.body.as_deref().unwrap_or("{}"))
            .map_err(|e| ServiceError::Internal(format!("stored Patient unreadable: {e}")))?;
        let photo = &resource["photo"][0];
        let (Some(ct), Some(data)) = (photo["contentType"].as_str(), photo["data"].as_str()) else {
            return Ok(None);
        };
        Ok(base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()
            .map(|b| (ct.to_string(), b)))
    }

    /// The person leaves a record they were given access to. The last custodian cannot leave.
    pub fn leave_record(&self, account: AccountId, record: RecordId) -> ServiceResult<()> {
        let ctx = Context::person(account);
        self.audited(&ctx, Some(record), AuditAction::RevokeAccess, || {
            self.authorize(&ctx, record, Operation::Read)?;
            self.store
                .remove_access(record, account, &self.audit_entry(&ctx, Some(record), AuditAction::RevokeAccess))
                .map_err(|e| match e {
                    hearth_store::StoreError::LastCustodian => ServiceError::Conflict(
                        "You are this record's last custodian: make someone else a custodian first, or delete the record.".into(),
                    ),
                    e => e.into(),
                })
        })
    }

    /// Deletes a record for good (custodians), after the person typed its name to confirm.
    pub fn delete_record(&self, ctx: &Context, record: RecordId, typed_name: &str) -> ServiceResult<()> {
        self.audited(ctx, Some(record), AuditAction::DeleteRecord, || {
            self.authorize(ctx, record, Operation::ManageAccess)?;
            let rec = self.record(ctx, record)?;
            if typed_name.trim() != rec.display_name {
                return Err(ServiceError::invalid(
                    "value",
                    "confirm",
                    "Type the record's name exactly to confirm deleting it.",
                ));
            }
            let entry = self.audit_entry(ctx, None, AuditAction::DeleteRecord);
            self.store.delete_record(record, &entry)?;
            Ok(())
        })
    }
}
