//! The FHIR R4 REST API's rules (https://hl7.org/fhir/R4/http.html), on top of the item
//! services: a record is a patient compartment, so a `patient/` token reaches one record and a
//! `user/` token every record its account reaches ([`records`]); reads, creates (a Patient
//! created with a `user/` token starts a new record), updates with version preconditions,
//! conditional interactions, JSON Patch and deletes ([`interactions`]); search
//! ([`search`]); history ([`history`]); batches and transactions ([`transaction`]);
//! `Patient/$everything` ([`everything`]); and the custodian's views of the audit trail as
//! `AuditEvent` and of item provenance as `Provenance` ([`views`]).
//!
//! Everything here goes through the same authorisation decision and audit as the rest of the
//! services; the HTTP adapter only parses requests and formats answers.

pub mod everything;
pub mod history;
pub mod interactions;
pub mod records;
pub mod search;
pub mod transaction;
pub mod views;

pub use interactions::{Written, parse_id};
pub use records::resource_type_of;
