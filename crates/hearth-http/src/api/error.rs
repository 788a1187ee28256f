//! Errors of the API in one place: service errors become FHIR R4 OperationOutcomes with the
//! matching HTTP status; OAuth errors become RFC 6749 §5.2 JSON. No internal error text reaches
//! a client: internal failures are logged and answered with a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_core::auth::oauth::OAuthError;
use hearth_core::{ErrorCategory, ServiceError};
use serde_json::{Value, json};

pub fn status_of(e: &ServiceError) -> StatusCode {
    match e.category() {
        ErrorCategory::Invalid => StatusCode::BAD_REQUEST,
        ErrorCategory::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCategory::Forbidden => StatusCode::FORBIDDEN,
        ErrorCategory::NotFound => StatusCode::NOT_FOUND,
        ErrorCategory::Conflict => StatusCode::CONFLICT,
        ErrorCategory::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorCategory::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCategory::NotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCategory::Gone => StatusCode::GONE,
        ErrorCategory::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCategory::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorCategory::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCategory::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The OperationOutcome for a service error.
pub fn outcome(e: &ServiceError) -> Value {
    let issue = |code: &str, msg: String, path: &str| {
        let mut i = json!({"severity": "error", "code": code, "diagnostics": msg});
        if !path.is_empty() {
            i["expression"] = json!([path]);
        }
        i
    };
    let issues: Vec<Value> = match e {
        ServiceError::Invalid(list) => list
            .iter()
            .map(|v| {
                let mut i = issue(v.code, v.message.clone(), &v.path);
                if v.warning {
                    i["severity"] = json!("warning");
                }
                i
            })
            .collect(),
        other => {
            let code = other.category().issue_code();
            vec![issue(code, other.public_message(), "")]
        }
    };
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

pub fn json_body(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn fhir_json(status: StatusCode, body: &Value) -> Response {
    json_body(status, "application/fhir+json; charset=utf-8", body)
}

/// A service error as an OperationOutcome response.
pub fn fhir_error(e: ServiceError) -> Response {
    if matches!(e, ServiceError::Internal(_)) {
        tracing::error!(error = %e, "request failed");
    }
    let status = status_of(&e);
    let mut r = fhir_json(status, &outcome(&e));
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hearth\", error=\"invalid_token\""),
        );
    }
    if let Some(secs) = e.retry_after_secs()
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// An OAuth error response: 401 for client authentication failures, 400 otherwise.
pub fn oauth_error(e: OAuthError) -> Response {
    let status = match e.error {
        "invalid_client" => StatusCode::UNAUTHORIZED,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "slow_down" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut r = json_body(
        status,
        "application/json",
        &json!({"error": e.error, "error_description": e.description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"hearth\""),
        );
    }
    r
}

/// Runs blocking service work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ServiceError::Internal(format!("task failed: {e}"))))
}
