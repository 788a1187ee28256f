//! Placing a unit's resources into records and writing them, one transaction per unit.
//!
//! Identity and idempotency: each resource's client id is its bundle `fullUrl`, else its source
//! `Type/id`. The importer writes as the tool `hearth-import`, so client ids are scoped to that
//! writer and the record; importing the same input again finds every client id with identical
//! content and writes nothing.
//!
//! References: `urn:uuid:` and other fullUrl references, and relative `Type/id` references to
//! entries of the same unit, are rewritten to `Type/<item id>`; a relative reference to a
//! resource imported earlier is found by its client id. Whatever stays unresolved is rejected by
//! validation with its path.
//!
//! Placement (`--owner`): every Patient starts (or, on a re-run, finds) a record owned by the
//! account; a resource that refers to a Patient goes into that Patient's record; a resource that
//! refers to no Patient (Organization, Practitioner, Medication…) goes into every record whose
//! resources refer to it, directly or through others; a resource still unplaced goes where the
//! resources it refers to went. A resource nothing places is reported.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use hearth_core::items::{BatchRequest, NewRecordPlan};
use hearth_core::prepare::EnvelopeFields;
use hearth_core::{Context, ItemRequest, ServiceError, Services, WriteOutcome};
use hearth_domain::{AccountId, ItemId, RecordId, Relationship};
use serde_json::Value;

use crate::source::{Entry, Unit};

/// The tool name imports are written and audited under.
pub const IMPORT_TOOL: &str = "hearth-import";

#[derive(Debug, thiserror::Error)]
#[error("{source_name}{}: {message}", if .location.is_empty() { String::new() } else { format!(": {}", .location) })]
pub struct ImportError {
    /// The file (or generated source).
    pub source_name: String,
    /// Entry and path inside it, e.g. `Bundle.entry[3].resource.status`.
    pub location: String,
    pub message: String,
}

impl ImportError {
    pub fn at(source: impl Into<String>, location: impl Into<String>, message: impl Into<String>) -> Self {
        ImportError {
            source_name: source.into(),
            location: location.into(),
            message: message.into(),
        }
    }
    pub fn io(path: &Path, e: std::io::Error) -> Self {
        ImportError::at(path.display().to_string(), "", e.to_string())
    }
    fn service(source: &str, e: ServiceError) -> Vec<Self> {
        match e {
            ServiceError::Invalid(issues) => issues
                .into_iter()
                .map(|i| ImportError::at(source, i.path, i.message))
                .collect(),
            other => vec![ImportError::at(source, "", other.public_message())],
        }
    }
}

/// Where the data goes.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Everything into one record; the input's Patient (at most one) becomes its Patient.
    Record(RecordId),
    /// A record per Patient, owned by the account.
    Owner {
        account: AccountId,
        relationship: Relationship,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub units: u64,
    pub resources: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub records_created: u64,
    /// Resources that belong to no Patient and that no record refers to (`--owner` only).
    pub unplaced: u64,
    pub records: BTreeSet<RecordId>,
}

pub struct Importer<'a> {
    svc: &'a Services,
    ctx: Context,
    target: Target,
    patients_seen: u64,
    pub summary: ImportSummary,
}

/// One entry's names: its client id and every string another entry may use to refer to it.
struct Names {
    client_id: Option<String>,
    aliases: Vec<String>,
    resource_type: String,
}

fn names_of(e: &Entry) -> Names {
    let rt = e
        .resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let typed_id = e
        .resource
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!("{rt}/{id}"));
    let mut aliases = Vec::new();
    if let Some(u) = &e.full_url {
        aliases.push(u.clone());
        // An absolute fullUrl's "Type/id" tail is how relative references name it.
        if let Some(tail) = tail_type_id(u) {
            aliases.push(tail);
        }
    }
    if let Some(t) = &typed_id {
        aliases.push(t.clone());
    }
    Names {
        client_id: e.full_url.clone().or(typed_id),
        aliases,
        resource_type: rt,
    }
}

fn tail_type_id(url: &str) -> Option<String> {
    if !url.contains("://") {
        return None;
    }
    let mut parts = url.rsplit('/');
    let id = parts.next()?;
    let rt = parts.next()?;
    hearth_fhir::is_resource_type(rt).then(|| format!("{rt}/{id}"))
}

fn is_patient(e: &Entry) -> bool {
    is_patient_value(&e.resource)
}

fn is_patient_value(v: &Value) -> bool {
    v.get("resourceType").and_then(Value::as_str) == Some("Patient")
}

impl<'a> Importer<'a> {
    pub fn new(svc: &'a Services, target: Target) -> Self {
        Importer {
            svc,
            ctx: Context::tool(IMPORT_TOOL),
            target,
            patients_seen: 0,
            summary: ImportSummary::default(),
        }
    }

