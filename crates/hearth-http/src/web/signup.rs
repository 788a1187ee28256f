//! Sign-up and email verification (NIST SP 800-63B §5.1.1 for passwords; healthvault.md §3.1).
//!
//! - `GET /sign-up`, `POST /sign-up` (`email`, `name`, `password`, `csrf`): the answer is the
//!   same whether or not the address already has an account ([`CHECK_EMAIL`]).
//! - `GET /verify-email?token=`: confirms the address from the emailed link.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hearth_core::ServiceError;
use hearth_core::auth::accounts::CHECK_EMAIL;

use super::form::FormFields;
use super::render::{self, FieldErrors, Layout, Link, blocking};
use super::session::{Client, FormCookie, csrf_refused};
use crate::AppState;

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage {
    layout: Layout,
    csrf: String,
    email: String,
    name: String,
    errors: FieldErrors,
    alert: Option<String>,
}

fn sign_up_page(
    status: StatusCode,
    guard: &FormCookie,
    email: &str,
    name: &str,
    errors: FieldErrors,
    alert: Option<String>,
) -> Response {
    guard.attach(render::page(
        status,
        &SignUpPage {
            layout: Layout::public("Create an account"),
            csrf: guard.token().into(),
            email: email.into(),
            name: name.into(),
            errors,
            alert,
        },
    ))
}

pub async fn show(guard: FormCookie) -> Response {
    sign_up_page(StatusCode::OK, &guard, "", "", FieldErrors::default(), None)
}

pub async fn submit(
    State(state): State<AppState>,
    guard: FormCookie,
    client: Client,
    form: FormFields,
) -> Response {
    if !guard.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let (email, name, password) = (
        form.get("email").to_string(),
        form.get("name").to_string(),
        form.get("password").to_string(),
    );
    let svc = state.services.clone();
    let (e2, n2) = (email.clone(), name.clone());
    match blocking(move || svc.sign_up(&e2, &n2, &password, &client.addr)).await {
        Ok(()) => render::message(
            StatusCode::OK,
            Layout::public("Check your email"),
            "Check your email",
            CHECK_EMAIL,
            None,
        ),
        Err(ServiceError::Invalid(issues)) => {
            let (errors, alert) = FieldErrors::split(&issues, &["email", "name", "password"]);
            sign_up_page(StatusCode::BAD_REQUEST, &guard, &email, &name, errors, alert)
        }
        Err(e @ ServiceError::Throttled { retry_after_secs }) => render::with_retry_after(
            sign_up_page(
                render::status_of(&e),
                &guard,
                &email,
                &name,
                FieldErrors::default(),
                Some(render::throttled_text(retry_after_secs)),
            ),
            retry_after_secs,
        ),
        Err(e) => render::service_error(&e, Layout::public("Create an account")),
    }
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn verify(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let svc = state.services.clone();
    let sign_in = Some(Link {
        href: "/sign-in".into(),
        label: "Sign in".into(),
    });
    match blocking(move || svc.verify_email(&q.token)).await {
        Ok(_) => render::message(
            StatusCode::OK,
            Layout::public("Email confirmed"),
            "Your email address is confirmed",
            "Thank you. You can now sign in to Hearth.",
            sign_in,
        ),
        Err(e @ ServiceError::Unauthenticated(_)) => render::message(
            StatusCode::BAD_REQUEST,
            Layout::public("Link not valid"),
            "This link does not work any more",
            &render::words_of(&e),
            sign_in,
        ),
        Err(e) => render::service_error(&e, Layout::public("Email confirmation")),
    }
}
