//! Saving a form: a new item of a named data type, or a new version of an existing one merged
//! from the form (healthvault.md §1.4: an update names the version it replaces, so a form
//! opened before someone else's change is refused rather than overwriting it). Both go through
//! [`Services::write`], so the one authorisation check, validation and audit apply; issues are
//! reported under the form's field names where they belong to a field.
//!
//! The record profile (the Patient's demographics and emergency contacts, and the blood type
//! Observation, see [`super::profile`]) is saved in one atomic batch.

use hearth_domain::datatypes::LOINC;
use hearth_domain::{Item, ItemId, ItemMeta, ItemQuery, ItemState, RecordId};

use super::profile::{BLOOD_TYPE_CODE, ContactRow, blood_type_of, blood_type_resource, set_contacts};
use super::{EntryForm, Values, form};
use crate::authz::Operation;
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
        self.permit(ctx, record, &item.meta.data_type, Operation::Update)?;
        if item.meta.state == ItemState::Deleted {
            return Err(ServiceError::Conflict(
                "This item is deleted; restore it before changing it.".into(),
            ));
        }
        if item.meta.version != expected_version {
            return Err(ServiceError::VersionConflict(STALE.into()));
        }
        if item.meta.flags.read_only {
            return Err(ServiceError::Conflict(
                "This item is read-only; it cannot be changed.".into(),
            ));
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

/// A record's profile: its Patient and its newest blood-type Observation.
pub struct Profile {
    pub patient: Item,
    pub blood_type: Option<Item>,
}

/// A submitted profile form.
#[derive(Clone, Debug, Default)]
pub struct ProfileUpdate {
    /// The Patient's version the form showed.
    pub version: u32,
    /// The demographics form's fields.
    pub values: Values,
    pub contacts: Vec<ContactRow>,
    /// A blood group code, `""` to remove it, `None` to leave it.
    pub blood_type: Option<String>,
}

impl Services {
    /// The record's profile (reading the blood type needs read access to lab results).
    pub fn profile(&self, ctx: &Context, record: RecordId) -> ServiceResult<Profile> {
        let rec = self.record(ctx, record)?;
        let patient = self.read_one(ctx, record, rec.patient_item)?;
        let decision = self.authorize(ctx, record, Operation::Read)?;
        let blood_type = if decision.allows("lab-result", Operation::Read) {
            let q = ItemQuery {
                data_types: vec!["lab-result".into()],
                code: Some(format!("{LOINC}|{BLOOD_TYPE_CODE}")),
                limit: 1,
                ..Default::default()
            };
            self.query(ctx, record, &q)?.items.into_iter().next()
        } else {
            None
        };
        Ok(Profile { patient, blood_type })
    }

    /// Saves the profile form: the Patient (merged; refused when it changed since the form was
    /// shown) and the blood type, in one batch.
    pub fn update_profile(
        &self,
        ctx: &Context,
        record: RecordId,
        update: &ProfileUpdate,
    ) -> ServiceResult<()> {
        self.permit(ctx, record, "demographics", Operation::Update)?;
        let p = self.profile(ctx, record)?;
        if p.patient.meta.version != update.version {
            return Err(ServiceError::VersionConflict(STALE.into()));
        }
        let form =
            form("demographics").ok_or_else(|| ServiceError::Internal("no demographics form".into()))?;
        let base = parse_body(&p.patient.meta, p.patient.body.as_deref())?;
        let mut resource = form.apply(&update.values, &base).map_err(ServiceError::Invalid)?;
        set_contacts(&mut resource, &update.contacts);
        let mut requests = Vec::new();
        if resource != base {
            requests.push(ItemRequest::Update {
                id: p.patient.meta.id,
                expected_version: Some(update.version),
                resource,
                envelope: envelope_of(&p.patient.meta, p.patient.meta.blobs.clone()),
            });
        }
        let current = p
            .blood_type
            .as_ref()
            .and_then(|i| i.body.as_deref())
            .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
        let current_code = current.as_ref().and_then(blood_type_of).unwrap_or_default();
        match (update.blood_type.as_deref(), &p.blood_type) {
            (Some(code), _) if code == current_code => {}
            (Some(""), Some(item)) => requests.push(ItemRequest::Delete {
                id: item.meta.id,
                expected_version: Some(item.meta.version),
            }),
            (Some(code), existing) => {
                let today = self.now().to_rfc3339().get(0..10).unwrap_or_default().to_string();
                let resource = blood_type_resource(current.as_ref(), code, &today, p.patient.meta.id)
                    .ok_or_else(|| {
                        ServiceError::invalid("value", "blood_type", "Choose one of the blood types.")
                    })?;
                requests.push(match existing {
                    Some(item) => ItemRequest::Update {
                        id: item.meta.id,
                        expected_version: Some(item.meta.version),
                        resource,
                        envelope: envelope_of(&item.meta, item.meta.blobs.clone()),
                    },
                    None => ItemRequest::Create {
                        id: None,
                        resource,
                        envelope: Default::default(),
                    },
                });
            }
            (None, _) => {}
        }
        if requests.is_empty() {
            return Ok(());
        }
        self.write(ctx, record, requests).map_err(|e| match e {
            ServiceError::VersionConflict(_) => ServiceError::VersionConflict(STALE.into()),
            e => on_fields(form, e),
        })?;
        Ok(())
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
