//! The catalogue: Hearth's named data types (HealthVault's core thing types, healthvault.md
//! §2.3, mapped onto FHIR R4) and one generic `fhir:X` type per FHIR R4 resource type.
//!
//! Codes follow LOINC and the FHIR R4 vital-signs profile (vitals), the HL7 Physical Activity IG
//! (exercise, LOINC 73985-4) and the sleep LOINC codes 93829-0…93832-4. Where HealthVault's own
//! FHIR library (microsoft/healthvault-fhir-library) used HealthVault vocabulary codes (exercise,
//! sleep session), those codes are accepted too so that its exports classify.

use super::codes::{HEALTHVAULT_THING_TYPES, HEALTHVAULT_VOCAB, HEARTH_TAG, LOINC, OBSERVATION_CATEGORY};
use super::{Category, DataType, Dimension, Selector, Substance, UnitSpec};

// ---- codes the rules refer to -------------------------------------------------------------

pub const BP_SYSTOLIC: &str = "8480-6";
pub const BP_DIASTOLIC: &str = "8462-4";
pub const HEART_RATE: &str = "8867-4";
/// The lipid panel code itself (grouping Observation or DiagnosticReport).
pub const LIPID_PANEL: &str = "57698-3";
pub const TRIGLYCERIDES: &str = "2571-8";

const WEIGHT_CODES: &[&str] = &["29463-7", "3141-9"];
const HEIGHT_CODES: &[&str] = &["8302-2", "8306-3", "8308-9"];
const BMI_CODES: &[&str] = &["39156-5"];
/// 85354-9 BP panel (FHIR vital-signs profile), 55284-4 (Synthea, US Core before 3.0), 35094-2.
const BP_CODES: &[&str] = &["85354-9", "55284-4", "35094-2"];
const HEART_RATE_CODES: &[&str] = &[HEART_RATE, "40443-4", "8889-8"];
const RESP_RATE_CODES: &[&str] = &["9279-1"];
/// Body temperature and its site-specific forms (oral, axillary, rectal, tympanic).
const TEMPERATURE_CODES: &[&str] = &["8310-5", "8331-1", "8328-7", "8332-9", "8333-7"];
const SPO2_CODES: &[&str] = &["2708-6", "59408-5", "20564-1"];
const HEAD_CIRC_CODES: &[&str] = &["9843-4", "8287-5"];
const WAIST_CODES: &[&str] = &["8280-0"];
const BODY_FAT_CODES: &[&str] = &["41982-0"];
const PEAK_FLOW_CODES: &[&str] = &["19935-6", "33452-4"];
const VITALS_PANEL_CODES: &[&str] = &["85353-1"];
const GLUCOSE_CODES: &[&str] = &[
    "2339-0", "15074-8", "2345-7", "41653-7", "14749-6", "14743-9", "1558-6",
];
const HBA1C_CODES: &[&str] = &["4548-4", "17856-6"];
/// Panel + members: total cholesterol, HDL, LDL (calculated, direct, serum), triglycerides.
pub const LIPID_CODES: &[&str] = &[
    LIPID_PANEL,
    "2093-3",
    "2085-9",
    "18262-6",
    "13457-7",
    "2089-1",
    TRIGLYCERIDES,
];
const STEPS_CODES: &[&str] = &["55423-8", "41950-7"];
const EXERCISE_CODES: &[&str] = &["73985-4", "55411-3"];
const SLEEP_CODES: &[&str] = &["93832-4", "93829-0", "93830-8", "93831-6"];
const SMOKING_CODES: &[&str] = &["72166-2"];
const CLINICAL_DOC_CODES: &[&str] = &["34133-9", "60591-5"];

// ---- units ----------------------------------------------------------------------------------

