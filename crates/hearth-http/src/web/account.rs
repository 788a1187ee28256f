//! The account's security page (NIST SP 800-63B; RFC 6238 TOTP with `otpauth://` set-up links).
//!
//! - `GET /account`: two-factor status and recovery codes left, forms to change the password,
//!   turn two-factor on or off and sign out everywhere, and the account's security log.
//! - `POST /account/password` (`current_password`, `new_password`, `csrf`).
//! - `POST /account/two-factor/begin` (`csrf`): shows the new key and its `otpauth://` link.
//! - `POST /account/two-factor/enable` (`code`, `csrf`): shows the recovery codes, once.
//! - `POST /account/two-factor/disable` (`password`, `csrf`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::ServiceError;
use hearth_core::auth::accounts::TotpSetup;
use hearth_domain::{AuditEntry, AuditOutcome};

use super::form::FormFields;
use super::render::{self, FieldErrors, Layout, blocking};
use super::session::{Person, csrf_refused};
use crate::AppState;

/// How many security-log entries the page shows.
const LOG_ROWS: u32 = 50;

struct LogRow {
    when: String,
    what: String,
    app: String,
    outcome: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    csrf: String,
    name: String,
    email: String,
    two_factor_on: bool,
    recovery_left: usize,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
    log: Vec<LogRow>,
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct TotpSetupPage {
    layout: Layout,
    csrf: String,
    setup: Option<TotpSetup>,
    code_error: bool,
    alert: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    layout: Layout,
    codes: Vec<String>,
}

/// "sign-in-failed" → "Sign in failed".
pub fn action_words(action: &str) -> String {
    let words = action.replace('-', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

fn log_row(e: &AuditEntry) -> LogRow {
    let (outcome, failed) = match &e.outcome {
        AuditOutcome::Success => ("Done".to_string(), false),
        AuditOutcome::Failure(why) => (format!("Refused: {why}"), true),
    };
    LogRow {
        when: render::when(e.at),
        what: action_words(e.action.as_str()),
        app: e.app.as_ref().map_or_else(|| "Hearth".into(), |a| a.0.clone()),
        outcome,
        failed,
    }
}

#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "password" => Some("Your password is changed. Other browsers are signed out."),
        "two-factor-off" => Some("Two-factor sign-in is off."),
        _ => None,
    }
}

/// The account page with these errors (the status says what happened).
async fn account_page(
    state: &AppState,
    person: &Person,
    status: StatusCode,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<String>,
) -> Response {
    let svc = state.services.clone();
    let account = person.account();
    let loaded = blocking(move || {
        Ok((
            svc.two_factor_status(account)?,
            svc.security_log(account, LOG_ROWS)?,
        ))
    })
    .await;
    let ((two_factor_on, recovery_left), log) = match loaded {
        Ok(v) => v,
        Err(e) => return render::service_error(&e, person.layout("Account")),
    };
    render::page(
        status,
        &AccountPage {
            layout: person.layout("Account and security"),
            csrf: person.csrf(),
            name: person.signed.account.display_name.clone(),
            email: person.signed.account.email.clone(),
            two_factor_on,
            recovery_left,
            errors,
            alert,
            notice,
            log: log.iter().map(log_row).collect(),
        },
    )
}

pub async fn show(State(state): State<AppState>, person: Person, Query(q): Query<NoticeQuery>) -> Response {
    let notice = q.notice.as_deref().and_then(notice_text).map(String::from);
    account_page(
        &state,
        &person,
        StatusCode::OK,
        FieldErrors::default(),
        None,
        notice,
    )
    .await
}

/// The account page answering a failed form: field errors where they belong, throttling and
/// other refusals as the page's alert.
async fn refused(state: &AppState, person: &Person, e: ServiceError, field: &str) -> Response {
    let status = render::status_of(&e);
    match e {
        ServiceError::Invalid(issues) => {
            let (errors, alert) =
                FieldErrors::split(&issues, &["current_password", "new_password", "password"]);
            account_page(state, person, status, errors, alert, None).await
        }
        ServiceError::Unauthenticated(why) if !field.is_empty() => {
            account_page(state, person, status, FieldErrors::one(field, why), None, None).await
        }
        ServiceError::Throttled { retry_after_secs } => render::with_retry_after(
            account_page(
                state,
                person,
                status,
                FieldErrors::default(),
                Some(render::throttled_text(retry_after_secs)),
                None,
            )
            .await,
            retry_after_secs,
        ),
        e @ (ServiceError::Conflict(_) | ServiceError::Forbidden(_) | ServiceError::Unauthenticated(_)) => {
            let why = render::words_of(&e);
            account_page(state, person, status, FieldErrors::default(), Some(why), None).await
        }
        e => render::service_error(&e, person.layout("Account")),
    }
}

pub async fn change_password(State(state): State<AppState>, person: Person, form: FormFields) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let (current, new) = (
        form.get("current_password").to_string(),
        form.get("new_password").to_string(),
    );
    let svc = state.services.clone();
    let signed = person.signed.clone();
    match blocking(move || svc.change_password(&signed, &current, &new)).await {
        Ok(()) => Redirect::to("/account?notice=password").into_response(),
        Err(e) => refused(&state, &person, e, "current_password").await,
    }
}

pub async fn begin_two_factor(State(state): State<AppState>, person: Person, form: FormFields) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let svc = state.services.clone();
    let signed = person.signed.clone();
    match blocking(move || svc.begin_totp(&signed)).await {
        Ok(setup) => render::page(
            StatusCode::OK,
            &TotpSetupPage {
                layout: person.layout("Turn on two-factor sign-in"),
                csrf: person.csrf(),
                setup: Some(setup),
                code_error: false,
                alert: None,
            },
        ),
        Err(e) => refused(&state, &person, e, "").await,
    }
}

pub async fn enable_two_factor(State(state): State<AppState>, person: Person, form: FormFields) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let code = form.get("code").to_string();
    let svc = state.services.clone();
    let signed = person.signed.clone();
    let retry = |status: StatusCode, alert: String| {
        render::page(
            status,
            &TotpSetupPage {
                layout: person.layout("Turn on two-factor sign-in"),
                csrf: person.csrf(),
                setup: None,
                code_error: true,
                alert: Some(alert),
            },
        )
    };
    match blocking(move || svc.enable_totp(&signed, &code)).await {
        Ok(codes) => render::page(
            StatusCode::OK,
            &RecoveryCodesPage {
                layout: person.layout("Your recovery codes"),
                codes,
            },
        ),
        Err(e @ ServiceError::Invalid(_)) => retry(StatusCode::BAD_REQUEST, render::words_of(&e)),
        Err(ServiceError::Throttled { retry_after_secs }) => render::with_retry_after(
            retry(
                StatusCode::TOO_MANY_REQUESTS,
                render::throttled_text(retry_after_secs),
            ),
            retry_after_secs,
        ),
        Err(e) => refused(&state, &person, e, "").await,
    }
}

pub async fn disable_two_factor(State(state): State<AppState>, person: Person, form: FormFields) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let password = form.get("password").to_string();
    let svc = state.services.clone();
    let signed = person.signed.clone();
    match blocking(move || svc.disable_totp(&signed, &password)).await {
        Ok(()) => Redirect::to("/account?notice=two-factor-off").into_response(),
        Err(e) => refused(&state, &person, e, "password").await,
    }
}

#[cfg(test)]
mod tests {
    use super::action_words;

    #[test]
    fn actions_read_as_words() {
        assert_eq!(action_words("sign-in-failed"), "Sign in failed");
        assert_eq!(action_words(""), "");
    }
}
