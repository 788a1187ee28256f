//! A record's files (healthvault.md §2.3 File, §10.3 per-item download of files and documents):
//! documents and pictures uploaded as DocumentReferences whose bytes live in the blob store
//! (`hearth_core::files::upload`), listed, downloaded intact and previewed.
//!
//! - `GET /records/{id}/files` (`after` = page cursor): the files and clinical documents, newest
//!   first, with title, type, size and date; the upload form for people who may add files.
//! - `POST /records/{id}/files` (multipart: `csrf`, `title`, `kind`, `description`, then
//!   `file`): the file streams to the blob store within the upload limit; the fields before it
//!   are read first, and the CSRF token is checked before a byte is stored.
//! - `GET /records/{id}/items/{item}/download`: the exact bytes with their content type, as
//!   `Content-Disposition: attachment`.
//! - `GET /records/{id}/items/{item}/view`: inline, only when the bytes really are a PNG, JPEG,
//!   GIF or WebP image or a PDF (judged by their first bytes, served with that type); never HTML
//!   or SVG from this origin. The CSP forbids framing, so PDFs open in their own tab.

use std::io::{self, Read};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::authz::Operation;
use hearth_core::files::FileContent;
use hearth_core::files::upload::{NewFile, upload_path};
use hearth_core::{Context, ServiceError, ServiceResult, Services, entry};
use hearth_domain::{Cursor, Item, ItemId, ItemQuery, RecordId};
use serde_json::Value;

use super::describe::date_text;
use super::record::{image_type, record_id};
use super::record_nav::{RecordNav, RecordView, Section, failed};
use super::render::{self, FieldErrors, blocking};
use super::session::{Person, csrf_refused};
use crate::AppState;
use crate::api::files::stream::raw_body;

const PAGE: u32 = 50;

pub struct FileRow {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub size: String,
    pub date: String,
    pub thumb: Option<String>,
    pub download: String,
}

pub struct KindOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "files.html")]
struct FilesPage {
    layout: render::Layout,
    nav: RecordNav,
    id: String,
    csrf: String,
    rows: Vec<FileRow>,
    next: Option<String>,
    first: Option<String>,
    can_upload: bool,
    kinds: Vec<KindOption>,
    title: String,
    description: String,
    max_upload: String,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<&'static str>,
}

/// A size for people, in binary multiples: `812 bytes`, `13.9 KB`, `3.1 MB`, `1.0 GB`.
pub fn size_text(n: u64) -> String {
    const K: f64 = 1024.0;
    match n {
        n if n < 1024 => format!("{n} bytes"),
        n if n < 1 << 20 => format!("{:.1} KB", n as f64 / K),
        n if n < 1 << 30 => format!("{:.1} MB", n as f64 / (K * K)),
        n => format!("{:.1} GB", n as f64 / (K * K * K)),
    }
}

fn kind_text(ct: &str) -> String {
    let essence = ct.split(';').next().unwrap_or("").trim();
    match essence {
        "application/pdf" => "PDF".into(),
        "image/png" => "PNG image".into(),
        "image/jpeg" => "JPEG image".into(),
        "image/gif" => "GIF image".into(),
        "image/webp" => "WebP image".into(),
        "text/plain" => "Text".into(),
        "application/xml" | "text/xml" => "XML document".into(),
        "application/dicom" => "DICOM image".into(),
        "" => "Unknown".into(),
        other => other.into(),
    }
}

