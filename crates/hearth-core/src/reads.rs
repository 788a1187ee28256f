//! Item reads: by id, by version, history, queries, the change feed and the audit trail, plus
//! purge and export. Each goes through the one authorisation check; reads that return data are
//! audited in the same transaction by the store, refusals on their own.

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{Access, AccountId, AuditAction, Item, ItemId, ItemMeta, ItemState, RecordId};

use crate::authz::{Decision, Operation};
use crate::{Context, ServiceError, ServiceResult, Services};

impl Services {
    /// Current versions of items; ids that do not exist (or that `ctx` may not see) are left out.
    /// The audit entry names exactly what was returned.
    pub fn read(&self, ctx: &Context, record: RecordId, ids: &[ItemId]) -> ServiceResult<Vec<Item>> {
        if ids.is_empty() {
            return self.audited(ctx, Some(record), AuditAction::Read, || {
                self.authorize(ctx, record, Operation::Read).map(|_| vec![])
            });
        }
        self.read_fetched(ctx, record, || Ok(self.store.fetch(record, ids)?))
    }

    /// Authorises a read of `record`, then returns (and audits) what `fetch` found there that
    /// `ctx` may see. Nothing fetched leaves this function unless the read is allowed.
    pub(crate) fn read_fetched(
        &self,
        ctx: &Context,
        record: RecordId,
        fetch: impl FnOnce() -> ServiceResult<Vec<Item>>,
    ) -> ServiceResult<Vec<Item>> {
        self.audited(ctx, Some(record), AuditAction::Read, || {
            let decision = self.authorize(ctx, record, Operation::Read)?;
            let items = self.visible(&decision, ctx, fetch()?);
            self.log_returned(ctx, record, AuditAction::Read, &items, None)?;
            self.note_app_use(&decision, hearth_store::GrantUse::Read);
            Ok(items)
        })
    }

    /// Stores the audit entry of a read that returned `items` (through the audit log's group
    /// commit) before the caller answers.
    pub(crate) fn log_returned(
        &self,
        ctx: &Context,
        record: RecordId,
        action: AuditAction,
        items: &[Item],
        data_types: Option<Vec<String>>,
    ) -> ServiceResult<()> {
        let mut entry = self.audit_entry(ctx, Some(record), action);
        entry.items = items
            .iter()
            .map(|i| ItemVersionRef {
                id: i.meta.id,
                version: i.meta.version,
            })
            .collect();
        entry.data_types = data_types.unwrap_or_else(|| {
            let mut dts: Vec<String> = items.iter().map(|i| i.meta.data_type.clone()).collect();
            dts.sort();
            dts.dedup();
            dts
        });
        self.audit_log.append(entry)
    }

    /// One item, current version; "not found" if absent, "gone" if purged.
    pub fn read_one(&self, ctx: &Context, record: RecordId, id: ItemId) -> ServiceResult<Item> {
        let item = self
            .read(ctx, record, &[id])?
            .pop()
            .ok_or_else(|| ServiceError::NotFound(format!("item {id} not found")))?;
        if item.meta.state == ItemState::Purged {
            return Err(ServiceError::Gone(format!("item {id} was permanently removed")));
        }
        Ok(item)
    }

    pub fn read_version(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        version: u32,
    ) -> ServiceResult<Item> {
        self.audited(ctx, Some(record), AuditAction::Read, || {
            let decision = self.authorize(ctx, record, Operation::History)?;
            self.require_visible(&decision, ctx, record, id)?;
            let entry = self.audit_entry(ctx, Some(record), AuditAction::Read);
            self.store
                .read_version(record, id, version, &entry)?
                .ok_or_else(|| ServiceError::NotFound(format!("item {id} has no version {version}")))
        })
    }

    /// Every version of an item, newest first (custodians).
    pub fn history(&self, ctx: &Context, record: RecordId, id: ItemId) -> ServiceResult<Vec<Item>> {
        self.audited(ctx, Some(record), AuditAction::History, || {
            let decision = self.authorize(ctx, record, Operation::History)?;
            self.require_visible(&decision, ctx, record, id)?;
            let items = self.store.history(
                record,
                id,
                &self.audit_entry(ctx, Some(record), AuditAction::History),
            )?;
            if items.is_empty() {
                return Err(ServiceError::NotFound(format!("item {id} not found")));
            }
            Ok(items)
        })
    }

