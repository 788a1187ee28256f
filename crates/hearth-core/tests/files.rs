//! Files in the services, on a real store (SQLite always; PostgreSQL too when
//! `HEARTH_TEST_POSTGRES_URL` is set): Binary in both forms, versions and If-Match, ranges,
//! the upload limit leaving nothing behind, scopes refusing before a byte is stored, records
//! found from item ids, and the attachments of DocumentReference and Media.

#![allow(clippy::unwrap_used)]

#[path = "../../hearth-store-postgres/tests/common/mod.rs"]
mod pg;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use hearth_core::files::attachment::AttachmentPath;
use hearth_core::files::binary::{BINARY_TYPE, BinaryBody};
use hearth_core::files::{FileContent, FileSettings};
use hearth_core::{Context, ItemRequest, ServiceError, Services, WriteOutcome};
use hearth_domain::{ItemId, Record, Relationship, SystemClock};
use hearth_store::{LocalBlobStore, Store};
use serde_json::{Value, json};
use sha1::Digest;

struct Fx {
    svc: Services,
    record: Record,
    other: Record,
    account: hearth_domain::AccountId,
    blob_dir: std::path::PathBuf,
    _guards: (tempfile::TempDir, Option<pg::ScratchDb>),
}

/// One fixture per configured backend.
fn fixtures(max_upload: u64) -> Vec<(&'static str, Fx)> {
    let mut out = vec![("sqlite", fixture(max_upload, false).unwrap())];
    if let Some(fx) = fixture(max_upload, true) {
        out.push(("postgres", fx));
    }
    out
}

fn fixture(max_upload: u64, postgres: bool) -> Option<Fx> {
    let dir = tempfile::tempdir().unwrap();
    let (store, guard): (Arc<dyn Store>, _) = if postgres {
        let (guard, url) = pg::scratch()?;
        (
            Arc::new(hearth_store_postgres::PostgresStore::connect(&url).unwrap()),
            Some(guard),
        )
    } else {
        (
            Arc::new(hearth_store_sqlite::SqliteStore::open(dir.path().join("h.db")).unwrap()),
            None,
        )
    };
    let blob_dir = dir.path().join("blobs");
    let blobs = LocalBlobStore::open_dir(&blob_dir).unwrap();
    let svc = Services::new(store, Arc::new(blobs), Arc::new(SystemClock)).with_files(FileSettings {
        max_upload_bytes: max_upload,
    });
    let op = Context::operator();
    let ann = svc.create_account(&op, "ann@example.org", "Ann").unwrap();
    let record = svc
        .create_record(&op, ann.id, "Ann", Relationship::SelfRecord, None)
        .unwrap();
    let other = svc
        .create_record(&op, ann.id, "Ben", Relationship::Child, None)
        .unwrap();
    Some(Fx {
        svc,
        record,
        other,
        account: ann.id,
        blob_dir,
        _guards: (dir, guard),
    })
}

fn read_all(svc: &Services, content: &FileContent, range: Option<(u64, u64)>) -> Vec<u8> {
    let mut out = Vec::new();
    svc.open_content(content, range)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn dicom() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/dicom/CT_small.dcm"))
        .expect("the DICOM test file in shared/data")
}

fn raw<'a>(ct: &'a str, body: &'a mut dyn Read) -> BinaryBody<'a> {
    BinaryBody::Raw {
        content_type: ct,
        security_context: None,
        body,
    }
}

/// Files that are neither temporary nor directories under the blob directory.
fn stored_blobs(dir: &Path) -> usize {
    fn walk(p: &Path) -> usize {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    if e.file_name() == "tmp" {
                        0
                    } else {
                        walk(&e.path())
                    }
                } else {
                    1
                }
            })
            .sum()
    }
    walk(dir)
}

fn token(fx: &Fx, record: Option<hearth_domain::RecordId>, scope: &str) -> Context {
    let op = Context::operator();
    let account = record.is_none().then_some(fx.account);
    let (t, _) = fx
        .svc
        .issue_operator_token(&op, record, account, scope, 600)
        .unwrap();
    fx.svc.resolve_bearer(&t).unwrap().0
}

