//! Files: content kept in the blob store rather than in the resource. Two kinds:
//!
//! - `Binary` resources (https://hl7.org/fhir/R4/binary.html): the item's resource holds
//!   `contentType` (and `securityContext`), never `data`; the bytes are the item's default blob
//!   (`BlobRef { name: "" }`). See [`binary`].
//! - The attachments of DocumentReference (`content[n].attachment`) and Media (`content`), written
//!   and read through HAPI FHIR's `$binary-access-write` / `$binary-access-read` operations; each
//!   is a named blob of the item (the name is the attachment's path). See [`attachment`].
//!
//! Content streams through [`Services`] from any `Read`: it is counted against the configured
//! limit ([`FileSettings::max_upload_bytes`]; beyond it a `TooLarge` error), hashed (SHA-256
//! for the address, SHA-1 for `Attachment.hash`) and written to the blob store without ever
//! being held whole in memory. Each write is authorised before a byte is stored. A blob stored
//! before a write is then refused (a stale version, a rule) stays in the blob store unreferenced:
//! harmless, because blobs are content-addressed, and left for a blob sweep.
//!
//! [`upload`] is a file uploaded from the web app: a new DocumentReference holding it.
//!
//! Reads hand back a [`FileContent`], which only these services construct (after the one
//! authorisation check and the audited item read), and [`Services::open_content`] streams it,
//! whole or a byte range.

pub mod attachment;
pub mod binary;
pub mod media_type;
pub mod upload;

use std::io::{self, Read};

use base64::Engine;
use hearth_domain::{BlobRef, ItemId, ItemMeta, RecordId};
use hearth_store::blob::BlobInfo;
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::authz::Operation;
use crate::context::Principal;
use crate::prepare::EnvelopeFields;
use crate::{Context, ServiceError, ServiceResult, Services};

/// Limits of file uploads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSettings {
    /// The largest file accepted, in bytes (raw uploads, attachments, and the decoded `data` of
    /// a Binary sent as FHIR JSON).
    pub max_upload_bytes: u64,
}

/// 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// A Binary sent as FHIR JSON is parsed in memory, so its body is limited to this, whatever the
/// upload limit; larger files are sent raw.
pub const MAX_FHIR_JSON_BYTES: u64 = 64 << 20;

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}

impl FileSettings {
    /// The largest FHIR JSON body accepted for a Binary: its base64 `data` may encode a file of
    /// the upload limit, plus room for the rest of the resource, never more than
    /// [`MAX_FHIR_JSON_BYTES`].
    pub fn max_fhir_json_bytes(&self) -> u64 {
        self.max_upload_bytes
            .saturating_div(3)
            .saturating_mul(4)
            .saturating_add(64 * 1024)
            .min(MAX_FHIR_JSON_BYTES)
    }
}

/// Where the bytes of a file come from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    Blob(String),
    /// An attachment's inline `data`, decoded.
    Inline(Vec<u8>),
    /// No content (a Binary without `data`).
    Empty,
}

/// The bytes of a file a caller was allowed to read, with their type and size. Only the
/// services construct it, after the authorised read of the item that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileContent {
    content_type: String,
    size: u64,
    source: Source,
}

impl FileContent {
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn of_blob(content_type: &str, blob: &BlobRef) -> Self {
        FileContent {
            content_type: content_type.to_string(),
            size: blob.size,
            source: Source::Blob(blob.sha256.clone()),
        }
    }
}

/// What an upload produced: where the bytes are, how many, and their SHA-1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    pub info: BlobInfo,
    pub sha1: [u8; 20],
}

impl StoredBlob {
    /// The blob as an item's blob named `name`.
    pub fn blob_ref(&self, name: &str, content_type: &str) -> BlobRef {
        BlobRef {
            name: name.into(),
            content_type: content_type.into(),
            size: self.info.size,
            sha256: self.info.sha256.clone(),
        }
    }

    /// `Attachment.hash`: the base64 SHA-1 of the bytes (FHIR R4 datatypes.html#Attachment).
    pub fn sha1_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.sha1)
    }
}

/// Counts, limits and hashes what passes through, and remembers why reading stopped.
struct Metered<'a> {
    inner: &'a mut dyn Read,
    limit: u64,
    size: u64,
    sha1: Sha1,
    too_large: bool,
    failed: Option<String>,
}

impl Read for Metered<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed = Some(e.to_string());
                }
                return Err(e);
            }
        };
        self.size += n as u64;
        if self.size > self.limit {
            self.too_large = true;
            return Err(io::Error::other("the upload is larger than the limit"));
        }
        self.sha1.update(&buf[..n]);
        Ok(n)
    }
}

impl Services {
    /// The same services with these upload limits.
    pub fn with_files(mut self, settings: FileSettings) -> Self {
        self.files = settings;
        self
    }

    pub fn file_settings(&self) -> &FileSettings {
        &self.files
    }

    /// The error for content over the limit.
    pub fn too_large(&self) -> ServiceError {
        ServiceError::TooLarge(format!(
            "the content is larger than this server accepts ({} bytes at most)",
            self.files.max_upload_bytes
        ))
    }

