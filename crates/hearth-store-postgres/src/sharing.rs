//! Sharing and emergency access in PostgreSQL: [`SharingStore`] for [`PostgresStore`].
//! Invitations, emergency profiles and codes are kept as JSON bodies next to the columns their
//! lookups use. Accepting an invitation locks the record row first, as every access change does.

use hearth_domain::sharing::{EmergencyCode, EmergencyProfile, Invitation, InvitationStatus};
use hearth_domain::{Access, AccountId, AuditEntry, InvitationId, RecordId, Timestamp};
use hearth_store::codec::{from_json, to_json};
use hearth_store::{SharingStore, StoreError, StoreResult};

use crate::auth::in_tx;
use crate::db::{Db, col};
use crate::people::{access_at, custodian_count, insert_access, lock_record, require_rk};
use crate::{PostgresStore, audit, with_auto};

/// The JSON bodies a query selects (first column).
fn texts(db: &mut Db<'_>, sql: &str, p: &[&(dyn postgres::types::ToSql + Sync)]) -> StoreResult<Vec<String>> {
    db.query(sql, p)?.iter().map(|r| col::<String>(r, 0)).collect()
}

fn invitations(
    db: &mut Db<'_>,
    sql: &str,
    p: &[&(dyn postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<Invitation>> {
    texts(db, sql, p)?
        .iter()
        .map(|t| from_json("invitation", t))
        .collect()
}

fn codes(
    db: &mut Db<'_>,
    sql: &str,
    p: &[&(dyn postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<EmergencyCode>> {
    texts(db, sql, p)?
        .iter()
        .map(|t| from_json("emergency code", t))
        .collect()
}

fn upsert_invitation(db: &mut Db<'_>, rk: i64, inv: &Invitation) -> StoreResult<()> {
    db.exec(
        "INSERT INTO invitations (id, rk, token_hash, status, created_at, body) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, status = excluded.status,
             body = excluded.body",
        &[&inv.id.0, &rk, &inv.token_hash, &inv.status.as_str(), &inv.created_at.0, &to_json(inv)?],
    )?;
    Ok(())
}

impl SharingStore for PostgresStore {
    fn put_invitation(&self, inv: &Invitation, entry: Option<&AuditEntry>) -> StoreResult<()> {
        in_tx(self, |db| {
            let rk = require_rk(db, inv.record)?;
            upsert_invitation(db, rk, inv)?;
            if let Some(e) = entry {
                audit::insert(db, e, Some(rk), &e.items)?;
            }
            Ok(())
        })
    }

    fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>> {
        with_auto(self, |db| {
            Ok(invitations(db, "SELECT body FROM invitations WHERE id = $1", &[&id.0])?.pop())
        })
    }

    fn invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        with_auto(self, |db| {
            Ok(invitations(
                db,
                "SELECT body FROM invitations WHERE token_hash = $1",
                &[&token_hash],
            )?
            .pop())
        })
    }

    fn invitations_of_record(&self, record: RecordId) -> StoreResult<Vec<Invitation>> {
        with_auto(self, |db| {
            let rk = require_rk(db, record)?;
            invitations(
                db,
                "SELECT body FROM invitations WHERE rk = $1 ORDER BY created_at DESC, id",
                &[&rk],
            )
        })
    }

    fn accept_invitation(
        &self,
        inv: &Invitation,
        access: &Access,
        remove: Option<AccountId>,
        entry: &AuditEntry,
    ) -> StoreResult<bool> {
        in_tx(self, |db| {
            let rk = lock_record(db, inv.record)?;
            let status = db
                .opt(
                    "SELECT status FROM invitations WHERE id = $1 FOR UPDATE",
                    &[&inv.id.0],
                )?
                .map(|r| col::<String>(&r, 0))
                .transpose()?;
            if status.as_deref() != Some(InvitationStatus::Pending.as_str()) {
                return Ok(false);
            }
            upsert_invitation(db, rk, inv)?;
            insert_access(db, rk, access)?;
            if let Some(gone) = remove.filter(|a| *a != access.account_id) {
                db.exec(
                    "DELETE FROM record_access WHERE rk = $1 AND account_id = $2",
                    &[&rk, &gone.0],
                )?;
            }
            if custodian_count(db, rk)? == 0 {
                return Err(StoreError::LastCustodian);
            }
            audit::insert(db, entry, Some(rk), &entry.items)?;
            Ok(true)
        })
    }

    fn expired_accesses(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Access>> {
        with_auto(self, |db| {
            db.query(
                "SELECT r.id, a.account_id, a.relationship, a.level, a.granted_at, a.data_types,
                        a.expires_at, a.audit
                 FROM record_access a JOIN records r ON r.rk = a.rk
                 WHERE a.expires_at IS NOT NULL AND a.expires_at <= $1 ORDER BY a.expires_at LIMIT $2",
                &[&now.0, &i64::from(limit)],
            )?
            .iter()
            .map(|r| access_at(RecordId(col(r, 0)?), r, 1))
            .collect()
        })
    }

    fn emergency_profile(&self, record: RecordId) -> StoreResult<Option<EmergencyProfile>> {
        with_auto(self, |db| {
            let rk = require_rk(db, record)?;
            texts(db, "SELECT body FROM emergency_profiles WHERE rk = $1", &[&rk])?
                .pop()
                .map(|t| from_json("emergency profile", &t))
                .transpose()
        })
    }

    fn put_emergency_profile(
        &self,
        record: RecordId,
        profile: &EmergencyProfile,
        entry: &AuditEntry,
    ) -> StoreResult<()> {
        in_tx(self, |db| {
            let rk = require_rk(db, record)?;
            db.exec(
                "INSERT INTO emergency_profiles (rk, body) VALUES ($1, $2)
                 ON CONFLICT (rk) DO UPDATE SET body = excluded.body",
                &[&rk, &to_json(profile)?],
            )?;
            audit::insert(db, entry, Some(rk), &entry.items)?;
            Ok(())
        })
    }

    fn put_emergency_code(&self, code: &EmergencyCode, entry: Option<&AuditEntry>) -> StoreResult<()> {
        in_tx(self, |db| {
            let rk = require_rk(db, code.record)?;
            db.exec(
                "INSERT INTO emergency_codes (id, rk, code_hash, created_at, body) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                &[&code.id.0, &rk, &code.code_hash, &code.created_at.0, &to_json(code)?],
            )?;
            if let Some(e) = entry {
                audit::insert(db, e, Some(rk), &e.items)?;
            }
            Ok(())
        })
    }

    fn emergency_codes(&self, record: RecordId) -> StoreResult<Vec<EmergencyCode>> {
        with_auto(self, |db| {
            let rk = require_rk(db, record)?;
            codes(
                db,
                "SELECT body FROM emergency_codes WHERE rk = $1 ORDER BY created_at DESC, id",
                &[&rk],
            )
        })
    }

    fn emergency_code_by_hash(&self, code_hash: &str) -> StoreResult<Option<EmergencyCode>> {
        with_auto(self, |db| {
            Ok(codes(
                db,
                "SELECT body FROM emergency_codes WHERE code_hash = $1",
                &[&code_hash],
            )?
            .pop())
        })
    }
}
