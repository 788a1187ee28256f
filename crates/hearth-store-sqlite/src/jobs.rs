//! Bulk export jobs in SQLite: [`JobStore`] for [`SqliteStore`]. Every write runs on the writer
//! connection in a `BEGIN IMMEDIATE` transaction, so counting a requester's jobs and inserting,
//! claiming, and dropping blobs against listing them never interleave. Reads use readers.

use hearth_domain::bulk::{ExportJob, ExportOutput, JobEnd, JobStatus};
use hearth_domain::{JobId, Timestamp};
use hearth_store::codec::{from_json, to_json};
use hearth_store::{ClaimedJob, DropBlob, JobStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::auth::{get, opt_time_at, query_all, query_opt, write_tx};
use crate::{SqliteStore, db_err, uuid_bytes};

const JOB_COLS: &str = "id, requester_json, request, status, progress, transaction_time, failure, \
     created_at, started_at, finished_at, expires_at";

pub(crate) const ACTIVE_OF_REQUESTER_SQL: &str =
    "SELECT count(*) FROM bulk_jobs WHERE requester = ?1 AND status IN ('queued', 'running')";
pub(crate) const LEASE_RAN_OUT_SQL: &str =
    "SELECT id FROM bulk_jobs WHERE status = 'running' AND lease_until < ?1
     ORDER BY lease_until LIMIT 1";
pub(crate) const NEXT_QUEUED_SQL: &str = "SELECT j.id FROM bulk_jobs j WHERE j.status = 'queued'
     AND NOT EXISTS (SELECT 1 FROM bulk_jobs r WHERE r.requester = j.requester AND r.status = 'running')
     ORDER BY j.created_at, j.id LIMIT 1";
pub(crate) const EXPIRED_SQL: &str =
    "SELECT id FROM bulk_jobs WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2";
pub(crate) const BLOB_LISTED_SQL: &str = "SELECT 1 FROM bulk_outputs WHERE blob = ?1 LIMIT 1";
const OUTPUTS_SQL: &str = "SELECT n, error, resource_type, blob, count, size, records FROM bulk_outputs
     WHERE job = ?1 ORDER BY n";
const HELD_SQL: &str = "SELECT 1 FROM bulk_jobs WHERE id = ?1 AND status = 'running' AND runner = ?2";

fn job_from(r: &Row<'_>) -> StoreResult<ExportJob> {
    let status: String = get(r, 3)?;
    let failure: Option<String> = get(r, 6)?;
    Ok(ExportJob {
        id: JobId::from_bytes(uuid_bytes(&get::<Vec<u8>>(r, 0)?)?),
        requester: from_json("job requester", &get::<String>(r, 1)?)?,
        request: from_json("job request", &get::<String>(r, 2)?)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("job status {status:?}")))?,
        progress: get(r, 4)?,
        transaction_time: opt_time_at(r, 5)?,
        failure: failure.map(|f| from_json("job failure", &f)).transpose()?,
        outputs: vec![],
        created_at: Timestamp(get(r, 7)?),
        started_at: opt_time_at(r, 8)?,
        finished_at: opt_time_at(r, 9)?,
        expires_at: opt_time_at(r, 10)?,
    })
}

fn output_from(r: &Row<'_>) -> StoreResult<ExportOutput> {
    Ok(ExportOutput {
        n: get(r, 0)?,
        error: get(r, 1)?,
        resource_type: get(r, 2)?,
        blob: get(r, 3)?,
        count: get::<i64>(r, 4)? as u64,
        size: get::<i64>(r, 5)? as u64,
        records: from_json("output records", &get::<String>(r, 6)?)?,
    })
}

fn load(conn: &Connection, id: JobId) -> StoreResult<Option<ExportJob>> {
    let key = &id.as_bytes()[..];
    let Some(mut job) = query_opt(
        conn,
        &format!("SELECT {JOB_COLS} FROM bulk_jobs WHERE id = ?1"),
        [key],
        job_from,
    )?
    else {
        return Ok(None);
    };
    job.outputs = query_all(conn, OUTPUTS_SQL, [key], output_from)?;
    Ok(Some(job))
}

