//! Parsing of search query parameters into [`Criteria`], following
//! <https://hl7.org/fhir/R4/search.html>: parameter names with modifiers
//! (§3.1.1.5.x), comma-separated OR values with `\` escapes (§3.1.1.4.13),
//! comparison prefixes (§3.1.1.4.1), the value syntax of each parameter type,
//! and the result parameters `_count`, `_sort`, `_summary`, `_elements`,
//! `_include`, `_revinclude` and `_total` (§3.1.1.5.x). Unknown or
//! unsupported input is an error under `Prefer: handling=strict` and ignored
//! (and listed in [`Criteria::ignored`]) under `handling=lenient`
//! (<https://hl7.org/fhir/R4/search.html#errors>).

use crate::model::model;
use crate::search::compile::VKind;
use crate::search::datetime::{DAY, Range, parse_range, system_time_micros};
use crate::search::decimal::Dec;
use crate::search::eval::{RefStr, parse_reference};
use crate::search::registry::{ParamType, SearchParamDef, registry, type_info};
use crate::search::text::fold;

pub use crate::search::criteria::{
    Criteria, Filter, Handling, Include, Modifier, ParseOptions, Prefix, SearchError, SearchErrorKind,
    SortSpec, Summary, Total,
};
pub(crate) use crate::search::criteria::{Test, TokSys, Val};

const UNSUPPORTED_NAMES: &[(&str, &str)] = &[
    ("_has", "reverse chaining (_has) is not supported"),
    ("_list", "_list is not supported"),
    ("_contained", "_contained is not supported"),
    ("_containedType", "_containedType is not supported"),
    ("_score", "_score is not supported"),
];

struct Ctx<'o> {
    ty: &'o str,
    opts: &'o ParseOptions<'o>,
    now: i64,
    errors: Vec<SearchError>,
    crit: Criteria,
}

fn err(param: &str, kind: SearchErrorKind, message: impl Into<String>) -> SearchError {
    SearchError {
        param: param.to_owned(),
        kind,
        message: message.into(),
    }
}

/// Parses decoded query pairs (in order) for a search on `resource_type`.
///
/// Under [`Handling::Strict`] every problem is returned (all of them, not just
/// the first); under [`Handling::Lenient`] the offending parameters are
/// dropped and named in [`Criteria::ignored`]. An unknown resource type is
/// always an error.
pub fn parse(
    resource_type: &str,
    pairs: &[(String, String)],
    opts: &ParseOptions<'_>,
) -> Result<Criteria, Vec<SearchError>> {
    if type_info(resource_type).is_none() {
        return Err(vec![err(
            "",
            SearchErrorKind::UnknownParameter,
            format!("{resource_type:?} is not a resource type"),
        )]);
    }
    let mut cx = Ctx {
        ty: resource_type,
        opts,
        now: system_time_micros(opts.now),
        errors: Vec::new(),
        crit: Criteria {
            resource_type: resource_type.to_owned(),
            filters: Vec::new(),
            count: None,
            sort: Vec::new(),
            summary: None,
            elements: None,
            include: Vec::new(),
            revinclude: Vec::new(),
            total: None,
            ignored: Vec::new(),
            passthrough: Vec::new(),
            applied: Vec::new(),
        },
    };
    for (name, value) in pairs {
        let base = name.split(':').next().unwrap_or_default();
        if opts.passthrough.iter().any(|p| *p == name || *p == base) {
            cx.crit.passthrough.push((name.clone(), value.clone()));
            continue;
        }
        if value.is_empty() {
            cx.crit.ignored.push(name.clone());
            continue;
        }
        match cx.one(name, value) {
            Ok(()) => cx.crit.applied.push((name.clone(), value.clone())),
            Err(e) => match opts.handling {
                Handling::Strict => cx.errors.push(e),
                Handling::Lenient => cx.crit.ignored.push(name.clone()),
            },
        }
    }
    if cx.errors.is_empty() {
        Ok(cx.crit)
    } else {
        Err(cx.errors)
    }
}

/// Splits on unescaped `sep`, keeping escapes (see [`unescape`]).
fn split_escaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

