//! Bulk export as the adapters call it (Bulk Data Access IG STU2: kick-off, status request,
//! delete request, file request). Only app tokens export. A job, its status and its files exist
//! only for the requester that started it — the same app, for the same person, confined to the
//! same record — and answer "not found" to anyone else.

use std::io::Read;
use std::sync::Arc;

use hearth_domain::auth::{AppKind, Scopes, TokenIssuer};
use hearth_domain::bulk::{ExportJob, ExportLevel, ExportOutput, ExportRequest, JobStatus, Requester};
use hearth_domain::datatypes::registry;
use hearth_domain::{AuditAction, ItemId, JobId};

use super::params::{self, KickOff, KickOffLevel};
use crate::context::{AppAccess, Principal};
use crate::{Context, ServiceError, ServiceResult, Services};

/// The app standing of a context; exports are for app tokens only.
fn app_of(ctx: &Context) -> ServiceResult<&Arc<AppAccess>> {
    match &ctx.principal {
        Principal::App(a) => Ok(a),
        _ => Err(ServiceError::Forbidden("bulk export is for app tokens".into())),
    }
}

/// What a job remembers of the token that started it.
pub(crate) fn requester_of(a: &AppAccess) -> Requester {
    Requester {
        app: a.app.clone(),
        account: a.account,
        online: a.online,
        record: a.record,
        scope: a.scopes.to_string(),
        issuer: a.issuer,
    }
}

/// The context a job's reads run under: the token's standing, as remembered.
pub(crate) fn context_of(r: &Requester) -> ServiceResult<Context> {
    let scopes = Scopes::parse(&r.scope)
        .map_err(|e| ServiceError::Internal(format!("a job's stored scope does not parse: {e}")))?;
    Ok(Context::app(AppAccess {
        app: r.app.clone(),
        account: r.account,
        online: r.online,
        record: r.record,
        scopes,
        issuer: r.issuer,
    }))
}

fn job_not_found() -> ServiceError {
    ServiceError::NotFound("export job not found".into())
}

impl Services {
    /// The kick-off request: checks the parameters and the token, resolves the records and
    /// queues the job. Refused as busy when the requester already has its limit of jobs.
    pub fn start_export(&self, ctx: &Context, kick: KickOff) -> ServiceResult<ExportJob> {
        let p = params::parse(&kick.params)?;
        let app = app_of(ctx)?;
        let (level, records) = match &kick.level {
            KickOffLevel::System => {
                let backend = app.account.is_none()
                    && app.record.is_none()
                    && app.issuer == TokenIssuer::Consent
                    && self
                        .store
                        .app(&app.app)?
                        .is_some_and(|a| a.kind == AppKind::BackendService);
                if !backend {
                    return Err(ServiceError::Forbidden(
                        "a system-level export needs a backend service's token (client_credentials); \
                         use Patient/$export"
                            .into(),
                    ));
                }
                (ExportLevel::System, self.records_for(ctx)?)
            }
            KickOffLevel::AllPatients => (ExportLevel::AllPatients, self.records_for(ctx)?),
            KickOffLevel::Patient(id) => {
                let not_found = || ServiceError::NotFound(format!("Patient/{id} not found"));
                let item: ItemId = id.parse().map_err(|_| not_found())?;
                let mut found = None;
                for r in self.records_for(ctx)? {
                    if self.store.record(r)?.is_some_and(|rec| rec.patient_item == item) {
                        found = Some(r);
                        break;
                    }
                }
                (ExportLevel::Patient(item), vec![found.ok_or_else(not_found)?])
            }
        };
        let request = ExportRequest {
            level,
            records,
            types: p.types,
            since: p.since,
            url: kick.url,
        };
        let job = ExportJob::queued(requester_of(app), request, self.now());
        let settings = &self.bulk.settings;
        if !self.store.create_export_job(&job, settings.max_active_jobs)? {
            return Err(ServiceError::Busy {
                message: format!(
                    "this app already has {} export jobs queued or running; wait for one to finish \
                     or delete one",
                    settings.max_active_jobs
                ),
                retry_after_secs: settings.busy_retry_secs,
            });
        }
        self.bulk.wake();
        Ok(job)
    }

    /// The status request: the job, if it is the requester's and neither cancelled nor expired.
    pub fn export_status(&self, ctx: &Context, id: &str) -> ServiceResult<ExportJob> {
        let key = requester_of(app_of(ctx)?).key();
        let id: JobId = id.parse().map_err(|_| job_not_found())?;
        self.store
            .export_job(id)?
            .filter(|j| j.requester.key() == key && !j.is_gone(self.now()))
            .ok_or_else(job_not_found)
    }

    /// The delete request: cancels the job (a running one stops before its next page); its
    /// files are deleted by the sweep. Afterwards the job is "not found".
    pub fn cancel_export(&self, ctx: &Context, id: &str) -> ServiceResult<()> {
        let job = self.export_status(ctx, id)?;
        if !self.store.cancel_export_job(job.id, self.now())? {
            return Err(job_not_found());
        }
        self.bulk.wake();
        Ok(())
    }

    /// The file request: file `n` of a completed job, streamed from the blob store. The token
    /// must still reach every record the file holds items of; the download is audited on each
    /// of those records before a byte is sent.
    pub fn open_export_file(
        &self,
        ctx: &Context,
        id: &str,
        n: u32,
    ) -> ServiceResult<(ExportOutput, Box<dyn Read + Send>)> {
        let job = self.export_status(ctx, id)?;
        let no_file = || ServiceError::NotFound(format!("export file {n} not found"));
        if job.status != JobStatus::Completed {
            return Err(no_file());
        }
        let output = job.outputs.into_iter().find(|o| o.n == n).ok_or_else(no_file)?;
        let reach = self.records_for(ctx)?;
        if let Some(r) = output.records.iter().find(|r| !reach.contains(r)) {
            let err = ServiceError::Forbidden(format!(
                "this token no longer reaches record {r}, whose data this file holds"
            ));
            self.audit_failure(ctx, Some(*r), AuditAction::BulkDownload, vec![], &err);
            return Err(err);
        }
        let reader = self
            .export_blobs()
            .open(&output.blob)?
            .ok_or_else(|| ServiceError::Internal(format!("export file blob {} is missing", output.blob)))?;
        let data_types: Vec<String> = registry()
            .for_resource_type(&output.resource_type)
            .iter()
            .map(|d| d.key.to_string())
            .collect();
        for r in &output.records {
            let mut entry = self.audit_entry(ctx, Some(*r), AuditAction::BulkDownload);
            entry.data_types = data_types.clone();
            self.store.append_audit(&entry)?;
        }
        Ok((output, reader))
    }
}
