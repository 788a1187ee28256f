//! The page an invitation link opens (healthvault.md §4: accept with the PIN, or reject).
//! Anyone holding the link sees who invited them to which record at which level; answering
//! needs the account the invitation was sent to (signing up first if needed, then coming back
//! through sign-in, which returns here).
//!
//! - `GET /invitations/{token}`
//! - `POST /invitations/{token}/accept` (`pin`, `csrf`), `POST /invitations/{token}/decline` (`csrf`)

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::ServiceError;
use hearth_core::sharing::{level_label, types_label};

use super::form::FormFields;
use super::render::{self, FieldErrors, Layout, blocking, when};
use super::session::{Person, Session, csrf_refused, with_next};
use crate::AppState;

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    layout: Layout,
    csrf: String,
    token: String,
    signed_in: bool,
    inviter: String,
    record: String,
    level: &'static str,
    types: String,
    access_until: String,
    note: Option<String>,
    needs_pin: bool,
    hand_over: bool,
    open: bool,
    status: &'static str,
    open_until: String,
    sign_in: String,
    errors: FieldErrors,
    alert: Option<String>,
}

async fn invitation_page(
    state: &AppState,
    session: &Session,
    token: String,
    status: StatusCode,
    errors: FieldErrors,
    alert: Option<String>,
) -> Response {
    let person = session.person();
    let layout = person
        .as_ref()
        .map_or_else(|| Layout::public("Invitation"), |p| p.layout("Invitation"));
    let svc = state.services.clone();
    let t = token.clone();
    let view = match blocking(move || Ok((svc.invitation_by_link(&t)?, svc.now()))).await {
        Ok(v) => v,
        Err(e @ ServiceError::NotFound(_)) => return render::service_error(&e, layout),
        Err(e) => return render::service_error(&e, layout),
    };
    let (view, now) = view;
    let inv = &view.invitation;
    let here = format!("/invitations/{token}");
    render::page(
        status,
        &InvitationPage {
            layout,
            csrf: person.as_ref().map(Person::csrf).unwrap_or_default(),
            signed_in: person.is_some(),
            inviter: view.inviter_name.clone(),
            record: view.record_name.clone(),
            level: level_label(inv.level),
            types: types_label(inv.data_types.as_deref()),
            access_until: inv.access_expires_at.map_or_else(|| "no time limit".into(), when),
            note: inv.note.clone(),
            needs_pin: inv.pin_hash.is_some(),
            hand_over: inv.hand_over,
            open: inv.is_open(now),
            status: inv.shown_status(now),
            open_until: when(inv.expires_at),
            sign_in: with_next("/sign-in", Some(&here)),
            token,
            errors,
            alert,
        },
    )
}

pub async fn show(State(state): State<AppState>, session: Session, Path(token): Path<String>) -> Response {
    invitation_page(
        &state,
        &session,
        token,
        StatusCode::OK,
        FieldErrors::default(),
        None,
    )
    .await
}

pub async fn accept(
    State(state): State<AppState>,
    person: Person,
    session: Session,
    Path(token): Path<String>,
    form: FormFields,
) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let svc = state.services.clone();
    let me = person.account();
    let pin = form.get("pin").to_string();
    let t = token.clone();
    match blocking(move || svc.accept_invitation(me, &t, &pin)).await {
        Ok(record) => Redirect::to(&format!("/records/{record}")).into_response(),
        Err(e) => answer_refused(&state, &session, token, e).await,
    }
}

pub async fn decline(
    State(state): State<AppState>,
    person: Person,
    session: Session,
    Path(token): Path<String>,
    form: FormFields,
) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let svc = state.services.clone();
    let me = person.account();
    let t = token.clone();
    match blocking(move || svc.decline_invitation(me, &t)).await {
        Ok(()) => render::message(
            StatusCode::OK,
            person.layout("Invitation declined"),
            "Invitation declined",
            "You declined the invitation. The person who invited you has been told.",
            Some(render::Link {
                href: "/records".into(),
                label: "Your records".into(),
            }),
        ),
        Err(e) => answer_refused(&state, &session, token, e).await,
    }
}

async fn answer_refused(state: &AppState, session: &Session, token: String, e: ServiceError) -> Response {
    let status = render::status_of(&e);
    match e {
        ServiceError::Invalid(issues) => {
            let (errors, alert) = FieldErrors::split(&issues, &["pin"]);
            invitation_page(state, session, token, status, errors, alert).await
        }
        e @ (ServiceError::Conflict(_) | ServiceError::Forbidden(_) | ServiceError::Throttled { .. }) => {
            let why = render::words_of(&e);
            let res = invitation_page(state, session, token, status, FieldErrors::default(), Some(why)).await;
            match e {
                ServiceError::Throttled { retry_after_secs } => {
                    render::with_retry_after(res, retry_after_secs)
                }
                _ => res,
            }
        }
        e => {
            let layout = session
                .person()
                .map_or_else(|| Layout::public("Invitation"), |p| p.layout("Invitation"));
            render::service_error(&e, layout)
        }
    }
}
