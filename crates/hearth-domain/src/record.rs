//! Records and access. A record is one human's (or pet's) health data; accounts reach it through
//! an [`Access`] that names their relationship to the record's subject and whether they are a
//! custodian. A record always keeps at least one custodian.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{AccountId, ItemId, RecordId, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: RecordId,
    pub display_name: String,
    /// The record's one Patient item.
    pub patient_item: ItemId,
    pub created_at: Timestamp,
    /// Highest change sequence number written so far.
    pub last_seq: i64,
}

#[derive(Clone, Debug)]
pub struct NewRecord {
    pub display_name: String,
}

/// The account holder's relationship to the person the record is about (HealthVault `rel-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relationship {
    #[serde(rename = "self")]
    SelfRecord,
    Child,
    Parent,
    Spouse,
    DomesticPartner,
    Guardian,
    Sibling,
    Relative,
    Friend,
    Patient,
    Pet,
    Other,
}

impl Relationship {
    pub const ALL: [Relationship; 12] = [
        Relationship::SelfRecord,
        Relationship::Child,
        Relationship::Parent,
        Relationship::Spouse,
        Relationship::DomesticPartner,
        Relationship::Guardian,
        Relationship::Sibling,
        Relationship::Relative,
        Relationship::Friend,
        Relationship::Patient,
        Relationship::Pet,
        Relationship::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::SelfRecord => "self",
            Relationship::Child => "child",
            Relationship::Parent => "parent",
            Relationship::Spouse => "spouse",
            Relationship::DomesticPartner => "domestic-partner",
            Relationship::Guardian => "guardian",
            Relationship::Sibling => "sibling",
            Relationship::Relative => "relative",
            Relationship::Friend => "friend",
            Relationship::Patient => "patient",
            Relationship::Pet => "pet",
            Relationship::Other => "other",
        }
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Relationship {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relationship::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Relationship::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown relationship {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// How far an account reaches into a record (HealthVault's three sharing levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessLevel {
    /// Reads health information; no sharing, no history.
    View,
    /// Also adds, edits and deletes health and profile information; no sharing, no history.
    Modify,
    /// Everything, including sharing, history and making others custodians.
    Custodian,
}

impl AccessLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::View => "view",
            AccessLevel::Modify => "modify",
            AccessLevel::Custodian => "custodian",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AccessLevel::View, AccessLevel::Modify, AccessLevel::Custodian]
            .into_iter()
            .find(|l| l.as_str() == s)
    }

    /// What this level allows on health items.
    pub fn perms(self) -> crate::auth::Perms {
        match self {
            AccessLevel::View => crate::auth::Perms::READ,
            AccessLevel::Modify | AccessLevel::Custodian => crate::auth::Perms::ALL,
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account's way into one record (HealthVault's record authorization: level, the data types
/// shared, expiry, audit access).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub record_id: RecordId,
    pub account_id: AccountId,
    pub relationship: Relationship,
    pub level: AccessLevel,
    pub granted_at: Timestamp,
    /// The data types shared (registry keys); `None` shares every type, including types added
    /// later. Custodians always reach every type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_types: Option<Vec<String>>,
    /// When the access stops; `None` never. Custodian access does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Whether the person may read the record's history of changes (custodians always may).
    #[serde(default)]
    pub audit: bool,
}

impl Access {
    /// Access to every data type, without expiry or audit access beyond the level's own.
    pub fn new(
        record_id: RecordId,
        account_id: AccountId,
        relationship: Relationship,
        level: AccessLevel,
        granted_at: Timestamp,
    ) -> Self {
        Access {
            record_id,
            account_id,
            relationship,
            level,
            granted_at,
            data_types: None,
            expires_at: None,
            audit: false,
        }
    }

    pub fn is_custodian(&self) -> bool {
        self.level == AccessLevel::Custodian
    }

    /// Whether the access is in force at `now` (it stops exactly at its expiry).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|end| now < end)
    }

    /// Whether items of `data_type` are shared with this person.
    pub fn shares(&self, data_type: &str) -> bool {
        match &self.data_types {
            None => true,
            Some(_) if self.is_custodian() => true,
            Some(types) => types.iter().any(|t| t == data_type),
        }
    }

    /// What this access allows on items of `data_type`.
    pub fn perms(&self, data_type: &str) -> crate::auth::Perms {
        if self.shares(data_type) {
            self.level.perms()
        } else {
            crate::auth::Perms::NONE
        }
    }

    /// Whether the person may read the record's history of changes.
    pub fn reads_audit(&self) -> bool {
        self.is_custodian() || self.audit
    }
}
