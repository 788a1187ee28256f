//! Files in the FHIR API: `Binary` (https://hl7.org/fhir/R4/binary.html, served as
//! https://hl7.org/fhir/R4/http.html#binary describes) and the attachments of DocumentReference
//! and Media through HAPI FHIR's `$binary-access-write` / `$binary-access-read`. The
//! `/fhir/Binary…` paths registered here win over the generic `/fhir/{type}…` ones (axum tries
//! static segments first); their other methods answer 405. Bytes stream between the connection and the blob store
//! ([`stream`]); downloads answer `Range`, `If-Range` and `If-None-Match` ([`range`]). What a
//! token may reach is decided in the services; see `docs/fhir-files.md`.

mod range;
pub(crate) mod stream;

use std::time::{Duration, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_core::files::FileContent;
use hearth_core::files::attachment::AttachmentPath;
use hearth_core::files::binary::{BinaryBody, BinaryFile};
use hearth_core::files::media_type::{is_fhir_json, is_fhir_xml};
use hearth_core::{Context, ServiceError, ServiceResult, Services};
use hearth_domain::{ItemId, ItemMeta, RecordId};
use serde_json::json;

use self::range::{Ranged, if_match, not_modified, requested_range, wants_fhir_json};
use self::stream::{base64_body, base64_len, collect_limited, raw_body, with_body_reader};
use super::bearer::Bearer;
use super::error::{blocking, fhir_error, fhir_json, outcome};
use crate::AppState;

/// The header naming a Binary's `securityContext`, and for tokens reaching several records the
/// record a new Binary goes to (https://hl7.org/fhir/R4/http.html#binary).
const SECURITY_CONTEXT: &str = "x-security-context";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/fhir/Binary",
            post(create_binary).fallback(|| async { not_allowed("POST") }),
        )
        .route(
            "/fhir/Binary/{id}",
            get(read_binary)
                .put(update_binary)
                .delete(delete_binary)
                .fallback(|| async { not_allowed("GET, HEAD, PUT, DELETE") }),
        )
        .route(
            "/fhir/Binary/{id}/_history/{version}",
            get(vread_binary).fallback(|| async { not_allowed("GET, HEAD") }),
        )
        .route(
            "/fhir/{rtype}/{id}/$binary-access-write",
            post(write_attachment).fallback(|| async { not_allowed("POST") }),
        )
        .route(
            "/fhir/{rtype}/{id}/$binary-access-read",
            get(read_attachment).fallback(|| async { not_allowed("GET, HEAD") }),
        )
}

#[derive(serde::Deserialize)]
struct FormatParam {
    #[serde(rename = "_format")]
    format: Option<String>,
}

#[derive(serde::Deserialize)]
struct PathParam {
    path: Option<String>,
}

fn not_allowed(allow: &'static str) -> Response {
    let e = ServiceError::invalid("not-supported", "", format!("this address answers {allow} only"));
    let mut body = outcome(&e);
    body["issue"][0]["code"] = json!("not-supported");
    let mut r = fhir_json(StatusCode::METHOD_NOT_ALLOWED, &body);
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn http_date(meta: &ItemMeta) -> String {
    let micros = u64::try_from(meta.updated.at.0).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_micros(micros))
}

/// `ETag` and `Last-Modified` of a version.
fn version_headers(h: &mut HeaderMap, meta: &ItemMeta) {
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{}\"", meta.version)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(meta)) {
        h.insert(header::LAST_MODIFIED, v);
    }
}

fn parse_id(id: &str, what: &str) -> ServiceResult<ItemId> {
    id.parse()
        .map_err(|_| ServiceError::NotFound(format!("{what}/{id} not found")))
}

fn header_text(headers: &HeaderMap, name: &str) -> ServiceResult<Option<String>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| ServiceError::invalid("value", "", format!("the {name} header is not text"))),
    }
}

fn content_type(headers: &HeaderMap) -> ServiceResult<String> {
    header_text(headers, "content-type")?.ok_or_else(|| {
        ServiceError::invalid(
            "required",
            "",
            "a Content-Type is required: the file's own media type, or application/fhir+json for a Binary resource",
        )
    })
}

/// Refuses at once a body whose declared length is over `limit` (nothing is read).
fn check_length(headers: &HeaderMap, limit: u64, svc: &Services) -> ServiceResult<()> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => Err(svc.too_large()),
        _ => Ok(()),
    }
}

