//! Entering health data by hand (healthvault.md §10.3: "add/edit items of every type by hand"):
//! one form per named data type (`hearth_domain::datatypes::catalogue`), and the conversion
//! between the form's fields and the type's FHIR R4 resource. No HTTP here; the web pages show
//! [`EntryForm::fields`] and hand the submitted text back as [`Values`].
//!
//! - Measurements (weight, height, BMI, heart and respiratory rate, temperature, SpO2, head and
//!   waist circumference, body fat, peak flow, glucose, HbA1c, cholesterol, steps, sleep): an
//!   Observation with the type's LOINC code, category (`vital-signs`, `laboratory`, `activity`)
//!   and a `valueQuantity` in the canonical UCUM unit. A value typed in another unit (lb, °F,
//!   mg/dL…) is converted and the typed quantity kept in the extension [`ENTERED_QUANTITY`] on
//!   the stored quantity; the form shows the typed value back. Blood pressure: LOINC 85354-9
//!   with components 8480-6 / 8462-4 (and 8867-4 for a pulse), each quantity treated alike.
//! - Full forms: Condition, AllergyIntolerance, Immunization (CVX choice or text),
//!   MedicationStatement, MedicationRequest, Procedure, Encounter, FamilyMemberHistory, Device,
//!   Appointment, Goal, CarePlan, RelatedPerson, Coverage, Patient (the profile page), smoking
//!   status, exercise, other vital signs and lab results (a number with a unit, or text).
//! - Minimal forms ([`EntryForm::minimal`]: the page also shows the stored resource read-only):
//!   DiagnosticReport, ImagingStudy, clinical documents and files (DocumentReference: title,
//!   date, description, a link; files are uploaded on the Files page), personal picture (Media),
//!   ExplanationOfBenefit.
//!
//! Editing merges: a field whose submitted text equals what the form showed leaves its element
//! untouched (digits, offsets and codings as stored), a field not submitted is left alone, an
//! emptied field removes its element, and everything the form does not show is kept.

mod forms;
pub mod input;
pub mod path;
pub mod profile;
mod quantity;
mod service;
pub mod vocab;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hearth_domain::ItemId;
use hearth_domain::datatypes::DataType;
use serde_json::{Value, json};

pub use input::{Choice, Input};
pub use quantity::ENTERED_QUANTITY;
pub use service::{Profile, ProfileUpdate, STALE};

use crate::ValidationIssue;

/// Submitted (or shown) field texts by field name.
pub type Values = BTreeMap<String, String>;

/// One field of a form.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The form field's name (also the path of its validation issues).
    pub name: &'static str,
    pub label: &'static str,
    /// A sentence under the label; empty for none.
    pub hint: &'static str,
    pub input: Input,
    pub required: bool,
    /// Where the value lives (see [`path`]); empty for fields the form's [`Shape`] writes.
    pub path: &'static str,
}

/// How the fields that have no path are written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Every field has a path.
    Plain,
    /// `value` + `unit`: the Observation's `valueQuantity` in the data type's units.
    Measurement,
    /// `systolic`, `diastolic`, `unit`, `pulse`: the blood pressure components.
    BloodPressure,
    /// `result` + `unit`: a `valueQuantity` when the result is a number, else `valueString`.
    Result,
}

/// The form of one named data type.
#[derive(Clone, Debug)]
pub struct EntryForm {
    pub data_type: &'static DataType,
    pub fields: Vec<Field>,
    pub shape: Shape,
    /// The form shows only part of what such resources hold.
    pub minimal: bool,
    /// New items of this type are made on another page (files, the profile), not this form.
    pub made_elsewhere: bool,
    skeleton: Value,
    /// Where the reference to the record's Patient goes (a [`path`]).
    patient_path: Option<&'static str>,
}

/// Every form, one per named data type, in catalogue order.
pub fn forms() -> &'static [EntryForm] {
    static FORMS: OnceLock<Vec<EntryForm>> = OnceLock::new();
    FORMS.get_or_init(forms::build)
}

/// The form of data type `key`, if it has one (generic `fhir:X` types have none).
pub fn form(key: &str) -> Option<&'static EntryForm> {
    forms().iter().find(|f| f.data_type.key == key)
}

