//! The table of forms: one per named data type, with the resource a new item starts from.
//! Codes and categories follow the catalogue (`hearth_domain::datatypes::catalogue`) and the
//! FHIR R4 vital-signs profile; required elements of each resource type (Condition.subject,
//! Immunization.occurrence[x], Coverage.payor, …) are in the starting resource or required
//! fields.

use hearth_domain::datatypes::{HEARTH_TAG, LOINC, OBSERVATION_CATEGORY, registry};
use serde_json::{Value, json};

use super::input::{Choice, Input};
use super::vocab::{self as v, ACT_CODE, CLAIM_TYPE, CVX, DICOM, ROLE_CODE, SNOMED};
use super::{EntryForm, Field, Shape};

fn f(name: &'static str, label: &'static str, input: Input, path: &'static str) -> Field {
    Field {
        name,
        label,
        hint: "",
        input,
        required: false,
        path,
    }
}

trait FieldExt {
    fn req(self) -> Self;
    fn hint(self, hint: &'static str) -> Self;
}

impl FieldExt for Field {
    fn req(mut self) -> Self {
        self.required = true;
        self
    }
    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }
}

const UTC: &str = "Date and time in UTC.";

fn note() -> Field {
    f("note", "Note", Input::LongText, "note[0].text")
}

fn when(path: &'static str) -> Field {
    f("effective", "Date and time", Input::DateTime, path)
        .req()
        .hint(UTC)
}

fn status(choices: &'static [Choice]) -> Field {
    f("status", "Status", Input::Code(choices), "status").req()
}

fn category(code: &str, display: &str) -> Value {
    json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}])
}

/// A LOINC code with its display, and `text` in the words people read.
fn loinc(code: &str, display: &str, text: &str) -> Value {
    json!({"coding": [{"system": LOINC, "code": code, "display": display}], "text": text})
}

fn concept(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}]})
}

struct Spec {
    key: &'static str,
    fields: Vec<Field>,
    shape: Shape,
    skeleton: Value,
    patient: Option<&'static str>,
    minimal: bool,
    elsewhere: bool,
}

fn plain(key: &'static str, skeleton: Value, patient: &'static str, fields: Vec<Field>) -> Spec {
    Spec {
        key,
        fields,
        shape: Shape::Plain,
        skeleton,
        patient: Some(patient),
        minimal: false,
        elsewhere: false,
    }
}

impl Spec {
    fn minimal(mut self) -> Self {
        self.minimal = true;
        self
    }
    fn elsewhere(mut self) -> Self {
        self.elsewhere = true;
        self
    }
}

/// A measurement: (LOINC code, display), category (code, display), units, and the LOINC tests
/// to choose from when the type has several.
fn measurement(
    key: &'static str,
    code: (&str, &str),
    cat: (&str, &str),
    units: &'static [Choice],
    tests: Option<&'static [Choice]>,
) -> Spec {
    let mut fields = vec![when("effectiveDateTime")];
    let code = match tests {
        Some(t) => {
            fields.push(
                f(
                    "test",
                    "Test",
                    Input::Concept {
                        system: LOINC,
                        choices: t,
                    },
                    "code",
                )
                .req(),
            );
            loinc(t[0].code, t[0].label, t[0].label)
        }
        None => loinc(code.0, code.1, registry().get(key).map_or(key, |d| d.name)),
    };
    fields.push(f("value", "Value", Input::Decimal, "").req());
    fields.push(f("unit", "Unit", Input::Unit(units), "").req());
    fields.push(note());
    Spec {
        key,
        fields,
        shape: Shape::Measurement,
        skeleton: json!({
            "resourceType": "Observation", "status": "final",
            "category": category(cat.0, cat.1), "code": code,
        }),
        patient: Some("subject"),
        minimal: false,
        elsewhere: false,
    }
}

const VITALS: (&str, &str) = ("vital-signs", "Vital Signs");
const LAB: (&str, &str) = ("laboratory", "Laboratory");
const ACTIVITY: (&str, &str) = ("activity", "Activity");

