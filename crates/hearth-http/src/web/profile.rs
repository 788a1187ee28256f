//! A record's profile (healthvault.md §2.3 Personal demographic, Personal contact information,
//! Contact; §10.3 "record profile edit"): demographics on the record's Patient, emergency
//! contacts (Patient.contact), the blood type (a LOINC 882-1 Observation, see
//! `hearth_core::entry::profile`) and the picture (the settings page's upload, returning here).
//!
//! - `GET /records/{id}/profile`
//! - `POST /records/{id}/profile` (`csrf`, `version`, the demographics fields, `contacts` = the
//!   number of contact rows, `contact{n}_name|relationship|phone`, `blood_type`)
//!
//! People who may change demographics edit; the others see the profile read-only.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::authz::Operation;
use hearth_core::entry::profile::{ContactRow, blood_groups, blood_type_of, contacts};
use hearth_core::entry::{self, EntryForm, Profile, ProfileUpdate, Values};
use hearth_core::{Context, ServiceError};
use hearth_domain::RecordId;
use serde_json::Value;

use super::entry::{FieldView, OptionView, field_views, submitted};
use super::form::FormFields;
use super::item::Fact;
use super::record::{picture_of, record_id};
use super::record_nav::{RecordNav, RecordView, Section, failed};
use super::render::{self, FieldErrors, blocking};
use super::session::{Person, csrf_refused};
use crate::AppState;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: render::Layout,
    nav: RecordNav,
    id: String,
    name: String,
    csrf: String,
    version: u32,
    can_edit: bool,
    edit_blood: bool,
    fields: Vec<FieldView>,
    facts: Vec<Fact>,
    contacts: Vec<ContactRow>,
    show_blood: bool,
    blood_options: Vec<OptionView>,
    blood_words: String,
    has_picture: bool,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<&'static str>,
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn demographics() -> &'static EntryForm {
    entry::form("demographics").unwrap_or_else(|| unreachable!("the catalogue has demographics"))
}

/// What the page shows beyond the stored profile: a refused form's fields and what was said.
#[derive(Default)]
struct Draft {
    values: Option<Values>,
    contacts: Option<Vec<ContactRow>>,
    blood: Option<String>,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<&'static str>,
}

async fn profile_page(
    state: &AppState,
    person: &Person,
    id: RecordId,
    status: StatusCode,
    draft: Draft,
) -> Response {
    let Draft {
        errors,
        alert,
        notice,
        ..
    } = &draft;
    let (errors, alert, notice) = (errors.clone(), alert.clone(), *notice);
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let loaded = blocking(move || {
        let view = RecordView::load(&svc, &ctx, id)?;
        let profile = svc.profile(&ctx, id)?;
        let has_picture = picture_of(&svc, &ctx, id)?.is_some();
        Ok((view, profile, has_picture))
    })
    .await;
    let (view, Profile { patient, blood_type }, has_picture) = match loaded {
        Ok(x) => x,
        Err(e) => return failed(person, &e, "Profile"),
    };
    let form = demographics();
    let resource: Value = patient
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let mut values = form.values(&resource);
    if let Some(v) = draft.values {
        values.extend(v);
    }
    let can_edit = view.may("demographics", Operation::Update);
    let mut rows = draft.contacts.unwrap_or_else(|| contacts(&resource));
    if can_edit {
        rows.push(ContactRow::default());
    }
    let current_blood = blood_type
        .as_ref()
        .and_then(|i| i.body.as_deref())
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .as_ref()
        .and_then(blood_type_of)
        .unwrap_or_default();
    let blood = draft.blood.unwrap_or(current_blood);
    let may_blood = view.may("lab-result", Operation::Create) && view.may("lab-result", Operation::Update);
    let facts = form
        .fields
        .iter()
        .filter_map(|f| {
            let v = values.get(f.name).filter(|v| !v.is_empty())?;
            let words = f
                .input
                .choices()
                .iter()
                .find(|c| c.code == v)
                .map_or(v.as_str(), |c| c.label);
            Some(Fact {
                label: f.label.to_string(),
                value: words.to_string(),
            })
        })
        .collect();
    let blood_words = blood_groups()
        .iter()
        .find(|c| c.code == blood)
        .map_or_else(|| "Not recorded".to_string(), |c| c.label.to_string());
    let blood_options = std::iter::once(("", "Not recorded"))
        .chain(blood_groups().iter().map(|c| (c.code, c.label)))
        .map(|(v, l)| OptionView {
            value: v.into(),
            label: l.into(),
            selected: v == blood,
        })
        .collect();
    render::page(
        status,
        &ProfilePage {
            layout: person.layout(&format!("Profile · {}", view.record.display_name)),
            nav: view.nav(Section::Profile),
            id: id.to_string(),
            name: view.record.display_name.clone(),
            csrf: person.csrf(),
            version: patient.meta.version,
            fields: field_views(form, &values, &errors, "p-"),
            facts,
            contacts: rows,
            show_blood: view.may("lab-result", Operation::Read),
            blood_options,
            blood_words,
            has_picture,
            can_edit,
            edit_blood: can_edit && may_blood,
            errors,
            alert,
            notice,
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
        return super::record::not_found(&person);
    };
    let notice = match q.notice.as_deref() {
        Some("saved") => Some("The profile is saved."),
        Some("picture") => Some("The picture is saved."),
        _ => None,
    };
    let draft = Draft {
        notice,
        ..Default::default()
    };
    profile_page(&state, &person, id, StatusCode::OK, draft).await
}

fn contact_rows(fields: &FormFields) -> Vec<ContactRow> {
    let n: usize = fields.get("contacts").parse().unwrap_or(0);
    (0..n.min(50))
        .map(|i| ContactRow {
            name: fields.get(&format!("contact{i}_name")).to_string(),
            relationship: fields.get(&format!("contact{i}_relationship")).to_string(),
            phone: fields.get(&format!("contact{i}_phone")).to_string(),
        })
        .collect()
}

pub async fn save(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    fields: FormFields,
) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    if !person.csrf_ok(fields.get("csrf")) {
        return csrf_refused();
    }
    let form = demographics();
    let update = ProfileUpdate {
        version: fields.get("version").parse().unwrap_or(0),
        values: submitted(form, &fields),
        contacts: contact_rows(&fields),
        blood_type: fields.opt("blood_type").map(str::to_string),
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let u = update.clone();
    match blocking(move || svc.update_profile(&ctx, id, &u)).await {
        Ok(()) => Redirect::to(&format!("/records/{id}/profile?notice=saved")).into_response(),
        Err(e @ ServiceError::VersionConflict(_)) => {
            let draft = Draft {
                alert: Some(render::words_of(&e)),
                ..Default::default()
            };
            profile_page(&state, &person, id, StatusCode::CONFLICT, draft).await
        }
        Err(ServiceError::Invalid(issues)) => {
            let mut names: Vec<&str> = form.fields.iter().map(|f| f.name).collect();
            names.push("blood_type");
            let (errors, alert) = FieldErrors::split(&issues, &names);
            let draft = Draft {
                values: Some(update.values),
                contacts: Some(update.contacts.into_iter().filter(|c| !c.is_empty()).collect()),
                blood: update.blood_type,
                errors,
                alert: alert.or_else(|| Some("Some fields need attention: see below.".into())),
                notice: None,
            };
            profile_page(&state, &person, id, StatusCode::BAD_REQUEST, draft).await
        }
        Err(e) => render::service_error(&e, person.layout("Profile")),
    }
}
