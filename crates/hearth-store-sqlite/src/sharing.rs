//! Sharing and emergency access in SQLite: [`SharingStore`] for [`SqliteStore`]. Invitations,
//! emergency profiles and codes are kept as JSON bodies next to the columns their lookups use;
//! writes run in `BEGIN IMMEDIATE` transactions on the writer connection.

use hearth_domain::sharing::{EmergencyCode, EmergencyProfile, Invitation, InvitationStatus};
use hearth_domain::{Access, AccountId, AuditEntry, InvitationId, RecordId, Timestamp};
use hearth_store::codec::{from_json, to_json};
use hearth_store::{SharingStore, StoreError, StoreResult};
use rusqlite::{Connection, params};

use crate::auth::{get, query_all, query_opt, write_tx};
use crate::people::{access_at, custodian_count, insert_access, require_rk};
use crate::{SqliteStore, audit, db_err};

pub(crate) const INVITATION_BY_TOKEN_SQL: &str = "SELECT body FROM invitations WHERE token_hash = ?1";
pub(crate) const INVITATIONS_OF_RECORD_SQL: &str =
    "SELECT body FROM invitations WHERE rk = ?1 ORDER BY created_at DESC, id";
/// The record id, then the access columns (`people::ACCESS_COLS`).
pub(crate) const EXPIRED_ACCESSES_SQL: &str = "SELECT r.id, a.account_id, a.relationship, a.level,
     a.granted_at, a.data_types, a.expires_at, a.audit FROM record_access a JOIN records r ON r.rk = a.rk
     WHERE a.expires_at IS NOT NULL AND a.expires_at <= ?1 ORDER BY a.expires_at LIMIT ?2";
pub(crate) const CODES_OF_RECORD_SQL: &str =
    "SELECT body FROM emergency_codes WHERE rk = ?1 ORDER BY created_at DESC, id";
pub(crate) const CODE_BY_HASH_SQL: &str = "SELECT body FROM emergency_codes WHERE code_hash = ?1";

fn invitation_from(r: &rusqlite::Row<'_>) -> StoreResult<Invitation> {
    from_json("invitation", &get::<String>(r, 0)?)
}

fn code_from(r: &rusqlite::Row<'_>) -> StoreResult<EmergencyCode> {
    from_json("emergency code", &get::<String>(r, 0)?)
}

