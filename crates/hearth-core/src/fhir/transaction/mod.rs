//! Batches and transactions (https://hl7.org/fhir/R4/http.html#transaction).
//!
//! A transaction is all or nothing: entries are processed in the order the spec prescribes
//! (DELETE, POST, PUT/PATCH, then GET/HEAD), every `fullUrl` a POST names (`urn:uuid:…` or an
//! absolute URL) gets its server id first, every reference to it is rewritten, conditional
//! references (`Patient?identifier=…`) are resolved by search, and all writes go to the store
//! in one atomic change set. Placement: a POSTed Patient with a `user/` token starts a new
//! record; every other resource goes to the record of the Patient it refers to, else to the
//! record of the entries it refers to (or that refer to it), else to the token's only record.
//!
//! A batch runs each entry on its own as the single interaction it names; one entry failing
//! does not stop the others.

use std::collections::HashMap;

use hearth_domain::{Item, ItemId, ItemMeta, RecordId};
use serde_json::Value;

mod entries;

pub use entries::parse_etag;
use entries::{Entry, Method, Target, bad, location, parse_entries, patch_document, target};

use super::interactions::{Placement, Written, kept_envelope, patched, patient_refs, resource_type};
use super::search::{SearchPage, SearchRequest};
use crate::items::{BatchRequest, NewRecordPlan};
use crate::{Context, ItemRequest, ServiceError, ServiceResult, Services, WriteOutcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleKind {
    Batch,
    Transaction,
}

/// What an entry's response carries besides its status.
#[derive(Debug)]
pub enum EntryBody {
    None,
    /// The resource read or written.
    Item(Box<Item>),
    /// A search's results.
    Search(Box<SearchPage>),
    /// A batch entry that failed.
    Failed(ServiceError),
}

#[derive(Debug)]
pub struct EntryResult {
    /// e.g. "201 Created".
    pub status: &'static str,
    /// `Type/id/_history/v` of the version written or read.
    pub meta: Option<ItemMeta>,
    pub body: EntryBody,
}

fn status_of(w: &Written) -> &'static str {
    if w.created { "201 Created" } else { "200 OK" }
}

impl Services {
    /// Processes a batch or transaction Bundle; the results are in entry order.
    pub fn fhir_bundle(
        &self,
        ctx: &Context,
        bundle: &Value,
    ) -> ServiceResult<(BundleKind, Vec<EntryResult>)> {
        let (kind, entries) = parse_entries(bundle)?;
        let results = match kind {
            BundleKind::Batch => entries.into_iter().map(|e| self.batch_entry(ctx, e)).collect(),
            BundleKind::Transaction => self.transaction(ctx, entries)?,
        };
        Ok((kind, results))
    }

    fn batch_entry(&self, ctx: &Context, e: Entry) -> EntryResult {
        let index = e.index;
        match self.single(ctx, e) {
            Ok(r) => r,
            Err(err) => EntryResult {
                status: "400 Bad Request",
                meta: None,
                body: EntryBody::Failed(match err {
                    ServiceError::Invalid(issues) => {
                        ServiceError::Invalid(issues.into_iter().map(|i| i.under(&location(index))).collect())
                    }
                    other => other,
                }),
            },
        }
    }

