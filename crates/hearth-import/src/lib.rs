//! # hearth-import
//!
//! Getting data in and out of Hearth.
//!
//! - [`source`]: reads input files into units — a FHIR transaction, batch or collection bundle
//!   (https://hl7.org/fhir/R4/bundle.html) is one unit; NDJSON (https://hl7.org/fhir/R4/nd-json.html)
//!   is cut into units of a few thousand lines. One unit is one transaction.
//! - [`importer`]: places each unit's resources into records, resolves `urn:uuid` and relative
//!   references to item ids, and writes them through the services (validated, audited,
//!   idempotent: every resource's fullUrl or `Type/id` becomes its client id, so a second run of
//!   the same input adds nothing).
//! - [`export`]: writes a record losslessly to a directory.
//! - [`corpus`]: clones Synthea patients with fresh ids, for benchmarks.

pub mod corpus;
pub mod export;
pub mod importer;
pub mod source;

pub use importer::{ImportError, ImportSummary, Importer, Target};
pub use source::{Entry, Unit};
