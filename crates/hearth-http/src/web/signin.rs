//! Signing in and out (NIST SP 800-63B §5.2.2 throttling; RFC 6238 TOTP as the second factor).
//!
//! - `GET /sign-in`, `POST /sign-in` (`email`, `password`, `csrf`, `next`): a wrong email or
//!   password answers 401 with [`SIGN_IN_FAILED`], throttling answers 429, the same for
//!   registered and unregistered addresses. After sign-in the browser goes to `next` when it is
//!   a local path, else to `/records`; a pending second factor goes to the two-factor page.
//! - `GET /sign-in/two-factor`, `POST /sign-in/two-factor` (`code`, `csrf`, `next`).
//! - `POST /sign-out` (`csrf`), `POST /account/sign-out-everywhere` (`csrf`).
//! - `GET /`: to the records when signed in, else to sign-in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::ServiceError;
use hearth_core::auth::accounts::SIGN_IN_FAILED;

use super::form::FormFields;
use super::render::{self, Layout, blocking};
use super::session::{
    Client, FormCookie, Person, Session, cleared_session_cookie, csrf_refused, local_path, read_cookie,
    session_cookie, session_cookie_name, with_cookie, with_next,
};
use crate::AppState;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    csrf: String,
    next: String,
    email: String,
    alert: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    layout: Layout,
    csrf: String,
    next: String,
    alert: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// Fixed sentences a redirect may ask the sign-in page to show.
fn notice_text(key: &str) -> Option<&'static str> {
    match key {
        "signed-out" => Some("You are signed out."),
        "everywhere" => Some("You are signed out in every browser."),
        "password-reset" => Some("Your password is changed. Sign in with the new one."),
        _ => None,
    }
}

fn after_sign_in(next: Option<&str>) -> String {
    next.and_then(local_path).unwrap_or("/records").to_string()
}

fn sign_in_page(
    status: StatusCode,
    guard: &FormCookie,
    next: Option<&str>,
    email: &str,
    alert: Option<String>,
    notice: Option<String>,
) -> Response {
    guard.attach(render::page(
        status,
        &SignInPage {
            layout: Layout::public("Sign in"),
            csrf: guard.token().into(),
            next: next.and_then(local_path).unwrap_or("").into(),
            email: email.into(),
            alert,
            notice,
        },
    ))
}

pub async fn show(session: Session, guard: FormCookie, Query(q): Query<NextQuery>) -> Response {
    let next = q.next.as_deref().and_then(local_path);
    if session.person().is_some() {
        return Redirect::to(&after_sign_in(next)).into_response();
    }
    if session.pending() {
        return session.sign_in_redirect(next);
    }
    let notice = q.notice.as_deref().and_then(notice_text).map(String::from);
    sign_in_page(StatusCode::OK, &guard, next, "", None, notice)
}

pub async fn submit(
    State(state): State<AppState>,
    guard: FormCookie,
    client: Client,
    headers: axum::http::HeaderMap,
    form: FormFields,
) -> Response {
    if !guard.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let tls = state.services.auth_settings().is_tls();
    let next = local_path(form.get("next")).map(String::from);
    let email = form.get("email").to_string();
    let password = form.get("password").to_string();
    let previous = read_cookie(&headers, session_cookie_name(tls));
    let svc = state.services.clone();
    let typed = email.clone();
    let result = blocking(move || {
        let new = svc.sign_in(&typed, &password, &client.addr, &client.user_agent)?;
        // The browser's earlier session, if any, ends: one browser, one session.
        if let Some(old) = previous
            && let Err(e) = svc.sign_out(&old)
        {
            tracing::warn!(error = %e, "could not end the browser's earlier session");
        }
        Ok(new)
    })
    .await;
    match result {
        Ok(new) => {
            let to = if new.session.mfa_pending {
                with_next("/sign-in/two-factor", next.as_deref())
            } else {
                after_sign_in(next.as_deref())
            };
            with_cookie(Redirect::to(&to).into_response(), session_cookie(tls, &new.token))
        }
        Err(ServiceError::Throttled { retry_after_secs }) => render::with_retry_after(
            sign_in_page(
                StatusCode::TOO_MANY_REQUESTS,
                &guard,
                next.as_deref(),
                &email,
                Some(render::throttled_text(retry_after_secs)),
                None,
            ),
            retry_after_secs,
        ),
        Err(ServiceError::Unauthenticated(_)) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            &guard,
            next.as_deref(),
            &email,
            Some(SIGN_IN_FAILED.into()),
            None,
        ),
        Err(ServiceError::Forbidden(why)) => sign_in_page(
            StatusCode::FORBIDDEN,
            &guard,
            next.as_deref(),
            &email,
            Some(why),
            None,
        ),
        Err(e) => render::service_error(&e, Layout::public("Sign in")),
    }
}

