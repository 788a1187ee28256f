//! The one authorisation decision. Every service method that touches a record's data asks
//! [`authorize`] first; nothing else grants access.
//!
//! Effective permission = what the principal's own access to the record allows ∩ what the app
//! was granted (∩ the token's scopes). This release knows the person side: the operator and its
//! tools reach every record; a person reaches the records they have access to, and only
//! custodians may purge items, read old versions and the audit trail, or manage access. App
//! grants arrive with the consent issue; until then an app principal is refused everywhere.

use hearth_domain::{Access, RecordId};
use hearth_store::Store;

use crate::context::Principal;
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
}

/// What the decision found out about the principal's standing on the record.
#[derive(Clone, Debug)]
pub struct Decision {
    pub access: Option<Access>,
}

/// Allows or refuses `op` on `record` for `ctx`. A person without access gets "not found", so
/// the existence of records they cannot reach is not revealed.
pub fn authorize(
    store: &dyn Store,
    ctx: &Context,
    record: RecordId,
    op: Operation,
) -> ServiceResult<Decision> {
    match &ctx.principal {
        Principal::Operator | Principal::Tool(_) => Ok(Decision { access: None }),
        Principal::Person(account) => {
            let access = store
                .accesses(record)?
                .into_iter()
                .find(|a| a.account_id == *account);
            match access {
                None => Err(ServiceError::NotFound(format!("record {record} not found"))),
                Some(a) if op.custodian_only() && !a.custodian => Err(ServiceError::Forbidden(
                    "only a custodian of this record may do this".into(),
                )),
                Some(a) => Ok(Decision { access: Some(a) }),
            }
        }
        Principal::App { .. } => Err(ServiceError::Forbidden(
            "this app has no authorisation for this record".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_domain::Relationship;

    #[test]
    fn people_reach_only_their_records_and_only_custodians_do_custodial_things() {
        let (svc, _dir) = crate::services::tests::sqlite_services();
        let op = Context::operator();
        let ann = svc.create_account(&op, "ann@example.org", "Ann").unwrap();
        let bob = svc.create_account(&op, "bob@example.org", "Bob").unwrap();
        let rec = svc
            .create_record(&op, ann.id, "Ann", Relationship::SelfRecord, None)
            .unwrap();
        let store = svc.store();
        assert!(authorize(store, &Context::person(ann.id), rec.id, Operation::Purge).is_ok());
        assert!(matches!(
            authorize(store, &Context::person(bob.id), rec.id, Operation::Read),
            Err(ServiceError::NotFound(_))
        ));
        svc.grant_access(
            &Context::person(ann.id),
            rec.id,
            bob.id,
            Relationship::Spouse,
            false,
        )
        .unwrap();
        assert!(authorize(store, &Context::person(bob.id), rec.id, Operation::Read).is_ok());
        assert!(authorize(store, &Context::person(bob.id), rec.id, Operation::Update).is_ok());
        for op in [
            Operation::Purge,
            Operation::History,
            Operation::ReadAudit,
            Operation::ManageAccess,
        ] {
            assert!(matches!(
                authorize(store, &Context::person(bob.id), rec.id, op),
                Err(ServiceError::Forbidden(_))
            ));
        }
        let app = Context {
            principal: Principal::App {
                app: hearth_domain::AppId("x".into()),
                account: Some(ann.id),
                online: true,
            },
        };
        assert!(authorize(store, &app, rec.id, Operation::Read).is_err());
    }
}
