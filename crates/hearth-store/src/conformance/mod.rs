//! The conformance suite: one set of cases that every [`Store`] backend must pass, so SQLite and
//! PostgreSQL behave the same. A backend's test file expands [`conformance_tests!`] with a
//! factory returning a fresh, empty, migrated store (or `None` to skip, e.g. when no PostgreSQL
//! server is configured).
//!
//! The cases cover: accounts; records, access levels and the last-custodian rule; versions and
//! history; stale-version conflicts; atomic batches; references that must exist; client-id
//! uniqueness; soft delete and restore; purge; flags; queries with filters, ordering and stable
//! cursors; audit entries for reads and writes; the change sequence; export; renaming and
//! deleting a record; locating an item's record by the item's id. For sign-in and
//! consent ([`crate::AuthStore`]): credentials, sessions, emailed tokens, signing keys, the
//! account-level audit trail, apps, grants, pseudonymous subjects, OAuth tokens and revocation,
//! and single-use values spent by concurrent callers. For bulk export jobs
//! ([`crate::JobStore`]): the queue and its limit, leases, files shared by two jobs, cancelling,
//! expiry, and concurrent kick-offs and claims. For sharing ([`crate::SharingStore`]): per-type
//! expiring accesses, invitations accepted once and atomically (hand-overs too), emergency
//! profiles and codes.

use std::any::Any;

use hearth_domain::{
    Access, AccessLevel, Account, AccountId, Actor, AppId, AuditAction, AuditEntry, AuditOutcome, Item,
    ItemContent, ItemFlags, ItemId, ItemQuery, Record, RecordId, Relationship, Timestamp, WriteOp,
};

use crate::contract::{ChangeSet, NewRecordSpec, WriteBatch};
use crate::{Store, StoreResult};

/// A fresh store and whatever keeps it alive (a temporary directory, a scratch database).
pub struct Fixture {
    pub store: Box<dyn Store>,
    pub guard: Box<dyn Any>,
}

/// Expands into one `#[test]` per conformance case. `$factory: fn() -> Option<Fixture>`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@cases $factory;
            accounts, records_and_custodians, versions_and_history, stale_version_conflicts,
            batches_are_atomic, references_must_exist, client_ids_are_unique_per_writer,
            soft_delete_and_restore, purge_drops_content, flags_and_envelope_round_trip,
            queries_filter_and_order, cursors_are_stable_under_writes, reads_and_writes_are_audited,
            change_sequence_is_monotonic, export_streams_everything, decimals_round_trip_exactly,
            credentials_round_trip, sessions_lifecycle, email_tokens_are_single_use,
            signing_keys_newest_first, account_audit_is_account_level, single_use_values_race,
            apps_register_and_update, grants_round_trip, app_subjects_are_pairwise,
            oauth_tokens_lifecycle, rename_and_delete_record, unaudited_reads_and_batched_audit,
            items_are_located_by_id, export_jobs_queue_in_order_within_the_limit,
            export_job_leases_run_out, export_job_files_cancel_and_expire, export_jobs_race,
            sharing_accesses_round_trip_and_expire, invitations_are_accepted_once,
            emergency_profiles_and_codes);
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let factory: fn() -> Option<$crate::conformance::Fixture> = $factory;
                match factory() {
                    Some(fx) => $crate::conformance::$case(&*fx.store),
                    None => eprintln!("skipped {}: backend not configured", stringify!($case)),
                }
            }
        )*
    };
}

// ---- builders -------------------------------------------------------------------------------

pub fn t(secs: i64) -> Timestamp {
    Timestamp(1_700_000_000_000_000 + secs * 1_000_000)
}

fn audit(action: AuditAction, record: Option<RecordId>, at: Timestamp) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        account: None,
        app: Some(AppId("conformance".into())),
        online: false,
        record,
        action,
        items: vec![],
        data_types: vec![],
        outcome: AuditOutcome::Success,
    }
}

fn actor() -> Actor {
    Actor::app(AppId("conformance".into()), None, false)
}

