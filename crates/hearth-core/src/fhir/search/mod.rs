//! Search (https://hl7.org/fhir/R4/search.html) over the records a token reaches.
//!
//! Parameters are parsed and evaluated by `hearth_fhir::search` (the official R4 search
//! parameter definitions, compiled FHIRPath). Here: which records to look in (a `patient`/
//! `subject` reference narrows a `user/` token's search to that Patient's record), the indexed
//! pre-filter (record, data types the token may read, the primary code), evaluation of every
//! parameter on the candidates, `_sort`, paging, `_include`/`_revinclude`, and the audit of what
//! was returned.
//!
//! Paging. Without `_sort`, or sorted by `_lastUpdated`, pages are keyset pages: a page link
//! carries the position (record, sort key, item) of the last resource shown, so resources
//! written while a client pages never shift or repeat a page, and `previous` walks back the same
//! way. Other sorts order every match in memory; their page links name the item to resume after
//! (or before), so they stay correct too.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_domain::{AuditAction, Cursor, Item, ItemMeta, ItemQuery, Order, RecordId, Timestamp};
use hearth_fhir::search::{self as sp, Criteria, Handling, ParseOptions};
use serde_json::Value;

mod includes;
mod paging;

use paging::PageToken;

use super::records::data_types_of;
use crate::authz::Operation;
use crate::render::render_resource;
use crate::{Context, ServiceError, ServiceResult, Services, ValidationIssue};

pub const DEFAULT_COUNT: u32 = 50;
pub const MAX_COUNT: u32 = 1000;
/// Items read from the store per round while filtering.
const SCAN_CHUNK: u32 = 500;
/// The most matches a search sorted in memory (or counted) will look at.
const MAX_IN_MEMORY: usize = 100_000;

/// Parameters the API handles around the search itself.
pub const PASSTHROUGH: &[&str] = &["_format", "_pretty", "_page", "_since", "_type", "_outputFormat"];

#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub resource_type: String,
    pub pairs: Vec<(String, String)>,
    pub strict: bool,
    /// Restrict to one record (compartment searches such as `Patient/[id]/Observation`).
    pub record: Option<RecordId>,
}

impl SearchRequest {
    /// From a URL query string (`a=1&b=2`, percent-encoded).
    pub fn from_query(resource_type: &str, query: &str, strict: bool) -> Self {
        SearchRequest {
            resource_type: resource_type.to_string(),
            pairs: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            strict,
            record: None,
        }
    }
}

/// One resource in a result page.
#[derive(Clone, Debug)]
pub struct Hit {
    pub meta: ItemMeta,
    /// As served (with `meta.versionId` and `meta.lastUpdated`, `_elements`/`_summary` applied).
    pub resource: Value,
    /// Brought in by `_include`/`_revinclude` rather than matched.
    pub included: bool,
}

#[derive(Clone, Debug)]
pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// The `_page` value of the next and previous pages.
    pub next: Option<String>,
    pub previous: Option<String>,
    /// The number of matches, when known (always with `_summary=count` or `_total=accurate`).
    pub total: Option<usize>,
    /// The parameters that took effect (for the self link) and those ignored.
    pub applied: Vec<(String, String)>,
    pub ignored: Vec<String>,
    /// `_summary=count`: no resources, only the total.
    pub count_only: bool,
}

fn now_system(t: Timestamp) -> SystemTime {
    if t.0 >= 0 {
        UNIX_EPOCH + Duration::from_micros(t.0 as u64)
    } else {
        UNIX_EPOCH
    }
}

fn search_error(errors: Vec<sp::SearchError>) -> ServiceError {
    ServiceError::Invalid(
        errors
            .into_iter()
            .map(|e| ValidationIssue::error("not-supported", e.param.clone(), e.message))
            .collect(),
    )
}

/// A record to search and what the token may read in it.
struct Scope {
    record: RecordId,
    data_types: Vec<String>,
    decision: crate::authz::Decision,
}

/// A match with where it stands.
struct Found {
    scope: usize,
    pos: Cursor,
    item: Item,
    resource: Value,
}

impl Services {
    fn parse_criteria(&self, req: &SearchRequest) -> ServiceResult<Criteria> {
        if !hearth_fhir::is_resource_type(&req.resource_type) {
            return Err(ServiceError::NotFound(format!(
                "{} is not a FHIR R4 resource type",
                req.resource_type
            )));
        }
        let base = self.auth.settings.fhir_base();
        let opts = ParseOptions {
            handling: if req.strict {
                Handling::Strict
            } else {
                Handling::Lenient
            },
            passthrough: PASSTHROUGH,
            now: now_system(self.now()),
            base_url: Some(&base),
        };
        sp::parse(&req.resource_type, &req.pairs, &opts).map_err(search_error)
    }