/// Removes the `\` of `\,` `\|` `\$` `\\`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ (',' | '|' | '$' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn prefix_of(s: &str) -> (Prefix, &str) {
    let p = match s.get(..2) {
        Some("eq") => Prefix::Eq,
        Some("ne") => Prefix::Ne,
        Some("gt") => Prefix::Gt,
        Some("lt") => Prefix::Lt,
        Some("ge") => Prefix::Ge,
        Some("le") => Prefix::Le,
        Some("sa") => Prefix::Sa,
        Some("eb") => Prefix::Eb,
        Some("ap") => Prefix::Ap,
        _ => return (Prefix::Eq, s),
    };
    (p, &s[2..])
}

fn is_resource_type(s: &str) -> bool {
    model().resource_type(s).is_some()
}

impl Ctx<'_> {
    fn one(&mut self, name: &str, value: &str) -> Result<(), SearchError> {
        let (base, modifier) = match name.split_once(':') {
            Some((b, m)) => (b, Some(m)),
            None => (name, None),
        };
        if let Some((_, msg)) = UNSUPPORTED_NAMES.iter().find(|(n, _)| *n == base) {
            return Err(err(
                name,
                SearchErrorKind::UnsupportedParameter,
                format!("{name}: {msg}"),
            ));
        }
        match base {
            "_count" | "_sort" | "_summary" | "_elements" | "_total" | "_include" | "_revinclude" => {
                return self.control(name, base, modifier, value);
            }
            _ => {}
        }
        if base.contains('.') || modifier.is_some_and(|m| m.contains('.')) {
            return Err(err(
                name,
                SearchErrorKind::UnsupportedParameter,
                format!("{name}: chained parameters are not supported"),
            ));
        }
        let Some(def) = registry().param(self.ty, base) else {
            return Err(err(
                name,
                SearchErrorKind::UnknownParameter,
                format!("{name}: unknown search parameter for {}", self.ty),
            ));
        };
        if let Some(reason) = def.unsupported_reason() {
            return Err(err(
                name,
                SearchErrorKind::UnsupportedParameter,
                format!("{name}: {reason}"),
            ));
        }
        let filter = self.filter(name, def, modifier, value)?;
        self.crit.filters.push(filter);
        Ok(())
    }

    fn modifier(&self, name: &str, def: &SearchParamDef, m: &str) -> Result<Modifier, SearchError> {
        use ParamType as P;
        let pt = def.param_type();
        let bad = |what: &str| {
            err(
                name,
                SearchErrorKind::UnknownModifier,
                format!("{name}: {what} for a {} parameter", pt.code()),
            )
        };
        let unsupported = |why: &str| {
            err(
                name,
                SearchErrorKind::UnsupportedModifier,
                format!("{name}: {why}"),
            )
        };
        Ok(match m {
            "missing" => Modifier::Missing,
            "exact" if pt == P::String => Modifier::Exact,
            "contains" if pt == P::String => Modifier::Contains,
            "not" if pt == P::Token => Modifier::Not,
            "text" if pt == P::Token => Modifier::Text,
            "of-type" if pt == P::Token => {
                let has_identifier = def
                    .plan
                    .as_ref()
                    .is_ok_and(|p| p.branches().iter().any(|b| b.kind == VKind::Identifier));
                if !has_identifier {
                    return Err(bad(":of-type applies to Identifier elements only, not"));
                }
                Modifier::OfType
            }
            "identifier" if pt == P::Reference => Modifier::Identifier,
            "below" if pt == P::Uri => Modifier::Below,
            "above" if pt == P::Uri => Modifier::Above,
            "in" | "not-in" if pt == P::Token => {
                return Err(unsupported(&format!(
                    ":{m} needs terminology services, which are not supported"
                )));
            }
            "below" | "above" if pt == P::Token => {
                return Err(unsupported(&format!(
                    ":{m} (subsumption) needs terminology services, which are not supported"
                )));
            }
            t if pt == P::Reference && is_resource_type(t) => {
                if !def.has_target(t) {
                    return Err(err(
                        name,
                        SearchErrorKind::InvalidValue,
                        format!("{name}: {t} is not a target type of {}", def.code()),
                    ));
                }
                Modifier::Type(t.to_owned())
            }
            "exact" | "contains" | "not" | "text" | "in" | "not-in" | "below" | "above" | "of-type"
            | "identifier" | "type" => return Err(bad(&format!("modifier :{m} is not valid"))),
            _ => return Err(bad(&format!("unknown modifier :{m}"))),
        })
    }

    fn filter(
        &self,
        name: &str,
        def: &'static SearchParamDef,
        modifier: Option<&str>,
        value: &str,
    ) -> Result<Filter, SearchError> {
        let modifier = modifier.map(|m| self.modifier(name, def, m)).transpose()?;
        let invalid = |msg: String| err(name, SearchErrorKind::InvalidValue, format!("{name}: {msg}"));
        let parts = split_escaped(value, ',');
        let raw: Vec<String> = parts.iter().map(|p| unescape(p)).collect();
        if modifier == Some(Modifier::Missing) {
            let m = match value {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(format!("{value:?} is not true or false"))),
            };
            return Ok(Filter {
                param: def,
                modifier,
                test: Test::Missing(m),
                raw,
            });
        }
        let mut values = Vec::with_capacity(parts.len());
        for part in parts {
            if part.is_empty() {
                return Err(invalid("empty value in a comma-separated list".into()));
            }
            values.push(self.value(def, modifier.as_ref(), part).map_err(invalid)?);
        }
        Ok(Filter {
            param: def,
            test: Test::Any {
                negate: modifier == Some(Modifier::Not),
                values,
            },
            modifier,
            raw,
        })
    }

    /// Parses one (still escaped) OR value.
    fn value(&self, def: &SearchParamDef, modifier: Option<&Modifier>, part: &str) -> Result<Val, String> {
        match def.param_type() {
            ParamType::Number => {
                let (prefix, rest) = prefix_of(part);
                let value = Dec::parse(rest).ok_or_else(|| {
                    format!("{part:?} is not a number (optionally prefixed by eq, ne, gt, lt, ge, le, sa, eb or ap)")
                })?;
                let (lo, hi) = number_range(prefix, value).ok_or("number out of range")?;
                Ok(Val::Number {
                    prefix,
                    value,
                    lo,
                    hi,
                })
            }
            ParamType::Date => {
                let (prefix, rest) = prefix_of(part);
                let range = parse_range(rest).ok_or_else(|| {
                    format!(
                        "{part:?} is not a date (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.s]][Z|±hh:mm], \
                         optionally prefixed by eq, ne, gt, lt, ge, le, sa, eb or ap)"
                    )
                })?;
                let range = if prefix == Prefix::Ap {
                    let distance = self.now.saturating_sub(range.lo).unsigned_abs();
                    let margin = i64::try_from(distance / 10).unwrap_or(i64::MAX).max(DAY);
                    Range {
                        lo: range.lo.saturating_sub(margin),
                        hi: range.hi.saturating_add(margin),
                    }
                } else {
                    range
                };
                Ok(Val::Date { prefix, range })
            }
            ParamType::Quantity => {
                let (prefix, rest) = prefix_of(part);
                let pieces = split_escaped(rest, '|');
                let (num, system, code) = match pieces.as_slice() {
                    [n] => (*n, None, None),
                    [n, s, c] => (*n, Some(unescape(s)), Some(unescape(c))),
                    _ => {
                        return Err(format!(
                            "{part:?} is not [prefix]number, [prefix]number|system|code or [prefix]number||code"
                        ));
                    }
                };
                let value = Dec::parse(num).ok_or_else(|| format!("{num:?} is not a number"))?;
                let (lo, hi) = number_range(prefix, value).ok_or("number out of range")?;
                let system = system.filter(|s| !s.is_empty());
                let code = code.filter(|s| !s.is_empty());
                if system.is_some() && code.is_none() {
                    return Err(format!("{part:?}: a unit system needs a unit code"));
                }
                Ok(Val::Quantity {
                    prefix,
                    value,
                    lo,
                    hi,
                    system,
                    code,
                })
            }
            ParamType::Token => match modifier {
                Some(Modifier::Text) => Ok(Val::Text(fold(&unescape(part)))),
                Some(Modifier::OfType) => match split_escaped(part, '|').as_slice() {
                    [s, c, v] if !s.is_empty() && !c.is_empty() && !v.is_empty() => Ok(Val::OfType {
                        system: unescape(s),
                        code: unescape(c),
                        value: unescape(v),
                    }),
                    _ => Err(format!(
                        "{part:?}: :of-type needs system|code|value, all three present"
                    )),
                },
                _ => token(part),
            },
            ParamType::String => {
                let s = unescape(part);
                Ok(Val::Str(if modifier == Some(&Modifier::Exact) {
                    s
                } else {
                    fold(&s)
                }))
            }
            ParamType::Uri => Ok(Val::Uri(unescape(part))),
            ParamType::Reference => {
                if modifier == Some(&Modifier::Identifier) {
                    return token(part);
                }
                let v = unescape(part);
                let forced = match modifier {
                    Some(Modifier::Type(t)) => Some(t.as_str()),
                    _ => None,
                };
                self.reference(def, forced, &v)
            }
            ParamType::Composite | ParamType::Special => Err("this parameter type is not supported".into()),
        }
    }

    fn reference(&self, def: &SearchParamDef, forced: Option<&str>, v: &str) -> Result<Val, String> {
        let local = match self.opts.base_url.map(|b| b.trim_end_matches('/')) {
            Some(base) if !base.is_empty() => v.strip_prefix(base).and_then(|r| r.strip_prefix('/')),
            _ => None,
        };
        let v = local.unwrap_or(v);
        let check_type = |t: &str| -> Result<(), String> {
            if forced.is_some_and(|f| f != t) {
                return Err(format!(
                    "{v:?} contradicts the :{} modifier",
                    forced.unwrap_or_default()
                ));
            }
            if !def.has_target(t) {
                return Err(format!("{t} is not a target type of {}", def.code()));
            }
            Ok(())
        };
        match parse_reference(v) {
            RefStr::Local { ty, id } => {
                check_type(ty)?;
                Ok(Val::RefLocal {
                    ty: Some(ty.to_owned()),
                    id: id.to_owned(),
                })
            }
            RefStr::Absolute { url, .. } => Ok(Val::RefUrl(url.to_owned())),
            _ if v.starts_with("urn:") => Ok(Val::RefUrl(v.to_owned())),
            _ if !v.contains('/')
                && !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
            {
                Ok(Val::RefLocal {
                    ty: forced.map(str::to_owned),
                    id: v.to_owned(),
                })
            }
            _ => Err(format!(
                "{v:?} is not a reference (id, Type/id or an absolute URL)"
            )),
        }
    }

    fn control(
        &mut self,
        name: &str,
        base: &str,
        modifier: Option<&str>,
        value: &str,
    ) -> Result<(), SearchError> {
        let invalid = |msg: String| err(name, SearchErrorKind::InvalidValue, format!("{name}: {msg}"));
        let iterate = match (base, modifier) {
            (_, None) => false,
            ("_include" | "_revinclude", Some("iterate" | "recurse")) => true,
            (_, Some(m)) => {
                return Err(err(
                    name,
                    SearchErrorKind::UnknownModifier,
                    format!("{name}: unknown modifier :{m}"),
                ));
            }
        };
        let repeated = |set: bool| -> Result<(), SearchError> {
            if set {
                Err(invalid("given more than once".into()))
            } else {
                Ok(())
            }
        };
        match base {
            "_count" => {
                repeated(self.crit.count.is_some())?;
                let n: u32 = value
                    .parse()
                    .map_err(|_| invalid(format!("{value:?} is not a non-negative integer")))?;
                self.crit.count = Some(n);
            }
            "_summary" => {
                repeated(self.crit.summary.is_some())?;
                self.crit.summary = Some(match value {
                    "true" => Summary::True,
                    "text" => Summary::Text,
                    "data" => Summary::Data,
                    "count" => Summary::Count,
                    "false" => Summary::False,
                    _ => {
                        return Err(invalid(format!(
                            "{value:?} is not true, text, data, count or false"
                        )));
                    }
                });
            }
            "_total" => {
                repeated(self.crit.total.is_some())?;
                self.crit.total = Some(match value {
                    "none" => Total::None,
                    "estimate" => Total::Estimate,
                    "accurate" => Total::Accurate,
                    _ => return Err(invalid(format!("{value:?} is not none, estimate or accurate"))),
                });
            }
            "_sort" => {
                repeated(!self.crit.sort.is_empty())?;
                let mut keys = Vec::new();
                for part in value.split(',') {
                    let (descending, code) = match part.strip_prefix('-') {
                        Some(c) => (true, c),
                        None => (false, part),
                    };
                    let def = registry().param(self.ty, code).ok_or_else(|| {
                        invalid(format!("unknown search parameter {code:?} for {}", self.ty))
                    })?;
                    if let Some(reason) = def.unsupported_reason() {
                        return Err(invalid(format!("cannot sort by {code}: {reason}")));
                    }
                    keys.push(SortSpec {
                        param: def,
                        descending,
                    });
                }
                self.crit.sort = keys;
            }
            "_elements" => {
                repeated(self.crit.elements.is_some())?;
                let info = type_info(self.ty).expect("checked in parse");
                let mut names = Vec::new();
                for part in value.split(',') {
                    let part = part.trim();
                    let el = part
                        .strip_prefix(self.ty)
                        .and_then(|r| r.strip_prefix('.'))
                        .unwrap_or(part);
                    if !info.elements.iter().any(|(n, _)| &**n == el) {
                        return Err(invalid(format!("{part:?} is not an element of {}", self.ty)));
                    }
                    names.push(el.to_owned());
                }
                self.crit.elements = Some(names);
            }
            "_include" | "_revinclude" => {
                let inc = self
                    .include(base == "_revinclude", iterate, value)
                    .map_err(invalid)?;
                if base == "_include" {
                    self.crit.include.push(inc);
                } else {
                    self.crit.revinclude.push(inc);
                }
            }
            _ => unreachable!("control names are listed in `one`"),
        }
        Ok(())
    }

    fn include(&self, rev: bool, iterate: bool, value: &str) -> Result<Include, String> {
        if value == "*" {
            return Ok(Include {
                source: self.ty.to_owned(),
                param: None,
                target: None,
                iterate,
            });
        }
        let parts: Vec<&str> = value.split(':').collect();
        let (source, code, target) = match parts.as_slice() {
            [s, p] => (*s, *p, None),
            [s, p, t] => (*s, *p, Some(*t)),
            _ => return Err(format!("{value:?} is not Source:parameter[:Target]")),
        };
        if !is_resource_type(source) {
            return Err(format!("{source:?} is not a resource type"));
        }
        if !rev && !iterate && source != self.ty {
            return Err(format!("the source type must be {} (or use :iterate)", self.ty));
        }
        if let Some(t) = target
            && !is_resource_type(t)
        {
            return Err(format!("{t:?} is not a resource type"));
        }
        let param = if code == "*" {
            None
        } else {
            let def = registry()
                .param(source, code)
                .ok_or_else(|| format!("unknown search parameter {code:?} for {source}"))?;
            if def.param_type() != ParamType::Reference {
                return Err(format!("{source}:{code} is not a reference parameter"));
            }
            if let Some(reason) = def.unsupported_reason() {
                return Err(format!("{source}:{code}: {reason}"));
            }
            if let Some(t) = target
                && !def.has_target(t)
            {
                return Err(format!("{t} is not a target type of {source}:{code}"));
            }
            if rev && !iterate && !def.has_target(self.ty) {
                return Err(format!("{source}:{code} cannot refer to {}", self.ty));
            }
            Some(def)
        };
        Ok(Include {
            source: source.to_owned(),
            param,
            target: target.map(str::to_owned),
            iterate,
        })
    }
}

