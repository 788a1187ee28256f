//! Adding, editing, deleting and restoring items by hand (healthvault.md §10.3; the forms are
//! `hearth_core::entry`, one per named data type).
//!
//! - `GET`/`POST /records/{id}/data/{type}/new`: the type's form; saved as a new item.
//! - `GET`/`POST /records/{id}/items/{item}/edit` (`version` = the version the form showed):
//!   saved as the item's next version, merged into the stored resource. A form older than the
//!   item is refused (409) and shown again with the current version.
//! - `POST /records/{id}/items/{item}/delete` (`version`): a soft delete.
//! - `POST /records/{id}/items/{item}/restore` (`version`): custodians undo a delete.
//!
//! Every POST carries `csrf`. Invalid fields are shown next to the field, linked with
//! `aria-describedby`; other refusals are the page's alert.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::authz::Operation;
use hearth_core::entry::{self, EntryForm, Input, Values};
use hearth_core::{Context, ItemRequest, ServiceError, ServiceResult, Services};
use hearth_domain::{Item, ItemId, ItemState, RecordId};

use super::form::FormFields;
use super::record::record_id;
use super::record_nav::{RecordNav, RecordView, Section, failed};
use super::render::{self, FieldErrors, blocking};
use super::session::{Person, csrf_refused};
use crate::AppState;

pub struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A form field ready to show.
pub struct FieldView {
    pub id: String,
    pub name: String,
    pub label: String,
    pub hint: String,
    /// `input`, `select` or `textarea`.
    pub control: &'static str,
    pub html_type: &'static str,
    pub value: String,
    pub required: bool,
    pub options: Vec<OptionView>,
    pub error: Option<String>,
    /// The ids of the hint and the error, for `aria-describedby` (empty for none).
    pub described_by: String,
    pub numeric: bool,
}

/// The fields of `form` showing `values`, with `errors`; ids start with `prefix`.
pub fn field_views(form: &EntryForm, values: &Values, errors: &FieldErrors, prefix: &str) -> Vec<FieldView> {
    form.fields
        .iter()
        .map(|f| {
            let value = values.get(f.name).cloned().unwrap_or_default();
            let choices = f.input.choices();
            let (control, options) = if choices.is_empty() {
                let control = if f.input == Input::LongText {
                    "textarea"
                } else {
                    "input"
                };
                (control, vec![])
            } else {
                let mut options = Vec::new();
                if !f.required {
                    options.push(OptionView {
                        value: String::new(),
                        label: "—".into(),
                        selected: value.is_empty(),
                    });
                }
                for c in choices {
                    options.push(OptionView {
                        value: c.code.into(),
                        label: c.label.into(),
                        selected: c.code == value,
                    });
                }
                if !value.is_empty() && !choices.iter().any(|c| c.code == value) {
                    options.push(OptionView {
                        value: value.clone(),
                        label: value.clone(),
                        selected: true,
                    });
                }
                ("select", options)
            };
            let id = format!("{prefix}{}", f.name);
            let error = errors.get(f.name).map(str::to_string);
            let mut described = Vec::new();
            if !f.hint.is_empty() {
                described.push(format!("{id}-hint"));
            }
            if error.is_some() {
                described.push(format!("{id}-error"));
            }
            FieldView {
                described_by: described.join(" "),
                id,
                name: f.name.to_string(),
                label: f.label.to_string(),
                hint: f.hint.to_string(),
                control,
                html_type: f.input.html_type(&value),
                required: f.required,
                options,
                error,
                numeric: matches!(f.input, Input::Decimal | Input::Integer),
                value,
            }
        })
        .collect()
}

/// The submitted texts of a form's fields (fields not sent are left out: left as they were).
pub fn submitted(form: &EntryForm, fields: &FormFields) -> Values {
    form.fields
        .iter()
        .filter_map(|f| fields.opt(f.name).map(|v| (f.name.to_string(), v.to_string())))
        .collect()
}

#[derive(Template)]
#[template(path = "entry_form.html")]
struct EntryPage {
    layout: render::Layout,
    nav: RecordNav,
    heading: String,
    action: String,
    cancel: String,
    csrf: String,
    version: Option<u32>,
    fields: Vec<FieldView>,
    alert: Option<String>,
    minimal: bool,
    files_href: Option<String>,
}

