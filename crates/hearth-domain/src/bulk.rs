//! Bulk export jobs (FHIR Bulk Data Access IG STU2, `$export`,
//! https://hl7.org/fhir/uv/bulkdata/STU2/export.html): who asked ([`Requester`], enough to act
//! later with the same rights), what was asked ([`ExportRequest`]), where the job stands
//! ([`JobStatus`], progress, failure) and the files it wrote ([`ExportOutput`]). Pure data; the
//! services run jobs, the stores keep them.

use serde::{Deserialize, Serialize};

use crate::auth::TokenIssuer;
use crate::{AccountId, AppId, ItemId, JobId, RecordId, Timestamp};

/// The token's standing a job acts with: the app, the person (if any), the one record a
/// `patient/` token is confined to, the scopes as granted, and who issued the token. The job
/// reads with exactly these rights, re-checked (grants included) on every page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    pub app: AppId,
    pub account: Option<AccountId>,
    /// Whether the token acted with the person present (online rules) or not.
    pub online: bool,
    pub record: Option<RecordId>,
    /// The token's scope string, as stored with the token.
    pub scope: String,
    pub issuer: TokenIssuer,
}

impl Requester {
    /// Who may see a job: the same app, for the same person, confined to the same record.
    /// Jobs per requester are limited; status and files answer only the same requester.
    pub fn key(&self) -> String {
        let account = self.account.map(|a| a.to_string()).unwrap_or_default();
        let record = self.record.map(|r| r.to_string()).unwrap_or_default();
        // The app id goes last: the other two have a fixed form, so no app id can pose as another
        // requester whatever characters it holds.
        format!("{account}|{record}|{}", self.app)
    }
}

/// Which `$export` was called.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "level", content = "patient")]
pub enum ExportLevel {
    /// `[base]/$export`: every record a backend service's grants reach.
    System,
    /// `[base]/Patient/$export`: every record the token reaches.
    AllPatients,
    /// `[base]/Patient/{id}/$export`: the record whose Patient item has this id.
    Patient(ItemId),
}

/// What was asked, with the records resolved at kick-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub level: ExportLevel,
    /// The records to read, in order.
    pub records: Vec<RecordId>,
    /// FHIR resource types (`_type`); empty means every type the requester may read.
    pub types: Vec<String>,
    /// `_since`: only resources whose current version was written at or after this instant.
    pub since: Option<Timestamp>,
    /// The kick-off URL as the client called it (the manifest's `request`).
    pub url: String,
}

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Queued or running: counts towards the requester's limit.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

/// Why a job failed, as the status request reports it (an OperationOutcome issue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFailure {
    /// OperationOutcome issue type: `forbidden`, `not-found`, `transient`, `exception`…
    pub code: String,
    /// Safe to show the client (never internal error text).
    pub message: String,
}

/// One file a job wrote: NDJSON of one resource type, or of OperationOutcomes (`error`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOutput {
    /// The file's number within the job (its URL is `.../bulk/{job}/file/{n}`), from 1.
    pub n: u32,
    /// An error file (OperationOutcome per line) rather than output.
    pub error: bool,
    pub resource_type: String,
    /// The blob holding the file (lower-case hex sha256).
    pub blob: String,
    /// Lines (resources) in the file.
    pub count: u64,
    pub size: u64,
    /// The records whose items the file holds (downloads re-check them and are audited on each).
    pub records: Vec<RecordId>,
}

/// A bulk export job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: JobId,
    pub requester: Requester,
    pub request: ExportRequest,
    pub status: JobStatus,
    /// For `X-Progress`, e.g. "record 2 of 5, 1200 resources".
    pub progress: String,
    /// When the run that produced the files started (the manifest's `transactionTime`).
    pub transaction_time: Option<Timestamp>,
    pub failure: Option<JobFailure>,
    /// Ordered by `n`.
    pub outputs: Vec<ExportOutput>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// When the job and its files go: set when it completes, fails or is cancelled.
    pub expires_at: Option<Timestamp>,
}

impl ExportJob {
    /// A new queued job.
    pub fn queued(requester: Requester, request: ExportRequest, now: Timestamp) -> Self {
        ExportJob {
            id: JobId::new(),
            requester,
            request,
            status: JobStatus::Queued,
            progress: "queued".into(),
            transaction_time: None,
            failure: None,
            outputs: vec![],
            created_at: now,
            started_at: None,
            finished_at: None,
            expires_at: None,
        }
    }

    /// Whether the job is gone for its requester at `now` (cancelled, or past its expiry).
    pub fn is_gone(&self, now: Timestamp) -> bool {
        self.status == JobStatus::Cancelled || self.expires_at.is_some_and(|e| e <= now)
    }
}

/// How a run ends, as the worker hands it to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEnd {
    /// [`JobStatus::Completed`] or [`JobStatus::Failed`].
    pub status: JobStatus,
    pub failure: Option<JobFailure>,
    pub finished_at: Timestamp,
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requester_keys_tell_apps_people_and_records_apart() {
        let base = Requester {
            app: AppId("a".into()),
            account: None,
            online: false,
            record: None,
            scope: "system/*.rs".into(),
            issuer: TokenIssuer::Consent,
        };
        let person = Requester {
            account: Some(AccountId::new()),
            ..base.clone()
        };
        let confined = Requester {
            record: Some(RecordId::new()),
            ..person.clone()
        };
        let other_app = Requester {
            app: AppId("b".into()),
            ..base.clone()
        };
        let keys = [base.key(), person.key(), confined.key(), other_app.key()];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // The scope and mode do not change who the requester is.
        let rescoped = Requester {
            scope: "system/Observation.rs".into(),
            online: true,
            ..base.clone()
        };
        assert_eq!(rescoped.key(), base.key());
    }

    #[test]
    fn statuses_round_trip_by_name() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::parse("done"), None);
        let level = ExportLevel::Patient(ItemId::new());
        let text = serde_json::to_string(&level).unwrap();
        assert_eq!(serde_json::from_str::<ExportLevel>(&text).unwrap(), level);
        assert_eq!(
            serde_json::to_string(&ExportLevel::System).unwrap(),
            r#"{"level":"system"}"#
        );
    }
}
