//! The attachments of DocumentReference (`content[n].attachment`) and Media (`content`), written
//! and read as HAPI FHIR's Binary-access operations do
//! (https://hapifhir.io/hapi-fhir/docs/server_jpa/binary_storage.html): `$binary-access-write`
//! streams bytes into the blob store and writes a new version of the resource whose attachment
//! gets `contentType`, `size`, `hash` (base64 SHA-1, FHIR R4 datatypes.html#Attachment) and a
//! `url` that reads it back (`$binary-access-read` on the same resource); `data` is dropped. The
//! blob is the item's blob named by the attachment's path. `$binary-access-read` serves that
//! blob, or the attachment's inline `data` when it has some.
//!
//! Paths: `DocumentReference.content[n].attachment` (`content.attachment` means `content[0]`)
//! and `Media.content`. The element must exist in the resource.

use std::io::Read;

use base64::Engine;
use hearth_domain::{AuditAction, ItemId, ItemMeta, ItemState, RecordId};
use serde_json::{Map, Value, json};

use super::{FileContent, Source, envelope_of, media_type, parse_body};
use crate::authz::Operation;
use crate::{Context, ItemRequest, ServiceError, ServiceResult, Services, WriteOutcome};

/// Where an attachment sits in a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentPath {
    resource_type: &'static str,
    /// The `content` index (DocumentReference); `None` for Media.
    index: Option<usize>,
}

fn bad_path(path: &str, why: &str) -> ServiceError {
    ServiceError::invalid("value", "", format!("path {path:?} is not valid: {why}"))
}

impl AttachmentPath {
    /// Parses the `path` parameter for a resource of type `resource_type`.
    pub fn parse(resource_type: &str, path: &str) -> ServiceResult<Self> {
        let path = path.trim();
        match resource_type {
            "DocumentReference" => {
                let rest = path
                    .strip_prefix("DocumentReference.")
                    .ok_or_else(|| bad_path(path, "it must start with \"DocumentReference.\""))?;
                let rest = rest.strip_prefix("content").ok_or_else(|| {
                    bad_path(
                        path,
                        "a DocumentReference's attachments are content[n].attachment",
                    )
                })?;
                let (index, rest) = match rest.strip_prefix('[') {
                    Some(r) => {
                        let (n, r) = r
                            .split_once(']')
                            .ok_or_else(|| bad_path(path, "the index has no closing \"]\""))?;
                        let n: usize = n.parse().map_err(|_| {
                            bad_path(path, "the index must be a whole number, e.g. content[0]")
                        })?;
                        (n, r)
                    }
                    None => (0, rest),
                };
                if rest != ".attachment" {
                    return Err(bad_path(path, "it must end in \".attachment\""));
                }
                Ok(AttachmentPath {
                    resource_type: "DocumentReference",
                    index: Some(index),
                })
            }
            "Media" => {
                if path != "Media.content" {
                    return Err(bad_path(path, "a Media's attachment is \"Media.content\""));
                }
                Ok(AttachmentPath {
                    resource_type: "Media",
                    index: None,
                })
            }
            other => Err(ServiceError::NotFound(format!(
                "{other} has no Binary-access operations here (DocumentReference and Media do)"
            ))),
        }
    }

    pub fn resource_type(&self) -> &'static str {
        self.resource_type
    }

    /// The attachment in `resource`, or an error naming what is missing.
    fn locate<'v>(&self, resource: &'v mut Value) -> ServiceResult<&'v mut Map<String, Value>> {
        let path = self.to_string();
        let slot = match self.index {
            Some(i) => {
                let content = resource
                    .get_mut("content")
                    .and_then(Value::as_array_mut)
                    .ok_or_else(|| bad_path(&path, "the resource has no content"))?;
                let n = content.len();
                content
                    .get_mut(i)
                    .ok_or_else(|| bad_path(&path, &format!("the resource has {n} content element(s)")))?
                    .get_mut("attachment")
            }
            None => resource.get_mut("content"),
        };
        slot.and_then(Value::as_object_mut)
            .ok_or_else(|| bad_path(&path, "there is no attachment there"))
    }
}

