//! Bulk export jobs in PostgreSQL: [`JobStore`] for [`PostgresStore`]. Writes that must not
//! interleave — counting a requester's jobs and inserting, claiming, listing a file, dropping
//! blobs — run in read-committed transactions that first take one transaction-scoped advisory
//! lock, so servers sharing the database see each other's jobs in order. They are rare (a few per
//! job), so one lock costs nothing noticeable. Renewing a lease and finishing are single
//! conditional updates.

use hearth_domain::bulk::{ExportJob, ExportOutput, JobEnd, JobStatus};
use hearth_domain::{JobId, Timestamp};
use hearth_store::codec::{from_json, to_json};
use hearth_store::{ClaimedJob, DropBlob, JobStore, StoreError, StoreResult};
use postgres::Row;
use uuid::Uuid;

use crate::auth::{in_tx, opt_time_at};
use crate::db::{Db, col};
use crate::{PostgresStore, with_auto};

/// Advisory lock key for job writes ("bulk" in ASCII).
const JOB_LOCK: i64 = 0x6275_6c6b;

const JOB_COLS: &str = "id, requester_json, request, status, progress, transaction_time, failure, \
     created_at, started_at, finished_at, expires_at";

fn job_from(r: &Row) -> StoreResult<ExportJob> {
    let status: String = col(r, 3)?;
    let failure: Option<String> = col(r, 6)?;
    Ok(ExportJob {
        id: JobId(col::<Uuid>(r, 0)?),
        requester: from_json("job requester", &col::<String>(r, 1)?)?,
        request: from_json("job request", &col::<String>(r, 2)?)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("job status {status:?}")))?,
        progress: col(r, 4)?,
        transaction_time: opt_time_at(r, 5)?,
        failure: failure.map(|f| from_json("job failure", &f)).transpose()?,
        outputs: vec![],
        created_at: Timestamp(col(r, 7)?),
        started_at: opt_time_at(r, 8)?,
        finished_at: opt_time_at(r, 9)?,
        expires_at: opt_time_at(r, 10)?,
    })
}

fn output_from(r: &Row) -> StoreResult<ExportOutput> {
    Ok(ExportOutput {
        n: col::<i32>(r, 0)? as u32,
        error: col(r, 1)?,
        resource_type: col(r, 2)?,
        blob: col(r, 3)?,
        count: col::<i64>(r, 4)? as u64,
        size: col::<i64>(r, 5)? as u64,
        records: from_json("output records", &col::<String>(r, 6)?)?,
    })
}

fn load(db: &mut Db<'_>, id: JobId) -> StoreResult<Option<ExportJob>> {
    let Some(row) = db.opt(
        &format!("SELECT {JOB_COLS} FROM bulk_jobs WHERE id = $1"),
        &[&id.0],
    )?
    else {
        return Ok(None);
    };
    let mut job = job_from(&row)?;
    job.outputs = db
        .query(
            "SELECT n, error, resource_type, blob, count, size, records FROM bulk_outputs
             WHERE job = $1 ORDER BY n",
            &[&id.0],
        )?
        .iter()
        .map(output_from)
        .collect::<StoreResult<_>>()?;
    Ok(Some(job))
}

