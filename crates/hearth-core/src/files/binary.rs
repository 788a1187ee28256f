//! `Binary` resources (https://hl7.org/fhir/R4/binary.html, https://hl7.org/fhir/R4/http.html#binary).
//!
//! A Binary item's resource is `{"resourceType":"Binary","contentType":…}` plus
//! `securityContext` when given: never `data`. Its bytes are the item's default blob. Two ways
//! in, as FHIR's HTTP page describes: the raw bytes with their own content type (streamed), or
//! a Binary resource as FHIR JSON whose base64 `data` is decoded and stored as the blob (parsed
//! in memory, so limited to [`super::MAX_FHIR_JSON_BYTES`]). A Binary with no bytes has no blob.
//! Reads return the resource (without `data`) and a [`FileContent`] to stream: the HTTP adapter
//! serves the bytes raw or re-adds `data` as base64 in the JSON.

use std::io::Read;

use base64::Engine;
use hearth_domain::{AuditAction, ItemId, ItemMeta, ItemState, RecordId};
use serde_json::{Map, Value, json};

use super::{FileContent, Source, envelope_of, media_type};
use crate::authz::Operation;
use crate::render::render_resource;
use crate::{Context, ItemRequest, ServiceError, ServiceResult, Services, WriteOutcome};

/// The data type of every Binary item (the generic type: SMART scopes `Binary.*` reach it).
pub const BINARY_TYPE: &str = "fhir:Binary";

/// What a Binary write carries.
pub enum BinaryBody<'a> {
    /// The bytes themselves, with their media type and, optionally, the `securityContext`
    /// reference (`Type/id`, from the `X-Security-Context` header).
    Raw {
        content_type: &'a str,
        security_context: Option<&'a str>,
        body: &'a mut dyn Read,
    },
    /// A Binary resource in FHIR JSON, its content base64 in `data`.
    Json(&'a [u8]),
}

/// A Binary a caller may read: the resource as clients receive it (with `meta`, without
/// `data`) and its content.
#[derive(Clone, Debug)]
pub struct BinaryFile {
    pub meta: ItemMeta,
    pub resource: Value,
    pub content: FileContent,
}

impl Services {
    /// Creates a Binary in `record`.
    pub fn create_binary(
        &self,
        ctx: &Context,
        record: RecordId,
        body: BinaryBody<'_>,
    ) -> ServiceResult<ItemMeta> {
        self.audited(ctx, Some(record), AuditAction::Write, || {
            self.permit(ctx, record, BINARY_TYPE, Operation::Create)
        })?;
        let (resource, blobs) = self.binary_content(ctx, record, body)?;
        let out = self.write(
            ctx,
            record,
            vec![ItemRequest::Create {
                id: None,
                resource,
                envelope: crate::prepare::EnvelopeFields {
                    blobs,
                    ..Default::default()
                },
            }],
        )?;
        match out.into_iter().next() {
            Some(WriteOutcome::Created(m)) => Ok(m),
            other => Err(ServiceError::Internal(format!("a Binary create gave {other:?}"))),
        }
    }

    /// A new version of Binary `id`. `expected_version` (from `If-Match`) must be the current one.
    pub fn update_binary(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        expected_version: Option<u32>,
        body: BinaryBody<'_>,
    ) -> ServiceResult<ItemMeta> {
        let meta = self.audited(ctx, Some(record), AuditAction::Write, || {
            self.permit(ctx, record, BINARY_TYPE, Operation::Update)?;
            let meta = self
                .store
                .current_meta(record, &[id])?
                .into_iter()
                .find(|m| m.resource_type == "Binary" && (ctx.sees_personal() || !m.flags.personal))
                .ok_or_else(|| ServiceError::NotFound(format!("Binary/{id} not found")))?;
            if meta.state == ItemState::Purged {
                return Err(ServiceError::Gone(format!("Binary/{id} was permanently removed")));
            }
            if let Some(v) = expected_version
                && v != meta.version
            {
                return Err(ServiceError::VersionConflict(format!(
                    "Binary/{id} is at version {}; the update expected version {v}",
                    meta.version
                )));
            }
            Ok(meta)
        })?;
        let (resource, blobs) = self.binary_content(ctx, record, body)?;
        let out = self.write(
            ctx,
            record,
            vec![ItemRequest::Update {
                id,
                expected_version: Some(expected_version.unwrap_or(meta.version)),
                resource,
                envelope: envelope_of(&meta, blobs),
            }],
        )?;
        match out.into_iter().next() {
            Some(WriteOutcome::Updated(m)) => Ok(m),
            other => Err(ServiceError::Internal(format!("a Binary update gave {other:?}"))),
        }
    }

