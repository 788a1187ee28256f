//! The record's sharing page (healthvault.md §4; custodians only): the people who can see the
//! record with their level, data types, expiry and audit rights, which custodians change or
//! remove; pending invitations, resent or cancelled; and the invitation form (email, name,
//! relationship, level, all or chosen data types, access expiry, audit rights, note, PIN, how
//! long the invitation stays open), including handing the record over to its person.
//!
//! - `GET /records/{id}/sharing`
//! - `POST /records/{id}/sharing/invite`
//! - `POST /records/{id}/sharing/invitations/{inv}/resend`, `…/cancel`
//! - `POST /records/{id}/sharing/people/{account}` (change), `…/remove`
//!
//! Dates are days (UTC): access "until 2026-12-01" ends at the start of 2 December 2026 UTC.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::sharing::invitations::InviteRequest;
use hearth_core::sharing::people::AccessChange;
use hearth_core::sharing::{level_label, types_label};
use hearth_core::{Context, ServiceError};
use hearth_domain::datatypes::registry;
use hearth_domain::{AccessLevel, AccountId, InvitationId, RecordId, Relationship, Timestamp};

use super::form::FormFields;
use super::record::{not_found, posted, posted_about, record_id};
use super::record_nav::{RecordNav, Section, nav_for};
use super::records::relationship_label;
use super::render::{self, FieldErrors, blocking, when};
use super::session::Person;
use crate::AppState;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

struct PersonRow {
    account: String,
    name: String,
    email: String,
    relationship: &'static str,
    level: &'static str,
    level_value: &'static str,
    types: String,
    all_types: bool,
    choices: Vec<Choice>,
    expires: String,
    expires_date: String,
    audit: bool,
    live: bool,
    is_me: bool,
}

struct InvitationRow {
    id: String,
    name: String,
    email: String,
    level: &'static str,
    types: String,
    access_until: String,
    status: &'static str,
    sent: String,
    open_until: String,
    pending: bool,
    hand_over: bool,
}

#[derive(Template)]
#[template(path = "sharing.html")]
struct SharingPage {
    layout: render::Layout,
    nav: Option<RecordNav>,
    csrf: String,
    id: String,
    name: String,
    people: Vec<PersonRow>,
    invitations: Vec<InvitationRow>,
    relationships: Vec<Choice>,
    types: Vec<Choice>,
    form: FormFields,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
    today: String,
}

/// The day (`YYYY-MM-DD`) of a time, UTC.
pub fn day_of(t: Timestamp) -> String {
    t.to_rfc3339().get(0..10).unwrap_or_default().to_string()
}

/// The end of a day typed as `YYYY-MM-DD`: the start of the next day, UTC.
pub fn end_of_day(day: &str) -> Option<Timestamp> {
    let start = Timestamp::parse_rfc3339(&format!("{}T00:00:00Z", day.trim()))?;
    Some(start.plus_seconds(86_400))
}

/// The named data types as checkboxes, `chosen` checked.
pub fn type_choices(chosen: &[String]) -> Vec<Choice> {
    registry()
        .named()
        .iter()
        .map(|d| Choice {
            value: d.key.to_string(),
            label: d.name.to_string(),
            selected: chosen.iter().any(|c| c == d.key),
        })
        .collect()
}

fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "invited" => Some("The invitation is sent."),
        "resent" => Some("The invitation is sent again, with a new link."),
        "cancelled" => Some("The invitation is cancelled."),
        "changed" => Some("The access is changed."),
        "removed" => Some("The access is removed."),
        _ => None,
    }
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn sharing_page(
    state: &AppState,
    person: &Person,
    id: RecordId,
    status: StatusCode,
    form: FormFields,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
) -> Response {
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let me = person.account();
    let loaded = blocking(move || {
        let people = svc.record_people(&ctx, id)?;
        let invitations = svc.invitations(&ctx, id)?;
        let record = svc.record(&ctx, id)?;
        let nav = nav_for(&svc, &ctx, &record, Section::Sharing)?;
        Ok((record, nav, people, invitations, svc.now()))
    })
    .await;
    let (record, nav, people, invitations, now) = match loaded {
        Ok(v) => v,
        Err(ServiceError::NotFound(_)) => return not_found(person),
        Err(e) => return render::service_error(&e, person.layout("Sharing")),
    };
    let people = people
        .into_iter()
        .map(|p| PersonRow {
            account: p.access.account_id.to_string(),
            name: p.name,
            email: p.email,
            relationship: relationship_label(p.access.relationship),
            level: level_label(p.access.level),
            level_value: p.access.level.as_str(),
            types: types_label(p.access.data_types.as_deref()),
            all_types: p.access.data_types.is_none(),
            choices: type_choices(p.access.data_types.as_deref().unwrap_or_default()),
            expires: p.access.expires_at.map_or_else(|| "No time limit".into(), when),
            expires_date: p
                .access
                .expires_at
                .map(|t| day_of(Timestamp(t.0 - 1)))
                .unwrap_or_default(),
            audit: p.access.reads_audit(),
            live: p.live,
            is_me: p.access.account_id == me,
        })
        .collect();
    let invitations = invitations
        .into_iter()
        .map(|i| InvitationRow {
            id: i.id.to_string(),
            name: i.name.clone(),
            email: i.email.clone(),
            level: level_label(i.level),
            types: types_label(i.data_types.as_deref()),
            access_until: i.access_expires_at.map_or_else(|| "No time limit".into(), when),
            status: i.shown_status(now),
            sent: when(i.sent_at),
            open_until: when(i.expires_at),
            pending: i.is_open(now) || i.shown_status(now) == "expired",
            hand_over: i.hand_over,
        })
        .collect();
    let chosen = form.all("types");
    let relationship = form.opt("relationship").unwrap_or("friend").to_string();
    render::page(
        status,
        &SharingPage {
            layout: person.layout(&format!("Sharing · {}", record.display_name)),
            nav,
            csrf: person.csrf(),
            id: id.to_string(),
            name: record.display_name,
            people,
            invitations,
            relationships: Relationship::ALL
                .iter()
                .map(|r| Choice {
                    value: r.as_str().into(),
                    label: relationship_label(*r).into(),
                    selected: r.as_str() == relationship,
                })
                .collect(),
            types: type_choices(&chosen),
            form,
            errors,
            alert,
            notice,
            today: day_of(now),
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let Some(id) = record_id(&id) else {
        return not_found(&person);
    };
    let notice = q.notice.as_deref().and_then(notice_text).map(String::from);
    sharing_page(
        &state,
        &person,
        id,
        StatusCode::OK,
        FormFields::default(),
        FieldErrors::default(),
        None,
        notice,
    )
    .await
}

/// The sharing page answering a refused form.
async fn refused(
    state: &AppState,
    person: &Person,
    id: RecordId,
    form: FormFields,
    e: ServiceError,
) -> Response {
    const FIELDS: &[&str] = &[
        "email",
        "name",
        "types",
        "access_expires",
        "note",
        "pin",
        "invitation_days",
        "expires",
    ];
    let status = render::status_of(&e);
    match e {
        ServiceError::Invalid(issues) => {
            let (errors, alert) = FieldErrors::split(&issues, FIELDS);
            sharing_page(state, person, id, status, form, errors, alert, None).await
        }
        e @ (ServiceError::Conflict(_) | ServiceError::Forbidden(_) | ServiceError::Throttled { .. }) => {
            let why = render::words_of(&e);
            sharing_page(
                state,
                person,
                id,
                status,
                form,
                FieldErrors::default(),
                Some(why),
                None,
            )
            .await
        }
        ServiceError::NotFound(_) => not_found(person),
        e => render::service_error(&e, person.layout("Sharing")),
    }
}

/// `None` for "all types", else the chosen ones.
fn chosen_types(form: &FormFields) -> Option<Vec<String>> {
    (form.get("scope") == "chosen").then(|| form.all("types"))
}

pub async fn invite(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let id = match posted(&person, &id, &form) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let hand_over = form.get("hand_over") == "yes";
    let level = AccessLevel::parse(form.get("level")).unwrap_or(AccessLevel::View);
    let access_expires_at = end_of_day(form.get("access_expires"));
    if !hand_over
        && level != AccessLevel::Custodian
        && !form.get("access_expires").is_empty()
        && access_expires_at.is_none()
    {
        let errors = FieldErrors::one("access_expires", "Enter a date like 2027-01-31.");
        return sharing_page(
            &state,
            &person,
            id,
            StatusCode::BAD_REQUEST,
            form,
            errors,
            None,
            None,
        )
        .await;
    }
    let req = InviteRequest {
        email: form.get("email").into(),
        name: form.get("name").into(),
        relationship: form.get("relationship").parse().unwrap_or(Relationship::Other),
        level,
        data_types: chosen_types(&form),
        access_expires_at,
        audit: form.get("audit") == "yes",
        note: form.opt("note").map(String::from),
        pin: form.opt("pin").map(String::from),
        invitation_days: form.get("invitation_days").parse().unwrap_or(7),
        hand_over,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.invite(&ctx, id, req)).await {
        Ok(_) => Redirect::to(&format!("/records/{id}/sharing?notice=invited")).into_response(),
        Err(e) => refused(&state, &person, id, form, e).await,
    }
}

pub async fn resend(
    State(state): State<AppState>,
    person: Person,
    Path((id, inv)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    invitation_action(state, person, id, inv, form, true).await
}

pub async fn cancel(
    State(state): State<AppState>,
    person: Person,
    Path((id, inv)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    invitation_action(state, person, id, inv, form, false).await
}

async fn invitation_action(
    state: AppState,
    person: Person,
    id: String,
    inv: String,
    form: FormFields,
    resend: bool,
) -> Response {
    let (id, inv) = match posted_about::<InvitationId>(&person, &id, &inv, &form) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let done = blocking(move || {
        if resend {
            svc.resend_invitation(&ctx, id, inv)
        } else {
            svc.cancel_invitation(&ctx, id, inv)
        }
    })
    .await;
    let notice = if resend { "resent" } else { "cancelled" };
    match done {
        Ok(()) => Redirect::to(&format!("/records/{id}/sharing?notice={notice}")).into_response(),
        Err(e) => refused(&state, &person, id, FormFields::default(), e).await,
    }
}

pub async fn change(
    State(state): State<AppState>,
    person: Person,
    Path((id, account)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    let (id, account) = match posted_about::<AccountId>(&person, &id, &account, &form) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let change = AccessChange {
        level: AccessLevel::parse(form.get("level")).unwrap_or(AccessLevel::View),
        data_types: chosen_types(&form),
        expires_at: end_of_day(form.get("expires")),
        audit: form.get("audit") == "yes",
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.change_access(&ctx, id, account, change)).await {
        Ok(_) => Redirect::to(&format!("/records/{id}/sharing?notice=changed")).into_response(),
        Err(e) => refused(&state, &person, id, FormFields::default(), e).await,
    }
}

pub async fn remove(
    State(state): State<AppState>,
    person: Person,
    Path((id, account)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    let (id, account) = match posted_about::<AccountId>(&person, &id, &account, &form) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.remove_access(&ctx, id, account)).await {
        Ok(()) if account == person.account() => Redirect::to("/records?notice=left").into_response(),
        Ok(()) => Redirect::to(&format!("/records/{id}/sharing?notice=removed")).into_response(),
        Err(e) => refused(&state, &person, id, FormFields::default(), e).await,
    }
}