    /// Streams `body` into the blob store, within the upload limit. Callers authorise first.
    pub(crate) fn store_upload(&self, body: &mut dyn Read) -> ServiceResult<StoredBlob> {
        let mut m = Metered {
            inner: body,
            limit: self.files.max_upload_bytes,
            size: 0,
            sha1: Sha1::new(),
            too_large: false,
            failed: None,
        };
        match self.blobs.put(&mut m) {
            Ok(info) => Ok(StoredBlob {
                info,
                sha1: m.sha1.finalize().into(),
            }),
            Err(_) if m.too_large => Err(self.too_large()),
            Err(_) if m.failed.is_some() => Err(ServiceError::invalid(
                "incomplete",
                "",
                format!("the content could not be read: {}", m.failed.unwrap_or_default()),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams a file's content: all of it, or `len` bytes from `start`.
    pub fn open_content(
        &self,
        content: &FileContent,
        range: Option<(u64, u64)>,
    ) -> ServiceResult<Box<dyn Read + Send>> {
        let (start, len) = range.unwrap_or((0, content.size));
        match &content.source {
            Source::Blob(sha256) => self.blobs.open_range(sha256, start, len)?.ok_or_else(|| {
                ServiceError::Internal(format!("blob {sha256} is missing from the blob store"))
            }),
            Source::Inline(bytes) => {
                let from = usize::try_from(start).unwrap_or(usize::MAX).min(bytes.len());
                let to = usize::try_from(start.saturating_add(len))
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(Box::new(io::Cursor::new(bytes[from..to].to_vec())))
            }
            Source::Empty => Ok(Box::new(io::empty())),
        }
    }

    /// The record holding item `id`, when `ctx` reaches it; otherwise "not found" naming `what`
    /// (so an item in a record the caller cannot reach looks like no item at all).
    pub fn record_of_item(&self, ctx: &Context, id: ItemId, what: &str) -> ServiceResult<RecordId> {
        let not_found = || ServiceError::NotFound(format!("{what} not found"));
        let record = self.store.item_record(id)?.ok_or_else(not_found)?;
        let reaches = match &ctx.principal {
            Principal::App(_) => self.records_for(ctx)?.contains(&record),
            _ => match self.authorize(ctx, record, Operation::Read) {
                Ok(_) => true,
                Err(ServiceError::NotFound(_)) => false,
                Err(e) => return Err(e),
            },
        };
        if reaches { Ok(record) } else { Err(not_found()) }
    }

    /// The record a new file goes to: the one record an app's token reaches, or the record that
    /// holds `context` (a `Type/id` reference, e.g. the record's `Patient/{id}`).
    pub fn record_for_new(&self, ctx: &Context, context: Option<&str>) -> ServiceResult<RecordId> {
        let records = match &ctx.principal {
            Principal::App(_) => self.records_for(ctx)?,
            _ => vec![],
        };
        if let [one] = records.as_slice() {
            return Ok(*one);
        }
        let Some(reference) = context else {
            return Err(ServiceError::invalid(
                "required",
                "",
                "this token reaches more than one record: name the record with the header \
                 X-Security-Context: Patient/{id} (the record's Patient)",
            ));
        };
        let (_, id) = parse_reference(reference)?;
        self.record_of_item(ctx, id, &format!("the security context {reference}"))
            .map_err(|e| match e {
                ServiceError::NotFound(m) => ServiceError::invalid(
                    "not-found",
                    "",
                    format!("{m}: it must name an item (such as the Patient) of a record this token reaches"),
                ),
                e => e,
            })
    }

    /// Refuses early (before any byte is stored) what the write itself would refuse.
    pub(crate) fn permit(
        &self,
        ctx: &Context,
        record: RecordId,
        data_type: &str,
        op: Operation,
    ) -> ServiceResult<()> {
        let decision = self.authorize(ctx, record, op)?;
        if decision.allows(data_type, op) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "not allowed to {} {} items in this record",
                op.verb(),
                hearth_domain::datatypes::registry()
                    .get(data_type)
                    .map_or(data_type, |t| t.name)
            )))
        }
    }
}

/// A local reference `Type/id` whose id is an item id.
pub fn parse_reference(reference: &str) -> ServiceResult<(String, ItemId)> {
    let bad = || {
        ServiceError::invalid(
            "value",
            "",
            format!("{reference:?} is not a reference of the form Type/id, e.g. Patient/{{id}}"),
        )
    };
    let (rt, id) = reference.trim().split_once('/').ok_or_else(bad)?;
    if !hearth_fhir::is_resource_type(rt) {
        return Err(bad());
    }
    let id: ItemId = id.parse().map_err(|_| bad())?;
    Ok((rt.to_string(), id))
}

/// The envelope of a new version that changes only the resource and the blobs: what the writer
/// set before is kept.
pub(crate) fn envelope_of(meta: &ItemMeta, blobs: Vec<BlobRef>) -> EnvelopeFields {
    EnvelopeFields {
        flags: meta.flags,
        source: meta.source.clone(),
        note: meta.note.clone(),
        tags: meta.tags.clone(),
        links: meta.links.clone(),
        blobs,
        end_date: None,
        client_id: meta.client_id.clone(),
    }
}

/// The resource a stored body holds.
pub(crate) fn parse_body(meta: &ItemMeta, body: Option<&str>) -> ServiceResult<Value> {
    let body = body.ok_or_else(|| ServiceError::Gone(format!("item {} was permanently removed", meta.id)))?;
    serde_json::from_str(body)
        .map_err(|e| ServiceError::Internal(format!("item {} holds a body that is not JSON: {e}", meta.id)))
}
