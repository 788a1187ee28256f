//! The audit trail and the change feed.
//!
//! Every read and every write, success or failure, appends one [`AuditEntry`]; successful ones
//! are written in the same transaction as the data they describe. Each record also has a
//! monotonically increasing change sequence: every new version takes the next number, which is
//! how sync and webhooks find what changed (HealthVault `GetRecordOperations`).

use serde::{Deserialize, Serialize};

use crate::{AccountId, AppId, ItemId, RecordId, Timestamp};

/// Defines [`AuditAction`] from one list of (variant, stored name) pairs.
macro_rules! audit_actions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum AuditAction {
            $($variant,)*
        }

        impl AuditAction {
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The name stored in the audit trail.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == s)
            }
        }
    };
}

audit_actions! {
    CreateAccount => "create-account",
    CreateRecord => "create-record",
    UpdateRecord => "update-record",
    GrantAccess => "grant-access",
    RevokeAccess => "revoke-access",
    Read => "read",
    Query => "query",
    History => "history",
    Write => "write",
    Delete => "delete",
    Restore => "restore",
    Purge => "purge",
    Import => "import",
    Export => "export",
    ReadAudit => "read-audit",
    SignUp => "sign-up",
    SignIn => "sign-in",
    SignInFailed => "sign-in-failed",
    SignOut => "sign-out",
    EmailVerified => "email-verified",
    PasswordChanged => "password-changed",
    PasswordReset => "password-reset",
    TwoFactorEnabled => "two-factor-enabled",
    TwoFactorDisabled => "two-factor-disabled",
    RecoveryCodeUsed => "recovery-code-used",
    RegisterApp => "register-app",
    UpdateApp => "update-app",
    ConsentGranted => "consent-granted",
    ConsentChanged => "consent-changed",
    ConsentRevoked => "consent-revoked",
    TokenIssued => "token-issued",
    TokenRefreshed => "token-refreshed",
    TokenRevoked => "token-revoked",
    DeleteRecord => "delete-record",
    BulkExport => "bulk-export",
    BulkDownload => "bulk-download",
    InvitationSent => "invitation-sent",
    InvitationResent => "invitation-resent",
    InvitationCancelled => "invitation-cancelled",
    InvitationAccepted => "invitation-accepted",
    InvitationDeclined => "invitation-declined",
    InvitationPinFailed => "invitation-pin-failed",
    ChangeAccess => "change-access",
    AccessExpired => "access-expired",
    EmergencyProfileChanged => "emergency-profile-changed",
    EmergencyCodeCreated => "emergency-code-created",
    EmergencyCodeRevoked => "emergency-code-revoked",
    EmergencyAccess => "emergency-access",
    EmergencyAccessFailed => "emergency-access-failed",
}

impl AuditAction {
    /// Whether the action is about a record (as opposed to an account's sign-in and security).
    pub fn is_record_action(self) -> bool {
        !matches!(
            self,
            AuditAction::CreateAccount
                | AuditAction::SignUp
                | AuditAction::SignIn
                | AuditAction::SignInFailed
                | AuditAction::SignOut
                | AuditAction::EmailVerified
                | AuditAction::PasswordChanged
                | AuditAction::PasswordReset
                | AuditAction::TwoFactorEnabled
                | AuditAction::TwoFactorDisabled
                | AuditAction::RecoveryCodeUsed
                | AuditAction::RegisterApp
                | AuditAction::UpdateApp
        )
    }

    /// Whether the action changes data (as opposed to reading it).
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            AuditAction::Read
                | AuditAction::Query
                | AuditAction::History
                | AuditAction::Export
                | AuditAction::BulkExport
                | AuditAction::BulkDownload
                | AuditAction::ReadAudit
                | AuditAction::SignIn
                | AuditAction::SignInFailed
                | AuditAction::SignOut
                | AuditAction::EmergencyAccess
                | AuditAction::EmergencyAccessFailed
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
    /// Entries that name this data type (registry key).
    pub data_type: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Return entries with ids below this (newest first paging).
    pub before_id: Option<i64>,
    pub limit: u32,
}