    /// Imports one unit in one transaction. On error nothing of the unit is written.
    pub fn import_unit(&mut self, unit: Unit) -> Result<(), Vec<ImportError>> {
        let n = unit.entries.len() as u64;
        let outcome = match self.target {
            Target::Record(record) => self.import_into_record(record, unit),
            Target::Owner {
                account,
                relationship,
            } => self.by_patient(account, relationship, unit),
        }?;
        self.summary.units += 1;
        self.summary.resources += n;
        for o in outcome.iter().flatten() {
            match o {
                WriteOutcome::Created(_) => self.summary.created += 1,
                WriteOutcome::Updated(_) | WriteOutcome::Deleted(_) | WriteOutcome::Restored(_) => {
                    self.summary.updated += 1
                }
                WriteOutcome::Unchanged(_) => self.summary.unchanged += 1,
            }
        }
        Ok(())
    }

    fn import_into_record(
        &mut self,
        record: RecordId,
        unit: Unit,
    ) -> Result<Vec<Vec<WriteOutcome>>, Vec<ImportError>> {
        let src = unit.source.clone();
        let svc_err = |e| ImportError::service(&src, e);
        let rec = self.svc.record(&self.ctx, record).map_err(svc_err)?;
        let patients = unit.entries.iter().filter(|e| is_patient(e)).count() as u64;
        if self.patients_seen + patients > 1 {
            return Err(vec![ImportError::at(
                &unit.source,
                "",
                "the input holds more than one Patient; --record takes at most one (use --owner for one record per Patient)",
            )]);
        }
        self.patients_seen += patients;
        let names: Vec<Names> = unit.entries.iter().map(names_of).collect();
        let name_refs: Vec<&Names> = names.iter().collect();
        let ids = self
            .assign_ids(record, &unit.entries, &name_refs, Some(rec.patient_item))
            .map_err(svc_err)?;
        let source = unit.source.clone();
        let (requests, locations) = self
            .requests(record, unit.entries, &name_refs, &ids, rec.patient_item)
            .map_err(svc_err)?;
        let out = self
            .svc
            .write_many(
                &self.ctx,
                vec![],
                vec![BatchRequest {
                    record,
                    requests,
                    locations,
                }],
            )
            .map_err(|e| ImportError::service(&source, e))?;
        self.summary.records.insert(record);
        Ok(out)
    }

    /// Item ids for the entries going into `record`: existing ones by client id, the record's
    /// Patient for a Patient entry, fresh ones otherwise.
    fn assign_ids(
        &self,
        record: RecordId,
        entries: &[Entry],
        names: &[&Names],
        patient_item: Option<ItemId>,
    ) -> Result<Vec<(ItemId, bool)>, ServiceError> {
        let cids: Vec<String> = names.iter().filter_map(|n| n.client_id.clone()).collect();
        let known: HashMap<String, ItemId> = if cids.is_empty() {
            HashMap::new()
        } else {
            self.svc
                .find_by_client_ids(&self.ctx, record, &cids)?
                .into_iter()
                .map(|m| (m.client_id, m.meta.id))
                .collect()
        };
        Ok(entries
            .iter()
            .zip(names)
            .map(|(e, n)| match n.client_id.as_ref().and_then(|c| known.get(c)) {
                Some(id) => (*id, true),
                None if is_patient(e) => (patient_item.unwrap_or_default(), false),
                None => (ItemId::new(), false),
            })
            .collect())
    }

