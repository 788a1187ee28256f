//! Every named type's form round-trips: its fields make a resource that passes FHIR R4
//! validation and the type's rules, is classified back into the same type, and shows the same
//! fields again; measurements convert units and keep what was typed; edits keep the rest.

use hearth_domain::datatypes::registry;
use hearth_domain::{ItemId, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::prepare::{EnvelopeFields, prepare};

fn sample(form: &EntryForm) -> Values {
    form.fields
        .iter()
        .map(|f| {
            let v = match f.input {
                _ if form.shape == Shape::Result && f.name == "result" => "12.5".into(),
                _ if form.shape == Shape::Result && f.name == "unit" => "cm".into(),
                Input::Text | Input::Phone => format!("Sample {}", f.label.to_lowercase()),
                Input::LongText => "A note.".into(),
                Input::Date => "2025-03-01".into(),
                Input::DateTime | Input::Instant => "2025-03-01T08:30".into(),
                Input::Decimal => "72.5".into(),
                Input::Integer => "2".into(),
                Input::Url => "https://example.org/doc".into(),
                Input::Email => "ann@example.org".into(),
                input => input.choices()[0].code.into(),
            };
            (f.name.to_string(), v)
        })
        .collect()
}

fn prepared_type(resource: &Value) -> Result<String, Vec<crate::ValidationIssue>> {
    prepare(
        resource.clone(),
        ItemId::new(),
        &EnvelopeFields::default(),
        Timestamp(0),
    )
    .map(|p| p.content.data_type)
}

#[test]
fn every_named_type_has_a_form_that_round_trips() {
    let named: Vec<&str> = registry().named().iter().map(|d| d.key).collect();
    assert_eq!(named.len(), 42);
    let keys: Vec<&str> = forms().iter().map(EntryForm::key).collect();
    assert_eq!(keys, named, "one form per named type, in catalogue order");
    let patient = ItemId::new();
    for form in forms() {
        let values = sample(form);
        let resource = form
            .apply(&values, &form.start(Some(patient)))
            .unwrap_or_else(|e| panic!("{}: {e:?}", form.key()));
        let issues: Vec<_> = hearth_fhir::validate_resource(&resource)
            .into_iter()
            .filter(|i| !matches!(i.severity, hearth_fhir::Severity::Warning))
            .collect();
        assert!(issues.is_empty(), "{}: {issues:?}\n{resource:#}", form.key());
        assert_eq!(
            prepared_type(&resource).unwrap_or_else(|e| panic!("{}: {e:?}\n{resource:#}", form.key())),
            form.key(),
            "{resource:#}"
        );
        let shown = form.values(&resource);
        for (k, v) in &values {
            assert_eq!(shown.get(k), Some(v), "{}.{k}\n{resource:#}", form.key());
        }
    }
}

#[test]
fn required_and_unreadable_fields_are_named() {
    let form = form("weight").unwrap();
    let mut v = Values::new();
    v.insert("effective".into(), "yesterday".into());
    v.insert("value".into(), "heavy".into());
    let issues = form.apply(&v, &form.start(None)).unwrap_err();
    let at: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(at, vec!["effective", "value"], "{issues:?}");
    v.insert("value".into(), String::new());
    let issues = form.apply(&v, &form.start(None)).unwrap_err();
    assert!(
        issues
            .iter()
            .any(|i| i.path == "value" && i.message == "Enter value."),
        "{issues:?}"
    );
    assert_eq!(form.field_for("Observation.valueQuantity.value"), Some("value"));
    assert_eq!(form.field_for("Observation.valueQuantity.code"), Some("unit"));
    assert_eq!(form.field_for("Observation.effectiveDateTime"), Some("effective"));
    let cond = super::form("condition").unwrap();
    assert_eq!(cond.field_for("Condition.code"), Some("name"));
}

fn entered(form: &EntryForm, value: &str, unit: &str, extra: &[(&str, &str)]) -> Value {
    let mut v = Values::new();
    v.insert("effective".into(), "2026-01-02T07:00".into());
    v.insert("value".into(), value.into());
    v.insert("unit".into(), unit.into());
    for (k, x) in extra {
        v.insert((*k).into(), (*x).into());
    }
    let r = form.apply(&v, &form.start(Some(ItemId::new()))).unwrap();
    assert_eq!(prepared_type(&r).unwrap(), form.key());
    r
}

#[test]
fn values_typed_in_other_units_are_converted_and_kept() {
    let weight = form("weight").unwrap();
    let r = entered(weight, "165", "[lb_av]", &[]);
    let q = &r["valueQuantity"];
    assert_eq!(q["value"].to_string(), "74.84");
    assert_eq!((q["code"].as_str(), q["unit"].as_str()), (Some("kg"), Some("kg")));
    let typed = &q["extension"][0];
    assert_eq!(typed["url"], ENTERED_QUANTITY);
    assert_eq!(typed["valueQuantity"]["value"].to_string(), "165");
    assert_eq!(typed["valueQuantity"]["code"], "[lb_av]");
    let shown = weight.values(&r);
    assert_eq!(
        (shown["value"].as_str(), shown["unit"].as_str()),
        ("165", "[lb_av]")
    );

    let same = entered(weight, "72.50", "kg", &[]);
    assert_eq!(same["valueQuantity"]["value"].to_string(), "72.50");
    assert!(same["valueQuantity"].get("extension").is_none());

    let glucose = form("blood-glucose").unwrap();
    let r = entered(glucose, "100", "mg/dL", &[]);
    assert_eq!(r["valueQuantity"]["value"].to_string(), "5.55");
    assert_eq!(r["valueQuantity"]["code"], "mmol/L");

    let lipids = form("lipid-panel").unwrap();
    let r = entered(lipids, "1.7", "mmol/L", &[("test", "2571-8")]);
    assert_eq!(
        r["valueQuantity"]["value"].to_string(),
        "151",
        "triglycerides: 88.57 mg/dL per mmol/L"
    );
    assert_eq!(r["code"]["coding"][0]["code"], "2571-8");

    let temperature = form("body-temperature").unwrap();
    let r = entered(temperature, "98.6", "[degF]", &[]);
    assert_eq!(r["valueQuantity"]["value"].to_string(), "37");
    assert_eq!(r["valueQuantity"]["unit"], "°C");

    let hba1c = form("hba1c").unwrap();
    let r = entered(hba1c, "48", "mmol/mol", &[]);
    assert_eq!(
        (
            r["valueQuantity"]["value"].to_string().as_str(),
            r["valueQuantity"]["code"].as_str()
        ),
        ("48", Some("mmol/mol"))
    );
}

#[test]
fn blood_pressure_has_two_components_and_an_optional_pulse() {
    let form = form("blood-pressure").unwrap();
    let mut v = Values::new();
    for (k, x) in [
        ("effective", "2026-01-02T07:00"),
        ("systolic", "16"),
        ("diastolic", "10.6"),
        ("unit", "kPa"),
        ("pulse", "64"),
    ] {
        v.insert(k.into(), x.into());
    }
    let r = form.apply(&v, &form.start(None)).unwrap();
    assert_eq!(prepared_type(&r).unwrap(), "blood-pressure");
    assert_eq!(r["code"]["coding"][0]["code"], "85354-9");
    let c = r["component"].as_array().unwrap();
    assert_eq!(c[0]["code"]["coding"][0]["code"], "8480-6");
    assert_eq!(c[0]["valueQuantity"]["value"].to_string(), "120");
    assert_eq!(c[0]["valueQuantity"]["code"], "mm[Hg]");
    assert_eq!(c[1]["code"]["coding"][0]["code"], "8462-4");
    assert_eq!(c[1]["valueQuantity"]["value"].to_string(), "80");
    assert_eq!(c[2]["valueQuantity"]["value"].to_string(), "64");
    let shown = form.values(&r);
    assert_eq!(
        (shown["systolic"].as_str(), shown["unit"].as_str()),
        ("16", "kPa")
    );
    // Clearing the pulse removes its component only.
    v.insert("pulse".into(), String::new());
    let r2 = form.apply(&v, &r).unwrap();
    assert_eq!(r2["component"].as_array().unwrap().len(), 2);
    assert_eq!(r2["component"][0], r["component"][0]);
}

#[test]
fn edits_keep_what_the_form_does_not_show() {
    let form = form("weight").unwrap();
    let stored = json!({
        "resourceType": "Observation", "id": "x", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "effectiveDateTime": "2026-01-02T09:30:00+02:00",
        "valueQuantity": {"value": 72.50, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"},
        "device": {"display": "Scale 3000"},
        "extension": [{"url": "https://example.org/x", "valueString": "kept"}],
    });
    let stored: Value = serde_json::from_str(&stored.to_string().replace("72.5", "72.50")).unwrap();
    let mut v = form.values(&stored);
    assert_eq!(v["effective"], "2026-01-02T07:30");
    v.insert("note".into(), "After breakfast.".into());
    let r = form.apply(&v, &stored).unwrap();
    assert_eq!(r["note"][0]["text"], "After breakfast.");
    assert_eq!(
        r["effectiveDateTime"], "2026-01-02T09:30:00+02:00",
        "unchanged fields keep their text"
    );
    assert_eq!(r["valueQuantity"]["value"].to_string(), "72.50");
    assert_eq!(r["device"]["display"], "Scale 3000");
    assert_eq!(r["extension"][0]["valueString"], "kept");
    // A field left out of the submission is left alone; an emptied optional field is removed.
    let mut only = Values::new();
    only.insert("note".into(), String::new());
    let r3 = form.apply(&only, &r).unwrap();
    assert!(r3.get("note").is_none());
    assert_eq!(r3["valueQuantity"], r["valueQuantity"]);
}
