//! Emergency access pages (healthvault.md §4).
//!
//! For custodians:
//! - `GET /records/{id}/emergency`: what the emergency profile shows (sections, a note for first
//!   responders), a preview, the codes (with their last four characters, uses, revoke), and
//!   creating a code.
//! - `POST /records/{id}/emergency/profile` (`sections`, `note`, `csrf`)
//! - `POST /records/{id}/emergency/codes` (`csrf`): creates a code and shows it once, with the
//!   wallet card to print.
//! - `POST /records/{id}/emergency/card` (`code`, `csrf`): the wallet card PDF for an active code.
//! - `POST /records/{id}/emergency/codes/{code}/revoke` (`csrf`)
//!
//! For anyone:
//! - `GET /emergency`, `POST /emergency` (`code`): the profile a code opens, read-only, never
//!   cached. No session is involved, so no CSRF token; wrong codes are rate-limited per address.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::sharing::emergency::{EmergencyBlock, EmergencyView};
use hearth_core::{Context, ServiceError};
use hearth_domain::sharing::EmergencySection;
use hearth_domain::{EmergencyCodeId, RecordId};

use super::form::FormFields;
use super::record::{not_found, posted, posted_about, record_id};
use super::record_nav::{RecordNav, Section, nav_for};
use super::render::{self, FieldErrors, Layout, blocking, when, when_or_never};
use super::session::{Client, Person};
use crate::AppState;

struct SectionChoice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

struct CodeRow {
    id: String,
    hint: String,
    created: String,
    last_used: String,
    uses: u32,
    active: bool,
}

#[derive(Template)]
#[template(path = "emergency_settings.html")]
struct SettingsPage {
    layout: Layout,
    nav: Option<RecordNav>,
    csrf: String,
    id: String,
    name: String,
    sections: Vec<SectionChoice>,
    note: String,
    codes: Vec<CodeRow>,
    preview: EmergencyView,
    new_code: Option<String>,
    address: String,
    errors: FieldErrors,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "emergency.html")]
struct PublicPage {
    layout: Layout,
    view: Option<EmergencyView>,
    errors: FieldErrors,
}

fn label(s: EmergencySection) -> &'static str {
    s.label()
}

#[allow(clippy::too_many_arguments)]
async fn settings_page(
    state: &AppState,
    person: &Person,
    id: RecordId,
    status: StatusCode,
    new_code: Option<String>,
    errors: FieldErrors,
    notice: Option<String>,
) -> Response {
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let loaded = blocking(move || {
        let settings = svc.emergency_settings(&ctx, id)?;
        let record = svc.record(&ctx, id)?;
        let nav = nav_for(&svc, &ctx, &record, Section::Emergency)?;
        Ok((record, nav, settings))
    })
    .await;
    let (record, nav, settings) = match loaded {
        Ok(v) => v,
        Err(ServiceError::NotFound(_)) => return not_found(person),
        Err(e) => return render::service_error(&e, person.layout("Emergency access")),
    };
    let page = SettingsPage {
        layout: person.layout(&format!("Emergency access · {}", record.display_name)),
        nav,
        csrf: person.csrf(),
        id: id.to_string(),
        name: record.display_name,
        sections: EmergencySection::ALL
            .into_iter()
            .map(|s| SectionChoice {
                value: s.as_str(),
                label: label(s),
                checked: settings.profile.shows(s),
            })
            .collect(),
        note: settings.profile.note.clone().unwrap_or_default(),
        codes: settings
            .codes
            .iter()
            .map(|c| CodeRow {
                id: c.id.to_string(),
                hint: c.hint.clone(),
                created: when(c.created_at),
                last_used: when_or_never(c.last_used_at),
                uses: c.uses,
                active: c.is_active(),
            })
            .collect(),
        preview: settings.preview,
        new_code,
        address: state.services.auth_settings().url("/emergency"),
        errors,
        notice,
    };
    let mut res = render::page(status, &page);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Response {
    let Some(id) = record_id(&id) else {
        return not_found(&person);
    };
    let notice = match q.notice.as_deref() {
        Some("saved") => Some("The emergency profile is saved.".to_string()),
        Some("revoked") => Some("The code no longer works.".to_string()),
        _ => None,
    };
    settings_page(
        &state,
        &person,
        id,
        StatusCode::OK,
        None,
        FieldErrors::default(),
        notice,
    )
    .await
}

pub async fn save_profile(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let id = match posted(&person, &id, &form) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let sections = form
        .all("sections")
        .iter()
        .filter_map(|s| EmergencySection::parse(s))
        .collect();
    let note = form.opt("note").map(String::from);
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.set_emergency_profile(&ctx, id, sections, note)).await {
        Ok(_) => Redirect::to(&format!("/records/{id}/emergency?notice=saved")).into_response(),
        Err(ServiceError::Invalid(issues)) => {
            let (errors, _) = FieldErrors::split(&issues, &["note"]);
            settings_page(&state, &person, id, StatusCode::BAD_REQUEST, None, errors, None).await
        }
        Err(ServiceError::NotFound(_)) => not_found(&person),
        Err(e) => render::service_error(&e, person.layout("Emergency access")),
    }
}

