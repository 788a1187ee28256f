//! Queries over one record's items (HealthVault `ThingFilterSpec`): by data types, effective-date
//! range, updated-since, state, code, and who created or last updated the item; ordered by
//! effective date (newest first by default) or by update time; paged with opaque cursors.
//!
//! Cursors are keyset cursors (the sort key and item id of the last row returned), so a page
//! never repeats or skips an item because of writes made while a client pages.

use serde::{Deserialize, Serialize};

use crate::{AccountId, AppId, Item, Timestamp};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StateFilter {
    #[default]
    Active,
    Deleted,
    Any,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Effective date, newest first (HealthVault's default).
    #[default]
    EffectiveDesc,
    EffectiveAsc,
    /// Last update, newest first.
    UpdatedDesc,
    UpdatedAsc,
}

/// Keyset position: the sort key of the last item of the previous page and the store's
/// tie-breaker for it (its internal item key, which is unique and never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub key: i64,
    pub tie: i64,
}

impl Cursor {
    /// Opaque text form, safe in URLs.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.key, self.tie)
    }
    pub fn decode(s: &str) -> Option<Self> {
        let (k, t) = s.split_once('.')?;
        Some(Cursor {
            key: k.parse().ok()?,
            tie: t.parse().ok()?,
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemQuery {
    /// Registry keys; empty means every type.
    pub data_types: Vec<String>,
    /// Inclusive lower bound on the effective date.
    pub effective_from: Option<Timestamp>,
    /// Exclusive upper bound on the effective date.
    pub effective_to: Option<Timestamp>,
    /// Items whose current version was written at or after this time.
    pub updated_since: Option<Timestamp>,
    pub state: StateFilter,
    /// `system|code` (or `|code`, or `code` for any system) of the primary code element.
    pub code: Option<String>,
    pub created_by_account: Option<AccountId>,
    pub created_by_app: Option<AppId>,
    pub updated_by_account: Option<AccountId>,
    pub updated_by_app: Option<AppId>,
    /// Include items flagged personal (never for apps).
    pub include_personal: bool,
    pub order: Order,
    /// Page size; the store caps it.
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl ItemQuery {
    pub const MAX_LIMIT: u32 = 1000;
    pub const DEFAULT_LIMIT: u32 = 100;

    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_LIMIT,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub next: Option<Cursor>,
    /// The keyset position of each item (same order as `items`): a query with `after` set to
    /// one of them resumes right after that item.
    #[serde(default)]
    pub positions: Vec<Cursor>,
}
