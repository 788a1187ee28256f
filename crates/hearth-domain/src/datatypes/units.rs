//! Unit conversion between UCUM codes (https://ucum.org/ucum) of one dimension.
//!
//! A small table of the UCUM codes health data uses, each with its dimension and factor to the
//! dimension's base unit; temperatures are affine. Annotations (`{beats}/min`, `{steps}`) count
//! as 1, as UCUM says. Mass and molar concentrations (mg/dL ↔ mmol/L) are only convertible for a
//! known [`Substance`] ([`convert_substance`]); [`convert`] alone returns `None` for them.
//! Exact factors: 1 [lb_av] = 0.45359237 kg, 1 [in_i] = 2.54 cm, 1 mm[Hg] = 133.322387415 Pa.

use super::catalogue::TRIGLYCERIDES;

/// A substance whose molar mass links mass and molar concentrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Substance {
    /// 180.156 g/mol: 1 mmol/L = 18.0156 mg/dL.
    Glucose,
    /// 386.65 g/mol: 1 mmol/L = 38.665 mg/dL (total, HDL and LDL cholesterol).
    Cholesterol,
    /// As triolein, 885.7 g/mol: 1 mmol/L = 88.57 mg/dL.
    Triglycerides,
}

impl Substance {
    /// Molar mass in g/mol (equivalently mg/mmol).
    pub fn molar_mass(self) -> f64 {
        match self {
            Substance::Glucose => 180.156,
            Substance::Cholesterol => 386.65,
            Substance::Triglycerides => 885.7,
        }
    }

    /// The substance a LOINC lipid code measures (triglycerides vs cholesterol).
    pub fn for_lipid_code(loinc: &str) -> Substance {
        if loinc == TRIGLYCERIDES {
            Substance::Triglycerides
        } else {
            Substance::Cholesterol
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mass,
    Length,
    Pressure,
    Volume,
    Frequency,
    Fraction,
    MassPerArea,
    /// Base mg/dL.
    MassConcentration,
    /// Base mmol/L.
    MolarConcentration,
    /// Base L/min.
    Flow,
    Count,
    /// Base seconds.
    Duration,
    /// Base kcal.
    Energy,
}

/// Removes UCUM annotations (`{…}`); a unit that was only an annotation becomes "1".
fn strip_annotations(unit: &str) -> std::borrow::Cow<'_, str> {
    if !unit.contains('{') {
        return unit.into();
    }
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    if out.is_empty() { "1".into() } else { out.into() }
}

/// (kind, factor to the kind's base unit).
fn linear(unit: &str) -> Option<(Kind, f64)> {
    use Kind::*;
    Some(match unit {
        "kg" => (Mass, 1.0),
        "g" => (Mass, 1e-3),
        "mg" => (Mass, 1e-6),
        "[lb_av]" => (Mass, 0.453_592_37),
        "[oz_av]" => (Mass, 0.453_592_37 / 16.0),
        "[stone_av]" => (Mass, 0.453_592_37 * 14.0),
        "m" => (Length, 1.0),
        "cm" => (Length, 1e-2),
        "mm" => (Length, 1e-3),
        "km" => (Length, 1e3),
        "[in_i]" => (Length, 0.0254),
        "[ft_i]" => (Length, 0.3048),
        "[yd_i]" => (Length, 0.9144),
        "[mi_i]" => (Length, 1609.344),
        "Pa" => (Pressure, 1.0),
        "kPa" => (Pressure, 1e3),
        "mm[Hg]" => (Pressure, 133.322_387_415),
        "cm[H2O]" => (Pressure, 98.0665),
        "L" | "l" => (Volume, 1.0),
        "dL" => (Volume, 0.1),
        "mL" | "ml" => (Volume, 1e-3),
        "[foz_us]" => (Volume, 0.029_573_529_562_5),
        "[gal_us]" => (Volume, 3.785_411_784),
        "/min" => (Frequency, 1.0),
        "/s" => (Frequency, 60.0),
        "/h" => (Frequency, 1.0 / 60.0),
        "/d" => (Frequency, 1.0 / 1440.0),
        "%" => (Fraction, 1e-2),
        "kg/m2" => (MassPerArea, 1.0),
        "mg/dL" => (MassConcentration, 1.0),
        "g/dL" => (MassConcentration, 1e3),
        "g/L" => (MassConcentration, 1e2),
        "mg/L" => (MassConcentration, 0.1),
        "mmol/L" => (MolarConcentration, 1.0),
        "umol/L" => (MolarConcentration, 1e-3),
        "mol/L" => (MolarConcentration, 1e3),
        "L/min" => (Flow, 1.0),
        "L/s" => (Flow, 60.0),
        "mL/s" => (Flow, 0.06),
        "mL/min" => (Flow, 1e-3),
        "1" => (Count, 1.0),
        "s" => (Duration, 1.0),
        "ms" => (Duration, 1e-3),
        "min" => (Duration, 60.0),
        "h" => (Duration, 3600.0),
        "d" => (Duration, 86_400.0),
        "kcal" | "[Cal]" => (Energy, 1.0),
        "cal" => (Energy, 1e-3),
        "kJ" => (Energy, 1.0 / 4.184),
        "J" => (Energy, 1e-3 / 4.184),
        _ => return None,
    })
}

/// Temperature to kelvin and back.
fn to_kelvin(v: f64, unit: &str) -> Option<f64> {
    match unit {
        "K" => Some(v),
        "Cel" => Some(v + 273.15),
        "[degF]" => Some((v - 32.0) * 5.0 / 9.0 + 273.15),
        _ => None,
    }
}

fn from_kelvin(k: f64, unit: &str) -> Option<f64> {
    match unit {
        "K" => Some(k),
        "Cel" => Some(k - 273.15),
        "[degF]" => Some((k - 273.15) * 9.0 / 5.0 + 32.0),
        _ => None,
    }
}

/// Converts `value` from UCUM unit `from` to `to` if both are of one dimension; `None` if not
/// convertible (unknown unit, different dimensions, or mass ↔ molar concentration, which needs
/// [`convert_substance`]). Identical codes always convert.
pub fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(value);
    }
    if let (Some(k), true) = (to_kelvin(value, from), to_kelvin(0.0, to).is_some()) {
        return from_kelvin(k, to);
    }
    let (from, to) = (strip_annotations(from), strip_annotations(to));
    let (kf, ff) = linear(&from)?;
    let (kt, ft) = linear(&to)?;
    (kf == kt).then(|| value * ff / ft)
}

/// Like [`convert`], and also between mass and molar concentrations of `substance`
/// (e.g. glucose mg/dL ↔ mmol/L, factor 18.0156).
pub fn convert_substance(value: f64, from: &str, to: &str, substance: Substance) -> Option<f64> {
    if let Some(v) = convert(value, from, to) {
        return Some(v);
    }
    let (kf, ff) = linear(&strip_annotations(from))?;
    let (kt, ft) = linear(&strip_annotations(to))?;
    // mg/dL per mmol/L = molar mass (mg/mmol) / 10 (dL per L).
    let mgdl_per_mmoll = substance.molar_mass() / 10.0;
    match (kf, kt) {
        (Kind::MolarConcentration, Kind::MassConcentration) => Some(value * ff * mgdl_per_mmoll / ft),
        (Kind::MassConcentration, Kind::MolarConcentration) => Some(value * ff / mgdl_per_mmoll / ft),
        _ => None,
    }
}