    /// The records to look in, narrowed by a Patient reference filter when there is one.
    fn search_scopes(
        &self,
        ctx: &Context,
        req: &SearchRequest,
        criteria: &Criteria,
    ) -> ServiceResult<Vec<Scope>> {
        // A Patient named in the criteria confines the search to that patient's record (found
        // with one lookup, not by listing every record the token reaches).
        let records = match (req.record, patient_filter(criteria)) {
            (Some(r), _) => vec![r],
            (None, Some(ids)) => {
                let mut narrowed = Vec::new();
                for id in ids {
                    if let Some((r, _)) = self.fhir_locate(ctx, &id)?
                        && !narrowed.contains(&r)
                    {
                        narrowed.push(r);
                    }
                }
                narrowed
            }
            (None, None) => self.fhir_records(ctx)?,
        };
        let types = data_types_of(&req.resource_type);
        let mut scopes = Vec::new();
        for record in records {
            let decision = match self.authorize(ctx, record, Operation::Read) {
                Ok(d) => d,
                // A record the token cannot read contributes nothing, like a record with no data.
                Err(_) => continue,
            };
            let data_types: Vec<String> = match decision.readable_types() {
                Some(readable) => types.iter().filter(|t| readable.contains(t)).cloned().collect(),
                None => types.clone(),
            };
            if !data_types.is_empty() {
                scopes.push(Scope {
                    record,
                    data_types,
                    decision,
                });
            }
        }
        Ok(scopes)
    }

    /// Runs a search and returns one page.
    pub fn fhir_search(&self, ctx: &Context, req: &SearchRequest) -> ServiceResult<SearchPage> {
        let criteria = self.parse_criteria(req)?;
        let page_param = req
            .pairs
            .iter()
            .find(|(k, _)| k == "_page")
            .map(|(_, v)| v.as_str());
        let token = match page_param {
            Some(p) => Some(
                PageToken::decode(p)
                    .ok_or_else(|| ServiceError::invalid("value", "_page", "this page link is not valid"))?,
            ),
            None => None,
        };
        let scopes = self.search_scopes(ctx, req, &criteria)?;
        let count = criteria.count.unwrap_or(DEFAULT_COUNT).clamp(1, MAX_COUNT) as usize;
        let count_only = criteria.summary == Some(sp::Summary::Count);
        let hint = code_hint(&criteria);

        let keyset_order = match criteria.sort.as_slice() {
            [] => Some(Order::EffectiveDesc),
            [s] if s.param.code() == "_lastUpdated" => Some(if s.descending {
                Order::UpdatedDesc
            } else {
                Order::UpdatedAsc
            }),
            _ => None,
        };
        let accurate = count_only || criteria.total == Some(sp::Total::Accurate);

        let (mut found, next, previous, mut total) = match (keyset_order, token) {
            (Some(order), t) if !count_only => {
                let (found, next, previous) =
                    self.keyset_page(&scopes, &criteria, hint.as_deref(), ctx, order, count, t)?;
                (found, next, previous, None)
            }
            _ => {
                let all = self.scan_all(&scopes, &criteria, hint.as_deref(), ctx)?;
                let total = all.len();
                if count_only {
                    (vec![], None, None, Some(total))
                } else {
                    let (page, next, previous) = self.sorted_page(all, &criteria, count, token)?;
                    (page, next, previous, Some(total))
                }
            }
        };
        if total.is_none() && token.is_none() && next.is_none() {
            total = Some(found.len());
        }
        if total.is_none() && accurate {
            total = Some(self.scan_all(&scopes, &criteria, hint.as_deref(), ctx)?.len());
        }

        // Includes, then the audit of what each record returned.
        let included = self.includes(ctx, &scopes, &criteria, &found)?;
        let mut hits: Vec<Hit> = Vec::with_capacity(found.len() + included.len());
        let mut by_scope: HashMap<usize, Vec<Item>> = HashMap::new();
        for f in found.drain(..) {
            let mut resource = f.resource;
            shape(&mut resource, &criteria);
            by_scope.entry(f.scope).or_default().push(f.item.clone());
            hits.push(Hit {
                meta: f.item.meta,
                resource,
                included: false,
            });
        }
        for (scope, item, mut resource) in included {
            shape(&mut resource, &criteria);
            by_scope.entry(scope).or_default().push(item.clone());
            hits.push(Hit {
                meta: item.meta,
                resource,
                included: true,
            });
        }
        for (i, scope) in scopes.iter().enumerate() {
            let items = by_scope.remove(&i).unwrap_or_default();
            if !items.is_empty() || scopes.len() == 1 {
                self.log_returned(
                    ctx,
                    scope.record,
                    AuditAction::Query,
                    &items,
                    Some(scope.data_types.clone()),
                )?;
            }
            if !items.is_empty() {
                self.note_app_use(&scope.decision, hearth_store::GrantUse::Read);
            }
        }
        Ok(SearchPage {
            hits,
            next,
            previous,
            total,
            applied: criteria.applied.clone(),
            ignored: criteria.ignored.clone(),
            count_only,
        })
    }

