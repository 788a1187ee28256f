//! Values of one search parameter in one resource, for callers that index,
//! sort or follow references: [`extract_values`] (normalised values, with
//! errors for malformed JSON), [`reference_targets`] (for `_include` /
//! `_revinclude`, <https://hl7.org/fhir/R4/search.html#include>),
//! [`sort_key`] (for `_sort`, <https://hl7.org/fhir/R4/search.html#sort>),
//! [`date_bounds`] and [`in_patient_compartment`]
//! (<https://hl7.org/fhir/R4/compartmentdefinition-patient.html>).

use std::cmp::Ordering;

use serde_json::Value;

use crate::search::compile::VKind;
use crate::search::datetime::{Range, parse_range};
use crate::search::decimal::Dec;
use crate::search::eval::{Item, RefStr, for_each_item, parse_reference};
use crate::search::matching::{
    date_target, for_each_string, for_each_token, local_target, number_target, quantity_target,
};
use crate::search::registry::{ParamType, SearchParamDef, registry};
use crate::search::text::fold;

/// One value of a search parameter in a resource, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexValue {
    /// `[start, end)` in Unix microseconds (implicit precision applied);
    /// `i64::MIN` / `i64::MAX` for open ends.
    Date {
        start: i64,
        end: i64,
    },
    /// Decimal text of the bounds (equal for a single number; None = open).
    Number {
        low: Option<String>,
        high: Option<String>,
    },
    Quantity {
        low: Option<String>,
        high: Option<String>,
        system: Option<String>,
        code: Option<String>,
        unit: Option<String>,
    },
    /// `code` is None for e.g. an Identifier without a value.
    Token {
        system: Option<String>,
        code: Option<String>,
    },
    String(String),
    /// `ty`/`id` when the reference is local (or absolute ending in `Type/id`);
    /// `url` is the literal reference / canonical.
    Reference {
        ty: Option<String>,
        id: Option<String>,
        url: Option<String>,
    },
    Uri(String),
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

fn num_text(v: Option<&Value>) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.as_str().to_owned())),
        Some(other) => Err(format!("{other} is not a number")),
    }
}

fn check_date(v: Option<&Value>) -> Result<(), String> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if parse_range(s).is_some() => Ok(()),
        Some(other) => Err(format!("{other} is not a valid date/time")),
    }
}