#[test]
fn raw_binary_round_trips_byte_exact_with_ranges() {
    for (backend, fx) in fixtures(1 << 30) {
        let op = Context::operator();
        let bytes = dicom();
        let meta = fx
            .svc
            .create_binary(&op, fx.record.id, raw("Application/DICOM", &mut bytes.as_slice()))
            .unwrap();
        assert_eq!(
            (meta.version, meta.data_type.as_str()),
            (1, BINARY_TYPE),
            "{backend}"
        );
        assert_eq!(meta.blobs.len(), 1);
        assert_eq!(meta.blobs[0].name, "");
        assert_eq!(meta.blobs[0].size, bytes.len() as u64);
        assert_eq!(meta.blobs[0].content_type, "application/dicom");
        let file = fx.svc.read_binary(&op, fx.record.id, meta.id, None).unwrap();
        assert_eq!(file.content.content_type(), "application/dicom");
        assert_eq!(file.content.size(), bytes.len() as u64);
        assert_eq!(file.resource["contentType"], "application/dicom");
        assert!(file.resource.get("data").is_none());
        assert_eq!(file.resource["meta"]["versionId"], "1");
        assert_eq!(read_all(&fx.svc, &file.content, None), bytes, "{backend}");
        assert_eq!(
            read_all(&fx.svc, &file.content, Some((128, 4))),
            b"DICM",
            "{backend}"
        );
        let n = bytes.len() as u64;
        assert_eq!(
            read_all(&fx.svc, &file.content, Some((n - 10, 10))),
            &bytes[bytes.len() - 10..]
        );
        // The item's record is found from its id.
        assert_eq!(
            fx.svc.record_of_item(&op, meta.id, "Binary").unwrap(),
            fx.record.id
        );
        // The same item read as another type is not found.
        assert!(matches!(
            fx.svc.read_attachment(
                &op,
                fx.record.id,
                meta.id,
                &AttachmentPath::parse("Media", "Media.content").unwrap()
            ),
            Err(ServiceError::NotFound(_))
        ));
    }
}

