//! FHIR responses (https://hl7.org/fhir/R4/http.html): resources with `ETag: W/"v"`,
//! `Last-Modified` and `Location`, the `Prefer: return=` forms, and the Bundles of search,
//! history and transactions.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use hearth_core::ServiceError;
use hearth_core::fhir::Written;
use hearth_core::fhir::search::SearchPage;
use hearth_core::fhir::transaction::{BundleKind, EntryBody, EntryResult};
use hearth_core::render::{render_resource, render_resource_text};
use hearth_domain::{Item, ItemMeta, ItemState, Timestamp};
use serde_json::{Value, json};

use super::super::error::{fhir_json, outcome};

/// `Prefer: return=…` (https://hl7.org/fhir/R4/http.html#ops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

/// What a request's `Prefer` header asks for.
#[derive(Clone, Copy, Debug)]
pub struct Prefer {
    pub ret: Option<Return>,
    /// `handling=strict` (unknown search parameters are errors); lenient otherwise.
    pub strict: bool,
    pub respond_async: bool,
}

impl Prefer {
    pub fn of(headers: &HeaderMap) -> Prefer {
        let mut p = Prefer {
            ret: None,
            strict: false,
            respond_async: false,
        };
        for v in headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
            for part in v.split([',', ';']).map(str::trim) {
                match part {
                    "return=minimal" => p.ret = Some(Return::Minimal),
                    "return=representation" => p.ret = Some(Return::Representation),
                    "return=OperationOutcome" => p.ret = Some(Return::OperationOutcome),
                    "handling=strict" => p.strict = true,
                    "handling=lenient" => p.strict = false,
                    "respond-async" => p.respond_async = true,
                    _ => {}
                }
            }
        }
        p
    }
}

/// The version an `If-Match` header names.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u32>, ServiceError> {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        None => Ok(None),
        Some(v) => hearth_core::fhir::transaction::parse_etag(v)
            .map(Some)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "value",
                    "If-Match",
                    format!("{v:?} is not a version ETag such as W/\"3\""),
                )
            }),
    }
}

pub fn etag(meta: &ItemMeta) -> String {
    format!("W/\"{}\"", meta.version)
}

pub fn render(item: &Item) -> Result<Value, ServiceError> {
    let body = item.body.as_deref().ok_or_else(|| {
        ServiceError::Gone(format!(
            "{}/{} was permanently removed",
            item.meta.resource_type, item.meta.id
        ))
    })?;
    render_resource(&item.meta, body).map_err(ServiceError::Internal)
}

fn set(r: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// A resource with its version headers.
pub fn resource(status: StatusCode, item: &Item) -> Response {
    let text = item
        .body
        .as_deref()
        .ok_or_else(|| {
            ServiceError::Gone(format!(
                "{}/{} was permanently removed",
                item.meta.resource_type, item.meta.id
            ))
        })
        .and_then(|b| render_resource_text(&item.meta, b).map_err(ServiceError::Internal));
    match text {
        Ok(t) => {
            let mut r = (status, t).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/fhir+json; charset=utf-8"),
            );
            set(&mut r, header::ETAG, &etag(&item.meta));
            set(
                &mut r,
                header::LAST_MODIFIED,
                &item.meta.updated.at.to_http_date(),
            );
            r
        }
        Err(e) => super::super::error::fhir_error(e),
    }
}

/// The answer to a create or update, shaped by `Prefer: return`.
pub fn written(base: &str, w: &Written, item: Option<&Item>, prefer: Prefer) -> Response {
    let status = if w.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut r = match (prefer.ret, item) {
        (Some(Return::OperationOutcome), _) => fhir_json(
            status,
            &json!({"resourceType": "OperationOutcome", "issue": [{
                "severity": "information", "code": "informational",
                "diagnostics": format!("{} {}/{} version {}",
                    if w.created { "created" } else if w.unchanged { "matched" } else { "updated" },
                    w.meta.resource_type, w.meta.id, w.meta.version)
            }]}),
        ),
        (Some(Return::Minimal), _) | (_, None) => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = status;
            r
        }
        (_, Some(item)) => resource(status, item),
    };
    set(&mut r, header::ETAG, &etag(&w.meta));
    set(&mut r, header::LAST_MODIFIED, &w.meta.updated.at.to_http_date());
    set(
        &mut r,
        header::LOCATION,
        &format!(
            "{base}/{}/{}/_history/{}",
            w.meta.resource_type, w.meta.id, w.meta.version
        ),
    );
    r
}

