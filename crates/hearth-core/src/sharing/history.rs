//! The record's history of changes (healthvault.md §6.2: `GetRecordAudit`): every read and write
//! by people and apps, newest first, filtered by person, app, data type, action and date, with
//! names. Custodians and people given audit rights read it (the `ReadAudit` decision in `authz`);
//! reading it is itself audited.

use std::collections::HashMap;

use hearth_domain::audit::AuditFilter;
use hearth_domain::datatypes::registry;
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId};

use crate::{Context, ServiceResult, Services};

/// One line of the history, with the names people read.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    pub entry: AuditEntry,
    /// The person, or "" when no person acted (an app on its own, the server).
    pub person: String,
    /// The app's name, when an app acted.
    pub app: Option<String>,
    /// Names of the data types touched.
    pub data_types: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// `before_id` for the next (older) page, when there may be one.
    pub older: Option<i64>,
}

/// Names of accounts and apps, looked up once per page.
#[derive(Default)]
struct Names {
    people: HashMap<AccountId, String>,
    apps: HashMap<AppId, String>,
}

impl Services {
    /// A page of the record's history of changes (custodians and people with audit rights).
    pub fn history_of_changes(
        &self,
        ctx: &Context,
        record: RecordId,
        filter: &AuditFilter,
    ) -> ServiceResult<HistoryPage> {
        let limit = if filter.limit == 0 {
            50
        } else {
            filter.limit.min(500)
        };
        let filter = AuditFilter {
            limit: limit + 1,
            ..filter.clone()
        };
        let mut trail = self.audit_trail(ctx, record, &filter)?;
        let more = trail.len() > limit as usize;
        trail.truncate(limit as usize);
        let mut names = Names::default();
        let entries = trail
            .into_iter()
            .map(|entry| {
                let person = entry
                    .account
                    .map_or_else(String::new, |a| self.person_name(&mut names, a));
                let app = entry.app.as_ref().map(|a| self.app_name(&mut names, a));
                let data_types = entry
                    .data_types
                    .iter()
                    .map(|k| {
                        registry()
                            .get(k)
                            .map_or_else(|| k.clone(), |d| d.name.to_string())
                    })
                    .collect();
                HistoryEntry {
                    entry,
                    person,
                    app,
                    data_types,
                }
            })
            .collect::<Vec<_>>();
        let older = if more {
            entries.last().map(|e| e.entry.id)
        } else {
            None
        };
        Ok(HistoryPage { entries, older })
    }

    fn person_name(&self, names: &mut Names, account: AccountId) -> String {
        names
            .people
            .entry(account)
            .or_insert_with(|| {
                self.store
                    .account(account)
                    .ok()
                    .flatten()
                    .map_or_else(|| "(closed account)".into(), |a| a.display_name)
            })
            .clone()
    }

    fn app_name(&self, names: &mut Names, app: &AppId) -> String {
        names
            .apps
            .entry(app.clone())
            .or_insert_with(|| {
                self.store
                    .app(app)
                    .ok()
                    .flatten()
                    .map_or_else(|| app.0.clone(), |a| a.name)
            })
            .clone()
    }
}
