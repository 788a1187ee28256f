//! The records a person reaches, and adding one (healthvault.md §2: a record per person or pet,
//! reached through an access with a relationship and a level).
//!
//! - `GET /records`: name, relationship and access level of each record.
//! - `POST /records` (`name`, `relationship` from [`Relationship::ALL`], `csrf`): creates a record
//!   with the person as its custodian, then shows its settings (`/records/{id}/settings`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::{Context, ServiceError};
use hearth_domain::{AccessLevel, Relationship};

use super::form::FormFields;
use super::render::{self, FieldErrors, Layout, blocking};
use super::session::{Person, csrf_refused};
use crate::AppState;

/// Words for a relationship, as the person reads it about the record's subject.
pub fn relationship_label(r: Relationship) -> &'static str {
    match r {
        Relationship::SelfRecord => "Myself",
        Relationship::Child => "Child",
        Relationship::Parent => "Parent",
        Relationship::Spouse => "Spouse",
        Relationship::DomesticPartner => "Domestic partner",
        Relationship::Guardian => "Someone I am the guardian of",
        Relationship::Sibling => "Sibling",
        Relationship::Relative => "Other relative",
        Relationship::Friend => "Friend",
        Relationship::Patient => "Patient",
        Relationship::Pet => "Pet",
        Relationship::Other => "Other",
    }
}

pub fn access_label(l: AccessLevel) -> &'static str {
    match l {
        AccessLevel::View => "can view",
        AccessLevel::Modify => "can view and change",
        AccessLevel::Custodian => "custodian (full control)",
    }
}

struct Row {
    id: String,
    name: String,
    relationship: &'static str,
    access: &'static str,
}

struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    layout: Layout,
    csrf: String,
    rows: Vec<Row>,
    relationships: Vec<Choice>,
    name: String,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "left" => Some("You have left the record."),
        "deleted" => Some("The record is deleted."),
        _ => None,
    }
}

struct Draft<'a> {
    name: &'a str,
    relationship: &'a str,
}

async fn records_page(
    state: &AppState,
    person: &Person,
    status: StatusCode,
    draft: Draft<'_>,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
) -> Response {
    let svc = state.services.clone();
    let account = person.account();
    let records = match blocking(move || svc.list_records(Some(account))).await {
        Ok(r) => r,
        Err(e) => return render::service_error(&e, person.layout("Records")),
    };
    let rows = records
        .into_iter()
        .filter_map(|(r, accesses)| {
            let a = accesses.into_iter().find(|a| a.account_id == account)?;
            Some(Row {
                id: r.id.to_string(),
                name: r.display_name,
                relationship: relationship_label(a.relationship),
                access: access_label(a.level),
            })
        })
        .collect();
    let chosen = if draft.relationship.is_empty() {
        Relationship::Child.as_str()
    } else {
        draft.relationship
    };
    render::page(
        status,
        &RecordsPage {
            layout: person.layout("Your records"),
            csrf: person.csrf(),
            rows,
            relationships: Relationship::ALL
                .iter()
                .map(|r| Choice {
                    value: r.as_str(),
                    label: relationship_label(*r),
                    selected: r.as_str() == chosen,
                })
                .collect(),
            name: draft.name.into(),
            errors,
            alert,
            notice,
        },
    )
}

pub async fn list(State(state): State<AppState>, person: Person, Query(q): Query<NoticeQuery>) -> Response {
    let notice = q.notice.as_deref().and_then(notice_text).map(String::from);
    let draft = Draft {
        name: "",
        relationship: "",
    };
    records_page(
        &state,
        &person,
        StatusCode::OK,
        draft,
        FieldErrors::default(),
        None,
        notice,
    )
    .await
}

pub async fn create(State(state): State<AppState>, person: Person, form: FormFields) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let draft = Draft {
        name: form.get("name"),
        relationship: form.get("relationship"),
    };
    let name = draft.name.trim().to_string();
    let mut errors = FieldErrors::default();
    if name.is_empty() || name.chars().count() > 200 {
        errors.add("name", "Enter a name (up to 200 characters).");
    }
    let relationship = draft.relationship.parse::<Relationship>();
    if relationship.is_err() {
        errors.add("relationship", "Choose who the record is about.");
    }
    let Ok(relationship) = relationship else {
        return records_page(
            &state,
            &person,
            StatusCode::BAD_REQUEST,
            draft,
            errors,
            None,
            None,
        )
        .await;
    };
    if errors.has("name") {
        return records_page(
            &state,
            &person,
            StatusCode::BAD_REQUEST,
            draft,
            errors,
            None,
            None,
        )
        .await;
    }
    let svc = state.services.clone();
    let account = person.account();
    match blocking(move || svc.create_record(&Context::person(account), account, &name, relationship, None))
        .await
    {
        Ok(record) => {
            Redirect::to(&format!("/records/{}/settings?notice=created", record.id)).into_response()
        }
        Err(ServiceError::Invalid(issues)) => {
            let (errors, alert) = FieldErrors::split(&issues, &["name", "relationship"]);
            records_page(
                &state,
                &person,
                StatusCode::BAD_REQUEST,
                draft,
                errors,
                alert,
                None,
            )
            .await
        }
        Err(e @ (ServiceError::Forbidden(_) | ServiceError::Conflict(_))) => {
            let why = render::words_of(&e);
            records_page(
                &state,
                &person,
                render::status_of(&e),
                draft,
                FieldErrors::default(),
                Some(why),
                None,
            )
            .await
        }
        Err(e) => render::service_error(&e, person.layout("Records")),
    }
}