/// A new version's answer: status, `Location`, `ETag`, `Last-Modified`, and a body only when
/// `Prefer: return=representation` asks for it (a Binary's content can be large).
async fn written(
    svc: &Services,
    ctx: Context,
    record: RecordId,
    meta: ItemMeta,
    status: StatusCode,
    headers: &HeaderMap,
) -> Response {
    let location = format!(
        "{}/Binary/{}/_history/{}",
        svc.auth_settings().fhir_base(),
        meta.id,
        meta.version
    );
    let prefer = headers.get("prefer").and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut resp = if prefer.contains("return=representation") {
        let s = svc.clone();
        let id = meta.id;
        let version = meta.version;
        match blocking(move || s.read_binary(&ctx, record, id, Some(version))).await {
            Ok(file) => binary_json(svc, file).await,
            Err(e) => return fhir_error(e),
        }
    } else {
        status.into_response()
    };
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    version_headers(resp.headers_mut(), &meta);
    resp
}

/// Reads the request into a Binary write: the raw bytes, or a Binary as FHIR JSON.
async fn binary_write<T: Send + 'static>(
    svc: &Services,
    headers: &HeaderMap,
    body: Body,
    f: impl FnOnce(&Services, BinaryBody<'_>) -> ServiceResult<T> + Send + 'static,
) -> ServiceResult<T> {
    let ct = content_type(headers)?;
    let context = header_text(headers, SECURITY_CONTEXT)?;
    if is_fhir_xml(&ct) {
        return Err(ServiceError::invalid(
            "not-supported",
            "",
            "this server speaks FHIR JSON only: send application/fhir+json or the file's own media type",
        ));
    }
    let s = svc.clone();
    if is_fhir_json(&ct) {
        let limit = svc.file_settings().max_fhir_json_bytes();
        check_length(headers, limit, svc)?;
        let too_large = ServiceError::TooLarge(format!(
            "a Binary sent as FHIR JSON may have at most {limit} bytes; send larger files raw, with their own Content-Type"
        ));
        let bytes = collect_limited(body, limit, too_large).await?;
        blocking(move || f(&s, BinaryBody::Json(&bytes))).await
    } else {
        check_length(headers, svc.file_settings().max_upload_bytes, svc)?;
        with_body_reader(body, move |r| {
            f(
                &s,
                BinaryBody::Raw {
                    content_type: &ct,
                    security_context: context.as_deref(),
                    body: r,
                },
            )
        })
        .await
    }
}

async fn create_binary(
    State(state): State<AppState>,
    bearer: Bearer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let svc = state.services.clone();
    let ctx = bearer.context;
    let r = async {
        let context = header_text(&headers, SECURITY_CONTEXT)?;
        let (s, c) = (svc.clone(), ctx.clone());
        let record = blocking(move || s.record_for_new(&c, context.as_deref())).await?;
        let c = ctx.clone();
        let meta = binary_write(&svc, &headers, body, move |s, b| s.create_binary(&c, record, b)).await?;
        Ok((record, meta))
    }
    .await;
    match r {
        Ok((record, meta)) => written(&svc, ctx, record, meta, StatusCode::CREATED, &headers).await,
        Err(e) => fhir_error(e),
    }
}

async fn update_binary(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let svc = state.services.clone();
    let ctx = bearer.context;
    let r: Result<_, Response> = async {
        let expected = if_match(&headers).map_err(fhir_error)?;
        let item = parse_id(&id, "Binary").map_err(|_| update_as_create(&id))?;
        let (s, c) = (svc.clone(), ctx.clone());
        let what = format!("Binary/{id}");
        let record = blocking(move || s.record_of_item(&c, item, &what))
            .await
            .map_err(|e| match e {
                ServiceError::NotFound(_) => update_as_create(&id),
                e => fhir_error(e),
            })?;
        let c = ctx.clone();
        let meta = binary_write(&svc, &headers, body, move |s, b| {
            s.update_binary(&c, record, item, expected, b)
        })
        .await
        .map_err(|e| write_error(e, expected.is_some()))?;
        Ok((record, meta))
    }
    .await;
    match r {
        Ok((record, meta)) => written(&svc, ctx, record, meta, StatusCode::OK, &headers).await,
        Err(resp) => resp,
    }
}