    /// Rewrites references and builds the requests for `entries` (with their names and ids).
    fn requests(
        &self,
        record: RecordId,
        entries: Vec<Entry>,
        names: &[&Names],
        ids: &[(ItemId, bool)],
        patient_item: ItemId,
    ) -> Result<(Vec<ItemRequest>, Vec<String>), ServiceError> {
        let mut alias: HashMap<&str, String> = HashMap::new();
        for (pos, n) in names.iter().enumerate() {
            for a in &n.aliases {
                alias.insert(a.as_str(), format!("{}/{}", n.resource_type, ids[pos].0));
            }
        }
        let mut resources: Vec<Value> = Vec::with_capacity(entries.len());
        let mut places: Vec<(String, bool)> = Vec::with_capacity(entries.len());
        // Relative references to resources imported before are found by client id.
        let mut outside = Vec::new();
        for e in entries {
            places.push((e.location, is_patient_value(&e.resource)));
            let mut resource = e.resource;
            rewrite_reference_strings(&mut resource, &mut |r| match alias.get(r) {
                Some(new) => Some(new.clone()),
                None => {
                    if is_relative(r) {
                        outside.push(r.to_string());
                    }
                    None
                }
            });
            resources.push(resource);
        }
        if !outside.is_empty() {
            outside.sort();
            outside.dedup();
            let earlier: HashMap<String, String> = self
                .svc
                .find_by_client_ids(&self.ctx, record, &outside)?
                .into_iter()
                .map(|m| (m.client_id, format!("{}/{}", m.meta.resource_type, m.meta.id)))
                .collect();
            if !earlier.is_empty() {
                for r in &mut resources {
                    rewrite_reference_strings(r, &mut |x| earlier.get(x).cloned());
                }
            }
        }
        let mut requests = Vec::with_capacity(places.len());
        let mut locations = Vec::with_capacity(places.len());
        for (pos, ((location, patient), resource)) in places.into_iter().zip(resources).enumerate() {
            // Provenance is the writer (the `hearth-import` tool) and the client id (the source's
            // fullUrl or Type/id); no per-item source text is needed.
            let envelope = EnvelopeFields {
                client_id: names[pos].client_id.clone(),
                ..Default::default()
            };
            let (id, known) = ids[pos];
            let req = if patient && !known {
                ItemRequest::Update {
                    id: patient_item,
                    expected_version: None,
                    resource,
                    envelope,
                }
            } else {
                ItemRequest::Create {
                    id: Some(id),
                    resource,
                    envelope,
                }
            };
            requests.push(req);
            locations.push(format!("{location}.resource"));
        }
        Ok((requests, locations))
    }

