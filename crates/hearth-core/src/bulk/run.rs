//! Running one export job (Bulk Data Access IG STU2: the server prepares the files between the
//! kick-off and the complete status). Each record is read page by page (keyset cursors) through
//! the same checks as [`Services::query`], under the job's remembered standing, so every page is
//! authorised anew (a revoked grant stops the job with an error) and audited as `bulk-export`.
//! Personal items are never read for apps. Before each page the worker renews its lease, which
//! is also how it learns the job was cancelled.

use hearth_domain::bulk::{ExportJob, JobEnd, JobFailure, JobStatus};
use hearth_domain::datatypes::registry;
use hearth_domain::{AuditAction, Item, ItemQuery, Order};
use serde_json::json;

use super::files::{Files, Held};
use super::jobs::context_of;
use crate::render::render_resource;
use crate::{ServiceError, ServiceResult, Services};

impl Services {
    /// Claims the next job (a queued one, or one whose worker's lease ran out) and runs it to
    /// its end. `false` when nothing was waiting. A job that fails is marked failed with the
    /// reason; the error returned here is only about the queue itself.
    pub fn run_next_export(&self) -> ServiceResult<bool> {
        let s = &self.bulk.settings;
        let now = self.now();
        let runner = self.bulk.runner.as_str();
        let Some(claimed) = self
            .store
            .claim_export_job(runner, now, now.plus_seconds(s.lease_secs))?
        else {
            return Ok(false);
        };
        self.release_export_blobs(&claimed.stale_blobs);
        let job = claimed.job;
        tracing::info!(job = %job.id, records = job.request.records.len(), "bulk export started");
        let end = match self.run_job(&job) {
            Ok(Held::Lost) => {
                tracing::info!(job = %job.id, "bulk export stopped: cancelled, taken over or shutting down");
                return Ok(true);
            }
            Ok(Held::Yes) => (JobStatus::Completed, None),
            Err(e) => {
                if matches!(e, ServiceError::Internal(_)) {
                    tracing::error!(job = %job.id, error = %e, "bulk export failed");
                } else {
                    tracing::info!(job = %job.id, error = %e, "bulk export failed");
                }
                (JobStatus::Failed, Some(failure_of(&e)))
            }
        };
        let finished_at = self.now();
        let end = JobEnd {
            status: end.0,
            failure: end.1,
            finished_at,
            expires_at: finished_at.plus_seconds(s.expiry_secs),
        };
        if self.store.finish_export_job(job.id, runner, &end)? {
            tracing::info!(job = %job.id, status = end.status.as_str(), "bulk export finished");
        }
        Ok(true)
    }

    fn run_job(&self, job: &ExportJob) -> ServiceResult<Held> {
        let s = &self.bulk.settings;
        let runner = self.bulk.runner.as_str();
        let ctx = context_of(&job.requester)?;
        let mut files = Files::new(self, job.id, runner);
        let data_types: Vec<String> = job
            .request
            .types
            .iter()
            .flat_map(|t| registry().for_resource_type(t))
            .map(|d| d.key.to_string())
            .collect();
        if !job.request.types.is_empty() && data_types.is_empty() {
            // No data type holds the types asked for: nothing to read (an empty list would
            // mean every type).
            return files.finish();
        }
        let total = job.request.records.len();
        let mut resources: u64 = 0;
        for (i, record) in job.request.records.iter().enumerate() {
            let mut q = ItemQuery {
                data_types: data_types.clone(),
                updated_since: job.request.since,
                order: if job.request.since.is_some() {
                    Order::UpdatedAsc
                } else {
                    Order::EffectiveAsc
                },
                limit: s.page_size,
                ..ItemQuery::default()
            };
            loop {
                let now = self.now();
                if self.bulk.stopping() {
                    // Let the next start take the job over at once.
                    self.store.renew_export_job(job.id, runner, "interrupted", now)?;
                    return Ok(Held::Lost);
                }
                let progress = format!("record {} of {total}, {resources} resources", i + 1);
                if !self
                    .store
                    .renew_export_job(job.id, runner, &progress, now.plus_seconds(s.lease_secs))?
                {
                    return Ok(Held::Lost);
                }
                let page = self.query_as(&ctx, *record, &q, AuditAction::BulkExport)?;
                for item in &page.items {
                    if self.write_item(&mut files, item)? == Held::Lost {
                        return Ok(Held::Lost);
                    }
                    resources += 1;
                }
                match page.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
        }
        files.finish()
    }

    /// One item as a line of its type's file; an item that cannot be rendered becomes a line of
    /// the error file instead.
    fn write_item(&self, files: &mut Files<'_>, item: &Item) -> ServiceResult<Held> {
        let m = &item.meta;
        let rendered = item
            .body
            .as_deref()
            .ok_or_else(|| format!("item {} has no content", m.id))
            .and_then(|body| render_resource(m, body));
        match rendered {
            Ok(resource) => {
                let line = serde_json::to_vec(&resource)
                    .map_err(|e| ServiceError::Internal(format!("serialising a resource: {e}")))?;
                files.write(false, &m.resource_type, m.record_id, &line)
            }
            Err(why) => {
                tracing::error!(item = %m.id, error = %why, "an item could not be exported");
                let outcome = json!({
                    "resourceType": "OperationOutcome",
                    "issue": [{
                        "severity": "error",
                        "code": "exception",
                        "diagnostics": format!(
                            "{}/{} (version {}) could not be exported: its stored content is unreadable",
                            m.resource_type, m.id, m.version
                        ),
                    }],
                });
                files.write(
                    true,
                    "OperationOutcome",
                    m.record_id,
                    outcome.to_string().as_bytes(),
                )
            }
        }
    }

    /// Drops these blobs from the blob store unless a job lists them. Failures are logged: a
    /// blob left behind costs space, never data.
    pub(crate) fn release_export_blobs(&self, blobs: &[String]) {
        if blobs.is_empty() {
            return;
        }
        if let Err(e) = self
            .store
            .release_export_blobs(blobs, &mut |b| self.export_blobs().delete(b))
        {
            tracing::warn!(error = %e, "could not release export files");
        }
    }
}

/// How a failed job reports its failure.
fn failure_of(e: &ServiceError) -> JobFailure {
    let code = e.category().issue_code();
    JobFailure {
        code: code.into(),
        message: format!("the export stopped: {}", e.public_message()),
    }
}