fn bundle_shell(kind: &str, now: Timestamp) -> Value {
    json!({
        "resourceType": "Bundle",
        "id": uuid_like(),
        "meta": {"lastUpdated": now.to_rfc3339()},
        "type": kind,
    })
}

fn uuid_like() -> String {
    hearth_domain::ItemId::new().to_string()
}

fn encode_pairs(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish()
}

/// A searchset Bundle. `path` is the search's URL below the base (e.g. `Observation`).
pub fn searchset(base: &str, path: &str, page: &SearchPage, now: Timestamp) -> Value {
    let mut b = bundle_shell("searchset", now);
    if let Some(t) = page.total {
        b["total"] = json!(t);
    }
    let link = |extra: Option<&str>| -> String {
        let mut pairs = page.applied.clone();
        if let Some(p) = extra {
            pairs.push(("_page".into(), p.into()));
        }
        let q = encode_pairs(&pairs);
        if q.is_empty() {
            format!("{base}/{path}")
        } else {
            format!("{base}/{path}?{q}")
        }
    };
    let mut links = vec![json!({"relation": "self", "url": link(None)})];
    if let Some(n) = &page.next {
        links.push(json!({"relation": "next", "url": link(Some(n))}));
    }
    if let Some(p) = &page.previous {
        links.push(json!({"relation": "previous", "url": link(Some(p))}));
    }
    b["link"] = json!(links);
    let mut entries: Vec<Value> = page
        .hits
        .iter()
        .map(|h| {
            let rt = h
                .resource
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = h.resource.get("id").and_then(Value::as_str).unwrap_or_default();
            json!({
                "fullUrl": format!("{base}/{rt}/{id}"),
                "resource": h.resource,
                "search": {"mode": if h.included { "include" } else { "match" }}
            })
        })
        .collect();
    if !page.ignored.is_empty() {
        entries.push(json!({
            "resource": {"resourceType": "OperationOutcome", "issue": [{
                "severity": "warning", "code": "not-supported",
                "diagnostics": format!("ignored search parameters: {}", page.ignored.join(", "))
            }]},
            "search": {"mode": "outcome"}
        }));
    }
    if !entries.is_empty() {
        b["entry"] = json!(entries);
    }
    b
}

/// A history Bundle: each version with the request that made it.
pub fn history(
    base: &str,
    path: &str,
    items: &[Item],
    next: Option<&str>,
    total: Option<usize>,
    now: Timestamp,
) -> Value {
    let mut b = bundle_shell("history", now);
    if let Some(t) = total {
        b["total"] = json!(t);
    }
    let mut links = vec![json!({"relation": "self", "url": format!("{base}/{path}")})];
    if let Some(n) = next {
        let sep = if path.contains('?') { '&' } else { '?' };
        links.push(json!({"relation": "next", "url": format!("{base}/{path}{sep}_page={n}")}));
    }
    b["link"] = json!(links);
    let entries: Vec<Value> = items
        .iter()
        .map(|i| {
            let m = &i.meta;
            let url = format!("{}/{}", m.resource_type, m.id);
            let mut e = json!({"fullUrl": format!("{base}/{url}")});
            let (method, status) = match m.state {
                ItemState::Active if m.version == 1 => ("POST", "201 Created"),
                ItemState::Active => ("PUT", "200 OK"),
                _ => ("DELETE", "204 No Content"),
            };
            if m.state == ItemState::Active
                && let Ok(r) = render(i)
            {
                e["resource"] = r;
            }
            e["request"] = json!({"method": method, "url": if method == "POST" { m.resource_type.clone() } else { url }});
            e["response"] = json!({
                "status": status,
                "etag": etag(m),
                "lastModified": m.updated.at.to_rfc3339()
            });
            e
        })
        .collect();
    if !entries.is_empty() {
        b["entry"] = json!(entries);
    }
    b
}