    fn by_patient(
        &mut self,
        owner: AccountId,
        relationship: Relationship,
        unit: Unit,
    ) -> Result<Vec<Vec<WriteOutcome>>, Vec<ImportError>> {
        let src = unit.source.clone();
        let svc_err = |e| ImportError::service(&src, e);
        let names: Vec<Names> = unit.entries.iter().map(names_of).collect();
        let mut by_alias: HashMap<&str, usize> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            for a in &n.aliases {
                by_alias.insert(a.as_str(), i);
            }
        }
        // Records: one per Patient of the unit (found again on a re-run), plus records of
        // Patients imported earlier that relative references name.
        struct Placement {
            record: RecordId,
            new: Option<NewRecordPlan>,
        }
        let mut records: Vec<Placement> = Vec::new();
        let mut record_of_patient: HashMap<usize, usize> = HashMap::new();
        for (i, e) in unit.entries.iter().enumerate() {
            if !is_patient(e) {
                continue;
            }
            let existing = match &names[i].client_id {
                Some(c) => self
                    .svc
                    .record_by_patient_client_id(&self.ctx, owner, c)
                    .map_err(svc_err)?,
                None => None,
            };
            let placement = match existing {
                Some(r) => Placement { record: r, new: None },
                None => {
                    let plan = NewRecordPlan {
                        record_id: RecordId::new(),
                        patient_item: ItemId::new(),
                        display_name: hearth_core::fhir::interactions::patient_display_name(
                            &e.resource,
                            "Imported patient",
                        ),
                        owner,
                        relationship,
                        patient: Value::Null,
                        patient_envelope: EnvelopeFields::default(),
                    };
                    Placement {
                        record: plan.record_id,
                        new: Some(plan),
                    }
                }
            };
            record_of_patient.insert(i, records.len());
            records.push(placement);
        }
        // Which records each entry belongs to.
        let refs: Vec<Vec<&str>> = unit
            .entries
            .iter()
            .map(|e| reference_strings(&e.resource))
            .collect();
        let mut homes: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); unit.entries.len()];
        for i in 0..unit.entries.len() {
            if let Some(r) = record_of_patient.get(&i) {
                homes[i].insert(*r);
                continue;
            }
            for r in &refs[i] {
                match by_alias.get(*r) {
                    Some(j) if record_of_patient.contains_key(j) => {
                        homes[i].insert(record_of_patient[j]);
                    }
                    Some(_) => {}
                    None if r.starts_with("Patient/") => {
                        if let Some(rec) = self
                            .svc
                            .record_by_patient_client_id(&self.ctx, owner, r)
                            .map_err(svc_err)?
                        {
                            let k = records.iter().position(|p| p.record == rec).unwrap_or_else(|| {
                                records.push(Placement {
                                    record: rec,
                                    new: None,
                                });
                                records.len() - 1
                            });
                            homes[i].insert(k);
                        }
                    }
                    None => {}
                }
            }
        }
        // Resources of no patient follow the records that refer to them (to a fixpoint).
        for _ in 0..16 {
            let mut changed = false;
            for i in 0..unit.entries.len() {
                if homes[i].is_empty() {
                    continue;
                }
                let from = homes[i].clone();
                for r in &refs[i] {
                    if let Some(&j) = by_alias.get(*r)
                        && !record_of_patient.contains_key(&j)
                        && !from.is_subset(&homes[j])
                    {
                        homes[j].extend(from.iter().copied());
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        // A resource still without a record (an Observation derived from another, a Provenance…)
        // goes where the resources it refers to are.
        for _ in 0..16 {
            let mut changed = false;
            for i in 0..unit.entries.len() {
                if !homes[i].is_empty() {
                    continue;
                }
                let mut found = BTreeSet::new();
                for r in &refs[i] {
                    if let Some(&j) = by_alias.get(*r) {
                        found.extend(homes[j].iter().copied());
                    }
                }
                if !found.is_empty() {
                    homes[i] = found;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        self.summary.unplaced += homes.iter().filter(|h| h.is_empty()).count() as u64;

        let source = unit.source.clone();
        let mut pool: Vec<Option<Entry>> = unit.entries.into_iter().map(Some).collect();
        let mut new_records = Vec::new();
        let mut batches = Vec::new();
        for (k, placement) in records.iter_mut().enumerate() {
            let idx: Vec<usize> = (0..pool.len()).filter(|i| homes[*i].contains(&k)).collect();
            // An entry of one record moves into its batch; one shared by several is copied.
            let member_entries: Vec<Entry> = idx
                .iter()
                .map(|i| {
                    if homes[*i].len() == 1 {
                        pool[*i].take()
                    } else {
                        pool[*i].clone()
                    }
                })
                .collect::<Option<Vec<Entry>>>()
                .ok_or_else(|| vec![ImportError::at(&source, "", "an entry was placed twice")])?;
            let member_names: Vec<&Names> = idx.iter().map(|i| &names[*i]).collect();
            let patient_item = match &placement.new {
                Some(p) => p.patient_item,
                None => {
                    self.svc
                        .record(&self.ctx, placement.record)
                        .map_err(svc_err)?
                        .patient_item
                }
            };
            let ids = if placement.new.is_some() {
                member_entries
                    .iter()
                    .map(|e| {
                        (
                            if is_patient(e) {
                                patient_item
                            } else {
                                ItemId::new()
                            },
                            false,
                        )
                    })
                    .collect()
            } else {
                self.assign_ids(
                    placement.record,
                    &member_entries,
                    &member_names,
                    Some(patient_item),
                )
                .map_err(svc_err)?
            };
            let (mut requests, mut locations) = self
                .requests(
                    placement.record,
                    member_entries,
                    &member_names,
                    &ids,
                    patient_item,
                )
                .map_err(svc_err)?;
            if let Some(plan) = placement.new.as_mut() {
                // The new record's Patient travels in the plan; the rest in its batch.
                if let Some(p) = requests.iter().position(|r| match r {
                    ItemRequest::Update { id, .. } => *id == patient_item,
                    _ => false,
                }) {
                    if let ItemRequest::Update {
                        resource, envelope, ..
                    } = requests.remove(p)
                    {
                        plan.patient = resource;
                        plan.patient_envelope = envelope;
                    }
                    locations.remove(p);
                }
            }
            batches.push(BatchRequest {
                record: placement.record,
                requests,
                locations,
            });
            if let Some(plan) = placement.new.take() {
                new_records.push(plan);
            }
            self.summary.records.insert(placement.record);
        }
        let created = new_records.len() as u64;
        let out = self
            .svc
            .write_many(&self.ctx, new_records, batches)
            .map_err(|e| ImportError::service(&source, e))?;
        // The new records' Patients are written with the records, outside the batch outcomes.
        self.summary.records_created += created;
        self.summary.created += created;
        Ok(out)
    }
}

fn is_relative(r: &str) -> bool {
    !r.starts_with('#') && !r.contains(':') && r.split('/').count() == 2
}

/// Every `reference` string of any object in `v`. A fast, schema-free scan for placement and
/// rewriting; validation walks references exactly, by the FHIR model, afterwards.
fn reference_strings(v: &Value) -> Vec<&str> {
    fn go<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    match x {
                        Value::String(s) if k == "reference" => out.push(s),
                        Value::Object(_) | Value::Array(_) => go(x, out),
                        _ => {}
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| go(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(v, &mut out);
    out
}

/// Replaces `reference` strings for which `f` returns a new value.
fn rewrite_reference_strings(v: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s) if k == "reference" => {
                        if let Some(new) = f(s) {
                            *s = new;
                        }
                    }
                    Value::Object(_) | Value::Array(_) => rewrite_reference_strings(x, f),
                    _ => {}
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_reference_strings(x, f)),
        _ => {}
    }
}
