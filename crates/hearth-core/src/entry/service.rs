//! Saving a form: a new item of a named data type, or a new version of an existing one merged
//! from the form (healthvault.md §1.4: an update names the version it replaces, so a form
//! opened before someone else's change is refused rather than overwriting it). Both go through
//! [`Services::write`], so the one authorisation check, validation and audit apply; issues are
//! reported under the form's field names where they belong to a field.

use hearth_domain::{ItemId, ItemMeta, ItemState, RecordId};

use super::{EntryForm, Values, form};
use crate::files::{envelope_of, parse_body};
use crate::{Context, ItemRequest, ServiceError, ServiceResult, Services, WriteOutcome};

/// The message of a form saved over a newer version.
pub const STALE: &str = "Someone changed this item after you opened the form. Your changes were not saved: \
                         the form now shows the current version.";

impl Services {
    /// Creates an item of data type `key` from its form's fields.
    pub fn create_entry(
        &self,
        ctx: &Context,
        record: RecordId,
        key: &str,
        values: &Values,
    ) -> ServiceResult<ItemMeta> {
        let form = form(key).ok_or_else(|| ServiceError::NotFound(format!("no form for data type {key}")))?;
        let rec = self.record(ctx, record)?;
        let resource = form
            .apply(values, &form.start(Some(rec.patient_item)))
            .map_err(ServiceError::Invalid)?;
        let out = self
            .write(
                ctx,
                record,
                vec![ItemRequest::Create {
                    id: None,
                    resource,
                    envelope: Default::default(),
                }],
            )
            .map_err(|e| on_fields(form, e))?;
        first(out)
    }

    /// Saves the form of item `id` opened at `expected_version` as its next version. Refused
    /// when the item has changed since, is deleted, or is read-only.
    pub fn update_entry(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        expected_version: u32,
        values: &Values,
    ) -> ServiceResult<ItemMeta> {
        let item = self.read_one(ctx, record, id)?;
        if item.meta.state == ItemState::Deleted {
            return Err(ServiceError::Conflict(
                "This item is deleted; restore it before changing it.".into(),
            ));
        }
        if item.meta.version != expected_version {
            return Err(ServiceError::VersionConflict(STALE.into()));
        }
        if item.meta.flags.read_only {
            return Err(ServiceError::Conflict("This item is read-only; it cannot be changed.".into()));
        }
        let form = form(&item.meta.data_type).ok_or_else(|| {
            ServiceError::NotAllowed("items of this data type have no form to edit them".into())
        })?;
        let base = parse_body(&item.meta, item.body.as_deref())?;
        let resource = form.apply(values, &base).map_err(ServiceError::Invalid)?;
        let out = self
            .write(
                ctx,
                record,
                vec![ItemRequest::Update {
                    id,
                    expected_version: Some(expected_version),
                    resource,
                    envelope: envelope_of(&item.meta, item.meta.blobs.clone()),
                }],
            )
            .map_err(|e| match e {
                ServiceError::VersionConflict(_) => ServiceError::VersionConflict(STALE.into()),
                e => on_fields(form, e),
            })?;
        first(out)
    }
}

fn first(out: Vec<WriteOutcome>) -> ServiceResult<ItemMeta> {
    out.into_iter()
        .next()
        .map(|o| o.meta().clone())
        .ok_or_else(|| ServiceError::Internal("a write returned no outcome".into()))
}

/// Validation issues located at the form's fields where one matches.
fn on_fields(form: &EntryForm, e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Invalid(issues) => ServiceError::Invalid(
            issues
                .into_iter()
                .map(|mut i| {
                    if let Some(f) = form.field_for(&i.path) {
                        i.path = f.to_string();
                    }
                    i
                })
                .collect(),
        ),
        e => e,
    }
}
