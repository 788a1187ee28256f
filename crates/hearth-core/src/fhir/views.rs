//! Read-only FHIR views of what Hearth keeps about its own work, for a record's custodians:
//! the audit trail as `AuditEvent` (https://hl7.org/fhir/R4/auditevent.html) and the versions of
//! an item as `Provenance` (https://hl7.org/fhir/R4/provenance.html). They are built on the fly
//! from the audit trail and the item history; they cannot be written.

use std::collections::HashMap;

use hearth_domain::audit::AuditFilter;
use hearth_domain::{AuditAction, AuditEntry, AuditOutcome, ItemId, RecordId, Stamp, Timestamp};
use serde_json::{Value, json};

use super::history::{HistoryRequest, HistoryScope};
use crate::authz::Operation;
use crate::{Context, ServiceError, ServiceResult, Services};

pub const DEFAULT_COUNT: u32 = 100;

pub struct AuditEventPage {
    pub events: Vec<Value>,
    /// The id below which the next page starts.
    pub next: Option<String>,
}

fn action_code(a: AuditAction) -> &'static str {
    match a {
        AuditAction::Read
        | AuditAction::Query
        | AuditAction::History
        | AuditAction::ReadAudit
        | AuditAction::Export => "R",
        AuditAction::CreateRecord => "C",
        AuditAction::Write => "U",
        AuditAction::Delete | AuditAction::Purge | AuditAction::DeleteRecord => "D",
        _ => "E",
    }
}

fn who(account: Option<String>, app: Option<&str>) -> Value {
    match (account, app) {
        (Some(name), Some(app)) => json!({"display": format!("{name} using {app}")}),
        (Some(name), None) => json!({"display": name}),
        (None, Some(app)) => json!({"display": app}),
        (None, None) => json!({"display": "Hearth"}),
    }
}

impl Services {
    fn account_name(
        &self,
        cache: &mut HashMap<hearth_domain::AccountId, String>,
        id: hearth_domain::AccountId,
    ) -> String {
        cache
            .entry(id)
            .or_insert_with(|| {
                self.store
                    .account(id)
                    .ok()
                    .flatten()
                    .map_or_else(|| id.to_string(), |a| a.display_name)
            })
            .clone()
    }

    /// A record's audit trail as AuditEvents, newest first (custodians).
    pub fn fhir_audit_events(
        &self,
        ctx: &Context,
        record: RecordId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        count: Option<u32>,
        page: Option<&str>,
    ) -> ServiceResult<AuditEventPage> {
        let limit = count.unwrap_or(DEFAULT_COUNT).clamp(1, 1000);
        let before_id = match page {
            Some(p) => Some(
                p.parse::<i64>()
                    .map_err(|_| ServiceError::invalid("value", "_page", "this page link is not valid"))?,
            ),
            None => None,
        };
        let entries = self.audit_trail(
            ctx,
            record,
            &AuditFilter {
                from,
                to,
                before_id,
                limit: limit + 1,
                ..AuditFilter::default()
            },
        )?;
        let more = entries.len() > limit as usize;
        let entries: Vec<AuditEntry> = entries.into_iter().take(limit as usize).collect();
        let next = if more {
            entries.last().map(|e| e.id.to_string())
        } else {
            None
        };
        // The resource types of the items named, to write references.
        let mut ids: Vec<ItemId> = entries
            .iter()
            .flat_map(|e| e.items.iter().map(|r| r.id))
            .collect();
        ids.sort();
        ids.dedup();
        let types: HashMap<ItemId, String> = self
            .store
            .current_meta(record, &ids)?
            .into_iter()
            .map(|m| (m.id, m.resource_type))
            .collect();
        let mut names = HashMap::new();
        let events = entries
            .iter()
            .map(|e| {
                let account = e.account.map(|a| self.account_name(&mut names, a));
                let (outcome, desc) = match &e.outcome {
                    AuditOutcome::Success => ("0", None),
                    AuditOutcome::Failure(d) => ("4", Some(d.clone())),
                };
                let entity: Vec<Value> = e
                    .items
                    .iter()
                    .filter_map(|r| {
                        let t = types.get(&r.id)?;
                        let what = if r.version > 0 {
                            format!("{t}/{}/_history/{}", r.id, r.version)
                        } else {
                            format!("{t}/{}", r.id)
                        };
                        Some(json!({"what": {"reference": what}}))
                    })
                    .collect();
                let mut ev = json!({
                    "resourceType": "AuditEvent",
                    "id": e.id.to_string(),
                    "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
                    "subtype": [{"system": "urn:hearth:audit-action", "code": e.action.as_str()}],
                    "action": action_code(e.action),
                    "recorded": e.at.to_rfc3339(),
                    "outcome": outcome,
                    "agent": [{
                        "who": who(account, e.app.as_ref().map(|a| a.0.as_str())),
                        "requestor": true
                    }],
                    "source": {"observer": {"display": "Hearth"}},
                });
                if let Some(d) = desc {
                    ev["outcomeDesc"] = json!(d);
                }
                if !entity.is_empty() {
                    ev["entity"] = json!(entity);
                }
                ev
            })
            .collect();
        Ok(AuditEventPage { events, next })
    }

    /// The versions of one item as Provenance resources, newest first (custodians).
    pub fn fhir_provenance(&self, ctx: &Context, resource_type: &str, id: &str) -> ServiceResult<Vec<Value>> {
        let page = self.fhir_history(
            ctx,
            &HistoryScope::Instance {
                resource_type: resource_type.into(),
                id: id.into(),
            },
            &HistoryRequest {
                count: Some(super::history::MAX_COUNT),
                ..HistoryRequest::default()
            },
        )?;
        let mut names = HashMap::new();
        let mut out = Vec::new();
        for item in &page.entries {
            let m = &item.meta;
            let stamp: &Stamp = &m.updated;
            let account = stamp.account.map(|a| self.account_name(&mut names, a));
            let activity = if m.version == 1 {
                "CREATE"
            } else if m.state != hearth_domain::ItemState::Active {
                "DELETE"
            } else {
                "UPDATE"
            };
            let mut p = json!({
                "resourceType": "Provenance",
                "id": format!("{}-{}", m.id, m.version),
                "target": [{"reference": format!("{resource_type}/{}/_history/{}", m.id, m.version)}],
                "recorded": stamp.at.to_rfc3339(),
                "activity": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                    "code": activity
                }]},
                "agent": [{"who": who(account, stamp.app.as_ref().map(|a| a.0.as_str()))}],
            });
            if let Some(src) = &m.source {
                p["agent"][0]["onBehalfOf"] = json!({"display": src});
            }
            out.push(p);
        }
        Ok(out)
    }

    /// Whether `ctx` may read a record's audit trail (custodians, and apps acting for them
    /// with consent to read AuditEvent).
    pub fn may_read_audit(&self, ctx: &Context, record: RecordId) -> bool {
        self.authorize(ctx, record, Operation::ReadAudit).is_ok()
    }
}
