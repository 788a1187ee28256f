//! The registry of named data types (healthvault.md §2: "thing types").
//!
//! HealthVault had thing types (Weight, Blood pressure, …) that people and consent screens speak
//! of. In Hearth every item is a FHIR R4 resource; a *data type* is a FHIR resource type plus a
//! [`Selector`] that picks the resources of that type which belong to it (e.g. Weight =
//! Observation with LOINC 29463-7). Every FHIR resource type also has a *generic* data type keyed
//! `fhir:{ResourceType}` for resources no named type claims.
//!
//! Layout:
//! - this file: the public shapes ([`DataType`], [`Selector`], [`UnitSpec`], …) and entry points;
//! - [`catalogue`]: the table of named types and the generic R4 resource types;
//! - `classify`: the [`Registry`], its precomputed lookup and the classifier;
//! - `codes`: code systems, coding extraction and [`primary_codes`];
//! - `fhirdate`: FHIR `date` / `dateTime` / `instant` parsing;
//! - `effective`: [`effective_date`] and [`end_date`] per resource type;
//! - `units`: UCUM unit conversion;
//! - `rules`: each named type's own rules ([`check_rules`]).

pub mod catalogue;
mod classify;
mod codes;
mod effective;
mod fhirdate;
mod rules;
mod units;

#[cfg(test)]
mod synthea_tests;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

pub use classify::Registry;
pub use codes::{
    HEALTHVAULT_THING_TYPES, HEALTHVAULT_VOCAB, HEARTH_TAG, LOINC, OBSERVATION_CATEGORY, SNOMED, UCUM,
    canonical_system, primary_code_path, primary_codes,
};
pub use effective::{effective_date, end_date};
pub use fhirdate::{parse_fhir_datetime, parse_fhir_datetime_end};
pub use rules::{RuleIssue, check_rules};
pub use units::{Substance, convert, convert_substance};

/// Prefix of generic data-type keys: `fhir:Observation`, `fhir:Claim`, …
pub const GENERIC_PREFIX: &str = "fhir:";

/// One data type: a FHIR resource type plus a selector, with what consent screens show.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataType {
    /// Stable registry key: lowercase-kebab for named types (`blood-pressure`), `fhir:X` for
    /// the generic type of resource type X.
    pub key: &'static str,
    /// Display name, e.g. "Blood pressure".
    pub name: &'static str,
    /// One sentence for consent screens.
    pub description: &'static str,
    /// The FHIR resource type every resource of this type has, e.g. "Observation".
    pub resource_type: &'static str,
    pub selector: Selector,
    /// For measurements: the units a value may be recorded in.
    pub unit: Option<UnitSpec>,
    pub category: Category,
}

impl DataType {
    /// True for the `fhir:X` types that stand for "any X no named type claims".
    pub fn is_generic(&self) -> bool {
        is_generic_key(self.key)
    }
}

/// Which resources of the data type's resource type belong to it.
///
/// Precedence when classifying (most specific first): a [`Selector::Codes`] match on any path,
/// then [`Selector::Category`], then [`Selector::AnyOfType`], then the generic `fhir:X` type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selector {
    /// Every resource of the resource type (not claimed by a more specific type).
    AnyOfType,
    /// A coding at `path` (dot-separated, relative to the resource; arrays are searched; the
    /// element may be a CodeableConcept or a Coding) with this `system` and one of `codes`.
    /// Code systems are compared after [`canonical_system`] (e.g. LOINC's OID equals
    /// `http://loinc.org`).
    Codes {
        path: &'static str,
        system: &'static str,
        codes: &'static [&'static str],
    },
    /// A coding in the resource's `category` with this system and one of `codes`; used as a
    /// fallback (e.g. "any laboratory Observation") after all `Codes` selectors.
    Category {
        system: &'static str,
        codes: &'static [&'static str],
    },
    /// Any of these selectors (each keeps its own precedence).
    AnyOf(&'static [Selector]),
}

/// The units a measurement may be recorded in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitSpec {
    /// The UCUM code values are normalised to for display and comparison, e.g. "kg".
    pub canonical: &'static str,
    /// The UCUM codes a value may carry, e.g. `["kg", "g", "[lb_av]", "[oz_av]"]`.
    pub accepted: &'static [&'static str],
    pub dimension: Dimension,
}

impl UnitSpec {
    /// Converts between two units of this spec's dimension (substance-aware for concentrations).
    pub fn convert(&self, value: f64, from: &str, to: &str) -> Option<f64> {
        match self.dimension {
            Dimension::Concentration(s) => convert_substance(value, from, to, s),
            _ => convert(value, from, to),
        }
    }

    /// Converts a value to [`UnitSpec::canonical`].
    pub fn to_canonical(&self, value: f64, from: &str) -> Option<f64> {
        self.convert(value, from, self.canonical)
    }
}

/// The physical dimension of a measurement (what [`convert`] converts within).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Mass,
    Length,
    Temperature,
    Pressure,
    Volume,
    /// Events per time: heart rate, respiratory rate (`/min`).
    Frequency,
    /// Dimensionless ratio: `%`.
    Fraction,
    /// Body mass index (`kg/m2`).
    MassPerArea,
    /// Amount of a substance per volume; mass ↔ molar conversion needs the substance.
    Concentration(Substance),
    /// Volume per time: peak flow (`L/min`).
    Flow,
    /// A count (`{steps}`, `1`).
    Count,
    Duration,
    Energy,
}

/// Groups of data types for consent screens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    Vitals,
    Fitness,
    Labs,
    Clinical,
    Medications,
    Documents,
    Identity,
    Plans,
    Financial,
    /// Generic `fhir:X` types.
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Vitals => "vitals",
            Category::Fitness => "fitness",
            Category::Labs => "labs",
            Category::Clinical => "clinical",
            Category::Medications => "medications",
            Category::Documents => "documents",
            Category::Identity => "identity",
            Category::Plans => "plans",
            Category::Financial => "financial",
            Category::Other => "other",
        }
    }
}

/// The data type a resource was put into.
#[derive(Clone, Debug, PartialEq)]
pub struct Classification {
    /// The named type's key, else `fhir:{ResourceType}` (`fhir:Resource` if the JSON has no
    /// `resourceType`).
    pub key: String,
    /// The named type, `None` for a generic classification.
    pub named: Option<&'static DataType>,
}

impl Classification {
    pub fn is_generic(&self) -> bool {
        self.named.is_none()
    }
}

/// The registry, built once.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::build)
}

/// True for generic keys (`fhir:Observation`).
pub fn is_generic_key(key: &str) -> bool {
    key.starts_with(GENERIC_PREFIX)
}

/// The generic key of a resource type: `fhir:{resource_type}`.
pub fn generic_key(resource_type: &str) -> String {
    format!("{GENERIC_PREFIX}{resource_type}")
}
