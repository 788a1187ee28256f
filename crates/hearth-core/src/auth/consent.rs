//! Consent (healthvault.md §3.3, §5.1): what an app asks of a person for one record, what the
//! person grants, and managing grants afterwards.
//!
//! Required rules are granted all together or not at all; optional rules one by one. A person
//! grants no more than they may do themselves on the record (a viewer grants reading only).
//! Offline use is granted only when the app asked for it (`offline_access`) and the rule allows
//! it. Grants keep the rules as granted; when the app later adds types to a required rule it has
//! to ask again, and the old grant keeps working for what it covered.

use hearth_domain::auth::{App, Grant, GrantedRule, Perms, Scopes};
use hearth_domain::{Access, AccountId, AppId, AuditAction, Record, RecordId, Timestamp};
use hearth_store::GrantUse;

use crate::authz::Decision;
use crate::{Context, ServiceError, ServiceResult, Services};

/// One rule as the consent page shows it.
#[derive(Clone, Debug)]
pub struct RuleOffer {
    pub name: String,
    /// "Weight, Blood pressure" or "All data types".
    pub types: String,
    /// What the person may actually grant: the rule ∩ the scopes asked ∩ their own access.
    pub permissions: Perms,
    pub offline: bool,
    pub required: bool,
    pub reason: String,
    /// Already granted (ticked by default).
    pub granted: bool,
}

/// Everything the consent page shows for one app, person and record.
#[derive(Clone, Debug)]
pub struct ConsentOffer {
    pub app: App,
    pub record: Record,
    pub access: Access,
    pub rules: Vec<RuleOffer>,
    /// The person holds an active grant that still covers every required rule.
    pub already_granted: bool,
}

/// The person's answer.
#[derive(Clone, Debug)]
pub struct ConsentAnswer {
    /// Names of the optional rules ticked.
    pub optional: Vec<String>,
}

/// An app authorised on a record, for the "apps" page.
#[derive(Clone, Debug)]
pub struct AuthorisedApp {
    pub app: App,
    pub grant: Grant,
    /// The grant needs to be asked again (the app's required rules grew).
    pub needs_reconsent: bool,
}

impl Services {
    fn person_access(&self, account: AccountId, record: RecordId) -> ServiceResult<(Record, Access)> {
        self.live_records_of(account)?
            .into_iter()
            .find(|(r, _)| r.id == record)
            .ok_or_else(|| ServiceError::NotFound(format!("record {record} not found")))
    }

    /// What the app asks of `account` on `record`, given the scopes it requested.
    pub fn consent_offer(
        &self,
        account: AccountId,
        app: &AppId,
        record: RecordId,
        scopes: &Scopes,
    ) -> ServiceResult<ConsentOffer> {
        let app = self.require_app(app)?;
        let (record, access) = self.person_access(account, record)?;
        let existing = self
            .store
            .grant(&app.id, record.id, account)?
            .filter(Grant::is_active);
        let cap = access.level.perms();
        let mut rules = Vec::new();
        for r in &app.rules {
            let asked = scoped_perms(scopes, &r.data_types).intersect(r.permissions);
            if asked.is_empty() && !r.required {
                continue;
            }
            let granted = existing
                .as_ref()
                .is_some_and(|g| g.rules.iter().any(|x| x.name == r.name));
            rules.push(RuleOffer {
                name: r.name.clone(),
                types: r.data_types.display(),
                permissions: r.permissions.intersect(cap),
                offline: r.offline && scopes.offline_access,
                required: r.required,
                reason: r.reason.clone(),
                granted,
            });
        }
        let already_granted = existing.as_ref().is_some_and(|g| !g.needs_reconsent(&app));
        Ok(ConsentOffer {
            app,
            record,
            access,
            rules,
            already_granted,
        })
    }

