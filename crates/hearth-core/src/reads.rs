//! Item reads: by id, by version, history, queries, the change feed and the audit trail, plus
//! purge and export. Each goes through the one authorisation check; reads that return data are
//! audited in the same transaction by the store, refusals on their own.

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{Access, AccountId, AuditAction, Item, ItemId, ItemMeta, ItemState, RecordId};

use crate::authz::{Operation, authorize};
use crate::{Context, ServiceError, ServiceResult, Services};

impl Services {
    /// Current versions of items; ids that do not exist (or that `ctx` may not see) are left out.
    pub fn read(&self, ctx: &Context, record: RecordId, ids: &[ItemId]) -> ServiceResult<Vec<Item>> {
        self.audited(ctx, Some(record), AuditAction::Read, || {
            authorize(&*self.store, ctx, record, Operation::Read)?;
            let items = self.store.read(
                record,
                ids,
                &self.audit_entry(ctx, Some(record), AuditAction::Read),
            )?;
            Ok(self.visible(ctx, items))
        })
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
            authorize(&*self.store, ctx, record, Operation::History)?;
            let entry = self.audit_entry(ctx, Some(record), AuditAction::Read);
            self.store
                .read_version(record, id, version, &entry)?
                .ok_or_else(|| ServiceError::NotFound(format!("item {id} has no version {version}")))
        })
    }

    /// Every version of an item, newest first (custodians).
    pub fn history(&self, ctx: &Context, record: RecordId, id: ItemId) -> ServiceResult<Vec<Item>> {
        self.audited(ctx, Some(record), AuditAction::History, || {
            authorize(&*self.store, ctx, record, Operation::History)?;
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
        self.audited(ctx, Some(record), AuditAction::Query, || {
            authorize(&*self.store, ctx, record, Operation::Read)?;
            let mut q = query.clone();
            q.include_personal = q.include_personal && ctx.sees_personal();
            let mut entry = self.audit_entry(ctx, Some(record), AuditAction::Query);
            entry.data_types = q.data_types.clone();
            Ok(self.store.query(record, &q, &entry)?)
        })
    }

    pub fn changes(
        &self,
        ctx: &Context,
        record: RecordId,
        after: i64,
        limit: u32,
    ) -> ServiceResult<Vec<hearth_domain::Change>> {
        authorize(&*self.store, ctx, record, Operation::Read)?;
        Ok(self.store.changes(record, after, limit)?)
    }

    pub fn audit_trail(
        &self,
        ctx: &Context,
        record: RecordId,
        filter: &hearth_domain::audit::AuditFilter,
    ) -> ServiceResult<Vec<hearth_domain::AuditEntry>> {
        self.audited(ctx, Some(record), AuditAction::ReadAudit, || {
            authorize(&*self.store, ctx, record, Operation::ReadAudit)?;
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
            authorize(&*self.store, ctx, record, Operation::Purge)?;
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

    fn visible(&self, ctx: &Context, items: Vec<Item>) -> Vec<Item> {
        if ctx.sees_personal() {
            items
        } else {
            items.into_iter().filter(|i| !i.meta.flags.personal).collect()
        }
    }
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
            authorize(&*self.store, ctx, record, Operation::ReadAudit)?;
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
        authorize(&*self.store, ctx, record, Operation::Read)?;
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
        authorize(&*self.store, ctx, record, Operation::Read)?;
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
                authorize(&*self.store, ctx, r, Operation::Read)?;
                Ok(Some(r))
            }
            None => Ok(None),
        }
    }
}