struct Shown<'a> {
    view: &'a RecordView,
    form: &'static EntryForm,
    item: Option<&'a Item>,
    values: Values,
    errors: FieldErrors,
    alert: Option<String>,
}

fn entry_page(person: &Person, status: StatusCode, s: Shown<'_>) -> Response {
    let id = s.view.record.id;
    let name = s.form.data_type.name;
    let (heading, action, cancel, version) = match s.item {
        Some(item) => (
            format!("Edit: {name}"),
            format!("/records/{id}/items/{}/edit", item.meta.id),
            format!("/records/{id}/items/{}", item.meta.id),
            Some(item.meta.version),
        ),
        None => (
            format!("Add: {name}"),
            format!("/records/{id}/data/{}/new", s.form.key()),
            format!("/records/{id}/data/{}", s.form.key()),
            None,
        ),
    };
    let files_href =
        matches!(s.form.key(), "clinical-document" | "file").then(|| format!("/records/{id}/files"));
    render::page(
        status,
        &EntryPage {
            layout: person.layout(&heading),
            nav: s.view.nav(Section::Data),
            heading,
            action,
            cancel,
            csrf: person.csrf(),
            version,
            fields: field_views(s.form, &s.values, &s.errors, "f-"),
            alert: s.alert,
            minimal: s.form.minimal,
            files_href,
        },
    )
}

fn no_form(person: &Person) -> Response {
    render::message(
        StatusCode::NOT_FOUND,
        person.layout("Not found"),
        "No such form",
        "There is no form for this kind of health data.",
        None,
    )
}

// ---- new items --------------------------------------------------------------------------------

fn creatable(person: &Person, view: &RecordView, key: &str) -> Result<&'static EntryForm, Box<Response>> {
    let Some(form) = entry::form(key) else {
        return Err(Box::new(no_form(person)));
    };
    if !view.may(key, Operation::Create) {
        return Err(Box::new(render::service_error(
            &ServiceError::Forbidden(format!(
                "your access to this record does not allow adding {}",
                form.data_type.name.to_lowercase()
            )),
            person.layout("Not allowed"),
        )));
    }
    Ok(form)
}

pub async fn new_form(
    State(state): State<AppState>,
    person: Person,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    match key.as_str() {
        "file" => return Redirect::to(&format!("/records/{id}/files")).into_response(),
        "demographics" => return Redirect::to(&format!("/records/{id}/profile")).into_response(),
        _ => {}
    }
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let view = match blocking(move || RecordView::load(&svc, &ctx, id)).await {
        Ok(v) => v,
        Err(e) => return failed(&person, &e, "Add"),
    };
    let form = match creatable(&person, &view, &key) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let shown = Shown {
        view: &view,
        form,
        item: None,
        values: form.blank(),
        errors: FieldErrors::default(),
        alert: None,
    };
    entry_page(&person, StatusCode::OK, shown)
}

/// Splits a refusal into field errors and the page's alert.
fn refusal(e: &ServiceError, form: &EntryForm) -> (StatusCode, FieldErrors, Option<String>) {
    let status = render::status_of(e);
    match e {
        ServiceError::Invalid(issues) => {
            let names: Vec<&str> = form.fields.iter().map(|f| f.name).collect();
            let (errors, alert) = FieldErrors::split(issues, &names);
            let alert = alert.or_else(|| Some("Some fields need attention: see below.".into()));
            (status, errors, alert)
        }
        e => (status, FieldErrors::default(), Some(render::words_of(e))),
    }
}

pub async fn create(
    State(state): State<AppState>,
    person: Person,
    Path((id, key)): Path<(String, String)>,
    fields: FormFields,
) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    if !person.csrf_ok(fields.get("csrf")) {
        return csrf_refused();
    }
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let view = match blocking(move || RecordView::load(&svc, &ctx, id)).await {
        Ok(v) => v,
        Err(e) => return failed(&person, &e, "Add"),
    };
    let form = match creatable(&person, &view, &key) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let values = submitted(form, &fields);
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let v = values.clone();
    let k = key.clone();
    match blocking(move || svc.create_entry(&ctx, id, &k, &v)).await {
        Ok(_) => Redirect::to(&format!("/records/{id}/data/{key}?notice=added")).into_response(),
        Err(e @ (ServiceError::Invalid(_) | ServiceError::Forbidden(_) | ServiceError::Conflict(_))) => {
            let (status, errors, alert) = refusal(&e, form);
            let mut shown_values = form.blank();
            shown_values.extend(values);
            let shown = Shown {
                view: &view,
                form,
                item: None,
                values: shown_values,
                errors,
                alert,
            };
            entry_page(&person, status, shown)
        }
        Err(e) => failed(&person, &e, "Add"),
    }
}

