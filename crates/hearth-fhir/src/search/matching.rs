//! Matching a resource against parsed [`Criteria`], with the semantics of
//! <https://hl7.org/fhir/R4/search.html> for each parameter type:
//!
//! * **date** (§3.1.1.4.2/prefix table): the search value and each resource
//!   value are ranges (implicit precision; Period with open ends unbounded;
//!   Timing = from its earliest event / bounds start to its latest event /
//!   bounds end). `eq`: the search range contains the target; `ne`: it does
//!   not; `gt` / `lt`: the target overlaps the range above / below the search
//!   range; `ge` / `le`: that, or `eq`; `sa` / `eb`: the target lies entirely
//!   after / before the search range; `ap`: the target overlaps the search
//!   range widened by 10% of the distance between `now` and the search value
//!   (at least one day) on each side.
//! * **number** / **quantity** (§3.1.1.4.1/.4.4): `eq` / `ne` use the implicit
//!   precision range of the search value (`100` = [99.5, 100.5)); the other
//!   prefixes compare with the exact value; `ap` = within 10% (at least the
//!   implicit precision). Targets are points, or intervals for Range and for
//!   quantities with a comparator (`<5` = (-∞, 5]). Quantities match by
//!   `system|code`, or by code or unit text for `||code`; no unit conversion.
//! * **token**: Coding, CodeableConcept (any coding), Identifier
//!   (system|value), ContactPoint (system|value), code (the implicit system
//!   of a required binding counts for `system|code`), boolean, string, uri,
//!   id. `:text` = case/accent-insensitive prefix of any word of
//!   CodeableConcept.text, Coding.display or Identifier.type (text and coding
//!   displays); `:not` = no value matches (resources without the element match).
//! * **string**: case/accent-insensitive starts-with (see [`super::text`]);
//!   `:exact` whole-string equality; `:contains` substring. HumanName and
//!   Address match on each of their parts.
//! * **reference**: `Type/id` (bare ids take the type from the parameter's
//!   targets / `:[type]`), absolute URLs ending in `Type/id` count as that
//!   local reference; absolute / canonical search values match the same URL
//!   (a canonical's `|version` is optional in the search value);
//!   `:identifier` matches Reference.identifier.
//! * **uri**: exact, `:below` (the resource value starts with the search
//!   value), `:above` (the search value starts with the resource value).

use serde_json::Value;

use crate::model::model;
use crate::search::compile::{Branch, VKind};
use crate::search::datetime::{Range, parse_range};
use crate::search::decimal::Dec;
use crate::search::eval::{Item, RefStr, for_each_item, parse_reference};
use crate::search::query::{Criteria, Filter, Modifier, Prefix, Test, TokSys, Val};
use crate::search::registry::{ParamType, SearchParamDef};
use crate::search::text::{contains_folded, starts_with_folded};

impl Criteria {
    /// Whether `resource` (as served, with `id` and `meta`) satisfies every filter.
    pub fn matches(&self, resource: &Value) -> bool {
        resource.get("resourceType").and_then(Value::as_str) == Some(self.resource_type.as_str())
            && self.filters.iter().all(|f| f.matches(resource))
    }
}

impl Filter {
    /// Whether `resource` satisfies this filter (any of its OR values).
    pub fn matches(&self, resource: &Value) -> bool {
        let Ok(plan) = &self.param.plan else {
            return false;
        };
        match &self.test {
            Test::Missing(missing) => for_each_item(plan, resource, &mut |_| true) != *missing,
            Test::Any { negate, values } => {
                let m = self.modifier.as_ref();
                let hit = for_each_item(plan, resource, &mut |item| {
                    item_matches(self.param, m, values, item)
                });
                hit != *negate
            }
        }
    }
}