fn held(conn: &Connection, id: JobId, runner: &str) -> StoreResult<bool> {
    conn.prepare_cached(HELD_SQL)
        .and_then(|mut s| s.exists(params![&id.as_bytes()[..], runner]))
        .map_err(db_err)
}

fn first_id(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> StoreResult<Option<JobId>> {
    let id: Option<Vec<u8>> = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.query_row(args, |r| r.get(0)).optional())
        .map_err(db_err)?;
    id.map(|b| Ok(JobId::from_bytes(uuid_bytes(&b)?))).transpose()
}

/// Calls `drop_blob` for each blob no job lists (inside the caller's write transaction).
fn drop_unlisted(conn: &Connection, blobs: &[String], drop_blob: DropBlob<'_>) -> StoreResult<()> {
    let mut seen: Vec<&String> = Vec::new();
    for b in blobs {
        if seen.contains(&b) {
            continue;
        }
        seen.push(b);
        let listed = conn
            .prepare_cached(BLOB_LISTED_SQL)
            .and_then(|mut s| s.exists([b]))
            .map_err(db_err)?;
        if !listed {
            drop_blob(b)?;
        }
    }
    Ok(())
}

/// Deletes a job's file list, returning the blobs it named.
fn delete_outputs(conn: &Connection, id: JobId) -> StoreResult<Vec<String>> {
    let key = &id.as_bytes()[..];
    let blobs = query_all(conn, "SELECT blob FROM bulk_outputs WHERE job = ?1", [key], |r| {
        get(r, 0)
    })?;
    conn.prepare_cached("DELETE FROM bulk_outputs WHERE job = ?1")
        .and_then(|mut s| s.execute([key]))
        .map_err(db_err)?;
    Ok(blobs)
}