pub const MASS: UnitSpec = UnitSpec {
    canonical: "kg",
    accepted: &["kg", "g", "[lb_av]", "[oz_av]"],
    dimension: Dimension::Mass,
};
pub const BODY_LENGTH: UnitSpec = UnitSpec {
    canonical: "cm",
    accepted: &["cm", "m", "mm", "[in_i]", "[ft_i]"],
    dimension: Dimension::Length,
};
pub const BMI: UnitSpec = UnitSpec {
    canonical: "kg/m2",
    accepted: &["kg/m2"],
    dimension: Dimension::MassPerArea,
};
pub const BLOOD_PRESSURE: UnitSpec = UnitSpec {
    canonical: "mm[Hg]",
    accepted: &["mm[Hg]", "kPa"],
    dimension: Dimension::Pressure,
};
pub const BEATS: UnitSpec = UnitSpec {
    canonical: "/min",
    accepted: &["/min", "{beats}/min"],
    dimension: Dimension::Frequency,
};
pub const BREATHS: UnitSpec = UnitSpec {
    canonical: "/min",
    accepted: &["/min", "{breaths}/min"],
    dimension: Dimension::Frequency,
};
pub const BODY_TEMPERATURE: UnitSpec = UnitSpec {
    canonical: "Cel",
    accepted: &["Cel", "[degF]"],
    dimension: Dimension::Temperature,
};
pub const PERCENT: UnitSpec = UnitSpec {
    canonical: "%",
    accepted: &["%"],
    dimension: Dimension::Fraction,
};
/// HbA1c: NGSP `%` or IFCC `mmol/mol`. The two are different scales (IFCC = 10.929 × (NGSP −
/// 2.15)), not a unit conversion, so [`super::convert`] does not convert between them.
pub const HBA1C: UnitSpec = UnitSpec {
    canonical: "%",
    accepted: &["%", "mmol/mol"],
    dimension: Dimension::Fraction,
};
pub const GLUCOSE: UnitSpec = UnitSpec {
    canonical: "mmol/L",
    accepted: &["mmol/L", "mg/dL"],
    dimension: Dimension::Concentration(Substance::Glucose),
};
pub const LIPIDS: UnitSpec = UnitSpec {
    canonical: "mg/dL",
    accepted: &["mg/dL", "mmol/L"],
    dimension: Dimension::Concentration(Substance::Cholesterol),
};
pub const PEAK_FLOW: UnitSpec = UnitSpec {
    canonical: "L/min",
    accepted: &["L/min", "L/s"],
    dimension: Dimension::Flow,
};
pub const STEPS: UnitSpec = UnitSpec {
    canonical: "{steps}",
    accepted: &["{steps}", "1", "{count}", "/d", "{steps}/d"],
    dimension: Dimension::Count,
};
pub const SLEEP: UnitSpec = UnitSpec {
    canonical: "min",
    accepted: &["min", "h", "s"],
    dimension: Dimension::Duration,
};

// ---- the named types ------------------------------------------------------------------------

const fn loinc(codes: &'static [&'static str]) -> Selector {
    Selector::Codes {
        path: "code",
        system: LOINC,
        codes,
    }
}

#[allow(clippy::too_many_arguments)]
const fn t(
    key: &'static str,
    name: &'static str,
    description: &'static str,
    resource_type: &'static str,
    selector: Selector,
    unit: Option<UnitSpec>,
    category: Category,
) -> DataType {
    DataType {
        key,
        name,
        description,
        resource_type,
        selector,
        unit,
        category,
    }
}

use Category::*;

const OBS: &str = "Observation";