/// The response Bundle of a batch or transaction.
pub fn bundle_response(
    base: &str,
    kind: BundleKind,
    results: Vec<EntryResult>,
    prefer: Prefer,
    now: Timestamp,
) -> Value {
    let mut b = bundle_shell(
        match kind {
            BundleKind::Batch => "batch-response",
            BundleKind::Transaction => "transaction-response",
        },
        now,
    );
    let entries: Vec<Value> = results
        .into_iter()
        .map(|r| {
            let mut e = json!({});
            let mut resp = json!({"status": r.status});
            if let Some(m) = &r.meta {
                resp["location"] = json!(format!("{}/{}/_history/{}", m.resource_type, m.id, m.version));
                resp["etag"] = json!(etag(m));
                resp["lastModified"] = json!(m.updated.at.to_rfc3339());
                e["fullUrl"] = json!(format!("{base}/{}/{}", m.resource_type, m.id));
            }
            match r.body {
                EntryBody::Failed(err) => {
                    resp["status"] = json!(format!(
                        "{} {}",
                        super::super::error::status_of(&err).as_u16(),
                        super::super::error::status_of(&err)
                            .canonical_reason()
                            .unwrap_or("")
                    ));
                    resp["outcome"] = outcome(&err);
                }
                EntryBody::Item(item) if prefer.ret != Some(Return::Minimal) => {
                    if let Ok(v) = render(&item) {
                        e["resource"] = v;
                    }
                }
                EntryBody::Search(page) => {
                    let path = page.applied.first().map(|_| "").unwrap_or("");
                    e["resource"] = searchset(base, path, &page, now);
                }
                _ => {}
            }
            e["response"] = resp;
            e
        })
        .collect();
    if !entries.is_empty() {
        b["entry"] = json!(entries);
    }
    b
}

/// A searchset of stored items written as text: each resource's stored JSON with its version
/// metadata spliced in, never rebuilt as a value (for `$everything`, which returns whole
/// records).
pub fn searchset_text(
    base: &str,
    path: &str,
    items: &[Item],
    next: Option<&str>,
    total: Option<usize>,
    now: Timestamp,
) -> String {
    let mut head = bundle_shell("searchset", now);
    if let Some(t) = total {
        head["total"] = json!(t);
    }
    let mut links = vec![json!({"relation": "self", "url": format!("{base}/{path}")})];
    if let Some(n) = next {
        let sep = if path.contains('?') { '&' } else { '?' };
        links.push(json!({"relation": "next", "url": format!("{base}/{path}{sep}_page={n}")}));
    }
    head["link"] = json!(links);
    let mut out = head.to_string();
    if items.is_empty() {
        return out;
    }
    out.pop(); // the closing brace
    out.push_str(",\"entry\":[");
    let mut first = true;
    for i in items {
        let Some(body) = i.body.as_deref() else { continue };
        let Ok(resource) = render_resource_text(&i.meta, body) else {
            continue;
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"fullUrl\":");
        out.push_str(&Value::String(format!("{base}/{}/{}", i.meta.resource_type, i.meta.id)).to_string());
        out.push_str(",\"resource\":");
        out.push_str(&resource);
        out.push_str(",\"search\":{\"mode\":\"match\"}}");
    }
    out.push_str("]}");
    out
}

/// A FHIR JSON body already written as text.
pub fn fhir_text(status: StatusCode, text: String) -> Response {
    let mut r = (status, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    r
}
