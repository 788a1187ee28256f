//! Connections and statements: the pooled connection type (a client with its own cache of
//! prepared statements), [`Db`], the handle every query goes through (autocommit or inside a
//! transaction), and the mapping from PostgreSQL errors to [`StoreError`].

use std::collections::HashMap;

use hearth_store::{StoreError, StoreResult};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, ToSql};
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;

/// Prepared statements kept per connection; cleared when it grows past this (dynamic queries).
const STATEMENT_CACHE: usize = 256;

pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A pooled connection: the client and the statements prepared on it.
pub(crate) struct PgConn {
    client: Client,
    stmts: HashMap<String, Statement>,
}

/// Wraps r2d2_postgres's manager so every pooled connection carries its statement cache.
pub(crate) struct Manager(pub PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.0.connect()?,
            stmts: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        self.0.is_valid(&mut conn.client)
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        self.0.has_broken(&mut conn.client)
    }
}

/// True for errors that say the server is gone, refusing, or the operation should be retried.
fn is_transient(e: &postgres::Error) -> bool {
    match e.code() {
        None => {
            let text = e.to_string();
            e.is_closed()
                || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
                || [
                    "error connecting",
                    "error communicating",
                    "timeout",
                    "connection closed",
                ]
                .iter()
                .any(|p| text.starts_with(p))
        }
        Some(code) => {
            let c = code.code();
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::LOCK_NOT_AVAILABLE
                || *code == SqlState::QUERY_CANCELED
        }
    }
}

/// Turns a PostgreSQL error into a storage error. The text is for logs only and leaves out the
/// server's DETAIL line, which can quote row values.
pub(crate) fn db_err(e: postgres::Error) -> StoreError {
    let text = match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    };
    if is_transient(&e) {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

pub(crate) fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub(crate) fn is_fk_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

pub(crate) fn pool_err(e: r2d2::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Reads a column, reporting a type mismatch as corrupt data rather than panicking.
pub(crate) fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> StoreResult<T> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

enum Exec<'a> {
    Auto(&'a mut Client),
    Tx(Transaction<'a>),
}

/// One connection's query handle, in autocommit mode or inside a transaction.
pub(crate) struct Db<'a> {
    exec: Exec<'a>,
    stmts: &'a mut HashMap<String, Statement>,
}

impl<'a> Db<'a> {
    /// Statements run one by one in autocommit mode.
    pub fn auto(conn: &'a mut PgConn) -> Self {
        Db {
            exec: Exec::Auto(&mut conn.client),
            stmts: &mut conn.stmts,
        }
    }

    /// A read-committed transaction (writes lock the rows they depend on).
    pub fn begin(conn: &'a mut PgConn) -> StoreResult<Self> {
        let tx = conn.client.transaction().map_err(db_err)?;
        Ok(Db {
            exec: Exec::Tx(tx),
            stmts: &mut conn.stmts,
        })
    }

    /// A repeatable-read transaction: every statement sees the same snapshot (audited reads,
    /// export).
    pub fn snapshot(conn: &'a mut PgConn) -> StoreResult<Self> {
        let tx = conn
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .map_err(db_err)?;
        Ok(Db {
            exec: Exec::Tx(tx),
            stmts: &mut conn.stmts,
        })
    }

    pub fn commit(self) -> StoreResult<()> {
        match self.exec {
            Exec::Auto(_) => Ok(()),
            Exec::Tx(tx) => tx.commit().map_err(db_err),
        }
    }

    fn prepare(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let st = match &mut self.exec {
            Exec::Auto(c) => c.prepare(sql)?,
            Exec::Tx(t) => t.prepare(sql)?,
        };
        if self.stmts.len() >= STATEMENT_CACHE {
            self.stmts.clear();
        }
        self.stmts.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    /// Runs a statement returning rows; errors are handed back unmapped.
    pub fn try_query(&mut self, sql: &str, p: &Params<'_>) -> Result<Vec<Row>, postgres::Error> {
        let st = self.prepare(sql)?;
        match &mut self.exec {
            Exec::Auto(c) => c.query(&st, p),
            Exec::Tx(t) => t.query(&st, p),
        }
    }

    pub fn query(&mut self, sql: &str, p: &Params<'_>) -> StoreResult<Vec<Row>> {
        self.try_query(sql, p).map_err(db_err)
    }

    pub fn opt(&mut self, sql: &str, p: &Params<'_>) -> StoreResult<Option<Row>> {
        Ok(self.query(sql, p)?.into_iter().next())
    }

    pub fn one(&mut self, sql: &str, p: &Params<'_>) -> StoreResult<Row> {
        self.opt(sql, p)?
            .ok_or_else(|| StoreError::Backend("query returned no row".into()))
    }

    /// Runs a statement; errors are handed back unmapped.
    pub fn try_exec(&mut self, sql: &str, p: &Params<'_>) -> Result<u64, postgres::Error> {
        let st = self.prepare(sql)?;
        match &mut self.exec {
            Exec::Auto(c) => c.execute(&st, p),
            Exec::Tx(t) => t.execute(&st, p),
        }
    }

    pub fn exec(&mut self, sql: &str, p: &Params<'_>) -> StoreResult<u64> {
        self.try_exec(sql, p).map_err(db_err)
    }

    /// Runs several statements at once, without parameters (migrations).
    pub fn batch(&mut self, sql: &str) -> StoreResult<()> {
        match &mut self.exec {
            Exec::Auto(c) => c.batch_execute(sql),
            Exec::Tx(t) => t.batch_execute(sql),
        }
        .map_err(db_err)
    }

    /// Streams the rows of a query to `f` as they arrive, without holding them all.
    pub fn each(
        &mut self,
        sql: &str,
        p: &Params<'_>,
        f: &mut dyn FnMut(&Row) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let st = self.prepare(sql).map_err(db_err)?;
        let params = p.iter().copied();
        let mut rows = match &mut self.exec {
            Exec::Auto(c) => c.query_raw(&st, params),
            Exec::Tx(t) => t.query_raw(&st, params),
        }
        .map_err(db_err)?;
        while let Some(row) = rows.next().map_err(db_err)? {
            f(&row)?;
        }
        Ok(())
    }
}
