//! FHIR Bulk Data Access export over HTTP (IG STU2,
//! https://hl7.org/fhir/uv/bulkdata/STU2/export.html), on the FHIR Asynchronous Request
//! Pattern: the kick-off (`GET`/`POST` `[base]/$export`, `[base]/Patient/$export`,
//! `[base]/Patient/{id}/$export`), the status and delete requests on `[base]/bulk/{job}`, and
//! the file request `[base]/bulk/{job}/file/{n}`, streamed from the blob store. Every request
//! needs a bearer token; a job answers only the requester that started it (anyone else gets
//! 404). Errors are OperationOutcomes; the services decide, this file speaks HTTP.

use std::io::Read as _;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use axum::routing::get;
use hearth_core::bulk::{KickOff, KickOffLevel};
use hearth_core::{ServiceError, ValidationIssue};
use hearth_domain::bulk::{ExportJob, JobStatus};
use serde_json::{Value, json};

use super::bearer::Bearer;
use super::error::{blocking, fhir_error, fhir_json};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/$export", get(kick_system).post(kick_system))
        .route("/fhir/Patient/$export", get(kick_patients).post(kick_patients))
        .route("/fhir/Patient/{id}/$export", get(kick_patient).post(kick_patient))
        .route("/fhir/bulk/{job}", get(status).delete(cancel))
        .route("/fhir/bulk/{job}/file/{n}", get(file))
}

fn information(text: &str) -> Value {
    json!({"resourceType": "OperationOutcome",
           "issue": [{"severity": "information", "code": "informational", "diagnostics": text}]})
}

/// `Accept: application/fhir+json` and `Prefer: respond-async`, both required for a kick-off.
fn check_headers(headers: &HeaderMap) -> Result<(), ServiceError> {
    let values = |name: header::HeaderName| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split([',', ';']))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect()
    };
    let mut problems = Vec::new();
    if !values(header::ACCEPT)
        .iter()
        .any(|v| v == "application/fhir+json")
    {
        problems.push(ValidationIssue::error(
            "required",
            "Accept",
            "a kick-off request needs the header Accept: application/fhir+json",
        ));
    }
    if !values(header::HeaderName::from_static("prefer"))
        .iter()
        .any(|v| v == "respond-async")
    {
        problems.push(ValidationIssue::error(
            "required",
            "Prefer",
            "a kick-off request needs the header Prefer: respond-async",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(problems))
    }
}

/// The kick-off parameters: the query string, then (for a POST) a FHIR `Parameters` body, each
/// `parameter` as its name and its `value[x]` text.
fn params_of(uri: &Uri, body: &[u8]) -> Result<Vec<(String, String)>, ServiceError> {
    let mut out: Vec<(String, String)> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(out);
    }
    let not_parameters = || {
        ServiceError::invalid(
            "structure",
            "",
            "a POST kick-off carries a FHIR Parameters resource",
        )
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| not_parameters())?;
    if v.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(not_parameters());
    }
    for (i, p) in v
        .get("parameter")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let name = p.get("name").and_then(Value::as_str).ok_or_else(|| {
            ServiceError::invalid(
                "required",
                format!("Parameters.parameter[{i}].name"),
                "each parameter needs a name",
            )
        })?;
        let value = p
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.starts_with("value"))
                    .and_then(|(_, v)| v.as_str())
            })
            .unwrap_or_default();
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

async fn kick_off(
    state: AppState,
    bearer: Bearer,
    level: KickOffLevel,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let svc = state.services.clone();
    let r = blocking(move || {
        check_headers(&headers)?;
        let params = params_of(&uri, &body)?;
        let url = svc
            .auth_settings()
            .url(uri.path_and_query().map_or(uri.path(), |p| p.as_str()));
        svc.start_export(&bearer.context, KickOff { level, params, url })
    })
    .await;
    match r {
        Ok(job) => {
            let mut res = fhir_json(
                StatusCode::ACCEPTED,
                &information("The export is queued. Follow Content-Location for its status."),
            );
            let location = job_url(&state, &job.id.to_string());
            if let Ok(v) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::CONTENT_LOCATION, v);
            }
            res
        }
        Err(e) => fhir_error(e),
    }
}

