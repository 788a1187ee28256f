//! The entries of a batch or transaction Bundle as requests: method, URL (and what it names),
//! `fullUrl`, resource, `ifNoneExist`, `ifMatch`; and the JSON Patch a PATCH entry carries.
//! https://hl7.org/fhir/R4/bundle.html#transaction

use serde_json::Value;

use super::BundleKind;
use crate::{ServiceError, ServiceResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Method {
    Delete,
    Post,
    Put,
    Patch,
    Get,
    Head,
}

pub(super) struct Entry {
    pub(super) index: usize,
    pub(super) full_url: Option<String>,
    pub(super) method: Method,
    pub(super) url: String,
    pub(super) resource: Option<Value>,
    pub(super) if_none_exist: Option<String>,
    pub(super) if_match: Option<u32>,
}

pub(super) fn location(index: usize) -> String {
    format!("Bundle.entry[{index}]")
}

pub(super) fn bad(index: usize, what: impl Into<String>) -> ServiceError {
    ServiceError::invalid("invalid", location(index), what)
}

/// `W/"3"` or `3` as a version number.
pub fn parse_etag(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.trim_matches('"').parse().ok()
}

pub(super) fn parse_entries(bundle: &Value) -> ServiceResult<(BundleKind, Vec<Entry>)> {
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ServiceError::invalid(
            "invalid",
            "resourceType",
            "the body is not a Bundle",
        ));
    }
    let kind = match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => BundleKind::Transaction,
        Some("batch") => BundleKind::Batch,
        Some(other) => {
            return Err(ServiceError::invalid(
                "value",
                "Bundle.type",
                format!("a Bundle of type {other:?} cannot be processed; send a transaction or a batch"),
            ));
        }
        None => {
            return Err(ServiceError::invalid(
                "required",
                "Bundle.type",
                "the Bundle has no type",
            ));
        }
    };
    let list = match bundle.get("entry") {
        None => return Ok((kind, vec![])),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(ServiceError::invalid(
                "structure",
                "Bundle.entry",
                "entry must be an array",
            ));
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (index, e) in list.iter().enumerate() {
        let req = e.get("request").ok_or_else(|| {
            ServiceError::invalid(
                "required",
                format!("{}.request", location(index)),
                "every entry needs a request",
            )
        })?;
        let method = match req.get("method").and_then(Value::as_str) {
            Some("GET") => Method::Get,
            Some("HEAD") => Method::Head,
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            Some("PATCH") => Method::Patch,
            Some("DELETE") => Method::Delete,
            other => {
                return Err(bad(
                    index,
                    format!("request.method {other:?} is not an HTTP method FHIR uses"),
                ));
            }
        };
        let url = req
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ServiceError::invalid(
                    "required",
                    format!("{}.request.url", location(index)),
                    "every request needs a url",
                )
            })?
            .trim_start_matches('/')
            .to_string();
        let resource = e.get("resource").cloned();
        if matches!(method, Method::Post | Method::Put | Method::Patch) && resource.is_none() {
            return Err(ServiceError::invalid(
                "required",
                format!("{}.resource", location(index)),
                "a POST, PUT or PATCH entry needs a resource",
            ));
        }
        let if_match = match req.get("ifMatch").and_then(Value::as_str) {
            Some(s) => Some(
                parse_etag(s).ok_or_else(|| bad(index, format!("ifMatch {s:?} is not a version ETag")))?,
            ),
            None => None,
        };
        out.push(Entry {
            index,
            full_url: e.get("fullUrl").and_then(Value::as_str).map(str::to_string),
            method,
            url,
            resource,
            if_none_exist: req.get("ifNoneExist").and_then(Value::as_str).map(str::to_string),
            if_match,
        });
    }
    Ok((kind, out))
}

/// `Type/id` → (Type, id); `Type?query` → (Type, query) as the second form.
pub(super) enum Target<'a> {
    Type(&'a str),
    Instance(&'a str, &'a str),
    Version(&'a str, &'a str, &'a str),
    Conditional(&'a str, &'a str),
}

pub(super) fn target(url: &str) -> Option<Target<'_>> {
    if let Some((t, q)) = url.split_once('?') {
        return (!t.contains('/')).then_some(Target::Conditional(t, q));
    }
    let parts: Vec<&str> = url.split('/').collect();
    match parts.as_slice() {
        [t] => Some(Target::Type(t)),
        [t, id] => Some(Target::Instance(t, id)),
        [t, id, "_history", v] => Some(Target::Version(t, id, v)),
        _ => None,
    }
}

/// The JSON Patch a PATCH entry carries: a `Binary` whose data is the patch document.
pub(super) fn patch_document(index: usize, resource: Value) -> ServiceResult<Value> {
    if resource.is_array() {
        return Ok(resource);
    }
    if resource.get("resourceType").and_then(Value::as_str) == Some("Binary") {
        use base64::Engine as _;
        let data = resource.get("data").and_then(Value::as_str).unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| bad(index, "the Binary's data is not base64"))?;
        return serde_json::from_slice(&bytes).map_err(|e| bad(index, format!("the patch is not JSON: {e}")));
    }
    Err(bad(
        index,
        "a PATCH entry carries a JSON Patch as a Binary (contentType application/json-patch+json)",
    ))
}