fn row(record: RecordId, item: &Item) -> FileRow {
    let r: Value = item
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let a = r
        .get("content")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("attachment"));
    let text = |k: &str| {
        a.and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let ct = text("contentType");
    let size = item
        .meta
        .blobs
        .iter()
        .find(|b| b.name == upload_path().to_string())
        .map(|b| b.size)
        .or_else(|| a.and_then(|a| a.get("size")).and_then(Value::as_u64));
    let base = format!("/records/{record}/items/{}", item.meta.id);
    let title = text("title");
    FileRow {
        id: item.meta.id.to_string(),
        title: if title.is_empty() {
            super::describe::summarize(item).title
        } else {
            title
        },
        thumb: (ct.starts_with("image/") && !ct.contains("svg")).then(|| format!("{base}/view")),
        kind: kind_text(&ct),
        size: size.map(size_text).unwrap_or_default(),
        date: date_text(item.meta.effective),
        download: format!("{base}/download"),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct FilesQuery {
    after: Option<String>,
    notice: Option<String>,
}

struct Draft {
    title: String,
    kind: String,
    description: String,
}

#[allow(clippy::too_many_arguments)] // the page's inputs, each distinct
async fn files_page(
    state: &AppState,
    person: &Person,
    id: RecordId,
    status: StatusCode,
    after: Option<Cursor>,
    draft: Draft,
    errors: FieldErrors,
    alert: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let loaded = blocking(move || {
        let view = RecordView::load(&svc, &ctx, id)?;
        let types: Vec<String> = ["file", "clinical-document"]
            .into_iter()
            .filter(|t| view.may(t, Operation::Read))
            .map(String::from)
            .collect();
        if types.is_empty() {
            return Ok((view, vec![], None));
        }
        let q = ItemQuery {
            data_types: types,
            limit: PAGE,
            after,
            ..Default::default()
        };
        let page = svc.query(&ctx, id, &q)?;
        Ok((view, page.items, page.next))
    })
    .await;
    let (view, items, next) = match loaded {
        Ok(x) => x,
        Err(e) => return failed(person, &e, "Files"),
    };
    let base = format!("/records/{id}/files");
    render::page(
        status,
        &FilesPage {
            layout: person.layout(&format!("Files · {}", view.record.display_name)),
            nav: view.nav(Section::Files),
            id: id.to_string(),
            csrf: person.csrf(),
            rows: items.iter().map(|i| row(id, i)).collect(),
            next: next.map(|c| format!("{base}?after={}", c.encode())),
            first: after.map(|_| base.clone()),
            can_upload: view.may("file", Operation::Create),
            kinds: std::iter::once(("", "Other file or picture"))
                .chain(entry::vocab::DOCUMENT_KINDS.iter().map(|c| (c.code, c.label)))
                .map(|(value, label)| KindOption {
                    value,
                    label,
                    selected: value == draft.kind,
                })
                .collect(),
            title: draft.title,
            description: draft.description,
            max_upload: size_text(state.services.file_settings().max_upload_bytes),
            errors,
            alert,
            notice,
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    Query(q): Query<FilesQuery>,
) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    let notice = q
        .notice
        .as_deref()
        .filter(|n| *n == "uploaded")
        .map(|_| "The file is saved.");
    let draft = Draft {
        title: String::new(),
        kind: String::new(),
        description: String::new(),
    };
    let after = q.after.as_deref().and_then(Cursor::decode);
    files_page(
        &state,
        &person,
        id,
        StatusCode::OK,
        after,
        draft,
        FieldErrors::default(),
        None,
        notice,
    )
    .await
}

/// The content type of an upload: what the browser said, else judged from the file name.
fn content_type_of(declared: Option<&str>, file_name: &str) -> String {
    if let Some(d) = declared.filter(|d| !d.is_empty() && *d != "application/octet-stream") {
        return d.to_string();
    }
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "txt" => "text/plain",
        "xml" => "application/xml",
        "dcm" => "application/dicom",
        _ => "application/octet-stream",
    }
    .to_string()
}

/// Bytes handed from the connection to the blocking upload, chunk by chunk.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

pub async fn upload(
    State(state): State<AppState>,
    person: Person,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Response {
    let Some(id) = record_id(&id) else {
        return super::record::not_found(&person);
    };
    let mut csrf = String::new();
    let mut draft = Draft {
        title: String::new(),
        kind: String::new(),
        description: String::new(),
    };
    let mut result: Option<ServiceResult<hearth_domain::ItemMeta>> = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let errors = FieldErrors::one("file", "The upload could not be read; try again.");
                let draft = draft;
                return files_page(&state, &person, id, e.status(), None, draft, errors, None, None).await;
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if matches!(name.as_str(), "csrf" | "title" | "kind" | "description") {
            let text = field.text().await.unwrap_or_default();
            match name.as_str() {
                "csrf" => csrf = text,
                "title" => draft.title = text,
                "kind" => draft.kind = text,
                _ => draft.description = text,
            }
            continue;
        }
        match name.as_str() {
            "file" if result.is_none() => {
                if !person.csrf_ok(&csrf) {
                    return csrf_refused();
                }
                let file_name = field.file_name().unwrap_or("").to_string();
                let title = if draft.title.trim().is_empty() {
                    file_name.clone()
                } else {
                    draft.title.clone()
                };
                let file = NewFile {
                    title,
                    content_type: content_type_of(field.content_type(), &file_name),
                    kind: Some(draft.kind.clone()).filter(|k| !k.is_empty()),
                    description: Some(draft.description.clone()),
                };
                let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
                let svc = state.services.clone();
                let ctx = Context::person(person.account());
                let task = tokio::task::spawn_blocking(move || {
                    let mut reader = ChannelReader {
                        rx,
                        current: Bytes::new(),
                    };
                    svc.upload_file(&ctx, id, &file, &mut reader)
                });
                loop {
                    match field.chunk().await {
                        Ok(Some(b)) => {
                            if tx.send(Ok(b)).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                            break;
                        }
                    }
                }
                drop(tx);
                result =
                    Some(task.await.unwrap_or_else(|e| {
                        Err(ServiceError::Internal(format!("the upload task failed: {e}")))
                    }));
            }
            _ => {}
        }
    }
    if !person.csrf_ok(&csrf) {
        return csrf_refused();
    }
    let refused = |e: ServiceError| {
        let status = render::status_of(&e);
        let (errors, alert) = match &e {
            ServiceError::Invalid(issues) => FieldErrors::split(issues, &["title", "kind", "file"]),
            ServiceError::TooLarge(_) => (FieldErrors::one("file", render::words_of(&e)), None),
            e => (FieldErrors::default(), Some(render::words_of(e))),
        };
        (status, errors, alert)
    };
    let (status, errors, alert) = match result {
        Some(Ok(_)) => return Redirect::to(&format!("/records/{id}/files?notice=uploaded")).into_response(),
        Some(Err(
            e @ (ServiceError::NotFound(_) | ServiceError::Internal(_) | ServiceError::Unavailable(_)),
        )) => {
            return failed(&person, &e, "Files");
        }
        Some(Err(e)) => refused(e),
        None => (
            StatusCode::BAD_REQUEST,
            FieldErrors::one("file", "Choose a file to upload."),
            None,
        ),
    };
    files_page(&state, &person, id, status, None, draft, errors, alert, None).await
}

// ---- download and preview ---------------------------------------------------------------------

/// A file name safe in a header: ASCII letters, digits and a few marks; the rest become `_`.
fn ascii_name(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim().to_string();
    if s.is_empty() { "file".into() } else { s }
}

fn disposition(kind: &str, title: &str) -> HeaderValue {
    let encoded: String = url::form_urlencoded::byte_serialize(title.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{}\"; filename*=UTF-8''{encoded}",
        ascii_name(title)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

struct Opened {
    title: String,
    content: FileContent,
    /// The type judged from the first bytes, for previews.
    sniffed: Option<&'static str>,
}

fn open(svc: &Services, ctx: &Context, id: RecordId, item: ItemId, sniff: bool) -> ServiceResult<Opened> {
    let file = svc.read_attachment(ctx, id, item, &upload_path())?;
    let item = svc.read_one(ctx, id, item)?;
    let title = item
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|r| {
            r.get("content")?
                .get(0)?
                .get("attachment")?
                .get("title")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "file".into());
    let sniffed = if sniff {
        let mut head = Vec::new();
        svc.open_content(&file.content, Some((0, file.content.size().min(16))))?
            .read_to_end(&mut head)
            .map_err(|e| ServiceError::Internal(format!("reading a file's first bytes: {e}")))?;
        image_type(&head).or_else(|| head.starts_with(b"%PDF-").then_some("application/pdf"))
    } else {
        None
    };
    Ok(Opened {
        title,
        content: file.content,
        sniffed,
    })
}

fn file_failed(person: &Person, e: &ServiceError) -> Response {
    match e {
        ServiceError::NotFound(_) | ServiceError::Gone(_) => render::message(
            StatusCode::NOT_FOUND,
            person.layout("Not found"),
            "File not found",
            "There is no such file in this record, or you cannot see it.",
            None,
        ),
        e => failed(person, e, "File"),
    }
}

async fn serve_file(state: AppState, person: Person, ids: (String, String), inline: bool) -> Response {
    let (Some(id), Ok(item)) = (record_id(&ids.0), ids.1.parse::<ItemId>()) else {
        return super::record::not_found(&person);
    };
    let svc = state.services.clone();
    let ctx = Context::person(person.account());
    let opened = blocking(move || {
        let o = open(&svc, &ctx, id, item, inline)?;
        let reader = svc.open_content(&o.content, None)?;
        Ok((o, reader))
    })
    .await;
    let (o, reader) = match opened {
        Ok(x) => x,
        Err(e) => return file_failed(&person, &e),
    };
    let content_type = if inline {
        match o.sniffed {
            Some(t) => t.to_string(),
            None => {
                return render::message(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    person.layout("No preview"),
                    "No preview",
                    "Only pictures and PDF files can be shown here. Download the file to open it.",
                    Some(render::Link {
                        href: format!("/records/{id}/items/{item}/download"),
                        label: "Download the file".into(),
                    }),
                );
            }
        }
    } else {
        o.content.content_type().to_string()
    };
    let mut res = raw_body(reader).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(o.content.size()));
    h.insert(
        header::CONTENT_DISPOSITION,
        disposition(if inline { "inline" } else { "attachment" }, &o.title),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

pub async fn download(
    State(state): State<AppState>,
    person: Person,
    Path(ids): Path<(String, String)>,
) -> Response {
    serve_file(state, person, ids, false).await
}

pub async fn view(
    State(state): State<AppState>,
    person: Person,
    Path(ids): Path<(String, String)>,
) -> Response {
    serve_file(state, person, ids, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_sizes() {
        assert_eq!(ascii_name("Lab résumé 2026.pdf"), "Lab r_sum_ 2026.pdf");
        assert_eq!(ascii_name("\"/"), "__");
        assert_eq!(
            content_type_of(Some("application/octet-stream"), "scan.PDF"),
            "application/pdf"
        );
        assert_eq!(content_type_of(Some("image/png"), "x"), "image/png");
        assert_eq!(size_text(14_200), "13.9 KB");
        assert_eq!(size_text(1 << 30), "1.0 GB");
        assert_eq!(
            disposition("attachment", "a b.pdf").to_str().unwrap(),
            "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf"
        );
    }
}