    /// The resource to store and the default blob, with the bytes already in the blob store.
    fn binary_content(
        &self,
        ctx: &Context,
        record: RecordId,
        body: BinaryBody<'_>,
    ) -> ServiceResult<(Value, Vec<hearth_domain::BlobRef>)> {
        let fail = |e: ServiceError| {
            self.audit_failure(ctx, Some(record), AuditAction::Write, vec![], &e);
            e
        };
        match body {
            BinaryBody::Raw {
                content_type,
                security_context,
                body,
            } => {
                let ct = media_type::normalize(content_type, "Content-Type").map_err(fail)?;
                let mut resource = json!({"resourceType": "Binary", "contentType": ct});
                if let Some(sc) = security_context {
                    super::parse_reference(sc).map_err(fail)?;
                    resource["securityContext"] = json!({"reference": sc.trim()});
                }
                let stored = self.store_upload(body).map_err(fail)?;
                let blobs = if stored.info.size == 0 {
                    vec![]
                } else {
                    vec![stored.blob_ref("", &ct)]
                };
                Ok((resource, blobs))
            }
            BinaryBody::Json(bytes) => {
                if bytes.len() as u64 > self.files.max_fhir_json_bytes() {
                    return Err(fail(ServiceError::TooLarge(format!(
                        "a Binary sent as FHIR JSON may have at most {} bytes; send larger files raw, with their own Content-Type",
                        self.files.max_fhir_json_bytes()
                    ))));
                }
                let mut resource: Value = serde_json::from_slice(bytes).map_err(|e| {
                    fail(ServiceError::invalid(
                        "structure",
                        "",
                        format!("the body is not JSON: {e}"),
                    ))
                })?;
                let obj = resource
                    .as_object_mut()
                    .filter(|o| o.get("resourceType").and_then(Value::as_str) == Some("Binary"))
                    .ok_or_else(|| {
                        fail(ServiceError::invalid(
                            "invalid",
                            "resourceType",
                            "the body is not a Binary",
                        ))
                    })?;
                let ct = match obj.get("contentType").and_then(Value::as_str) {
                    Some(ct) => media_type::normalize(ct, "Binary.contentType")
                        .map_err(|e| fail(at(e, "Binary.contentType")))?,
                    None => {
                        return Err(fail(ServiceError::invalid(
                            "required",
                            "Binary.contentType",
                            "a Binary needs a contentType",
                        )));
                    }
                };
                obj.insert("contentType".into(), Value::String(ct.clone()));
                let data = decode_data(obj).map_err(fail)?;
                let stored = self.store_upload(&mut data.as_slice()).map_err(fail)?;
                let blobs = if stored.info.size == 0 {
                    vec![]
                } else {
                    vec![stored.blob_ref("", &ct)]
                };
                Ok((resource, blobs))
            }
        }
    }

    /// Binary `id` as a caller may read it: the current version, or `version`. A deleted
    /// Binary is gone (410); another resource type is not found.
    pub fn read_binary(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        version: Option<u32>,
    ) -> ServiceResult<BinaryFile> {
        let not_found = || ServiceError::NotFound(format!("Binary/{id} not found"));
        let current = self.store.current_meta(record, &[id])?;
        let item = match (version, current.first()) {
            (_, None) => return Err(not_found()),
            (_, Some(m)) if m.resource_type != "Binary" => return Err(not_found()),
            (Some(v), Some(m)) if v != m.version => {
                self.read_version(ctx, record, id, v).map_err(|e| match e {
                    ServiceError::NotFound(_) => {
                        ServiceError::NotFound(format!("Binary/{id} has no version {v}"))
                    }
                    e => e,
                })?
            }
            _ => self.read_one(ctx, record, id).map_err(|e| match e {
                ServiceError::NotFound(_) => not_found(),
                e => e,
            })?,
        };
        if item.meta.state == ItemState::Deleted {
            return Err(ServiceError::Gone(format!(
                "Binary/{id} was deleted (version {})",
                item.meta.version
            )));
        }
        let body = item
            .body
            .as_deref()
            .ok_or_else(|| ServiceError::Gone(format!("Binary/{id} was permanently removed")))?;
        let mut resource = render_resource(&item.meta, body).map_err(ServiceError::Internal)?;
        let content_type = resource
            .get("contentType")
            .and_then(Value::as_str)
            .unwrap_or("application/octet-stream")
            .to_string();
        if let Some(o) = resource.as_object_mut() {
            o.shift_remove("data");
        }
        let content = match item.meta.blobs.iter().find(|b| b.name.is_empty()) {
            Some(b) => FileContent::of_blob(&content_type, b),
            None => FileContent {
                content_type,
                size: 0,
                source: Source::Empty,
            },
        };
        Ok(BinaryFile {
            meta: item.meta,
            resource,
            content,
        })
    }

    /// Deletes Binary `id` (a new version in state deleted, as for every item).
    pub fn delete_binary(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        expected_version: Option<u32>,
    ) -> ServiceResult<ItemMeta> {
        let current = self.store.current_meta(record, &[id])?;
        if current.first().is_none_or(|m| m.resource_type != "Binary") {
            return Err(ServiceError::NotFound(format!("Binary/{id} not found")));
        }
        let out = self.write(ctx, record, vec![ItemRequest::Delete { id, expected_version }])?;
        out.into_iter()
            .next()
            .map(|o| o.meta().clone())
            .ok_or_else(|| ServiceError::Internal("a delete produced no outcome".into()))
    }
}

/// The same error located at `path`.
fn at(e: ServiceError, path: &str) -> ServiceError {
    match e {
        ServiceError::Invalid(list) => {
            ServiceError::Invalid(list.into_iter().map(|i| i.under(path)).collect())
        }
        e => e,
    }
}

/// Takes `data` out of a Binary and decodes it (base64, whitespace allowed as FHIR's
/// base64Binary allows it).
fn decode_data(obj: &mut Map<String, Value>) -> ServiceResult<Vec<u8>> {
    let Some(data) = obj.shift_remove("data") else {
        return Ok(vec![]);
    };
    let text = data
        .as_str()
        .ok_or_else(|| ServiceError::invalid("structure", "Binary.data", "data must be a base64 string"))?;
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| ServiceError::invalid("value", "Binary.data", format!("data is not valid base64: {e}")))
}