#[test]
fn fhir_json_binaries_keep_their_bytes_as_a_blob() {
    for (backend, fx) in fixtures(1 << 30) {
        let op = Context::operator();
        let text = b"Hello, Hearth \x00\xff";
        let data = base64::engine::general_purpose::STANDARD.encode(text);
        // base64Binary may carry whitespace.
        let spaced = format!("{} {}", &data[..8], &data[8..]);
        let body = json!({"resourceType": "Binary", "id": "x", "contentType": "text/plain",
            "securityContext": {"reference": format!("Patient/{}", fx.record.patient_item)},
            "data": spaced})
        .to_string();
        let meta = fx
            .svc
            .create_binary(&op, fx.record.id, BinaryBody::Json(body.as_bytes()))
            .unwrap();
        let file = fx.svc.read_binary(&op, fx.record.id, meta.id, None).unwrap();
        assert_eq!(read_all(&fx.svc, &file.content, None), text, "{backend}");
        assert!(file.resource.get("data").is_none());
        assert_eq!(file.resource["id"], meta.id.to_string());
        assert_eq!(
            file.resource["securityContext"]["reference"],
            format!("Patient/{}", fx.record.patient_item)
        );
        // Nothing in the stored resource is the data.
        let stored = fx.svc.read_one(&op, fx.record.id, meta.id).unwrap();
        assert!(!stored.body.unwrap().contains(&data[..8]));

        let bad = |body: Value| {
            fx.svc
                .create_binary(&op, fx.record.id, BinaryBody::Json(body.to_string().as_bytes()))
                .unwrap_err()
        };
        let e = bad(json!({"resourceType": "Binary", "contentType": "text/plain", "data": "not base64!"}));
        assert!(e.to_string().contains("Binary.data"), "{e}");
        let e = bad(json!({"resourceType": "Binary", "data": "aGk="}));
        assert!(e.to_string().contains("contentType"), "{e}");
        let e = bad(json!({"resourceType": "Binary", "contentType": "text plain"}));
        assert!(e.to_string().contains("Binary.contentType"), "{e}");
        let e = bad(json!({"resourceType": "Patient"}));
        assert!(e.to_string().contains("not a Binary"), "{e}");
        // A security context must resolve inside the record.
        let e = bad(json!({"resourceType": "Binary", "contentType": "text/plain",
            "securityContext": {"reference": format!("Patient/{}", fx.other.patient_item)}}));
        assert!(matches!(e, ServiceError::Invalid(_)), "{e}");
        // A Binary without data has no content.
        let meta = fx
            .svc
            .create_binary(
                &op,
                fx.record.id,
                BinaryBody::Json(br#"{"resourceType":"Binary","contentType":"text/plain"}"#),
            )
            .unwrap();
        assert!(meta.blobs.is_empty());
        let file = fx.svc.read_binary(&op, fx.record.id, meta.id, None).unwrap();
        assert_eq!(file.content.size(), 0);
        assert!(read_all(&fx.svc, &file.content, None).is_empty());
    }
}

#[test]
fn updates_need_the_current_version_and_keep_the_old_one() {
    for (backend, fx) in fixtures(1 << 30) {
        let op = Context::operator();
        let r = fx.record.id;
        let v1 = fx
            .svc
            .create_binary(&op, r, raw("text/plain", &mut &b"one"[..]))
            .unwrap();
        let e = fx
            .svc
            .update_binary(&op, r, v1.id, Some(7), raw("text/plain", &mut &b"two"[..]))
            .unwrap_err();
        assert!(matches!(e, ServiceError::VersionConflict(_)), "{backend}: {e}");
        let v2 = fx
            .svc
            .update_binary(&op, r, v1.id, Some(1), raw("text/csv", &mut &b"two"[..]))
            .unwrap();
        assert_eq!(v2.version, 2);
        let now = fx.svc.read_binary(&op, r, v1.id, None).unwrap();
        assert_eq!(read_all(&fx.svc, &now.content, None), b"two");
        assert_eq!(now.content.content_type(), "text/csv");
        let old = fx.svc.read_binary(&op, r, v1.id, Some(1)).unwrap();
        assert_eq!(read_all(&fx.svc, &old.content, None), b"one");
        assert_eq!(old.resource["meta"]["versionId"], "1");
        assert!(matches!(
            fx.svc.read_binary(&op, r, v1.id, Some(9)),
            Err(ServiceError::NotFound(_))
        ));
        // A Binary cannot update another resource type.
        assert!(matches!(
            fx.svc.update_binary(
                &op,
                r,
                fx.record.patient_item,
                None,
                raw("text/plain", &mut &b"x"[..])
            ),
            Err(ServiceError::NotFound(_))
        ));
        // Deleted: gone.
        fx.svc.delete_binary(&op, r, v1.id, Some(2)).unwrap();
        assert!(matches!(
            fx.svc.read_binary(&op, r, v1.id, None),
            Err(ServiceError::Gone(_))
        ));
    }
}

#[test]
fn uploads_over_the_limit_leave_nothing_behind() {
    for (backend, fx) in fixtures(1000) {
        let op = Context::operator();
        let r = fx.record.id;
        let before = fx
            .svc
            .query(&op, r, &hearth_domain::ItemQuery::default())
            .unwrap()
            .items
            .len();
        let big = vec![7u8; 1001];
        let e = fx
            .svc
            .create_binary(&op, r, raw("application/octet-stream", &mut big.as_slice()))
            .unwrap_err();
        assert!(matches!(e, ServiceError::TooLarge(_)), "{backend}: {e}");
        assert_eq!(stored_blobs(&fx.blob_dir), 0);
        assert_eq!(std::fs::read_dir(fx.blob_dir.join("tmp")).unwrap().count(), 0);
        let data = base64::engine::general_purpose::STANDARD.encode(&big);
        let json = json!({"resourceType": "Binary", "contentType": "text/plain", "data": data}).to_string();
        let e = fx
            .svc
            .create_binary(&op, r, BinaryBody::Json(json.as_bytes()))
            .unwrap_err();
        assert!(matches!(e, ServiceError::TooLarge(_)), "{e}");
        let after = fx
            .svc
            .query(&op, r, &hearth_domain::ItemQuery::default())
            .unwrap()
            .items
            .len();
        assert_eq!(before, after);
        // Exactly the limit is fine.
        let meta = fx
            .svc
            .create_binary(&op, r, raw("application/octet-stream", &mut &big[..1000]))
            .unwrap();
        assert_eq!(meta.blobs[0].size, 1000);
        assert_eq!(stored_blobs(&fx.blob_dir), 1);
    }
}

#[test]
fn scopes_and_records_decide_before_anything_is_stored() {
    for (backend, fx) in fixtures(1 << 30) {
        let op = Context::operator();
        let readers = token(&fx, Some(fx.record.id), "patient/Binary.rs");
        let observers = token(&fx, Some(fx.record.id), "patient/Observation.cruds");
        let e = fx
            .svc
            .create_binary(&readers, fx.record.id, raw("text/plain", &mut &b"x"[..]))
            .unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)), "{backend}: {e}");
        let e = fx
            .svc
            .create_binary(&observers, fx.record.id, raw("text/plain", &mut &b"x"[..]))
            .unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)), "{e}");
        assert_eq!(stored_blobs(&fx.blob_dir), 0, "refused before storing");

        let meta = fx
            .svc
            .create_binary(&op, fx.record.id, raw("text/plain", &mut &b"x"[..]))
            .unwrap();
        assert!(fx.svc.read_binary(&readers, fx.record.id, meta.id, None).is_ok());
        assert!(matches!(
            fx.svc.read_binary(&observers, fx.record.id, meta.id, None),
            Err(ServiceError::NotFound(_))
        ));
        // A token of the other record does not find the item at all.
        let elsewhere = token(&fx, Some(fx.other.id), "patient/*.cruds");
        assert!(matches!(
            fx.svc.record_of_item(&elsewhere, meta.id, "Binary/x"),
            Err(ServiceError::NotFound(m)) if m == "Binary/x not found"
        ));
        assert_eq!(fx.svc.record_for_new(&elsewhere, None).unwrap(), fx.other.id);

        // A user/ token reaching both records names one through the security context.
        let user = token(&fx, None, "user/*.cruds");
        let e = fx.svc.record_for_new(&user, None).unwrap_err();
        assert!(e.to_string().contains("X-Security-Context"), "{e}");
        let pick = format!("Patient/{}", fx.other.patient_item);
        assert_eq!(fx.svc.record_for_new(&user, Some(&pick)).unwrap(), fx.other.id);
        let e = fx
            .svc
            .record_for_new(&user, Some(&format!("Patient/{}", ItemId::new())))
            .unwrap_err();
        assert!(matches!(e, ServiceError::Invalid(_)), "{e}");
        assert!(fx.svc.record_for_new(&user, Some("Patient")).is_err());
        assert_eq!(
            fx.svc.record_of_item(&user, meta.id, "Binary").unwrap(),
            fx.record.id
        );
    }
}

