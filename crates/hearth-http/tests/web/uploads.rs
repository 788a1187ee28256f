//! Files on both databases: a PDF and a picture uploaded through the page, listed, downloaded
//! byte for byte, previewed inline only when the bytes are a PDF or an image; the profile page.

use hearth_core::Context;
use hearth_domain::{ItemQuery, RecordId};
use reqwest::{Client, StatusCode};

use crate::common::*;
use crate::health::{newest, person_with_record};

/// A small, well-formed PDF (one empty page) with a binary stream holding every byte value.
fn pdf() -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>".to_vec(),
        {
            let mut s = b"<< /Length 256 >>\nstream\n".to_vec();
            s.extend(0u8..=255);
            s.extend_from_slice(b"\nendstream");
            s
        },
    ];
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
    0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05,
    0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42,
    0x60, 0x82,
];

async fn upload(
    c: &Client,
    s: &TestServer,
    id: &str,
    csrf: &str,
    title: &str,
    kind: &str,
    (name, mime, bytes): (&str, &str, &[u8]),
) -> Page {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_string())
        .text("title", title.to_string())
        .text("kind", kind.to_string())
        .text("description", "")
        .part("file", part);
    page(
        c.post(s.url(&format!("/records/{id}/files")))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn fetch(c: &Client, s: &TestServer, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let res = c.get(s.url(path)).send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.unwrap().to_vec())
}

