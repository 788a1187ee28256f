//! The one authorisation decision. Every service method that touches a record's data asks
//! [`authorize`] first; nothing else grants access.
//!
//! Effective permission on a data type = the person's own access to the record ∩ what the app
//! was granted on that type (online rules while the person is present, offline rules otherwise)
//! ∩ the token's scopes. The operator and its tools reach every record. A person without access
//! gets "not found", so records they cannot reach stay unknown. Custodian-only operations (purge,
//! history, managing access) need a custodian; reading the audit trail needs a custodian or a
//! person given audit access. A person's access may be limited to some data types and may
//! expire: it stops exactly at its expiry (the services' clock). Apps never purge or manage access,
//! and read the audit trail only with consent to read AuditEvent. Items flagged personal are
//! invisible to apps (see [`Context::sees_personal`]).

use hearth_domain::auth::{Grant, Perms, TokenIssuer};
use hearth_domain::datatypes::registry;
use hearth_domain::{Access, AccessLevel, RecordId, Timestamp};
use hearth_store::Store;

use crate::context::{AppAccess, Principal};
use crate::{Context, ServiceError, ServiceResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Read,
    Create,
    Update,
    Delete,
    /// Restore a deleted item.
    Restore,
    /// Permanently remove an item.
    Purge,
    /// Read old versions of an item.
    History,
    /// Read the record's audit trail.
    ReadAudit,
    /// Share the record, change or remove people's access.
    ManageAccess,
}

impl Operation {
    fn custodian_only(self) -> bool {
        matches!(
            self,
            Operation::Purge | Operation::History | Operation::ReadAudit | Operation::ManageAccess
        )
    }

    /// The verb for messages: "read", "create", …
    pub fn verb(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Restore => "restore",
            Operation::Purge => "purge",
            Operation::History => "read the history of",
            Operation::ReadAudit => "read the audit trail of",
            Operation::ManageAccess => "manage access to",
        }
    }

    /// The item permission the operation needs on a data type.
    pub fn perm(self) -> Perms {
        match self {
            Operation::Read | Operation::History | Operation::ReadAudit => Perms::READ,
            Operation::Create => Perms::CREATE,
            Operation::Update => Perms::UPDATE,
            Operation::Delete | Operation::Restore | Operation::Purge => Perms::DELETE,
            Operation::ManageAccess => Perms::ALL,
        }
    }
}

/// The app side of a decision.
#[derive(Clone, Debug)]
pub struct AppSide {
    pub access: std::sync::Arc<AppAccess>,
    /// The person's own access (the app can do no more than they could); `None` for operator
    /// tokens and backend services without a person.
    pub standing: Option<Access>,
    /// The grants in force with the access of the person who made each; empty for operator
    /// tokens, which no grant limits.
    pub grants: Vec<(Grant, Access)>,
}

/// What `access` allows on `data_type`; everything without a person.
fn standing_perms(access: Option<&Access>, data_type: &str) -> Perms {
    access.map_or(Perms::ALL, |a| a.perms(data_type))
}

/// What the decision found out about the principal's standing on the record.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The person's access (people, and apps acting for a person).
    pub access: Option<Access>,
    pub app: Option<AppSide>,
}

impl Decision {
    /// What the principal may do on items of `data_type` in this record.
    pub fn perms(&self, data_type: &str) -> Perms {
        match &self.app {
            None => standing_perms(self.access.as_ref(), data_type),
            Some(side) => {
                let scoped = side
                    .access
                    .scopes
                    .perms_for(data_type)
                    .intersect(standing_perms(side.standing.as_ref(), data_type));
                match side.access.issuer {
                    TokenIssuer::Operator => scoped,
                    TokenIssuer::Consent => {
                        let granted = side.grants.iter().fold(Perms::NONE, |p, (g, standing)| {
                            p.union(
                                g.perms(data_type, side.access.online)
                                    .intersect(standing.perms(data_type)),
                            )
                        });
                        scoped.intersect(granted)
                    }
                }
            }
        }
    }

    pub fn allows(&self, data_type: &str, op: Operation) -> bool {
        self.perms(data_type).contains(op.perm())
    }

    /// Whether some data types are closed to the principal (an app, or a person with whom only
    /// some types are shared): then every item must be checked against [`Decision::allows`].
    pub fn limits_types(&self) -> bool {
        self.app.is_some()
            || self
                .access
                .as_ref()
                .is_some_and(|a| a.data_types.is_some() && !a.is_custodian())
    }

    /// The data types the principal may read, or `None` when that is every type.
    pub fn readable_types(&self) -> Option<Vec<String>> {
        if !self.limits_types() {
            return None;
        }
        Some(
            registry()
                .all()
                .iter()
                .filter(|dt| self.allows(dt.key, Operation::Read))
                .map(|dt| dt.key.to_string())
                .collect(),
        )
    }