/// A write's error; a stale version named by `If-Match` is 412 Precondition Failed
/// (https://hl7.org/fhir/R4/http.html#concurrency), other conflicts keep their status.
fn write_error(e: ServiceError, if_match: bool) -> Response {
    if if_match && matches!(e, ServiceError::VersionConflict(_)) {
        fhir_json(StatusCode::PRECONDITION_FAILED, &outcome(&e))
    } else {
        fhir_error(e)
    }
}

/// Hearth assigns ids: a PUT to an id it does not hold (or one the caller cannot reach) is
/// refused with 405, as https://hl7.org/fhir/R4/http.html#update says for servers that do not
/// let clients choose ids.
fn update_as_create(id: &str) -> Response {
    let e = ServiceError::invalid(
        "not-supported",
        "",
        format!(
            "Binary/{id} does not exist, and this server does not create resources with client-chosen ids: POST to /fhir/Binary"
        ),
    );
    let mut resp = fhir_json(StatusCode::METHOD_NOT_ALLOWED, &outcome(&e));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, DELETE"));
    resp
}

async fn delete_binary(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let svc = state.services.clone();
    let expected = match if_match(&headers) {
        Ok(v) => v,
        Err(e) => return fhir_error(e),
    };
    let r = blocking(move || {
        let item = parse_id(&id, "Binary")?;
        let record = svc.record_of_item(&bearer.context, item, &format!("Binary/{id}"))?;
        svc.delete_binary(&bearer.context, record, item, expected)
    })
    .await;
    match r {
        Ok(meta) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            version_headers(resp.headers_mut(), &meta);
            resp
        }
        Err(e) => write_error(e, expected.is_some()),
    }
}

async fn read_binary(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(id): Path<String>,
    Query(q): Query<FormatParam>,
    headers: HeaderMap,
) -> Response {
    serve_binary(state.services, bearer.context, id, None, q.format, headers).await
}

async fn vread_binary(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((id, version)): Path<(String, String)>,
    Query(q): Query<FormatParam>,
    headers: HeaderMap,
) -> Response {
    serve_binary(
        state.services,
        bearer.context,
        id,
        Some(version),
        q.format,
        headers,
    )
    .await
}

async fn serve_binary(
    svc: std::sync::Arc<Services>,
    ctx: Context,
    id: String,
    version: Option<String>,
    format: Option<String>,
    headers: HeaderMap,
) -> Response {
    let json = match wants_fhir_json(&headers, format.as_deref()) {
        Ok(j) => j,
        Err(e) => return fhir_error(e),
    };
    let s = svc.clone();
    let file = blocking(move || {
        let item = parse_id(&id, "Binary")?;
        let version = match version {
            None => None,
            Some(v) => Some(
                v.parse::<u32>()
                    .map_err(|_| ServiceError::NotFound(format!("Binary/{id} has no version {v}")))?,
            ),
        };
        let record = s.record_of_item(&ctx, item, &format!("Binary/{id}"))?;
        s.read_binary(&ctx, record, item, version)
    })
    .await;
    let file = match file {
        Ok(f) => f,
        Err(e) => return fhir_error(e),
    };
    if not_modified(&headers, file.meta.version) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        version_headers(resp.headers_mut(), &file.meta);
        return resp;
    }
    if json {
        let meta = file.meta.clone();
        let mut resp = binary_json(&svc, file).await;
        version_headers(resp.headers_mut(), &meta);
        resp
    } else {
        serve_bytes(&svc, &file.meta, file.content, &headers).await
    }
}

/// A Binary as FHIR JSON, its `data` (the blob in base64) streamed in; `data` is left out
/// when there are no bytes. The marker string stands where `data` goes: it is the resource's
/// last member, so it is the last occurrence of the marker in the text.
async fn binary_json(svc: &Services, file: BinaryFile) -> Response {
    let BinaryFile {
        mut resource,
        content,
        ..
    } = file;
    if content.size() == 0 {
        return fhir_json(StatusCode::OK, &resource);
    }
    const MARK: &str = "\u{1}hearth-binary-data\u{1}";
    resource["data"] = json!(MARK);
    let text = resource.to_string();
    let quoted = json!(MARK).to_string();
    let Some(at) = text.rfind(&quoted) else {
        return fhir_error(ServiceError::Internal("the Binary could not be rendered".into()));
    };
    let prefix = text.as_bytes()[..=at].to_vec();
    let suffix = text.as_bytes()[at + quoted.len() - 1..].to_vec();
    let length = prefix.len() as u64 + base64_len(content.size()) + suffix.len() as u64;
    let s = svc.clone();
    let reader = match blocking(move || s.open_content(&content, None)).await {
        Ok(r) => r,
        Err(e) => return fhir_error(e),
    };
    let mut resp = Response::new(base64_body(prefix, reader, suffix));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    resp
}

