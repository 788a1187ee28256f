//! The choice lists of the entry forms: UCUM units per measurement (https://ucum.org), the codes
//! of FHIR R4's required bindings (statuses, genders, allergy types…), and the codes of the
//! coded choices: CVX vaccines (http://hl7.org/fhir/sid/cvx), HL7 v3 RoleCode relationships,
//! SNOMED CT smoking statuses and blood groups, DICOM modalities, LOINC tests.

use super::input::{Choice, c};

// ---- units (UCUM code, what people read) ------------------------------------------------------

pub static MASS: &[Choice] = &[c("kg", "kg"), c("[lb_av]", "lb"), c("g", "g"), c("[oz_av]", "oz")];
pub static LENGTH: &[Choice] = &[c("cm", "cm"), c("[in_i]", "in"), c("m", "m")];
pub static BMI: &[Choice] = &[c("kg/m2", "kg/m²")];
pub static BEATS: &[Choice] = &[c("/min", "beats/min")];
pub static BREATHS: &[Choice] = &[c("/min", "breaths/min")];
pub static TEMPERATURE: &[Choice] = &[c("Cel", "°C"), c("[degF]", "°F")];
pub static PERCENT: &[Choice] = &[c("%", "%")];
pub static HBA1C: &[Choice] = &[c("%", "% (NGSP)"), c("mmol/mol", "mmol/mol (IFCC)")];
pub static FLOW: &[Choice] = &[c("L/min", "L/min")];
pub static GLUCOSE: &[Choice] = &[c("mmol/L", "mmol/L"), c("mg/dL", "mg/dL")];
pub static LIPIDS: &[Choice] = &[c("mg/dL", "mg/dL"), c("mmol/L", "mmol/L")];
pub static STEPS: &[Choice] = &[c("{steps}", "steps")];
pub static SLEEP: &[Choice] = &[c("min", "minutes"), c("h", "hours")];
pub static PRESSURE: &[Choice] = &[c("mm[Hg]", "mmHg"), c("kPa", "kPa")];

/// Decimal places a value keeps once converted to its canonical unit.
pub fn decimals(canonical: &str) -> usize {
    match canonical {
        "cm" | "%" | "kg/m2" => 1,
        "mg/dL" | "mm[Hg]" | "/min" | "L/min" | "min" | "{steps}" => 0,
        _ => 2,
    }
}

// ---- LOINC tests ------------------------------------------------------------------------------

pub static GLUCOSE_TESTS: &[Choice] = &[
    c("15074-8", "Glucose in blood"),
    c("14743-9", "Glucose from a meter (capillary blood)"),
    c("14749-6", "Glucose in serum or plasma (laboratory)"),
];
pub static LIPID_TESTS: &[Choice] = &[
    c("2093-3", "Total cholesterol"),
    c("2085-9", "HDL cholesterol"),
    c("18262-6", "LDL cholesterol (direct)"),
    c("13457-7", "LDL cholesterol (calculated)"),
    c("2571-8", "Triglycerides"),
];
pub static DOCUMENT_KINDS: &[Choice] = &[
    c("34133-9", "Care summary (CCD)"),
    c("60591-5", "Patient summary"),
];

// ---- statuses and other required bindings -------------------------------------------------------

