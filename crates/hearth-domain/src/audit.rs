//! The audit trail and the change feed.
//!
//! Every read and every write, success or failure, appends one [`AuditEntry`]; successful ones
//! are written in the same transaction as the data they describe. Each record also has a
//! monotonically increasing change sequence: every new version takes the next number, which is
//! how sync and webhooks find what changed (HealthVault `GetRecordOperations`).

use serde::{Deserialize, Serialize};

use crate::{AccountId, AppId, ItemId, RecordId, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    CreateAccount,
    CreateRecord,
    UpdateRecord,
    GrantAccess,
    RevokeAccess,
    Read,
    Query,
    History,
    Write,
    Delete,
    Restore,
    Purge,
    Import,
    Export,
    ReadAudit,
    SignUp,
    SignIn,
    SignInFailed,
    SignOut,
    EmailVerified,
    PasswordChanged,
    PasswordReset,
    TwoFactorEnabled,
    TwoFactorDisabled,
    RecoveryCodeUsed,
    RegisterApp,
    UpdateApp,
    ConsentGranted,
    ConsentChanged,
    ConsentRevoked,
    TokenIssued,
    TokenRefreshed,
    TokenRevoked,
    DeleteRecord,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::CreateAccount => "create-account",
            AuditAction::CreateRecord => "create-record",
            AuditAction::UpdateRecord => "update-record",
            AuditAction::GrantAccess => "grant-access",
            AuditAction::RevokeAccess => "revoke-access",
            AuditAction::Read => "read",
            AuditAction::Query => "query",
            AuditAction::History => "history",
            AuditAction::Write => "write",
            AuditAction::Delete => "delete",
            AuditAction::Restore => "restore",
            AuditAction::Purge => "purge",
            AuditAction::Import => "import",
            AuditAction::Export => "export",
            AuditAction::ReadAudit => "read-audit",
            AuditAction::SignUp => "sign-up",
            AuditAction::SignIn => "sign-in",
            AuditAction::SignInFailed => "sign-in-failed",
            AuditAction::SignOut => "sign-out",
            AuditAction::EmailVerified => "email-verified",
            AuditAction::PasswordChanged => "password-changed",
            AuditAction::PasswordReset => "password-reset",
            AuditAction::TwoFactorEnabled => "two-factor-enabled",
            AuditAction::TwoFactorDisabled => "two-factor-disabled",
            AuditAction::RecoveryCodeUsed => "recovery-code-used",
            AuditAction::RegisterApp => "register-app",
            AuditAction::UpdateApp => "update-app",
            AuditAction::ConsentGranted => "consent-granted",
            AuditAction::ConsentChanged => "consent-changed",
            AuditAction::ConsentRevoked => "consent-revoked",
            AuditAction::TokenIssued => "token-issued",
            AuditAction::TokenRefreshed => "token-refreshed",
            AuditAction::TokenRevoked => "token-revoked",
            AuditAction::DeleteRecord => "delete-record",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use AuditAction::*;
        [
            CreateAccount,
            CreateRecord,
            UpdateRecord,
            GrantAccess,
            RevokeAccess,
            Read,
            Query,
            History,
            Write,
            Delete,
            Restore,
            Purge,
            Import,
            Export,
            ReadAudit,
            SignUp,
            SignIn,
            SignInFailed,
            SignOut,
            EmailVerified,
            PasswordChanged,
            PasswordReset,
            TwoFactorEnabled,
            TwoFactorDisabled,
            RecoveryCodeUsed,
            RegisterApp,
            UpdateApp,
            ConsentGranted,
            ConsentChanged,
            ConsentRevoked,
            TokenIssued,
            TokenRefreshed,
            TokenRevoked,
            DeleteRecord,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    /// Whether the action changes data (as opposed to reading it).
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            AuditAction::Read
                | AuditAction::Query
                | AuditAction::History
                | AuditAction::Export
                | AuditAction::ReadAudit
                | AuditAction::SignIn
                | AuditAction::SignInFailed
                | AuditAction::SignOut
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    /// The request was refused or failed; the text says why (never internal error text).
    Failure(String),
}

/// An item and the version a request touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemVersionRef {
    pub id: ItemId,
    pub version: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Assigned by the store; 0 until written.
    pub id: i64,
    pub at: Timestamp,
    pub account: Option<AccountId>,
    pub app: Option<AppId>,
    pub online: bool,
    pub record: Option<RecordId>,
    pub action: AuditAction,
    pub items: Vec<ItemVersionRef>,
    pub data_types: Vec<String>,
    pub outcome: AuditOutcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
    Restore,
    Purge,
}

impl ChangeKind {
    pub fn code(self) -> i64 {
        match self {
            ChangeKind::Create => 0,
            ChangeKind::Update => 1,
            ChangeKind::Delete => 2,
            ChangeKind::Restore => 3,
            ChangeKind::Purge => 4,
        }
    }
    pub fn from_code(c: i64) -> Option<Self> {
        [
            ChangeKind::Create,
            ChangeKind::Update,
            ChangeKind::Delete,
            ChangeKind::Restore,
            ChangeKind::Purge,
        ]
        .into_iter()
        .find(|k| k.code() == c)
    }
}

/// One entry of a record's change feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub item: ItemId,
    pub version: u32,
    pub data_type: String,
    pub effective: Timestamp,
    pub at: Timestamp,
}

/// A filter over a record's audit trail.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub account: Option<AccountId>,
    pub app: Option<AppId>,
    pub action: Option<AuditAction>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Return entries with ids below this (newest first paging).
    pub before_id: Option<i64>,
    pub limit: u32,
}
