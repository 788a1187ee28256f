//! The actor and data-type tables are tiny and read on every row, so they live in memory too.
//! New entries are inserted outside any data transaction (autocommit, `ON CONFLICT DO NOTHING`
//! then a select, so concurrent writers agree on one key), and a rolled-back write never leaves
//! the cache pointing at a row that does not exist.

use std::collections::HashMap;

use hearth_domain::{AccountId, Actor, AppId};
use hearth_store::{StoreError, StoreResult};
use uuid::Uuid;

use crate::PostgresStore;
use crate::db::{Db, col};

#[derive(Default)]
pub(crate) struct Interns {
    actors: HashMap<Actor, i64>,
    actor_by_key: HashMap<i64, Actor>,
    dts: HashMap<String, i64>,
    dt_by_key: HashMap<i64, String>,
}

impl Interns {
    pub fn load(db: &mut Db<'_>) -> StoreResult<Self> {
        let mut me = Interns::default();
        for row in db.query("SELECT actor, account, app, online FROM actors", &[])? {
            let k: i64 = col(&row, 0)?;
            let account: Option<Uuid> = col(&row, 1)?;
            let app: Option<String> = col(&row, 2)?;
            let actor = Actor {
                account: account.map(AccountId),
                app: app.map(AppId),
                online: col(&row, 3)?,
            };
            me.actor_by_key.insert(k, actor.clone());
            me.actors.insert(actor, k);
        }
        for row in db.query("SELECT dt, key FROM data_types", &[])? {
            let (k, key): (i64, String) = (col(&row, 0)?, col(&row, 1)?);
            me.dts.insert(key.clone(), k);
            me.dt_by_key.insert(k, key);
        }
        Ok(me)
    }
}

impl PostgresStore {
    fn interns_read(&self) -> std::sync::RwLockReadGuard<'_, Interns> {
        self.interns.read().unwrap_or_else(|p| p.into_inner())
    }

    fn reload_interns(&self, db: &mut Db<'_>) -> StoreResult<()> {
        let fresh = Interns::load(db)?;
        *self.interns.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// The key of an actor, inserting it if new. Call outside a transaction.
    pub(crate) fn actor_key(&self, db: &mut Db<'_>, actor: &Actor) -> StoreResult<i64> {
        if let Some(k) = self.interns_read().actors.get(actor) {
            return Ok(*k);
        }
        let account = actor.account.map(|a| a.0);
        let app = actor.app.as_ref().map(|a| a.0.as_str());
        db.exec(
            "INSERT INTO actors (account, app, online) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&account, &app, &actor.online],
        )?;
        let row = db.one(
            "SELECT actor FROM actors
             WHERE coalesce(account, '00000000-0000-0000-0000-000000000000'::uuid)
                   = coalesce($1::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
               AND coalesce(app, '') = coalesce($2::text, '') AND online = $3",
            &[&account, &app, &actor.online],
        )?;
        let k: i64 = col(&row, 0)?;
        let mut w = self.interns.write().unwrap_or_else(|p| p.into_inner());
        w.actors.insert(actor.clone(), k);
        w.actor_by_key.insert(k, actor.clone());
        Ok(k)
    }

    /// The key of a data type, inserting it if new. Call outside a transaction.
    pub(crate) fn dt_key(&self, db: &mut Db<'_>, key: &str) -> StoreResult<i64> {
        if let Some(k) = self.interns_read().dts.get(key) {
            return Ok(*k);
        }
        db.exec(
            "INSERT INTO data_types (key) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&key],
        )?;
        let row = db.one("SELECT dt FROM data_types WHERE key = $1", &[&key])?;
        let k: i64 = col(&row, 0)?;
        let mut w = self.interns.write().unwrap_or_else(|p| p.into_inner());
        w.dts.insert(key.to_string(), k);
        w.dt_by_key.insert(k, key.to_string());
        Ok(k)
    }

    /// Makes sure every key is in the cache, reloading the tables once if one is missing
    /// (another process added it). Call before converting rows with [`Self::actor_cached`].
    pub(crate) fn ensure_known(
        &self,
        db: &mut Db<'_>,
        actors: impl IntoIterator<Item = i64>,
        dts: impl IntoIterator<Item = i64>,
    ) -> StoreResult<()> {
        let missing = {
            let g = self.interns_read();
            actors.into_iter().any(|k| !g.actor_by_key.contains_key(&k))
                || dts.into_iter().any(|k| !g.dt_by_key.contains_key(&k))
        };
        if missing { self.reload_interns(db) } else { Ok(()) }
    }

    /// Reloads the tables (before streaming rows that cannot stop to look a key up).
    pub(crate) fn refresh_interns(&self, db: &mut Db<'_>) -> StoreResult<()> {
        self.reload_interns(db)
    }

    pub(crate) fn actor_cached(&self, k: i64) -> StoreResult<Actor> {
        self.interns_read()
            .actor_by_key
            .get(&k)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("unknown actor key {k}")))
    }

    pub(crate) fn dt_cached(&self, k: i64) -> StoreResult<String> {
        self.interns_read()
            .dt_by_key
            .get(&k)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("unknown data type key {k}")))
    }

    /// Actor keys matching an account and/or app filter (for created-by / updated-by queries).
    pub(crate) fn actor_keys_matching(&self, account: Option<AccountId>, app: Option<&AppId>) -> Vec<i64> {
        self.interns_read()
            .actor_by_key
            .iter()
            .filter(|(_, a)| account.is_none_or(|acc| a.account == Some(acc)))
            .filter(|(_, a)| app.is_none_or(|ap| a.app.as_ref() == Some(ap)))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Data-type numbers for keys; unknown keys are skipped (nothing stored under them).
    pub(crate) fn dt_keys_known(&self, keys: &[String]) -> Vec<i64> {
        let g = self.interns_read();
        keys.iter().filter_map(|k| g.dts.get(k).copied()).collect()
    }
}
