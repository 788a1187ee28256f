//! One record's settings page (healthvault.md §2): its name, picture (the Patient's `photo`,
//! FHIR R4 Attachment), the apps authorised on it, leaving it and deleting it.
//!
//! - `GET /records/{id}/settings`
//! - `POST /records/{id}/rename` (`name`, `csrf`)
//! - `POST /records/{id}/picture` (multipart: `picture`, `csrf`, and `back` = `profile` to
//!   return to the profile page); `GET /records/{id}/picture`
//! - `POST /records/{id}/leave` (`csrf`): refused for the last custodian
//! - `POST /records/{id}/delete` (`confirm` = the record's name, `csrf`): custodians only
//!
//! Pictures are served only when their bytes are a PNG, JPEG, GIF or WebP image, with that type:
//! an app may have written any `photo`, and nothing else may be served from this origin.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::{Context, ServiceError, ServiceResult, Services};
use hearth_domain::{AccessLevel, RecordId};

use super::apps::{AppRow, app_rows};
use super::form::FormFields;
use super::record_nav::{RecordNav, Section};
use super::records::{access_label, relationship_label};
use super::render::{self, FieldErrors, blocking};
use super::session::{Person, csrf_refused};
use crate::AppState;

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage {
    layout: render::Layout,
    nav: RecordNav,
    csrf: String,
    id: String,
    name: String,
    relationship: &'static str,
    access: &'static str,
    can_modify: bool,
    is_custodian: bool,
    has_picture: bool,
    apps: Vec<AppRow>,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
}

pub fn record_id(s: &str) -> Option<RecordId> {
    s.parse().ok()
}

/// The record id of a form posted to `/records/{id}/…`, once the form's CSRF token is checked.
pub fn posted(person: &Person, id: &str, form: &FormFields) -> Result<RecordId, Box<Response>> {
    let id = record_id(id).ok_or_else(|| Box::new(not_found(person)))?;
    if !person.csrf_ok(form.get("csrf")) {
        return Err(Box::new(csrf_refused()));
    }
    Ok(id)
}

/// [`posted`] to `/records/{id}/…/{target}`: the record id and the target (an account, an
/// invitation, a code) parsed from the path.
pub fn posted_about<T: std::str::FromStr>(
    person: &Person,
    id: &str,
    target: &str,
    form: &FormFields,
) -> Result<(RecordId, T), Box<Response>> {
    let id = posted(person, id, form)?;
    let target = target.parse().map_err(|_| Box::new(not_found(person)))?;
    Ok((id, target))
}

pub fn not_found(person: &Person) -> Response {
    render::message(
        StatusCode::NOT_FOUND,
        person.layout("Not found"),
        "Record not found",
        "There is no such record, or you have no access to it.",
        Some(render::Link {
            href: "/records".into(),
            label: "Your records".into(),
        }),
    )
}

/// The image type of `bytes`, judged by their first bytes.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The record's picture if it is an image of the type it claims (blocking).
pub fn picture_of(
    svc: &Services,
    ctx: &Context,
    id: RecordId,
) -> ServiceResult<Option<(&'static str, Vec<u8>)>> {
    Ok(svc
        .record_picture(ctx, id)?
        .and_then(|(claimed, bytes)| image_type(&bytes).filter(|t| *t == claimed).map(|t| (t, bytes))))
}

fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "created" => Some("The record is created."),
        "renamed" => Some("The record is renamed."),
        "picture" => Some("The picture is saved."),
        "revoked" => Some("The app may no longer use this record."),
        _ => None,
    }
}

/// The settings page of record `id` for `person`.
pub async fn record_page(
    state: &AppState,
    person: &Person,
    id: RecordId,
    status: StatusCode,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
) -> Response {
    let svc = state.services.clone();
    let me = person.account();
    let loaded = blocking(move || {
        let found = svc
            .list_records(Some(me))?
            .into_iter()
            .find(|(r, _)| r.id == id)
            .and_then(|(r, accesses)| accesses.into_iter().find(|a| a.account_id == me).map(|a| (r, a)));
        let Some((record, access)) = found else {
            return Ok(None);
        };
        let has_picture = picture_of(&svc, &Context::person(me), id)?.is_some();
        let apps = app_rows(&svc, me, id)?;
        Ok(Some((record, access, has_picture, apps)))
    })
    .await;
    let (record, access, has_picture, apps) = match loaded {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(person),
        Err(e) => return render::service_error(&e, person.layout("Record")),
    };
    render::page(
        status,
        &RecordPage {
            layout: person.layout(&record.display_name),
            nav: RecordNav::new(&record, &access, Section::Settings),
            csrf: person.csrf(),
            id: record.id.to_string(),
            name: record.display_name,
            relationship: relationship_label(access.relationship),
            access: access_label(access.level),
            can_modify: access.level >= AccessLevel::Modify,
            is_custodian: access.is_custodian(),
            has_picture,
            apps,
            errors,
            alert,
            notice,
        },
    )
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
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
    record_page(
        &state,
        &person,
        id,
        StatusCode::OK,
        FieldErrors::default(),
        None,
        notice,
    )
    .await
}