pub static CONDITION_CLINICAL: &[Choice] = &[
    c("active", "Active"),
    c("recurrence", "Recurrence"),
    c("relapse", "Relapse"),
    c("inactive", "Inactive"),
    c("remission", "In remission"),
    c("resolved", "Resolved"),
];
pub static ALLERGY_CLINICAL: &[Choice] = &[
    c("active", "Active"),
    c("inactive", "Inactive"),
    c("resolved", "Resolved"),
];
pub static ALLERGY_TYPE: &[Choice] = &[c("allergy", "Allergy"), c("intolerance", "Intolerance")];
pub static ALLERGY_CATEGORY: &[Choice] = &[
    c("food", "Food"),
    c("medication", "Medication"),
    c("environment", "Environment"),
    c("biologic", "Biologic"),
];
pub static CRITICALITY: &[Choice] = &[
    c("low", "Low"),
    c("high", "High"),
    c("unable-to-assess", "Unable to assess"),
];
pub static SEVERITY: &[Choice] = &[
    c("mild", "Mild"),
    c("moderate", "Moderate"),
    c("severe", "Severe"),
];
pub static IMMUNIZATION_STATUS: &[Choice] = &[
    c("completed", "Given"),
    c("not-done", "Not given"),
    c("entered-in-error", "Entered in error"),
];
pub static MEDICATION_STATUS: &[Choice] = &[
    c("active", "Taking it"),
    c("completed", "Finished"),
    c("stopped", "Stopped"),
    c("on-hold", "On hold"),
    c("intended", "Going to take it"),
    c("not-taken", "Not taken"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static PRESCRIPTION_STATUS: &[Choice] = &[
    c("active", "Active"),
    c("on-hold", "On hold"),
    c("completed", "Completed"),
    c("stopped", "Stopped"),
    c("cancelled", "Cancelled"),
    c("draft", "Draft"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static PRESCRIPTION_INTENT: &[Choice] =
    &[c("order", "Order"), c("plan", "Plan"), c("proposal", "Proposal")];
pub static EVENT_STATUS: &[Choice] = &[
    c("completed", "Completed"),
    c("in-progress", "In progress"),
    c("preparation", "Being prepared"),
    c("on-hold", "On hold"),
    c("stopped", "Stopped"),
    c("not-done", "Not done"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static ENCOUNTER_STATUS: &[Choice] = &[
    c("finished", "Finished"),
    c("planned", "Planned"),
    c("arrived", "Arrived"),
    c("in-progress", "In progress"),
    c("cancelled", "Cancelled"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static ENCOUNTER_CLASS: &[Choice] = &[
    c("AMB", "Outpatient visit"),
    c("EMER", "Emergency"),
    c("IMP", "Hospital stay"),
    c("VR", "Virtual (video or phone)"),
    c("HH", "Home visit"),
];
pub static FAMILY_STATUS: &[Choice] = &[
    c("completed", "Complete"),
    c("partial", "Partial"),
    c("health-unknown", "Health unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static DEVICE_STATUS: &[Choice] = &[
    c("active", "In use"),
    c("inactive", "No longer used"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static IMAGING_STATUS: &[Choice] = &[
    c("available", "Available"),
    c("registered", "Registered"),
    c("cancelled", "Cancelled"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static REPORT_STATUS: &[Choice] = &[
    c("final", "Final"),
    c("preliminary", "Preliminary"),
    c("partial", "Partial"),
    c("registered", "Registered"),
    c("amended", "Amended"),
    c("corrected", "Corrected"),
    c("appended", "Appended"),
    c("cancelled", "Cancelled"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static DOCUMENT_STATUS: &[Choice] = &[
    c("current", "Current"),
    c("superseded", "Superseded"),
    c("entered-in-error", "Entered in error"),
];
pub static IMAGE_TYPES: &[Choice] = &[
    c("image/jpeg", "JPEG"),
    c("image/png", "PNG"),
    c("image/gif", "GIF"),
    c("image/webp", "WebP"),
];
pub static GENDER: &[Choice] = &[
    c("female", "Female"),
    c("male", "Male"),
    c("other", "Other"),
    c("unknown", "Unknown"),
];
pub static CARE_PLAN_STATUS: &[Choice] = &[
    c("active", "Active"),
    c("draft", "Draft"),
    c("on-hold", "On hold"),
    c("completed", "Completed"),
    c("revoked", "Revoked"),
    c("unknown", "Unknown"),
    c("entered-in-error", "Entered in error"),
];
pub static GOAL_STATUS: &[Choice] = &[
    c("active", "Active"),
    c("proposed", "Proposed"),
    c("planned", "Planned"),
    c("accepted", "Accepted"),
    c("on-hold", "On hold"),
    c("completed", "Completed"),
    c("cancelled", "Cancelled"),
    c("rejected", "Rejected"),
    c("entered-in-error", "Entered in error"),
];
pub static APPOINTMENT_STATUS: &[Choice] = &[
    c("booked", "Booked"),
    c("proposed", "Proposed"),
    c("pending", "Pending"),
    c("arrived", "Arrived"),
    c("checked-in", "Checked in"),
    c("fulfilled", "Attended"),
    c("cancelled", "Cancelled"),
    c("noshow", "Missed"),
    c("waitlist", "On the waiting list"),
    c("entered-in-error", "Entered in error"),
];
pub static COVERAGE_STATUS: &[Choice] = &[
    c("active", "Active"),
    c("cancelled", "Cancelled"),
    c("draft", "Draft"),
    c("entered-in-error", "Entered in error"),
];
pub static CLAIM_TYPES: &[Choice] = &[
    c("professional", "Professional (doctor's visit)"),
    c("institutional", "Institutional (hospital)"),
    c("pharmacy", "Pharmacy"),
    c("oral", "Dental"),
    c("vision", "Vision"),
];
pub static CLAIM_OUTCOME: &[Choice] = &[
    c("complete", "Complete"),
    c("partial", "Partial"),
    c("queued", "Queued"),
    c("error", "Error"),
];

// ---- coded choices ----------------------------------------------------------------------------

pub const CVX: &str = "http://hl7.org/fhir/sid/cvx";
pub static VACCINES: &[Choice] = &[
    c("208", "COVID-19 (Pfizer-BioNTech)"),
    c("207", "COVID-19 (Moderna)"),
    c("140", "Influenza, seasonal, injectable, preservative free"),
    c("88", "Influenza, unspecified"),
    c("03", "MMR (measles, mumps, rubella)"),
    c("20", "DTaP (diphtheria, tetanus, pertussis)"),
    c("115", "Tdap (tetanus, diphtheria, pertussis)"),
    c("113", "Td (tetanus, diphtheria)"),
    c("10", "Polio (IPV)"),
    c("08", "Hepatitis B, pediatric"),
    c("83", "Hepatitis A, pediatric"),
    c("21", "Varicella (chickenpox)"),
    c("62", "HPV, quadrivalent"),
    c("133", "Pneumococcal conjugate (PCV13)"),
    c("33", "Pneumococcal polysaccharide (PPSV23)"),
    c("187", "Zoster (shingles), recombinant"),
];

pub const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
pub static RELATIVES: &[Choice] = &[
    c("MTH", "Mother"),
    c("FTH", "Father"),
    c("SIS", "Sister"),
    c("BRO", "Brother"),
    c("DAU", "Daughter"),
    c("SON", "Son"),
    c("GRMTH", "Grandmother"),
    c("GRFTH", "Grandfather"),
    c("AUNT", "Aunt"),
    c("UNCLE", "Uncle"),
    c("COUSN", "Cousin"),
    c("FAMMEMB", "Other family member"),
];
pub static RELATED_PEOPLE: &[Choice] = &[
    c("SPS", "Spouse"),
    c("DOMPART", "Domestic partner"),
    c("MTH", "Mother"),
    c("FTH", "Father"),
    c("DAU", "Daughter"),
    c("SON", "Son"),
    c("SIS", "Sister"),
    c("BRO", "Brother"),
    c("FAMMEMB", "Other family member"),
    c("FRND", "Friend"),
    c("NBOR", "Neighbour"),
];

pub const SNOMED: &str = "http://snomed.info/sct";
pub static SMOKING: &[Choice] = &[
    c("266919005", "Never smoked"),
    c("8517006", "Former smoker"),
    c("449868002", "Smokes every day"),
    c("428041000124106", "Smokes some days"),
    c("77176002", "Smoker, how often unknown"),
    c("266927001", "Unknown if ever smoked"),
];
pub static BLOOD_GROUPS: &[Choice] = &[
    c("278147001", "O Rh+"),
    c("278148006", "O Rh−"),
    c("278149003", "A Rh+"),
    c("278152006", "A Rh−"),
    c("278150003", "B Rh+"),
    c("278153001", "B Rh−"),
    c("278151004", "AB Rh+"),
    c("278154007", "AB Rh−"),
];

pub const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
pub static MODALITIES: &[Choice] = &[
    c("CT", "CT"),
    c("MR", "MRI"),
    c("US", "Ultrasound"),
    c("CR", "X-ray (computed radiography)"),
    c("DX", "X-ray (digital radiography)"),
    c("MG", "Mammography"),
    c("NM", "Nuclear medicine"),
    c("PT", "PET"),
    c("XA", "Angiography"),
];

pub const CONDITION_CLINICAL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub const ALLERGY_CLINICAL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const CLAIM_TYPE: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
pub const CONTACT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