/// The search range of a number: the implicit precision range for eq/ne, the
/// approximate range for ap (10% of the value, at least the implicit
/// precision); for the other prefixes precision is ignored (both ends are the
/// value).
fn number_range(prefix: Prefix, v: Dec) -> Option<(Dec, Dec)> {
    let margin = match prefix {
        Prefix::Eq | Prefix::Ne => v.half_ulp(),
        Prefix::Ap => v.abs().tenth().max(v.half_ulp()),
        _ => Dec::ZERO,
    };
    Some((v.checked_sub(margin)?, v.checked_add(margin)?))
}

fn token(part: &str) -> Result<Val, String> {
    let pieces = split_escaped(part, '|');
    match pieces.as_slice() {
        [c] => Ok(Val::Token {
            system: TokSys::Any,
            code: Some(unescape(c)),
        }),
        [s, c] => {
            let system = if s.is_empty() {
                TokSys::None
            } else {
                TokSys::Is(unescape(s))
            };
            let code = (!c.is_empty()).then(|| unescape(c));
            if system == TokSys::None && code.is_none() {
                return Err(format!("{part:?} has neither a system nor a code"));
            }
            Ok(Val::Token { system, code })
        }
        _ => Err(format!("{part:?} is not code, system|code, |code or system|")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_unescapes() {
        assert_eq!(split_escaped(r"a\,b,c", ','), vec![r"a\,b", "c"]);
        assert_eq!(unescape(r"a\,b\|c\\d\$e\x"), r"a,b|c\d$e\x");
        assert_eq!(split_escaped(r"s\|x|c", '|'), vec![r"s\|x", "c"]);
        assert_eq!(prefix_of("ge2013"), (Prefix::Ge, "2013"));
        assert_eq!(prefix_of("2013"), (Prefix::Eq, "2013"));
    }
}