/// The values of `def` in `resource`. Errors name malformed JSON (a date that
/// does not parse, a Coding that is not an object…); items of an element type
/// the parameter type cannot match (see
/// [`SearchParamDef::unmatched_branches`]) are skipped.
pub fn extract_values(resource: &Value, def: &SearchParamDef) -> Result<Vec<IndexValue>, String> {
    let plan = def.plan.as_ref().map_err(|e| e.to_string())?;
    let pt = def.param_type();
    let mut out = Vec::new();
    let mut error: Option<String> = None;
    for_each_item(plan, resource, &mut |item| {
        if let Err(e) = extract_item(pt, item, &mut out) {
            error = Some(match item {
                Item::Json(_, b) => format!("{} ({}): {e}", def.code(), b.type_name),
                Item::Bool(_) => format!("{}: {e}", def.code()),
            });
            return true;
        }
        false
    });
    match error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn extract_item(pt: ParamType, item: Item<'_>, out: &mut Vec<IndexValue>) -> Result<(), String> {
    let (v, kind) = match item {
        Item::Json(v, b) => (v, b.kind),
        Item::Bool(b) => {
            out.push(IndexValue::Token {
                system: None,
                code: Some(b.to_string()),
            });
            return Ok(());
        }
    };
    if !pt.accepts(kind) {
        return Ok(());
    }
    let is_object = matches!(
        kind,
        VKind::Coding
            | VKind::CodeableConcept
            | VKind::Identifier
            | VKind::ContactPoint
            | VKind::Reference
            | VKind::Quantity
            | VKind::Money
            | VKind::Range
            | VKind::Period
            | VKind::Timing
            | VKind::HumanName
            | VKind::Address
            | VKind::Resource
    );
    if is_object && !v.is_object() {
        return Err(format!("{v} is not an object"));
    }
    let is_string = matches!(
        kind,
        VKind::Str | VKind::Code | VKind::Id | VKind::Uri | VKind::Canonical | VKind::DateTime
    );
    if is_string && !v.is_string() {
        return Err(format!("{v} is not a string"));
    }
    match pt {
        ParamType::Date => {
            match kind {
                VKind::DateTime => check_date(Some(v))?,
                VKind::Period => {
                    check_date(v.get("start"))?;
                    check_date(v.get("end"))?;
                }
                _ => {
                    for e in v.get("event").and_then(Value::as_array).into_iter().flatten() {
                        check_date(Some(e))?;
                    }
                }
            }
            if let Some(r) = date_target(item) {
                out.push(IndexValue::Date {
                    start: r.lo,
                    end: r.hi,
                });
            }
        }
        ParamType::Number => match kind {
            VKind::Range => {
                let low = num_text(v.get("low").and_then(|q| q.get("value")))?;
                let high = num_text(v.get("high").and_then(|q| q.get("value")))?;
                if low.is_some() || high.is_some() {
                    out.push(IndexValue::Number { low, high });
                }
            }
            _ => {
                let n = num_text(Some(v))?;
                out.push(IndexValue::Number {
                    low: n.clone(),
                    high: n,
                });
            }
        },
        ParamType::Quantity => {
            let (low, high) = match kind {
                VKind::Range => (
                    num_text(v.get("low").and_then(|q| q.get("value")))?,
                    num_text(v.get("high").and_then(|q| q.get("value")))?,
                ),
                _ => {
                    let n = num_text(v.get("value"))?;
                    match v.get("comparator").and_then(Value::as_str) {
                        Some("<" | "<=") => (None, n),
                        Some(">" | ">=") => (n, None),
                        _ => (n.clone(), n),
                    }
                }
            };
            if let Some(q) = quantity_target(item) {
                out.push(IndexValue::Quantity {
                    low,
                    high,
                    system: owned(q.system),
                    code: owned(q.code),
                    unit: owned(q.unit),
                });
            }
        }
        ParamType::Token => {
            if kind == VKind::CodeableConcept
                && let Some(c) = v.get("coding")
                && !c.as_array().is_some_and(|a| a.iter().all(Value::is_object))
            {
                return Err(format!("coding {c} is not an array of objects"));
            }
            if kind == VKind::Boolean && !v.is_boolean() {
                return Err(format!("{v} is not a boolean"));
            }
            for_each_token(item, &mut |system, code| {
                out.push(IndexValue::Token {
                    system: owned(system),
                    code: owned(code),
                });
                false
            });
        }
        ParamType::String => {
            for_each_string(v, kind, &mut |s| {
                out.push(IndexValue::String(s.to_owned()));
                false
            });
        }
        ParamType::Reference => {
            let local = local_target(v, kind);
            let url = match kind {
                VKind::Reference => v.get("reference").and_then(Value::as_str),
                VKind::Canonical | VKind::Uri => v.as_str(),
                _ => None,
            };
            out.push(IndexValue::Reference {
                ty: owned(local.map(|l| l.0)),
                id: owned(local.map(|l| l.1)),
                url: owned(url),
            });
        }
        ParamType::Uri => out.push(IndexValue::Uri(v.as_str().unwrap_or_default().to_owned())),
        ParamType::Composite | ParamType::Special => {}
    }
    Ok(())
}

/// The resources a reference parameter points at in `resource`: `(type, id)`
/// from local references, absolute URLs ending in `Type/id` and inline
/// resources; a bare id gets the parameter's type when it has a single target
/// (else None). Contained (`#id`), `urn:` and conditional references and
/// canonical URLs (resolved by URL, not id) are left out. Deduplicated, in
/// document order.
pub fn reference_targets(resource: &Value, def: &SearchParamDef) -> Vec<(Option<String>, String)> {
    let mut out: Vec<(Option<String>, String)> = Vec::new();
    let Ok(plan) = &def.plan else { return out };
    if def.param_type() != ParamType::Reference {
        return out;
    }
    for_each_item(plan, resource, &mut |item| {
        let Item::Json(v, b) = item else { return false };
        let found = match b.kind {
            VKind::Reference | VKind::Resource => match local_target(v, b.kind) {
                Some((t, i)) => Some((Some(t.to_owned()), i.to_owned())),
                None => v
                    .get("reference")
                    .and_then(Value::as_str)
                    .filter(|s| matches!(parse_reference(s), RefStr::Other) && is_bare_id(s))
                    .map(|id| (def.single_target().map(str::to_owned), id.to_owned())),
            },
            _ => None,
        };
        if let Some(f) = found
            && !out.contains(&f)
        {
            out.push(f);
        }
        false
    });
    out
}

fn is_bare_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Whether `resource` is in the compartment of `Patient/patient_id`: the
/// patient itself, or a resource whose Patient-compartment parameters (see
/// [`super::patient_compartment_params`]) reference it.
pub fn in_patient_compartment(resource: &Value, patient_id: &str) -> bool {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return false;
    };
    if ty == "Patient" && resource.get("id").and_then(Value::as_str) == Some(patient_id) {
        return true;
    }
    registry().compartment(ty).iter().any(|def| {
        reference_targets(resource, def)
            .iter()
            .any(|(t, i)| t.as_deref() == Some("Patient") && i == patient_id)
    })
}

