//! Items: one FHIR R4 resource inside HealthVault's envelope (healthvault.md §2.1).
//!
//! An item has a stable [`ItemId`] and a version number that grows by one on every write; every
//! version is kept. A delete is a new version in state [`ItemState::Deleted`] and can be undone;
//! permanent removal (purge) is a separate custodian action that drops the content of every
//! version and leaves a tombstone. The resource JSON is stored exactly as prepared by the service
//! (decimals, `_element` extensions and unknown extensions preserved); `meta.versionId` and
//! `meta.lastUpdated` are rendered from the envelope on the way out.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AccountId, AppId, ItemId, RecordId, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    Active,
    Deleted,
    /// Permanently removed: the content of every version is gone.
    Purged,
}

impl ItemState {
    pub fn code(self) -> i64 {
        match self {
            ItemState::Active => 0,
            ItemState::Deleted => 1,
            ItemState::Purged => 2,
        }
    }
    pub fn from_code(c: i64) -> Option<Self> {
        match c {
            0 => Some(ItemState::Active),
            1 => Some(ItemState::Deleted),
            2 => Some(ItemState::Purged),
            _ => None,
        }
    }
}

/// HealthVault's item flags that Hearth keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemFlags {
    /// Visible to the record's people only, never to apps.
    pub personal: bool,
    /// Content frozen; set only at creation. Tags, note and end date stay editable.
    pub read_only: bool,
}

impl ItemFlags {
    pub fn bits(self) -> i64 {
        i64::from(self.personal) | (i64::from(self.read_only) << 1)
    }
    pub fn from_bits(b: i64) -> Self {
        ItemFlags {
            personal: b & 1 != 0,
            read_only: b & 2 != 0,
        }
    }
}

/// Who acts: a person, an app, or an app on a person's behalf; online (the person is present) or
/// offline (the app acts alone).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub account: Option<AccountId>,
    pub app: Option<AppId>,
    pub online: bool,
}

impl Actor {
    pub fn person(account: AccountId) -> Self {
        Actor {
            account: Some(account),
            app: None,
            online: true,
        }
    }
    pub fn app(app: AppId, account: Option<AccountId>, online: bool) -> Self {
        Actor {
            account,
            app: Some(app),
            online,
        }
    }
    /// The operator acting through the `hearth` command line.
    pub fn operator() -> Self {
        Actor {
            account: None,
            app: Some(AppId("hearth-cli".into())),
            online: false,
        }
    }
    /// The scope of a client id: the app if there is one, else the person.
    pub fn writer_key(&self) -> String {
        match (&self.app, &self.account) {
            (Some(app), _) => format!("app:{app}"),
            (None, Some(acct)) => format!("account:{acct}"),
            (None, None) => "system".into(),
        }
    }
}

/// When and by whom a version was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub at: Timestamp,
    pub account: Option<AccountId>,
    pub app: Option<AppId>,
    pub online: bool,
}

impl Stamp {
    pub fn new(actor: &Actor, at: Timestamp) -> Self {
        Stamp {
            at,
            account: actor.account,
            app: actor.app.clone(),
            online: actor.online,
        }
    }
}

/// A link from one item to another (HealthVault `related-thing`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemLink {
    pub target: ItemId,
    /// Free text, e.g. "result-of", "attachment".
    pub relationship: String,
}

/// A named blob kept outside the database, content-addressed by its sha256.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlobRef {
    /// Empty for the item's default blob.
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Lower-case hex sha256 of the content.
    pub sha256: String,
}

/// What a write says about an item: the resource and the envelope fields the writer controls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemContent {
    pub resource_type: String,
    /// Registry key of the data type the classifier put the resource into.
    pub data_type: String,
    /// The resource JSON as stored (UTF-8 text).
    pub body: String,
    pub effective: Timestamp,
    pub end_date: Option<Timestamp>,
    pub flags: ItemFlags,
    pub source: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub links: Vec<ItemLink>,
    pub blobs: Vec<BlobRef>,
    /// Codes of the resource's primary code element, as `system|code`, for queries by code.
    pub codes: Vec<String>,
    /// Idempotency key chosen by the writer, scoped to record and writer.
    pub client_id: Option<String>,
}

impl ItemContent {
    /// A digest of everything the writer controls; equal digests mean an identical resubmission.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let env = serde_json::json!({
            "rt": self.resource_type, "end": self.end_date, "flags": self.flags.bits(),
            "source": self.source, "note": self.note, "tags": self.tags,
            "links": self.links, "blobs": self.blobs,
        });
        h.update(env.to_string().as_bytes());
        h.update([0]);
        h.update(self.body.as_bytes());
        h.finalize().into()
    }
}

/// The envelope of one version of an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemMeta {
    pub id: ItemId,
    pub record_id: RecordId,
    pub version: u32,
    pub state: ItemState,
    pub resource_type: String,
    pub data_type: String,
    pub effective: Timestamp,
    pub end_date: Option<Timestamp>,
    pub flags: ItemFlags,
    pub source: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub links: Vec<ItemLink>,
    pub blobs: Vec<BlobRef>,
    pub codes: Vec<String>,
    pub client_id: Option<String>,
    /// Scope of `client_id` (see [`Actor::writer_key`]).
    pub writer: String,
    pub created: Stamp,
    pub updated: Stamp,
    /// The record change sequence number of this version.
    pub seq: i64,
}

/// Where a new version stands: which item, which version, who wrote it and when.
#[derive(Clone, Debug)]
pub struct VersionPosition {
    pub id: ItemId,
    pub record_id: RecordId,
    pub version: u32,
    pub state: ItemState,
    pub writer: String,
    pub created: Stamp,
    pub updated: Stamp,
    pub seq: i64,
}

impl ItemMeta {
    /// The envelope of a version written with `content`.
    pub fn of_content(at: VersionPosition, content: &ItemContent) -> Self {
        ItemMeta {
            id: at.id,
            record_id: at.record_id,
            version: at.version,
            state: at.state,
            resource_type: content.resource_type.clone(),
            data_type: content.data_type.clone(),
            effective: content.effective,
            end_date: content.end_date,
            flags: content.flags,
            source: content.source.clone(),
            note: content.note.clone(),
            tags: content.tags.clone(),
            links: content.links.clone(),
            blobs: content.blobs.clone(),
            codes: content.codes.clone(),
            client_id: content.client_id.clone(),
            writer: at.writer,
            created: at.created,
            updated: at.updated,
            seq: at.seq,
        }
    }
}

/// One version of an item with its resource. `body` is `None` only for purged items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub meta: ItemMeta,
    pub body: Option<String>,
}

/// One operation of an atomic batch. The service fills in ids and checks the rules; the store
/// applies the batch in one transaction, checking `expected_version` preconditions.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    /// A new item. Fails if an item with this id, or this (writer, client id), exists.
    Create { id: ItemId, content: ItemContent },
    /// A new version with new content.
    Update {
        id: ItemId,
        expected_version: u32,
        content: ItemContent,
    },
    /// Soft delete: a new version in state deleted, same content.
    Delete { id: ItemId, expected_version: u32 },
    /// Undo a soft delete: a new version in state active, same content.
    Restore { id: ItemId, expected_version: u32 },
}

impl WriteOp {
    pub fn id(&self) -> ItemId {
        match self {
            WriteOp::Create { id, .. }
            | WriteOp::Update { id, .. }
            | WriteOp::Delete { id, .. }
            | WriteOp::Restore { id, .. } => *id,
        }
    }
}