/// Named types, in display order. Keys are stable: they are stored with every item.
pub static NAMED: &[DataType] = &[
    // Vitals and measurements
    t(
        "weight",
        "Weight",
        "Body weight measurements.",
        OBS,
        loinc(WEIGHT_CODES),
        Some(MASS),
        Vitals,
    ),
    t(
        "height",
        "Height",
        "Body height measurements.",
        OBS,
        loinc(HEIGHT_CODES),
        Some(BODY_LENGTH),
        Vitals,
    ),
    t(
        "bmi",
        "Body mass index",
        "Body mass index values.",
        OBS,
        loinc(BMI_CODES),
        Some(BMI),
        Vitals,
    ),
    t(
        "blood-pressure",
        "Blood pressure",
        "Blood pressure readings (systolic and diastolic).",
        OBS,
        loinc(BP_CODES),
        Some(BLOOD_PRESSURE),
        Vitals,
    ),
    t(
        "heart-rate",
        "Heart rate",
        "Heart rate (pulse) readings.",
        OBS,
        loinc(HEART_RATE_CODES),
        Some(BEATS),
        Vitals,
    ),
    t(
        "respiratory-rate",
        "Respiratory rate",
        "Breathing rate readings.",
        OBS,
        loinc(RESP_RATE_CODES),
        Some(BREATHS),
        Vitals,
    ),
    t(
        "body-temperature",
        "Body temperature",
        "Body temperature readings.",
        OBS,
        loinc(TEMPERATURE_CODES),
        Some(BODY_TEMPERATURE),
        Vitals,
    ),
    t(
        "blood-oxygen",
        "Blood oxygen saturation",
        "Blood oxygen saturation (SpO2) readings.",
        OBS,
        loinc(SPO2_CODES),
        Some(PERCENT),
        Vitals,
    ),
    t(
        "head-circumference",
        "Head circumference",
        "Head circumference measurements, usually of infants.",
        OBS,
        loinc(HEAD_CIRC_CODES),
        Some(BODY_LENGTH),
        Vitals,
    ),
    t(
        "waist-circumference",
        "Waist circumference",
        "Waist circumference measurements.",
        OBS,
        loinc(WAIST_CODES),
        Some(BODY_LENGTH),
        Vitals,
    ),
    t(
        "body-fat",
        "Body fat",
        "Body fat percentage measurements.",
        OBS,
        loinc(BODY_FAT_CODES),
        Some(PERCENT),
        Vitals,
    ),
    t(
        "peak-flow",
        "Peak flow",
        "Peak expiratory flow readings.",
        OBS,
        loinc(PEAK_FLOW_CODES),
        Some(PEAK_FLOW),
        Vitals,
    ),
    t(
        "vital-signs",
        "Other vital signs",
        "Vital-sign panels and vital-sign observations not covered by a more specific type.",
        OBS,
        Selector::AnyOf(&[
            Selector::Codes {
                path: "code",
                system: LOINC,
                codes: VITALS_PANEL_CODES,
            },
            Selector::Category {
                system: OBSERVATION_CATEGORY,
                codes: &["vital-signs"],
            },
        ]),
        None,
        Vitals,
    ),
    // Labs
    t(
        "blood-glucose",
        "Blood glucose",
        "Blood glucose readings from meters and laboratories.",
        OBS,
        loinc(GLUCOSE_CODES),
        Some(GLUCOSE),
        Labs,
    ),
    t(
        "hba1c",
        "HbA1c",
        "Hemoglobin A1c results.",
        OBS,
        loinc(HBA1C_CODES),
        Some(HBA1C),
        Labs,
    ),
    t(
        "lipid-panel",
        "Cholesterol",
        "Cholesterol and triglyceride results (total, HDL, LDL, triglycerides, lipid panels).",
        OBS,
        loinc(LIPID_CODES),
        Some(LIPIDS),
        Labs,
    ),
    t(
        "lab-result",
        "Lab test results",
        "Laboratory test results not covered by a more specific type.",
        OBS,
        Selector::Category {
            system: OBSERVATION_CATEGORY,
            codes: &["laboratory"],
        },
        None,
        Labs,
    ),
    t(
        "diagnostic-report",
        "Diagnostic reports",
        "Laboratory, imaging and other diagnostic reports that group results.",
        "DiagnosticReport",
        Selector::AnyOfType,
        None,
        Labs,
    ),
    // Fitness
    t(
        "steps",
        "Steps",
        "Step counts from pedometers and activity trackers.",
        OBS,
        loinc(STEPS_CODES),
        Some(STEPS),
        Fitness,
    ),
    t(
        "exercise",
        "Exercise",
        "Exercise sessions: activity, duration, distance and details.",
        OBS,
        Selector::AnyOf(&[
            Selector::Codes {
                path: "code",
                system: LOINC,
                codes: EXERCISE_CODES,
            },
            Selector::Codes {
                path: "code",
                system: HEALTHVAULT_VOCAB,
                codes: &["exercise"],
            },
        ]),
        None,
        Fitness,
    ),
    t(
        "sleep",
        "Sleep",
        "Sleep sessions and sleep durations.",
        OBS,
        Selector::AnyOf(&[
            Selector::Codes {
                path: "code",
                system: LOINC,
                codes: SLEEP_CODES,
            },
            Selector::Codes {
                path: "code",
                system: HEALTHVAULT_THING_TYPES,
                codes: &["txtNamesleepjournal-am"],
            },
        ]),
        Some(SLEEP),
        Fitness,
    ),
    // Clinical
    t(
        "smoking-status",
        "Smoking status",
        "Tobacco smoking status.",
        OBS,
        loinc(SMOKING_CODES),
        None,
        Clinical,
    ),
    t(
        "condition",
        "Conditions",
        "Health conditions, problems and diagnoses.",
        "Condition",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "allergy",
        "Allergies",
        "Allergies and intolerances.",
        "AllergyIntolerance",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "immunization",
        "Immunizations",
        "Vaccinations received.",
        "Immunization",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "procedure",
        "Procedures",
        "Procedures and surgeries performed.",
        "Procedure",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "encounter",
        "Encounters",
        "Visits and other encounters with care providers.",
        "Encounter",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "family-history",
        "Family history",
        "Health conditions of family members.",
        "FamilyMemberHistory",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "medical-device",
        "Medical devices",
        "Medical devices used by or implanted in the person.",
        "Device",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    t(
        "imaging-study",
        "Medical images",
        "Medical imaging studies (DICOM).",
        "ImagingStudy",
        Selector::AnyOfType,
        None,
        Clinical,
    ),
    // Medications
    t(
        "medication",
        "Medications",
        "Medications the person takes or has taken.",
        "MedicationStatement",
        Selector::AnyOfType,
        None,
        Medications,
    ),
    t(
        "prescription",
        "Prescriptions",
        "Medication prescriptions and orders.",
        "MedicationRequest",
        Selector::AnyOfType,
        None,
        Medications,
    ),
    // Documents
    t(
        "clinical-document",
        "Clinical documents",
        "Care summaries such as CCD and patient summary documents.",
        "DocumentReference",
        Selector::Codes {
            path: "type",
            system: LOINC,
            codes: CLINICAL_DOC_CODES,
        },
        None,
        Documents,
    ),
    t(
        "file",
        "Files",
        "Files and documents.",
        "DocumentReference",
        Selector::AnyOfType,
        None,
        Documents,
    ),
    t(
        "personal-picture",
        "Personal picture",
        "The person's own picture.",
        "Media",
        Selector::Codes {
            path: "meta.tag",
            system: HEARTH_TAG,
            codes: &["personal-picture"],
        },
        None,
        Documents,
    ),
    // Identity
    t(
        "demographics",
        "Personal information",
        "Name, birth date, gender, contact details and other demographics.",
        "Patient",
        Selector::AnyOfType,
        None,
        Identity,
    ),
    t(
        "contact",
        "Contacts",
        "Emergency contacts, relatives and other related people.",
        "RelatedPerson",
        Selector::AnyOfType,
        None,
        Identity,
    ),
    // Plans
    t(
        "care-plan",
        "Care plans",
        "Care plans and their activities.",
        "CarePlan",
        Selector::AnyOfType,
        None,
        Plans,
    ),
    t(
        "goal",
        "Health goals",
        "Health goals and targets.",
        "Goal",
        Selector::AnyOfType,
        None,
        Plans,
    ),
    t(
        "appointment",
        "Appointments",
        "Appointments with care providers.",
        "Appointment",
        Selector::AnyOfType,
        None,
        Plans,
    ),
    // Financial
    t(
        "insurance",
        "Insurance",
        "Health insurance coverage.",
        "Coverage",
        Selector::AnyOfType,
        None,
        Financial,
    ),
    t(
        "explanation-of-benefit",
        "Explanations of benefits",
        "Explanations of benefits from insurers: what was billed and paid.",
        "ExplanationOfBenefit",
        Selector::AnyOfType,
        None,
        Financial,
    ),
];

macro_rules! generic {
    ($($rt:literal),* $(,)?) => {
        /// One generic type per FHIR R4 resource type, key `fhir:{ResourceType}`.
        pub static GENERIC: &[DataType] = &[$(
            DataType {
                key: concat!("fhir:", $rt),
                name: $rt,
                description: concat!("Any FHIR ", $rt, " resource not covered by a named type."),
                resource_type: $rt,
                selector: Selector::AnyOfType,
                unit: None,
                category: Category::Other,
            },
        )*];
    };
}

generic![
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];