async fn kick_system(
    State(s): State<AppState>,
    bearer: Bearer,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    kick_off(s, bearer, KickOffLevel::System, headers, uri, body).await
}

async fn kick_patients(
    State(s): State<AppState>,
    bearer: Bearer,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    kick_off(s, bearer, KickOffLevel::AllPatients, headers, uri, body).await
}

async fn kick_patient(
    State(s): State<AppState>,
    bearer: Bearer,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    kick_off(s, bearer, KickOffLevel::Patient(id), headers, uri, body).await
}

fn job_url(state: &AppState, job: &str) -> String {
    format!("{}/bulk/{job}", state.services.auth_settings().fhir_base())
}

/// The complete-status manifest.
fn manifest(state: &AppState, job: &ExportJob) -> Value {
    let base = job_url(state, &job.id.to_string());
    let files = |error: bool| -> Vec<Value> {
        job.outputs
            .iter()
            .filter(|o| o.error == error)
            .map(
                |o| json!({"type": o.resource_type, "url": format!("{base}/file/{}", o.n), "count": o.count}),
            )
            .collect()
    };
    json!({
        "transactionTime": job.transaction_time.unwrap_or(job.created_at).to_rfc3339(),
        "request": job.request.url,
        "requiresAccessToken": true,
        "output": files(false),
        "error": files(true),
    })
}

fn with_header(mut res: Response, name: &'static str, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().insert(name, v);
    }
    res
}

async fn status(State(state): State<AppState>, bearer: Bearer, Path(job): Path<String>) -> Response {
    let svc = state.services.clone();
    let poll = svc.bulk_settings().poll_secs.to_string();
    let job = match blocking(move || svc.export_status(&bearer.context, &job)).await {
        Ok(j) => j,
        Err(e) => return fhir_error(e),
    };
    match job.status {
        JobStatus::Queued | JobStatus::Running => {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = StatusCode::ACCEPTED;
            let res = with_header(res, "x-progress", &job.progress);
            with_header(res, "retry-after", &poll)
        }
        JobStatus::Completed => {
            let mut res = Response::new(Body::from(manifest(&state, &job).to_string()));
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        }
        JobStatus::Failed | JobStatus::Cancelled => {
            let (code, message) = job.failure.map_or_else(
                || ("exception".to_string(), "the export failed".to_string()),
                |f| (f.code, f.message),
            );
            fhir_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": code, "diagnostics": message}]}),
            )
        }
    }
}

async fn cancel(State(state): State<AppState>, bearer: Bearer, Path(job): Path<String>) -> Response {
    let svc = state.services.clone();
    match blocking(move || svc.cancel_export(&bearer.context, &job)).await {
        Ok(()) => fhir_json(
            StatusCode::ACCEPTED,
            &information("The export is cancelled; its files will be deleted."),
        ),
        Err(e) => fhir_error(e),
    }
}

/// Chunks a blocking reader sends from its own thread.
struct Chunks(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_core::Stream for Chunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// A file streamed off the blob store: a blocking task reads 64 KiB at a time and hands each
/// chunk over a small channel, so at most a few chunks are in memory.
async fn file(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((job, n)): Path<(String, String)>,
) -> Response {
    let Ok(n) = n.parse::<u32>() else {
        return fhir_error(ServiceError::NotFound(format!("export file {n} not found")));
    };
    let svc = state.services.clone();
    let (output, mut reader) = match blocking(move || svc.open_export_file(&bearer.context, &job, n)).await {
        Ok(x) => x,
        Err(e) => return fhir_error(e),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let chunk = match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(k) => Ok(Bytes::copy_from_slice(&buf[..k])),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    let mut res = Response::new(Body::from_stream(Chunks(rx)));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&output.size.to_string()) {
        res.headers_mut().insert(header::CONTENT_LENGTH, v);
    }
    res
}
