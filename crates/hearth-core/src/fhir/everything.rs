//! `Patient/[id]/$everything` (https://hl7.org/fhir/R4/patient-operation-everything.html): every
//! resource of the patient's record the token may read, the Patient first, with `_since` (changed
//! at or after), `_type` (these resource types only) and `_count` (page size; pages follow by
//! keyset position, so paging is stable while the record changes).

use hearth_domain::{AuditAction, Cursor, Item, ItemQuery, Order, RecordId, Timestamp};

use super::records::{data_types_of, not_found};
use crate::authz::Operation;
use crate::{Context, ServiceError, ServiceResult, Services};

#[derive(Clone, Debug, Default)]
pub struct EverythingRequest {
    pub since: Option<Timestamp>,
    pub types: Vec<String>,
    pub count: Option<u32>,
    pub page: Option<String>,
}

pub struct EverythingPage {
    pub record: RecordId,
    pub items: Vec<Item>,
    pub next: Option<String>,
    pub total: Option<usize>,
}

/// Without `_count`, everything comes in one page up to this many resources.
pub const MAX_PAGE: u32 = ItemQuery::MAX_LIMIT * 10;

impl Services {
    pub fn fhir_everything(
        &self,
        ctx: &Context,
        patient_id: &str,
        req: &EverythingRequest,
    ) -> ServiceResult<EverythingPage> {
        let patient = self.fhir_read(ctx, "Patient", patient_id)?;
        let record = patient.meta.record_id;
        let rec = self
            .store
            .record(record)?
            .ok_or_else(|| not_found("Patient", patient_id))?;
        if rec.patient_item != patient.meta.id {
            return Err(not_found("Patient", patient_id));
        }
        for t in &req.types {
            if !hearth_fhir::is_resource_type(t) {
                return Err(ServiceError::invalid(
                    "value",
                    "_type",
                    format!("{t} is not a FHIR R4 resource type"),
                ));
            }
        }
        self.audited(ctx, Some(record), AuditAction::Query, || {
            let decision = self.authorize(ctx, record, Operation::Read)?;
            let mut data_types: Vec<String> = req.types.iter().flat_map(|t| data_types_of(t)).collect();
            if let Some(readable) = decision.readable_types() {
                data_types = if data_types.is_empty() {
                    readable
                } else {
                    data_types.into_iter().filter(|d| readable.contains(d)).collect()
                };
                if data_types.is_empty() {
                    return Ok(EverythingPage {
                        record,
                        items: vec![],
                        next: None,
                        total: Some(0),
                    });
                }
            }
            let want = req.count.map_or(MAX_PAGE, |c| c.clamp(1, MAX_PAGE)) as usize;
            let mut after =
                match &req.page {
                    Some(p) => Some(Cursor::decode(p).ok_or_else(|| {
                        ServiceError::invalid("value", "_page", "this page link is not valid")
                    })?),
                    None => None,
                };
            let first_page = after.is_none();
            let mut items: Vec<Item> = Vec::new();
            let mut next = None;
            loop {
                let q = ItemQuery {
                    data_types: data_types.clone(),
                    updated_since: req.since,
                    include_personal: ctx.sees_personal(),
                    order: Order::UpdatedAsc,
                    limit: ItemQuery::MAX_LIMIT,
                    after,
                    ..ItemQuery::default()
                };
                let page = self.store.scan(record, &q)?;
                let exhausted = page.next.is_none();
                for (item, pos) in page.items.into_iter().zip(page.positions) {
                    if items.len() == want {
                        next = Some(after.unwrap_or(pos).encode());
                        break;
                    }
                    after = Some(pos);
                    items.push(item);
                }
                if next.is_some() || exhausted {
                    break;
                }
            }
            if next.is_none() && items.len() == want && !first_page {
                // A full last page: a following page may still hold items.
            }
            // The Patient first (it is in the result unless `_type` or `_since` left it out).
            if let Some(i) = items.iter().position(|i| i.meta.id == rec.patient_item) {
                let p = items.remove(i);
                items.insert(0, p);
            }
            items.retain(|i| self.may_see(&decision, ctx, &i.meta));
            self.log_returned(ctx, record, AuditAction::Query, &items, None)?;
            let total = (first_page && next.is_none()).then_some(items.len());
            Ok(EverythingPage {
                record,
                items,
                next,
                total,
            })
        })
    }
}
