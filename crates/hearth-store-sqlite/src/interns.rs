//! The actor and data-type tables are tiny and read on every row, so they live in memory too.
//! New entries are inserted outside any data transaction (in autocommit), so a rolled-back write
//! never leaves the cache pointing at a row that does not exist.

use std::collections::HashMap;

use hearth_domain::{AccountId, Actor, AppId};
use hearth_store::StoreResult;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{SqliteStore, db_err, uuid_bytes};

#[derive(Default)]
pub(crate) struct Interns {
    actors: HashMap<Actor, i64>,
    actor_by_key: HashMap<i64, Actor>,
    dts: HashMap<String, i64>,
    dt_by_key: HashMap<i64, String>,
}

impl Interns {
    pub fn load(conn: &Connection) -> StoreResult<Self> {
        let mut me = Interns::default();
        let mut st = conn
            .prepare("SELECT actor, account, app, online FROM actors")
            .map_err(db_err)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })
            .map_err(db_err)?;
        for row in rows {
            let (k, account, app, online) = row.map_err(db_err)?;
            let account = account
                .map(|b| uuid_bytes(&b).map(AccountId::from_bytes))
                .transpose()?;
            let actor = Actor {
                account,
                app: app.map(AppId),
                online,
            };
            me.actor_by_key.insert(k, actor.clone());
            me.actors.insert(actor, k);
        }
        let mut st = conn.prepare("SELECT dt, key FROM data_types").map_err(db_err)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(db_err)?;
        for row in rows {
            let (k, key) = row.map_err(db_err)?;
            me.dts.insert(key.clone(), k);
            me.dt_by_key.insert(k, key);
        }
        Ok(me)
    }
}

impl SqliteStore {
    fn interns_read(&self) -> std::sync::RwLockReadGuard<'_, Interns> {
        self.interns.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key of an actor, inserting it if new. Call outside a transaction.
    pub(crate) fn actor_key(&self, conn: &Connection, actor: &Actor) -> StoreResult<i64> {
        if let Some(k) = self.interns_read().actors.get(actor) {
            return Ok(*k);
        }
        let account = actor.account.map(|a| a.as_bytes().to_vec());
        let existing: Option<i64> = conn
            .query_row(
                "SELECT actor FROM actors WHERE ifnull(account, x'') = ifnull(?1, x'') AND ifnull(app, '') = ifnull(?2, '') AND online = ?3",
                params![account, actor.app.as_ref().map(|a| a.0.as_str()), actor.online],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        let k = match existing {
            Some(k) => k,
            None => {
                conn.execute(
                    "INSERT INTO actors (account, app, online) VALUES (?1, ?2, ?3)",
                    params![account, actor.app.as_ref().map(|a| a.0.as_str()), actor.online],
                )
                .map_err(db_err)?;
                conn.last_insert_rowid()
            }
        };
        let mut w = self.interns.write().unwrap_or_else(|p| p.into_inner());
        w.actors.insert(actor.clone(), k);
        w.actor_by_key.insert(k, actor.clone());
        Ok(k)
    }

    /// The key of a data type, inserting it if new. Call outside a transaction.
    pub(crate) fn dt_key(&self, conn: &Connection, key: &str) -> StoreResult<i64> {
        if let Some(k) = self.interns_read().dts.get(key) {
            return Ok(*k);
        }
        conn.execute("INSERT OR IGNORE INTO data_types (key) VALUES (?1)", [key])
            .map_err(db_err)?;
        let k: i64 = conn
            .query_row("SELECT dt FROM data_types WHERE key = ?1", [key], |r| r.get(0))
            .map_err(db_err)?;
        let mut w = self.interns.write().unwrap_or_else(|p| p.into_inner());
        w.dts.insert(key.to_string(), k);
        w.dt_by_key.insert(k, key.to_string());
        Ok(k)
    }

    /// The data-type key for an interned number (reloading the table if another process added it).
    pub(crate) fn dt_name(&self, conn: &Connection, k: i64) -> StoreResult<String> {
        if let Some(s) = self.interns_read().dt_by_key.get(&k) {
            return Ok(s.clone());
        }
        let fresh = Interns::load(conn)?;
        let name = fresh.dt_by_key.get(&k).cloned();
        *self.interns.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        name.ok_or_else(|| hearth_store::StoreError::Corrupt(format!("unknown data type key {k}")))
    }

    pub(crate) fn actor_of(&self, conn: &Connection, k: i64) -> StoreResult<Actor> {
        if let Some(a) = self.interns_read().actor_by_key.get(&k) {
            return Ok(a.clone());
        }
        let fresh = Interns::load(conn)?;
        let actor = fresh.actor_by_key.get(&k).cloned();
        *self.interns.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        actor.ok_or_else(|| hearth_store::StoreError::Corrupt(format!("unknown actor key {k}")))
    }

    /// Reloads both tables (another process, e.g. the command line next to a running server,
    /// may have added rows).
    fn reload(&self, conn: &Connection) -> StoreResult<()> {
        let fresh = Interns::load(conn)?;
        *self.interns.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// Actor keys matching an account and/or app filter (for created-by / updated-by queries).
    /// The table is reloaded first: a filter cannot tell a missing actor from one added elsewhere.
    pub(crate) fn actor_keys_matching(
        &self,
        conn: &Connection,
        account: Option<AccountId>,
        app: Option<&AppId>,
    ) -> StoreResult<Vec<i64>> {
        self.reload(conn)?;
        Ok(self
            .interns_read()
            .actor_by_key
            .iter()
            .filter(|(_, a)| account.is_none_or(|acc| a.account == Some(acc)))
            .filter(|(_, a)| app.is_none_or(|ap| a.app.as_ref() == Some(ap)))
            .map(|(k, _)| *k)
            .collect())
    }

    /// Data-type numbers for keys; unknown keys are skipped (nothing stored under them). When a
    /// key is not in memory the table is reloaded once, in case another process added it.
    pub(crate) fn dt_keys_known(&self, conn: &Connection, keys: &[String]) -> StoreResult<Vec<i64>> {
        let known = |g: &Interns| -> Vec<i64> { keys.iter().filter_map(|k| g.dts.get(k).copied()).collect() };
        let found = known(&self.interns_read());
        if found.len() == keys.len() {
            return Ok(found);
        }
        self.reload(conn)?;
        Ok(known(&self.interns_read()))
    }
}
