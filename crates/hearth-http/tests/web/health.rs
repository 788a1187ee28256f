//! The health-data pages on both databases: the record navigation, the home page, entering
//! measurements in other units (converted, the typed value kept, charted), blood pressure,
//! edits that keep what the form does not show and refuse stale forms, delete and restore, and
//! what a viewer may not do.

use hearth_core::Context;
use hearth_core::entry::ENTERED_QUANTITY;
use hearth_domain::{AccessLevel, ItemId, ItemQuery, ItemState, RecordId, Relationship};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// Signs `email` up and in, and makes a record named `name` about them; returns the record id.
pub async fn person_with_record(s: &TestServer, c: &Client, email: &str, name: &str) -> String {
    register(s, c, email, name).await;
    sign_in(s, c, email, PASSWORD, "").await;
    let csrf = page_csrf(s, c, "/records").await;
    let made = post(
        c,
        s,
        "/records",
        &[("name", name), ("relationship", "self"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    made.location()
        .strip_prefix("/records/")
        .and_then(|l| l.strip_suffix("/settings?notice=created"))
        .unwrap()
        .to_string()
}

/// Fills in the form of data type `key` and posts it.
pub async fn add(c: &Client, s: &TestServer, id: &str, key: &str, fields: &[(&str, &str)]) -> Page {
    let path = format!("/records/{id}/data/{key}/new");
    let csrf = page_csrf(s, c, &path).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    post(c, s, &path, &all).await
}

/// The newest item of a data type, read through the services.
pub fn newest(s: &TestServer, id: &str, key: &str) -> (ItemId, u32, Value) {
    let record: RecordId = id.parse().unwrap();
    let q = ItemQuery {
        data_types: vec![key.into()],
        limit: 1,
        ..Default::default()
    };
    let page = sync(|| s.services.query(&Context::operator(), record, &q)).unwrap();
    let item = page.items.into_iter().next().expect("an item");
    let body = serde_json::from_str(item.body.as_deref().unwrap()).unwrap();
    (item.meta.id, item.meta.version, body)
}

fn stored(s: &TestServer, id: &str, item: ItemId) -> (u32, ItemState, Value) {
    let record: RecordId = id.parse().unwrap();
    let i = sync(|| s.services.read_one(&Context::operator(), record, item)).unwrap();
    (
        i.meta.version,
        i.meta.state,
        serde_json::from_str(i.body.as_deref().unwrap()).unwrap(),
    )
}

#[test]
fn measurements_in_other_units_are_converted_kept_and_charted() {
    on_each_backend(async |s: &TestServer| {
        let c = browser();
        let id = person_with_record(s, &c, "ann@example.org", "Ann").await;

        // The record's pages share one navigation; the settings moved.
        let home = get(&c, s, &format!("/records/{id}")).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        for (path, label) in [
            ("", "Home"),
            ("/data", "Health data"),
            ("/files", "Files"),
            ("/profile", "Profile"),
            ("/sharing", "Sharing"),
            ("/emergency", "Emergency"),
            ("/history", "History"),
            ("/settings", "Settings"),
        ] {
            assert!(
                home.body.contains(&format!("href=\"/records/{id}{path}\"")) && home.body.contains(label),
                "{label}"
            );
        }
        assert!(home.body.contains(&format!(
            "<a href=\"/records/{id}\" aria-current=\"page\">Home</a>"
        )));
        let settings = get(&c, s, &format!("/records/{id}/settings")).await;
        assert!(
            settings.body.contains("aria-current=\"page\">Settings</a>")
                && settings.body.contains("Authorised apps")
        );
        assert!(home.body.contains("Not recorded"), "no weight yet");

        // Weight typed in pounds: stored in kilograms with the typed quantity kept.
        let added = add(
            &c,
            s,
            &id,
            "weight",
            &[
                ("effective", "2026-12-01T07:30"),
                ("value", "165"),
                ("unit", "[lb_av]"),
                ("note", "Morning"),
            ],
        )
        .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        assert_eq!(
            added.location(),
            format!("/records/{id}/data/weight?notice=added")
        );
        let (item, _, w) = newest(s, &id, "weight");
        let q = &w["valueQuantity"];
        assert_eq!(q["value"].to_string(), "74.84");
        assert_eq!(
            (q["code"].as_str(), q["system"].as_str()),
            (Some("kg"), Some("http://unitsofmeasure.org"))
        );
        assert_eq!(q["extension"][0]["url"], ENTERED_QUANTITY);
        assert_eq!(q["extension"][0]["valueQuantity"]["value"].to_string(), "165");
        assert_eq!(q["extension"][0]["valueQuantity"]["code"], "[lb_av]");
        assert_eq!(w["code"]["coding"][0]["code"], "29463-7");
        assert_eq!(w["category"][0]["coding"][0]["code"], "vital-signs");
        assert_eq!(w["effectiveDateTime"], "2026-12-01T07:30:00Z");

        // The home page shows the latest weight; the chart has a point.
        let home = get(&c, s, &format!("/records/{id}")).await;
        assert!(
            home.body.contains("74.84 kg") && home.body.contains("2026-12-01 07:30"),
            "{}",
            home.body
        );
        let chart = get(&c, s, &format!("/records/{id}/data/weight")).await;
        assert_eq!(chart.status, StatusCode::OK);
        assert!(chart.body.contains("role=\"img\"") && chart.body.contains("<title id=\"chart-title\">"));
        assert_eq!(
            chart.body.matches("<circle class=\"dot line-0\"").count(),
            1,
            "{}",
            chart.body
        );
        assert!(
            chart
                .body
                .contains(&format!("href=\"/records/{id}/items/{item}\""))
        );
        assert!(chart.body.contains("aria-current=\"page\">All</a>"));
        let short = get(&c, s, &format!("/records/{id}/data/weight?range=7d")).await;
        assert!(
            short.body.contains("Nothing to chart")
                && short.body.contains("aria-current=\"page\">7 days</a>")
        );

        // The edit form shows what was typed.
        let edit = get(&c, s, &format!("/records/{id}/items/{item}/edit")).await;
        assert!(
            edit.body.contains("name=\"value\" type=\"text\" value=\"165\""),
            "{}",
            edit.body
        );
        assert!(
            edit.body
                .contains("<option value=\"[lb_av]\" selected>lb</option>")
        );

        // Glucose in mg/dL, temperature in °F.
        let g = add(
            &c,
            s,
            &id,
            "blood-glucose",
            &[
                ("effective", "2027-01-10T08:00"),
                ("test", "15074-8"),
                ("value", "100"),
                ("unit", "mg/dL"),
            ],
        )
        .await;
        assert_eq!(g.status, StatusCode::SEE_OTHER, "{}", g.body);
        let (_, _, g) = newest(s, &id, "blood-glucose");
        assert_eq!(g["valueQuantity"]["value"].to_string(), "5.55");
        assert_eq!(g["valueQuantity"]["code"], "mmol/L");
        assert_eq!(g["category"][0]["coding"][0]["code"], "laboratory");
        let t = add(
            &c,
            s,
            &id,
            "body-temperature",
            &[
                ("effective", "2027-01-10T08:00"),
                ("value", "98.6"),
                ("unit", "[degF]"),
            ],
        )
        .await;
        assert_eq!(t.status, StatusCode::SEE_OTHER, "{}", t.body);
        let (_, _, t) = newest(s, &id, "body-temperature");
        assert_eq!(
            (
                t["valueQuantity"]["value"].to_string().as_str(),
                t["valueQuantity"]["code"].as_str()
            ),
            ("37", Some("Cel"))
        );
        let glucose_chart = get(&c, s, &format!("/records/{id}/data/blood-glucose")).await;
        assert!(
            glucose_chart.body.contains("class=\"band\"") && glucose_chart.body.contains("3.9–5.5 mmol/L")
        );

        // Blood pressure: two components, two lines, two bands.
        for (when, sys, dia) in [
            ("2027-01-08T07:00", "128", "84"),
            ("2027-01-09T07:00", "121", "79"),
        ] {
            let bp = add(
                &c,
                s,
                &id,
                "blood-pressure",
                &[
                    ("effective", when),
                    ("systolic", sys),
                    ("diastolic", dia),
                    ("unit", "mm[Hg]"),
                    ("pulse", ""),
                ],
            )
            .await;
            assert_eq!(bp.status, StatusCode::SEE_OTHER, "{}", bp.body);
        }
        let (_, _, bp) = newest(s, &id, "blood-pressure");
        assert_eq!(bp["code"]["coding"][0]["code"], "85354-9");
        assert_eq!(bp["component"][0]["code"]["coding"][0]["code"], "8480-6");
        assert_eq!(bp["component"][1]["code"]["coding"][0]["code"], "8462-4");
        assert_eq!(bp["component"][0]["valueQuantity"]["value"].to_string(), "121");
        assert_eq!(bp["component"].as_array().unwrap().len(), 2, "no pulse given");
        let bp_chart = get(&c, s, &format!("/records/{id}/data/blood-pressure")).await;
        assert!(
            bp_chart.body.contains("class=\"series line-0\"")
                && bp_chart.body.contains("class=\"series line-1\"")
        );
        assert_eq!(bp_chart.body.matches("<rect class=\"band\"").count(), 2);
        assert!(bp_chart.body.contains("121/79 mmHg"));

        // A bad value is shown next to its field.
        let bad = add(
            &c,
            s,
            &id,
            "weight",
            &[
                ("effective", "2027-01-11T07:30"),
                ("value", "heavy"),
                ("unit", "kg"),
            ],
        )
        .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(
            bad.body.contains("id=\"f-value-error\"")
                && bad.body.contains("aria-describedby=\"f-value-error\"")
        );
        assert!(
            bad.body.contains("value=\"heavy\""),
            "the typed text is shown back"
        );

        // Health data lists the types with their latest date; home lists an upcoming appointment.
        let a = add(
            &c,
            s,
            &id,
            "appointment",
            &[
                ("description", "Dentist"),
                ("start", "2027-02-01T09:00"),
                ("end", "2027-02-01T09:30"),
                ("status", "booked"),
            ],
        )
        .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let data = get(&c, s, &format!("/records/{id}/data")).await;
        assert!(
            data.body.contains(&format!("href=\"/records/{id}/data/weight\""))
                && data.body.contains("2026-12-01")
        );
        assert!(
            get(&c, s, &format!("/records/{id}"))
                .await
                .body
                .contains("Dentist")
        );
    });
}

#[test]
fn edits_keep_the_rest_refuse_stale_forms_and_deletes_can_be_undone() {
    on_each_backend(async |s: &TestServer| {
        let c = browser();
        let id = person_with_record(s, &c, "bea@example.org", "Bea").await;
        let record: RecordId = id.parse().unwrap();
        let patient = sync(|| s.services.record(&Context::operator(), record))
            .unwrap()
            .patient_item;
        // A weight written by another client, with parts no form shows.
        let resource: Value = serde_json::from_str(&json!({
            "resourceType": "Observation", "status": "final",
            "extension": [{"url": "https://example.org/fhir/posture", "valueString": "standing"}],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}]},
            "subject": {"reference": format!("Patient/{patient}")},
            "effectiveDateTime": "2027-01-05T08:00:00+01:00",
            "valueQuantity": {"value": 71.25, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
            "device": {"display": "Scale 3000"},
            "interpretation": [{"text": "normal"}],
        }).to_string().replace("71.25", "71.250")).unwrap();
        let person = sync(|| s.services.account_by_email("bea@example.org"))
            .unwrap()
            .unwrap();
        let out = sync(|| {
            s.services.write(
                &Context::person(person.id),
                record,
                vec![hearth_core::ItemRequest::Create {
                    id: None,
                    resource,
                    envelope: Default::default(),
                }],
            )
        })
        .unwrap();
        let item = out[0].meta().id;

        let item_page = get(&c, s, &format!("/records/{id}/items/{item}")).await;
        assert!(item_page.body.contains("Measured with Scale 3000") && item_page.body.contains("Version 1"));
        assert!(item_page.body.contains("Added") && item_page.body.contains("by Bea"));
        let edit = get(&c, s, &format!("/records/{id}/items/{item}/edit")).await;
        let csrf = edit.csrf();
        let form = |version: &'static str, note: &'static str| {
            vec![
                ("csrf", csrf.clone()),
                ("version", version.to_string()),
                ("effective", "2027-01-05T07:00".to_string()),
                ("value", "71.250".to_string()),
                ("unit", "kg".to_string()),
                ("note", note.to_string()),
            ]
        };
        let fields = form("1", "After a run");
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let saved = post(&c, s, &format!("/records/{id}/items/{item}/edit"), &borrowed).await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        assert_eq!(
            saved.location(),
            format!("/records/{id}/items/{item}?notice=saved")
        );
        let (version, _, r) = stored(s, &id, item);
        assert_eq!(version, 2);
        assert_eq!(r["note"][0]["text"], "After a run");
        assert_eq!(r["extension"][0]["valueString"], "standing");
        assert_eq!(r["device"]["display"], "Scale 3000");
        assert_eq!(r["interpretation"][0]["text"], "normal");
        assert_eq!(
            r["effectiveDateTime"], "2027-01-05T08:00:00+01:00",
            "an unchanged time keeps its text"
        );
        assert_eq!(r["valueQuantity"]["value"].to_string(), "71.250");

        // The same form again (version 1) is stale: refused, nothing lost.
        let fields = form("1", "Overwritten?");
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let stale = post(&c, s, &format!("/records/{id}/items/{item}/edit"), &borrowed).await;
        assert_eq!(stale.status, StatusCode::CONFLICT);
        assert!(
            stale
                .body
                .contains("Someone changed this item after you opened the form"),
            "{}",
            stale.body
        );
        assert!(stale.body.contains("name=\"version\" value=\"2\"") && stale.body.contains("After a run"));
        assert_eq!(stored(s, &id, item).2["note"][0]["text"], "After a run");

        // Versions are listed for custodians, each readable.
        let page = get(&c, s, &format!("/records/{id}/items/{item}")).await;
        assert!(
            page.body
                .contains(&format!("/records/{id}/items/{item}/versions/1\""))
        );
        let v1 = get(&c, s, &format!("/records/{id}/items/{item}/versions/1")).await;
        assert_eq!(v1.status, StatusCode::OK);
        assert!(v1.body.contains("71.250") && !v1.body.contains("After a run"));

        // Delete (soft), see it among deleted items, restore.
        let page_csrf = page.csrf();
        let deleted = post(
            &c,
            s,
            &format!("/records/{id}/items/{item}/delete"),
            &[("csrf", &page_csrf), ("version", "2")],
        )
        .await;
        assert_eq!(
            deleted.location(),
            format!("/records/{id}/data/weight?notice=deleted")
        );
        assert_eq!(stored(s, &id, item).1, ItemState::Deleted);
        let gone = get(&c, s, &format!("/records/{id}/data/weight")).await;
        assert!(!gone.body.contains(&format!("/items/{item}\"")));
        let listed = get(&c, s, &format!("/records/{id}/data/weight?deleted=1")).await;
        assert!(
            listed.body.contains(&format!("/items/{item}\"")),
            "{}",
            listed.body
        );
        let page = get(&c, s, &format!("/records/{id}/items/{item}")).await;
        assert!(page.body.contains("This item is deleted.") && page.body.contains("/restore\""));
        assert!(!page.body.contains("/edit\""));
        let restored = post(
            &c,
            s,
            &format!("/records/{id}/items/{item}/restore"),
            &[("csrf", &page_csrf), ("version", "3")],
        )
        .await;
        assert_eq!(
            restored.location(),
            format!("/records/{id}/items/{item}?notice=restored")
        );
        let (version, state, _) = stored(s, &id, item);
        assert_eq!((version, state), (4, ItemState::Active));

        // A read-only item shows no edit button.
        let out = sync(|| {
            s.services.write(&Context::person(person.id), record, vec![hearth_core::ItemRequest::Create {
                id: None,
                resource: json!({"resourceType": "Condition", "code": {"text": "Asthma"}, "subject": {"reference": format!("Patient/{patient}")}}),
                envelope: hearth_core::Envelope {
                    flags: hearth_domain::ItemFlags { personal: false, read_only: true },
                    ..Default::default()
                },
            }])
        })
        .unwrap();
        let frozen = out[0].meta().id;
        let page = get(&c, s, &format!("/records/{id}/items/{frozen}")).await;
        assert!(
            page.body.contains("read-only") && !page.body.contains("/edit\""),
            "{}",
            page.body
        );
        let refused = get(&c, s, &format!("/records/{id}/items/{frozen}/edit")).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    });
}

#[test]
fn viewers_see_no_changes_and_are_refused() {
    on_each_backend(async |s: &TestServer| {
        let owner = browser();
        let id = person_with_record(s, &owner, "cal@example.org", "Cal").await;
        let added = add(
            &owner,
            s,
            &id,
            "condition",
            &[
                ("name", "Hay fever"),
                ("clinical", "active"),
                ("onset", "2019-05"),
            ],
        )
        .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let (item, _, _) = newest(s, &id, "condition");

        let viewer = browser();
        register(s, &viewer, "dee@example.org", "Dee").await;
        sign_in(s, &viewer, "dee@example.org", PASSWORD, "").await;
        let dee = sync(|| s.services.account_by_email("dee@example.org"))
            .unwrap()
            .unwrap();
        sync(|| {
            s.services.grant_access(
                &Context::operator(),
                id.parse().unwrap(),
                dee.id,
                Relationship::Friend,
                AccessLevel::View,
            )
        })
        .unwrap();

        let home = get(&viewer, s, &format!("/records/{id}")).await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.body.contains("Hay fever"), "viewers read");
        for custodian_only in ["/sharing\"", "/emergency\"", "/history\""] {
            assert!(!home.body.contains(custodian_only), "{custodian_only}");
        }
        assert!(!home.body.contains("/new\""), "no add links");
        let page = get(&viewer, s, &format!("/records/{id}/items/{item}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains("/edit\"") && !page.body.contains("/delete\""),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Versions"), "versions are for custodians");
        let csrf = page.csrf();
        assert_eq!(
            get(&viewer, s, &format!("/records/{id}/items/{item}/versions/1"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get(&viewer, s, &format!("/records/{id}/data/condition/new"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get(&viewer, s, &format!("/records/{id}/items/{item}/edit"))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let posts = [
            (
                format!("/records/{id}/data/condition/new"),
                vec![("csrf", csrf.as_str()), ("name", "Gout")],
            ),
            (
                format!("/records/{id}/items/{item}/edit"),
                vec![("csrf", csrf.as_str()), ("version", "1"), ("name", "Gout")],
            ),
            (
                format!("/records/{id}/items/{item}/delete"),
                vec![("csrf", csrf.as_str()), ("version", "1")],
            ),
            (
                format!("/records/{id}/items/{item}/restore"),
                vec![("csrf", csrf.as_str()), ("version", "1")],
            ),
            (
                format!("/records/{id}/profile"),
                vec![("csrf", csrf.as_str()), ("version", "1"), ("given", "X")],
            ),
        ];
        for (path, fields) in posts {
            let refused = post(&viewer, s, &path, &fields).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}: {}", refused.body);
        }
        let (_, _, r) = newest(s, &id, "condition");
        assert_eq!(r["code"]["text"], "Hay fever");
        assert!(
            get(&viewer, s, &format!("/records/{id}/data/condition?deleted=1"))
                .await
                .status
                == StatusCode::FORBIDDEN
        );
        let files = get(&viewer, s, &format!("/records/{id}/files")).await;
        assert!(
            !files.body.contains("enctype=\"multipart/form-data\""),
            "no upload form"
        );
        // A stranger sees nothing.
        let stranger = browser();
        register(s, &stranger, "eve@example.org", "Eve").await;
        sign_in(s, &stranger, "eve@example.org", PASSWORD, "").await;
        assert_eq!(
            get(&stranger, s, &format!("/records/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&stranger, s, &format!("/records/{id}/items/{item}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    });
}
