//! The fields the form's [`Shape`] writes: an Observation's measured value (FHIR R4
//! Observation.valueQuantity, the vital-signs profile's UCUM units), the blood pressure
//! components, and a lab result that is a number or text.
//!
//! A value typed in a unit other than the type's canonical one is converted
//! (`hearth_domain::datatypes::convert`, substance-aware for glucose and lipids) and stored in
//! the canonical unit, and the quantity as typed is kept in the extension [`ENTERED_QUANTITY`]
//! on the stored Quantity, so the edit form shows what was typed. A unit that does not convert
//! (HbA1c in IFCC mmol/mol) is stored as typed.

use hearth_domain::datatypes::catalogue::{self, BP_DIASTOLIC, BP_SYSTOLIC, HEART_RATE};
use hearth_domain::datatypes::{Dimension, LOINC, Substance, UCUM, UnitSpec, convert_substance};
use serde_json::{Map, Value, json};

use super::input::{Choice, decimal, rounded, scalar_text};
use super::{EntryForm, Shape, vocab};
use crate::ValidationIssue;

/// The quantity as the person typed it, on a stored Quantity converted from it.
pub const ENTERED_QUANTITY: &str = "https://hearth.health/fhir/StructureDefinition/entered-quantity";

/// The submitted form, as [`EntryForm::apply`] sees it.
pub(super) struct Submitted<'a> {
    /// The field's text after the submission (submitted, else as shown).
    pub now: &'a dyn Fn(&str) -> String,
    /// Whether the field was submitted with text other than what was shown.
    pub changed: &'a dyn Fn(&str) -> bool,
}

/// The value and unit code a stored quantity shows: the typed quantity when it kept one.
pub fn shown(q: &Value) -> (String, String) {
    let entered = q
        .get("extension")
        .and_then(Value::as_array)
        .and_then(|es| {
            es.iter()
                .find(|e| e.get("url").and_then(Value::as_str) == Some(ENTERED_QUANTITY))
        })
        .and_then(|e| e.get("valueQuantity"));
    let src = entered.unwrap_or(q);
    let value = src.get("value").map(scalar_text).unwrap_or_default();
    let unit = src
        .get("code")
        .or_else(|| src.get("unit"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (value, unit)
}

fn component<'v>(res: &'v Value, code: &str) -> Option<&'v Value> {
    res.get("component")?
        .as_array()?
        .iter()
        .find(|c| has_loinc(c, code))
}

fn has_loinc(c: &Value, code: &str) -> bool {
    c.get("code")
        .and_then(|cc| cc.get("coding"))
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|x| {
                x.get("system").and_then(Value::as_str) == Some(LOINC)
                    && x.get("code").and_then(Value::as_str) == Some(code)
            })
        })
}

pub(super) fn show(form: &EntryForm, res: &Value, out: &mut super::Values) {
    let canonical = form.data_type.unit.map_or("", |u| u.canonical);
    let mut put = |k: &str, v: String| {
        out.insert(k.to_string(), v);
    };
    match form.shape {
        Shape::Plain => {}
        Shape::Measurement => {
            let (v, u) = res.get("valueQuantity").map(shown).unwrap_or_default();
            put("value", v);
            put("unit", if u.is_empty() { canonical.to_string() } else { u });
        }
        Shape::BloodPressure => {
            let part = |code| {
                component(res, code)
                    .and_then(|c| c.get("valueQuantity"))
                    .map(shown)
            };
            let (sys, unit) = part(BP_SYSTOLIC).unwrap_or_default();
            let (dia, dia_unit) = part(BP_DIASTOLIC).unwrap_or_default();
            let unit = [unit, dia_unit]
                .into_iter()
                .find(|u| !u.is_empty())
                .unwrap_or_else(|| canonical.to_string());
            put("systolic", sys);
            put("diastolic", dia);
            put("unit", unit);
            put("pulse", part(HEART_RATE).map(|(v, _)| v).unwrap_or_default());
        }
        Shape::Result => {
            let (result, unit) = if let Some(q) = res.get("valueQuantity") {
                let unit = q.get("unit").or_else(|| q.get("code")).map(scalar_text);
                (
                    q.get("value").map(scalar_text).unwrap_or_default(),
                    unit.unwrap_or_default(),
                )
            } else if let Some(s) = res.get("valueString").and_then(Value::as_str) {
                (s.to_string(), String::new())
            } else {
                let text = res.get("valueCodeableConcept").and_then(|c| c.get("text"));
                (text.map(scalar_text).unwrap_or_default(), String::new())
            };
            put("result", result);
            put("unit", unit);
        }
    }
}

