//! The storage contract every backend implements, and what it promises.
//!
//! Promises, checked by [`crate::conformance`]:
//! - [`Store::apply`] is atomic: every record, access, version and audit entry of a
//!   [`ChangeSet`] is written, or none is.
//! - Every new version takes the record's next change sequence number (strictly increasing per
//!   record, no gaps within one change set).
//! - `expected_version` preconditions, item-id and (writer, client id) uniqueness and `must_exist`
//!   references are checked inside the transaction.
//! - Reads return the current version unless a version is asked for; the store fills the audit
//!   entry's `items` with the versions it returned or wrote (and, for reads whose entry names no
//!   data types, the data types it returned) and appends it in the same transaction.
//! - Queries and reads by id use indexes; nothing scans all items.

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    Access, Account, AccountId, Actor, AuditEntry, Change, Item, ItemId, ItemMeta, ItemQuery, Page, Record,
    RecordId, Timestamp, WriteOp,
};

use crate::StoreResult;

/// A new record with its first custodian.
#[derive(Clone, Debug)]
pub struct NewRecordSpec {
    pub record: Record,
    pub access: Access,
    pub audit: AuditEntry,
}

/// Writes to one record, applied in order.
#[derive(Clone, Debug)]
pub struct WriteBatch {
    pub record: RecordId,
    pub actor: Actor,
    pub at: Timestamp,
    pub ops: Vec<WriteOp>,
    /// Items (not created by this batch) that must exist in the record, not purged, at commit.
    pub must_exist: Vec<ItemId>,
    pub audit: AuditEntry,
}

/// Everything one transaction writes.
#[derive(Clone, Debug, Default)]
pub struct ChangeSet {
    pub new_records: Vec<NewRecordSpec>,
    pub batches: Vec<WriteBatch>,
}

impl ChangeSet {
    /// Every writer of the change set, once (backends intern them before the transaction).
    pub fn distinct_actors(&self) -> Vec<&Actor> {
        let mut out: Vec<&Actor> = Vec::new();
        for b in &self.batches {
            if !out.contains(&&b.actor) {
                out.push(&b.actor);
            }
        }
        out
    }

    /// Every data type written, once.
    pub fn distinct_data_types(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for op in self.batches.iter().flat_map(|b| &b.ops) {
            if let WriteOp::Create { content, .. } | WriteOp::Update { content, .. } = op
                && !out.contains(&content.data_type.as_str())
            {
                out.push(&content.data_type);
            }
        }
        out
    }
}

/// The outcome of one [`WriteBatch`]: the new version of each op, in op order.
#[derive(Clone, Debug)]
pub struct BatchResult {
    pub record: RecordId,
    pub versions: Vec<ItemMeta>,
}

impl BatchResult {
    pub fn refs(&self) -> Vec<ItemVersionRef> {
        self.versions
            .iter()
            .map(|m| ItemVersionRef {
                id: m.id,
                version: m.version,
            })
            .collect()
    }
}

/// The current state of an item found by client id, for idempotent writes.
#[derive(Clone, Debug)]
pub struct ClientIdMatch {
    pub client_id: String,
    pub meta: ItemMeta,
    /// First 16 bytes of [`hearth_domain::ItemContent::content_hash`] of the current version.
    pub content_hash: [u8; 16],
}

/// Receives a record's full contents during [`Store::export`].
pub trait ExportSink {
    /// Every version of every item, in change-sequence order.
    fn version(&mut self, item: &Item) -> StoreResult<()>;
    /// Every audit entry of the record, oldest first.
    fn audit(&mut self, entry: &AuditEntry) -> StoreResult<()>;
}

/// The storage contract. Synchronous: each call blocks while doing I/O.
pub trait Store: crate::AuthStore + crate::JobStore + crate::SharingStore + Send + Sync {
    /// "sqlite" or "postgres".
    fn backend_name(&self) -> &'static str;
    /// Whether the database answers (readiness).
    fn ping(&self) -> StoreResult<()>;
    /// Applies pending schema migrations; safe to call on every start.
    fn migrate(&self) -> StoreResult<()>;

    // ---- accounts -------------------------------------------------------------------------
    fn create_account(&self, account: &Account, audit: &AuditEntry) -> StoreResult<()>;
    fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;
    fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>>;

