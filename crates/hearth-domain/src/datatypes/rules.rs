//! Each named type's own rules, beyond FHIR R4 structure (which `hearth-fhir` validates): what
//! HealthVault's thing-type schemas required of a Weight, a Blood pressure, … (healthvault.md
//! §2.3), restated over FHIR elements, following the FHIR R4 vital-signs profile for units.
//!
//! - Measurements (weight, height, BMI, heart and respiratory rate, temperature, SpO2, head and
//!   waist circumference, body fat, peak flow, glucose, HbA1c, lipids): `valueQuantity` (or a
//!   `dataAbsentReason`), with system `http://unitsofmeasure.org`, a code among the type's
//!   accepted units, a numeric value, non-negative (temperatures excepted), at most 100 for `%`.
//!   Steps and sleep: the same checks when a `valueQuantity` is present (their values may also
//!   live in components).
//! - Blood pressure: components systolic 8480-6 and diastolic 8462-4, each a pressure quantity
//!   (or with a `dataAbsentReason`); an optional heart-rate component is checked as `/min`.
//!   A BP Observation with its own `dataAbsentReason` and no components passes. A component
//!   quantity with neither `code` nor `unit` is read as mm[Hg] (real data — Synthea — omits it).
//! - Lipid panel members need a value; the panel code itself (57698-3) groups and needs none.
//! - Condition, AllergyIntolerance, Procedure: a `code` (HealthVault required the name).
//! - File: each `content.attachment` has `data` or `url`. Personal picture: an `image/*`
//!   `content.contentType`.
//! - Every type: the resource's `resourceType` is the type's.
//!
//! Generic types have no rules.

use serde_json::Value;

use super::catalogue::{self, BP_DIASTOLIC, BP_SYSTOLIC, HEART_RATE, LIPID_PANEL};
use super::codes::{LOINC, UCUM, has_coding};
use super::{DataType, Dimension, UnitSpec};

/// A violation of a type's rules: where (FHIRPath-like, e.g. `Observation.valueQuantity.code`)
/// and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleIssue {
    pub path: String,
    pub message: String,
}

struct Issues<'a> {
    dt: &'a DataType,
    out: Vec<RuleIssue>,
}

