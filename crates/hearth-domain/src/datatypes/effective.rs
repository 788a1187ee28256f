//! Effective and end dates of a resource, per resource type: HealthVault's `eff-date` (the
//! type's effective-date XPath, else creation time) and `updated-end-date` auto-population
//! (healthvault.md §2.1), expressed over FHIR R4 elements.
//!
//! [`effective_date`] tries the candidate elements of the resource type in order and returns the
//! start of the first parsable one; `None` means the caller falls back to the creation time.
//! [`end_date`] reads the element that ends the resource's relevance, as the last microsecond of
//! the period it denotes (FHIR Period.end is inclusive).
//!
//! Choices:
//! - Claim / ExplanationOfBenefit: the service date (`billablePeriod.start`) before `created`, so
//!   a claim sorts with the care it pays for.
//! - DocumentReference: `date` (when the reference was made — HealthVault File's "when") before
//!   `context.period.start`.
//! - Device: no effective date (`manufactureDate` says nothing about the person), so creation time.
//! - Patient, RelatedPerson, Organization, Practitioner: none (creation time).
//! - End dates: Condition abatement, MedicationStatement/Encounter/CarePlan/Coverage/Appointment/
//!   EpisodeOfCare/Flag/CareTeam/DeviceUseStatement/RelatedPerson period ends, and a
//!   MedicationRequest's `dispenseRequest.validityPeriod.end` (the prescription's expiry, nearest
//!   to HealthVault's medication `date-discontinued`). AllergyIntolerance has none: an allergy
//!   stays relevant after its last occurrence. Procedures, observations and immunizations have
//!   none: they are events, not states.

use serde_json::Value;

use super::codes::first_at;
use super::fhirdate::{parse_fhir_datetime, parse_fhir_datetime_end};
use crate::Timestamp;

/// Candidate elements, in order, for the effective date of each resource type.
fn effective_paths(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "Observation" => &[
            "effectiveDateTime",
            "effectivePeriod.start",
            "effectiveInstant",
            "effectiveTiming.event",
            "issued",
        ],
        "DiagnosticReport" => &["effectiveDateTime", "effectivePeriod.start", "issued"],
        "Condition" => &["onsetDateTime", "onsetPeriod.start", "recordedDate"],
        "AllergyIntolerance" => &[
            "onsetDateTime",
            "onsetPeriod.start",
            "recordedDate",
            "lastOccurrence",
        ],
        "MedicationRequest" => &["authoredOn", "dispenseRequest.validityPeriod.start"],
        "MedicationStatement" => &["effectiveDateTime", "effectivePeriod.start", "dateAsserted"],
        "MedicationAdministration" => &["effectiveDateTime", "effectivePeriod.start"],
        "MedicationDispense" => &["whenHandedOver", "whenPrepared"],
        "Immunization" => &["occurrenceDateTime", "recorded"],
        "Procedure" => &["performedDateTime", "performedPeriod.start"],
        "Encounter" | "EpisodeOfCare" | "Flag" | "CareTeam" | "Coverage" => &["period.start"],
        "CarePlan" => &["period.start", "created"],
        "Goal" => &["startDate", "statusDate"],
        "Claim" | "ExplanationOfBenefit" => &["billablePeriod.start", "created"],
        "ClaimResponse" | "Basic" => &["created"],
        "ImagingStudy" => &["started"],
        "Appointment" => &["start", "created"],
        "DocumentReference" => &["date", "context.period.start"],
        "Media" => &["createdDateTime", "createdPeriod.start", "issued"],
        "FamilyMemberHistory" | "Composition" | "List" | "ClinicalImpression" => &["date"],
        "DeviceUseStatement" => &["timingDateTime", "timingPeriod.start", "recordedOn"],
        "ServiceRequest" => &["occurrenceDateTime", "occurrencePeriod.start", "authoredOn"],
        "Task" => &["executionPeriod.start", "authoredOn"],
        "QuestionnaireResponse" => &["authored"],
        "Communication" => &["sent", "received"],
        "Specimen" => &[
            "collection.collectedDateTime",
            "collection.collectedPeriod.start",
            "receivedTime",
        ],
        "RiskAssessment" => &["occurrenceDateTime", "occurrencePeriod.start"],
        "NutritionOrder" => &["dateTime"],
        "Consent" => &["dateTime"],
        "DetectedIssue" => &["identifiedDateTime", "identifiedPeriod.start"],
        "Provenance" | "AuditEvent" => &["recorded"],
        "Bundle" => &["timestamp"],
        "AdverseEvent" => &["date", "detected"],
        _ => &[],
    }
}

/// The element that ends each resource type's relevance.
fn end_paths(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "Condition" => &["abatementDateTime", "abatementPeriod.end"],
        "MedicationRequest" => &["dispenseRequest.validityPeriod.end"],
        "MedicationStatement" => &["effectivePeriod.end"],
        "Encounter" | "CarePlan" | "Coverage" | "EpisodeOfCare" | "Flag" | "CareTeam" | "RelatedPerson" => {
            &["period.end"]
        }
        "Appointment" => &["end"],
        "DeviceUseStatement" => &["timingPeriod.end"],
        _ => &[],
    }
}

fn resource_type(resource: &Value) -> &str {
    resource.get("resourceType").and_then(Value::as_str).unwrap_or("")
}

fn first_date(resource: &Value, paths: &[&str], parse: fn(&str) -> Option<Timestamp>) -> Option<Timestamp> {
    paths
        .iter()
        .find_map(|p| first_at(resource, p).and_then(Value::as_str).and_then(parse))
}

/// The effective date of a resource per its type (see the module notes); `None` if absent.
pub fn effective_date(resource: &Value) -> Option<Timestamp> {
    first_date(
        resource,
        effective_paths(resource_type(resource)),
        parse_fhir_datetime,
    )
}

/// The end of relevance derived from the resource (see the module notes); `None` if absent.
pub fn end_date(resource: &Value) -> Option<Timestamp> {
    first_date(
        resource,
        end_paths(resource_type(resource)),
        parse_fhir_datetime_end,
    )
}
