//! The admin API for operators: register, read, update, disable and enable apps. JSON in and
//! out; authenticated with an admin key (`hearth admin issue-admin-key`) as a bearer token.
//! Client secrets are returned once, at registration, and never stored in the clear.

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use hearth_core::auth::apps::{AppRegistration, app_view};
use hearth_core::{Context, ServiceError};
use hearth_domain::AppId;
use serde_json::{Value, json};

use super::error::{blocking, fhir_error, json_body};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/apps", get(list).post(register))
        .route("/admin/apps/{id}", get(read).put(update))
        .route("/admin/apps/{id}/disable", post(disable))
        .route("/admin/apps/{id}/enable", post(enable))
}

/// The operator, proven by an admin key.
pub struct Operator(pub Context);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
            .ok_or_else(|| fhir_error(ServiceError::Unauthenticated("an admin key is required".into())))?;
        let svc = state.services.clone();
        let ctx = blocking(move || svc.resolve_admin_key(&key))
            .await
            .map_err(fhir_error)?;
        Ok(Operator(ctx))
    }
}

fn ok(status: StatusCode, v: &Value) -> Response {
    json_body(status, "application/json", v)
}

fn parse_registration(body: &[u8]) -> Result<AppRegistration, ServiceError> {
    serde_json::from_slice(body).map_err(|e| {
        ServiceError::invalid(
            "structure",
            "",
            format!("the app registration is not valid JSON of the expected shape: {e}"),
        )
    })
}

async fn list(State(state): State<AppState>, Operator(_): Operator) -> Response {
    let svc = state.services.clone();
    match blocking(move || svc.list_apps()).await {
        Ok(apps) => ok(
            StatusCode::OK,
            &json!({"apps": apps.iter().map(|a| app_view(a, None)).collect::<Vec<_>>()}),
        ),
        Err(e) => fhir_error(e),
    }
}

async fn register(
    State(state): State<AppState>,
    Operator(ctx): Operator,
    body: axum::body::Bytes,
) -> Response {
    let svc = state.services.clone();
    let r = blocking(move || {
        let reg = parse_registration(&body)?;
        svc.register_app(&ctx, reg)
    })
    .await;
    match r {
        Ok(reg) => ok(
            StatusCode::CREATED,
            &app_view(&reg.app, reg.client_secret.as_deref()),
        ),
        Err(e) => fhir_error(e),
    }
}

async fn read(State(state): State<AppState>, Operator(_): Operator, Path(id): Path<String>) -> Response {
    let svc = state.services.clone();
    match blocking(move || svc.require_app(&AppId(id))).await {
        Ok(app) => ok(StatusCode::OK, &app_view(&app, None)),
        Err(e) => fhir_error(e),
    }
}

async fn update(
    State(state): State<AppState>,
    Operator(ctx): Operator,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let svc = state.services.clone();
    let r = blocking(move || {
        let reg = parse_registration(&body)?;
        svc.update_app(&ctx, &AppId(id), reg)
    })
    .await;
    match r {
        Ok(app) => ok(StatusCode::OK, &app_view(&app, None)),
        Err(e) => fhir_error(e),
    }
}

async fn set_disabled(state: AppState, ctx: Context, id: String, disabled: bool) -> Response {
    let svc = state.services.clone();
    match blocking(move || svc.set_app_disabled(&ctx, &AppId(id), disabled)).await {
        Ok(app) => ok(StatusCode::OK, &app_view(&app, None)),
        Err(e) => fhir_error(e),
    }
}

async fn disable(State(state): State<AppState>, Operator(ctx): Operator, Path(id): Path<String>) -> Response {
    set_disabled(state, ctx, id, true).await
}

async fn enable(State(state): State<AppState>, Operator(ctx): Operator, Path(id): Path<String>) -> Response {
    set_disabled(state, ctx, id, false).await
}