fn item_matches(def: &SearchParamDef, modifier: Option<&Modifier>, values: &[Val], item: Item<'_>) -> bool {
    match def.param_type() {
        ParamType::Date => date_target(item).is_some_and(|t| {
            values.iter().any(|v| match v {
                Val::Date { prefix, range } => date_match(*prefix, *range, t),
                _ => false,
            })
        }),
        ParamType::Number => number_target(item).is_some_and(|t| {
            values.iter().any(|v| match v {
                Val::Number {
                    prefix,
                    value,
                    lo,
                    hi,
                } => num_match(*prefix, *value, *lo, *hi, t),
                _ => false,
            })
        }),
        ParamType::Quantity => quantity_target(item).is_some_and(|q| {
            values.iter().any(|v| match v {
                Val::Quantity {
                    prefix,
                    value,
                    lo,
                    hi,
                    system,
                    code,
                } => {
                    units_match(system.as_deref(), code.as_deref(), &q)
                        && num_match(*prefix, *value, *lo, *hi, q.num)
                }
                _ => false,
            })
        }),
        ParamType::Token => token_matches(modifier, values, item),
        ParamType::String => match item {
            Item::Json(v, b) => for_each_string(v, b.kind, &mut |s| {
                values.iter().any(|val| match val {
                    Val::Str(q) => match modifier {
                        Some(Modifier::Exact) => s == q,
                        Some(Modifier::Contains) => contains_folded(s, q),
                        _ => starts_with_folded(s, q),
                    },
                    _ => false,
                })
            }),
            Item::Bool(_) => false,
        },
        ParamType::Reference => match item {
            Item::Json(v, b) => reference_matches(def, values, v, b),
            Item::Bool(_) => false,
        },
        ParamType::Uri => match item {
            Item::Json(v, b)
                if matches!(
                    b.kind,
                    VKind::Uri | VKind::Canonical | VKind::Str | VKind::Id | VKind::Code
                ) =>
            {
                let Some(s) = v.as_str() else { return false };
                values.iter().any(|val| match val {
                    Val::Uri(q) => match modifier {
                        Some(Modifier::Below) => s.starts_with(q.as_str()),
                        Some(Modifier::Above) => !s.is_empty() && q.starts_with(s),
                        _ => canonical_eq(s, q),
                    },
                    _ => false,
                })
            }
            _ => false,
        },
        ParamType::Composite | ParamType::Special => false,
    }
}

// ---------------------------------------------------------------- dates

/// The range of a date-like item (None when it has no usable value).
pub(crate) fn date_target(item: Item<'_>) -> Option<Range> {
    let Item::Json(v, b) = item else { return None };
    match b.kind {
        VKind::DateTime => parse_range(v.as_str()?),
        VKind::Period => period_range(v),
        VKind::Timing => {
            let mut out: Option<Range> = None;
            let mut add = |r: Range| out = Some(out.map_or(r, |o| o.union(r)));
            for e in v.get("event").and_then(Value::as_array).into_iter().flatten() {
                if let Some(r) = e.as_str().and_then(parse_range) {
                    add(r);
                }
            }
            if let Some(r) = v
                .get("repeat")
                .and_then(|r| r.get("boundsPeriod"))
                .and_then(period_range)
            {
                add(r);
            }
            out
        }
        _ => None,
    }
}

fn period_range(v: &Value) -> Option<Range> {
    let start = v.get("start").and_then(Value::as_str);
    let end = v.get("end").and_then(Value::as_str);
    if start.is_none() && end.is_none() {
        return None;
    }
    let lo = match start {
        Some(s) => parse_range(s)?.lo,
        None => i64::MIN,
    };
    let hi = match end {
        Some(s) => parse_range(s)?.hi,
        None => i64::MAX,
    };
    Some(Range { lo, hi })
}

pub(crate) fn date_match(prefix: Prefix, s: Range, t: Range) -> bool {
    match prefix {
        Prefix::Eq => s.contains(t),
        Prefix::Ne => !s.contains(t),
        Prefix::Gt => t.hi > s.hi,
        Prefix::Lt => t.lo < s.lo,
        Prefix::Ge => t.hi > s.hi || s.contains(t),
        Prefix::Le => t.lo < s.lo || s.contains(t),
        Prefix::Sa => t.lo >= s.hi,
        Prefix::Eb => t.hi <= s.lo,
        Prefix::Ap => s.overlaps(t),
    }
}

// ---------------------------------------------------------------- numbers

/// A numeric target: a point (`lo == hi`) or an interval; None = unbounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NumT {
    pub lo: Option<Dec>,
    pub hi: Option<Dec>,
}

pub(crate) fn dec_of(v: &Value) -> Option<Dec> {
    match v {
        Value::Number(n) => Dec::parse(n.as_str()),
        _ => None,
    }
}

