//! # hearth-domain
//!
//! The vocabulary of Hearth, free of I/O: accounts, records and the access an account has to a
//! record; items (one FHIR R4 resource inside HealthVault's envelope) with their versions, flags,
//! links and blobs; the audit entry and change-feed shapes; queries over a record; and the
//! registry of named data types (Weight, Blood pressure, …) that consent screens speak of.
//!
//! ## Layout
//! - [`ids`]: identifier newtypes.
//! - [`time`]: [`Timestamp`] (microseconds since the Unix epoch) and the injected [`Clock`].
//! - [`account`], [`record`]: people and the records they reach.
//! - [`auth`]: credentials, sessions, apps and their rules, consent grants, tokens, SMART scopes.
//! - [`item`]: the envelope, writes, reads, history.
//! - [`query`]: filters, ordering and cursors over a record's items.
//! - [`audit`]: audit entries and the per-record change feed.
//! - [`sharing`]: invitations to share a record, emergency profiles and codes.
//! - [`bulk`]: bulk export jobs (FHIR Bulk Data Access `$export`): who asked, what, and the files.
//! - [`datatypes`]: the named data-type registry, classifier, effective dates, units.

pub mod account;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod datatypes;
pub mod ids;
pub mod item;
pub mod query;
pub mod record;
pub mod sharing;
pub mod time;

pub use account::{Account, NewAccount};
pub use audit::{AuditAction, AuditEntry, AuditOutcome, Change, ChangeKind};
pub use ids::{AccountId, AppId, EmergencyCodeId, InvitationId, ItemId, JobId, RecordId};
pub use item::{
    Actor, BlobRef, Item, ItemContent, ItemFlags, ItemLink, ItemMeta, ItemState, Stamp, VersionPosition,
    WriteOp,
};
pub use query::{Cursor, ItemQuery, Order, Page, StateFilter};
pub use record::{Access, AccessLevel, NewRecord, Record, Relationship};
pub use time::{Clock, SystemClock, Timestamp};