/// The record page answering a refused form: invalid fields next to the field, other refusals
/// as the page's alert.
async fn refused(
    state: &AppState,
    person: &Person,
    id: RecordId,
    e: ServiceError,
    fields: &[&str],
) -> Response {
    let status = render::status_of(&e);
    match e {
        ServiceError::Invalid(issues) => {
            let (errors, alert) = FieldErrors::split(&issues, fields);
            record_page(state, person, id, status, errors, alert, None).await
        }
        e @ (ServiceError::Forbidden(_) | ServiceError::Conflict(_) | ServiceError::VersionConflict(_)) => {
            let why = render::words_of(&e);
            record_page(state, person, id, status, FieldErrors::default(), Some(why), None).await
        }
        ServiceError::NotFound(_) => not_found(person),
        e => render::service_error(&e, person.layout("Record")),
    }
}

pub async fn rename(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let id = match posted(&person, &id, &form) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let name = form.get("name").to_string();
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.rename_record(&ctx, id, &name)).await {
        Ok(_) => Redirect::to(&format!("/records/{id}/settings?notice=renamed")).into_response(),
        Err(e) => refused(&state, &person, id, e, &["name"]).await,
    }
}

pub async fn upload_picture(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let Some(id) = record_id(&id) else {
        return not_found(&person);
    };
    let mut csrf = String::new();
    let mut back = String::new();
    let mut picture: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                let read = match name.as_str() {
                    "csrf" => field.text().await.map(|t| csrf = t),
                    "back" => field.text().await.map(|t| back = t),
                    "picture" => field.bytes().await.map(|b| picture = Some(b.to_vec())),
                    _ => Ok(()),
                };
                if let Err(e) = read {
                    let status = e.status();
                    let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
                        "The picture must be under 512 KiB."
                    } else {
                        "The upload could not be read; try again."
                    };
                    return record_page(
                        &state,
                        &person,
                        id,
                        status,
                        FieldErrors::one("picture", why),
                        None,
                        None,
                    )
                    .await;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let status = e.status();
                let errors = FieldErrors::one("picture", "The upload could not be read; try again.");
                return record_page(&state, &person, id, status, errors, None, None).await;
            }
        }
    }
    if !person.csrf_ok(&csrf) {
        return csrf_refused();
    }
    let bytes = picture.unwrap_or_default();
    if bytes.is_empty() {
        let errors = FieldErrors::one("picture", "Choose a picture to upload.");
        return record_page(&state, &person, id, StatusCode::BAD_REQUEST, errors, None, None).await;
    }
    let Some(content_type) = image_type(&bytes) else {
        let errors = FieldErrors::one("picture", "Choose a PNG, JPEG, GIF or WebP picture.");
        return record_page(&state, &person, id, StatusCode::BAD_REQUEST, errors, None, None).await;
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.set_record_picture(&ctx, id, content_type, &bytes)).await {
        Ok(()) if back == "profile" => {
            Redirect::to(&format!("/records/{id}/profile?notice=picture")).into_response()
        }
        Ok(()) => Redirect::to(&format!("/records/{id}/settings?notice=picture")).into_response(),
        Err(e) => refused(&state, &person, id, e, &["picture"]).await,
    }
}

pub async fn picture(State(state): State<AppState>, person: Person, Path(id): Path<String>) -> Response {
    let Some(id) = record_id(&id) else {
        return not_found(&person);
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || picture_of(&svc, &ctx, id)).await {
        Ok(Some((content_type, bytes))) => {
            let mut res = bytes.into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            res
        }
        Ok(None) => render::message(
            StatusCode::NOT_FOUND,
            person.layout("No picture"),
            "No picture",
            "This record has no picture.",
            None,
        ),
        Err(ServiceError::NotFound(_) | ServiceError::Forbidden(_)) => not_found(&person),
        Err(e) => render::service_error(&e, person.layout("Picture")),
    }
}

pub async fn leave(
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
    let me = person.account();
    match blocking(move || svc.leave_record(me, id)).await {
        Ok(()) => Redirect::to("/records?notice=left").into_response(),
        Err(e) => refused(&state, &person, id, e, &[]).await,
    }
}

pub async fn delete(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let id = match posted(&person, &id, &form) {
        Ok(id) => id,
        Err(res) => return *res,
    };
    let confirm = form.get("confirm").to_string();
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    match blocking(move || svc.delete_record(&ctx, id, &confirm)).await {
        Ok(()) => Redirect::to("/records?notice=deleted").into_response(),
        Err(e) => refused(&state, &person, id, e, &["confirm"]).await,
    }
}

#[cfg(test)]
mod tests {
    use super::image_type;

    #[test]
    fn images_are_recognised_by_their_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a.."), Some("image/gif"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<html><script>"), None);
    }
}
