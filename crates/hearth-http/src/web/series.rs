//! The readings a chart draws: each item's measured values in its data type's canonical unit
//! (read with a small typed parse of the parts that matter, not the whole resource), one series
//! per blood pressure component or per cholesterol test, and the reference bands shaded behind
//! them. Normal ranges for adults: blood pressure systolic 90–120 and diastolic 60–80 mmHg,
//! fasting glucose 3.9–5.5 mmol/L, heart rate 60–100 /min, BMI 18.5–25 kg/m², SpO2 95–100 %,
//! body temperature 36.1–37.2 °C.

use hearth_domain::Timestamp;
use hearth_domain::datatypes::catalogue::{BP_DIASTOLIC, BP_SYSTOLIC};
use hearth_domain::datatypes::{DataType, Dimension, Substance, convert_substance};
use serde::Deserialize;

use super::chart::{Band, Series};

#[derive(Deserialize)]
struct Quantity {
    value: Option<f64>,
    code: Option<String>,
    unit: Option<String>,
}

#[derive(Deserialize)]
struct Coding {
    code: Option<String>,
    display: Option<String>,
}

#[derive(Deserialize)]
struct Concept {
    #[serde(default)]
    coding: Vec<Coding>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Component {
    code: Option<Concept>,
    #[serde(rename = "valueQuantity")]
    value_quantity: Option<Quantity>,
}

#[derive(Deserialize)]
struct Reading {
    code: Option<Concept>,
    #[serde(rename = "valueQuantity")]
    value_quantity: Option<Quantity>,
    #[serde(default)]
    component: Vec<Component>,
}

fn has(c: Option<&Concept>, code: &str) -> bool {
    c.is_some_and(|c| c.coding.iter().any(|x| x.code.as_deref() == Some(code)))
}

/// Collects readings of one data type into series.
pub struct Collector {
    dt: &'static DataType,
    series: Vec<Series>,
}

impl Collector {
    pub fn new(dt: &'static DataType) -> Self {
        let series = if dt.key == "blood-pressure" {
            vec![
                Series {
                    label: "Systolic".into(),
                    points: vec![],
                },
                Series {
                    label: "Diastolic".into(),
                    points: vec![],
                },
            ]
        } else {
            vec![]
        };
        Collector { dt, series }
    }

    fn canonical(&self, q: &Quantity, substance: Option<Substance>) -> Option<f64> {
        let spec = self.dt.unit?;
        let v = q.value?;
        let unit = q.code.as_deref().or(q.unit.as_deref()).unwrap_or(spec.canonical);
        match (spec.dimension, substance) {
            (Dimension::Concentration(_), Some(s)) => convert_substance(v, unit, spec.canonical, s),
            _ => spec.convert(v, unit, spec.canonical),
        }
        .filter(|v| v.is_finite())
    }

    fn push(&mut self, label: &str, t: Timestamp, v: f64) {
        match self.series.iter_mut().find(|s| s.label == label) {
            Some(s) => s.points.push((t, v)),
            None => self.series.push(Series {
                label: label.to_string(),
                points: vec![(t, v)],
            }),
        }
    }

