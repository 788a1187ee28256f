//! Validation issues, mirroring the R4 `OperationOutcome.issue` severities and
//! issue-type codes (<https://hl7.org/fhir/R4/valueset-issue-type.html>).

use std::fmt;

/// How serious an issue is (`OperationOutcome.issue.severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    /// The FHIR `issue-severity` code.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// What kind of problem was found (`OperationOutcome.issue.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueCode {
    /// Unknown element, wrong JSON kind, array/single mismatch, empty element.
    Structure,
    /// A required element (min >= 1) is missing.
    Required,
    /// A primitive value is not valid for its type.
    Value,
    /// A code is not in the value set of a required binding.
    CodeInvalid,
    /// Anything else (e.g. unknown resource type).
    Invalid,
}

impl IssueCode {
    /// The FHIR `issue-type` code.
    pub fn code(self) -> &'static str {
        match self {
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::CodeInvalid => "code-invalid",
            IssueCode::Invalid => "invalid",
        }
    }
}

/// One problem found in a resource; `path` is a FHIRPath-like location such as
/// `Observation.component[1].valueQuantity.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueCode,
    pub path: String,
    pub message: String,
}

impl Issue {
    /// The same issue with `prefix` prepended to its path, e.g.
    /// `Bundle.entry[3].resource.` for a resource inside a bundle.
    pub fn prefixed(&self, prefix: &str) -> Issue {
        let mut path = String::with_capacity(prefix.len() + self.path.len());
        path.push_str(prefix);
        path.push_str(&self.path);
        Issue { path, ..self.clone() }
    }

    /// Whether this issue is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] {}: {}",
            self.severity.code(),
            self.code.code(),
            self.path,
            self.message
        )
    }
}
