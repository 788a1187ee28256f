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

/// One account's way into one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub record_id: RecordId,
    pub account_id: AccountId,
    pub relationship: Relationship,
    pub level: AccessLevel,
    pub granted_at: Timestamp,
}

impl Access {
    pub fn is_custodian(&self) -> bool {
        self.level == AccessLevel::Custodian
    }
}
