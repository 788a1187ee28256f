//! The instance and type interactions of https://hl7.org/fhir/R4/http.html: read, vread,
//! create (and conditional create), update (with `If-Match` version preconditions, and
//! conditional update), JSON Patch (RFC 6902, https://hl7.org/fhir/R4/http.html#patch) and
//! delete (and conditional delete).
//!
//! Server-assigned ids only (`CapabilityStatement.rest.resource.updateCreate = false`): an update
//! of an id that does not exist is refused with 405. Creating a Patient with a `user/` token
//! starts a new record with the token's person as custodian (and, for apps, the same consent on
//! it as the app holds on the person's other records); with a `patient/` token it is refused,
//! since the record has its Patient. Deletes are soft: the item stays in the history and reads
//! answer 410.

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::auth::{Grant, TokenIssuer};
use hearth_domain::{AuditAction, Item, ItemId, ItemMeta, ItemState, RecordId, Relationship};
use serde_json::Value;

use super::records::not_found;
use crate::authz::Operation;
use crate::context::Principal;
use crate::items::NewRecordPlan;
use crate::{Context, ItemRequest, ServiceError, ServiceResult, Services, WriteOutcome};

/// A FHIR id as an item id; `None` if it cannot name an item of this server.
pub fn parse_id(id: &str) -> Option<ItemId> {
    if id.len() != 36 {
        return None;
    }
    id.parse().ok()
}

/// What a write did.
#[derive(Clone, Debug)]
pub struct Written {
    pub record: RecordId,
    pub meta: ItemMeta,
    /// A new resource (201) rather than a new version or an existing match (200).
    pub created: bool,
    /// Nothing was written: a conditional create matched, or an identical resubmission.
    pub unchanged: bool,
}

impl Written {
    fn of(record: RecordId, outcome: WriteOutcome) -> Self {
        let (created, unchanged) = match &outcome {
            WriteOutcome::Created(_) => (true, false),
            WriteOutcome::Unchanged(_) => (false, true),
            _ => (false, false),
        };
        Written {
            record,
            meta: outcome.meta().clone(),
            created,
            unchanged,
        }
    }
}

/// Where a new resource goes.
pub(crate) enum Placement {
    Existing(RecordId),
    NewRecord,
}

pub(crate) fn resource_type(resource: &Value) -> ServiceResult<&str> {
    resource
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or_else(|| ServiceError::invalid("required", "resourceType", "the resource has no resourceType"))
}

fn check_type(expected: &str, resource: &Value) -> ServiceResult<()> {
    let found = resource_type(resource)?;
    if found != expected {
        return Err(ServiceError::invalid(
            "invalid",
            "resourceType",
            format!("the body is a {found}, not a {expected}"),
        ));
    }
    Ok(())
}