pub fn content(resource_type: &str, data_type: &str, body: &str, effective: Timestamp) -> ItemContent {
    ItemContent {
        resource_type: resource_type.into(),
        data_type: data_type.into(),
        body: body.into(),
        effective,
        end_date: None,
        flags: ItemFlags::default(),
        source: None,
        note: None,
        tags: vec![],
        links: vec![],
        blobs: vec![],
        codes: vec![],
        client_id: None,
    }
}

fn weight(kg: &str, at: Timestamp) -> ItemContent {
    let mut c = content(
        "Observation",
        "weight",
        &format!(r#"{{"resourceType":"Observation","status":"final","valueQuantity":{{"value":{kg}}}}}"#),
        at,
    );
    c.codes = vec!["http://loinc.org|29463-7".into()];
    c
}

fn new_account(store: &dyn Store, email: &str) -> Account {
    let account = Account {
        id: AccountId::new(),
        email: email.into(),
        display_name: email.into(),
        created_at: t(0),
    };
    store
        .create_account(&account, &audit(AuditAction::CreateAccount, None, t(0)))
        .expect("create account");
    account
}

/// A record owned by a fresh account, with its Patient item.
fn new_record(store: &dyn Store) -> (Account, Record) {
    let owner = new_account(store, &format!("{}@example.org", AccountId::new()));
    let patient = ItemId::new();
    let record = Record {
        id: RecordId::new(),
        display_name: "Ann".into(),
        patient_item: patient,
        created_at: t(0),
        last_seq: 0,
    };
    let access = Access {
        record_id: record.id,
        account_id: owner.id,
        relationship: Relationship::SelfRecord,
        level: AccessLevel::Custodian,
        granted_at: t(0),
        data_types: None,
        expires_at: None,
        audit: false,
    };
    let body = format!(r#"{{"resourceType":"Patient","id":"{patient}"}}"#);
    store
        .apply(&ChangeSet {
            new_records: vec![NewRecordSpec {
                record: record.clone(),
                access,
                audit: audit(AuditAction::CreateRecord, Some(record.id), t(0)),
            }],
            batches: vec![batch(
                record.id,
                vec![WriteOp::Create {
                    id: patient,
                    content: content("Patient", "demographics", &body, t(0)),
                }],
            )],
        })
        .expect("create record");
    (owner, record)
}

fn batch(record: RecordId, ops: Vec<WriteOp>) -> WriteBatch {
    WriteBatch {
        record,
        actor: actor(),
        at: t(10),
        ops,
        must_exist: vec![],
        audit: audit(AuditAction::Write, Some(record), t(10)),
    }
}

fn write(
    store: &dyn Store,
    record: RecordId,
    ops: Vec<WriteOp>,
) -> StoreResult<Vec<hearth_domain::ItemMeta>> {
    let mut r = store.apply(&ChangeSet {
        new_records: vec![],
        batches: vec![batch(record, ops)],
    })?;
    Ok(r.remove(0).versions)
}

fn create(store: &dyn Store, record: RecordId, c: ItemContent) -> ItemId {
    let id = ItemId::new();
    write(store, record, vec![WriteOp::Create { id, content: c }]).expect("create item");
    id
}

fn read_one(store: &dyn Store, record: RecordId, id: ItemId) -> Option<Item> {
    store
        .read(record, &[id], &audit(AuditAction::Read, Some(record), t(20)))
        .expect("read")
        .into_iter()
        .next()
}

fn query(store: &dyn Store, record: RecordId, q: &ItemQuery) -> hearth_domain::Page {
    store
        .query(record, q, &audit(AuditAction::Query, Some(record), t(20)))
        .expect("query")
}

fn ids(items: &[Item]) -> Vec<ItemId> {
    items.iter().map(|i| i.meta.id).collect()
}

fn last_seq(store: &dyn Store, record: RecordId) -> i64 {
    store
        .record(record)
        .expect("record")
        .expect("record exists")
        .last_seq
}

mod auth;
mod auth_apps;
mod auth_tokens;
mod fetch;
mod jobs;
mod reads;
mod records;
mod sharing;
mod writes;
pub use auth::*;
pub use auth_apps::*;
pub use auth_tokens::*;
pub use fetch::*;
pub use jobs::*;
pub use reads::*;
pub use records::*;
pub use sharing::*;
pub use writes::*;