pub(crate) fn number_target(item: Item<'_>) -> Option<NumT> {
    let Item::Json(v, b) = item else { return None };
    match b.kind {
        VKind::Number => dec_of(v).map(|d| NumT {
            lo: Some(d),
            hi: Some(d),
        }),
        VKind::Range => {
            let lo = v.get("low").and_then(|q| q.get("value")).and_then(dec_of);
            let hi = v.get("high").and_then(|q| q.get("value")).and_then(dec_of);
            (lo.is_some() || hi.is_some()).then_some(NumT { lo, hi })
        }
        _ => None,
    }
}

pub(crate) fn num_match(prefix: Prefix, value: Dec, lo: Dec, hi: Dec, t: NumT) -> bool {
    match prefix {
        Prefix::Eq => t.lo.is_some_and(|l| l >= lo) && t.hi.is_some_and(|h| h < hi),
        Prefix::Ne => !(t.lo.is_some_and(|l| l >= lo) && t.hi.is_some_and(|h| h < hi)),
        Prefix::Gt => t.hi.is_none_or(|h| h > value),
        Prefix::Lt => t.lo.is_none_or(|l| l < value),
        Prefix::Ge => t.hi.is_none_or(|h| h >= value),
        Prefix::Le => t.lo.is_none_or(|l| l <= value),
        Prefix::Sa => t.lo.is_some_and(|l| l > value),
        Prefix::Eb => t.hi.is_some_and(|h| h < value),
        Prefix::Ap => t.lo.is_none_or(|l| l <= hi) && t.hi.is_none_or(|h| h >= lo),
    }
}

pub(crate) struct QtyT<'a> {
    pub num: NumT,
    pub system: Option<&'a str>,
    pub code: Option<&'a str>,
    pub unit: Option<&'a str>,
}

const ISO_4217: &str = "urn:iso:std:iso:4217";