impl Issues<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.out.push(RuleIssue {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Checks `resource` against the rules of data type `dt`; empty if it passes.
pub fn check_rules(dt: &DataType, resource: &Value) -> Vec<RuleIssue> {
    let mut issues = Issues { dt, out: Vec::new() };
    let rt = dt.resource_type;
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(found) if found == rt => {}
        found => {
            issues.push(
                "resourceType",
                format!(
                    "a {} must be a {rt} resource, found {}",
                    dt.name,
                    found.unwrap_or("none")
                ),
            );
            return issues.out;
        }
    }
    match dt.key {
        "blood-pressure" => blood_pressure(&mut issues, resource),
        "lipid-panel" => {
            let is_panel = resource
                .get("code")
                .is_some_and(|c| has_coding(c, LOINC, LIPID_PANEL));
            if let Some(unit) = &dt.unit {
                observation_value(&mut issues, resource, unit, !is_panel);
            }
        }
        "steps" | "sleep" => {
            if let Some(unit) = &dt.unit {
                observation_value(&mut issues, resource, unit, false);
            }
        }
        "condition" | "allergy" | "procedure" => require_code(&mut issues, resource, "code"),
        "file" => file(&mut issues, resource),
        "personal-picture" => picture(&mut issues, resource),
        _ if rt == "Observation" => {
            if let Some(unit) = &dt.unit {
                observation_value(&mut issues, resource, unit, true);
            }
        }
        _ => {}
    }
    issues.out
}

/// The Observation's value: a valueQuantity in one of `unit`'s codes (required unless absent
/// for a `dataAbsentReason`, or `required` is false).
fn observation_value(issues: &mut Issues<'_>, res: &Value, unit: &UnitSpec, required: bool) {
    let name = issues.dt.name;
    if let Some(q) = res.get("valueQuantity") {
        quantity(issues, "Observation.valueQuantity", q, unit);
        return;
    }
    let other = res
        .as_object()
        .and_then(|o| o.keys().find(|k| k.starts_with("value")));
    match other {
        Some(k) if required => issues.push(
            format!("Observation.{k}"),
            format!("a {name} value must be a valueQuantity, found {k}"),
        ),
        None if required && res.get("dataAbsentReason").is_none() => issues.push(
            "Observation.value[x]",
            format!("a {name} needs a valueQuantity (or a dataAbsentReason)"),
        ),
        _ => {}
    }
}

/// A Quantity in UCUM, in one of the accepted codes, with a plausible numeric value.
fn quantity(issues: &mut Issues<'_>, path: &str, q: &Value, unit: &UnitSpec) {
    quantity_with(issues, path, q, unit, false)
}

/// As [`quantity`]; with `implied_unit`, a quantity with neither `code` nor `unit` is read as
/// being in the canonical unit.
fn quantity_with(issues: &mut Issues<'_>, path: &str, q: &Value, unit: &UnitSpec, implied_unit: bool) {
    let name = issues.dt.name;
    if !q.is_object() {
        issues.push(path, format!("a {name} quantity must be an object"));
        return;
    }
    match q.get("system").and_then(Value::as_str) {
        Some(UCUM) => {}
        Some(other) => issues.push(
            format!("{path}.system"),
            format!("a {name} unit must be coded in UCUM ({UCUM}), found system {other}"),
        ),
        None => issues.push(
            format!("{path}.system"),
            format!("a {name} unit must be coded in UCUM: system {UCUM} is missing"),
        ),
    }
    let accepted = unit.accepted.join(", ");
    match q.get("code").and_then(Value::as_str) {
        Some(code) if unit.accepted.contains(&code) => {}
        None if implied_unit && q.get("unit").is_none() => {}
        Some(code) => issues.push(
            format!("{path}.code"),
            format!("unit '{code}' is not accepted for {name}; expected one of {accepted}"),
        ),
        None => issues.push(
            format!("{path}.code"),
            format!("a {name} unit code is missing; expected one of {accepted}"),
        ),
    }
    match q.get("value") {
        Some(Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if !v.is_finite() {
                issues.push(
                    format!("{path}.value"),
                    format!("a {name} value must be a finite number"),
                );
            } else if v < 0.0 && unit.dimension != Dimension::Temperature {
                issues.push(
                    format!("{path}.value"),
                    format!("a {name} value must not be negative, found {n}"),
                );
            } else if v > 100.0 && q.get("code").and_then(Value::as_str) == Some("%") {
                issues.push(
                    format!("{path}.value"),
                    format!("a {name} percentage must not exceed 100, found {n}"),
                );
            }
        }
        Some(_) => issues.push(
            format!("{path}.value"),
            format!("a {name} value must be a number"),
        ),
        None => issues.push(format!("{path}.value"), format!("a {name} quantity has no value")),
    }
}

fn blood_pressure(issues: &mut Issues<'_>, res: &Value) {
    let components: &[Value] = match res.get("component") {
        Some(Value::Array(c)) => c,
        _ => &[],
    };
    if components.is_empty() && res.get("dataAbsentReason").is_some() {
        return;
    }
    let find = |code: &str| {
        components
            .iter()
            .position(|c| c.get("code").is_some_and(|cc| has_coding(cc, LOINC, code)))
    };
    for (code, what) in [(BP_SYSTOLIC, "systolic"), (BP_DIASTOLIC, "diastolic")] {
        match find(code) {
            None => issues.push(
                "Observation.component",
                format!("a Blood pressure needs a {what} component (LOINC {code})"),
            ),
            Some(i) => component_value(issues, components, i, &catalogue::BLOOD_PRESSURE),
        }
    }
    if let Some(i) = find(HEART_RATE) {
        component_value(issues, components, i, &catalogue::BEATS);
    }
}

fn component_value(issues: &mut Issues<'_>, components: &[Value], i: usize, unit: &UnitSpec) {
    let c = &components[i];
    match c.get("valueQuantity") {
        // Blood pressure is so universally mm[Hg] that a component without any unit is read as
        // mm[Hg]: Synthea (2019) writes 97 of its 1192 readings so.
        Some(q) => quantity_with(
            issues,
            &format!("Observation.component[{i}].valueQuantity"),
            q,
            unit,
            true,
        ),
        None if c.get("dataAbsentReason").is_some() => {}
        None => issues.push(
            format!("Observation.component[{i}].value[x]"),
            "a Blood pressure component needs a valueQuantity (or a dataAbsentReason)",
        ),
    }
}

fn require_code(issues: &mut Issues<'_>, res: &Value, field: &str) {
    let ok = res.get(field).is_some_and(|c| {
        c.get("text")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.trim().is_empty())
            || matches!(c.get("coding"), Some(Value::Array(a)) if !a.is_empty())
    });
    if !ok {
        let rt = issues.dt.resource_type;
        let name = issues.dt.name;
        issues.push(
            format!("{rt}.{field}"),
            format!("{name} need a {field} (a coding or text) naming what they are"),
        );
    }
}

fn file(issues: &mut Issues<'_>, res: &Value) {
    let Some(Value::Array(content)) = res.get("content") else {
        issues.push("DocumentReference.content", "a file needs content");
        return;
    };
    for (i, c) in content.iter().enumerate() {
        let a = c.get("attachment");
        if !a.is_some_and(|a| a.get("data").is_some() || a.get("url").is_some()) {
            issues.push(
                format!("DocumentReference.content[{i}].attachment"),
                "a file's attachment needs data or a url",
            );
        }
    }
}

fn picture(issues: &mut Issues<'_>, res: &Value) {
    let ct = res
        .get("content")
        .and_then(|c| c.get("contentType"))
        .and_then(Value::as_str);
    if !ct.is_some_and(|ct| ct.starts_with("image/")) {
        issues.push(
            "Media.content.contentType",
            format!(
                "a personal picture must be an image (image/*), found {}",
                ct.unwrap_or("no content type")
            ),
        );
    }
}
