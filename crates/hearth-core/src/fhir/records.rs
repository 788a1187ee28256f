//! Which records a request reaches, and where an item lives among them. A `patient/` token is
//! confined to its record; a `user/` token reaches every record its grants (or, for operator
//! tokens, its account) reach; a signed-in person reaches their own records.

use hearth_domain::auth::TokenIssuer;
use hearth_domain::datatypes::registry;
use hearth_domain::{ItemId, RecordId};

use crate::context::Principal;
use crate::{Context, ServiceError, ServiceResult, Services};

/// The data type of a record's Patient.
pub const PATIENT_DATA_TYPE: &str = "demographics";

/// The FHIR resource type of a data type key.
pub fn resource_type_of(data_type: &str) -> String {
    match registry().get(data_type) {
        Some(dt) => dt.resource_type.to_string(),
        None => data_type.strip_prefix("fhir:").unwrap_or(data_type).to_string(),
    }
}

/// The data type keys holding resources of a type.
pub fn data_types_of(resource_type: &str) -> Vec<String> {
    registry()
        .for_resource_type(resource_type)
        .iter()
        .map(|d| d.key.to_string())
        .collect()
}

impl Services {
    /// Every record `ctx` reaches through the FHIR API.
    pub fn fhir_records(&self, ctx: &Context) -> ServiceResult<Vec<RecordId>> {
        match &ctx.principal {
            Principal::App(_) => self.records_for(ctx),
            Principal::Person(a) => Ok(self.live_records_of(*a)?.into_iter().map(|(r, _)| r.id).collect()),
            Principal::Operator | Principal::Tool(_) => {
                Ok(self.store.list_records()?.into_iter().map(|r| r.id).collect())
            }
        }
    }

    /// The record (among those `ctx` reaches) holding the item with this FHIR id.
    pub fn fhir_locate(&self, ctx: &Context, id: &str) -> ServiceResult<Option<(RecordId, ItemId)>> {
        let Some(item) = super::parse_id(id) else {
            return Ok(None);
        };
        let Some(record) = self.store.item_record(item)? else {
            return Ok(None);
        };
        if !self.reaches(ctx, record)? {
            return Ok(None);
        }
        Ok(Some((record, item)))
    }

    /// Whether `ctx` reaches `record` through the FHIR API.
    pub fn reaches(&self, ctx: &Context, record: RecordId) -> ServiceResult<bool> {
        let has_access = |account| -> ServiceResult<bool> {
            Ok(crate::authz::live_accesses(&*self.store, record, self.now())?
                .iter()
                .any(|a| a.account_id == account))
        };
        match &ctx.principal {
            Principal::Operator | Principal::Tool(_) => Ok(true),
            Principal::Person(account) => has_access(*account),
            Principal::App(a) => match (a.record, a.issuer, a.account) {
                (Some(r), _, _) => Ok(r == record),
                (None, TokenIssuer::Operator, Some(account)) => has_access(account),
                (None, TokenIssuer::Operator, None) => Ok(false),
                (None, TokenIssuer::Consent, Some(account)) => Ok(self
                    .store
                    .grant(&a.app, record, account)?
                    .is_some_and(|g| g.is_active())),
                (None, TokenIssuer::Consent, None) => Ok(self
                    .store
                    .grants_for_record(record)?
                    .iter()
                    .any(|g| g.app == a.app && g.is_active())),
            },
        }
    }

    /// The one record of a `patient/` token, or the only record a `user/` token reaches.
    pub(crate) fn sole_record(&self, ctx: &Context) -> ServiceResult<Option<RecordId>> {
        let records = self.fhir_records(ctx)?;
        Ok(match records.as_slice() {
            [one] => Some(*one),
            _ => None,
        })
    }
}

/// "Not found", worded for a FHIR resource.
pub(crate) fn not_found(resource_type: &str, id: &str) -> ServiceError {
    ServiceError::NotFound(format!("{resource_type}/{id} not found"))
}