    /// Every resource of `resource_type` matching `query` that `ctx` may see (conditional
    /// interactions and conditional references).
    pub fn fhir_find(&self, ctx: &Context, resource_type: &str, query: &str) -> ServiceResult<Vec<Item>> {
        let req = SearchRequest::from_query(resource_type, query, true);
        let criteria = self.parse_criteria(&req)?;
        if criteria.filters.is_empty() {
            return Err(ServiceError::invalid(
                "invalid",
                "",
                "a conditional interaction needs search criteria",
            ));
        }
        let scopes = self.search_scopes(ctx, &req, &criteria)?;
        let hint = code_hint(&criteria);
        Ok(self
            .scan_all(&scopes, &criteria, hint.as_deref(), ctx)?
            .into_iter()
            .map(|f| f.item)
            .collect())
    }

    fn candidates(
        &self,
        scope: &Scope,
        hint: Option<&str>,
        ctx: &Context,
        order: Order,
        after: Option<Cursor>,
        limit: u32,
    ) -> ServiceResult<hearth_domain::Page> {
        let q = ItemQuery {
            data_types: scope.data_types.clone(),
            code: hint.map(str::to_string),
            include_personal: ctx.sees_personal(),
            order,
            limit,
            after,
            ..ItemQuery::default()
        };
        Ok(self.store.scan(scope.record, &q)?)
    }

    /// Evaluates the criteria on a candidate; `None` if it does not match (or cannot be shown).
    fn evaluate(
        &self,
        scope: &Scope,
        ctx: &Context,
        criteria: &Criteria,
        item: &Item,
    ) -> ServiceResult<Option<Value>> {
        if !self.may_see(&scope.decision, ctx, &item.meta) {
            return Ok(None);
        }
        let Some(body) = item.body.as_deref() else {
            return Ok(None);
        };
        let resource = render_resource(&item.meta, body).map_err(ServiceError::Internal)?;
        Ok(criteria.matches(&resource).then_some(resource))
    }

    fn scan_all(
        &self,
        scopes: &[Scope],
        criteria: &Criteria,
        hint: Option<&str>,
        ctx: &Context,
    ) -> ServiceResult<Vec<Found>> {
        let mut out = Vec::new();
        for (i, scope) in scopes.iter().enumerate() {
            let mut after = None;
            loop {
                let page = self.candidates(scope, hint, ctx, Order::EffectiveDesc, after, SCAN_CHUNK)?;
                for (item, pos) in page.items.into_iter().zip(page.positions) {
                    if let Some(resource) = self.evaluate(scope, ctx, criteria, &item)? {
                        out.push(Found {
                            scope: i,
                            pos,
                            item,
                            resource,
                        });
                        if out.len() > MAX_IN_MEMORY {
                            return Err(ServiceError::invalid(
                                "too-costly",
                                "",
                                format!("more than {MAX_IN_MEMORY} resources match; narrow the search"),
                            ));
                        }
                    }
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }
        Ok(out)
    }
}

/// `_elements` and `_summary` on a served resource.
fn shape(resource: &mut Value, criteria: &Criteria) {
    if let Some(elements) = &criteria.elements {
        sp::apply_elements(resource, elements);
    } else if let Some(s) = criteria.summary
        && s != sp::Summary::False
        && s != sp::Summary::Count
    {
        sp::apply_summary(resource, s);
    }
}

/// The Patient ids a `patient`/`subject` filter names, when the search is confined to them.
fn patient_filter(criteria: &Criteria) -> Option<Vec<String>> {
    for f in &criteria.filters {
        let p = f.param();
        if p.param_type() != sp::ParamType::Reference || f.modifier().is_some() || f.missing().is_some() {
            continue;
        }
        if !matches!(p.code(), "patient" | "subject" | "beneficiary") {
            continue;
        }
        let targets: Vec<&str> = p.targets().collect();
        if p.code() == "subject" && !(targets.len() == 1 && targets[0] == "Patient") {
            // `subject` may name a Group or a Device: only a Patient/ value narrows.
            let all_patients = f.raw_values().iter().all(|v| v.starts_with("Patient/"));
            if !all_patients {
                continue;
            }
        }
        let ids: Vec<String> = f
            .raw_values()
            .iter()
            .map(|v| v.rsplit('/').next().unwrap_or(v).to_string())
            .collect();
        return Some(ids);
    }
    None
}

/// The primary-code filter usable as an index pre-filter: one plain `system|code` or `code`.
fn code_hint(criteria: &Criteria) -> Option<String> {
    let path = hearth_domain::datatypes::primary_code_path(&criteria.resource_type)?;
    for f in &criteria.filters {
        let p = f.param();
        if p.param_type() != sp::ParamType::Token || f.modifier().is_some() || f.missing().is_some() {
            continue;
        }
        let expr = p.expression().unwrap_or_default();
        let direct = format!("{}.{path}", criteria.resource_type);
        let as_cc = format!(
            "({}.{} as CodeableConcept)",
            criteria.resource_type,
            path.trim_end_matches("CodeableConcept")
        );
        if expr != direct && expr != as_cc {
            continue;
        }
        if let [v] = f.raw_values() {
            if v.is_empty() || v.ends_with('|') {
                continue;
            }
            return Some(v.clone());
        }
    }
    None
}
