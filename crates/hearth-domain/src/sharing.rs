//! Sharing a record with people, and emergency access (healthvault.md §4).
//!
//! An [`Invitation`] offers someone, by email, access to one record at one of the three levels
//! (view; view and modify; custodian), for every data type or chosen ones, with an access
//! expiry (required below custodian), an optional note and an optional PIN the invitee must
//! enter. The invitation itself expires; until answered it can be resent or cancelled.
//!
//! The record's [`EmergencyProfile`] says what first responders see; an [`EmergencyCode`]
//! (printed on a wallet card) opens that profile read-only. Codes are stored as hashes only.

use serde::{Deserialize, Serialize};

use crate::{AccessLevel, AccountId, EmergencyCodeId, InvitationId, RecordId, Relationship, Timestamp};

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Cancelled,
    /// Too many wrong PINs: the invitation can no longer be accepted.
    Locked,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Cancelled => "cancelled",
            InvitationStatus::Locked => "locked",
        }
    }
}

/// Wrong PINs allowed before an invitation locks (HealthVault error 145).
pub const MAX_PIN_FAILURES: u32 = 5;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub record: RecordId,
    pub invited_by: AccountId,
    /// Normalised email address the invitation was sent to.
    pub email: String,
    /// The invitee's name as the inviter wrote it.
    pub name: String,
    /// The invitee's relationship to the person the record is about.
    pub relationship: Relationship,
    pub level: AccessLevel,
    /// `None`: every data type, including types added later.
    pub data_types: Option<Vec<String>>,
    /// When the access given on acceptance stops; `None` only for custodians.
    pub access_expires_at: Option<Timestamp>,
    /// Whether the access includes the history of changes (custodians always have it).
    pub audit: bool,
    pub note: Option<String>,
    /// Argon2 PHC string of the PIN, when the inviter set one.
    pub pin_hash: Option<String>,
    pub pin_failures: u32,
    /// SHA-256 fingerprint of the secret in the invitation link.
    pub token_hash: String,
    /// On acceptance, the inviter's own access ends (handing a record over to its person).
    pub hand_over: bool,
    pub created_at: Timestamp,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    pub status: InvitationStatus,
    pub answered_at: Option<Timestamp>,
    pub answered_by: Option<AccountId>,
}

impl Invitation {
    /// Whether the invitation may still be accepted or declined at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.status == InvitationStatus::Pending && now < self.expires_at
    }

    /// The status people see at `now` ("expired" for a pending invitation past its date).
    pub fn shown_status(&self, now: Timestamp) -> &'static str {
        if self.status == InvitationStatus::Pending && now >= self.expires_at {
            "expired"
        } else {
            self.status.as_str()
        }
    }
}

/// The sections an emergency profile can show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmergencySection {
    Allergies,
    Conditions,
    Medications,
    Devices,
    Contacts,
    BloodType,
}

impl EmergencySection {
    pub const ALL: [EmergencySection; 6] = [
        EmergencySection::Allergies,
        EmergencySection::Conditions,
        EmergencySection::Medications,
        EmergencySection::Devices,
        EmergencySection::Contacts,
        EmergencySection::BloodType,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EmergencySection::Allergies => "allergies",
            EmergencySection::Conditions => "conditions",
            EmergencySection::Medications => "medications",
            EmergencySection::Devices => "devices",
            EmergencySection::Contacts => "contacts",
            EmergencySection::BloodType => "blood-type",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            EmergencySection::Allergies => "Allergies",
            EmergencySection::Conditions => "Active conditions",
            EmergencySection::Medications => "Current medications",
            EmergencySection::Devices => "Medical devices",
            EmergencySection::Contacts => "Emergency contacts",
            EmergencySection::BloodType => "Blood type",
        }
    }
}

/// What a record's emergency page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyProfile {
    pub sections: Vec<EmergencySection>,
    /// Free text for first responders ("carries an EpiPen in the left pocket").
    pub note: Option<String>,
    pub updated_at: Timestamp,
    pub updated_by: AccountId,
}

impl EmergencyProfile {
    pub fn shows(&self, section: EmergencySection) -> bool {
        self.sections.contains(&section)
    }
}

/// One emergency access code. The code itself is shown once (and printed); only its hash is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyCode {
    pub id: EmergencyCodeId,
    pub record: RecordId,
    /// SHA-256 fingerprint of the normalised code.
    pub code_hash: String,
    /// The code's last four characters, so people can tell their codes apart.
    pub hint: String,
    pub created_by: AccountId,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub uses: u32,
}

impl EmergencyCode {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}