/// The union of the date ranges of `def` in `resource` as `[start, end)` Unix
/// microseconds (open ends are `i64::MIN` / `i64::MAX`); None without dates.
/// Suitable for a range index consistent with the [`super::IndexHints`] dates.
pub fn date_bounds(resource: &Value, def: &SearchParamDef) -> Option<(i64, i64)> {
    let plan = def.plan.as_ref().ok()?;
    if def.param_type() != ParamType::Date {
        return None;
    }
    let mut out: Option<Range> = None;
    for_each_item(plan, resource, &mut |item| {
        if let Some(r) = date_target(item) {
            out = Some(out.map_or(r, |o| o.union(r)));
        }
        false
    });
    out.map(|r| (r.lo, r.hi))
}

/// A sort key for `_sort`; compare keys with `Ord` (reverse the order for
/// descending sorts). Keys of different kinds never meet for one parameter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortValue(SortInner);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortInner {
    Number(Dec),
    Date(i64),
    Text(String),
}

/// The sort key of `resource` for `def`: for ascending sorts the lowest value
/// (dates by their start), for descending sorts the highest (dates by their
/// end), per <https://hl7.org/fhir/R4/search.html#sort>. Strings sort folded
/// (case/accent-insensitive), tokens by code, references by their literal
/// reference, numbers and quantities by value. None when the resource has no
/// value.
pub fn sort_key(resource: &Value, def: &SearchParamDef, descending: bool) -> Option<SortValue> {
    let plan = def.plan.as_ref().ok()?;
    let pt = def.param_type();
    let mut best: Option<SortInner> = None;
    let mut offer = |k: SortInner| {
        let better = match &best {
            None => true,
            Some(b) => {
                let o = k.cmp(b);
                if descending {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            }
        };
        if better {
            best = Some(k);
        }
    };
    for_each_item(plan, resource, &mut |item| {
        match pt {
            ParamType::Date => {
                if let Some(r) = date_target(item) {
                    offer(SortInner::Date(if descending { r.hi } else { r.lo }));
                }
            }
            ParamType::Number => {
                if let Some(n) = number_target(item)
                    && let Some(d) = if descending { n.hi.or(n.lo) } else { n.lo.or(n.hi) }
                {
                    offer(SortInner::Number(d));
                }
            }
            ParamType::Quantity => {
                if let Some(q) = quantity_target(item)
                    && let Some(d) = if descending {
                        q.num.hi.or(q.num.lo)
                    } else {
                        q.num.lo.or(q.num.hi)
                    }
                {
                    offer(SortInner::Number(d));
                }
            }
            ParamType::Token => {
                for_each_token(item, &mut |_, code| {
                    if let Some(c) = code {
                        offer(SortInner::Text(c.to_owned()));
                    }
                    false
                });
            }
            ParamType::String => {
                if let Item::Json(v, b) = item {
                    for_each_string(v, b.kind, &mut |s| {
                        offer(SortInner::Text(fold(s)));
                        false
                    });
                }
            }
            ParamType::Reference | ParamType::Uri => {
                if let Item::Json(v, b) = item {
                    let s = match b.kind {
                        VKind::Reference => v.get("reference").and_then(Value::as_str),
                        _ => v.as_str(),
                    };
                    if let Some(s) = s {
                        offer(SortInner::Text(s.to_owned()));
                    }
                }
            }
            ParamType::Composite | ParamType::Special => {}
        }
        false
    });
    best.map(SortValue)
}
