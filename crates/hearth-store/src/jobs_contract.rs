//! The storage contract for bulk export jobs (FHIR Bulk Data Access `$export`): the queue, the
//! claim a worker holds on a running job (a runner id and a lease), the files each job lists, and
//! their removal. Every backend implements [`JobStore`] next to [`crate::Store`]; the conformance
//! suite checks both.
//!
//! Promises:
//! - [`JobStore::create_export_job`] counts the requester's queued and running jobs and inserts
//!   in one step: concurrent kick-offs never exceed the limit.
//! - [`JobStore::claim_export_job`] hands each job to one runner, never starts a second job of a
//!   requester that has one running, and takes back running jobs whose lease ran out (a crashed
//!   worker's), dropping the files that run had listed.
//! - Renewing, listing a file and finishing succeed only for the runner holding the job while it
//!   runs; a cancelled, re-claimed or deleted job answers `false`, which tells the worker to stop.
//! - Blobs are content-addressed, so two jobs may list the same one. [`JobStore::delete_export_job`]
//!   and [`JobStore::release_export_blobs`] call `drop_blob` only for blobs no job lists any more,
//!   inside the transaction that [`JobStore::add_export_output`] also waits for. A worker that
//!   lists a blob and then finds it missing (dropped just before it was listed) stores it again.

use hearth_domain::bulk::{ExportJob, ExportOutput, JobEnd};
use hearth_domain::{JobId, Timestamp};

use crate::StoreResult;

/// A job a runner now holds, and the blobs a previous run of it had listed (now unlisted: the
/// worker releases them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    pub job: ExportJob,
    pub stale_blobs: Vec<String>,
}

/// Called with each blob no job lists any more; deleting it is the caller's business.
pub type DropBlob<'a> = &'a mut dyn FnMut(&str) -> StoreResult<()>;

pub trait JobStore: Send + Sync {
    /// Inserts a queued job, unless its requester already has `max_active` queued or running
    /// jobs: then nothing is written and the answer is `false`.
    fn create_export_job(&self, job: &ExportJob, max_active: u32) -> StoreResult<bool>;
    /// A job with its files (ordered by number), whatever its status.
    fn export_job(&self, id: JobId) -> StoreResult<Option<ExportJob>>;
    /// Takes the running job with the oldest lease that ran out before `now`, else the oldest
    /// queued job whose requester has no running job, and marks it running for `runner` until
    /// `lease_until` (started and transaction time `now`, no files).
    fn claim_export_job(
        &self,
        runner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<ClaimedJob>>;
    /// Extends the runner's lease and notes its progress; `false` if the job is no longer
    /// running for this runner.
    fn renew_export_job(
        &self,
        id: JobId,
        runner: &str,
        progress: &str,
        lease_until: Timestamp,
    ) -> StoreResult<bool>;
    /// Lists a file of the running job; `false` (nothing written) if the job is no longer
    /// running for this runner.
    fn add_export_output(&self, id: JobId, runner: &str, output: &ExportOutput) -> StoreResult<bool>;
    /// Ends the runner's run: completed or failed, with its expiry; `false` if the job is no
    /// longer running for this runner.
    fn finish_export_job(&self, id: JobId, runner: &str, end: &JobEnd) -> StoreResult<bool>;
    /// Cancels a job that is not cancelled yet; it expires at `at`. `false` if there is no such
    /// job or it was already cancelled.
    fn cancel_export_job(&self, id: JobId, at: Timestamp) -> StoreResult<bool>;
    /// Jobs whose expiry is at or before `now` (finished, failed or cancelled), oldest first.
    fn expired_export_jobs(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<JobId>>;
    /// Deletes a job and its file list; `drop_blob` gets each of its blobs no other job lists.
    /// `false` if there was no such job.
    fn delete_export_job(&self, id: JobId, drop_blob: DropBlob<'_>) -> StoreResult<bool>;
    /// Calls `drop_blob` for each of these blobs that no job lists.
    fn release_export_blobs(&self, blobs: &[String], drop_blob: DropBlob<'_>) -> StoreResult<()>;
}
