//! # hearth-store
//!
//! The storage contract: one trait, [`Store`], that every database backend implements (SQLite in
//! `hearth-store-sqlite`, PostgreSQL in `hearth-store-postgres`), and [`BlobStore`] for named
//! blobs kept outside the database. Storage applies what the services decided, atomically; it
//! never decides HTTP statuses or business rules beyond the preconditions it is handed
//! (expected versions, uniqueness, references that must exist).
//!
//! The trait is synchronous: each call blocks the calling thread while doing I/O. Async adapters
//! call it from `spawn_blocking`. Every method that touches a record's data takes the
//! [`AuditEntry`] to append in the same transaction.
//!
//! ## Layout
//! - [`contract`]: the [`Store`] trait and its argument and result types.
//! - [`auth_contract`]: [`AuthStore`], the sign-in and consent half of the contract.
//! - [`jobs_contract`]: [`JobStore`], bulk export jobs and the files they list.
//! - [`sharing_contract`]: [`SharingStore`], invitations, expiring accesses, emergency access.
//! - [`error`] — [`StoreError`].
//! - [`blob`]: the blob-store trait and the local-directory implementation.
//! - [`conformance`]: the test suite every backend runs (`hearth_store::conformance::run_all`).

pub mod auth_contract;
pub mod blob;
pub mod codec;
pub mod conformance;
pub mod contract;
pub mod error;
pub mod jobs_contract;
pub mod sharing_contract;

pub use auth_contract::{AuthStore, GrantUse};
pub use blob::{BlobStore, LocalBlobStore};
pub use contract::{BatchResult, ExportSink, Store, WriteBatch};
pub use error::{StoreError, StoreResult};
pub use jobs_contract::{ClaimedJob, DropBlob, JobStore};
pub use sharing_contract::SharingStore;