/// Runs `f` in a transaction holding the job lock.
fn locked<T>(store: &PostgresStore, f: impl FnOnce(&mut Db<'_>) -> StoreResult<T>) -> StoreResult<T> {
    in_tx(store, |db| {
        db.exec("SELECT pg_advisory_xact_lock($1)", &[&JOB_LOCK])?;
        f(db)
    })
}

fn first_id(db: &mut Db<'_>, sql: &str, p: &crate::db::Params<'_>) -> StoreResult<Option<JobId>> {
    db.opt(sql, p)?
        .map(|r| Ok(JobId(col::<Uuid>(&r, 0)?)))
        .transpose()
}

/// Calls `drop_blob` for each blob no job lists (inside the caller's locked transaction).
fn drop_unlisted(db: &mut Db<'_>, blobs: &[String], drop_blob: DropBlob<'_>) -> StoreResult<()> {
    let mut seen: Vec<&String> = Vec::new();
    for b in blobs {
        if seen.contains(&b) {
            continue;
        }
        seen.push(b);
        if db
            .opt("SELECT 1 FROM bulk_outputs WHERE blob = $1 LIMIT 1", &[b])?
            .is_none()
        {
            drop_blob(b)?;
        }
    }
    Ok(())
}

/// Deletes a job's file list, returning the blobs it named.
fn delete_outputs(db: &mut Db<'_>, id: JobId) -> StoreResult<Vec<String>> {
    db.query("DELETE FROM bulk_outputs WHERE job = $1 RETURNING blob", &[&id.0])?
        .iter()
        .map(|r| col(r, 0))
        .collect()
}

impl JobStore for PostgresStore {
    fn create_export_job(&self, job: &ExportJob, max_active: u32) -> StoreResult<bool> {
        let requester = to_json(&job.requester)?;
        let request = to_json(&job.request)?;
        let failure = job.failure.as_ref().map(to_json).transpose()?;
        let key = job.requester.key();
        locked(self, |db| {
            let active: i64 = col(
                &db.one(
                    "SELECT count(*) FROM bulk_jobs WHERE requester = $1 AND status IN ('queued', 'running')",
                    &[&key],
                )?,
                0,
            )?;
            if active >= i64::from(max_active) {
                return Ok(false);
            }
            db.exec(
                "INSERT INTO bulk_jobs (id, requester, requester_json, request, status, progress,
                     transaction_time, failure, created_at, started_at, finished_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                &[
                    &job.id.0,
                    &key,
                    &requester,
                    &request,
                    &job.status.as_str(),
                    &job.progress,
                    &job.transaction_time.map(|t| t.0),
                    &failure,
                    &job.created_at.0,
                    &job.started_at.map(|t| t.0),
                    &job.finished_at.map(|t| t.0),
                    &job.expires_at.map(|t| t.0),
                ],
            )?;
            Ok(true)
        })
    }

    fn export_job(&self, id: JobId) -> StoreResult<Option<ExportJob>> {
        with_auto(self, |db| load(db, id))
    }

    fn claim_export_job(
        &self,
        runner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<ClaimedJob>> {
        locked(self, |db| {
            let ran_out = first_id(
                db,
                "SELECT id FROM bulk_jobs WHERE status = 'running' AND lease_until < $1
                 ORDER BY lease_until LIMIT 1",
                &[&now.0],
            )?;
            let id = match ran_out {
                Some(id) => id,
                None => match first_id(
                    db,
                    "SELECT j.id FROM bulk_jobs j WHERE j.status = 'queued'
                     AND NOT EXISTS (SELECT 1 FROM bulk_jobs r
                                     WHERE r.requester = j.requester AND r.status = 'running')
                     ORDER BY j.created_at, j.id LIMIT 1",
                    &[],
                )? {
                    Some(id) => id,
                    None => return Ok(None),
                },
            };
            let stale_blobs = delete_outputs(db, id)?;
            db.exec(
                "UPDATE bulk_jobs SET status = 'running', runner = $2, lease_until = $3, started_at = $4,
                     transaction_time = $4, progress = 'started'
                 WHERE id = $1",
                &[&id.0, &runner, &lease_until.0, &now.0],
            )?;
            let job = load(db, id)?.ok_or_else(|| StoreError::Backend("claimed job vanished".into()))?;
            Ok(Some(ClaimedJob { job, stale_blobs }))
        })
    }

    fn renew_export_job(
        &self,
        id: JobId,
        runner: &str,
        progress: &str,
        lease_until: Timestamp,
    ) -> StoreResult<bool> {
        with_auto(self, |db| {
            let n = db.exec(
                "UPDATE bulk_jobs SET progress = $3, lease_until = $4
                 WHERE id = $1 AND status = 'running' AND runner = $2",
                &[&id.0, &runner, &progress, &lease_until.0],
            )?;
            Ok(n == 1)
        })
    }

    fn add_export_output(&self, id: JobId, runner: &str, o: &ExportOutput) -> StoreResult<bool> {
        let records = to_json(&o.records)?;
        locked(self, |db| {
            let held = db
                .opt(
                    "SELECT 1 FROM bulk_jobs WHERE id = $1 AND status = 'running' AND runner = $2",
                    &[&id.0, &runner],
                )?
                .is_some();
            if !held {
                return Ok(false);
            }
            let n = i32::try_from(o.n).map_err(|_| StoreError::Backend("file number out of range".into()))?;
            db.exec(
                "INSERT INTO bulk_outputs (job, n, error, resource_type, blob, count, size, records)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &id.0,
                    &n,
                    &o.error,
                    &o.resource_type,
                    &o.blob,
                    &(o.count as i64),
                    &(o.size as i64),
                    &records,
                ],
            )?;
            Ok(true)
        })
    }

    fn finish_export_job(&self, id: JobId, runner: &str, end: &JobEnd) -> StoreResult<bool> {
        let failure = end.failure.as_ref().map(to_json).transpose()?;
        with_auto(self, |db| {
            let n = db.exec(
                "UPDATE bulk_jobs SET status = $3, failure = $4, finished_at = $5, expires_at = $6,
                     runner = NULL, lease_until = NULL
                 WHERE id = $1 AND status = 'running' AND runner = $2",
                &[
                    &id.0,
                    &runner,
                    &end.status.as_str(),
                    &failure,
                    &end.finished_at.0,
                    &end.expires_at.0,
                ],
            )?;
            Ok(n == 1)
        })
    }

    fn cancel_export_job(&self, id: JobId, at: Timestamp) -> StoreResult<bool> {
        with_auto(self, |db| {
            let n = db.exec(
                "UPDATE bulk_jobs SET status = 'cancelled', finished_at = $2, expires_at = $2,
                     runner = NULL, lease_until = NULL
                 WHERE id = $1 AND status <> 'cancelled'",
                &[&id.0, &at.0],
            )?;
            Ok(n == 1)
        })
    }

    fn expired_export_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<JobId>> {
        with_auto(self, |db| {
            db.query(
                "SELECT id FROM bulk_jobs WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
                &[&now.0, &i64::from(limit)],
            )?
            .iter()
            .map(|r| Ok(JobId(col::<Uuid>(r, 0)?)))
            .collect()
        })
    }

    fn delete_export_job(&self, id: JobId, drop_blob: DropBlob<'_>) -> StoreResult<bool> {
        locked(self, |db| {
            let blobs = delete_outputs(db, id)?;
            let n = db.exec("DELETE FROM bulk_jobs WHERE id = $1", &[&id.0])?;
            drop_unlisted(db, &blobs, drop_blob)?;
            Ok(n == 1)
        })
    }

    fn release_export_blobs(&self, blobs: &[String], drop_blob: DropBlob<'_>) -> StoreResult<()> {
        locked(self, |db| drop_unlisted(db, blobs, drop_blob))
    }
}
