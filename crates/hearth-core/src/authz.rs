//! The one authorisation decision. Every service method that touches a record's data asks
//! [`authorize`] first; nothing else grants access.
//!
//! Effective permission on a data type = the person's own access to the record ∩ what the app
//! was granted on that type (online rules while the person is present, offline rules otherwise)
//! ∩ the token's scopes. The operator and its tools reach every record. A person without access
//! gets "not found", so records they cannot reach stay unknown. Custodian-only operations (purge,
//! history, audit, managing access) need a custodian; apps never purge, read the audit trail or
//! manage access. Items flagged personal are invisible to apps (see [`Context::sees_personal`]).

use hearth_domain::auth::{Grant, Perms, TokenIssuer};
use hearth_domain::datatypes::registry;
use hearth_domain::{Access, AccessLevel, RecordId};
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
    /// What the person (or, for operator tokens without a person, the operator) may do.
    pub standing: Perms,
    /// The grants in force with the standing of the person who made each; empty for operator
    /// tokens, which no grant limits.
    pub grants: Vec<(Grant, Perms)>,
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
            None => self.access.as_ref().map_or(Perms::ALL, |a| a.level.perms()),
            Some(side) => {
                let scoped = side.access.scopes.perms_for(data_type).intersect(side.standing);
                match side.access.issuer {
                    TokenIssuer::Operator => scoped,
                    TokenIssuer::Consent => {
                        let granted = side.grants.iter().fold(Perms::NONE, |p, (g, standing)| {
                            p.union(g.perms(data_type, side.access.online).intersect(*standing))
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

    /// The data types the principal may read, or `None` when that is every type.
    pub fn readable_types(&self) -> Option<Vec<String>> {
        self.app.as_ref()?;
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
    /// Allows or refuses `op` on `record` for `ctx`.
    pub fn authorize(&self, ctx: &Context, record: RecordId, op: Operation) -> ServiceResult<Decision> {
        authorize(&*self.store, ctx, record, op)
    }
}

/// Allows or refuses `op` on `record` for `ctx`.
pub fn authorize(
    store: &dyn Store,
    ctx: &Context,
    record: RecordId,
    op: Operation,
) -> ServiceResult<Decision> {
    let not_found = || ServiceError::NotFound(format!("record {record} not found"));
    let access_of = |account| -> ServiceResult<Option<Access>> {
        Ok(store
            .accesses(record)?
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
            if op.custodian_only() && !a.is_custodian() {
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
            return Ok(Decision {
                access: Some(a),
                app: None,
            });
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
            let standing = access.as_ref().map_or(Perms::ALL, |a| a.level.perms());
            let custodian = access.as_ref().is_none_or(|a| a.level == AccessLevel::Custodian);
            let grants = match (app.issuer, app.account) {
                (TokenIssuer::Operator, _) => vec![],
                (TokenIssuer::Consent, Some(acc)) => store
                    .grant(&app.app, record, acc)?
                    .filter(Grant::is_active)
                    .map(|g| vec![(g, standing)])
                    .ok_or_else(refuse_app)?,
                (TokenIssuer::Consent, None) => {
                    let accesses = store.accesses(record)?;
                    store
                        .grants_of_app(&app.app)?
                        .into_iter()
                        .filter(|g| g.record == record && g.is_active())
                        .filter_map(|g| {
                            let lvl = accesses.iter().find(|a| a.account_id == g.account)?.level;
                            Some((g, lvl.perms()))
                        })
                        .collect()
                }
            };
            if app.issuer == TokenIssuer::Consent && grants.is_empty() {
                return Err(refuse_app());
            }
            if matches!(op, Operation::History | Operation::ReadAudit) && !custodian {
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
