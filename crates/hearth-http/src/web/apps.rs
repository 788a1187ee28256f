//! The apps authorised on a record, as its settings page lists them, and taking an app's access
//! back (healthvault.md §3.3 "authorised applications"; OAuth 2.1 grants).
//!
//! - `POST /records/{id}/apps/revoke` (`client_id`, `account` = who granted it, `csrf`): by the
//!   person who granted it or a custodian; the app's next request is refused.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::{ServiceError, ServiceResult, Services};
use hearth_domain::auth::Perms;
use hearth_domain::{AccountId, AppId, RecordId};

use super::form::FormFields;
use super::record::{self, record_id};
use super::render::{self, FieldErrors, blocking, when, when_or_never};
use super::session::{Person, csrf_refused};
use crate::AppState;

/// Permissions in words: "Read, create and update", or "Nothing".
pub fn perms_words(p: Perms) -> String {
    let words = p.words();
    let text = match words.as_slice() {
        [] => "nothing".to_string(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// When a rule applies: with the person present, or also while they are away.
pub fn online_words(offline: bool) -> &'static str {
    if offline {
        "also while you are not using the app"
    } else {
        "only while you use the app"
    }
}

pub struct RuleRow {
    pub permissions: String,
    pub types: String,
    pub when: &'static str,
}

pub struct AppRow {
    pub name: String,
    pub client_id: String,
    /// Who granted it (the revoke form sends it back).
    pub account: String,
    pub rules: Vec<RuleRow>,
    pub granted: String,
    /// The granting person's name, when it was someone else (custodians see every grant).
    pub by: Option<String>,
    pub last_read: String,
    pub last_write: String,
    pub needs_reconsent: bool,
}

/// The rows of a record's "authorised apps" section (blocking).
pub fn app_rows(svc: &Services, me: AccountId, record: RecordId) -> ServiceResult<Vec<AppRow>> {
    let mut rows = Vec::new();
    for a in svc.record_apps(me, record)? {
        let by = if a.grant.account == me {
            None
        } else {
            Some(svc.account(a.grant.account)?.display_name)
        };
        rows.push(AppRow {
            name: a.app.name.clone(),
            client_id: a.app.id.0.clone(),
            account: a.grant.account.to_string(),
            rules: a
                .grant
                .rules
                .iter()
                .map(|r| RuleRow {
                    permissions: perms_words(r.permissions),
                    types: r.data_types.display(),
                    when: online_words(r.offline),
                })
                .collect(),
            granted: when(a.grant.granted_at),
            by,
            last_read: when_or_never(a.grant.last_read_at),
            last_write: when_or_never(a.grant.last_write_at),
            needs_reconsent: a.needs_reconsent,
        });
    }
    Ok(rows)
}

pub async fn revoke(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    form: FormFields,
) -> Response {
    let Some(id) = record_id(&id) else {
        return record::not_found(&person);
    };
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let Ok(granted_by) = form.get("account").parse::<AccountId>() else {
        let alert = Some("The form did not say whose authorisation to remove; reload the page.".to_string());
        return record::record_page(
            &state,
            &person,
            id,
            axum::http::StatusCode::BAD_REQUEST,
            FieldErrors::default(),
            alert,
            None,
        )
        .await;
    };
    let app = AppId(form.get("client_id").to_string());
    let svc = state.services.clone();
    let me = person.account();
    match blocking(move || svc.revoke_consent(me, &app, id, granted_by)).await {
        Ok(()) => Redirect::to(&format!("/records/{id}/settings?notice=revoked")).into_response(),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Forbidden(_))) => {
            let why = render::words_of(&e);
            record::record_page(
                &state,
                &person,
                id,
                render::status_of(&e),
                FieldErrors::default(),
                Some(why),
                None,
            )
            .await
        }
        Err(e) => render::service_error(&e, person.layout("Authorised apps")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_as_a_sentence() {
        assert_eq!(perms_words(Perms::READ), "Read");
        assert_eq!(perms_words(Perms::ALL), "Read, create, update and delete");
        assert_eq!(perms_words(Perms::WRITE), "Create, update and delete");
        assert_eq!(perms_words(Perms::NONE), "Nothing");
    }
}