fn upsert_invitation(conn: &Connection, rk: i64, inv: &Invitation) -> StoreResult<()> {
    let body = to_json(inv)?;
    conn.prepare_cached(
        "INSERT INTO invitations (id, rk, token_hash, status, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, status = excluded.status,
             body = excluded.body",
    )
    .and_then(|mut s| {
        s.execute(params![
            &inv.id.as_bytes()[..],
            rk,
            inv.token_hash,
            inv.status.as_str(),
            inv.created_at.0,
            body,
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

impl SharingStore for SqliteStore {
    fn put_invitation(&self, inv: &Invitation, audit: Option<&AuditEntry>) -> StoreResult<()> {
        write_tx(self, |tx| {
            let rk = require_rk(tx, inv.record)?;
            upsert_invitation(tx, rk, inv)?;
            if let Some(e) = audit {
                audit::insert(tx, e, Some(rk), &e.items)?;
            }
            Ok(())
        })
    }

    fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        query_opt(
            &*self.reader()?,
            "SELECT body FROM invitations WHERE id = ?1",
            [&id.as_bytes()[..]],
            invitation_from,
        )
    }

    fn invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        query_opt(
            &*self.reader()?,
            INVITATION_BY_TOKEN_SQL,
            [token_hash],
            invitation_from,
        )
    }

    fn invitations_of_record(&self, record: RecordId) -> StoreResult<Vec<Invitation>> {
        let conn = self.reader()?;
        let rk = require_rk(&conn, record)?;
        query_all(&conn, INVITATIONS_OF_RECORD_SQL, [rk], invitation_from)
    }

    fn accept_invitation(
        &self,
        inv: &Invitation,
        access: &Access,
        remove: Option<AccountId>,
        entry: &AuditEntry,
    ) -> StoreResult<bool> {
        write_tx(self, |tx| {
            let rk = require_rk(tx, inv.record)?;
            let status: Option<String> = tx
                .prepare_cached("SELECT status FROM invitations WHERE id = ?1")
                .and_then(|mut s| {
                    use rusqlite::OptionalExtension;
                    s.query_row([&inv.id.as_bytes()[..]], |r| r.get(0)).optional()
                })
                .map_err(db_err)?;
            if status.as_deref() != Some(InvitationStatus::Pending.as_str()) {
                return Ok(false);
            }
            upsert_invitation(tx, rk, inv)?;
            insert_access(tx, rk, access)?;
            if let Some(gone) = remove.filter(|a| *a != access.account_id) {
                tx.execute(
                    "DELETE FROM record_access WHERE rk = ?1 AND account_id = ?2",
                    params![rk, &gone.as_bytes()[..]],
                )
                .map_err(db_err)?;
            }
            if custodian_count(tx, rk)? == 0 {
                return Err(StoreError::LastCustodian);
            }
            audit::insert(tx, entry, Some(rk), &entry.items)?;
            Ok(true)
        })
    }

    fn expired_accesses(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Access>> {
        let conn = self.reader()?;
        let mut st = conn.prepare_cached(EXPIRED_ACCESSES_SQL).map_err(db_err)?;
        let mut rows = st.query(params![now.0, limit]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            let record = crate::auth::record_at(r, 0)?;
            out.push(access_at(record, r, 1)?);
        }
        Ok(out)
    }

    fn emergency_profile(&self, record: RecordId) -> StoreResult<Option<EmergencyProfile>> {
        let conn = self.reader()?;
        let rk = require_rk(&conn, record)?;
        query_opt(
            &conn,
            "SELECT body FROM emergency_profiles WHERE rk = ?1",
            [rk],
            |r| from_json("emergency profile", &get::<String>(r, 0)?),
        )
    }

    fn put_emergency_profile(
        &self,
        record: RecordId,
        profile: &EmergencyProfile,
        entry: &AuditEntry,
    ) -> StoreResult<()> {
        write_tx(self, |tx| {
            let rk = require_rk(tx, record)?;
            tx.execute(
                "INSERT INTO emergency_profiles (rk, body) VALUES (?1, ?2)
                 ON CONFLICT (rk) DO UPDATE SET body = excluded.body",
                params![rk, to_json(profile)?],
            )
            .map_err(db_err)?;
            audit::insert(tx, entry, Some(rk), &entry.items)?;
            Ok(())
        })
    }

    fn put_emergency_code(&self, code: &EmergencyCode, entry: Option<&AuditEntry>) -> StoreResult<()> {
        write_tx(self, |tx| {
            let rk = require_rk(tx, code.record)?;
            tx.execute(
                "INSERT INTO emergency_codes (id, rk, code_hash, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![&code.id.as_bytes()[..], rk, code.code_hash, code.created_at.0, to_json(code)?],
            )
            .map_err(db_err)?;
            if let Some(e) = entry {
                audit::insert(tx, e, Some(rk), &e.items)?;
            }
            Ok(())
        })
    }

    fn emergency_codes(&self, record: RecordId) -> StoreResult<Vec<EmergencyCode>> {
        let conn = self.reader()?;
        let rk = require_rk(&conn, record)?;
        query_all(&conn, CODES_OF_RECORD_SQL, [rk], code_from)
    }

    fn emergency_code_by_hash(&self, code_hash: &str) -> StoreResult<Option<EmergencyCode>> {
        query_opt(&*self.reader()?, CODE_BY_HASH_SQL, [code_hash], code_from)
    }
}

const PLANNED: &[(&str, &str)] = &[
    ("invitation by token", INVITATION_BY_TOKEN_SQL),
    ("invitations of a record", INVITATIONS_OF_RECORD_SQL),
    ("expired accesses", EXPIRED_ACCESSES_SQL),
    ("emergency codes of a record", CODES_OF_RECORD_SQL),
    ("emergency code by hash", CODE_BY_HASH_SQL),
];

impl SqliteStore {
    /// `EXPLAIN QUERY PLAN` of the sharing statements, for the plan tests.
    pub fn explain_sharing_queries(&self) -> StoreResult<Vec<(&'static str, Vec<String>)>> {
        crate::explain_plans(&*self.reader()?, PLANNED)
    }
}
