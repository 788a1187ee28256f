//! Item services: atomic batches of creates, updates, deletes and restores (possibly spanning
//! new records, for importers). Reads are in `reads.rs`.
//!
//! Rules applied here (healthvault.md §1.4, §2.1, §6.4):
//! - a create carrying a client id the writer already used in the record is a no-op when the
//!   content is identical and a new version of that item otherwise;
//! - an update names the version it replaces (or the current one); the store refuses stale ones;
//! - read-only items keep their content; the flag is set only at creation;
//! - a record has exactly one Patient, which cannot be deleted; every local reference must
//!   resolve to an item of the same record (and a Patient reference to the record's Patient);
//! - every rejected write is audited as a failure and leaves the store untouched.

use std::collections::{HashMap, HashSet};

use hearth_domain::{
    Access, AccountId, Actor, AuditAction, ItemId, ItemMeta, ItemState, Record, RecordId, Relationship,
    Timestamp, WriteOp,
};
use hearth_store::contract::{ChangeSet, ClientIdMatch, NewRecordSpec, WriteBatch};
use serde_json::Value;

use crate::authz::Operation;
use crate::prepare::{EnvelopeFields, LocalRef, Prepared, prepare};
use crate::{Context, ServiceError, ServiceResult, Services, ValidationIssue};

pub use crate::prepare::EnvelopeFields as Envelope;

