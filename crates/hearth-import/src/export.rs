//! The lossless record export: everything Hearth knows about one record, written to a directory
//! that a later import can turn back into the same record.
//!
//! HealthVault's users lost their history, audit trail and attachments when the service shut down
//! (healthvault.md §10.4). A Hearth export therefore carries every version of every item (deleted
//! and purged ones included), the whole envelope of each, every blob, the people with access and
//! the complete audit trail — not just the current FHIR resources.
//!
//! # Format `hearth-export`, version 1
//!
//! ```text
//! <out>/
//!   manifest.json                 written last; see below
//!   record.json                   the record and everyone with access to it
//!   envelope.ndjson               one line per version of every item, purged ones included
//!   resources/<ResourceType>.ndjson
//!                                 one line per version that still has a body
//!   blobs/<sha256>                every blob referenced by a version that still has a body
//!   audit.ndjson                  the record's audit trail, oldest first
//! ```
//!
//! All files are UTF-8; `.ndjson` files hold one compact JSON value per line, each line ended by
//! `\n`. Unless said otherwise, timestamps are Hearth's `Timestamp`: an integer count of
//! microseconds since 1970-01-01T00:00:00Z. Identifiers are hyphenated UUIDs.
//!
//! - `manifest.json` ([`ExportManifest`]): `format` (`"hearth-export"`), `format_version` (`1`),
//!   `generator` (the Hearth version that wrote it), `record` (`id`, `display_name`),
//!   `exported_at` (RFC 3339), `counts` ([`ExportCounts`]) and `files`: for every other file of
//!   the export its `path` relative to the export directory (always with `/`), its size in `bytes`
//!   and its lower-case hex `sha256`, sorted by path. An importer checks `format` and
//!   `format_version` first and every file against the manifest before reading anything else.
//!   Because the manifest is written last, a directory without one is not an export.
//! - `record.json` ([`RecordFile`]): `record` is the record as stored (`id`, `display_name`,
//!   `patient_item`, `created_at`, `last_seq`); `accesses` lists every account with access:
//!   `account_id`, `email`, `display_name` and `account_created_at` of the account (null if the
//!   account no longer exists), `relationship` (e.g. `"self"`, `"parent"`), `level` (`"view"`,
//!   `"modify"` or `"custodian"`) and `granted_at`.
//! - `envelope.ndjson` ([`EnvelopeLine`]): `{"meta": <envelope>, "has_body": <bool>}` per version,
//!   in change-sequence order (`meta.seq` strictly increasing). The envelope is the serde form of
//!   [`hearth_domain::ItemMeta`]: `id`, `record_id`, `version`, `state` (`active`, `deleted`,
//!   `purged`), `resource_type`, `data_type`, `effective`, `end_date`, `flags` (`personal`,
//!   `read_only`), `source`, `note`, `tags`, `links` (`target`, `relationship`), `blobs` (`name`,
//!   `content_type`, `size`, `sha256`), `codes`, `client_id`, `writer`, `created` and `updated`
//!   (each `at`, `account`, `app`, `online`) and `seq`. `has_body` is false exactly for versions
//!   whose content was purged; they have no line in `resources/`.
//! - `resources/<ResourceType>.ndjson`: per resource type, the FHIR R4 JSON of every version
//!   that has a body, in change-sequence order. Each line is the resource exactly as stored (key
//!   order and the text of every number preserved, so `72.50` stays `72.50`) with
//!   `meta.versionId` (the item version, as a string) and `meta.lastUpdated` (the version's update
//!   time, RFC 3339) set from the envelope; the resource's `id` is the item id. A line is matched
//!   to its envelope by (`id`, `meta.versionId`).
//! - `blobs/<sha256>`: the bytes of each blob, named by the sha256 of its content, verified while
//!   copying. Blobs of purged versions are not exported (purging removes content for good).
//! - `audit.ndjson`: every audit entry of the record, oldest first, in the serde form of
//!   [`hearth_domain::AuditEntry`] (`id`, `at`, `account`, `app`, `online`, `record`, `action`,
//!   `items` (`id`, `version`), `data_types`, and `outcome`: `{"outcome": "success"}` or
//!   `{"outcome": "failure", "detail": <why>}`). The export's own audit entry is appended after
//!   the trail has been read, so it appears in the next export, not in this one.
//!
//! The directory is assembled under a temporary name next to `<out>` and renamed into place only
//! when complete (files and directories fsynced), so a failed export leaves nothing behind. An
//! existing `<out>` must be an empty directory.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use hearth_core::{Context, ServiceError, Services};
use hearth_domain::{
    AccessLevel, AccountId, AuditEntry, Item, ItemId, ItemMeta, Record, RecordId, Relationship, Timestamp,
};
use hearth_store::{ExportSink, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The value of `manifest.json`'s `format`.
pub const FORMAT: &str = "hearth-export";
/// The version of the export format this module writes.
pub const FORMAT_VERSION: u32 = 1;

pub const MANIFEST_FILE: &str = "manifest.json";
pub const RECORD_FILE: &str = "record.json";
pub const ENVELOPE_FILE: &str = "envelope.ndjson";
pub const AUDIT_FILE: &str = "audit.ndjson";
pub const RESOURCES_DIR: &str = "resources";
pub const BLOBS_DIR: &str = "blobs";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} exists and is not an empty directory; refusing to export into it", .0.display())]
    NotEmpty(PathBuf),
    #[error("export failed: {0}")]
    Service(#[from] ServiceError),
    #[error("blob store: {0}")]
    BlobStore(#[source] StoreError),
    #[error("blob {sha256} (item {item} version {version}) is missing from the blob store")]
    MissingBlob {
        sha256: String,
        item: ItemId,
        version: u32,
    },
    #[error("blob {sha256} (item {item} version {version}) is corrupt: its content hashes to {actual}")]
    CorruptBlob {
        sha256: String,
        item: ItemId,
        version: u32,
        actual: String,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl ExportError {
    fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ExportError {
        let path = path.into();
        move |source| ExportError::Io { path, source }
    }
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this module.
    pub format_version: u32,
    /// `hearth-import <crate version>`.
    pub generator: String,
    pub record: ManifestRecord,
    /// RFC 3339.
    pub exported_at: String,
    pub counts: ExportCounts,
    /// Every file of the export but the manifest, sorted by path.
    pub files: Vec<ManifestFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub id: RecordId,
    pub display_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCounts {
    /// Distinct items.
    pub items: u64,
    /// Versions of all items (lines of `envelope.ndjson`).
    pub versions: u64,
    /// Versions with a body (lines of all `resources/*.ndjson`).
    pub resources: u64,
    /// Versions whose content was purged.
    pub purged_versions: u64,
    pub by_resource_type: BTreeMap<String, TypeCounts>,
    /// Lines of `audit.ndjson`.
    pub audit_entries: u64,
    /// Files under `blobs/`.
    pub blobs: u64,
    pub blob_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    pub items: u64,
    pub versions: u64,
    /// Lines of `resources/<type>.ndjson`.
    pub resources: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative to the export directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// `record.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFile {
    pub record: Record,
    pub accesses: Vec<AccessEntry>,
}

/// One account's access to the record, with the account's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    pub account_id: AccountId,
    /// `None` if the account no longer exists.
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub account_created_at: Option<Timestamp>,
    pub relationship: Relationship,
    pub level: AccessLevel,
    pub granted_at: Timestamp,
}

/// One line of `envelope.ndjson`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeLine {
    pub meta: ItemMeta,
    /// False exactly when the version's content was purged.
    pub has_body: bool,
}

/// [`EnvelopeLine`] without copying the envelope; the two serialise identically.
#[derive(Serialize)]
struct EnvelopeLineRef<'a> {
    meta: &'a ItemMeta,
    has_body: bool,
}

/// Exports `record` to the directory `out` (see the module documentation for the format).
///
/// `ctx` must be allowed to export the record (a custodian, the operator or a tool); the export
/// is audited. `out` must not exist or be an empty directory; its parent is created if needed.
/// Nothing is left behind on failure.
pub fn export_record(
    svc: &Services,
    ctx: &Context,
    record: RecordId,
    out: &Path,
) -> Result<ExportManifest, ExportError> {
    check_destination(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(ExportError::io(&parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(&parent)
        .map_err(ExportError::io(&parent))?;
    let root = tmp.path().to_path_buf();
    let exported_at = svc.now();

    let mut sink = DirSink::new(svc, &root)?;
    let exported = svc.export(ctx, record, &mut sink);
    if let Some(e) = sink.failure.take() {
        return Err(e);
    }
    let mut rec = exported?;
    let accesses = svc.accesses(ctx, record)?;
    // The record row is read just before the versions; never claim less than was exported.
    rec.last_seq = rec.last_seq.max(sink.max_seq);
    let (mut files, counts) = sink.finish()?;

    let mut entries = Vec::with_capacity(accesses.len());
    for a in accesses {
        let account = svc
            .store()
            .account(a.account_id)
            .map_err(|e| ExportError::Service(e.into()))?;
        entries.push(AccessEntry {
            account_id: a.account_id,
            email: account.as_ref().map(|x| x.email.clone()),
            display_name: account.as_ref().map(|x| x.display_name.clone()),
            account_created_at: account.as_ref().map(|x| x.created_at),
            relationship: a.relationship,
            level: a.level,
            granted_at: a.granted_at,
        });
    }
    let record_file = RecordFile {
        record: rec.clone(),
        accesses: entries,
    };
    files.push(write_json_file(&root, RECORD_FILE, &record_file)?);
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let manifest = ExportManifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        generator: format!("hearth-import {}", env!("CARGO_PKG_VERSION")),
        record: ManifestRecord {
            id: rec.id,
            display_name: rec.display_name,
        },
        exported_at: exported_at.to_rfc3339(),
        counts,
        files,
    };
    write_json_file(&root, MANIFEST_FILE, &manifest)?;
    for dir in [root.join(RESOURCES_DIR), root.join(BLOBS_DIR), root.clone()] {
        sync_dir(&dir)?;
    }

    publish(&root, out)?;
    // The directory now lives at `out`; nothing is left to clean up.
    let _ = tmp.keep();
    sync_dir(&parent)?;
    Ok(manifest)
}

/// Refuses anything at `out` but an empty directory.
fn check_destination(out: &Path) -> Result<(), ExportError> {
    match fs::symlink_metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ExportError::Io {
            path: out.into(),
            source: e,
        }),
        Ok(m) if !m.is_dir() => Err(ExportError::NotEmpty(out.into())),
        Ok(_) => {
            let mut it = fs::read_dir(out).map_err(ExportError::io(out))?;
            match it.next() {
                None => Ok(()),
                Some(_) => Err(ExportError::NotEmpty(out.into())),
            }
        }
    }
}

/// Moves the finished directory to `out`. Renaming over an empty directory is atomic where the
/// platform allows it; a non-empty one (filled while we worked) is never replaced.
fn publish(root: &Path, out: &Path) -> Result<(), ExportError> {
    match fs::rename(root, out) {
        Ok(()) => Ok(()),
        Err(first) => {
            check_destination(out)?;
            if out.exists() {
                fs::remove_dir(out).map_err(ExportError::io(out))?;
                fs::rename(root, out).map_err(ExportError::io(out))
            } else {
                Err(ExportError::Io {
                    path: out.into(),
                    source: first,
                })
            }
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(ExportError::io(dir))
}

/// Writes bytes through, hashing and counting them.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file of the export being written: buffered, hashed, fsynced on close.
struct OutFile {
    rel: String,
    path: PathBuf,
    w: BufWriter<Hashing<File>>,
}

impl OutFile {
    fn create(root: &Path, rel: &str) -> Result<Self, ExportError> {
        let path = root.join(rel);
        let file = File::create_new(&path).map_err(ExportError::io(&path))?;
        let w = BufWriter::with_capacity(
            64 * 1024,
            Hashing {
                inner: file,
                hasher: Sha256::new(),
                bytes: 0,
            },
        );
        Ok(OutFile {
            rel: rel.into(),
            path,
            w,
        })
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), ExportError> {
        self.w.write_all(buf).map_err(ExportError::io(&self.path))
    }

    /// Writes one value as a compact JSON line.
    fn line<T: Serialize + ?Sized>(&mut self, buf: &mut Vec<u8>, value: &T) -> Result<(), ExportError> {
        buf.clear();
        serde_json::to_writer(&mut *buf, value)
            .map_err(|e| ExportError::Corrupt(format!("cannot serialise a line of {}: {e}", self.rel)))?;
        buf.push(b'\n');
        self.write_all(buf)
    }

    fn finish(self) -> Result<ManifestFile, ExportError> {
        let OutFile { rel, path, w } = self;
        let h = w.into_inner().map_err(|e| ExportError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        h.inner.sync_all().map_err(ExportError::io(&path))?;
        Ok(ManifestFile {
            path: rel,
            bytes: h.bytes,
            sha256: hex::encode(h.hasher.finalize()),
        })
    }
}

fn write_json_file<T: Serialize>(root: &Path, rel: &str, value: &T) -> Result<ManifestFile, ExportError> {
    let mut f = OutFile::create(root, rel)?;
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|e| ExportError::Corrupt(format!("cannot serialise {rel}: {e}")))?;
    text.push(b'\n');
    f.write_all(&text)?;
    f.finish()
}

/// Receives the store's stream and writes the export's files as it goes. The first failure is
/// kept here (the store only sees an opaque error that stops the stream).
struct DirSink<'a> {
    svc: &'a Services,
    root: PathBuf,
    envelope: OutFile,
    audit: OutFile,
    resources: BTreeMap<String, OutFile>,
    blobs: Vec<ManifestFile>,
    blob_seen: HashSet<String>,
    items: HashSet<ItemId>,
    items_by_type: BTreeMap<String, HashSet<ItemId>>,
    counts: ExportCounts,
    max_seq: i64,
    buf: Vec<u8>,
    failure: Option<ExportError>,
}

impl<'a> DirSink<'a> {
    fn new(svc: &'a Services, root: &Path) -> Result<Self, ExportError> {
        for dir in [RESOURCES_DIR, BLOBS_DIR] {
            let p = root.join(dir);
            fs::create_dir(&p).map_err(ExportError::io(&p))?;
        }
        Ok(DirSink {
            svc,
            root: root.to_path_buf(),
            envelope: OutFile::create(root, ENVELOPE_FILE)?,
            audit: OutFile::create(root, AUDIT_FILE)?,
            resources: BTreeMap::new(),
            blobs: Vec::new(),
            blob_seen: HashSet::new(),
            items: HashSet::new(),
            items_by_type: BTreeMap::new(),
            counts: ExportCounts::default(),
            max_seq: 0,
            buf: Vec::with_capacity(4096),
            failure: None,
        })
    }

    /// Turns our error into one that stops the store's stream, keeping ours to report.
    fn fail(&mut self, e: ExportError) -> StoreError {
        let msg = format!("export aborted: {e}");
        self.failure.get_or_insert(e);
        StoreError::Backend(msg)
    }

    fn on_version(&mut self, item: &Item) -> Result<(), ExportError> {
        let meta = &item.meta;
        let rt = meta.resource_type.as_str();
        if rt.is_empty() || !rt.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ExportError::Corrupt(format!(
                "item {} version {} has resource type {rt:?}",
                meta.id, meta.version
            )));
        }
        self.max_seq = self.max_seq.max(meta.seq);
        self.counts.versions += 1;
        self.items.insert(meta.id);
        self.items_by_type
            .entry(rt.to_string())
            .or_default()
            .insert(meta.id);
        let tc = self.counts.by_resource_type.entry(rt.to_string()).or_default();
        tc.versions += 1;

        let line = EnvelopeLineRef {
            meta,
            has_body: item.body.is_some(),
        };
        self.envelope.line(&mut self.buf, &line)?;

        let Some(body) = &item.body else {
            self.counts.purged_versions += 1;
            return Ok(());
        };
        tc.resources += 1;
        self.counts.resources += 1;
        let resource = render_resource(meta, body)?;
        if !self.resources.contains_key(rt) {
            let f = OutFile::create(&self.root, &format!("{RESOURCES_DIR}/{rt}.ndjson"))?;
            self.resources.insert(rt.to_string(), f);
        }
        if let Some(f) = self.resources.get_mut(rt) {
            f.line(&mut self.buf, &resource)?;
        }

        for b in &meta.blobs {
            if !self.blob_seen.contains(&b.sha256) {
                let file = self.copy_blob(&b.sha256, meta)?;
                self.counts.blobs += 1;
                self.counts.blob_bytes += file.bytes;
                self.blob_seen.insert(b.sha256.clone());
                self.blobs.push(file);
            }
        }
        Ok(())
    }

    /// Streams one blob into `blobs/<sha256>`, checking its hash.
    fn copy_blob(&self, sha256: &str, meta: &ItemMeta) -> Result<ManifestFile, ExportError> {
        let missing = || ExportError::MissingBlob {
            sha256: sha256.into(),
            item: meta.id,
            version: meta.version,
        };
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(ExportError::Corrupt(format!(
                "item {} version {} references blob {sha256:?}, which is not a sha256",
                meta.id, meta.version
            )));
        }
        let mut reader = match self.svc.blobs().open(sha256) {
            Ok(Some(r)) => r,
            Ok(None) => return Err(missing()),
            Err(e) => return Err(ExportError::BlobStore(e)),
        };
        let mut f = OutFile::create(&self.root, &format!("{BLOBS_DIR}/{sha256}"))?;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ExportError::BlobStore(StoreError::Io(e))),
            };
            f.write_all(&chunk[..n])?;
        }
        let file = f.finish()?;
        if file.sha256 != sha256 {
            return Err(ExportError::CorruptBlob {
                sha256: sha256.into(),
                item: meta.id,
                version: meta.version,
                actual: file.sha256,
            });
        }
        Ok(file)
    }

    fn finish(self) -> Result<(Vec<ManifestFile>, ExportCounts), ExportError> {
        let DirSink {
            envelope,
            audit,
            resources,
            mut blobs,
            items,
            items_by_type,
            mut counts,
            ..
        } = self;
        let mut files = Vec::with_capacity(resources.len() + blobs.len() + 3);
        files.push(envelope.finish()?);
        files.push(audit.finish()?);
        for (_, f) in resources {
            files.push(f.finish()?);
        }
        files.append(&mut blobs);
        counts.items = items.len() as u64;
        for (rt, ids) in items_by_type {
            counts.by_resource_type.entry(rt).or_default().items = ids.len() as u64;
        }
        Ok((files, counts))
    }
}

impl ExportSink for DirSink<'_> {
    fn version(&mut self, item: &Item) -> StoreResult<()> {
        if self.failure.is_some() {
            return Err(StoreError::Backend("export aborted".into()));
        }
        self.on_version(item).map_err(|e| self.fail(e))
    }

    fn audit(&mut self, entry: &AuditEntry) -> StoreResult<()> {
        if self.failure.is_some() {
            return Err(StoreError::Backend("export aborted".into()));
        }
        self.counts.audit_entries += 1;
        let r = self.audit.line(&mut self.buf, entry);
        r.map_err(|e| self.fail(e))
    }
}

/// The stored resource with `meta.versionId` and `meta.lastUpdated` set from the envelope, as
/// the API serves it ([`hearth_core::render::render_resource`]).
pub fn render_resource(meta: &ItemMeta, body: &str) -> Result<Value, ExportError> {
    hearth_core::render::render_resource(meta, body).map_err(ExportError::Corrupt)
}