pub(crate) fn quantity_target(item: Item<'_>) -> Option<QtyT<'_>> {
    let Item::Json(v, b) = item else { return None };
    match b.kind {
        VKind::Quantity => {
            let d = dec_of(v.get("value")?)?;
            let num = match str_of(v, "comparator") {
                Some("<" | "<=") => NumT {
                    lo: None,
                    hi: Some(d),
                },
                Some(">" | ">=") => NumT {
                    lo: Some(d),
                    hi: None,
                },
                _ => NumT {
                    lo: Some(d),
                    hi: Some(d),
                },
            };
            Some(QtyT {
                num,
                system: str_of(v, "system"),
                code: str_of(v, "code"),
                unit: str_of(v, "unit"),
            })
        }
        VKind::Money => {
            let d = dec_of(v.get("value")?)?;
            Some(QtyT {
                num: NumT {
                    lo: Some(d),
                    hi: Some(d),
                },
                system: Some(ISO_4217),
                code: str_of(v, "currency"),
                unit: str_of(v, "currency"),
            })
        }
        VKind::Range => {
            let low = v.get("low");
            let high = v.get("high");
            let lo = low.and_then(|q| q.get("value")).and_then(dec_of);
            let hi = high.and_then(|q| q.get("value")).and_then(dec_of);
            if lo.is_none() && hi.is_none() {
                return None;
            }
            let units = if lo.is_some() { low } else { high }?;
            Some(QtyT {
                num: NumT { lo, hi },
                system: str_of(units, "system"),
                code: str_of(units, "code"),
                unit: str_of(units, "unit"),
            })
        }
        _ => None,
    }
}

fn units_match(system: Option<&str>, code: Option<&str>, q: &QtyT<'_>) -> bool {
    match (system, code) {
        (None, None) => true,
        (Some(s), Some(c)) => q.system == Some(s) && q.code == Some(c),
        (None, Some(c)) => q.code == Some(c) || q.unit == Some(c),
        (Some(_), None) => false,
    }
}

// ---------------------------------------------------------------- tokens

/// Calls `f(system, code)` for each coded value of a token item until it returns true.
pub(crate) fn for_each_token(item: Item<'_>, f: &mut dyn FnMut(Option<&str>, Option<&str>) -> bool) -> bool {
    let (v, b) = match item {
        Item::Bool(x) => return f(None, Some(if x { "true" } else { "false" })),
        Item::Json(v, b) => (v, b),
    };
    match b.kind {
        VKind::Coding => f(str_of(v, "system"), str_of(v, "code")),
        VKind::CodeableConcept => v
            .get("coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| f(str_of(c, "system"), str_of(c, "code"))),
        VKind::Identifier => f(str_of(v, "system"), str_of(v, "value")),
        VKind::ContactPoint => f(str_of(v, "system"), str_of(v, "value")),
        VKind::Boolean => match v.as_bool() {
            Some(x) => f(None, Some(if x { "true" } else { "false" })),
            None => false,
        },
        VKind::Code | VKind::Str | VKind::Uri | VKind::Id | VKind::Canonical => match v.as_str() {
            Some(x) => f(None, Some(x)),
            None => false,
        },
        _ => false,
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Whether a required binding's value set has `code` in `system`.
fn implicit_system(binding: Option<u32>, system: &str, code: &str) -> bool {
    binding.is_some_and(|b| {
        model().value_sets[b as usize]
            .system(system)
            .is_some_and(|codes| codes.contains(code))
    })
}

pub(crate) fn token_eq(
    want_system: &TokSys,
    want_code: Option<&str>,
    system: Option<&str>,
    code: Option<&str>,
    binding: Option<u32>,
) -> bool {
    if let Some(wc) = want_code
        && code != Some(wc)
    {
        return false;
    }
    match want_system {
        TokSys::Any => true,
        TokSys::None => system.is_none(),
        TokSys::Is(s) => {
            system == Some(s.as_str())
                || (system.is_none() && code.is_some_and(|c| implicit_system(binding, s, c)))
        }
    }
}

/// Case/accent-insensitive prefix match of `q` at the start of any word of `s`.
fn word_prefix(s: &str, q: &str) -> bool {
    let mut prev_alnum = false;
    for (i, c) in s.char_indices() {
        let alnum = c.is_alphanumeric();
        if alnum && !prev_alnum && starts_with_folded(&s[i..], q) {
            return true;
        }
        prev_alnum = alnum;
    }
    false
}

fn token_text(v: &Value, kind: VKind, q: &str) -> bool {
    let display_of = |c: &Value| str_of(c, "display").is_some_and(|d| word_prefix(d, q));
    let concept = |cc: &Value| {
        str_of(cc, "text").is_some_and(|t| word_prefix(t, q))
            || cc
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(display_of)
    };
    match kind {
        VKind::Coding => display_of(v),
        VKind::CodeableConcept => concept(v),
        VKind::Identifier => v.get("type").is_some_and(concept),
        _ => false,
    }
}

fn token_matches(modifier: Option<&Modifier>, values: &[Val], item: Item<'_>) -> bool {
    match modifier {
        Some(Modifier::Text) => {
            let Item::Json(v, b) = item else { return false };
            values
                .iter()
                .any(|val| matches!(val, Val::Text(q) if token_text(v, b.kind, q)))
        }
        Some(Modifier::OfType) => {
            let Item::Json(v, b) = item else { return false };
            if b.kind != VKind::Identifier {
                return false;
            }
            values.iter().any(|val| match val {
                Val::OfType { system, code, value } => {
                    str_of(v, "value") == Some(value.as_str())
                        && v.get("type")
                            .and_then(|t| t.get("coding"))
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .any(|c| {
                                str_of(c, "system") == Some(system.as_str())
                                    && str_of(c, "code") == Some(code.as_str())
                            })
                }
                _ => false,
            })
        }
        _ => {
            let binding = match item {
                Item::Json(_, b) => b.binding,
                Item::Bool(_) => None,
            };
            for_each_token(item, &mut |system, code| {
                values.iter().any(|val| match val {
                    Val::Token { system: ws, code: wc } => token_eq(ws, wc.as_deref(), system, code, binding),
                    _ => false,
                })
            })
        }
    }
}

// ---------------------------------------------------------------- strings

/// Calls `f` with each searchable string of a string item until it returns true.
pub(crate) fn for_each_string(v: &Value, kind: VKind, f: &mut dyn FnMut(&str) -> bool) -> bool {
    let parts: &[&str] = match kind {
        VKind::Str | VKind::Code | VKind::Id | VKind::Uri => return v.as_str().is_some_and(f),
        VKind::HumanName => &["family", "given", "prefix", "suffix", "text"],
        VKind::Address => &[
            "line",
            "city",
            "district",
            "state",
            "postalCode",
            "country",
            "text",
        ],
        _ => return false,
    };
    for k in parts {
        let hit = match v.get(*k) {
            Some(Value::String(s)) => f(s),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(&mut *f),
            _ => false,
        };
        if hit {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------- references and uris

/// `stored` equals `query`, ignoring a `|version` on `stored` when `query` has none.
pub(crate) fn canonical_eq(stored: &str, query: &str) -> bool {
    stored == query || (!query.contains('|') && stored.split_once('|').is_some_and(|(u, _)| u == query))
}

/// The local (type, id) a reference-like item points at, if any.
pub(crate) fn local_target(v: &Value, kind: VKind) -> Option<(&str, &str)> {
    let s = match kind {
        VKind::Reference => str_of(v, "reference")?,
        // A canonical's `|version` is not part of its path.
        VKind::Canonical | VKind::Uri => v.as_str()?.split('|').next()?,
        VKind::Resource => return Some((str_of(v, "resourceType")?, str_of(v, "id")?)),
        _ => return None,
    };
    match parse_reference(s) {
        RefStr::Local { ty, id } => Some((ty, id)),
        RefStr::Absolute { tail, .. } => tail,
        _ => None,
    }
}

fn reference_matches(def: &SearchParamDef, values: &[Val], v: &Value, b: &Branch) -> bool {
    let local = local_target(v, b.kind);
    let url = match b.kind {
        VKind::Reference => str_of(v, "reference"),
        VKind::Canonical | VKind::Uri => v.as_str(),
        _ => None,
    };
    values.iter().any(|val| match val {
        Val::RefLocal { ty, id } => local.is_some_and(|(t, i)| {
            i == id
                && match ty {
                    Some(ty) => t == ty,
                    None => def.has_target(t),
                }
        }),
        Val::RefUrl(u) => url.is_some_and(|s| canonical_eq(s, u)),
        Val::Token { system, code } if b.kind == VKind::Reference => {
            v.get("identifier").is_some_and(|ident| {
                token_eq(
                    system,
                    code.as_deref(),
                    str_of(ident, "system"),
                    str_of(ident, "value"),
                    None,
                )
            })
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        parse_range(s).unwrap()
    }

    #[test]
    fn date_prefix_semantics_follow_the_spec_table() {
        use Prefix::*;
        // eq2013-01-14
        assert!(date_match(Eq, r("2013-01-14"), r("2013-01-14T00:00:00Z")));
        assert!(date_match(Eq, r("2013-01-14"), r("2013-01-14T10:00:00Z")));
        assert!(!date_match(Eq, r("2013-01-14"), r("2013-01-15T00:00:00Z")));
        // ne2013-01-14
        assert!(date_match(Ne, r("2013-01-14"), r("2013-01-15T00:00:00Z")));
        assert!(!date_match(Ne, r("2013-01-14"), r("2013-01-14T00:00:00Z")));
        assert!(!date_match(Ne, r("2013-01-14"), r("2013-01-14T10:00:00Z")));
        // lt2013-01-14T10:00 / gt2013-01-14T10:00 against the whole day
        assert!(date_match(Lt, r("2013-01-14T10:00"), r("2013-01-14")));
        assert!(date_match(Gt, r("2013-01-14T10:00"), r("2013-01-14")));
        let from_jan21 = Range {
            lo: r("2013-01-21").lo,
            hi: i64::MAX,
        };
        assert!(date_match(Ge, r("2013-03-14"), from_jan21));
        assert!(date_match(Le, r("2013-03-14"), from_jan21));
        let from_mar15 = Range {
            lo: r("2013-03-15").lo,
            hi: i64::MAX,
        };
        assert!(date_match(Sa, r("2013-03-14"), from_mar15));
        assert!(!date_match(Sa, r("2013-03-14"), from_jan21));
        let until_jan21 = Range {
            lo: i64::MIN,
            hi: r("2013-01-21").hi,
        };
        assert!(!date_match(Sa, r("2013-03-14"), until_jan21));
        assert!(date_match(Eb, r("2013-03-14"), until_jan21));
        assert!(!date_match(Eb, r("2013-03-14"), from_jan21));
    }
}