    /// Adds the readings of one item (its body) effective at `t`; readings in units that do not
    /// convert to the canonical one are left out.
    pub fn add(&mut self, t: Timestamp, body: &str) {
        let Ok(r) = serde_json::from_str::<Reading>(body) else {
            return;
        };
        if self.dt.key == "blood-pressure" {
            for (code, label) in [(BP_SYSTOLIC, "Systolic"), (BP_DIASTOLIC, "Diastolic")] {
                let v = r
                    .component
                    .iter()
                    .find(|c| has(c.code.as_ref(), code))
                    .and_then(|c| c.value_quantity.as_ref())
                    .and_then(|q| {
                        // A component without a unit is read as mmHg, as the data type's rules do.
                        let q = Quantity {
                            value: q.value,
                            code: q
                                .code
                                .clone()
                                .or_else(|| q.unit.clone())
                                .or_else(|| Some("mm[Hg]".into())),
                            unit: None,
                        };
                        self.canonical(&q, None)
                    });
                if let Some(v) = v {
                    self.push(label, t, v);
                }
            }
            return;
        }
        let Some(q) = &r.value_quantity else {
            return;
        };
        let (label, substance) = if self.dt.key == "lipid-panel" {
            let code = r
                .code
                .as_ref()
                .and_then(|c| c.coding.iter().find_map(|x| x.code.clone()))
                .unwrap_or_default();
            let name = r
                .code
                .as_ref()
                .and_then(|c| {
                    c.text
                        .clone()
                        .or_else(|| c.coding.iter().find_map(|x| x.display.clone()))
                })
                .unwrap_or_else(|| code.clone());
            (name, Some(Substance::for_lipid_code(&code)))
        } else {
            let s = match self.dt.unit.map(|u| u.dimension) {
                Some(Dimension::Concentration(s)) => Some(s),
                _ => None,
            };
            (self.dt.name.to_string(), s)
        };
        if let Some(v) = self.canonical(q, substance) {
            self.push(&label, t, v);
        }
    }

    pub fn finish(self) -> Vec<Series> {
        self.series
    }
}

/// The normal ranges shaded on a data type's chart (in its canonical unit).
pub fn bands(key: &str) -> Vec<Band> {
    let b = |low: f64, high: f64, label: &str| Band {
        low,
        high,
        label: label.to_string(),
    };
    match key {
        "blood-pressure" => vec![
            b(90.0, 120.0, "normal systolic 90–120 mmHg"),
            b(60.0, 80.0, "normal diastolic 60–80 mmHg"),
        ],
        "blood-glucose" => vec![b(3.9, 5.5, "normal fasting glucose 3.9–5.5 mmol/L")],
        "heart-rate" => vec![b(60.0, 100.0, "normal resting heart rate 60–100 /min")],
        "bmi" => vec![b(18.5, 25.0, "healthy BMI 18.5–25")],
        "blood-oxygen" => vec![b(95.0, 100.0, "normal oxygen saturation 95–100 %")],
        "body-temperature" => vec![b(36.1, 37.2, "normal temperature 36.1–37.2 °C")],
        _ => vec![],
    }
}

/// The unit a data type's chart is drawn in, for people.
pub fn unit_label(code: &str) -> &str {
    match code {
        "mm[Hg]" => "mmHg",
        "Cel" => "°C",
        "kg/m2" => "kg/m²",
        "{steps}" => "steps",
        "min" => "minutes",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_domain::datatypes::registry;

    #[test]
    fn readings_are_converted_and_split_into_series() {
        let weight = registry().get("weight").unwrap();
        let mut c = Collector::new(weight);
        c.add(
            Timestamp(1),
            r#"{"valueQuantity":{"value":165,"code":"[lb_av]"}}"#,
        );
        c.add(Timestamp(2), r#"{"valueQuantity":{"value":70.5,"code":"kg"}}"#);
        c.add(Timestamp(3), r#"{"valueQuantity":{"value":70,"code":"cm"}}"#);
        let s = c.finish();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].points.len(), 2);
        assert!((s[0].points[0].1 - 74.84).abs() < 0.01);

        let bp = registry().get("blood-pressure").unwrap();
        let mut c = Collector::new(bp);
        c.add(
            Timestamp(1),
            r#"{"component":[{"code":{"coding":[{"code":"8480-6"}]},"valueQuantity":{"value":16,"code":"kPa"}},
                {"code":{"coding":[{"code":"8462-4"}]},"valueQuantity":{"value":80}}]}"#,
        );
        let s = c.finish();
        assert!((s[0].points[0].1 - 120.0).abs() < 0.1 && (s[1].points[0].1 - 80.0).abs() < 1e-9);
        assert_eq!(bands("blood-pressure").len(), 2);
    }
}