fn document(fx: &Fx) -> Value {
    json!({"resourceType": "DocumentReference", "status": "current",
    "subject": {"reference": format!("Patient/{}", fx.record.patient_item)},
    "content": [
        {"attachment": {"contentType": "text/plain", "data": "aGVsbG8=", "title": "note"}},
        {"attachment": {"contentType": "application/pdf", "url": "https://example.org/report.pdf"}}
    ]})
}

#[test]
fn attachments_are_written_and_read_through_their_paths() {
    for (backend, fx) in fixtures(1 << 30) {
        let op = Context::operator();
        let r = fx.record.id;
        let out = fx
            .svc
            .write(
                &op,
                r,
                vec![ItemRequest::Create {
                    id: None,
                    resource: document(&fx),
                    envelope: hearth_core::Envelope {
                        tags: vec!["kept".into()],
                        ..Default::default()
                    },
                }],
            )
            .unwrap();
        let WriteOutcome::Created(doc) = &out[0] else {
            panic!("{out:?}")
        };
        let first =
            AttachmentPath::parse("DocumentReference", "DocumentReference.content[0].attachment").unwrap();
        let second =
            AttachmentPath::parse("DocumentReference", "DocumentReference.content[1].attachment").unwrap();
        // Inline data is served as it is.
        let inline = fx.svc.read_attachment(&op, r, doc.id, &first).unwrap();
        assert_eq!(read_all(&fx.svc, &inline.content, None), b"hello", "{backend}");
        assert_eq!(read_all(&fx.svc, &inline.content, Some((1, 3))), b"ell");
        assert_eq!(inline.content.content_type(), "text/plain");
        // An external url has nothing stored here.
        assert!(matches!(
            fx.svc.read_attachment(&op, r, doc.id, &second),
            Err(ServiceError::NotFound(_))
        ));

        let bytes = dicom();
        let (meta, resource) = fx
            .svc
            .write_attachment(
                &op,
                r,
                doc.id,
                &second,
                Some(1),
                "application/dicom",
                &mut bytes.as_slice(),
            )
            .unwrap();
        assert_eq!(meta.version, 2);
        assert_eq!(meta.tags, vec!["kept".to_string()], "the envelope is kept");
        let a = &resource["content"][1]["attachment"];
        assert_eq!(a["contentType"], "application/dicom");
        assert_eq!(a["size"], json!(bytes.len()));
        let sha1 = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&bytes));
        assert_eq!(a["hash"], json!(sha1));
        assert_eq!(a["url"], json!(fx.svc.attachment_url(doc.id, &second)));
        assert!(
            a["url"]
                .as_str()
                .unwrap()
                .ends_with("$binary-access-read?path=DocumentReference.content%5B1%5D.attachment")
        );
        assert_eq!(resource["meta"]["versionId"], "2");
        assert_eq!(resource["content"][0]["attachment"]["data"], "aGVsbG8=");
        let back = fx.svc.read_attachment(&op, r, doc.id, &second).unwrap();
        assert_eq!(read_all(&fx.svc, &back.content, None), bytes);
        assert_eq!(back.content.content_type(), "application/dicom");

        // Writing over inline data replaces it with the blob.
        fx.svc
            .write_attachment(&op, r, doc.id, &first, None, "text/plain", &mut &b"bye"[..])
            .unwrap();
        let now = fx.svc.read_one(&op, r, doc.id).unwrap();
        let body: Value = serde_json::from_str(now.body.as_deref().unwrap()).unwrap();
        assert!(body["content"][0]["attachment"].get("data").is_none());
        assert_eq!(now.meta.blobs.len(), 2);
        let first_back = fx.svc.read_attachment(&op, r, doc.id, &first).unwrap();
        assert_eq!(read_all(&fx.svc, &first_back.content, None), b"bye");
        // The second attachment is still there.
        let again = fx.svc.read_attachment(&op, r, doc.id, &second).unwrap();
        assert_eq!(read_all(&fx.svc, &again.content, None), bytes);

        // Stale versions, missing elements, bad content types.
        let e = fx
            .svc
            .write_attachment(&op, r, doc.id, &first, Some(1), "text/plain", &mut &b"x"[..])
            .unwrap_err();
        assert!(matches!(e, ServiceError::VersionConflict(_)), "{e}");
        let third =
            AttachmentPath::parse("DocumentReference", "DocumentReference.content[2].attachment").unwrap();
        let e = fx
            .svc
            .write_attachment(&op, r, doc.id, &third, None, "text/plain", &mut &b"x"[..])
            .unwrap_err();
        assert!(e.to_string().contains("2 content element"), "{e}");
        let e = fx
            .svc
            .write_attachment(&op, r, doc.id, &first, None, "nonsense", &mut &b"x"[..])
            .unwrap_err();
        assert!(e.to_string().contains("Content-Type"), "{e}");

        // Media.content; a reader may read it but not write it.
        let out = fx
            .svc
            .write(
                &op,
                r,
                vec![ItemRequest::Create {
                    id: None,
                    resource: json!({"resourceType": "Media", "status": "completed",
                        "subject": {"reference": format!("Patient/{}", fx.record.patient_item)},
                        "content": {"contentType": "image/jpeg", "title": "x-ray"}}),
                    envelope: Default::default(),
                }],
            )
            .unwrap();
        let media = out[0].meta().id;
        let media_path = AttachmentPath::parse("Media", "Media.content").unwrap();
        let jpeg = b"\xff\xd8\xff\xe0 not really a jpeg";
        fx.svc
            .write_attachment(&op, r, media, &media_path, None, "image/jpeg", &mut &jpeg[..])
            .unwrap();
        let reader = token(&fx, Some(r), "patient/Media.rs");
        let got = fx.svc.read_attachment(&reader, r, media, &media_path).unwrap();
        assert_eq!(read_all(&fx.svc, &got.content, None), jpeg);
        let e = fx
            .svc
            .write_attachment(&reader, r, media, &media_path, None, "image/jpeg", &mut &jpeg[..])
            .unwrap_err();
        assert!(matches!(e, ServiceError::Forbidden(_)), "{e}");
        let doc_reader = token(&fx, Some(r), "patient/DocumentReference.rs");
        assert!(matches!(
            fx.svc.read_attachment(&doc_reader, r, media, &media_path),
            Err(ServiceError::NotFound(_))
        ));
    }
}