impl EntryForm {
    pub fn key(&self) -> &'static str {
        self.data_type.key
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// What the form shows for `resource`.
    pub fn values(&self, resource: &Value) -> Values {
        let mut out = Values::new();
        for f in self.fields.iter().filter(|f| !f.path.is_empty()) {
            let text = path::get(resource, f.path)
                .map(|v| input::show(&f.input, v))
                .unwrap_or_default();
            out.insert(f.name.to_string(), text);
        }
        quantity::show(self, resource, &mut out);
        out
    }

    /// What a new item's form shows at first (the defaults of its starting resource).
    pub fn blank(&self) -> Values {
        self.values(&self.skeleton)
    }

    /// The resource of a new item, with a reference to the record's Patient.
    pub fn start(&self, patient: Option<ItemId>) -> Value {
        let mut r = self.skeleton.clone();
        if let (Some(p), Some(at)) = (patient, self.patient_path) {
            path::set(&mut r, at, Some(json!({"reference": format!("Patient/{p}")})));
        }
        r
    }

    /// Merges the submitted fields into `base` (a stored resource, or [`EntryForm::start`]):
    /// issues name the field they are about.
    pub fn apply(&self, submitted: &Values, base: &Value) -> Result<Value, Vec<ValidationIssue>> {
        let shown = self.values(base);
        let mut res = base.clone();
        let mut issues = Vec::new();
        let was = |name: &str| shown.get(name).map_or("", String::as_str);
        let now = |name: &str| -> String {
            submitted
                .get(name)
                .map_or_else(|| was(name).to_string(), |v| v.trim().to_string())
        };
        let changed = |name: &str| submitted.get(name).is_some_and(|v| v.trim() != was(name));
        for f in &self.fields {
            if f.required && now(f.name).is_empty() {
                let verb = if f.input.choices().is_empty() {
                    "Enter"
                } else {
                    "Choose"
                };
                issues.push(ValidationIssue::error(
                    "required",
                    f.name,
                    format!("{verb} {}.", lower_first(f.label)),
                ));
                continue;
            }
            if f.path.is_empty() || !changed(f.name) {
                continue;
            }
            match input::parse(&f.input, &now(f.name)) {
                Ok(v) => path::set(&mut res, f.path, v),
                Err(why) => issues.push(ValidationIssue::error("value", f.name, why)),
            }
        }
        let ctx = quantity::Submitted {
            now: &now,
            changed: &changed,
        };
        if let Err(found) = quantity::apply(self, &ctx, &mut res) {
            for i in found {
                if !issues.iter().any(|j| j.path == i.path) {
                    issues.push(i);
                }
            }
        }
        if issues.is_empty() { Ok(res) } else { Err(issues) }
    }

    /// The field a validation issue about `fhir_path` (e.g. `Observation.valueQuantity.code`)
    /// belongs to, if any.
    pub fn field_for(&self, fhir_path: &str) -> Option<&'static str> {
        let rest = fhir_path
            .strip_prefix(self.data_type.resource_type)
            .map_or(fhir_path, |r| r.trim_start_matches('.'));
        let rest = plain_path(rest);
        if let Some(name) = quantity::field_for(self.shape, &rest) {
            return Some(name);
        }
        let paths: Vec<(&'static str, String)> = self
            .fields
            .iter()
            .filter(|f| !f.path.is_empty())
            .map(|f| (f.name, plain_path(f.path)))
            .collect();
        paths
            .iter()
            .find(|(_, p)| rest == *p || rest.starts_with(&format!("{p}.")))
            .or_else(|| {
                paths
                    .iter()
                    .find(|(_, p)| !rest.is_empty() && p.starts_with(&rest))
            })
            .map(|(n, _)| *n)
    }
}

/// A path without its array selectors: `name[0].given[0]` → `name.given`.
fn plain_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut depth = 0;
    for ch in p.chars() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if !s.starts_with("HDL") && !s.starts_with("LDL") => c.to_lowercase().chain(chars).collect(),
        _ => s.to_string(),
    }
}
