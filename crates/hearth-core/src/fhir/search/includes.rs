//! `_include` and `_revinclude` (with `:iterate`) for the matches of a page: the referenced
//! resources (and those referring to the matches) of the same records, each once, only what
//! the token may read. https://hl7.org/fhir/R4/search.html#include

use std::collections::HashSet;

use hearth_domain::{Item, ItemId, ItemQuery};
use hearth_fhir::search::{self as sp, Criteria};
use serde_json::Value;

use super::{Found, SCAN_CHUNK, Scope};
use crate::authz::Operation;
use crate::fhir::records::data_types_of;
use crate::render::render_resource;
use crate::{Context, ServiceError, ServiceResult, Services};

impl Services {
    /// `_include` and `_revinclude` for the matches of a page, each resource once.
    pub(super) fn includes(
        &self,
        ctx: &Context,
        scopes: &[Scope],
        criteria: &Criteria,
        found: &[Found],
    ) -> ServiceResult<Vec<(usize, Item, Value)>> {
        if criteria.include.is_empty() && criteria.revinclude.is_empty() {
            return Ok(vec![]);
        }
        let mut seen: HashSet<ItemId> = found.iter().map(|f| f.item.meta.id).collect();
        let mut out: Vec<(usize, Item, Value)> = Vec::new();
        // Work lists: (scope, resource) pairs whose references to follow; `:iterate` adds the
        // included ones as new sources.
        let mut sources: Vec<(usize, String, Value)> = found
            .iter()
            .map(|f| (f.scope, f.item.meta.resource_type.clone(), f.resource.clone()))
            .collect();
        let mut round = 0;
        while !sources.is_empty() && round < 4 {
            let mut next_sources = Vec::new();
            for inc in &criteria.include {
                if round > 0 && !inc.iterate {
                    continue;
                }
                for (scope_i, rtype, resource) in &sources {
                    if *rtype != inc.source {
                        continue;
                    }
                    let params: Vec<&'static sp::SearchParamDef> = match inc.param {
                        Some(p) => vec![p],
                        None => sp::search_params(rtype)
                            .into_iter()
                            .filter(|p| p.param_type() == sp::ParamType::Reference)
                            .collect(),
                    };
                    let mut ids = Vec::new();
                    for p in params {
                        for (ty, id) in sp::reference_targets(resource, p) {
                            if inc
                                .target
                                .as_deref()
                                .is_some_and(|t| ty.as_deref().is_some_and(|x| x != t))
                            {
                                continue;
                            }
                            if let Some(item) = crate::fhir::parse_id(&id)
                                && !seen.contains(&item)
                            {
                                ids.push(item);
                            }
                        }
                    }
                    ids.sort();
                    ids.dedup();
                    let scope = &scopes[*scope_i];
                    for item in self.store.fetch(scope.record, &ids)? {
                        if item.meta.state != hearth_domain::ItemState::Active || seen.contains(&item.meta.id)
                        {
                            continue;
                        }
                        if !self.may_see(&scope.decision, ctx, &item.meta) {
                            continue;
                        }
                        let Some(body) = item.body.as_deref() else {
                            continue;
                        };
                        let resource = render_resource(&item.meta, body).map_err(ServiceError::Internal)?;
                        seen.insert(item.meta.id);
                        next_sources.push((*scope_i, item.meta.resource_type.clone(), resource.clone()));
                        out.push((*scope_i, item, resource));
                    }
                }
            }
            for inc in &criteria.revinclude {
                if round > 0 && !inc.iterate {
                    continue;
                }
                let Some(param) = inc.param else { continue };
                let source_types = data_types_of(&inc.source);
                for (scope_i, scope) in scopes.iter().enumerate() {
                    let targets: HashSet<String> = sources
                        .iter()
                        .filter(|(s, _, _)| *s == scope_i)
                        .filter_map(|(_, t, r)| Some(format!("{t}/{}", r.get("id")?.as_str()?)))
                        .collect();
                    if targets.is_empty() {
                        continue;
                    }
                    let readable: Vec<String> = source_types
                        .iter()
                        .filter(|t| {
                            !scope.decision.limits_types() || scope.decision.allows(t, Operation::Read)
                        })
                        .cloned()
                        .collect();
                    if readable.is_empty() {
                        continue;
                    }
                    let mut after = None;
                    loop {
                        let q = ItemQuery {
                            data_types: readable.clone(),
                            include_personal: ctx.sees_personal(),
                            limit: SCAN_CHUNK,
                            after,
                            ..ItemQuery::default()
                        };
                        let page = self.store.scan(scope.record, &q)?;
                        for item in page.items {
                            if seen.contains(&item.meta.id) || !self.may_see(&scope.decision, ctx, &item.meta)
                            {
                                continue;
                            }
                            let Some(body) = item.body.as_deref() else {
                                continue;
                            };
                            let resource =
                                render_resource(&item.meta, body).map_err(ServiceError::Internal)?;
                            let hit = sp::reference_targets(&resource, param)
                                .into_iter()
                                .any(|(ty, id)| {
                                    ty.is_some_and(|t| targets.contains(&format!("{t}/{id}")))
                                        || targets.iter().any(|t| t.ends_with(&format!("/{id}")))
                                });
                            if hit {
                                seen.insert(item.meta.id);
                                next_sources.push((
                                    scope_i,
                                    item.meta.resource_type.clone(),
                                    resource.clone(),
                                ));
                                out.push((scope_i, item, resource));
                            }
                        }
                        match page.next {
                            Some(n) => after = Some(n),
                            None => break,
                        }
                    }
                }
            }
            sources = next_sources;
            round += 1;
        }
        Ok(out)
    }
}
