//! The services' error type. Each variant has a category; adapters map categories to their own
//! protocol (HTTP status and OperationOutcome) in one place. Messages are safe to show: internal
//! details (SQL, file paths, driver text) stay in [`ServiceError::Internal`], which adapters log
//! and never send.

use hearth_store::StoreError;

pub type ServiceResult<T> = Result<T, ServiceError>;

/// One problem found in a submitted resource or request, with the FHIRPath-like location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationIssue {
    /// OperationOutcome issue type: "structure", "required", "value", "code-invalid", "invalid",
    /// "not-found", "business-rule", …
    pub code: &'static str,
    pub path: String,
    pub message: String,
    pub warning: bool,
}

impl ValidationIssue {
    pub fn error(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationIssue {
            code,
            path: path.into(),
            message: message.into(),
            warning: false,
        }
    }

    /// Whether the issue breaks a business rule (a data type's rules, a reference that does not
    /// resolve) rather than the FHIR format itself.
    pub fn is_rule(&self) -> bool {
        matches!(self.code, "business-rule" | "not-found")
    }

    /// The same issue located under a prefix, e.g. `Bundle.entry[3].resource`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join_path(prefix, &self.path);
        self
    }
}

impl std::fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// `prefix.path`, or whichever of the two is not empty.
///
/// Under a Bundle entry's `resource`, a path that starts with the resource's type (as the
/// validator writes it: `Observation.status`) continues from the resource itself
/// (`Bundle.entry[1].resource.status`), so the whole is a valid FHIRPath.
pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    let path = match path.split_once('.') {
        Some((head, rest))
            if prefix.ends_with(".resource") && head.starts_with(|c: char| c.is_ascii_uppercase()) =>
        {
            rest
        }
        None if prefix.ends_with(".resource") && path.starts_with(|c: char| c.is_ascii_uppercase()) => "",
        _ => path,
    };
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// The kinds of failure, as adapters need to tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCategory {
    /// The request is malformed or the data invalid (400 / 422).
    Invalid,
    /// The caller did not prove who it is: a bad password, token or code (401).
    Unauthenticated,
    /// The caller may not do this (403).
    Forbidden,
    /// Too many attempts; try again later (429).
    Throttled,
    NotFound,
    /// A uniqueness rule or the state of the data refuses the request (409).
    Conflict,
    /// A version precondition (`If-Match`, a conditional write's match count) failed (412).
    PreconditionFailed,
    /// The data is well-formed but breaks a profile or business rule (422).
    Unprocessable,
    /// The interaction is not supported on this resource (405).
    NotAllowed,
    /// The item is gone for good (410).
    Gone,
    /// The request's content is larger than the server accepts (413).
    TooLarge,
    /// The backend is not answering (503).
    Unavailable,
    /// A bug or an unexpected failure (500).
    Internal,
}

impl ErrorCategory {
    /// The OperationOutcome issue type (https://hl7.org/fhir/R4/valueset-issue-type.html) of an
    /// error of this category.
    pub fn issue_code(self) -> &'static str {
        match self {
            ErrorCategory::Invalid => "invalid",
            ErrorCategory::Unprocessable => "business-rule",
            ErrorCategory::Unauthenticated => "login",
            ErrorCategory::Forbidden => "forbidden",
            ErrorCategory::NotFound => "not-found",
            ErrorCategory::Conflict | ErrorCategory::PreconditionFailed => "conflict",
            ErrorCategory::NotAllowed => "not-supported",
            ErrorCategory::Gone => "deleted",
            ErrorCategory::TooLarge => "too-costly",
            ErrorCategory::Throttled => "throttled",
            ErrorCategory::Unavailable => "transient",
            ErrorCategory::Internal => "exception",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid: {}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationIssue>),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: i64 },
    /// Refused for now because of the caller's own load (e.g. too many export jobs at once).
    #[error("{message}")]
    Busy { message: String, retry_after_secs: i64 },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    VersionConflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("the database is unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![ValidationIssue::error(code, path, message)])
    }

    pub fn category(&self) -> ErrorCategory {
        match self {
            ServiceError::Invalid(issues) if issues.iter().all(ValidationIssue::is_rule) => {
                ErrorCategory::Unprocessable
            }
            ServiceError::Invalid(_) => ErrorCategory::Invalid,
            ServiceError::Unauthenticated(_) => ErrorCategory::Unauthenticated,
            ServiceError::Throttled { .. } | ServiceError::Busy { .. } => ErrorCategory::Throttled,
            ServiceError::Forbidden(_) => ErrorCategory::Forbidden,
            ServiceError::NotFound(_) => ErrorCategory::NotFound,
            ServiceError::Conflict(_) => ErrorCategory::Conflict,
            ServiceError::VersionConflict(_) | ServiceError::PreconditionFailed(_) => {
                ErrorCategory::PreconditionFailed
            }
            ServiceError::NotAllowed(_) => ErrorCategory::NotAllowed,
            ServiceError::Gone(_) => ErrorCategory::Gone,
            ServiceError::TooLarge(_) => ErrorCategory::TooLarge,
            ServiceError::Unavailable(_) => ErrorCategory::Unavailable,
            ServiceError::Internal(_) => ErrorCategory::Internal,
        }
    }

    /// How long to wait before trying again, for throttled and busy refusals.
    pub fn retry_after_secs(&self) -> Option<i64> {
        match self {
            ServiceError::Throttled { retry_after_secs } | ServiceError::Busy { retry_after_secs, .. } => {
                Some(*retry_after_secs)
            }
            _ => None,
        }
    }

    /// Text safe to show a client and to keep in the audit trail.
    pub fn public_message(&self) -> String {
        match self {
            ServiceError::Internal(_) => "internal error".into(),
            ServiceError::Unavailable(_) => "the database is unavailable".into(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::RecordNotFound(id) => ServiceError::NotFound(format!("record {id} not found")),
            StoreError::ItemNotFound(id) => ServiceError::NotFound(format!("item {id} not found")),
            StoreError::AccountNotFound => ServiceError::NotFound("account not found".into()),
            StoreError::DuplicateEmail => {
                ServiceError::Conflict("an account with this email already exists".into())
            }
            StoreError::VersionConflict { id, expected, actual } => ServiceError::VersionConflict(format!(
                "item {id} is at version {actual}; the write expected version {expected}"
            )),
            StoreError::DuplicateItem(id) => ServiceError::Conflict(format!("item {id} already exists")),
            StoreError::DuplicateClientId(c) => {
                ServiceError::Conflict(format!("client id {c:?} is already used by another item"))
            }
            StoreError::MissingReference(id) => ServiceError::Invalid(vec![ValidationIssue::error(
                "not-found",
                "",
                format!("referenced item {id} does not exist in this record"),
            )]),
            StoreError::DuplicateApp => {
                ServiceError::Conflict("an app with this client id already exists".into())
            }
            StoreError::AppNotFound => ServiceError::NotFound("app not found".into()),
            StoreError::LastCustodian => {
                ServiceError::Conflict("a record must keep at least one custodian".into())
            }
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            e @ (StoreError::Corrupt(_) | StoreError::Backend(_) | StoreError::Io(_)) => {
                ServiceError::Internal(e.to_string())
            }
        }
    }
}