fn two_factor_page(
    status: StatusCode,
    session: &Session,
    next: Option<&str>,
    alert: Option<String>,
) -> Response {
    render::page(
        status,
        &TwoFactorPage {
            layout: Layout::public("Two-factor sign-in"),
            csrf: session.form_token().unwrap_or_default(),
            next: next.and_then(local_path).unwrap_or("").into(),
            alert,
        },
    )
}

pub async fn show_two_factor(session: Session, Query(q): Query<NextQuery>) -> Response {
    let next = q.next.as_deref().and_then(local_path);
    if session.person().is_some() {
        return Redirect::to(&after_sign_in(next)).into_response();
    }
    if !session.pending() {
        return Redirect::to(&with_next("/sign-in", next)).into_response();
    }
    two_factor_page(StatusCode::OK, &session, next, None)
}

pub async fn submit_two_factor(
    State(state): State<AppState>,
    session: Session,
    client: Client,
    form: FormFields,
) -> Response {
    let next = local_path(form.get("next")).map(String::from);
    let token = match (&session.token, session.pending()) {
        (Some(t), true) => t.clone(),
        _ => return session.sign_in_redirect(next.as_deref()),
    };
    if !session.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let code = form.get("code").to_string();
    let svc = state.services.clone();
    match blocking(move || svc.complete_second_factor(&token, &code, &client.addr)).await {
        Ok(_) => Redirect::to(&after_sign_in(next.as_deref())).into_response(),
        Err(ServiceError::Throttled { retry_after_secs }) => render::with_retry_after(
            two_factor_page(
                StatusCode::TOO_MANY_REQUESTS,
                &session,
                next.as_deref(),
                Some(render::throttled_text(retry_after_secs)),
            ),
            retry_after_secs,
        ),
        Err(ServiceError::Unauthenticated(why)) => {
            two_factor_page(StatusCode::UNAUTHORIZED, &session, next.as_deref(), Some(why))
        }
        Err(e) => render::service_error(&e, Layout::public("Two-factor sign-in")),
    }
}

pub async fn sign_out(State(state): State<AppState>, session: Session, form: FormFields) -> Response {
    let tls = state.services.auth_settings().is_tls();
    let Some(token) = session.token.clone() else {
        let res = Redirect::to("/sign-in").into_response();
        return with_cookie(res, Some(cleared_session_cookie(tls)));
    };
    if !session.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let svc = state.services.clone();
    match blocking(move || svc.sign_out(&token)).await {
        Ok(()) => with_cookie(
            Redirect::to("/sign-in?notice=signed-out").into_response(),
            Some(cleared_session_cookie(tls)),
        ),
        Err(e) => render::service_error(&e, Layout::public("Sign out")),
    }
}

pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    person: Person,
    form: FormFields,
) -> Response {
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let tls = state.services.auth_settings().is_tls();
    let svc = state.services.clone();
    let account = person.account();
    match blocking(move || svc.sign_out_everywhere(account)).await {
        Ok(_) => with_cookie(
            Redirect::to("/sign-in?notice=everywhere").into_response(),
            Some(cleared_session_cookie(tls)),
        ),
        Err(e) => render::service_error(&e, person.layout("Sign out")),
    }
}

pub async fn root(session: Session) -> Response {
    if session.person().is_some() {
        Redirect::to("/records").into_response()
    } else {
        session.sign_in_redirect(None)
    }
}
