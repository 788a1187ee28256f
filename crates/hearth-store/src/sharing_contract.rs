//! The storage contract for sharing and emergency access: invitations, accesses that run out,
//! emergency profiles and codes. Every backend implements [`SharingStore`] next to
//! [`crate::Store`]; the conformance suite checks both.
//!
//! Promises:
//! - [`SharingStore::accept_invitation`] marks a pending invitation accepted and writes the
//!   access (and, for a hand-over, removes the inviter's) in one transaction; an invitation no
//!   longer pending answers `false` and changes nothing. The record keeps a custodian.
//! - Token and code hashes are unique; lookups by them use an index.

use hearth_domain::sharing::{EmergencyCode, EmergencyProfile, Invitation};
use hearth_domain::{Access, AccountId, AuditEntry, InvitationId, RecordId, Timestamp};

use crate::StoreResult;

pub trait SharingStore: Send + Sync {
    // ---- invitations --------------------------------------------------------------------------
    /// Inserts or replaces the invitation (by id), appending `audit` in the same transaction.
    fn put_invitation(&self, invitation: &Invitation, audit: Option<&AuditEntry>) -> StoreResult<()>;
    fn invitation(&self, id: InvitationId) -> StoreResult<Option<Invitation>>;
    fn invitation_by_token(&self, token_hash: &str) -> StoreResult<Option<Invitation>>;
    /// The record's invitations, newest first.
    fn invitations_of_record(&self, record: RecordId) -> StoreResult<Vec<Invitation>>;
    /// Stores `invitation` (now accepted) if the stored one is still pending, gives `access`,
    /// removes `remove` (the inviter handing the record over), and appends `audit`: all or
    /// nothing. `false` when the invitation was no longer pending.
    fn accept_invitation(
        &self,
        invitation: &Invitation,
        access: &Access,
        remove: Option<AccountId>,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;

    // ---- accesses that run out ------------------------------------------------------------------
    /// Accesses whose expiry is at or before `now`, soonest first, at most `limit`.
    fn expired_accesses(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<Access>>;

    // ---- emergency access -----------------------------------------------------------------------
    fn emergency_profile(&self, record: RecordId) -> StoreResult<Option<EmergencyProfile>>;
    fn put_emergency_profile(
        &self,
        record: RecordId,
        profile: &EmergencyProfile,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Inserts or replaces the code (by id), appending `audit` if given.
    fn put_emergency_code(&self, code: &EmergencyCode, audit: Option<&AuditEntry>) -> StoreResult<()>;
    /// The record's codes, newest first.
    fn emergency_codes(&self, record: RecordId) -> StoreResult<Vec<EmergencyCode>>;
    fn emergency_code_by_hash(&self, code_hash: &str) -> StoreResult<Option<EmergencyCode>>;
}
