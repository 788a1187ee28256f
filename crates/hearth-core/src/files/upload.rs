//! A file uploaded from the web app: a new DocumentReference (FHIR R4
//! https://hl7.org/fhir/R4/documentreference.html; HealthVault's File thing, healthvault.md
//! §2.3) whose one attachment's bytes live in the blob store, exactly as
//! `$binary-access-write` leaves them ([`super::attachment`]): `contentType`, `size`, `hash`,
//! `title` and a `url` that reads the bytes back, no `data`. With a document kind (LOINC 34133-9
//! care summary, 60591-5 patient summary) it is a clinical document, else a file.
//!
//! The creation is authorised before a byte is stored; the content is counted against the
//! upload limit as it streams.

use std::io::Read;

use hearth_domain::datatypes::LOINC;
use hearth_domain::{AuditAction, ItemId, ItemMeta, RecordId};
use serde_json::{Map, Value, json};

use super::attachment::AttachmentPath;
use super::media_type;
use crate::authz::Operation;
use crate::entry::vocab::DOCUMENT_KINDS;
use crate::prepare::EnvelopeFields;
use crate::{Context, ItemRequest, ServiceError, ServiceResult, Services};

/// What the person said about a file they upload.
#[derive(Clone, Debug, Default)]
pub struct NewFile {
    pub title: String,
    /// The type the browser sent (or one judged from the bytes).
    pub content_type: String,
    /// A LOINC document kind from the document kinds; `None` for an ordinary file.
    pub kind: Option<String>,
    pub description: Option<String>,
}

/// Where an uploaded file's bytes sit in its DocumentReference.
pub fn upload_path() -> AttachmentPath {
    AttachmentPath::parse("DocumentReference", "DocumentReference.content[0].attachment")
        .unwrap_or_else(|_| unreachable!("a fixed, valid path"))
}

impl Services {
    /// Stores `body` and creates the DocumentReference holding it.
    pub fn upload_file(
        &self,
        ctx: &Context,
        record: RecordId,
        file: &NewFile,
        body: &mut dyn Read,
    ) -> ServiceResult<ItemMeta> {
        let kind = match file.kind.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => Some(DOCUMENT_KINDS.iter().find(|c| c.code == k).ok_or_else(|| {
                ServiceError::invalid("value", "kind", "Choose one of the kinds of document.")
            })?),
            None => None,
        };
        let data_type = if kind.is_some() {
            "clinical-document"
        } else {
            "file"
        };
        let (patient, ct) = self.audited(ctx, Some(record), AuditAction::Write, || {
            let rec = self.record(ctx, record)?;
            self.permit(ctx, record, data_type, Operation::Create)?;
            let title = file.title.trim();
            if title.is_empty() || title.chars().count() > 300 {
                return Err(ServiceError::invalid(
                    "required",
                    "title",
                    "Give the file a title (up to 300 characters).",
                ));
            }
            Ok((
                rec.patient_item,
                media_type::normalize(&file.content_type, "content type")?,
            ))
        })?;
        let stored = self.audited(ctx, Some(record), AuditAction::Write, || self.store_upload(body))?;
        if stored.info.size == 0 {
            return Err(ServiceError::invalid("required", "file", "The file is empty."));
        }
        let id = ItemId::new();
        let path = upload_path();
        let mut attachment = Map::new();
        attachment.insert("contentType".into(), json!(ct));
        attachment.insert("url".into(), json!(self.attachment_url(id, &path)));
        if let Ok(n) = i32::try_from(stored.info.size) {
            attachment.insert("size".into(), json!(n));
        }
        attachment.insert("hash".into(), json!(stored.sha1_base64()));
        attachment.insert("title".into(), json!(file.title.trim()));
        let mut resource = json!({"resourceType": "DocumentReference", "status": "current"});
        if let Some(k) = kind {
            resource["type"] = json!({"coding": [{"system": LOINC, "code": k.code, "display": k.label}]});
        }
        resource["subject"] = json!({"reference": format!("Patient/{patient}")});
        resource["date"] = json!(self.now().to_rfc3339());
        if let Some(d) = file
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            resource["description"] = json!(d);
        }
        resource["content"] = json!([{"attachment": Value::Object(attachment)}]);
        let envelope = EnvelopeFields {
            blobs: vec![stored.blob_ref(&path.to_string(), &ct)],
            ..Default::default()
        };
        let out = self.write(
            ctx,
            record,
            vec![ItemRequest::Create {
                id: Some(id),
                resource,
                envelope,
            }],
        )?;
        out.into_iter()
            .next()
            .map(|o| o.meta().clone())
            .ok_or_else(|| ServiceError::Internal("a write returned no outcome".into()))
    }
}
