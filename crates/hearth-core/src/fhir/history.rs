//! History (https://hl7.org/fhir/R4/http.html#history): of one resource, of a resource type, and
//! of everything the token reaches, newest first, with `_since` and `_count`. Built from each
//! record's change feed; pages are keyset pages (the position of the last entry shown), so a
//! change made while a client pages never shifts what the next page holds.
//!
//! History shows earlier versions, so like the rest of an item's past it is open to the record's
//! custodians (and apps acting for them) only.

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{AuditAction, Change, Item, RecordId, Timestamp};

use super::records::{data_types_of, not_found};
use crate::authz::Operation;
use crate::{Context, ServiceError, ServiceResult, Services};

/// What to list.
#[derive(Clone, Debug)]
pub enum HistoryScope {
    Instance { resource_type: String, id: String },
    Type(String),
    All,
}

#[derive(Clone, Debug, Default)]
pub struct HistoryRequest {
    pub since: Option<Timestamp>,
    pub count: Option<u32>,
    /// Resume after this position (from a previous page's `next`).
    pub page: Option<String>,
}

/// Where an entry stands in the merged, newest-first order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    at: Timestamp,
    seq: i64,
    record: RecordId,
}

impl Position {
    fn encode(&self) -> String {
        format!("{}.{}.{}", self.at.0, self.seq, self.record)
    }
    fn decode(s: &str) -> Option<Self> {
        let mut p = s.splitn(3, '.');
        Some(Position {
            at: Timestamp(p.next()?.parse().ok()?),
            seq: p.next()?.parse().ok()?,
            record: p.next()?.parse().ok()?,
        })
    }
}

pub struct HistoryPage {
    /// Versions, newest first (a deletion is a version in state deleted).
    pub entries: Vec<Item>,
    pub next: Option<String>,
    /// Every entry when the listing fits on one page.
    pub total: Option<usize>,
}

pub const DEFAULT_COUNT: u32 = 50;
pub const MAX_COUNT: u32 = 1000;
const FEED_PAGE: u32 = 5000;

impl Services {
    pub fn fhir_history(
        &self,
        ctx: &Context,
        scope: &HistoryScope,
        req: &HistoryRequest,
    ) -> ServiceResult<HistoryPage> {
        let count = req.count.unwrap_or(DEFAULT_COUNT).clamp(1, MAX_COUNT) as usize;
        let after = match &req.page {
            Some(p) => Some(
                Position::decode(p)
                    .ok_or_else(|| ServiceError::invalid("value", "_page", "this page link is not valid"))?,
            ),
            None => None,
        };
        let (records, item, types): (Vec<RecordId>, Option<hearth_domain::ItemId>, Option<Vec<String>>) =
            match scope {
                HistoryScope::Instance { resource_type, id } => {
                    let (record, item) = self
                        .fhir_locate(ctx, id)?
                        .ok_or_else(|| not_found(resource_type, id))?;
                    (vec![record], Some(item), Some(data_types_of(resource_type)))
                }
                HistoryScope::Type(t) => (self.fhir_records(ctx)?, None, Some(data_types_of(t))),
                HistoryScope::All => (self.fhir_records(ctx)?, None, None),
            };

        let mut found: Vec<(Position, Change)> = Vec::new();
        for record in records {
            let decision = match self.authorize(ctx, record, Operation::History) {
                Ok(d) => d,
                Err(e) if item.is_some() => {
                    self.audit_failure(ctx, Some(record), AuditAction::History, vec![], &e);
                    return Err(e);
                }
                // A record whose history this token may not see contributes nothing.
                Err(_) => continue,
            };
            let mut from = 0;
            loop {
                let changes = self.store.changes(record, from, FEED_PAGE)?;
                let n = changes.len();
                for c in changes {
                    from = c.seq;
                    let pos = Position {
                        at: c.at,
                        seq: c.seq,
                        record,
                    };
                    let wanted = item.is_none_or(|i| i == c.item)
                        && types.as_ref().is_none_or(|t| t.contains(&c.data_type))
                        && req.since.is_none_or(|s| c.at >= s)
                        && after.is_none_or(|a| pos < a)
                        && (!decision.limits_types() || decision.allows(&c.data_type, Operation::Read));
                    if wanted {
                        found.push((pos, c));
                    }
                }
                if n < FEED_PAGE as usize {
                    break;
                }
            }
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        let total = (after.is_none() && found.len() <= count).then_some(found.len());
        let more = found.len() > count;
        found.truncate(count);
        let next = if more {
            found.last().map(|(p, _)| p.encode())
        } else {
            None
        };

        // Fetch the versions, record by record, and audit what each record returned.
        let mut by_record: Vec<(RecordId, Vec<ItemVersionRef>)> = Vec::new();
        for (p, c) in &found {
            let r = ItemVersionRef {
                id: c.item,
                version: c.version,
            };
            match by_record.iter_mut().find(|(rec, _)| *rec == p.record) {
                Some((_, v)) => v.push(r),
                None => by_record.push((p.record, vec![r])),
            }
        }
        let mut items: Vec<Item> = Vec::with_capacity(found.len());
        for (record, refs) in by_record {
            let fetched = self.store.fetch_versions(record, &refs)?;
            let visible: Vec<Item> = fetched
                .into_iter()
                .filter(|i| !i.meta.flags.personal || ctx.sees_personal())
                .collect();
            self.log_returned(ctx, record, AuditAction::History, &visible, None)?;
            items.extend(visible);
        }
        // Back into the merged order.
        let order: Vec<(hearth_domain::ItemId, u32)> =
            found.iter().map(|(_, c)| (c.item, c.version)).collect();
        items.sort_by_key(|i| {
            order
                .iter()
                .position(|k| *k == (i.meta.id, i.meta.version))
                .unwrap_or(usize::MAX)
        });
        if let HistoryScope::Instance { resource_type, id } = scope
            && items.is_empty()
            && after.is_none()
            && req.since.is_none()
        {
            return Err(not_found(resource_type, id));
        }
        Ok(HistoryPage {
            entries: items,
            next,
            total,
        })
    }
}