#[test]
fn files_upload_download_and_preview() {
    on_each_backend(async |s: &TestServer| {
        let c = browser();
        let id = person_with_record(s, &c, "fay@example.org", "Fay").await;
        let csrf = page_csrf(s, &c, &format!("/records/{id}/files")).await;
        let pdf = pdf();

        let no_csrf = upload(
            &c,
            s,
            &id,
            "nope",
            "Scan",
            "",
            ("scan.pdf", "application/pdf", &pdf),
        )
        .await;
        assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
        let up = upload(
            &c,
            s,
            &id,
            &csrf,
            "Blood test results",
            "",
            ("results.pdf", "application/pdf", &pdf),
        )
        .await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
        assert_eq!(up.location(), format!("/records/{id}/files?notice=uploaded"));
        let (item, _, doc) = newest(s, &id, "file");
        let attachment = &doc["content"][0]["attachment"];
        assert_eq!(attachment["contentType"], "application/pdf");
        assert_eq!(attachment["size"], pdf.len());
        assert_eq!(attachment["title"], "Blood test results");
        assert!(
            attachment.get("data").is_none(),
            "the bytes live in the blob store"
        );
        assert!(
            attachment["url"]
                .as_str()
                .unwrap()
                .contains("$binary-access-read")
        );

        let list = get(&c, s, &format!("/records/{id}/files")).await;
        assert!(
            list.body.contains("Blood test results") && list.body.contains("PDF"),
            "{}",
            list.body
        );
        assert!(list.body.contains(&format!("{} bytes", pdf.len())) || list.body.contains(" KB"));

        let (status, headers, bytes) = fetch(&c, s, &format!("/records/{id}/items/{item}/download")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/pdf");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"Blood test results\"")
        );
        assert_eq!(bytes, pdf, "byte for byte");
        let (status, headers, bytes) = fetch(&c, s, &format!("/records/{id}/items/{item}/view")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/pdf");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline")
        );
        assert_eq!(bytes, pdf);
        let item_page = get(&c, s, &format!("/records/{id}/items/{item}")).await;
        assert!(item_page.body.contains("View the PDF") && item_page.body.contains("/download\""));

        // A picture is previewed inline; a care summary is a clinical document.
        let up = upload(&c, s, &id, &csrf, "", "", ("rash.png", "image/png", PNG)).await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
        let (picture, _, doc) = newest(s, &id, "file");
        assert_eq!(
            doc["content"][0]["attachment"]["title"], "rash.png",
            "the file's name by default"
        );
        let (status, headers, bytes) = fetch(&c, s, &format!("/records/{id}/items/{picture}/view")).await;
        assert_eq!(
            (status, headers["content-type"].to_str().unwrap()),
            (StatusCode::OK, "image/png")
        );
        assert_eq!(bytes, PNG);
        let list = get(&c, s, &format!("/records/{id}/files")).await;
        assert!(list.body.contains(&format!(
            "<img class=\"thumb\" src=\"/records/{id}/items/{picture}/view\""
        )));
        let ccd = b"<?xml version=\"1.0\"?><ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>";
        let up = upload(
            &c,
            s,
            &id,
            &csrf,
            "Discharge summary",
            "34133-9",
            ("ccd.xml", "application/octet-stream", ccd),
        )
        .await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{}", up.body);
        let (doc_id, _, doc) = newest(s, &id, "clinical-document");
        assert_eq!(doc["type"]["coding"][0]["code"], "34133-9");
        assert_eq!(doc["content"][0]["attachment"]["contentType"], "application/xml");

        // Bytes that claim to be an image but are HTML are never shown inline.
        let html = b"<html><script>alert(1)</script></html>";
        let up = upload(&c, s, &id, &csrf, "Fake", "", ("fake.png", "image/png", html)).await;
        assert_eq!(up.status, StatusCode::SEE_OTHER);
        let (fake, _, _) = newest(s, &id, "file");
        let (status, headers, _) = fetch(&c, s, &format!("/records/{id}/items/{fake}/view")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(
            headers["content-type"].to_str().unwrap().starts_with("text/html"),
            "the refusal page"
        );
        let (status, headers, _) = fetch(&c, s, &format!("/records/{id}/items/{doc_id}/view")).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "XML is not previewed");
        assert_eq!(headers["x-content-type-options"], "nosniff");

        // Nothing to upload is said next to the field; another record's file is not reachable.
        let empty = upload(&c, s, &id, &csrf, "Empty", "", ("e.txt", "text/plain", b"")).await;
        assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
        assert!(empty.body.contains("id=\"file-error\""));
        let other = browser();
        let other_id = person_with_record(s, &other, "gus@example.org", "Gus").await;
        assert_eq!(
            fetch(&other, s, &format!("/records/{other_id}/items/{item}/download"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            fetch(&other, s, &format!("/records/{id}/items/{item}/download"))
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    });
}

#[test]
fn the_profile_is_edited_and_kept() {
    on_each_backend(async |s: &TestServer| {
        let c = browser();
        let id = person_with_record(s, &c, "hana@example.org", "Hana").await;
        let form = get(&c, s, &format!("/records/{id}/profile")).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("aria-current=\"page\">Profile</a>"));
        let csrf = form.csrf();
        let version = hidden(&form.body, "version").unwrap();
        let fields = [
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("contacts", "1"),
            ("given", "Hana"),
            ("family", "Sato"),
            ("birth", "1990-04-02"),
            ("gender", "female"),
            ("phone", "+81 3 1234 5678"),
            ("email", "hana@example.org"),
            ("line", "1-2-3 Ginza"),
            ("city", "Tokyo"),
            ("postal", "104-0061"),
            ("country", "Japan"),
            ("blood_type", "278149003"),
            ("contact0_name", "Ken Sato"),
            ("contact0_relationship", "Brother"),
            ("contact0_phone", "+81 90 0000 0000"),
        ];
        let saved = post(&c, s, &format!("/records/{id}/profile"), &fields).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(saved.location(), format!("/records/{id}/profile?notice=saved"));

        let record: RecordId = id.parse().unwrap();
        let rec = sync(|| s.services.record(&Context::operator(), record)).unwrap();
        let patient = sync(|| {
            s.services
                .read_one(&Context::operator(), record, rec.patient_item)
        })
        .unwrap();
        let p: serde_json::Value = serde_json::from_str(patient.body.as_deref().unwrap()).unwrap();
        assert_eq!(p["name"][0]["family"], "Sato");
        assert_eq!(p["name"][0]["given"][0], "Hana");
        assert_eq!(p["birthDate"], "1990-04-02");
        assert_eq!(p["gender"], "female");
        assert!(
            p["telecom"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["system"] == "phone" && t["value"] == "+81 3 1234 5678")
        );
        assert_eq!(p["address"][0]["city"], "Tokyo");
        assert_eq!(p["contact"][0]["name"]["text"], "Ken Sato");
        assert_eq!(p["contact"][0]["relationship"][0]["coding"][0]["code"], "C");
        assert_eq!(p["contact"][0]["relationship"][0]["text"], "Brother");
        let q = ItemQuery {
            data_types: vec!["lab-result".into()],
            code: Some("http://loinc.org|882-1".into()),
            ..Default::default()
        };
        let blood = sync(|| s.services.query(&Context::operator(), record, &q))
            .unwrap()
            .items;
        assert_eq!(blood.len(), 1);
        assert!(blood[0].body.as_deref().unwrap().contains("278149003"));

        let shown = get(&c, s, &format!("/records/{id}/profile")).await;
        assert!(shown.body.contains("value=\"Sato\"") && shown.body.contains("value=\"Ken Sato\""));
        assert!(
            shown
                .body
                .contains("<option value=\"278149003\" selected>A Rh+</option>")
        );
        // The old version's form is stale now.
        let stale = post(&c, s, &format!("/records/{id}/profile"), &fields).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
        // A bad email is shown next to its field.
        let version = hidden(&shown.body, "version").unwrap();
        let bad = post(
            &c,
            s,
            &format!("/records/{id}/profile"),
            &[
                ("csrf", csrf.as_str()),
                ("version", version.as_str()),
                ("email", "not an address"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("id=\"p-email-error\""), "{}", bad.body);

        // The picture is uploaded from the profile and comes back to it.
        let picture = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("back", "profile")
            .part(
                "picture",
                reqwest::multipart::Part::bytes(PNG.to_vec())
                    .file_name("me.png")
                    .mime_str("image/png")
                    .unwrap(),
            );
        let saved = page(
            c.post(s.url(&format!("/records/{id}/picture")))
                .multipart(picture)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(saved.location(), format!("/records/{id}/profile?notice=picture"));
        let shown = get(&c, s, &format!("/records/{id}/profile")).await;
        assert!(shown.body.contains(&format!("src=\"/records/{id}/picture\"")));
        assert!(
            shown.body.contains("value=\"Sato\""),
            "the picture kept the profile"
        );

        // A viewer sees it read-only.
        let viewer = browser();
        register(s, &viewer, "ivo@example.org", "Ivo").await;
        sign_in(s, &viewer, "ivo@example.org", PASSWORD, "").await;
        let ivo = sync(|| s.services.account_by_email("ivo@example.org"))
            .unwrap()
            .unwrap();
        sync(|| {
            s.services.grant_access(
                &Context::operator(),
                record,
                ivo.id,
                hearth_domain::Relationship::Friend,
                hearth_domain::AccessLevel::View,
            )
        })
        .unwrap();
        let read_only = get(&viewer, s, &format!("/records/{id}/profile")).await;
        assert!(read_only.body.contains("Ken Sato") && read_only.body.contains("Blood type: A Rh+"));
        assert!(
            !read_only
                .body
                .contains(&format!("action=\"/records/{id}/profile\""))
        );
    });
}
