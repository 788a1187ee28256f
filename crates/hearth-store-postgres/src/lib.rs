//! # hearth-store-postgres
//!
//! The PostgreSQL backend, for deployments that outgrow one SQLite file or run several server
//! processes. A pool of connections (r2d2) serves every call; each connection caches its
//! prepared statements. Unlike SQLite, several writers may touch the same record at once: each
//! [`hearth_store::Store::apply`] is one transaction that locks the records it writes
//! (`SELECT … FOR UPDATE`, in key order) before numbering changes, so a record's change sequence
//! stays gap-free and commits in sequence order. Reads that return health data append their
//! audit row in the same (repeatable-read) transaction.
//!
//! ## Layout
//! - [`schema`] — migrations.
//! - `db`: pooled connections, the statement cache, error mapping.
//! - `interns`: the small actor and data-type tables, cached in memory.
//! - `write`: [`hearth_store::Store::apply`] and purge.
//! - `bulk`: batches made only of creates, written with multi-row statements.
//! - `read`: reads by id, history, queries, export.
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
mod bulk;
mod db;
mod fetch;
mod interns;
mod jobs;
mod people;
mod read;
mod records;
pub mod schema;
mod sharing;
mod write;

use std::str::FromStr;
use std::sync::RwLock;
use std::time::Duration;

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    Access, Account, AccountId, Actor, AuditEntry, Change, Item, ItemId, ItemMeta, ItemQuery, Page, Record,
    RecordId, Timestamp,
};
use hearth_store::contract::{BatchResult, ChangeSet, ClientIdMatch, ExportSink};
use hearth_store::{Store, StoreError, StoreResult};
use postgres::NoTls;
use r2d2_postgres::PostgresConnectionManager;

use db::{Db, Manager, PgConn, pool_err};
use interns::Interns;

/// Connections in the pool.
const POOL_SIZE: u32 = 8;
/// How long a call waits for a free (or new) connection before reporting the database
/// unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct PostgresStore {
    pool: r2d2::Pool<Manager>,
    interns: RwLock<Interns>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:port/db`), fills the pool and applies
    /// migrations.
    pub fn connect(url: &str) -> StoreResult<Self> {
        let config = postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid PostgreSQL connection string: {e}")))?;
        let manager = Manager(PostgresConnectionManager::new(config, NoTls));
        // One direct connection first, so a wrong address or password is reported at once with
        // its cause instead of after the pool's checkout timeout.
        drop(r2d2::ManageConnection::connect(&manager).map_err(db::db_err)?);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(2))
            .connection_timeout(CHECKOUT_TIMEOUT)
            // A broken connection is noticed (and dropped) when a call fails on it; checking
            // every checkout would cost a round trip per call.
            .test_on_check_out(false)
            .build(manager)
            .map_err(pool_err)?;
        let store = PostgresStore {
            pool,
            interns: RwLock::new(Interns::default()),
        };
        store.migrate()?;
        let mut conn = store.conn()?;
        let interns = Interns::load(&mut Db::auto(&mut conn))?;
        *store.interns.write().unwrap_or_else(|p| p.into_inner()) = interns;
        drop(conn);
        Ok(store)
    }

    pub(crate) fn conn(&self) -> StoreResult<r2d2::PooledConnection<Manager>> {
        self.pool.get().map_err(pool_err)
    }
}

/// Runs `f` on a pooled connection in autocommit mode.
pub(crate) fn with_auto<T>(
    store: &PostgresStore,
    f: impl FnOnce(&mut Db<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut conn = store.conn()?;
    let pg: &mut PgConn = &mut conn;
    f(&mut Db::auto(pg))
}

impl Store for PostgresStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    fn ping(&self) -> StoreResult<()> {
        with_auto(self, |db| db.query("SELECT 1", &[]).map(|_| ()))
    }

    fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        schema::migrate(&mut conn)
    }

    fn create_account(&self, account: &Account, audit: &AuditEntry) -> StoreResult<()> {
        people::create_account(self, account, audit)
    }

    fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        with_auto(self, |db| people::account(db, "id = $1", &id.0))
    }

    fn account_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        with_auto(self, |db| people::account(db, "email = $1", &email))
    }

    fn record(&self, id: RecordId) -> StoreResult<Option<Record>> {
        with_auto(self, |db| people::record(db, id))
    }

    fn list_records(&self) -> StoreResult<Vec<Record>> {
        with_auto(self, people::list_records)
    }

    fn records_of(&self, account: AccountId) -> StoreResult<Vec<(Record, Access)>> {
        with_auto(self, |db| people::records_of(db, account))
    }

    fn accesses(&self, record: RecordId) -> StoreResult<Vec<Access>> {
        with_auto(self, |db| people::accesses(db, record))
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
        with_auto(self, |db| {
            people::record_by_patient_client_id(db, account, writer, client_id)
        })
    }

    fn apply(&self, changes: &ChangeSet) -> StoreResult<Vec<BatchResult>> {
        write::apply(self, changes)
    }

    fn current_meta(&self, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<ItemMeta>> {
        with_auto(self, |db| read::current_meta(self, db, record, ids))
    }

    fn item_record(&self, id: ItemId) -> StoreResult<Option<RecordId>> {
        with_auto(self, |db| people::item_record(db, id))
    }

    fn find_by_client_ids(
        &self,
        record: RecordId,
        writer: &str,
        client_ids: &[String],
    ) -> StoreResult<Vec<ClientIdMatch>> {
        with_auto(self, |db| {
            read::find_by_client_ids(self, db, record, writer, client_ids)
        })
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
        with_auto(self, |db| {
            let rk = match entry.record {
                Some(r) => people::rk_of(db, r)?,
                None => None,
            };
            audit::insert(db, entry, rk, &entry.items)
        })
    }

    fn audit_trail(&self, record: RecordId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        with_auto(self, |db| audit::trail(db, record, filter))
    }

    fn changes(&self, record: RecordId, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        with_auto(self, |db| audit::changes(self, db, record, after, limit))
    }

    fn export(&self, record: RecordId, sink: &mut dyn ExportSink) -> StoreResult<()> {
        read::export(self, record, sink)
    }
}