    /// Records the person's consent: every required rule plus the optional rules ticked.
    pub fn grant_consent(
        &self,
        account: AccountId,
        app: &AppId,
        record: RecordId,
        scopes: &Scopes,
        answer: &ConsentAnswer,
    ) -> ServiceResult<Grant> {
        let offer = self.consent_offer(account, app, record, scopes)?;
        for name in &answer.optional {
            if !offer.rules.iter().any(|r| &r.name == name && !r.required) {
                return Err(ServiceError::invalid(
                    "value",
                    "optional",
                    format!("{name:?} is not an optional rule of this app"),
                ));
            }
        }
        if offer.app.disabled {
            return Err(ServiceError::Forbidden("this app is disabled".into()));
        }
        let mut rules = Vec::new();
        for r in &offer.rules {
            if !r.required && !answer.optional.contains(&r.name) {
                continue;
            }
            if r.permissions.is_empty() {
                if r.required {
                    return Err(ServiceError::Forbidden(format!(
                        "this app requires {} access to {}, which your access to this record ({}) does not include",
                        offer
                            .app
                            .rule(&r.name)
                            .map(|x| x.permissions.words().join(", "))
                            .unwrap_or_default(),
                        r.types,
                        offer.access.level
                    )));
                }
                continue;
            }
            let rule = offer.app.rule(&r.name).expect("offered rules come from the app");
            rules.push(GrantedRule {
                name: r.name.clone(),
                data_types: rule.data_types.clone(),
                permissions: r.permissions,
                offline: r.offline,
            });
        }
        if rules.is_empty() {
            return Err(ServiceError::invalid(
                "value",
                "optional",
                "Choose at least one thing this app may do.",
            ));
        }
        let now = self.now();
        let previous = self.store.grant(app, record, account)?;
        let changed = previous.as_ref().is_some_and(Grant::is_active);
        let grant = Grant {
            app: app.clone(),
            record,
            account,
            rules,
            granted_at: previous
                .as_ref()
                .filter(|g| g.is_active())
                .map_or(now, |g| g.granted_at),
            updated_at: now,
            revoked_at: None,
            last_read_at: previous.as_ref().and_then(|g| g.last_read_at),
            last_write_at: previous.as_ref().and_then(|g| g.last_write_at),
        };
        let mut audit = self.audit_entry(
            &Context::person(account),
            Some(record),
            if changed {
                AuditAction::ConsentChanged
            } else {
                AuditAction::ConsentGranted
            },
        );
        audit.app = Some(app.clone());
        audit.data_types = grant_types(&grant);
        self.store.put_grant(&grant, &audit)?;
        Ok(grant)
    }

    /// The apps authorised on a record: every grant for custodians, the person's own otherwise.
    pub fn record_apps(&self, account: AccountId, record: RecordId) -> ServiceResult<Vec<AuthorisedApp>> {
        let (_, access) = self.person_access(account, record)?;
        let mut out = Vec::new();
        for g in self.store.grants_for_record(record)? {
            if !g.is_active() || (!access.is_custodian() && g.account != account) {
                continue;
            }
            if let Some(app) = self.store.app(&g.app)? {
                out.push(AuthorisedApp {
                    needs_reconsent: g.needs_reconsent(&app),
                    app,
                    grant: g,
                });
            }
        }
        Ok(out)
    }

    /// Takes a grant back: by the person who made it or a custodian of the record. Effective on
    /// the app's next request.
    pub fn revoke_consent(
        &self,
        by: AccountId,
        app: &AppId,
        record: RecordId,
        granted_by: AccountId,
    ) -> ServiceResult<()> {
        let (_, access) = self.person_access(by, record)?;
        if by != granted_by && !access.is_custodian() {
            return Err(ServiceError::Forbidden(
                "only the person who authorised the app or a custodian may remove it".into(),
            ));
        }
        self.revoke_grant(Context::person(by), app, record, granted_by)
    }

    fn revoke_grant(
        &self,
        ctx: Context,
        app: &AppId,
        record: RecordId,
        granted_by: AccountId,
    ) -> ServiceResult<()> {
        let mut grant = self
            .store
            .grant(app, record, granted_by)?
            .filter(Grant::is_active)
            .ok_or_else(|| ServiceError::NotFound("this app is not authorised on this record".into()))?;
        grant.revoked_at = Some(self.now());
        grant.updated_at = self.now();
        let mut audit = self.audit_entry(&ctx, Some(record), AuditAction::ConsentRevoked);
        audit.app = Some(app.clone());
        audit.account = ctx.actor().account.or(Some(granted_by));
        self.store.put_grant(&grant, &audit)?;
        Ok(())
    }