/// The Patient ids a resource refers to (`Patient/<id>` references).
pub(crate) fn patient_refs(resource: &Value) -> Vec<String> {
    let mut out: Vec<String> = hearth_fhir::references(resource)
        .into_iter()
        .filter_map(|site| {
            let tail = site
                .reference
                .rsplit_once("Patient/")
                .map(|(head, id)| (head, id.to_string()))?;
            (tail.0.is_empty() || tail.0.ends_with('/')).then_some(tail.1)
        })
        .map(|id| id.split('/').next().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The envelope of an update through the FHIR API: flags, source, note, tags, links and stored
/// files stay as they were, since a FHIR update replaces the resource only.
pub(crate) fn kept_envelope(current: &ItemMeta) -> crate::Envelope {
    crate::Envelope {
        flags: current.flags,
        source: current.source.clone(),
        note: current.note.clone(),
        tags: current.tags.clone(),
        links: current.links.clone(),
        blobs: current.blobs.clone(),
        end_date: None,
        client_id: None,
    }
}

/// `current`'s resource with a JSON Patch (RFC 6902) applied; a patch may not change the
/// resource's type or id.
pub(crate) fn patched(current: &Item, patch: Value) -> ServiceResult<Value> {
    let (rtype, id) = (current.meta.resource_type.as_str(), current.meta.id.to_string());
    let body = current
        .body
        .as_deref()
        .ok_or_else(|| ServiceError::Gone(format!("{rtype}/{id} was permanently removed")))?;
    let mut resource: Value =
        serde_json::from_str(body).map_err(|e| ServiceError::Internal(format!("stored resource: {e}")))?;
    let ops: json_patch::Patch = serde_json::from_value(patch)
        .map_err(|e| ServiceError::invalid("structure", "", format!("not a JSON Patch document: {e}")))?;
    json_patch::patch(&mut resource, &ops)
        .map_err(|e| ServiceError::invalid("processing", "", format!("the patch cannot be applied: {e}")))?;
    if resource.get("resourceType").and_then(Value::as_str) != Some(rtype)
        || resource.get("id").and_then(Value::as_str) != Some(id.as_str())
    {
        return Err(ServiceError::invalid(
            "business-rule",
            "",
            "a patch cannot change a resource's type or id",
        ));
    }
    Ok(resource)
}

/// A record's display name from its Patient: the first name's `text`, else its given names
/// and family name, else `fallback`.
pub fn patient_display_name(patient: &Value, fallback: &str) -> String {
    let name = patient
        .get("name")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let text = name
        .and_then(|n| n.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let built = name.map(|n| {
        let given: Vec<&str> = n
            .get("given")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let family = n.get("family").and_then(Value::as_str).unwrap_or("");
        format!("{} {family}", given.join(" ")).trim().to_string()
    });
    text.or(built)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| fallback.into())
}

impl Services {
    /// The current version of a resource: 404 if `ctx` cannot see it, 410 if deleted.
    pub fn fhir_read(&self, ctx: &Context, rtype: &str, id: &str) -> ServiceResult<Item> {
        let item_id = parse_id(id).ok_or_else(|| not_found(rtype, id))?;
        // One lookup finds the item and its record; nothing of it is returned (or audited as
        // read) unless the token reaches that record and may read the item.
        let Some(found) = self.store.fetch_any(&[item_id])?.pop() else {
            return Err(not_found(rtype, id));
        };
        let record = found.meta.record_id;
        if found.meta.resource_type != rtype || !self.reaches(ctx, record)? {
            return Err(not_found(rtype, id));
        }
        let item = self
            .read_fetched(ctx, record, || Ok(vec![found]))?
            .pop()
            .ok_or_else(|| not_found(rtype, id))?;
        match item.meta.state {
            ItemState::Active => Ok(item),
            ItemState::Deleted => Err(ServiceError::Gone(format!("{rtype}/{id} was deleted"))),
            ItemState::Purged => Err(ServiceError::Gone(format!(
                "{rtype}/{id} was permanently removed"
            ))),
        }
    }

    /// One version of a resource (anyone who may read it); 410 for a deleted version.
    pub fn fhir_vread(&self, ctx: &Context, rtype: &str, id: &str, vid: &str) -> ServiceResult<Item> {
        let (record, item_id) = self.fhir_locate(ctx, id)?.ok_or_else(|| not_found(rtype, id))?;
        let version: u32 = vid
            .parse()
            .map_err(|_| ServiceError::NotFound(format!("{rtype}/{id} has no version {vid}")))?;
        self.audited(ctx, Some(record), AuditAction::Read, || {
            let decision = self.authorize(ctx, record, Operation::Read)?;
            let item = self
                .store
                .fetch_versions(record, &[ItemVersionRef { id: item_id, version }])?
                .pop()
                .filter(|i| i.meta.resource_type == rtype)
                .filter(|i| self.may_see(&decision, ctx, &i.meta))
                .ok_or_else(|| ServiceError::NotFound(format!("{rtype}/{id} has no version {vid}")))?;
            self.log_returned(ctx, record, AuditAction::Read, std::slice::from_ref(&item), None)?;
            match item.meta.state {
                ItemState::Active => Ok(item),
                _ => Err(ServiceError::Gone(format!(
                    "{rtype}/{id} version {vid} is a deletion"
                ))),
            }
        })
    }

    /// Where a new resource goes: a Patient with a `user/` token starts a record; anything else
    /// goes to the record of the Patient it refers to, or the only record the token reaches.
    pub(crate) fn placement(&self, ctx: &Context, resource: &Value) -> ServiceResult<Placement> {
        let rtype = resource_type(resource)?;
        if rtype == "Patient" {
            return match &ctx.principal {
                Principal::App(a) if a.record.is_some() => Err(ServiceError::Forbidden(
                    "a patient/ token reaches one record, which has its Patient already; \
                     update that Patient instead"
                        .into(),
                )),
                Principal::App(a) if a.account.is_none() => Err(ServiceError::Forbidden(
                    "this token acts for no person, so it cannot start a record".into(),
                )),
                _ => Ok(Placement::NewRecord),
            };
        }
        let mut records = Vec::new();
        for pid in patient_refs(resource) {
            if let Some((record, _)) = self.fhir_locate(ctx, &pid)? {
                records.push(record);
            }
        }
        records.dedup();
        match records.as_slice() {
            [one] => return Ok(Placement::Existing(*one)),
            [] => {}
            _ => {
                return Err(ServiceError::invalid(
                    "business-rule",
                    "",
                    "the resource refers to the Patients of more than one record",
                ));
            }
        }
        self.sole_record(ctx)?.map(Placement::Existing).ok_or_else(|| {
            ServiceError::invalid(
                "business-rule",
                "",
                "this token reaches several records: refer to the record's Patient \
                 (e.g. subject or patient) so the resource can be placed",
            )
        })
    }

    /// Creates a resource; with `if_none_exist` (a search query) only when nothing matches.
    pub fn fhir_create(
        &self,
        ctx: &Context,
        resource: Value,
        if_none_exist: Option<&str>,
    ) -> ServiceResult<Written> {
        let rtype = resource_type(&resource)?.to_string();
        if let Some(query) = if_none_exist {
            let found = self.fhir_find(ctx, &rtype, query)?;
            match found.as_slice() {
                [] => {}
                [one] => {
                    return Ok(Written {
                        record: one.meta.record_id,
                        meta: one.meta.clone(),
                        created: false,
                        unchanged: true,
                    });
                }
                more => {
                    return Err(ServiceError::PreconditionFailed(format!(
                        "the If-None-Exist criteria match {} resources",
                        more.len()
                    )));
                }
            }
        }
        match self.placement(ctx, &resource)? {
            Placement::Existing(record) => {
                let out = self.write(
                    ctx,
                    record,
                    vec![ItemRequest::Create {
                        id: None,
                        resource,
                        envelope: Default::default(),
                    }],
                )?;
                let outcome = out
                    .into_iter()
                    .next()
                    .ok_or_else(|| ServiceError::Internal("a create produced no outcome".into()))?;
                Ok(Written::of(record, outcome))
            }
            Placement::NewRecord => {
                let plan = self.new_record_plan(ctx, resource)?;
                let record = plan.record_id;
                let meta_id = plan.patient_item;
                self.write_many(ctx, vec![plan], vec![])?;
                self.after_new_record(ctx, record)?;
                let meta = self
                    .store
                    .current_meta(record, &[meta_id])?
                    .pop()
                    .ok_or_else(|| ServiceError::Internal("the new record has no Patient".into()))?;
                Ok(Written {
                    record,
                    meta,
                    created: true,
                    unchanged: false,
                })
            }
        }
    }

    /// The plan of a record started by creating its Patient.
    pub(crate) fn new_record_plan(&self, ctx: &Context, patient: Value) -> ServiceResult<NewRecordPlan> {
        let owner = match &ctx.principal {
            Principal::App(a) => a.account,
            Principal::Person(a) => Some(*a),
            _ => None,
        }
        .ok_or_else(|| {
            ServiceError::Forbidden("this token acts for no person, so it cannot start a record".into())
        })?;
        Ok(NewRecordPlan {
            record_id: RecordId::new(),
            patient_item: ItemId::new(),
            display_name: patient_display_name(&patient, "Unnamed"),
            owner,
            relationship: Relationship::Other,
            patient,
            patient_envelope: Default::default(),
        })
    }

    /// After an app started a record for its person: the app holds the same consent on it as
    /// on the person's other records (the newest active grant's rules), so it can go on using
    /// what it created. Operator tokens need no grant.
    pub(crate) fn after_new_record(&self, ctx: &Context, record: RecordId) -> ServiceResult<()> {
        let Principal::App(a) = &ctx.principal else {
            return Ok(());
        };
        let (TokenIssuer::Consent, Some(account)) = (a.issuer, a.account) else {
            return Ok(());
        };
        let Some(model) = self
            .store
            .grants_by_account(account)?
            .into_iter()
            .filter(|g| g.app == a.app && g.is_active() && g.record != record)
            .max_by_key(|g| g.updated_at)
        else {
            return Err(ServiceError::Forbidden(
                "this app holds no consent of this person".into(),
            ));
        };
        let now = self.now();
        let grant = Grant {
            record,
            granted_at: now,
            updated_at: now,
            revoked_at: None,
            last_read_at: None,
            last_write_at: Some(now),
            ..model
        };
        let audit = self.audit_entry(ctx, Some(record), AuditAction::ConsentGranted);
        self.store.put_grant(&grant, &audit)?;
        Ok(())
    }

    /// Replaces a resource with a new version. `if_match` is the version the client last saw.
    pub fn fhir_update(
        &self,
        ctx: &Context,
        rtype: &str,
        id: &str,
        resource: Value,
        if_match: Option<u32>,
    ) -> ServiceResult<Written> {
        check_type(rtype, &resource)?;
        match resource.get("id").and_then(Value::as_str) {
            Some(body_id) if body_id == id => {}
            Some(body_id) => {
                return Err(ServiceError::invalid(
                    "invalid",
                    "id",
                    format!("the resource's id ({body_id}) is not the id in the URL ({id})"),
                ));
            }
            None => {
                return Err(ServiceError::invalid(
                    "required",
                    "id",
                    "an update needs the resource's id",
                ));
            }
        }
        let Some((record, item)) = self.fhir_locate(ctx, id)? else {
            return Err(ServiceError::NotAllowed(format!(
                "{rtype}/{id} does not exist, and this server assigns ids itself: create it with POST"
            )));
        };
        let current = self
            .store
            .current_meta(record, &[item])?
            .pop()
            .ok_or_else(|| not_found(rtype, id))?;
        if current.resource_type != rtype {
            return Err(not_found(rtype, id));
        }
        if let Some(v) = if_match
            && v != current.version
        {
            return Err(ServiceError::PreconditionFailed(format!(
                "{rtype}/{id} is at version {}, not {v}",
                current.version
            )));
        }
        // An update of a deleted resource is one new, active version (the store's update makes
        // the item active again).
        let requests = vec![ItemRequest::Update {
            id: item,
            expected_version: Some(current.version),
            resource,
            envelope: kept_envelope(&current),
        }];
        let outcome = self
            .write(ctx, record, requests)?
            .pop()
            .ok_or_else(|| ServiceError::Internal("an update produced no outcome".into()))?;
        let mut w = Written::of(record, outcome);
        // An update of a deleted resource brings it back: to the client, a creation.
        w.created = current.state == ItemState::Deleted;
        Ok(w)
    }

    /// Conditional update: the search must match at most one resource; none creates.
    pub fn fhir_conditional_update(
        &self,
        ctx: &Context,
        rtype: &str,
        query: &str,
        mut resource: Value,
        if_match: Option<u32>,
    ) -> ServiceResult<Written> {
        check_type(rtype, &resource)?;
        let found = self.fhir_find(ctx, rtype, query)?;
        match found.as_slice() {
            [] => {
                if let Some(obj) = resource.as_object_mut() {
                    obj.shift_remove("id");
                }
                self.fhir_create(ctx, resource, None)
            }
            [one] => {
                let id = one.meta.id.to_string();
                match resource.get("id").and_then(Value::as_str) {
                    Some(given) if given != id => {
                        return Err(ServiceError::invalid(
                            "invalid",
                            "id",
                            format!("the resource's id ({given}) is not the id of the match ({id})"),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        if let Some(obj) = resource.as_object_mut() {
                            obj.shift_insert(1, "id".into(), Value::String(id.clone()));
                        }
                    }
                }
                self.fhir_update(ctx, rtype, &id, resource, if_match)
            }
            more => Err(ServiceError::PreconditionFailed(format!(
                "the conditional update's criteria match {} resources",
                more.len()
            ))),
        }
    }

    /// Applies a JSON Patch (RFC 6902) to the current version and stores the result.
    pub fn fhir_patch(
        &self,
        ctx: &Context,
        rtype: &str,
        id: &str,
        patch: Value,
        if_match: Option<u32>,
    ) -> ServiceResult<Written> {
        let current = self.fhir_read(ctx, rtype, id)?;
        if let Some(v) = if_match
            && v != current.meta.version
        {
            return Err(ServiceError::PreconditionFailed(format!(
                "{rtype}/{id} is at version {}, not {v}",
                current.meta.version
            )));
        }
        let resource = patched(&current, patch)?;
        self.fhir_update(ctx, rtype, id, resource, Some(current.meta.version))
    }

    /// Deletes a resource (soft). `Ok(None)` when it was already deleted.
    pub fn fhir_delete(&self, ctx: &Context, rtype: &str, id: &str) -> ServiceResult<Option<ItemMeta>> {
        let (record, item) = self.fhir_locate(ctx, id)?.ok_or_else(|| not_found(rtype, id))?;
        let current = self
            .store
            .current_meta(record, &[item])?
            .pop()
            .ok_or_else(|| not_found(rtype, id))?;
        if current.resource_type != rtype || (current.flags.personal && !ctx.sees_personal()) {
            return Err(not_found(rtype, id));
        }
        if current.state != ItemState::Active {
            return Ok(None);
        }
        let out = self.write(
            ctx,
            record,
            vec![ItemRequest::Delete {
                id: item,
                expected_version: None,
            }],
        )?;
        Ok(out.into_iter().next().map(|o| o.meta().clone()))
    }

    /// Conditional delete: deletes the one resource the search matches (none: nothing to do).
    pub fn fhir_conditional_delete(
        &self,
        ctx: &Context,
        rtype: &str,
        query: &str,
    ) -> ServiceResult<Option<ItemMeta>> {
        let found = self.fhir_find(ctx, rtype, query)?;
        match found.as_slice() {
            [] => Ok(None),
            [one] => self.fhir_delete(ctx, rtype, &one.meta.id.to_string()),
            more => Err(ServiceError::PreconditionFailed(format!(
                "the conditional delete's criteria match {} resources",
                more.len()
            ))),
        }
    }
}