impl std::fmt::Display for AttachmentPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}.content[{i}].attachment", self.resource_type),
            None => write!(f, "{}.content", self.resource_type),
        }
    }
}

/// An attachment a caller may read.
#[derive(Clone, Debug)]
pub struct AttachmentFile {
    /// The envelope of the resource holding it (its version is the ETag).
    pub meta: ItemMeta,
    pub content: FileContent,
}

impl Services {
    /// The URL that reads an attachment back (`$binary-access-read`).
    pub fn attachment_url(&self, id: ItemId, path: &AttachmentPath) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(path.to_string().as_bytes()).collect();
        format!(
            "{}/{}/{id}/$binary-access-read?path={encoded}",
            self.auth_settings().fhir_base(),
            path.resource_type
        )
    }

    /// `$binary-access-write`: stores `body` as the attachment at `path` of resource `id` and
    /// writes the resource's new version, returned as clients receive it. `expected_version`
    /// (from `If-Match`) must be current.
    #[allow(clippy::too_many_arguments)] // the operation's inputs, each distinct
    pub fn write_attachment(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        path: &AttachmentPath,
        expected_version: Option<u32>,
        content_type: &str,
        body: &mut dyn Read,
    ) -> ServiceResult<(ItemMeta, Value)> {
        let (meta, mut resource) = self.attachment_holder(ctx, record, id, path)?;
        let ct = self.audited(ctx, Some(record), AuditAction::Write, || {
            self.permit(ctx, record, &meta.data_type, Operation::Update)?;
            if let Some(v) = expected_version
                && v != meta.version
            {
                return Err(ServiceError::VersionConflict(format!(
                    "{}/{id} is at version {}; the write expected version {v}",
                    path.resource_type, meta.version
                )));
            }
            path.locate(&mut resource)?;
            media_type::normalize(content_type, "Content-Type")
        })?;
        let stored = self.audited(ctx, Some(record), AuditAction::Write, || self.store_upload(body))?;
        let url = self.attachment_url(id, path);
        let attachment = path.locate(&mut resource)?;
        attachment.shift_remove("data");
        attachment.insert("contentType".into(), json!(ct));
        attachment.insert("url".into(), json!(url));
        // Attachment.size is an unsignedInt (at most 2^31-1): larger files go without it.
        match i32::try_from(stored.info.size) {
            Ok(n) => attachment.insert("size".into(), json!(n)),
            Err(_) => attachment.shift_remove("size"),
        };
        attachment.insert("hash".into(), json!(stored.sha1_base64()));
        let name = path.to_string();
        let mut blobs: Vec<_> = meta.blobs.iter().filter(|b| b.name != name).cloned().collect();
        blobs.push(stored.blob_ref(&name, &ct));
        let body = resource.to_string();
        let out = self.write(
            ctx,
            record,
            vec![ItemRequest::Update {
                id,
                expected_version: Some(meta.version),
                resource,
                envelope: envelope_of(&meta, blobs),
            }],
        )?;
        match out.into_iter().next() {
            Some(WriteOutcome::Updated(m) | WriteOutcome::Unchanged(m)) => {
                let rendered = crate::render::render_resource(&m, &body).map_err(ServiceError::Internal)?;
                Ok((m, rendered))
            }
            other => Err(ServiceError::Internal(format!(
                "an attachment write gave {other:?}"
            ))),
        }
    }

    /// `$binary-access-read`: the content of the attachment at `path` of resource `id`.
    pub fn read_attachment(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        path: &AttachmentPath,
    ) -> ServiceResult<AttachmentFile> {
        let (meta, mut resource) = self.attachment_holder(ctx, record, id, path)?;
        let name = path.to_string();
        let attachment = path.locate(&mut resource)?;
        let declared = attachment.get("contentType").and_then(Value::as_str);
        let content = if let Some(data) = attachment.get("data").and_then(Value::as_str) {
            let compact: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&compact)
                .map_err(|e| {
                    ServiceError::Internal(format!("{name} of {id} holds data that is not base64: {e}"))
                })?;
            FileContent {
                content_type: declared.unwrap_or("application/octet-stream").to_string(),
                size: bytes.len() as u64,
                source: Source::Inline(bytes),
            }
        } else if let Some(blob) = meta.blobs.iter().find(|b| b.name == name) {
            FileContent::of_blob(declared.unwrap_or(&blob.content_type), blob)
        } else {
            return Err(ServiceError::NotFound(format!(
                "the attachment at {name} has no content stored here"
            )));
        };
        Ok(AttachmentFile { meta, content })
    }

    /// The current version of the resource holding the attachment (an audited read: the
    /// caller must be allowed to read it), checked to be of the path's type and not deleted.
    fn attachment_holder(
        &self,
        ctx: &Context,
        record: RecordId,
        id: ItemId,
        path: &AttachmentPath,
    ) -> ServiceResult<(ItemMeta, Value)> {
        let rt = path.resource_type;
        let not_found = || ServiceError::NotFound(format!("{rt}/{id} not found"));
        let current = self.store.current_meta(record, &[id])?;
        if current.first().is_none_or(|m| m.resource_type != rt) {
            return Err(not_found());
        }
        let item = self.read_one(ctx, record, id).map_err(|e| match e {
            ServiceError::NotFound(_) => not_found(),
            e => e,
        })?;
        if item.meta.state == ItemState::Deleted {
            return Err(ServiceError::Gone(format!("{rt}/{id} was deleted")));
        }
        let resource = parse_body(&item.meta, item.body.as_deref())?;
        Ok((item.meta, resource))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_parsed_or_refused_with_the_reason() {
        let p =
            AttachmentPath::parse("DocumentReference", "DocumentReference.content[2].attachment").unwrap();
        assert_eq!(p.to_string(), "DocumentReference.content[2].attachment");
        let p = AttachmentPath::parse("DocumentReference", "DocumentReference.content.attachment").unwrap();
        assert_eq!(p.to_string(), "DocumentReference.content[0].attachment");
        assert_eq!(
            AttachmentPath::parse("Media", "Media.content")
                .unwrap()
                .to_string(),
            "Media.content"
        );
        for (rt, path, why) in [
            ("DocumentReference", "Media.content", "must start with"),
            (
                "DocumentReference",
                "DocumentReference.subject",
                "content[n].attachment",
            ),
            (
                "DocumentReference",
                "DocumentReference.content[x].attachment",
                "whole number",
            ),
            ("DocumentReference", "DocumentReference.content[0", "closing"),
            (
                "DocumentReference",
                "DocumentReference.content[0].attachment.url",
                "end in",
            ),
            ("Media", "Media.content[0]", "Media.content"),
        ] {
            let e = AttachmentPath::parse(rt, path).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains(path), "{path}: {e}");
        }
        assert!(matches!(
            AttachmentPath::parse("Patient", "Patient.photo"),
            Err(ServiceError::NotFound(_))
        ));
    }

    #[test]
    fn the_attachment_must_exist() {
        let p =
            AttachmentPath::parse("DocumentReference", "DocumentReference.content[1].attachment").unwrap();
        let mut one = json!({"resourceType": "DocumentReference", "content": [{"attachment": {"url": "x"}}]});
        let e = p.locate(&mut one).unwrap_err().to_string();
        assert!(e.contains("1 content element"), "{e}");
        let p0 =
            AttachmentPath::parse("DocumentReference", "DocumentReference.content[0].attachment").unwrap();
        assert_eq!(p0.locate(&mut one).unwrap()["url"], "x");
        let mut none = json!({"resourceType": "DocumentReference"});
        assert!(
            p0.locate(&mut none)
                .unwrap_err()
                .to_string()
                .contains("no content")
        );
    }
}