pub(super) fn apply(
    form: &EntryForm,
    s: &Submitted<'_>,
    res: &mut Value,
) -> Result<(), Vec<ValidationIssue>> {
    match form.shape {
        Shape::Plain => Ok(()),
        Shape::Measurement => measurement(form, s, res),
        Shape::BloodPressure => blood_pressure(form, s, res),
        Shape::Result => result(s, res),
    }
}

/// The field an issue at `rest` (the path inside the resource, without indexes) is about.
pub(super) fn field_for(shape: Shape, rest: &str) -> Option<&'static str> {
    match shape {
        Shape::Measurement if rest.ends_with(".code") && rest.starts_with("valueQuantity") => Some("unit"),
        Shape::Measurement if rest.starts_with("value") || rest.starts_with("dataAbsentReason") => {
            Some("value")
        }
        Shape::BloodPressure if rest.starts_with("component") => Some("systolic"),
        Shape::Result if rest.starts_with("value") => Some("result"),
        _ => None,
    }
}

fn issue(field: &'static str, message: impl Into<String>) -> Vec<ValidationIssue> {
    vec![ValidationIssue::error("value", field, message)]
}

fn typed(s: &Submitted<'_>, field: &'static str) -> Result<Option<Value>, Vec<ValidationIssue>> {
    let text = (s.now)(field);
    if text.is_empty() {
        return Ok(None);
    }
    decimal(&text)
        .map(Some)
        .ok_or_else(|| issue(field, "Enter a number, e.g. 72.5."))
}

fn unit_of(form: &EntryForm, s: &Submitted<'_>) -> Result<(String, &'static [Choice]), Vec<ValidationIssue>> {
    let choices = form.field("unit").map_or(&[][..], |f| f.input.choices());
    let unit = (s.now)("unit");
    if (s.changed)("unit") && !choices.iter().any(|c| c.code == unit) {
        return Err(issue("unit", "Choose one of the units."));
    }
    Ok((unit, choices))
}

/// The substance a concentration measures (cholesterol or triglycerides by the lipid code).
fn substance(form: &EntryForm, res: &Value) -> Option<Substance> {
    let Dimension::Concentration(s) = form.data_type.unit?.dimension else {
        return None;
    };
    if form.key() != "lipid-panel" {
        return Some(s);
    }
    let code = res
        .get("code")
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("system").and_then(Value::as_str) == Some(LOINC))
        })
        .and_then(|c| c.get("code"))
        .and_then(Value::as_str)?;
    Some(Substance::for_lipid_code(code))
}

