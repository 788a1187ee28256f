//! Forgotten passwords (OWASP Forgot Password cheat sheet): the request always gets the same
//! answer, and the emailed single-use link leads to a form for the new password.
//!
//! - `GET /forgot-password`, `POST /forgot-password` (`email`, `csrf`).
//! - `GET /reset-password?token=`, `POST /reset-password?token=` (`password`, `csrf`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::ServiceError;
use hearth_core::auth::accounts::CHECK_EMAIL;

use super::form::FormFields;
use super::render::{self, FieldErrors, Layout, Link, blocking};
use super::session::{Client, FormCookie, cleared_session_cookie, csrf_refused, encode, with_cookie};
use crate::AppState;

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    layout: Layout,
    csrf: String,
    sent: bool,
    check_email: &'static str,
    alert: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    layout: Layout,
    csrf: String,
    /// Percent-encoded, for the form's address.
    token: String,
    errors: FieldErrors,
    alert: Option<String>,
}

fn forgot_page(status: StatusCode, guard: &FormCookie, sent: bool, alert: Option<String>) -> Response {
    guard.attach(render::page(
        status,
        &ForgotPage {
            layout: Layout::public("Forgot your password?"),
            csrf: guard.token().into(),
            sent,
            check_email: CHECK_EMAIL,
            alert,
        },
    ))
}

pub async fn show_forgot(guard: FormCookie) -> Response {
    forgot_page(StatusCode::OK, &guard, false, None)
}

pub async fn submit_forgot(
    State(state): State<AppState>,
    guard: FormCookie,
    client: Client,
    form: FormFields,
) -> Response {
    if !guard.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let email = form.get("email").to_string();
    let svc = state.services.clone();
    match blocking(move || svc.request_password_reset(&email, &client.addr)).await {
        Ok(()) => forgot_page(StatusCode::OK, &guard, true, None),
        Err(ServiceError::Throttled { retry_after_secs }) => render::with_retry_after(
            forgot_page(
                StatusCode::TOO_MANY_REQUESTS,
                &guard,
                false,
                Some(render::throttled_text(retry_after_secs)),
            ),
            retry_after_secs,
        ),
        Err(e) => render::service_error(&e, Layout::public("Forgot your password?")),
    }
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn reset_page(
    status: StatusCode,
    guard: &FormCookie,
    token: &str,
    errors: FieldErrors,
    alert: Option<String>,
) -> Response {
    guard.attach(render::page(
        status,
        &ResetPage {
            layout: Layout::public("Choose a new password"),
            csrf: guard.token().into(),
            token: encode(token),
            errors,
            alert,
        },
    ))
}

fn link_not_valid(text: &str) -> Response {
    render::message(
        StatusCode::BAD_REQUEST,
        Layout::public("Link not valid"),
        "This link does not work any more",
        text,
        Some(Link {
            href: "/forgot-password".into(),
            label: "Ask for a new link".into(),
        }),
    )
}

pub async fn show_reset(guard: FormCookie, Query(q): Query<TokenQuery>) -> Response {
    if q.token.is_empty() {
        return link_not_valid("The link is incomplete: open the whole link from the email.");
    }
    reset_page(StatusCode::OK, &guard, &q.token, FieldErrors::default(), None)
}

pub async fn submit_reset(
    State(state): State<AppState>,
    guard: FormCookie,
    Query(q): Query<TokenQuery>,
    form: FormFields,
) -> Response {
    if !guard.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let token = if q.token.is_empty() {
        form.get("token").to_string()
    } else {
        q.token
    };
    if token.is_empty() {
        return link_not_valid("The link is incomplete: open the whole link from the email.");
    }
    let password = form.get("password").to_string();
    let svc = state.services.clone();
    let t = token.clone();
    match blocking(move || svc.reset_password(&t, &password)).await {
        Ok(_) => {
            // Every session of the account has ended, this browser's too.
            let tls = state.services.auth_settings().is_tls();
            with_cookie(
                Redirect::to("/sign-in?notice=password-reset").into_response(),
                Some(cleared_session_cookie(tls)),
            )
        }
        Err(ServiceError::Invalid(issues)) => {
            let (errors, alert) = FieldErrors::split(&issues, &["password"]);
            reset_page(StatusCode::BAD_REQUEST, &guard, &token, errors, alert)
        }
        Err(e @ ServiceError::Unauthenticated(_)) => link_not_valid(&render::words_of(&e)),
        Err(e) => render::service_error(&e, Layout::public("Choose a new password")),
    }
}
