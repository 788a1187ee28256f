//! # hearth-store-sqlite
//!
//! The embedded default backend: one SQLite database file in WAL mode (`synchronous=NORMAL`,
//! so a commit appends to the WAL without an fsync; checkpoints fsync). One connection writes,
//! behind a mutex (SQLite allows one writer at a time anyway); a few more serve reads that carry
//! no audit entry (metadata lookups, the change feed, export). Reads that return health data
//! append an audit row, so they run on the writer connection in one transaction with it.
//!
//! ## Layout
//! - [`schema`] — migrations.
//! - `interns`: the small actor and data-type tables, cached in memory.
//! - `write`: [`hearth_store::Store::apply`] and purge.
//! - `read`: reads by id, history, queries.
//! - `people`: accounts, records, access.
//! - `records`: renaming and deleting whole records.
//! - `audit`: the audit trail and the change feed.
//! - `auth`: [`hearth_store::AuthStore`] (sign-in and consent) and its helpers; `auth_signin`:
//!   credentials, sessions, emailed tokens; `auth_apps`: apps, grants, subjects; `auth_tokens`:
//!   OAuth tokens and signing keys.
//! - `jobs`: [`hearth_store::JobStore`], bulk export jobs and the files they list.

mod audit;
mod auth;
mod auth_apps;
mod auth_signin;
mod auth_tokens;
mod fetch;
mod interns;
mod jobs;
mod people;
mod read;
mod records;
pub mod schema;
mod sharing;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    Access, Account, AccountId, Actor, AuditEntry, Change, Item, ItemId, ItemMeta, ItemQuery, Page, Record,
    RecordId, Timestamp,
};
use hearth_store::contract::{BatchResult, ChangeSet, ClientIdMatch, ExportSink};
use hearth_store::{Store, StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use interns::Interns;

/// Turns a SQLite error into a storage error, keeping the text for logs only.
pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

pub(crate) fn uuid_bytes(b: &[u8]) -> StoreResult<[u8; 16]> {
    b.try_into()
        .map_err(|_| StoreError::Corrupt("identifier is not 16 bytes".into()))
}

const READERS: usize = 4;

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    interns: RwLock<Interns>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let writer = open_conn(&path, false)?;
        schema::migrate(&writer)?;
        let readers = (0..READERS)
            .map(|_| open_conn(&path, true).map(Mutex::new))
            .collect::<StoreResult<Vec<_>>>()?;
        let interns = Interns::load(&writer)?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            interns: RwLock::new(interns),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn writer(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        self.writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer connection poisoned".into()))
    }

    pub(crate) fn reader(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(g) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return Ok(g);
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .map_err(|_| StoreError::Unavailable("reader connection poisoned".into()))
    }

    /// SQLite's plan for a query (`EXPLAIN QUERY PLAN`), one line per step; the tests use it to
    /// prove queries search indexes and never scan.
    pub fn explain_query(&self, record: RecordId, query: &ItemQuery) -> StoreResult<Vec<String>> {
        let conn = self.reader()?;
        let rk = people::require_rk(&conn, record)?;
        let Some((sql, args)) = read::query_sql(self, &conn, rk, query)? else {
            return Ok(vec![]);
        };
        let mut st = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .map_err(db_err)?;
        let params: Vec<&dyn rusqlite::ToSql> = args.iter().map(|b| b.as_ref()).collect();
        let rows = st
            .query_map(params.as_slice(), |r| r.get::<_, String>(3))
            .map_err(db_err)?;
        rows.map(|r| r.map_err(db_err)).collect()
    }

    /// Runs a WAL checkpoint that truncates the WAL file (used before measuring size).
    pub fn checkpoint(&self) -> StoreResult<()> {
        self.writer()?
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(db_err)
    }
}

/// The writer's memory map of the database file.
const MMAP_BYTES: u64 = 1 << 30;

