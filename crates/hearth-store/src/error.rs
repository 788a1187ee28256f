//! Storage errors. They say what went wrong in storage terms; the service layer decides what each
//! means to a caller.

use hearth_domain::{ItemId, RecordId};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record {0} not found")]
    RecordNotFound(RecordId),
    #[error("item {0} not found")]
    ItemNotFound(ItemId),
    #[error("account not found")]
    AccountNotFound,
    #[error("an account with this email already exists")]
    DuplicateEmail,
    #[error("item {id} is at version {actual}, not {expected}")]
    VersionConflict { id: ItemId, expected: u32, actual: u32 },
    #[error("item {0} already exists")]
    DuplicateItem(ItemId),
    #[error("client id {0:?} is already used by another item of this writer")]
    DuplicateClientId(String),
    #[error("referenced item {0} does not exist in this record")]
    MissingReference(ItemId),
    #[error("an app with this client id already exists")]
    DuplicateApp,
    #[error("app not found")]
    AppNotFound,
    #[error("a record must keep at least one custodian")]
    LastCustodian,
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage failure: {0}")]
    Backend(String),
    #[error("blob I/O failure: {0}")]
    Io(#[from] std::io::Error),
}