    /// One entry as the interaction it names (batches, and the reads of transactions).
    fn single(&self, ctx: &Context, e: Entry) -> ServiceResult<EntryResult> {
        let t = target(&e.url)
            .ok_or_else(|| bad(e.index, format!("request.url {:?} is not a FHIR URL", e.url)))?;
        let written = |w: Written, svc: &Services| -> ServiceResult<EntryResult> {
            let item = svc.read(ctx, w.record, &[w.meta.id])?.pop();
            Ok(EntryResult {
                status: status_of(&w),
                meta: Some(w.meta),
                body: item.map_or(EntryBody::None, |i| EntryBody::Item(Box::new(i))),
            })
        };
        match (e.method, t) {
            (Method::Get | Method::Head, Target::Instance(rt, id)) => {
                let item = self.fhir_read(ctx, rt, id)?;
                Ok(EntryResult {
                    status: "200 OK",
                    meta: Some(item.meta.clone()),
                    body: EntryBody::Item(Box::new(item)),
                })
            }
            (Method::Get | Method::Head, Target::Version(rt, id, v)) => {
                let item = self.fhir_vread(ctx, rt, id, v)?;
                Ok(EntryResult {
                    status: "200 OK",
                    meta: Some(item.meta.clone()),
                    body: EntryBody::Item(Box::new(item)),
                })
            }
            (Method::Get | Method::Head, Target::Type(rt))
            | (Method::Get | Method::Head, Target::Conditional(rt, _)) => {
                let query = e.url.split_once('?').map_or("", |(_, q)| q);
                let page = self.fhir_search(ctx, &SearchRequest::from_query(rt, query, false))?;
                Ok(EntryResult {
                    status: "200 OK",
                    meta: None,
                    body: EntryBody::Search(Box::new(page)),
                })
            }
            (Method::Post, Target::Type(rt)) => {
                let resource = e.resource.unwrap_or_default();
                if resource_type(&resource)? != rt {
                    return Err(bad(e.index, format!("the resource is not a {rt}")));
                }
                let w = self.fhir_create(ctx, resource, e.if_none_exist.as_deref())?;
                written(w, self)
            }
            (Method::Put, Target::Instance(rt, id)) => {
                let w = self.fhir_update(ctx, rt, id, e.resource.unwrap_or_default(), e.if_match)?;
                written(w, self)
            }
            (Method::Put, Target::Conditional(rt, q)) => {
                let w =
                    self.fhir_conditional_update(ctx, rt, q, e.resource.unwrap_or_default(), e.if_match)?;
                written(w, self)
            }
            (Method::Patch, Target::Instance(rt, id)) => {
                let patch = patch_document(e.index, e.resource.unwrap_or_default())?;
                let w = self.fhir_patch(ctx, rt, id, patch, e.if_match)?;
                written(w, self)
            }
            (Method::Delete, Target::Instance(rt, id)) => {
                self.fhir_delete(ctx, rt, id)?;
                Ok(EntryResult {
                    status: "204 No Content",
                    meta: None,
                    body: EntryBody::None,
                })
            }
            (Method::Delete, Target::Conditional(rt, q)) => {
                self.fhir_conditional_delete(ctx, rt, q)?;
                Ok(EntryResult {
                    status: "204 No Content",
                    meta: None,
                    body: EntryBody::None,
                })
            }
            _ => Err(bad(
                e.index,
                format!("request {:?} {} is not supported", e.method, e.url),
            )),
        }
    }