fn specs() -> Vec<Spec> {
    let name_text = |label| f("name", label, Input::Text, "code.text").req();
    vec![
        measurement("weight", ("29463-7", "Body weight"), VITALS, v::MASS, None),
        measurement("height", ("8302-2", "Body height"), VITALS, v::LENGTH, None),
        measurement("bmi", ("39156-5", "Body mass index (BMI) [Ratio]"), VITALS, v::BMI, None),
        Spec {
            key: "blood-pressure",
            fields: vec![
                when("effectiveDateTime"),
                f("systolic", "Systolic (upper number)", Input::Decimal, "").req(),
                f("diastolic", "Diastolic (lower number)", Input::Decimal, "").req(),
                f("unit", "Unit", Input::Unit(v::PRESSURE), "").req(),
                f("pulse", "Pulse (beats per minute)", Input::Decimal, "").hint("Optional."),
                note(),
            ],
            shape: Shape::BloodPressure,
            skeleton: json!({
                "resourceType": "Observation", "status": "final", "category": category(VITALS.0, VITALS.1),
                "code": loinc("85354-9", "Blood pressure panel with all children optional", "Blood pressure"),
            }),
            patient: Some("subject"),
            minimal: false,
            elsewhere: false,
        },
        measurement("heart-rate", ("8867-4", "Heart rate"), VITALS, v::BEATS, None),
        measurement("respiratory-rate", ("9279-1", "Respiratory rate"), VITALS, v::BREATHS, None),
        measurement("body-temperature", ("8310-5", "Body temperature"), VITALS, v::TEMPERATURE, None),
        measurement("blood-oxygen", ("2708-6", "Oxygen saturation in Arterial blood"), VITALS, v::PERCENT, None),
        measurement(
            "head-circumference",
            ("9843-4", "Head Occipital-frontal circumference"),
            VITALS,
            v::LENGTH,
            None,
        ),
        measurement("waist-circumference", ("8280-0", "Waist Circumference at umbilicus by Tape measure"), VITALS, v::LENGTH, None),
        measurement("body-fat", ("41982-0", "Percentage of body fat Measured"), VITALS, v::PERCENT, None),
        measurement(
            "peak-flow",
            ("19935-6", "Maximum expiratory gas flow Respiratory system airway by Peak flow meter"),
            VITALS,
            v::FLOW,
            None,
        ),
        Spec {
            key: "vital-signs",
            fields: vec![
                when("effectiveDateTime"),
                name_text("What was measured"),
                f("result", "Result", Input::Text, "").req().hint("A number, or words."),
                f("unit", "Unit", Input::Text, "").hint("For a number, e.g. cm or /min."),
                note(),
            ],
            shape: Shape::Result,
            skeleton: json!({"resourceType": "Observation", "status": "final", "category": category(VITALS.0, VITALS.1)}),
            patient: Some("subject"),
            minimal: false,
            elsewhere: false,
        },
        measurement("blood-glucose", ("", ""), LAB, v::GLUCOSE, Some(v::GLUCOSE_TESTS)),
        measurement("hba1c", ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"), LAB, v::HBA1C, None),
        measurement("lipid-panel", ("", ""), LAB, v::LIPIDS, Some(v::LIPID_TESTS)),
        Spec {
            key: "lab-result",
            fields: vec![
                when("effectiveDateTime"),
                name_text("Test"),
                f("loinc", "LOINC code", Input::Text, "code.coding[system=http://loinc.org].code")
                    .hint("Optional, e.g. 2951-2."),
                f("result", "Result", Input::Text, "").req().hint("A number, or words."),
                f("unit", "Unit", Input::Text, "").hint("For a number, e.g. mmol/L."),
                f("range", "Normal range", Input::Text, "referenceRange[0].text"),
                note(),
            ],
            shape: Shape::Result,
            skeleton: json!({"resourceType": "Observation", "status": "final", "category": category(LAB.0, LAB.1)}),
            patient: Some("subject"),
            minimal: false,
            elsewhere: false,
        },
        plain(
            "diagnostic-report",
            json!({"resourceType": "DiagnosticReport", "status": "final"}),
            "subject",
            vec![
                name_text("Report"),
                status(v::REPORT_STATUS),
                f("date", "Date", Input::DateTime, "effectiveDateTime").hint(UTC),
                f("performer", "By", Input::Text, "performer[0].display"),
                f("conclusion", "Conclusion", Input::LongText, "conclusion"),
            ],
        )
        .minimal(),
        measurement("steps", ("55423-8", "Number of steps in unspecified time Pedometer"), ACTIVITY, v::STEPS, None),
        plain(
            "exercise",
            json!({
                "resourceType": "Observation", "status": "final", "category": category(ACTIVITY.0, ACTIVITY.1),
                "code": loinc("73985-4", "Exercise activity", "Exercise"),
            }),
            "subject",
            vec![
                f("start", "Start", Input::DateTime, "effectivePeriod.start").req().hint(UTC),
                f("end", "End", Input::DateTime, "effectivePeriod.end").hint(UTC),
                f("activity", "Activity", Input::Text, "valueCodeableConcept.text").req().hint("e.g. Walking, Swimming."),
                note(),
            ],
        ),
        measurement("sleep", ("93832-4", "Sleep duration"), ACTIVITY, v::SLEEP, None),
        plain(
            "smoking-status",
            json!({
                "resourceType": "Observation", "status": "final",
                "category": category("social-history", "Social History"),
                "code": loinc("72166-2", "Tobacco smoking status", "Smoking status"),
            }),
            "subject",
            vec![
                when("effectiveDateTime"),
                f("smoking", "Smoking", Input::Concept { system: SNOMED, choices: v::SMOKING }, "valueCodeableConcept").req(),
                note(),
            ],
        ),
        plain(
            "condition",
            json!({"resourceType": "Condition", "clinicalStatus": concept(v::CONDITION_CLINICAL_SYSTEM, "active", "Active")}),
            "subject",
            vec![
                name_text("Condition"),
                f("snomed", "SNOMED CT code", Input::Text, "code.coding[system=http://snomed.info/sct].code")
                    .hint("Optional."),
                f(
                    "clinical",
                    "Status",
                    Input::Concept { system: v::CONDITION_CLINICAL_SYSTEM, choices: v::CONDITION_CLINICAL },
                    "clinicalStatus",
                ),
                f("onset", "Since", Input::Date, "onsetDateTime"),
                f("abated", "Ended", Input::Date, "abatementDateTime"),
                note(),
            ],
        ),
        plain(
            "allergy",
            json!({"resourceType": "AllergyIntolerance", "clinicalStatus": concept(v::ALLERGY_CLINICAL_SYSTEM, "active", "Active")}),
            "patient",
            vec![
                f("substance", "Allergic to", Input::Text, "code.text").req(),
                f("kind", "Kind", Input::Code(v::ALLERGY_TYPE), "type"),
                f("category", "Category", Input::Code(v::ALLERGY_CATEGORY), "category[0]"),
                f("criticality", "Criticality", Input::Code(v::CRITICALITY), "criticality"),
                f(
                    "clinical",
                    "Status",
                    Input::Concept { system: v::ALLERGY_CLINICAL_SYSTEM, choices: v::ALLERGY_CLINICAL },
                    "clinicalStatus",
                ),
                f("reaction", "Reaction", Input::Text, "reaction[0].manifestation[0].text").hint("e.g. Hives."),
                f("severity", "Severity of the reaction", Input::Code(v::SEVERITY), "reaction[0].severity"),
                f("onset", "Since", Input::Date, "onsetDateTime"),
                note(),
            ],
        ),
        plain(
            "immunization",
            json!({"resourceType": "Immunization", "status": "completed"}),
            "patient",
            vec![
                f("vaccine", "Vaccine", Input::Concept { system: CVX, choices: v::VACCINES }, "vaccineCode"),
                f("vaccine_text", "Vaccine name", Input::Text, "vaccineCode.text")
                    .hint("When it is not in the list, or to say more."),
                f("date", "Date given", Input::DateTime, "occurrenceDateTime").req().hint(UTC),
                status(v::IMMUNIZATION_STATUS),
                f("lot", "Lot number", Input::Text, "lotNumber"),
                note(),
            ],
        ),
        plain(
            "procedure",
            json!({"resourceType": "Procedure", "status": "completed"}),
            "subject",
            vec![
                name_text("Procedure"),
                status(v::EVENT_STATUS),
                f("date", "Date", Input::DateTime, "performedDateTime").hint(UTC),
                f("site", "Body site", Input::Text, "bodySite[0].text"),
                f("performer", "Performed by", Input::Text, "performer[0].actor.display"),
                f("reason", "Reason", Input::Text, "reasonCode[0].text"),
                note(),
            ],
        ),
        plain(
            "encounter",
            json!({"resourceType": "Encounter", "status": "finished", "class": {"system": ACT_CODE, "code": "AMB", "display": "Outpatient visit"}}),
            "subject",
            vec![
                f("kind", "Type of visit", Input::Text, "type[0].text").hint("e.g. Check-up."),
                f("class", "Setting", Input::Coding { system: ACT_CODE, choices: v::ENCOUNTER_CLASS }, "class").req(),
                status(v::ENCOUNTER_STATUS),
                f("start", "Start", Input::DateTime, "period.start").hint(UTC),
                f("end", "End", Input::DateTime, "period.end").hint(UTC),
                f("reason", "Reason", Input::Text, "reasonCode[0].text"),
                f("with", "Seen by", Input::Text, "participant[0].individual.display"),
                f("place", "Where", Input::Text, "serviceProvider.display"),
            ],
        ),
        plain(
            "family-history",
            json!({"resourceType": "FamilyMemberHistory", "status": "completed"}),
            "patient",
            vec![
                f("relationship", "Relative", Input::Concept { system: ROLE_CODE, choices: v::RELATIVES }, "relationship").req(),
                f("name", "Their name", Input::Text, "name"),
                f("condition", "Condition", Input::Text, "condition[0].code.text"),
                f("date", "Recorded on", Input::Date, "date"),
                status(v::FAMILY_STATUS),
                note(),
            ],
        ),
        plain(
            "medical-device",
            json!({"resourceType": "Device", "status": "active"}),
            "patient",
            vec![
                f("name", "Name", Input::Text, "deviceName[type=user-friendly-name].name").req(),
                f("kind", "Kind of device", Input::Text, "type.text"),
                f("manufacturer", "Manufacturer", Input::Text, "manufacturer"),
                f("model", "Model", Input::Text, "modelNumber"),
                f("serial", "Serial number", Input::Text, "serialNumber"),
                status(v::DEVICE_STATUS),
                note(),
            ],
        ),
        plain(
            "imaging-study",
            json!({"resourceType": "ImagingStudy", "status": "available"}),
            "subject",
            vec![
                f("description", "Description", Input::Text, "description").req(),
                f("started", "Date", Input::DateTime, "started").hint(UTC),
                f("modality", "Modality", Input::Coding { system: DICOM, choices: v::MODALITIES }, "modality[0]"),
                status(v::IMAGING_STATUS),
                f("reason", "Reason", Input::Text, "reasonCode[0].text"),
                note(),
            ],
        )
        .minimal(),
        plain(
            "medication",
            json!({"resourceType": "MedicationStatement", "status": "active"}),
            "subject",
            vec![
                f("medication", "Medication", Input::Text, "medicationCodeableConcept.text").req(),
                f("dose", "Dose", Input::Text, "dosage[0].text").hint("e.g. 500 mg twice a day."),
                status(v::MEDICATION_STATUS),
                f("start", "Started", Input::Date, "effectivePeriod.start"),
                f("end", "Stopped", Input::Date, "effectivePeriod.end"),
                f("reason", "Taken for", Input::Text, "reasonCode[0].text"),
                note(),
            ],
        ),
        plain(
            "prescription",
            json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order"}),
            "subject",
            vec![
                f("medication", "Medication", Input::Text, "medicationCodeableConcept.text").req(),
                f("instructions", "Instructions", Input::Text, "dosageInstruction[0].text"),
                status(v::PRESCRIPTION_STATUS),
                f("intent", "Kind", Input::Code(v::PRESCRIPTION_INTENT), "intent").req(),
                f("written", "Written on", Input::Date, "authoredOn"),
                f("prescriber", "Prescribed by", Input::Text, "requester.display"),
                f("refills", "Refills", Input::Integer, "dispenseRequest.numberOfRepeatsAllowed"),
                f("until", "Valid until", Input::Date, "dispenseRequest.validityPeriod.end"),
                note(),
            ],
        ),
        plain(
            "clinical-document",
            json!({
                "resourceType": "DocumentReference", "status": "current",
                "type": {"coding": [{"system": LOINC, "code": "34133-9", "display": "Care summary (CCD)"}]},
            }),
            "subject",
            vec![
                f("title", "Title", Input::Text, "content[0].attachment.title").req(),
                f("kind", "Kind", Input::Concept { system: LOINC, choices: v::DOCUMENT_KINDS }, "type").req(),
                f("date", "Date", Input::Instant, "date").hint(UTC),
                f("description", "Description", Input::Text, "description"),
                f("author", "From", Input::Text, "author[0].display"),
                f("link", "Link", Input::Url, "content[0].attachment.url")
                    .hint("Where the document lives; upload the document itself on the Files page."),
            ],
        )
        .minimal(),
        plain(
            "file",
            json!({"resourceType": "DocumentReference", "status": "current"}),
            "subject",
            vec![
                f("title", "Title", Input::Text, "content[0].attachment.title").req(),
                f("date", "Date", Input::Instant, "date").hint(UTC),
                f("description", "Description", Input::Text, "description"),
                f("link", "Link", Input::Url, "content[0].attachment.url").hint("For a file that lives elsewhere."),
            ],
        )
        .minimal()
        .elsewhere(),
        plain(
            "personal-picture",
            json!({
                "resourceType": "Media", "status": "completed",
                "meta": {"tag": [{"system": HEARTH_TAG, "code": "personal-picture"}]},
                "content": {"contentType": "image/jpeg"},
            }),
            "subject",
            vec![
                f("caption", "Caption", Input::Text, "content.title"),
                f("kind", "Image type", Input::Code(v::IMAGE_TYPES), "content.contentType").req(),
                f("date", "Taken on", Input::DateTime, "createdDateTime").hint(UTC),
                f("link", "Link", Input::Url, "content.url"),
            ],
        )
        .minimal(),
        Spec {
            key: "demographics",
            fields: vec![
                f("given", "Given name", Input::Text, "name[0].given[0]"),
                f("family", "Family name", Input::Text, "name[0].family"),
                f("birth", "Birth date", Input::Date, "birthDate"),
                f("gender", "Gender", Input::Code(v::GENDER), "gender"),
                f("phone", "Phone", Input::Phone, "telecom[system=phone].value"),
                f("email", "Email", Input::Email, "telecom[system=email].value"),
                f("line", "Street address", Input::Text, "address[0].line[0]"),
                f("city", "Town or city", Input::Text, "address[0].city"),
                f("postal", "Postal code", Input::Text, "address[0].postalCode"),
                f("country", "Country", Input::Text, "address[0].country"),
            ],
            shape: Shape::Plain,
            skeleton: json!({"resourceType": "Patient"}),
            patient: None,
            minimal: false,
            elsewhere: true,
        },
        plain(
            "contact",
            json!({"resourceType": "RelatedPerson", "active": true}),
            "patient",
            vec![
                f("name", "Name", Input::Text, "name[0].text").req(),
                f("relationship", "Relationship", Input::Concept { system: ROLE_CODE, choices: v::RELATED_PEOPLE }, "relationship[0]"),
                f("phone", "Phone", Input::Phone, "telecom[system=phone].value"),
                f("email", "Email", Input::Email, "telecom[system=email].value"),
                f("address", "Address", Input::Text, "address[0].text"),
            ],
        ),
        plain(
            "care-plan",
            json!({"resourceType": "CarePlan", "status": "active", "intent": "plan"}),
            "subject",
            vec![
                f("title", "Title", Input::Text, "title").req(),
                status(v::CARE_PLAN_STATUS),
                f("start", "Start", Input::Date, "period.start"),
                f("end", "End", Input::Date, "period.end"),
                f("description", "Description", Input::LongText, "description"),
                note(),
            ],
        ),
        plain(
            "goal",
            json!({"resourceType": "Goal", "lifecycleStatus": "active"}),
            "subject",
            vec![
                f("description", "Goal", Input::Text, "description.text").req().hint("e.g. Walk 8,000 steps a day."),
                f("status", "Status", Input::Code(v::GOAL_STATUS), "lifecycleStatus").req(),
                f("start", "Start", Input::Date, "startDate"),
                f("due", "Target date", Input::Date, "target[0].dueDate"),
                note(),
            ],
        ),
        plain(
            "appointment",
            json!({"resourceType": "Appointment", "status": "booked", "participant": [{"status": "accepted"}]}),
            "participant[0].actor",
            vec![
                f("description", "What", Input::Text, "description").req().hint("e.g. Dentist check-up."),
                f("start", "Start", Input::Instant, "start").req().hint(UTC),
                f("end", "End", Input::Instant, "end").hint(UTC),
                f("kind", "Kind of appointment", Input::Text, "serviceType[0].text"),
                status(v::APPOINTMENT_STATUS),
                f("comment", "Details", Input::LongText, "comment").hint("Where, with whom, what to bring."),
            ],
        ),
        plain(
            "insurance",
            json!({"resourceType": "Coverage", "status": "active"}),
            "beneficiary",
            vec![
                f("insurer", "Insurer", Input::Text, "payor[0].display").req(),
                f("plan", "Plan", Input::Text, "type.text"),
                f("member", "Member ID", Input::Text, "subscriberId"),
                status(v::COVERAGE_STATUS),
                f("start", "Start", Input::Date, "period.start"),
                f("end", "End", Input::Date, "period.end"),
            ],
        ),
        plain(
            "explanation-of-benefit",
            json!({
                "resourceType": "ExplanationOfBenefit", "status": "active", "use": "claim", "outcome": "complete",
                "type": concept(CLAIM_TYPE, "professional", "Professional (doctor's visit)"),
                "insurance": [{"focal": true, "coverage": {"display": "Health insurance"}}],
            }),
            "patient",
            vec![
                f("insurer", "Insurer", Input::Text, "insurer.display").req(),
                f("provider", "Care provider", Input::Text, "provider.display").req(),
                f("created", "Date", Input::DateTime, "created").req().hint(UTC),
                f("kind", "Kind of claim", Input::Concept { system: CLAIM_TYPE, choices: v::CLAIM_TYPES }, "type").req(),
                f("outcome", "Outcome", Input::Code(v::CLAIM_OUTCOME), "outcome").req(),
                f("paid", "Amount paid", Input::Decimal, "payment.amount.value"),
            ],
        )
        .minimal(),
    ]
}

pub(super) fn build() -> Vec<EntryForm> {
    let reg = registry();
    let mut out: Vec<EntryForm> = specs()
        .into_iter()
        .map(|s| EntryForm {
            data_type: reg
                .named()
                .iter()
                .find(|d| d.key == s.key)
                .unwrap_or_else(|| panic!("entry form for unknown data type {}", s.key)),
            fields: s.fields,
            shape: s.shape,
            minimal: s.minimal,
            made_elsewhere: s.elsewhere,
            skeleton: s.skeleton,
            patient_path: s.patient,
        })
        .collect();
    let order = |key: &str| reg.named().iter().position(|d| d.key == key);
    out.sort_by_key(|f| order(f.data_type.key));
    out
}