#[derive(Clone, Debug)]
pub enum ItemRequest {
    /// A new item (or, with a known client id, a new version of the writer's item).
    Create {
        id: Option<ItemId>,
        resource: Value,
        envelope: EnvelopeFields,
    },
    Update {
        id: ItemId,
        expected_version: Option<u32>,
        resource: Value,
        envelope: EnvelopeFields,
    },
    Delete {
        id: ItemId,
        expected_version: Option<u32>,
    },
    Restore {
        id: ItemId,
        expected_version: Option<u32>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum WriteOutcome {
    Created(ItemMeta),
    Updated(ItemMeta),
    /// Nothing to do: an identical resubmission, a delete of a deleted item, …
    Unchanged(ItemMeta),
    Deleted(ItemMeta),
    Restored(ItemMeta),
}

impl WriteOutcome {
    pub fn meta(&self) -> &ItemMeta {
        match self {
            WriteOutcome::Created(m)
            | WriteOutcome::Updated(m)
            | WriteOutcome::Unchanged(m)
            | WriteOutcome::Deleted(m)
            | WriteOutcome::Restored(m) => m,
        }
    }
}

/// A record to create in the same transaction as the writes.
#[derive(Clone, Debug)]
pub struct NewRecordPlan {
    pub record_id: RecordId,
    pub patient_item: ItemId,
    pub display_name: String,
    pub owner: AccountId,
    pub relationship: Relationship,
    pub patient: Value,
    pub patient_envelope: EnvelopeFields,
}

/// Writes to one record. `locations` (optional, one per request) prefix issue paths, e.g.
/// `Bundle.entry[3].resource`.
#[derive(Clone, Debug)]
pub struct BatchRequest {
    pub record: RecordId,
    pub requests: Vec<ItemRequest>,
    pub locations: Vec<String>,
}

impl BatchRequest {
    pub fn new(record: RecordId, requests: Vec<ItemRequest>) -> Self {
        BatchRequest {
            record,
            requests,
            locations: vec![],
        }
    }
}

enum Slot {
    Op(usize, fn(ItemMeta) -> WriteOutcome),
    Done(Box<WriteOutcome>),
}

struct Target {
    record: RecordId,
    patient_item: ItemId,
    is_new: bool,
}

impl Services {
    /// One atomic batch on one record.
    pub fn write(
        &self,
        ctx: &Context,
        record: RecordId,
        requests: Vec<ItemRequest>,
    ) -> ServiceResult<Vec<WriteOutcome>> {
        let mut out = self.write_many(ctx, vec![], vec![BatchRequest::new(record, requests)])?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Creates records and writes items, all in one transaction. Returns the outcomes of each
    /// batch of `writes`, in order.
    pub fn write_many(
        &self,
        ctx: &Context,
        new_records: Vec<NewRecordPlan>,
        writes: Vec<BatchRequest>,
    ) -> ServiceResult<Vec<Vec<WriteOutcome>>> {
        let existing: Vec<RecordId> = writes
            .iter()
            .map(|w| w.record)
            .filter(|r| !new_records.iter().any(|n| n.record_id == *r))
            .collect();
        let result = self.write_many_inner(ctx, new_records, writes);
        if let Err(e) = &result {
            for r in existing {
                self.audit_failure(ctx, Some(r), AuditAction::Write, vec![], e);
            }
        }
        result
    }

    fn write_many_inner(
        &self,
        ctx: &Context,
        new_records: Vec<NewRecordPlan>,
        writes: Vec<BatchRequest>,
    ) -> ServiceResult<Vec<Vec<WriteOutcome>>> {
        let actor = ctx.actor();
        let at = self.now();
        let mut set = ChangeSet::default();
        // One entry per batch of `set`: which caller batch it answers, and how many leading slots
        // (the Patient of a new record) are not the caller's.
        let mut plans: Vec<(Option<usize>, usize, Vec<Slot>)> = Vec::new();
        let mut issues = Vec::new();
        let mut writes: Vec<Option<BatchRequest>> = writes.into_iter().map(Some).collect();

        for plan in new_records {
            if !ctx.principal.may_create_record_for(plan.owner) {
                return Err(ServiceError::Forbidden(
                    "you may create records only for yourself".into(),
                ));
            }
            if self.store.account(plan.owner)?.is_none() {
                return Err(ServiceError::NotFound(format!(
                    "account {} not found",
                    plan.owner
                )));
            }
            if plan.display_name.is_empty() {
                return Err(ServiceError::invalid("required", "name", "a record needs a name"));
            }
            let record = Record {
                id: plan.record_id,
                display_name: plan.display_name.clone(),
                patient_item: plan.patient_item,
                created_at: at,
                last_seq: 0,
            };
            let access = Access {
                record_id: plan.record_id,
                account_id: plan.owner,
                relationship: plan.relationship,
                level: hearth_domain::AccessLevel::Custodian,
                granted_at: at,
                data_types: None,
                expires_at: None,
                audit: false,
            };
            set.new_records.push(NewRecordSpec {
                record,
                access,
                audit: self.audit_entry(ctx, Some(plan.record_id), AuditAction::CreateRecord),
            });
            let mut requests = vec![ItemRequest::patient(
                plan.patient_item,
                plan.patient,
                plan.patient_envelope,
            )];
            let mut locations = vec!["Patient".to_string()];
            // Writes aimed at the new record join its first batch.
            let mut position = None;
            for (i, slot) in writes.iter_mut().enumerate() {
                if let Some(w) = slot.take_if(|w| w.record == plan.record_id) {
                    let mut locs = w.locations;
                    locs.resize(w.requests.len(), String::new());
                    locations.extend(locs);
                    requests.extend(w.requests);
                    position = Some(i);
                }
            }
            let target = Target {
                record: plan.record_id,
                patient_item: plan.patient_item,
                is_new: true,
            };
            let batch = BatchRequest {
                record: plan.record_id,
                requests,
                locations,
            };
            match self.plan_batch(ctx, &actor, at, &target, batch) {
                Ok((wb, slots)) => {
                    set.batches.push(wb);
                    plans.push((position, 1, slots));
                }
                Err(ServiceError::Invalid(found)) => issues.extend(found),
                Err(e) => return Err(e),
            }
        }
        for (i, w) in writes.into_iter().enumerate() {
            let Some(w) = w else { continue };
            let rec = self
                .store
                .record(w.record)?
                .ok_or_else(|| ServiceError::NotFound(format!("record {} not found", w.record)))?;
            let target = Target {
                record: rec.id,
                patient_item: rec.patient_item,
                is_new: false,
            };
            match self.plan_batch(ctx, &actor, at, &target, w) {
                Ok((wb, slots)) => {
                    set.batches.push(wb);
                    plans.push((Some(i), 0, slots));
                }
                Err(ServiceError::Invalid(found)) => issues.extend(found),
                Err(e) => return Err(e),
            }
        }
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(issues));
        }
        // Empty batches (everything unchanged) need no transaction of their own, but the change
        // set still runs so new records and audit entries land atomically.
        let results = self.store.apply(&set)?;
        let mut by_batch: Vec<(usize, Vec<WriteOutcome>)> = Vec::new();
        for ((caller, skip, slots), result) in plans.into_iter().zip(results) {
            let Some(i) = caller else { continue };
            let outcomes = slots
                .into_iter()
                .skip(skip)
                .map(|s| match s {
                    Slot::Op(k, f) => result.versions.get(k).cloned().map(f).ok_or_else(|| {
                        ServiceError::Internal("the store returned fewer versions than operations".into())
                    }),
                    Slot::Done(o) => Ok(*o),
                })
                .collect::<ServiceResult<Vec<_>>>()?;
            by_batch.push((i, outcomes));
        }
        by_batch.sort_by_key(|(i, _)| *i);
        Ok(by_batch.into_iter().map(|(_, o)| o).collect())
    }

    fn plan_batch(
        &self,
        ctx: &Context,
        actor: &Actor,
        at: Timestamp,
        target: &Target,
        batch: BatchRequest,
    ) -> ServiceResult<(WriteBatch, Vec<Slot>)> {
        let record = target.record;
        let store = &*self.store;
        let mut decision = None;
        if !target.is_new {
            let mut ops = HashSet::new();
            for r in &batch.requests {
                ops.insert(match r {
                    ItemRequest::Create { .. } => Operation::Create,
                    ItemRequest::Update { .. } => Operation::Update,
                    ItemRequest::Delete { .. } => Operation::Delete,
                    ItemRequest::Restore { .. } => Operation::Restore,
                });
            }
            for op in [
                Operation::Create,
                Operation::Update,
                Operation::Delete,
                Operation::Restore,
            ] {
                if ops.contains(&op) {
                    decision = Some(self.authorize(ctx, record, op)?);
                }
            }
        }
        let writer = actor.writer_key();
        let single = batch.requests.len() == 1 && batch.locations.is_empty();
        let location = |i: usize| {
            batch
                .locations
                .get(i)
                .filter(|l| !l.is_empty())
                .cloned()
                .unwrap_or_else(|| {
                    // A single write names paths from the resource itself.
                    if single {
                        String::new()
                    } else {
                        format!("item[{i}]")
                    }
                })
        };

        // Client ids and current envelopes, looked up in bulk.
        let mut client_ids = Vec::new();
        let mut seen_cids = HashSet::new();
        let mut issues = Vec::new();
        let mut wanted = Vec::new();
        for (i, r) in batch.requests.iter().enumerate() {
            match r {
                ItemRequest::Create { envelope, .. } => {
                    if let Some(c) = &envelope.client_id {
                        if !seen_cids.insert(c.clone()) {
                            issues.push(ValidationIssue::error(
                                "duplicate",
                                location(i),
                                format!("client id {c:?} appears twice in one batch"),
                            ));
                        }
                        client_ids.push(c.clone());
                    }
                }
                ItemRequest::Update { id, .. }
                | ItemRequest::Delete { id, .. }
                | ItemRequest::Restore { id, .. } => wanted.push(*id),
            }
        }
        let by_cid: HashMap<String, ClientIdMatch> = if target.is_new || client_ids.is_empty() {
            HashMap::new()
        } else {
            store
                .find_by_client_ids(record, &writer, &client_ids)?
                .into_iter()
                .map(|m| (m.client_id.clone(), m))
                .collect()
        };
        let current: HashMap<ItemId, ItemMeta> = if target.is_new || wanted.is_empty() {
            HashMap::new()
        } else {
            store
                .current_meta(record, &wanted)?
                .into_iter()
                .map(|m| (m.id, m))
                .collect()
        };

        // Item ids first (a known client id names an existing item), then every resource is
        // prepared (validated, classified, serialised), in parallel for large batches.
        let mut requests = batch.requests;
        let mut jobs = Vec::new();
        let mut is_patient = vec![false; requests.len()];
        let mut priors: Vec<Option<&ClientIdMatch>> = vec![None; requests.len()];
        for (i, r) in requests.iter_mut().enumerate() {
            match r {
                ItemRequest::Create {
                    id,
                    resource,
                    envelope,
                } => {
                    let prior = envelope
                        .client_id
                        .as_ref()
                        .and_then(|c| by_cid.get(c))
                        .filter(|m| m.meta.state != ItemState::Purged);
                    priors[i] = prior;
                    let item_id = prior.map(|m| m.meta.id).or(*id).unwrap_or_default();
                    *id = Some(item_id);
                    is_patient[i] = resource.get("resourceType").and_then(Value::as_str) == Some("Patient");
                    jobs.push((i, std::mem::take(resource), item_id, envelope.clone()));
                }
                ItemRequest::Update {
                    id,
                    resource,
                    envelope,
                    ..
                } => {
                    jobs.push((i, std::mem::take(resource), *id, envelope.clone()));
                }
                ItemRequest::Delete { .. } | ItemRequest::Restore { .. } => {}
            }
        }
        let mut prepared_all: Vec<Option<Result<Prepared, Vec<ValidationIssue>>>> =
            std::iter::repeat_with(|| None).take(requests.len()).collect();
        for (i, p) in prepare_all(jobs, at)? {
            prepared_all[i] = Some(p);
        }

        let mut ops = Vec::new();
        let mut slots = Vec::new();
        let mut created: HashMap<ItemId, String> = HashMap::new();
        let mut refs: Vec<(String, LocalRef)> = Vec::new();
        let mut data_types = Vec::new();
        let sees_personal = ctx.sees_personal();
        let permit = |data_type: &str, op: Operation| -> ServiceResult<()> {
            match &decision {
                Some(d) if !d.allows(data_type, op) => Err(ServiceError::Forbidden(format!(
                    "not allowed to {} {} items in this record",
                    op.verb(),
                    hearth_domain::datatypes::registry()
                        .get(data_type)
                        .map_or(data_type, |t| t.name)
                ))),
                _ => Ok(()),
            }
        };
        let visible = |meta: &ItemMeta| -> ServiceResult<()> {
            if meta.flags.personal && !sees_personal {
                return Err(ServiceError::NotFound(format!("item {} not found", meta.id)));
            }
            Ok(())
        };
        for (i, req) in requests.into_iter().enumerate() {
            let loc = location(i);
            let prepared_result = prepared_all[i].take();
            match req {
                ItemRequest::Create { id, .. } => {
                    let prior = priors[i];
                    let item_id = id.unwrap_or_default();
                    if is_patient[i] && item_id != target.patient_item {
                        issues.push(ValidationIssue::error(
                            "business-rule",
                            loc.clone(),
                            format!("a record has exactly one Patient (Patient/{}); update it instead of adding another", target.patient_item),
                        ));
                        continue;
                    }
                    let prepared = match prepared_result {
                        Some(Ok(p)) => p,
                        None => return Err(ServiceError::Internal("a resource was not prepared".into())),
                        Some(Err(found)) => {
                            issues.extend(found.into_iter().map(|f| f.under(&loc)));
                            continue;
                        }
                    };
                    match prior {
                        Some(m) => {
                            visible(&m.meta)?;
                            permit(&m.meta.data_type, Operation::Update)?;
                            permit(&prepared.content.data_type, Operation::Update)?;
                        }
                        None => permit(&prepared.content.data_type, Operation::Create)?,
                    }
                    match prior {
                        Some(m) if m.content_hash == prepared.content.content_hash()[..16] => {
                            slots.push(Slot::Done(Box::new(WriteOutcome::Unchanged(m.meta.clone()))));
                        }
                        Some(m) => {
                            if m.meta.flags.read_only {
                                issues.push(ValidationIssue::error(
                                    "business-rule",
                                    loc.clone(),
                                    "the item is read-only; its content cannot change",
                                ));
                                continue;
                            }
                            let mut content = prepared.content;
                            content.flags.read_only = false;
                            data_types.push(content.data_type.clone());
                            refs.extend(prepared.refs.into_iter().map(|r| (loc.clone(), r)));
                            slots.push(Slot::Op(ops.len(), WriteOutcome::Updated));
                            ops.push(WriteOp::Update {
                                id: item_id,
                                expected_version: m.meta.version,
                                content,
                            });
                        }
                        None => {
                            data_types.push(prepared.content.data_type.clone());
                            created.insert(item_id, prepared.content.resource_type.clone());
                            refs.extend(prepared.refs.into_iter().map(|r| (loc.clone(), r)));
                            slots.push(Slot::Op(ops.len(), WriteOutcome::Created));
                            ops.push(WriteOp::Create {
                                id: item_id,
                                content: prepared.content,
                            });
                        }
                    }
                }
                ItemRequest::Update {
                    id,
                    expected_version,
                    envelope,
                    ..
                } => {
                    let Some(meta) = current.get(&id) else {
                        return Err(ServiceError::NotFound(format!("item {id} not found")));
                    };
                    visible(meta)?;
                    if meta.state == ItemState::Purged {
                        return Err(ServiceError::Gone(format!("item {id} was permanently removed")));
                    }
                    permit(&meta.data_type, Operation::Update)?;
                    let prepared = match prepared_result {
                        Some(Ok(p)) => p,
                        None => return Err(ServiceError::Internal("a resource was not prepared".into())),
                        Some(Err(found)) => {
                            issues.extend(found.into_iter().map(|f| f.under(&loc)));
                            continue;
                        }
                    };
                    let mut content = prepared.content;
                    permit(&content.data_type, Operation::Update)?;
                    if content.resource_type != meta.resource_type {
                        issues.push(ValidationIssue::error(
                            "invalid",
                            loc.clone(),
                            format!(
                                "item {id} holds a {}; it cannot become a {}",
                                meta.resource_type, content.resource_type
                            ),
                        ));
                        continue;
                    }
                    if envelope.flags.read_only && !meta.flags.read_only {
                        issues.push(ValidationIssue::error(
                            "business-rule",
                            loc.clone(),
                            "the read-only flag can be set only when an item is created",
                        ));
                        continue;
                    }
                    content.flags.read_only = meta.flags.read_only;
                    if meta.flags.read_only && !self.same_body(ctx, record, id, &content.body)? {
                        issues.push(ValidationIssue::error(
                            "business-rule",
                            loc.clone(),
                            "the item is read-only; only its tags, note and end date can change",
                        ));
                        continue;
                    }
                    if content.client_id.is_none() {
                        content.client_id = meta.client_id.clone();
                    }
                    data_types.push(content.data_type.clone());
                    refs.extend(prepared.refs.into_iter().map(|r| (loc.clone(), r)));
                    slots.push(Slot::Op(ops.len(), WriteOutcome::Updated));
                    ops.push(WriteOp::Update {
                        id,
                        expected_version: expected_version.unwrap_or(meta.version),
                        content,
                    });
                }
                ItemRequest::Delete { id, expected_version }
                | ItemRequest::Restore { id, expected_version } => {
                    let Some(meta) = current.get(&id) else {
                        return Err(ServiceError::NotFound(format!("item {id} not found")));
                    };
                    visible(meta)?;
                    if meta.state == ItemState::Purged {
                        return Err(ServiceError::Gone(format!("item {id} was permanently removed")));
                    }
                    permit(&meta.data_type, Operation::Delete)?;
                    let deleting = matches!(req, ItemRequest::Delete { .. });
                    if deleting && id == target.patient_item {
                        issues.push(ValidationIssue::error(
                            "business-rule",
                            loc.clone(),
                            "the record's Patient cannot be deleted",
                        ));
                        continue;
                    }
                    let expected = expected_version.unwrap_or(meta.version);
                    let already = if deleting {
                        ItemState::Deleted
                    } else {
                        ItemState::Active
                    };
                    data_types.push(meta.data_type.clone());
                    if meta.state == already && expected == meta.version {
                        slots.push(Slot::Done(Box::new(WriteOutcome::Unchanged(meta.clone()))));
                    } else if deleting {
                        slots.push(Slot::Op(ops.len(), WriteOutcome::Deleted));
                        ops.push(WriteOp::Delete {
                            id,
                            expected_version: expected,
                        });
                    } else {
                        slots.push(Slot::Op(ops.len(), WriteOutcome::Restored));
                        ops.push(WriteOp::Restore {
                            id,
                            expected_version: expected,
                        });
                    }
                }
            }
        }

        // References must resolve inside the record.
        let mut lookup = Vec::new();
        for (loc, r) in &refs {
            if r.resource_type == "Patient" && r.id != target.patient_item {
                issues.push(ValidationIssue::error(
                    "not-found",
                    crate::error::join_path(loc, &r.path),
                    format!(
                        "refers to Patient/{}, which is not this record's Patient (Patient/{})",
                        r.id, target.patient_item
                    ),
                ));
            } else if let Some(rt) = created.get(&r.id) {
                if *rt != r.resource_type {
                    issues.push(ValidationIssue::error(
                        "not-found",
                        crate::error::join_path(loc, &r.path),
                        format!("refers to {}/{} but that item is a {rt}", r.resource_type, r.id),
                    ));
                }
            } else if r.id != target.patient_item || !target.is_new {
                lookup.push(r.id);
            }
        }
        lookup.sort();
        lookup.dedup();
        let found: HashMap<ItemId, ItemMeta> = if lookup.is_empty() || target.is_new {
            HashMap::new()
        } else {
            store
                .current_meta(record, &lookup)?
                .into_iter()
                .map(|m| (m.id, m))
                .collect()
        };
        let mut must_exist = Vec::new();
        for (loc, r) in &refs {
            if created.contains_key(&r.id) || (target.is_new && r.id == target.patient_item) {
                continue;
            }
            match found.get(&r.id) {
                Some(m) if m.state != ItemState::Purged && m.resource_type == r.resource_type => {
                    must_exist.push(r.id)
                }
                Some(m) if m.state != ItemState::Purged => issues.push(ValidationIssue::error(
                    "not-found",
                    crate::error::join_path(loc, &r.path),
                    format!(
                        "refers to {}/{} but that item is a {}",
                        r.resource_type, r.id, m.resource_type
                    ),
                )),
                _ => issues.push(ValidationIssue::error(
                    "not-found",
                    crate::error::join_path(loc, &r.path),
                    format!(
                        "reference {}/{} does not resolve to an item of this record",
                        r.resource_type, r.id
                    ),
                )),
            }
        }
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(issues));
        }
        must_exist.sort();
        must_exist.dedup();
        data_types.sort();
        data_types.dedup();
        let action = if !ops.is_empty() && ops.iter().all(|o| matches!(o, WriteOp::Delete { .. })) {
            AuditAction::Delete
        } else if !ops.is_empty() && ops.iter().all(|o| matches!(o, WriteOp::Restore { .. })) {
            AuditAction::Restore
        } else {
            AuditAction::Write
        };
        let mut audit = self.audit_entry(ctx, Some(record), action);
        audit.data_types = data_types;
        if let Some(d) = &decision
            && !ops.is_empty()
        {
            self.note_app_use(d, hearth_store::GrantUse::Write);
        }
        Ok((
            WriteBatch {
                record,
                actor: actor.clone(),
                at,
                ops,
                must_exist,
                audit,
            },
            slots,
        ))
    }

    /// Whether the stored body of a (read-only) item equals `body`.
    fn same_body(&self, ctx: &Context, record: RecordId, id: ItemId, body: &str) -> ServiceResult<bool> {
        let entry = self.audit_entry(ctx, Some(record), AuditAction::Read);
        let items = self.store.read(record, &[id], &entry)?;
        Ok(items.first().and_then(|i| i.body.as_deref()) == Some(body))
    }
}

/// Below this many resources a batch is prepared on the calling thread.
const PARALLEL_PREPARE: usize = 64;

type PrepareJob = (usize, Value, ItemId, EnvelopeFields);
type PrepareResult = (usize, Result<Prepared, Vec<ValidationIssue>>);

/// Prepares resources, splitting large batches over two threads (the work is CPU-bound and
/// independent per resource; the rest of the write path is serial).
fn prepare_all(mut jobs: Vec<PrepareJob>, at: Timestamp) -> ServiceResult<Vec<PrepareResult>> {
    let run = |jobs: Vec<PrepareJob>| -> Vec<PrepareResult> {
        jobs.into_iter()
            .map(|(i, r, id, env)| (i, prepare(r, id, &env, at)))
            .collect()
    };
    if jobs.len() < PARALLEL_PREPARE {
        return Ok(run(jobs));
    }
    let second = jobs.split_off(jobs.len() / 2);
    std::thread::scope(|s| {
        let handle = s.spawn(|| run(second));
        let mut out = run(jobs);
        out.extend(
            handle
                .join()
                .map_err(|_| ServiceError::Internal("resource preparation panicked".into()))?,
        );
        Ok(out)
    })
}