    pub fn query(
        &self,
        ctx: &Context,
        record: RecordId,
        query: &hearth_domain::ItemQuery,
    ) -> ServiceResult<hearth_domain::Page> {
        self.query_as(ctx, record, query, AuditAction::Query)
    }

    /// [`Services::query`], audited as `action` (bulk export pages are audited as such).
    pub(crate) fn query_as(
        &self,
        ctx: &Context,
        record: RecordId,
        query: &hearth_domain::ItemQuery,
        action: AuditAction,
    ) -> ServiceResult<hearth_domain::Page> {
        self.audited(ctx, Some(record), action, || {
            let decision = self.authorize(ctx, record, Operation::Read)?;
            let Some(q) = scoped(&decision, ctx, query) else {
                return Ok(empty_page());
            };
            if decision.limits_types() {
                self.note_app_use(&decision, hearth_store::GrantUse::Read);
            }
            let page = self.store.scan(record, &q)?;
            self.log_returned(ctx, record, action, &page.items, Some(q.data_types.clone()))?;
            Ok(page)
        })
    }

    /// Several queries of one record under one decision, audited as one read listing every item
    /// returned (a page that shows several sections reads the record once).
    pub fn query_each(
        &self,
        ctx: &Context,
        record: RecordId,
        queries: &[hearth_domain::ItemQuery],
    ) -> ServiceResult<Vec<hearth_domain::Page>> {
        self.audited(ctx, Some(record), AuditAction::Query, || {
            let decision = self.authorize(ctx, record, Operation::Read)?;
            let mut pages = Vec::with_capacity(queries.len());
            let mut types = Vec::new();
            for query in queries {
                match scoped(&decision, ctx, query) {
                    Some(q) => {
                        types.extend(q.data_types.iter().cloned());
                        pages.push(self.store.scan(record, &q)?);
                    }
                    None => pages.push(empty_page()),
                }
            }
            if decision.limits_types() {
                self.note_app_use(&decision, hearth_store::GrantUse::Read);
            }
            types.sort();
            types.dedup();
            let items: Vec<Item> = pages.iter().flat_map(|p| p.items.iter().cloned()).collect();
            self.log_returned(ctx, record, AuditAction::Query, &items, Some(types))?;
            Ok(pages)
        })
    }

    pub fn changes(
        &self,
        ctx: &Context,
        record: RecordId,
        after: i64,
        limit: u32,
    ) -> ServiceResult<Vec<hearth_domain::Change>> {
        let decision = self.authorize(ctx, record, Operation::Read)?;
        let mut changes = self.store.changes(record, after, limit)?;
        if decision.limits_types() {
            changes.retain(|c| decision.allows(&c.data_type, Operation::Read));
        }
        Ok(changes)
    }

    pub fn audit_trail(
        &self,
        ctx: &Context,
        record: RecordId,
        filter: &hearth_domain::audit::AuditFilter,
    ) -> ServiceResult<Vec<hearth_domain::AuditEntry>> {
        self.audited(ctx, Some(record), AuditAction::ReadAudit, || {
            self.authorize(ctx, record, Operation::ReadAudit)?;
            let trail = self.store.audit_trail(record, filter)?;
            self.store
                .append_audit(&self.audit_entry(ctx, Some(record), AuditAction::ReadAudit))?;
            Ok(trail)
        })
    }

    /// Permanently removes an item's content (custodians). Blobs are content-addressed and may
    /// be shared, so they stay until a blob sweep finds them unreferenced.
    pub fn purge(&self, ctx: &Context, record: RecordId, id: ItemId) -> ServiceResult<ItemMeta> {
        self.audited(ctx, Some(record), AuditAction::Purge, || {
            self.authorize(ctx, record, Operation::Purge)?;
            let rec = self
                .store
                .record(record)?
                .ok_or_else(|| ServiceError::NotFound(format!("record {record} not found")))?;
            if rec.patient_item == id {
                return Err(ServiceError::invalid(
                    "business-rule",
                    "",
                    "the record's Patient cannot be removed",
                ));
            }
            let mut entry = self.audit_entry(ctx, Some(record), AuditAction::Purge);
            entry.items = vec![ItemVersionRef { id, version: 0 }];
            Ok(self.store.purge(record, id, &ctx.actor(), self.now(), &entry)?)
        })
    }

