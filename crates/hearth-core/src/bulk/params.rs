//! The kick-off request's parameters (Bulk Data Access IG STU2, "Query Parameters"): whatever
//! the adapter took them from (the query string of a GET, or the `Parameters` body of a POST),
//! they arrive as name/value pairs and are checked here once.
//!
//! Supported: `_outputFormat` (`application/fhir+ndjson`, `application/ndjson`, `ndjson`),
//! `_since` (a FHIR instant), `_type` (comma-separated, may repeat). Refused with "not
//! supported": `_typeFilter`, `_elements`, `includeAssociatedData`, `patient`. Any other name is
//! refused as unknown, so an export never silently returns more than was asked.

use hearth_domain::Timestamp;

use crate::{ServiceError, ServiceResult, ValidationIssue};

/// Which `$export` an adapter received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KickOffLevel {
    /// `[base]/$export`.
    System,
    /// `[base]/Patient/$export`.
    AllPatients,
    /// `[base]/Patient/{id}/$export`, with the id as given.
    Patient(String),
}

/// A kick-off request as the adapter received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KickOff {
    pub level: KickOffLevel,
    /// Parameter names and values, in the order received.
    pub params: Vec<(String, String)>,
    /// The URL as the client called it (public base, path, query): the manifest's `request`.
    pub url: String,
}

/// The parameters once checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportParams {
    /// FHIR resource types, each once, in the order given; empty means every type.
    pub types: Vec<String>,
    pub since: Option<Timestamp>,
}

const FORMATS: &[&str] = &["application/fhir+ndjson", "application/ndjson", "ndjson"];
const NOT_SUPPORTED: &[&str] = &["_typeFilter", "_elements", "includeAssociatedData", "patient"];

fn issue(code: &'static str, path: &str, message: impl Into<String>) -> ValidationIssue {
    ValidationIssue::error(code, path, message)
}

/// Checks the parameters, reporting every problem at once.
pub fn parse(params: &[(String, String)]) -> ServiceResult<ExportParams> {
    let mut out = ExportParams::default();
    let mut problems = Vec::new();
    let mut seen_format = false;
    let mut seen_since = false;
    for (name, value) in params {
        let value = value.trim();
        match name.as_str() {
            "_outputFormat" => {
                if std::mem::replace(&mut seen_format, true) {
                    problems.push(issue("invalid", name, "_outputFormat may be given once"));
                } else if !FORMATS.contains(&value) {
                    problems.push(issue(
                        "not-supported",
                        name,
                        format!("_outputFormat {value:?} is not supported; use application/fhir+ndjson"),
                    ));
                }
            }
            "_since" => {
                if std::mem::replace(&mut seen_since, true) {
                    problems.push(issue("invalid", name, "_since may be given once"));
                } else if let Some(t) = parse_instant(value) {
                    out.since = Some(t);
                } else {
                    problems.push(issue(
                        "value",
                        name,
                        format!("_since {value:?} is not a FHIR instant (e.g. 2026-01-01T00:00:00Z)"),
                    ));
                }
            }
            "_type" => {
                for t in value.split(',').map(str::trim) {
                    if !hearth_fhir::is_resource_type(t) {
                        problems.push(issue(
                            "value",
                            name,
                            format!("_type {t:?} is not a FHIR R4 resource type"),
                        ));
                    } else if !out.types.iter().any(|x| x == t) {
                        out.types.push(t.to_string());
                    }
                }
            }
            n if NOT_SUPPORTED.contains(&n) => problems.push(issue(
                "not-supported",
                n,
                format!("the {n} parameter is not supported by this server"),
            )),
            n => problems.push(issue(
                "not-supported",
                n,
                format!("{n:?} is not a parameter of $export"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(ServiceError::Invalid(problems))
    }
}

/// A FHIR `instant`: date, time to the second at least, and a time zone.
fn parse_instant(s: &str) -> Option<Timestamp> {
    let has_seconds = s
        .get(17..19)
        .is_some_and(|ss| ss.bytes().all(|b| b.is_ascii_digit()));
    if !has_seconds {
        return None;
    }
    Timestamp::parse_rfc3339(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn problems(p: &[(&str, &str)]) -> Vec<(String, &'static str)> {
        match parse(&pairs(p)) {
            Err(ServiceError::Invalid(list)) => list.into_iter().map(|i| (i.path, i.code)).collect(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn supported_parameters_are_read() {
        let p = parse(&pairs(&[
            ("_outputFormat", "application/fhir+ndjson"),
            ("_type", "Observation, Patient"),
            ("_type", "Condition,Observation"),
            ("_since", "2026-01-02T03:04:05.678+01:00"),
        ]))
        .unwrap();
        assert_eq!(p.types, ["Observation", "Patient", "Condition"]);
        assert_eq!(p.since, Timestamp::parse_rfc3339("2026-01-02T02:04:05.678Z"));
        for f in FORMATS {
            assert!(parse(&pairs(&[("_outputFormat", f)])).is_ok(), "{f}");
        }
        assert_eq!(parse(&[]).unwrap(), ExportParams::default());
    }

    #[test]
    fn everything_else_is_refused_at_once() {
        assert_eq!(
            problems(&[
                ("_outputFormat", "text/csv"),
                ("_type", "Observation,Nonsense"),
                ("_since", "2026-01-02"),
                ("_typeFilter", "Observation?code=1"),
                ("_elements", "id"),
                ("includeAssociatedData", "LatestProvenanceResources"),
                ("patient", "Patient/1"),
                ("_count", "10"),
            ]),
            vec![
                ("_outputFormat".to_string(), "not-supported"),
                ("_type".to_string(), "value"),
                ("_since".to_string(), "value"),
                ("_typeFilter".to_string(), "not-supported"),
                ("_elements".to_string(), "not-supported"),
                ("includeAssociatedData".to_string(), "not-supported"),
                ("patient".to_string(), "not-supported"),
                ("_count".to_string(), "not-supported"),
            ]
        );
        assert_eq!(
            problems(&[("_since", "2026-01-02T03:04Z")]),
            vec![("_since".to_string(), "value")]
        );
        assert_eq!(
            problems(&[("_since", "2026-01-02T03:04:05")]),
            vec![("_since".to_string(), "value")],
            "an instant has a time zone"
        );
        assert_eq!(problems(&[("_type", "")]), vec![("_type".to_string(), "value")]);
        assert_eq!(
            problems(&[
                ("_since", "2026-01-02T03:04:05Z"),
                ("_since", "2026-01-02T03:04:05Z")
            ]),
            vec![("_since".to_string(), "invalid")]
        );
    }
}