// ---- editing ----------------------------------------------------------------------------------

fn item_not_found(person: &Person) -> Response {
    render::message(
        StatusCode::NOT_FOUND,
        person.layout("Not found"),
        "Item not found",
        "There is no such item in this record, or you cannot see it.",
        None,
    )
}

/// The record and one item in it (blocking).
pub fn load_item(
    svc: &Services,
    ctx: &Context,
    id: RecordId,
    item: ItemId,
) -> ServiceResult<(RecordView, Item)> {
    let view = RecordView::load(svc, ctx, id)?;
    let item = svc.read_one(ctx, id, item)?;
    Ok((view, item))
}

/// Whether the item can be edited with a form by this person, or why not.
pub fn editable(view: &RecordView, item: &Item) -> Result<&'static EntryForm, &'static str> {
    let form = entry::form(&item.meta.data_type).ok_or("Items of this kind have no form to edit them.")?;
    if item.meta.state != ItemState::Active {
        return Err("This item is deleted; restore it before changing it.");
    }
    if item.meta.flags.read_only {
        return Err("This item is read-only; it cannot be changed.");
    }
    if !view.may(&item.meta.data_type, Operation::Update) {
        return Err("Your access to this record does not allow changing this item.");
    }
    Ok(form)
}

fn values_of(form: &EntryForm, item: &Item) -> Values {
    item.body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .map(|r| form.values(&r))
        .unwrap_or_default()
}

fn parse_ids(person: &Person, id: &str, item: &str) -> Result<(RecordId, ItemId), Box<Response>> {
    let id = record_id(id).ok_or_else(|| Box::new(super::record::not_found(person)))?;
    let item = item.parse().map_err(|_| Box::new(item_not_found(person)))?;
    Ok((id, item))
}