pub async fn create_code(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let id = match posted(&person, &id, &form) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.create_emergency_code(&ctx, id)).await {
        Ok((_, code)) => {
            settings_page(
                &state,
                &person,
                id,
                StatusCode::OK,
                Some(code),
                FieldErrors::default(),
                None,
            )
            .await
        }
        Err(ServiceError::NotFound(_)) => not_found(&person),
        Err(e) => render::service_error(&e, person.layout("Emergency access")),
    }
}

pub async fn revoke_code(
    State(state): State<AppState>,
    person: Person,
    Path((id, code)): Path<(String, String)>,
    form: FormFields,
) -> Response {
    let (id, code) = match posted_about::<EmergencyCodeId>(&person, &id, &code, &form) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.revoke_emergency_code(&ctx, id, code)).await {
        Ok(()) => Redirect::to(&format!("/records/{id}/emergency?notice=revoked")).into_response(),
        Err(ServiceError::NotFound(_)) => not_found(&person),
        Err(e) => render::service_error(&e, person.layout("Emergency access")),
    }
}

pub async fn card(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let id = match posted(&person, &id, &form) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let typed = form.get("code").trim().to_string();
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let address = state.services.auth_settings().url("/emergency");
    let made = blocking(move || {
        svc.emergency_code_of(&ctx, id, &typed)?;
        let name = svc.emergency_settings(&ctx, id)?.preview.record_name;
        super::wallet_card::render(&name, &address, &typed.to_uppercase())
            .map_err(|e| ServiceError::Internal(format!("wallet card: {e}")))
    })
    .await;
    match made {
        Ok(pdf) => {
            let mut res = pdf.into_response();
            let h = res.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"emergency-card.pdf\""),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(ServiceError::Invalid(issues)) => {
            let (errors, _) = FieldErrors::split(&issues, &["code"]);
            settings_page(&state, &person, id, StatusCode::BAD_REQUEST, None, errors, None).await
        }
        Err(ServiceError::NotFound(_)) => not_found(&person),
        Err(e) => render::service_error(&e, person.layout("Emergency access")),
    }
}

fn public(status: StatusCode, view: Option<EmergencyView>, errors: FieldErrors) -> Response {
    let mut res = render::page(
        status,
        &PublicPage {
            layout: Layout::public("Emergency profile"),
            view,
            errors,
        },
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub async fn enter() -> Response {
    public(StatusCode::OK, None, FieldErrors::default())
}

pub async fn open(State(state): State<AppState>, client: Client, form: FormFields) -> Response {
    let typed = form.get("code").to_string();
    let svc = state.services.clone();
    match blocking(move || svc.open_emergency(&typed, &client.addr)).await {
        Ok(view) => public(StatusCode::OK, Some(view), FieldErrors::default()),
        Err(ServiceError::Invalid(issues)) => {
            let (errors, _) = FieldErrors::split(&issues, &["code"]);
            public(StatusCode::BAD_REQUEST, None, errors)
        }
        Err(ServiceError::Throttled { retry_after_secs }) => render::with_retry_after(
            public(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                FieldErrors::one("code", render::throttled_text(retry_after_secs)),
            ),
            retry_after_secs,
        ),
        Err(e) => render::service_error(&e, Layout::public("Emergency profile")),
    }
}

/// For templates: a block's heading.
pub fn block_label(b: &EmergencyBlock) -> &'static str {
    b.section.label()
}