/// The raw bytes of a file, whole or the requested range, with their validators.
async fn serve_bytes(svc: &Services, meta: &ItemMeta, content: FileContent, headers: &HeaderMap) -> Response {
    let size = content.size();
    let last_modified = http_date(meta);
    let ranged = requested_range(headers, size, &last_modified);
    let (status, range) = match ranged {
        Ranged::Whole => (StatusCode::OK, None),
        Ranged::Part { start, len } => (StatusCode::PARTIAL_CONTENT, Some((start, len))),
        Ranged::Unsatisfiable => {
            let e = ServiceError::invalid(
                "value",
                "",
                format!("the requested range is outside the file's {size} bytes"),
            );
            let mut resp = fhir_json(StatusCode::RANGE_NOT_SATISFIABLE, &outcome(&e));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            version_headers(resp.headers_mut(), meta);
            return resp;
        }
    };
    let length = range.map_or(size, |(_, len)| len);
    let ct = HeaderValue::from_str(content.content_type())
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let s = svc.clone();
    let reader = match blocking(move || s.open_content(&content, range)).await {
        Ok(r) => r,
        Err(e) => return fhir_error(e),
    };
    let mut resp = Response::new(raw_body(reader));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, ct);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some((start, len)) = range
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    version_headers(h, meta);
    resp
}

fn attachment_path(rtype: &str, p: PathParam) -> ServiceResult<AttachmentPath> {
    let path = p.path.ok_or_else(|| {
        ServiceError::invalid(
            "required",
            "",
            "the path parameter is required, e.g. path=DocumentReference.content[0].attachment",
        )
    })?;
    AttachmentPath::parse(rtype, &path)
}

async fn write_attachment(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
    Query(p): Query<PathParam>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let svc = state.services.clone();
    let ctx = bearer.context;
    let expected = match if_match(&headers) {
        Ok(v) => v,
        Err(e) => return fhir_error(e),
    };
    let r = async {
        let path = attachment_path(&rtype, p)?;
        let item = parse_id(&id, &rtype)?;
        let ct = content_type(&headers)?;
        check_length(&headers, svc.file_settings().max_upload_bytes, &svc)?;
        let (s, c) = (svc.clone(), ctx.clone());
        let what = format!("{rtype}/{id}");
        let record = blocking(move || s.record_of_item(&c, item, &what)).await?;
        let s = svc.clone();
        with_body_reader(body, move |r| {
            s.write_attachment(&ctx, record, item, &path, expected, &ct, r)
        })
        .await
    }
    .await;
    match r {
        Ok((meta, resource)) => {
            let mut resp = fhir_json(StatusCode::OK, &resource);
            version_headers(resp.headers_mut(), &meta);
            resp
        }
        Err(e) => write_error(e, expected.is_some()),
    }
}

async fn read_attachment(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
    Query(p): Query<PathParam>,
    headers: HeaderMap,
) -> Response {
    let svc = state.services.clone();
    let s = svc.clone();
    let r = blocking(move || {
        let path = attachment_path(&rtype, p)?;
        let item = parse_id(&id, &rtype)?;
        let record = s.record_of_item(&bearer.context, item, &format!("{rtype}/{id}"))?;
        s.read_attachment(&bearer.context, record, item, &path)
    })
    .await;
    match r {
        Ok(file) => {
            if not_modified(&headers, file.meta.version) {
                let mut resp = StatusCode::NOT_MODIFIED.into_response();
                version_headers(resp.headers_mut(), &file.meta);
                return resp;
            }
            serve_bytes(&svc, &file.meta, file.content, &headers).await
        }
        Err(e) => fhir_error(e),
    }
}