    // ---- records and access ---------------------------------------------------------------
    fn record(&self, id: RecordId) -> StoreResult<Option<Record>>;
    /// Every record with every access to it, ordered by creation time.
    fn list_records(&self) -> StoreResult<Vec<Record>>;
    /// The records an account reaches, with its access, ordered by creation time.
    fn records_of(&self, account: AccountId) -> StoreResult<Vec<(Record, Access)>>;
    fn accesses(&self, record: RecordId) -> StoreResult<Vec<Access>>;
    /// Inserts or replaces an access. Refuses to leave the record without a custodian.
    fn put_access(&self, access: &Access, audit: &AuditEntry) -> StoreResult<()>;
    /// Removes an access. Refuses to remove the last custodian.
    fn remove_access(&self, record: RecordId, account: AccountId, audit: &AuditEntry) -> StoreResult<()>;
    /// Changes a record's display name.
    fn rename_record(&self, record: RecordId, display_name: &str, audit: &AuditEntry) -> StoreResult<()>;
    /// Deletes a record for good at its custodian's request: the record, its accesses, items,
    /// versions, codes, client ids, grants and the tokens confined to it, and its audit entries.
    /// `audit` (with no record) is appended in the same transaction as the lasting trace.
    fn delete_record(&self, record: RecordId, audit: &AuditEntry) -> StoreResult<()>;
    /// A record the account reaches whose Patient item has this (writer, client id).
    fn record_by_patient_client_id(
        &self,
        account: AccountId,
        writer: &str,
        client_id: &str,
    ) -> StoreResult<Option<RecordId>>;

    // ---- items ----------------------------------------------------------------------------
    /// Applies a change set atomically.
    fn apply(&self, changes: &ChangeSet) -> StoreResult<Vec<BatchResult>>;
    /// Current envelopes (no content, no audit): what the services consult to check their rules.
    fn current_meta(&self, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<ItemMeta>>;
    /// The record holding the item with this id (item ids are unique across records), or `None`
    /// if no record holds it. One indexed lookup; no audit: it returns no health data.
    fn item_record(&self, id: ItemId) -> StoreResult<Option<RecordId>>;
    /// Current items carrying these client ids for this writer.
    fn find_by_client_ids(
        &self,
        record: RecordId,
        writer: &str,
        client_ids: &[String],
    ) -> StoreResult<Vec<ClientIdMatch>>;
    /// Current versions of the items that exist; unknown ids are left out.
    fn read(&self, record: RecordId, ids: &[ItemId], audit: &AuditEntry) -> StoreResult<Vec<Item>>;
    fn read_version(
        &self,
        record: RecordId,
        id: ItemId,
        version: u32,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Item>>;
    /// Every version of an item, newest first.
    fn history(&self, record: RecordId, id: ItemId, audit: &AuditEntry) -> StoreResult<Vec<Item>>;
    fn query(&self, record: RecordId, query: &ItemQuery, audit: &AuditEntry) -> StoreResult<Page>;

    // ---- unaudited reads: the caller audits what it returns (see `append_audits`) -----------
    /// Current versions of the items with these ids, whichever record holds them (each item's
    /// `meta.record_id` says which), in the order asked; unknown ids are left out.
    fn fetch_any(&self, ids: &[ItemId]) -> StoreResult<Vec<Item>>;
    /// Current versions of the items that exist in the record, in the order asked.
    fn fetch(&self, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<Item>>;
    /// These versions of items of the record, in the order asked; unknown ones are left out.
    fn fetch_versions(&self, record: RecordId, versions: &[ItemVersionRef]) -> StoreResult<Vec<Item>>;
    /// A query like [`Store::query`], without an audit entry.
    fn scan(&self, record: RecordId, query: &ItemQuery) -> StoreResult<Page>;
    /// Drops the content of every version of an item and records a purge change.
    fn purge(
        &self,
        record: RecordId,
        id: ItemId,
        actor: &Actor,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> StoreResult<ItemMeta>;

    // ---- audit and change feed ------------------------------------------------------------
    /// Appends an entry on its own (failures, events with no data change). Returns its id.
    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<i64>;
    /// Appends entries (each with its own `items`) in one transaction: all or none.
    fn append_audits(&self, entries: &[AuditEntry]) -> StoreResult<()>;
    /// A record's audit trail, newest first.
    fn audit_trail(&self, record: RecordId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    /// Changes with sequence numbers greater than `after`, oldest first.
    fn changes(&self, record: RecordId, after: i64, limit: u32) -> StoreResult<Vec<Change>>;

    // ---- export ---------------------------------------------------------------------------
    /// Streams every version and audit entry of a record.
    fn export(&self, record: RecordId, sink: &mut dyn ExportSink) -> StoreResult<()>;
}