/// The page for a failed item load.
pub fn item_failed(person: &Person, e: &ServiceError) -> Response {
    match e {
        ServiceError::NotFound(m) if m.starts_with("item") => item_not_found(person),
        e => failed(person, e, "Item"),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    person: Person,
    Path((id, item)): Path<(String, String)>,
) -> Response {
    let (id, item) = match parse_ids(&person, &id, &item) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let (view, item) = match blocking(move || load_item(&svc, &ctx, id, item)).await {
        Ok(v) => v,
        Err(e) => return item_failed(&person, &e),
    };
    let form = match editable(&view, &item) {
        Ok(f) => f,
        Err(why) => {
            return render::message(
                StatusCode::FORBIDDEN,
                person.layout("Not editable"),
                "This item cannot be edited",
                why,
                Some(render::Link {
                    href: format!("/records/{id}/items/{}", item.meta.id),
                    label: "Back to the item".into(),
                }),
            );
        }
    };
    let shown = Shown {
        view: &view,
        form,
        values: values_of(form, &item),
        item: Some(&item),
        errors: FieldErrors::default(),
        alert: None,
    };
    entry_page(&person, StatusCode::OK, shown)
}

pub async fn update(
    State(state): State<AppState>,
    person: Person,
    Path((id, item_id)): Path<(String, String)>,
    fields: FormFields,
) -> Response {
    let (id, item_id) = match parse_ids(&person, &id, &item_id) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    if !person.csrf_ok(fields.get("csrf")) {
        return csrf_refused();
    }
    let Ok(version) = fields.get("version").parse::<u32>() else {
        return render::message(
            StatusCode::BAD_REQUEST,
            person.layout("Edit"),
            "That did not work",
            "The form does not say which version it edits; reload the page and try again.",
            None,
        );
    };
    save(state, person, id, item_id, version, fields).await
}

async fn save(
    state: AppState,
    person: Person,
    id: RecordId,
    item_id: ItemId,
    version: u32,
    fields: FormFields,
) -> Response {
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let saved = blocking(move || {
        let (view, item) = load_item(&svc, &ctx, id, item_id)?;
        let Some(form) = entry::form(&item.meta.data_type) else {
            return Ok(Err((
                view,
                item,
                ServiceError::NotAllowed("no form".into()),
                Values::new(),
            )));
        };
        let values = submitted(form, &fields);
        match svc.update_entry(&ctx, id, item_id, version, &values) {
            Ok(_) => Ok(Ok(())),
            Err(e @ ServiceError::VersionConflict(_)) => {
                // Show the current version, so the person sees what changed.
                let current = svc.read_one(&ctx, id, item_id)?;
                Ok(Err((view, current, e, Values::new())))
            }
            Err(e) => Ok(Err((view, item, e, values))),
        }
    })
    .await;
    match saved {
        Ok(Ok(())) => Redirect::to(&format!("/records/{id}/items/{item_id}?notice=saved")).into_response(),
        Ok(Err((view, item, e, values))) => {
            let Some(form) = entry::form(&item.meta.data_type) else {
                return no_form(&person);
            };
            let editable_now = editable(&view, &item);
            match (&e, editable_now) {
                (ServiceError::Invalid(_) | ServiceError::VersionConflict(_), Ok(_)) => {
                    let (status, errors, alert) = refusal(&e, form);
                    let mut shown_values = values_of(form, &item);
                    shown_values.extend(values);
                    let shown = Shown {
                        view: &view,
                        form,
                        values: shown_values,
                        item: Some(&item),
                        errors,
                        alert,
                    };
                    let status = if matches!(e, ServiceError::VersionConflict(_)) {
                        StatusCode::CONFLICT
                    } else {
                        status
                    };
                    entry_page(&person, status, shown)
                }
                _ => render::service_error(&e, person.layout("Edit")),
            }
        }
        Err(e) => item_failed(&person, &e),
    }
}

// ---- delete and restore -----------------------------------------------------------------------

async fn state_change(
    state: AppState,
    person: Person,
    ids: (String, String),
    fields: FormFields,
    restore: bool,
) -> Response {
    let (id, item) = match parse_ids(&person, &ids.0, &ids.1) {
        Ok(v) => v,
        Err(res) => return *res,
    };
    if !person.csrf_ok(fields.get("csrf")) {
        return csrf_refused();
    }
    let expected_version = fields.get("version").parse::<u32>().ok();
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let done = blocking(move || {
        let current = svc.read_one(&ctx, id, item)?;
        if restore && !RecordView::load(&svc, &ctx, id)?.is_custodian() {
            return Err(ServiceError::Forbidden(
                "only a custodian of this record may restore deleted items".into(),
            ));
        }
        let request = if restore {
            ItemRequest::Restore {
                id: item,
                expected_version,
            }
        } else {
            ItemRequest::Delete {
                id: item,
                expected_version,
            }
        };
        svc.write(&ctx, id, vec![request])?;
        Ok(current.meta.data_type)
    })
    .await;
    match done {
        Ok(_) if restore => {
            Redirect::to(&format!("/records/{id}/items/{item}?notice=restored")).into_response()
        }
        Ok(data_type) => {
            Redirect::to(&format!("/records/{id}/data/{data_type}?notice=deleted")).into_response()
        }
        Err(ServiceError::VersionConflict(_)) => render::message(
            StatusCode::CONFLICT,
            person.layout("Changed"),
            "This item has changed",
            "Someone changed this item after you opened its page. Nothing was done: look at it again first.",
            Some(render::Link {
                href: format!("/records/{id}/items/{item}"),
                label: "The item now".into(),
            }),
        ),
        Err(e) => item_failed(&person, &e),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    person: Person,
    Path(ids): Path<(String, String)>,
    fields: FormFields,
) -> Response {
    state_change(state, person, ids, fields, false).await
}

pub async fn restore(
    State(state): State<AppState>,
    person: Person,
    Path(ids): Path<(String, String)>,
    fields: FormFields,
) -> Response {
    state_change(state, person, ids, fields, true).await
}