    /// Whether any data type allows `op` (a quick refusal before looking at items).
    fn allows_some(&self, op: Operation) -> bool {
        registry().all().iter().any(|dt| self.allows(dt.key, op))
    }
}

fn refuse_app() -> ServiceError {
    ServiceError::Forbidden("this app is not authorised to do this in this record".into())
}

/// The data type an app needs read consent on to read a record's audit trail.
pub const AUDIT_EVENT_TYPE: &str = "fhir:AuditEvent";

impl crate::Services {
    /// Allows or refuses `op` on `record` for `ctx`, at the services' clock.
    pub fn authorize(&self, ctx: &Context, record: RecordId, op: Operation) -> ServiceResult<Decision> {
        authorize(&*self.store, self.now(), ctx, record, op)
    }
}

/// The accesses to `record` in force at `now` (expired ones stop on the dot).
pub fn live_accesses(store: &dyn Store, record: RecordId, now: Timestamp) -> ServiceResult<Vec<Access>> {
    Ok(store
        .accesses(record)?
        .into_iter()
        .filter(|a| a.is_live(now))
        .collect())
}

/// Allows or refuses `op` on `record` for `ctx` at `now`.
pub fn authorize(
    store: &dyn Store,
    now: Timestamp,
    ctx: &Context,
    record: RecordId,
    op: Operation,
) -> ServiceResult<Decision> {
    let not_found = || ServiceError::NotFound(format!("record {record} not found"));
    let access_of = |account| -> ServiceResult<Option<Access>> {
        Ok(live_accesses(store, record, now)?
            .into_iter()
            .find(|a| a.account_id == account))
    };
    let decision = match &ctx.principal {
        Principal::Operator | Principal::Tool(_) => {
            return Ok(Decision {
                access: None,
                app: None,
            });
        }
        Principal::Person(account) => {
            let a = access_of(*account)?.ok_or_else(not_found)?;
            let audit_reader = op == Operation::ReadAudit && a.reads_audit();
            if op.custodian_only() && !a.is_custodian() && !audit_reader {
                return Err(ServiceError::Forbidden(
                    "only a custodian of this record may do this".into(),
                ));
            }
            if !a.level.perms().contains(op.perm()) {
                return Err(ServiceError::Forbidden(format!(
                    "your access to this record ({}) does not allow this",
                    a.level
                )));
            }
            let decision = Decision {
                access: Some(a),
                app: None,
            };
            if !audit_reader && !decision.allows_some(op) {
                return Err(ServiceError::Forbidden(
                    "the data types shared with you do not allow this".into(),
                ));
            }
            return Ok(decision);
        }
        Principal::App(app) => {
            if app.record.is_some_and(|r| r != record) {
                return Err(not_found());
            }
            if matches!(op, Operation::Purge | Operation::ManageAccess) {
                return Err(refuse_app());
            }
            let access = match app.account {
                Some(acc) => Some(access_of(acc)?.ok_or_else(not_found)?),
                None => None,
            };
            let standing = access.clone();
            let custodian = access.as_ref().is_none_or(|a| a.level == AccessLevel::Custodian);
            let audit_reader = access.as_ref().is_none_or(Access::reads_audit);
            let grants = match (app.issuer, app.account) {
                (TokenIssuer::Operator, _) => vec![],
                (TokenIssuer::Consent, Some(acc)) => {
                    let person = access.clone().ok_or_else(not_found)?;
                    store
                        .grant(&app.app, record, acc)?
                        .filter(Grant::is_active)
                        .map(|g| vec![(g, person)])
                        .ok_or_else(refuse_app)?
                }
                (TokenIssuer::Consent, None) => {
                    let accesses = live_accesses(store, record, now)?;
                    store
                        .grants_of_app(&app.app)?
                        .into_iter()
                        .filter(|g| g.record == record && g.is_active())
                        .filter_map(|g| {
                            let a = accesses.iter().find(|a| a.account_id == g.account)?;
                            Some((g, a.clone()))
                        })
                        .collect()
                }
            };
            if app.issuer == TokenIssuer::Consent && grants.is_empty() {
                return Err(refuse_app());
            }
            if (op == Operation::History && !custodian) || (op == Operation::ReadAudit && !audit_reader) {
                return Err(ServiceError::Forbidden(
                    "only a custodian of this record may do this".into(),
                ));
            }
            Decision {
                access,
                app: Some(AppSide {
                    access: app.clone(),
                    standing,
                    grants,
                }),
            }
        }
    };
    // An app reads the audit trail only with consent to read it as AuditEvent.
    if op == Operation::ReadAudit && !decision.allows(AUDIT_EVENT_TYPE, Operation::Read) {
        return Err(refuse_app());
    }
    if !decision.allows_some(op) {
        return Err(refuse_app());
    }
    Ok(decision)
}