/// The Quantity stored for `typed` in `unit`: converted to the canonical unit when it differs,
/// keeping the typed quantity (and any other extension of `old`).
fn stored(
    typed: Value,
    unit: &str,
    choices: &[Choice],
    spec: &UnitSpec,
    substance: Option<Substance>,
    old: Option<&Value>,
) -> Value {
    let label = |code: &str| -> String {
        choices
            .iter()
            .find(|c| c.code == code)
            .map_or(code, |c| c.label)
            .to_string()
    };
    let mut extensions: Vec<Value> = old
        .and_then(|o| o.get("extension"))
        .and_then(Value::as_array)
        .map(|es| {
            es.iter()
                .filter(|e| e.get("url").and_then(Value::as_str) != Some(ENTERED_QUANTITY))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let number = typed.as_f64().unwrap_or(f64::NAN);
    let converted = (unit != spec.canonical)
        .then(|| match substance {
            Some(s) => convert_substance(number, unit, spec.canonical, s),
            None => spec.convert(number, unit, spec.canonical),
        })
        .flatten();
    let (value, code) = match converted {
        Some(v) => {
            extensions.push(json!({
                "url": ENTERED_QUANTITY,
                "valueQuantity": {"value": typed, "unit": label(unit), "system": UCUM, "code": unit},
            }));
            (rounded(v, vocab::decimals(spec.canonical)), spec.canonical)
        }
        None => (typed, unit),
    };
    let mut q = Map::new();
    if !extensions.is_empty() {
        q.insert("extension".into(), Value::Array(extensions));
    }
    q.insert("value".into(), value);
    q.insert("unit".into(), json!(label(code)));
    q.insert("system".into(), json!(UCUM));
    q.insert("code".into(), json!(code));
    Value::Object(q)
}

fn measurement(form: &EntryForm, s: &Submitted<'_>, res: &mut Value) -> Result<(), Vec<ValidationIssue>> {
    if !((s.changed)("value") || (s.changed)("unit")) {
        return Ok(());
    }
    let Some(spec) = form.data_type.unit else {
        return Ok(());
    };
    let Some(value) = typed(s, "value")? else {
        return Ok(());
    };
    let (unit, choices) = unit_of(form, s)?;
    let q = stored(
        value,
        &unit,
        choices,
        &spec,
        substance(form, res),
        res.get("valueQuantity"),
    );
    let Some(obj) = res.as_object_mut() else {
        return Ok(());
    };
    obj.shift_remove("dataAbsentReason");
    obj.insert("valueQuantity".into(), q);
    Ok(())
}

fn blood_pressure(form: &EntryForm, s: &Submitted<'_>, res: &mut Value) -> Result<(), Vec<ValidationIssue>> {
    if (s.changed)("systolic") || (s.changed)("diastolic") || (s.changed)("unit") {
        let (unit, choices) = unit_of(form, s)?;
        for (field, code, display) in [
            ("systolic", BP_SYSTOLIC, "Systolic blood pressure"),
            ("diastolic", BP_DIASTOLIC, "Diastolic blood pressure"),
        ] {
            let Some(value) = typed(s, field)? else {
                continue;
            };
            let old = component(res, code).and_then(|c| c.get("valueQuantity"));
            let q = stored(value, &unit, choices, &catalogue::BLOOD_PRESSURE, None, old);
            set_component(res, code, display, Some(q));
        }
    }
    if (s.changed)("pulse") {
        let q = match typed(s, "pulse")? {
            Some(value) => {
                let old = component(res, HEART_RATE).and_then(|c| c.get("valueQuantity"));
                Some(stored(value, "/min", vocab::BEATS, &catalogue::BEATS, None, old))
            }
            None => None,
        };
        set_component(res, HEART_RATE, "Heart rate", q);
    }
    Ok(())
}

/// Sets (or removes) the value of the component coded `code`, adding the component if needed.
fn set_component(res: &mut Value, code: &str, display: &str, q: Option<Value>) {
    let Some(obj) = res.as_object_mut() else {
        return;
    };
    let slot = obj.entry("component").or_insert_with(|| Value::Array(vec![]));
    let Some(comps) = slot.as_array_mut() else {
        return;
    };
    let pos = comps.iter().position(|c| has_loinc(c, code));
    match (pos, q) {
        (Some(i), Some(q)) => {
            if let Some(c) = comps[i].as_object_mut() {
                c.shift_remove("dataAbsentReason");
                c.insert("valueQuantity".into(), q);
            }
        }
        (Some(i), None) => {
            comps.remove(i);
        }
        (None, Some(q)) => comps.push(json!({
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": q,
        })),
        (None, None) => {}
    }
    if comps.is_empty() {
        obj.shift_remove("component");
    }
}

fn result(s: &Submitted<'_>, res: &mut Value) -> Result<(), Vec<ValidationIssue>> {
    if !((s.changed)("result") || (s.changed)("unit")) {
        return Ok(());
    }
    let text = (s.now)("result");
    if text.is_empty() {
        return Ok(());
    }
    let unit = (s.now)("unit");
    let Some(obj) = res.as_object_mut() else {
        return Ok(());
    };
    obj.shift_remove("dataAbsentReason");
    let old = obj.get("valueQuantity").cloned();
    for k in ["valueQuantity", "valueString", "valueCodeableConcept"] {
        obj.shift_remove(k);
    }
    match decimal(&text) {
        Some(n) => {
            let mut q = old.and_then(|o| o.as_object().cloned()).unwrap_or_default();
            q.insert("value".into(), n);
            if (s.changed)("unit") {
                q.shift_remove("system");
                q.shift_remove("code");
            }
            if unit.is_empty() {
                q.shift_remove("unit");
            } else {
                q.insert("unit".into(), json!(unit));
            }
            obj.insert("valueQuantity".into(), Value::Object(q));
        }
        None => {
            obj.insert("valueString".into(), json!(text));
        }
    }
    Ok(())
}