impl JobStore for SqliteStore {
    fn create_export_job(&self, job: &ExportJob, max_active: u32) -> StoreResult<bool> {
        let requester = to_json(&job.requester)?;
        let request = to_json(&job.request)?;
        let failure = job.failure.as_ref().map(to_json).transpose()?;
        write_tx(self, |tx| {
            let key = job.requester.key();
            let active: i64 = tx
                .prepare_cached(ACTIVE_OF_REQUESTER_SQL)
                .and_then(|mut s| s.query_row([&key], |r| r.get(0)))
                .map_err(db_err)?;
            if active >= i64::from(max_active) {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO bulk_jobs (id, requester, requester_json, request, status, progress,
                     transaction_time, failure, created_at, started_at, finished_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    &job.id.as_bytes()[..],
                    key,
                    requester,
                    request,
                    job.status.as_str(),
                    job.progress,
                    job.transaction_time.map(|t| t.0),
                    failure,
                    job.created_at.0,
                    job.started_at.map(|t| t.0),
                    job.finished_at.map(|t| t.0),
                    job.expires_at.map(|t| t.0),
                ])
            })
            .map_err(db_err)?;
            Ok(true)
        })
    }

    fn export_job(&self, id: JobId) -> StoreResult<Option<ExportJob>> {
        load(&*self.reader()?, id)
    }

    fn claim_export_job(
        &self,
        runner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<ClaimedJob>> {
        write_tx(self, |tx| {
            let id = match first_id(tx, LEASE_RAN_OUT_SQL, [now.0])? {
                Some(id) => id,
                None => match first_id(tx, NEXT_QUEUED_SQL, [])? {
                    Some(id) => id,
                    None => return Ok(None),
                },
            };
            let stale_blobs = delete_outputs(tx, id)?;
            tx.prepare_cached(
                "UPDATE bulk_jobs SET status = 'running', runner = ?2, lease_until = ?3, started_at = ?4,
                     transaction_time = ?4, progress = 'started'
                 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![&id.as_bytes()[..], runner, lease_until.0, now.0]))
            .map_err(db_err)?;
            let job = load(tx, id)?.ok_or_else(|| StoreError::Backend("claimed job vanished".into()))?;
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
        write_tx(self, |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE bulk_jobs SET progress = ?3, lease_until = ?4
                     WHERE id = ?1 AND status = 'running' AND runner = ?2",
                )
                .and_then(|mut s| s.execute(params![&id.as_bytes()[..], runner, progress, lease_until.0]))
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }

    fn add_export_output(&self, id: JobId, runner: &str, o: &ExportOutput) -> StoreResult<bool> {
        let records = to_json(&o.records)?;
        write_tx(self, |tx| {
            if !held(tx, id, runner)? {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO bulk_outputs (job, n, error, resource_type, blob, count, size, records)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    &id.as_bytes()[..],
                    o.n,
                    o.error,
                    o.resource_type,
                    o.blob,
                    o.count as i64,
                    o.size as i64,
                    records,
                ])
            })
            .map_err(db_err)?;
            Ok(true)
        })
    }

    fn finish_export_job(&self, id: JobId, runner: &str, end: &JobEnd) -> StoreResult<bool> {
        let failure = end.failure.as_ref().map(to_json).transpose()?;
        write_tx(self, |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE bulk_jobs SET status = ?3, failure = ?4, finished_at = ?5, expires_at = ?6,
                         runner = NULL, lease_until = NULL
                     WHERE id = ?1 AND status = 'running' AND runner = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        &id.as_bytes()[..],
                        runner,
                        end.status.as_str(),
                        failure,
                        end.finished_at.0,
                        end.expires_at.0,
                    ])
                })
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }

    fn cancel_export_job(&self, id: JobId, at: Timestamp) -> StoreResult<bool> {
        write_tx(self, |tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE bulk_jobs SET status = 'cancelled', finished_at = ?2, expires_at = ?2,
                         runner = NULL, lease_until = NULL
                     WHERE id = ?1 AND status <> 'cancelled'",
                )
                .and_then(|mut s| s.execute(params![&id.as_bytes()[..], at.0]))
                .map_err(db_err)?;
            Ok(n == 1)
        })
    }

    fn expired_export_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<JobId>> {
        query_all(&*self.reader()?, EXPIRED_SQL, params![now.0, limit], |r| {
            Ok(JobId::from_bytes(uuid_bytes(&get::<Vec<u8>>(r, 0)?)?))
        })
    }

    fn delete_export_job(&self, id: JobId, drop_blob: DropBlob<'_>) -> StoreResult<bool> {
        write_tx(self, |tx| {
            let blobs = delete_outputs(tx, id)?;
            let n = tx
                .prepare_cached("DELETE FROM bulk_jobs WHERE id = ?1")
                .and_then(|mut s| s.execute([&id.as_bytes()[..]]))
                .map_err(db_err)?;
            drop_unlisted(tx, &blobs, drop_blob)?;
            Ok(n == 1)
        })
    }

    fn release_export_blobs(&self, blobs: &[String], drop_blob: DropBlob<'_>) -> StoreResult<()> {
        write_tx(self, |tx| drop_unlisted(tx, blobs, drop_blob))
    }
}

/// The job statements that look rows up by something other than their primary key, by name.
const PLANNED: &[(&str, &str)] = &[
    ("active jobs of a requester", ACTIVE_OF_REQUESTER_SQL),
    ("a lease that ran out", LEASE_RAN_OUT_SQL),
    ("the next queued job", NEXT_QUEUED_SQL),
    ("expired jobs", EXPIRED_SQL),
    ("a blob listed by a job", BLOB_LISTED_SQL),
    ("the files of a job", OUTPUTS_SQL),
];

impl SqliteStore {
    /// SQLite's plan (`EXPLAIN QUERY PLAN`) for each job statement that looks rows up by
    /// something other than their primary key, by name; the tests use it to prove they search
    /// indexes.
    pub fn explain_job_queries(&self) -> StoreResult<Vec<(&'static str, Vec<String>)>> {
        crate::explain_plans(&*self.reader()?, PLANNED)
    }
}