    fn transaction(&self, ctx: &Context, mut entries: Vec<Entry>) -> ServiceResult<Vec<EntryResult>> {
        let n = entries.len();
        entries.sort_by_key(|e| (e.method, e.index));
        // fullUrl → the server's `Type/id`.
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut seen_urls = std::collections::HashSet::new();
        for e in &entries {
            if let Some(u) = &e.full_url
                && !seen_urls.insert(u.clone())
            {
                return Err(bad(
                    e.index,
                    format!("fullUrl {u} appears in more than one entry"),
                ));
            }
        }

        // 1. Identities: what each write entry is about.
        enum Plan {
            Create {
                id: ItemId,
                resource: Value,
            },
            Matched(Box<ItemMeta>),
            Update {
                record: RecordId,
                id: ItemId,
                resource: Value,
                expected: Option<u32>,
            },
            Delete {
                record: RecordId,
                id: ItemId,
            },
            Nothing,
            Read,
        }
        let mut plans: Vec<(usize, Plan)> = Vec::with_capacity(n);
        for e in &mut entries {
            let t = target(&e.url)
                .ok_or_else(|| bad(e.index, format!("request.url {:?} is not a FHIR URL", e.url)))?;
            let plan = match (e.method, t) {
                (Method::Get | Method::Head, _) => Plan::Read,
                (Method::Post, Target::Type(rt)) => {
                    let resource = e.resource.take().unwrap_or_default();
                    if resource_type(&resource)? != rt {
                        return Err(bad(e.index, format!("the resource is not a {rt}")));
                    }
                    let existing = match &e.if_none_exist {
                        Some(q) => self.fhir_find(ctx, rt, q)?,
                        None => vec![],
                    };
                    match existing.as_slice() {
                        [] => {
                            let id = ItemId::new();
                            if let Some(u) = &e.full_url {
                                ids.insert(u.clone(), format!("{rt}/{id}"));
                            }
                            Plan::Create { id, resource }
                        }
                        [one] => {
                            if let Some(u) = &e.full_url {
                                ids.insert(u.clone(), format!("{rt}/{}", one.meta.id));
                            }
                            Plan::Matched(Box::new(one.meta.clone()))
                        }
                        more => {
                            return Err(ServiceError::PreconditionFailed(format!(
                                "{}: ifNoneExist matches {} resources",
                                location(e.index),
                                more.len()
                            )));
                        }
                    }
                }
                (Method::Put | Method::Patch, Target::Instance(rt, id)) => {
                    let (record, item) = self.fhir_locate(ctx, id)?.ok_or_else(|| {
                        ServiceError::NotAllowed(format!(
                            "{}: {rt}/{id} does not exist, and this server assigns ids itself",
                            location(e.index)
                        ))
                    })?;
                    if let Some(u) = &e.full_url {
                        ids.insert(u.clone(), format!("{rt}/{id}"));
                    }
                    let mut resource = e.resource.take().unwrap_or_default();
                    if e.method == Method::Patch {
                        let current = self.fhir_read(ctx, rt, id)?;
                        let patch = patch_document(e.index, resource)?;
                        resource = patched(&current, patch)?;
                    }
                    Plan::Update {
                        record,
                        id: item,
                        resource,
                        expected: e.if_match,
                    }
                }
                (Method::Put, Target::Conditional(rt, q)) => {
                    let found = self.fhir_find(ctx, rt, q)?;
                    let mut resource = e.resource.take().unwrap_or_default();
                    match found.as_slice() {
                        [] => {
                            let id = ItemId::new();
                            if let Some(u) = &e.full_url {
                                ids.insert(u.clone(), format!("{rt}/{id}"));
                            }
                            Plan::Create { id, resource }
                        }
                        [one] => {
                            if let Some(u) = &e.full_url {
                                ids.insert(u.clone(), format!("{rt}/{}", one.meta.id));
                            }
                            if let Some(obj) = resource.as_object_mut() {
                                obj.insert("id".into(), Value::String(one.meta.id.to_string()));
                            }
                            Plan::Update {
                                record: one.meta.record_id,
                                id: one.meta.id,
                                resource,
                                expected: e.if_match,
                            }
                        }
                        more => {
                            return Err(ServiceError::PreconditionFailed(format!(
                                "{}: the conditional update matches {} resources",
                                location(e.index),
                                more.len()
                            )));
                        }
                    }
                }
                (Method::Delete, Target::Instance(rt, id)) => match self.fhir_locate(ctx, id)? {
                    Some((record, item)) => Plan::Delete { record, id: item },
                    None => {
                        return Err(ServiceError::NotFound(format!(
                            "{}: {rt}/{id} not found",
                            location(e.index)
                        )));
                    }
                },
                (Method::Delete, Target::Conditional(rt, q)) => {
                    let found = self.fhir_find(ctx, rt, q)?;
                    match found.as_slice() {
                        [] => Plan::Nothing,
                        [one] => Plan::Delete {
                            record: one.meta.record_id,
                            id: one.meta.id,
                        },
                        more => {
                            return Err(ServiceError::PreconditionFailed(format!(
                                "{}: the conditional delete matches {} resources",
                                location(e.index),
                                more.len()
                            )));
                        }
                    }
                }
                _ => {
                    return Err(bad(
                        e.index,
                        format!(
                            "request {:?} {} is not supported in a transaction",
                            e.method, e.url
                        ),
                    ));
                }
            };
            plans.push((e.index, plan));
        }

        // 2. References: fullUrls to server ids, conditional references by search.
        let mut conditional: HashMap<String, Option<String>> = HashMap::new();
        for (index, plan) in &mut plans {
            let (Plan::Create { resource, .. } | Plan::Update { resource, .. }) = plan else {
                continue;
            };
            let mut failure = None;
            hearth_fhir::rewrite_references(resource, &mut |r| {
                if let Some(id) = ids.get(r) {
                    return Some(id.clone());
                }
                if let Some((t, q)) = r.split_once('?')
                    && !t.contains('/')
                    && hearth_fhir::is_resource_type(t)
                {
                    let hit =
                        conditional
                            .entry(r.to_string())
                            .or_insert_with(|| match self.fhir_find(ctx, t, q) {
                                Ok(found) if found.len() == 1 => Some(format!("{t}/{}", found[0].meta.id)),
                                _ => None,
                            });
                    if hit.is_none() {
                        failure = Some(r.to_string());
                    }
                    return hit.clone();
                }
                None
            });
            if let Some(r) = failure {
                return Err(ServiceError::invalid(
                    "not-found",
                    format!("{}.resource", location(*index)),
                    format!("the conditional reference {r} does not match exactly one resource"),
                ));
            }
        }

        // 3. Placement of the creates.
        let mut new_records: Vec<NewRecordPlan> = Vec::new();
        let mut placed: HashMap<ItemId, RecordId> = HashMap::new();
        let by_ref: HashMap<String, ItemId> = plans
            .iter()
            .filter_map(|(_, p)| match p {
                Plan::Create { id, resource } => {
                    Some((format!("{}/{id}", resource_type(resource).ok()?), *id))
                }
                _ => None,
            })
            .collect();
        for (_, plan) in &mut plans {
            if let Plan::Create { id, resource } = plan
                && resource_type(resource)? == "Patient"
            {
                match self.placement(ctx, resource)? {
                    Placement::NewRecord => {
                        let mut p = self.new_record_plan(ctx, std::mem::take(resource))?;
                        p.patient_item = *id;
                        placed.insert(*id, p.record_id);
                        new_records.push(p);
                    }
                    Placement::Existing(_) => unreachable_patient()?,
                }
            }
        }
        let new_patients: HashMap<String, RecordId> = new_records
            .iter()
            .map(|p| (p.patient_item.to_string(), p.record_id))
            .collect();
        // Directly: the Patient a resource refers to.
        for (index, plan) in &plans {
            if let Plan::Create { id, resource } = plan
                && !placed.contains_key(id)
            {
                let mut records = Vec::new();
                for pid in patient_refs(resource) {
                    if let Some(r) = new_patients.get(&pid) {
                        records.push(*r);
                    } else if let Some((r, _)) = self.fhir_locate(ctx, &pid)? {
                        records.push(r);
                    }
                }
                records.sort();
                records.dedup();
                match records.as_slice() {
                    [one] => {
                        placed.insert(*id, *one);
                    }
                    [] => {}
                    _ => {
                        return Err(ServiceError::invalid(
                            "business-rule",
                            format!("{}.resource", location(*index)),
                            "the resource refers to the Patients of more than one record",
                        ));
                    }
                }
            }
        }
        // Then through references between entries, both ways, until nothing changes.
        let edges: Vec<(ItemId, ItemId)> = plans
            .iter()
            .filter_map(|(_, p)| match p {
                Plan::Create { id, resource } => Some((*id, resource)),
                _ => None,
            })
            .flat_map(|(id, resource)| {
                hearth_fhir::references(resource)
                    .into_iter()
                    .filter_map(|s| by_ref.get(&s.reference).copied())
                    .map(move |to| (id, to))
                    .collect::<Vec<_>>()
            })
            .collect();
        loop {
            let mut changed = false;
            for (from, to) in &edges {
                match (placed.get(from).copied(), placed.get(to).copied()) {
                    (None, Some(r)) => {
                        placed.insert(*from, r);
                        changed = true;
                    }
                    (Some(r), None) => {
                        placed.insert(*to, r);
                        changed = true;
                    }
                    _ => {}
                }
            }
            if !changed {
                break;
            }
        }
        let sole = match new_records.as_slice() {
            [one] => Some(one.record_id),
            [] => self.sole_record(ctx)?,
            _ => None,
        };

        // 4. One atomic change set.
        let mut batches: Vec<BatchRequest> = Vec::new();
        let mut slots: Vec<(usize, RecordId, usize)> = Vec::new(); // entry index → (record, position)
        let mut push = |record: RecordId, index: usize, req: ItemRequest, batches: &mut Vec<BatchRequest>| {
            let b = match batches.iter().position(|b| b.record == record) {
                Some(i) => &mut batches[i],
                None => {
                    batches.push(BatchRequest::new(record, vec![]));
                    batches.last_mut().expect("just pushed")
                }
            };
            slots.push((index, record, b.requests.len()));
            b.requests.push(req);
            b.locations.push(format!("{}.resource", location(index)));
        };
        let mut results: Vec<Option<EntryResult>> = (0..n).map(|_| None).collect();
        let mut new_patient_entries: Vec<(usize, RecordId, ItemId)> = Vec::new();
        for (index, plan) in plans {
            match plan {
                Plan::Create { id, resource } => {
                    if resource.is_null() {
                        // A Patient that starts a record: written with the record.
                        let record = placed[&id];
                        new_patient_entries.push((index, record, id));
                        continue;
                    }
                    let record = placed.get(&id).copied().or(sole).ok_or_else(|| {
                        ServiceError::invalid(
                            "business-rule",
                            format!("{}.resource", location(index)),
                            "cannot tell which record this resource belongs to: refer to the record's Patient",
                        )
                    })?;
                    push(
                        record,
                        index,
                        ItemRequest::Create {
                            id: Some(id),
                            resource,
                            envelope: Default::default(),
                        },
                        &mut batches,
                    );
                }
                Plan::Update {
                    record,
                    id,
                    resource,
                    expected,
                } => {
                    let current = self.store.current_meta(record, &[id])?.pop().ok_or_else(|| {
                        ServiceError::NotFound(format!("{}: item not found", location(index)))
                    })?;
                    if let Some(v) = expected
                        && v != current.version
                    {
                        return Err(ServiceError::PreconditionFailed(format!(
                            "{}: the resource is at version {}, not {v}",
                            location(index),
                            current.version
                        )));
                    }
                    push(
                        record,
                        index,
                        ItemRequest::Update {
                            id,
                            expected_version: Some(current.version),
                            resource,
                            envelope: kept_envelope(&current),
                        },
                        &mut batches,
                    );
                }
                Plan::Delete { record, id } => push(
                    record,
                    index,
                    ItemRequest::Delete {
                        id,
                        expected_version: None,
                    },
                    &mut batches,
                ),
                Plan::Matched(meta) => {
                    results[index] = Some(EntryResult {
                        status: "200 OK",
                        meta: Some(*meta),
                        body: EntryBody::None,
                    });
                }
                Plan::Nothing => {
                    results[index] = Some(EntryResult {
                        status: "204 No Content",
                        meta: None,
                        body: EntryBody::None,
                    });
                }
                Plan::Read => {}
            }
        }
        let created_records: Vec<RecordId> = new_records.iter().map(|p| p.record_id).collect();
        let order: Vec<RecordId> = batches.iter().map(|b| b.record).collect();
        let outcomes = self.write_many(ctx, new_records, batches)?;
        for record in &created_records {
            self.after_new_record(ctx, *record)?;
        }
        for (index, record, pos) in slots {
            let b = order.iter().position(|r| *r == record).expect("batch of a slot");
            let outcome = outcomes
                .get(b)
                .and_then(|o| o.get(pos))
                .cloned()
                .ok_or_else(|| ServiceError::Internal("a transaction entry has no outcome".into()))?;
            results[index] = Some(match outcome {
                WriteOutcome::Deleted(_) => EntryResult {
                    status: "204 No Content",
                    meta: None,
                    body: EntryBody::None,
                },
                other => {
                    let w = Written {
                        record,
                        created: matches!(other, WriteOutcome::Created(_)),
                        unchanged: matches!(other, WriteOutcome::Unchanged(_)),
                        meta: other.meta().clone(),
                    };
                    EntryResult {
                        status: status_of(&w),
                        meta: Some(w.meta),
                        body: EntryBody::None,
                    }
                }
            });
        }
        for (index, record, id) in new_patient_entries {
            let meta = self
                .store
                .current_meta(record, &[id])?
                .pop()
                .ok_or_else(|| ServiceError::Internal("a new record has no Patient".into()))?;
            results[index] = Some(EntryResult {
                status: "201 Created",
                meta: Some(meta),
                body: EntryBody::None,
            });
        }
        // 5. Reads, after every write.
        for e in entries
            .into_iter()
            .filter(|e| matches!(e.method, Method::Get | Method::Head))
        {
            let index = e.index;
            results[index] = Some(self.single(ctx, e)?);
        }
        results
            .into_iter()
            .map(|r| r.ok_or_else(|| ServiceError::Internal("a transaction entry was not processed".into())))
            .collect()
    }
}

fn unreachable_patient() -> ServiceResult<()> {
    Err(ServiceError::Internal(
        "a Patient was placed in an existing record".into(),
    ))
}
