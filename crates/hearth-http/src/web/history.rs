//! The record's history of changes (healthvault.md §6.2): every read and write by people and
//! apps, newest first, filtered by person, app, data type, action and date, 50 to a page.
//! Custodians and people given audit rights see it; others are refused by the services.
//!
//! - `GET /records/{id}/history?person=&app=&type=&action=&from=&to=&before=`

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hearth_core::{Context, ServiceError};
use hearth_domain::audit::AuditFilter;
use hearth_domain::datatypes::registry;
use hearth_domain::{AccountId, AppId, AuditAction, AuditOutcome};

use super::record::{not_found, record_id};
use super::record_nav::{RecordNav, Section, nav_for};
use super::render::{self, blocking, when};
use super::session::{Person, encode};
use super::sharing::{Choice, end_of_day};
use crate::AppState;

#[derive(serde::Deserialize, Default)]
pub struct HistoryQuery {
    #[serde(default)]
    person: String,
    #[serde(default)]
    app: String,
    #[serde(default, rename = "type")]
    data_type: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<i64>,
}

struct Row {
    at: String,
    who: String,
    action: &'static str,
    types: String,
    items: usize,
    outcome: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    layout: render::Layout,
    nav: Option<RecordNav>,
    id: String,
    name: String,
    rows: Vec<Row>,
    people: Vec<Choice>,
    types: Vec<Choice>,
    actions: Vec<Choice>,
    q: HistoryQuery,
    older: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let Some(id) = record_id(&id) else {
        return not_found(&person);
    };
    let filter = AuditFilter {
        account: q.person.parse::<AccountId>().ok(),
        app: (!q.app.trim().is_empty()).then(|| AppId(q.app.trim().to_string())),
        action: AuditAction::parse(&q.action),
        data_type: registry().get(&q.data_type).map(|d| d.key.to_string()),
        from: end_of_day(&q.from).map(|t| t.plus_seconds(-86_400)),
        to: end_of_day(&q.to),
        before_id: q.before,
        limit: 50,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let loaded = blocking(move || {
        let page = svc.history_of_changes(&ctx, id, &filter)?;
        let record = svc.record(&ctx, id)?;
        let nav = nav_for(&svc, &ctx, &record, Section::History)?;
        let people = svc
            .accesses(&ctx, id)?
            .into_iter()
            .filter_map(|a| svc.account(a.account_id).ok())
            .collect::<Vec<_>>();
        Ok((record, nav, page, people))
    })
    .await;
    let (record, nav, page, people) = match loaded {
        Ok(v) => v,
        Err(ServiceError::NotFound(_)) => return not_found(&person),
        Err(e) => return render::service_error(&e, person.layout("History of changes")),
    };
    let rows = page
        .entries
        .iter()
        .map(|e| {
            let who = match (&e.app, e.person.is_empty()) {
                (Some(app), false) => format!("{} through {app}", e.person),
                (Some(app), true) => app.clone(),
                (None, false) => e.person.clone(),
                (None, true) => "Hearth".into(),
            };
            let (outcome, failed) = match &e.entry.outcome {
                AuditOutcome::Success => ("Done".to_string(), false),
                AuditOutcome::Failure(why) => (format!("Refused: {why}"), true),
            };
            Row {
                at: when(e.entry.at),
                who,
                action: action_label(e.entry.action),
                types: e.data_types.join(", "),
                items: e.entry.items.len(),
                outcome,
                failed,
            }
        })
        .collect();
    let older = page.older.map(|b| {
        format!(
            "?person={}&app={}&type={}&action={}&from={}&to={}&before={b}",
            encode(&q.person),
            encode(&q.app),
            encode(&q.data_type),
            encode(&q.action),
            encode(&q.from),
            encode(&q.to)
        )
    });
    render::page(
        StatusCode::OK,
        &HistoryPage {
            layout: person.layout(&format!("History · {}", record.display_name)),
            nav,
            id: id.to_string(),
            name: record.display_name,
            rows,
            people: people
                .into_iter()
                .map(|a| Choice {
                    selected: a.id.to_string() == q.person,
                    value: a.id.to_string(),
                    label: a.display_name,
                })
                .collect(),
            types: registry()
                .named()
                .iter()
                .map(|d| Choice {
                    value: d.key.into(),
                    label: d.name.into(),
                    selected: d.key == q.data_type,
                })
                .collect(),
            actions: AuditAction::ALL
                .iter()
                .filter(|a| a.is_record_action())
                .map(|a| Choice {
                    value: a.as_str().into(),
                    label: action_label(*a).into(),
                    selected: a.as_str() == q.action,
                })
                .collect(),
            q,
            older,
        },
    )
}

/// Words for an action in the history.
pub fn action_label(a: AuditAction) -> &'static str {
    match a {
        AuditAction::CreateRecord => "Created the record",
        AuditAction::UpdateRecord => "Changed the record",
        AuditAction::GrantAccess => "Gave access",
        AuditAction::RevokeAccess => "Removed access",
        AuditAction::ChangeAccess => "Changed access",
        AuditAction::AccessExpired => "Access expired",
        AuditAction::Read => "Read items",
        AuditAction::Query => "Looked through items",
        AuditAction::History => "Read old versions",
        AuditAction::Write => "Added or changed items",
        AuditAction::Delete => "Deleted items",
        AuditAction::Restore => "Restored items",
        AuditAction::Purge => "Removed items for good",
        AuditAction::Import => "Imported",
        AuditAction::Export => "Exported",
        AuditAction::ReadAudit => "Read the history of changes",
        AuditAction::ConsentGranted => "Authorised an app",
        AuditAction::ConsentChanged => "Changed an app's authorisation",
        AuditAction::ConsentRevoked => "Revoked an app",
        AuditAction::TokenIssued => "An app signed in",
        AuditAction::TokenRefreshed => "An app renewed its sign-in",
        AuditAction::TokenRevoked => "An app's sign-in was revoked",
        AuditAction::BulkExport => "Bulk export",
        AuditAction::BulkDownload => "Bulk export download",
        AuditAction::InvitationSent => "Sent an invitation",
        AuditAction::InvitationResent => "Resent an invitation",
        AuditAction::InvitationCancelled => "Cancelled an invitation",
        AuditAction::InvitationAccepted => "Accepted an invitation",
        AuditAction::InvitationDeclined => "Declined an invitation",
        AuditAction::InvitationPinFailed => "Entered a wrong invitation PIN",
        AuditAction::EmergencyProfileChanged => "Changed the emergency profile",
        AuditAction::EmergencyCodeCreated => "Created an emergency code",
        AuditAction::EmergencyCodeRevoked => "Revoked an emergency code",
        AuditAction::EmergencyAccess => "Emergency profile opened with a code",
        AuditAction::EmergencyAccessFailed => "Emergency code refused",
        AuditAction::DeleteRecord => "Deleted the record",
        _ => a.as_str(),
    }
}
