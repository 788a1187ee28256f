//! # hearth-core
//!
//! The services: where Hearth's rules live. Adapters (HTTP, CLI, importers) call these; these call
//! the [`hearth_store::Store`] contract. Every data access passes the one authorisation check in
//! [`authz`], every read and write is audited (successes in the same transaction as the data,
//! failures on their own), and every resource written is validated as FHIR R4 and against its
//! data type's rules before anything is stored.
//!
//! ## Layout
//! - [`audit_log`]: the group commit that stores the audit entries of reads.
//! - [`fhir`]: the FHIR R4 REST API's rules: which records a token reaches, conditional
//!   interactions, search, history, batches and transactions, `$everything`.
//! - [`error`]: [`ServiceError`], the one error type of this layer, with its category.
//! - [`context`]: [`Context`], who is acting.
//! - [`entry`]: the forms for entering each named data type by hand, and their conversion to
//!   and from FHIR resources.
//! - [`auth`]: sign-in, sessions, apps, consent, OAuth tokens.
//! - [`authz`]: the authorisation decision.
//! - [`bulk`]: FHIR Bulk Data export: kick-off, status, files, and the worker that runs jobs.
//! - [`prepare`]: from a FHIR resource to the content of an item (validate, classify, references).
//! - [`items`]: atomic batches of creates, updates, deletes and restores.
//! - [`reads`]: reads, history, queries, the change feed, the audit trail, purge, export.
//! - [`files`]: `Binary` resources and the attachments of DocumentReference and Media, their
//!   bytes streamed to and from the blob store.
//! - [`people`]: accounts, records and access.
//! - [`sharing`]: invitations, people's access, the history of changes, emergency access, and
//!   the emails they send.
//! - [`render`]: a stored item as the FHIR resource clients receive.
//! - [`services`]: [`Services`], the handle adapters hold.

pub mod audit_log;
pub mod auth;
pub mod authz;
pub mod bulk;
pub mod context;
pub mod entry;
pub mod error;
pub mod fhir;
pub mod files;
pub mod items;
pub mod people;
pub mod prepare;
pub mod reads;
pub mod render;
pub mod services;
pub mod sharing;

pub use context::Context;
pub use error::{ErrorCategory, ServiceError, ServiceResult, ValidationIssue};
pub use items::{Envelope, ItemRequest, WriteOutcome};
pub use services::Services;