    fn visible(&self, decision: &Decision, ctx: &Context, items: Vec<Item>) -> Vec<Item> {
        if ctx.sees_personal() && !decision.limits_types() {
            items
        } else {
            items
                .into_iter()
                .filter(|i| may_see(decision, ctx, &i.meta))
                .collect()
        }
    }

    /// "Not found" unless the item exists and `ctx` may see it.
    fn require_visible(
        &self,
        decision: &Decision,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
    ) -> ServiceResult<()> {
        let metas = self.store.current_meta(record, &[id])?;
        match metas.first() {
            Some(m) if may_see(decision, ctx, m) => Ok(()),
            _ => Err(ServiceError::NotFound(format!("item {id} not found"))),
        }
    }
}

impl Services {
    /// Whether an item is visible to `ctx` under `decision`.
    pub(crate) fn may_see(&self, decision: &Decision, ctx: &Context, meta: &ItemMeta) -> bool {
        may_see(decision, ctx, meta)
    }
}

fn empty_page() -> hearth_domain::Page {
    hearth_domain::Page {
        items: vec![],
        next: None,
        positions: vec![],
    }
}

/// `query` narrowed to what the decision lets `ctx` read (personal items, data types); `None`
/// when nothing is left to read.
fn scoped(
    decision: &Decision,
    ctx: &Context,
    query: &hearth_domain::ItemQuery,
) -> Option<hearth_domain::ItemQuery> {
    let mut q = query.clone();
    q.include_personal = q.include_personal && ctx.sees_personal();
    if let Some(readable) = decision.readable_types() {
        q.data_types = if q.data_types.is_empty() {
            readable
        } else {
            q.data_types
                .into_iter()
                .filter(|t| readable.contains(t))
                .collect()
        };
        if q.data_types.is_empty() {
            return None;
        }
    }
    Some(q)
}

/// Whether an item is visible: personal items never to apps, and apps see only readable types.
fn may_see(decision: &Decision, ctx: &Context, meta: &ItemMeta) -> bool {
    (!meta.flags.personal || ctx.sees_personal())
        && (!decision.limits_types() || decision.allows(&meta.data_type, Operation::Read))
}

impl Services {
    /// Streams a whole record (every version, every audit entry) to `sink`; custodians and the
    /// operator only. The export itself is audited.
    pub fn export(
        &self,
        ctx: &Context,
        record: RecordId,
        sink: &mut dyn hearth_store::ExportSink,
    ) -> ServiceResult<hearth_domain::Record> {
        self.audited(ctx, Some(record), AuditAction::Export, || {
            if matches!(ctx.principal, crate::context::Principal::App(_)) {
                return Err(ServiceError::Forbidden(
                    "a whole-record export is for the record's custodians, not apps".into(),
                ));
            }
            self.authorize(ctx, record, Operation::ReadAudit)?;
            let rec = self
                .store
                .record(record)?
                .ok_or_else(|| ServiceError::NotFound(format!("record {record} not found")))?;
            self.store.export(record, sink)?;
            self.store
                .append_audit(&self.audit_entry(ctx, Some(record), AuditAction::Export))?;
            Ok(rec)
        })
    }

    /// Every access to a record, for exports and record pages.
    pub fn accesses(&self, ctx: &Context, record: RecordId) -> ServiceResult<Vec<Access>> {
        self.authorize(ctx, record, Operation::Read)?;
        Ok(self.store.accesses(record)?)
    }
}

impl Services {
    /// The writer's items carrying these client ids (for importers mapping source ids).
    pub fn find_by_client_ids(
        &self,
        ctx: &Context,
        record: RecordId,
        client_ids: &[String],
    ) -> ServiceResult<Vec<hearth_store::contract::ClientIdMatch>> {
        self.authorize(ctx, record, Operation::Read)?;
        Ok(self
            .store
            .find_by_client_ids(record, &ctx.actor().writer_key(), client_ids)?)
    }

    /// A record `owner` reaches whose Patient this writer created with `client_id`.
    pub fn record_by_patient_client_id(
        &self,
        ctx: &Context,
        owner: AccountId,
        client_id: &str,
    ) -> ServiceResult<Option<RecordId>> {
        let found = self
            .store
            .record_by_patient_client_id(owner, &ctx.actor().writer_key(), client_id)?;
        match found {
            Some(r) => {
                self.authorize(ctx, r, Operation::Read)?;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }
}
