//! Turning pages into responses: the layout every page shares, rendering an askama template
//! (HTML auto-escaped), the plain message page, and the one mapping from a [`ServiceError`] to a
//! status and words for people. Internal failures are logged and answered with a generic page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_core::{ErrorCategory, ServiceError, ServiceResult, ValidationIssue};
use hearth_domain::Timestamp;

/// What the shared layout needs: the page title and, for a signed-in person, the navigation
/// (with the sign-out form's CSRF token).
#[derive(Clone, Debug)]
pub struct Layout {
    pub title: String,
    pub nav: Option<Nav>,
}

#[derive(Clone, Debug)]
pub struct Nav {
    pub name: String,
    pub csrf: String,
}

impl Layout {
    /// A page for someone not signed in.
    pub fn public(title: &str) -> Self {
        Layout {
            title: title.into(),
            nav: None,
        }
    }
}

/// A link shown under a message.
#[derive(Clone, Debug)]
pub struct Link {
    pub href: String,
    pub label: String,
}

/// A page with a heading, a sentence and perhaps a link: confirmations and errors.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub text: String,
    /// Announced to screen readers at once (errors).
    pub alert: bool,
    pub link: Option<Link>,
}

/// Problems with submitted fields, each shown next to its field.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    pub fn has(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    pub fn one(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::default();
        e.add(field, message);
        e
    }

    /// Sorts validation issues into those about `fields` of the form and the rest (one
    /// sentence for the page's alert, if any).
    pub fn split(issues: &[ValidationIssue], fields: &[&str]) -> (FieldErrors, Option<String>) {
        let mut errors = FieldErrors::default();
        let mut rest = Vec::new();
        for i in issues {
            match fields.iter().find(|f| **f == i.path) {
                Some(f) if !errors.has(f) => errors.add(f, i.message.clone()),
                Some(_) => {}
                None => rest.push(i.message.clone()),
            }
        }
        (errors, (!rest.is_empty()).then(|| rest.join(" ")))
    }
}

/// Renders a template with a status; a failure to render is logged and answered with 500.
pub fn page<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(body) => {
            let mut res = (status, body).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

pub fn message(
    status: StatusCode,
    layout: Layout,
    heading: &str,
    text: &str,
    link: Option<Link>,
) -> Response {
    page(
        status,
        &MessagePage {
            layout,
            heading: heading.into(),
            text: text.into(),
            alert: status.is_client_error() || status.is_server_error(),
            link,
        },
    )
}

/// The sentence shown when attempts are throttled.
pub fn throttled_text(retry_after_secs: i64) -> String {
    format!("Too many attempts; try again in {retry_after_secs} seconds.")
}

/// Adds `Retry-After` to a throttled answer.
pub fn with_retry_after(mut res: Response, retry_after_secs: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// The status a service error answers with on a page.
pub fn status_of(e: &ServiceError) -> StatusCode {
    match e.category() {
        ErrorCategory::Invalid => StatusCode::BAD_REQUEST,
        ErrorCategory::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCategory::Forbidden => StatusCode::FORBIDDEN,
        ErrorCategory::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorCategory::NotFound => StatusCode::NOT_FOUND,
        ErrorCategory::Conflict => StatusCode::CONFLICT,
        ErrorCategory::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorCategory::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCategory::NotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCategory::Gone => StatusCode::GONE,
        ErrorCategory::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCategory::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCategory::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Words for people about a service error. Internal and unavailable errors are logged here and
/// described generically.
pub fn words_of(e: &ServiceError) -> String {
    match e {
        ServiceError::Invalid(issues) => issues
            .iter()
            .map(|i| i.message.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        ServiceError::Throttled { retry_after_secs } => throttled_text(*retry_after_secs),
        ServiceError::Internal(detail) => {
            tracing::error!(error = %detail, "a page request failed");
            "Something went wrong on our side. Please try again later.".into()
        }
        ServiceError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "the database is unavailable");
            "Hearth cannot reach its database just now. Please try again in a moment.".into()
        }
        other => other.public_message(),
    }
}

/// A whole page for a service error.
pub fn service_error(e: &ServiceError, layout: Layout) -> Response {
    let status = status_of(e);
    let heading = match e.category() {
        ErrorCategory::Invalid | ErrorCategory::Unprocessable => "That did not work",
        ErrorCategory::NotAllowed => "Not allowed",
        ErrorCategory::Unauthenticated => "Not signed in",
        ErrorCategory::Forbidden => "Not allowed",
        ErrorCategory::Throttled => "Too many attempts",
        ErrorCategory::NotFound => "Not found",
        ErrorCategory::Conflict | ErrorCategory::PreconditionFailed => "That cannot be done now",
        ErrorCategory::Gone => "Gone",
        ErrorCategory::TooLarge => "Too large",
        ErrorCategory::Unavailable => "Temporarily unavailable",
        ErrorCategory::Internal => "Something went wrong",
    };
    let res = message(status, layout, heading, &words_of(e), None);
    match e {
        ServiceError::Throttled { retry_after_secs } => with_retry_after(res, *retry_after_secs),
        _ => res,
    }
}

/// Runs blocking service calls off the async threads (the storage contract is blocking).
pub async fn blocking<T, F>(f: F) -> ServiceResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> ServiceResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ServiceError::Internal(format!("a blocking task failed: {e}"))))
}

/// A time for people: `2026-05-01 10:00 UTC`.
pub fn when(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(0..10), s.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => s,
    }
}

/// `Some(time)` for people, or "never".
pub fn when_or_never(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "never".into(), when)
}
