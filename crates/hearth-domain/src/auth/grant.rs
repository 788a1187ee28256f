//! Consent: what one person allowed one app to do in one record (healthvault.md §3.3).
//!
//! A grant keeps a copy of each rule as it was when the person agreed. When the app later adds
//! data types to a required rule, the old copy keeps working for the types it covered and the
//! app must ask again for the rest ([`Grant::needs_reconsent`]).

use serde::{Deserialize, Serialize};

use super::{App, Perms, TypeSet};
use crate::{AccountId, AppId, RecordId, Timestamp};

/// A rule as granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantedRule {
    pub name: String,
    pub data_types: TypeSet,
    pub permissions: Perms,
    pub offline: bool,
}

/// One person's consent for one app on one record. Unique per (app, record, account).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub app: AppId,
    pub record: RecordId,
    /// The person who granted it; the app never gets more than this person may do.
    pub account: AccountId,
    pub rules: Vec<GrantedRule>,
    pub granted_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set when the person (or the app itself) takes the consent back.
    pub revoked_at: Option<Timestamp>,
    pub last_read_at: Option<Timestamp>,
    pub last_write_at: Option<Timestamp>,
}

impl Grant {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// What the grant allows on `data_type`, online (the person present) or offline.
    pub fn perms(&self, data_type: &str, online: bool) -> Perms {
        if !self.is_active() {
            return Perms::NONE;
        }
        self.rules
            .iter()
            .filter(|r| online || r.offline)
            .filter(|r| r.data_types.contains(data_type))
            .fold(Perms::NONE, |p, r| p.union(r.permissions))
    }

    /// Whether the app's current required rules ask for more than this grant gave: a required
    /// rule missing, or with data types, permissions or offline use it did not cover.
    pub fn needs_reconsent(&self, app: &App) -> bool {
        app.rules
            .iter()
            .filter(|r| r.required)
            .any(|r| match self.rules.iter().find(|g| g.name == r.name) {
                None => true,
                Some(g) => {
                    !g.data_types.covers(&r.data_types)
                        || !g.permissions.contains(r.permissions)
                        || (r.offline && !g.offline)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{AppKind, AppRule, ClientAuth};

    fn app(types: Vec<&str>) -> App {
        App {
            id: AppId("a".into()),
            name: "A".into(),
            description: String::new(),
            logo_uri: None,
            redirect_uris: vec!["https://a.example/cb".into()],
            kind: AppKind::Public,
            auth_method: ClientAuth::None,
            secret_hash: None,
            jwks: None,
            rules: vec![AppRule {
                name: "main".into(),
                data_types: TypeSet::Only(types.into_iter().map(String::from).collect()),
                permissions: Perms::READ,
                offline: true,
                required: true,
                reason: "r".into(),
            }],
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            disabled: false,
        }
    }

    #[test]
    fn adding_types_to_a_required_rule_needs_reconsent_but_old_types_keep_working() {
        let grant = Grant {
            app: AppId("a".into()),
            record: RecordId::new(),
            account: AccountId::new(),
            rules: vec![GrantedRule {
                name: "main".into(),
                data_types: TypeSet::Only(vec!["weight".into()]),
                permissions: Perms::READ,
                offline: true,
            }],
            granted_at: Timestamp(0),
            updated_at: Timestamp(0),
            revoked_at: None,
            last_read_at: None,
            last_write_at: None,
        };
        assert!(!grant.needs_reconsent(&app(vec!["weight"])));
        assert!(grant.needs_reconsent(&app(vec!["weight", "height"])));
        assert_eq!(grant.perms("weight", false), Perms::READ);
        assert_eq!(grant.perms("height", true), Perms::NONE);
    }
}