    /// An app removes its own authorisation (HealthVault `RemoveApplicationRecordAuthorization`):
    /// the grants behind the token (its record, or every record for a `user/` token) end, and so
    /// do the token and its family.
    pub fn app_removes_authorisation(&self, ctx: &Context, token_family: &str) -> ServiceResult<u64> {
        let crate::context::Principal::App(a) = &ctx.principal else {
            return Err(ServiceError::Forbidden(
                "only an app removes its own authorisation".into(),
            ));
        };
        let Some(account) = a.account else {
            return Err(ServiceError::Forbidden("this token acts for no person".into()));
        };
        let mut n = 0;
        for g in self.store.grants_by_account(account)? {
            if g.app == a.app && g.is_active() && a.record.is_none_or(|r| r == g.record) {
                self.revoke_grant(ctx.clone(), &a.app, g.record, account)?;
                n += 1;
            }
        }
        let audit = self.audit_entry(ctx, a.record, AuditAction::TokenRevoked);
        self.store.revoke_family(token_family, self.now(), Some(&audit))?;
        Ok(n)
    }

    /// The records an app's token reaches: its one record, the person's records the app holds
    /// an active grant on, or (backend services) every record it holds a grant on.
    pub fn records_for(&self, ctx: &Context) -> ServiceResult<Vec<RecordId>> {
        let crate::context::Principal::App(a) = &ctx.principal else {
            return Err(ServiceError::Forbidden(
                "only app tokens are resolved to records".into(),
            ));
        };
        if let Some(r) = a.record {
            return Ok(vec![r]);
        }
        let mut out: Vec<RecordId> = match (a.issuer, a.account) {
            (hearth_domain::auth::TokenIssuer::Operator, Some(acc)) => self
                .live_records_of(acc)?
                .into_iter()
                .map(|(r, _)| r.id)
                .collect(),
            (hearth_domain::auth::TokenIssuer::Operator, None) => vec![],
            (_, Some(acc)) => self
                .store
                .grants_by_account(acc)?
                .into_iter()
                .filter(|g| g.app == a.app && g.is_active())
                .map(|g| g.record)
                .collect(),
            (_, None) => self
                .store
                .grants_of_app(&a.app)?
                .into_iter()
                .filter(|g| g.is_active())
                .map(|g| g.record)
                .collect(),
        };
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Notes an app's read or write on its grants (at most once a minute per grant).
    pub(crate) fn note_app_use(&self, decision: &Decision, used: GrantUse) {
        let Some(side) = &decision.app else { return };
        let now = self.now();
        for (g, _) in &side.grants {
            let last = match used {
                GrantUse::Read => g.last_read_at,
                GrantUse::Write => g.last_write_at,
            };
            if last.is_none_or(|t: Timestamp| now.0 - t.0 > 60_000_000)
                && let Err(e) = self.store.touch_grant(&g.app, g.record, g.account, used, now)
            {
                tracing::warn!(error = %e, "could not note an app's use of its grant");
            }
        }
    }
}

/// What the scopes allow across a rule's data types (any type counts).
fn scoped_perms(scopes: &Scopes, types: &hearth_domain::auth::TypeSet) -> Perms {
    hearth_domain::datatypes::registry()
        .all()
        .iter()
        .filter(|dt| types.contains(dt.key))
        .fold(Perms::NONE, |p, dt| p.union(scopes.perms_for(dt.key)))
}

fn grant_types(g: &Grant) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in &g.rules {
        match &r.data_types {
            hearth_domain::auth::TypeSet::All(_) => v.push("*".into()),
            hearth_domain::auth::TypeSet::Only(t) => v.extend(t.iter().cloned()),
        }
    }
    v.sort();
    v.dedup();
    v
}