fn open_conn(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -131072;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 8192;",
    )
    .map_err(db_err)?;
    // Memory-mapped reads only on the writer: a reader connection drops its whole mapping at
    // the start of every read after another connection committed (and audit entries commit all
    // the time), which costs an munmap, TLB shoot-downs and page faults per read.
    let mmap = if read_only { 0 } else { MMAP_BYTES };
    conn.execute_batch(&format!("PRAGMA mmap_size = {mmap};"))
        .map_err(db_err)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn ping(&self) -> StoreResult<()> {
        self.reader()?
            .query_row("SELECT 1", [], |_| Ok(()))
            .map_err(db_err)
    }

    fn migrate(&self) -> StoreResult<()> {
        schema::migrate(&*self.writer()?)
    }

    fn create_account(&self, account: &Account, audit: &AuditEntry) -> StoreResult<()> {
        people::create_account(self, account, audit)
    }

    fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        people::account(&*self.reader()?, "id = ?1", &id.as_bytes().to_vec())
    }

    fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        people::account(&*self.reader()?, "email = ?1", &email)
    }

    fn record(&self, id: RecordId) -> StoreResult<Option<Record>> {
        people::record(&*self.reader()?, id)
    }

    fn list_records(&self) -> StoreResult<Vec<Record>> {
        people::list_records(&*self.reader()?)
    }

    fn records_of(&self, account: AccountId) -> StoreResult<Vec<(Record, Access)>> {
        people::records_of(&*self.reader()?, account)
    }

    fn accesses(&self, record: RecordId) -> StoreResult<Vec<Access>> {
        people::accesses(&*self.reader()?, record)
    }

    fn put_access(&self, access: &Access, audit: &AuditEntry) -> StoreResult<()> {
        people::put_access(self, access, audit)
    }

    fn remove_access(&self, record: RecordId, account: AccountId, audit: &AuditEntry) -> StoreResult<()> {
        people::remove_access(self, record, account, audit)
    }

    fn rename_record(&self, record: RecordId, display_name: &str, audit: &AuditEntry) -> StoreResult<()> {
        records::rename_record(self, record, display_name, audit)
    }

    fn delete_record(&self, record: RecordId, audit: &AuditEntry) -> StoreResult<()> {
        records::delete_record(self, record, audit)
    }

    fn record_by_patient_client_id(
        &self,
        account: AccountId,
        writer: &str,
        client_id: &str,
    ) -> StoreResult<Option<RecordId>> {
        people::record_by_patient_client_id(&*self.reader()?, account, writer, client_id)
    }

    fn apply(&self, changes: &ChangeSet) -> StoreResult<Vec<BatchResult>> {
        write::apply(self, changes)
    }

    fn current_meta(&self, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<ItemMeta>> {
        let conn = self.reader()?;
        read::current_meta(self, &conn, record, ids)
    }

    fn item_record(&self, id: ItemId) -> StoreResult<Option<RecordId>> {
        people::item_record(&*self.reader()?, id)
    }

    fn find_by_client_ids(
        &self,
        record: RecordId,
        writer: &str,
        client_ids: &[String],
    ) -> StoreResult<Vec<ClientIdMatch>> {
        let conn = self.reader()?;
        read::find_by_client_ids(self, &conn, record, writer, client_ids)
    }

    fn read(&self, record: RecordId, ids: &[ItemId], audit: &AuditEntry) -> StoreResult<Vec<Item>> {
        read::read(self, record, ids, audit)
    }

    fn read_version(
        &self,
        record: RecordId,
        id: ItemId,
        version: u32,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Item>> {
        read::read_version(self, record, id, version, audit)
    }

    fn history(&self, record: RecordId, id: ItemId, audit: &AuditEntry) -> StoreResult<Vec<Item>> {
        read::history(self, record, id, audit)
    }

    fn query(&self, record: RecordId, query: &ItemQuery, audit: &AuditEntry) -> StoreResult<Page> {
        read::query(self, record, query, audit)
    }

    fn fetch_any(&self, ids: &[ItemId]) -> StoreResult<Vec<Item>> {
        fetch::fetch_any(self, ids)
    }

    fn fetch(&self, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<Item>> {
        fetch::fetch(self, record, ids)
    }

    fn fetch_versions(&self, record: RecordId, versions: &[ItemVersionRef]) -> StoreResult<Vec<Item>> {
        fetch::fetch_versions(self, record, versions)
    }

    fn scan(&self, record: RecordId, query: &ItemQuery) -> StoreResult<Page> {
        fetch::scan(self, record, query)
    }

    fn append_audits(&self, entries: &[AuditEntry]) -> StoreResult<()> {
        fetch::append_audits(self, entries)
    }

    fn purge(
        &self,
        record: RecordId,
        id: ItemId,
        actor: &Actor,
        at: Timestamp,
        audit: &AuditEntry,
    ) -> StoreResult<ItemMeta> {
        write::purge(self, record, id, actor, at, audit)
    }

    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<i64> {
        let conn = self.writer()?;
        let rk = match entry.record {
            Some(r) => people::rk_of(&conn, r)?,
            None => None,
        };
        audit::insert(&conn, entry, rk, &entry.items)
    }

    fn audit_trail(&self, record: RecordId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        audit::trail(&*self.reader()?, record, filter)
    }

    fn changes(&self, record: RecordId, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        audit::changes(self, &*self.reader()?, record, after, limit)
    }

    fn export(&self, record: RecordId, sink: &mut dyn ExportSink) -> StoreResult<()> {
        read::export(self, &*self.reader()?, record, sink)
    }
}

/// `EXPLAIN QUERY PLAN` of each named statement (parameters bound to NULL), for the plan tests.
pub(crate) fn explain_plans(
    conn: &Connection,
    planned: &[(&'static str, &str)],
) -> StoreResult<Vec<(&'static str, Vec<String>)>> {
    planned
        .iter()
        .map(|(name, sql)| {
            let mut st = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .map_err(db_err)?;
            let nulls = vec![rusqlite::types::Null; st.parameter_count()];
            let rows = st
                .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                .map_err(db_err)?;
            let plan = rows.map(|r| r.map_err(db_err)).collect::<StoreResult<Vec<_>>>()?;
            Ok((*name, plan))
        })
        .collect()
}
