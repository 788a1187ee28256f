//! Cheap index hints extracted from [`Criteria`] for a storage pre-filter.
//!
//! Hints are conservative supersets: every resource that [`Criteria::matches`]
//! satisfies the hints, but not the reverse, so the caller must still run
//! `matches` on what the pre-filter returns.

use crate::search::query::{Criteria, Prefix, Test, TokSys, Val};
use crate::search::registry::{ParamType, SearchParamDef, registry};

/// Hints for one [`Criteria`].
#[derive(Debug, Clone, Default)]
pub struct IndexHints {
    /// A filter on the type's primary code parameter (see
    /// [`primary_code_param`]) whose values are all plain `code`,
    /// `system|code` or `|code` tokens without modifier: a matching resource
    /// has one of these codes in that element. `None` system = any system.
    pub codes: Option<CodeHint>,
    /// For each date parameter with filters whose bounds are computable (no
    /// modifier, no `ne`): the [`super::date_bounds`] `(lo, hi)` of a matching
    /// resource for that parameter satisfy `lo < end` and `hi > start` (the
    /// union of its values intersects `[start, end)`).
    pub dates: Vec<DateHint>,
}

#[derive(Debug, Clone)]
pub struct CodeHint {
    pub param: &'static SearchParamDef,
    pub codes: Vec<(Option<String>, String)>,
}

/// `[start, end)` in Unix microseconds; None = unbounded.
#[derive(Debug, Clone)]
pub struct DateHint {
    pub param: &'static SearchParamDef,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// The token parameter on a type's main code element: `code` where the type
/// has a token `code` parameter (Observation, Condition, Procedure,
/// MedicationRequest, AllergyIntolerance, DiagnosticReport, …), `vaccine-code`
/// for Immunization; None otherwise.
pub fn primary_code_param(resource_type: &str) -> Option<&'static SearchParamDef> {
    let code = if resource_type == "Immunization" {
        "vaccine-code"
    } else {
        "code"
    };
    registry()
        .param(resource_type, code)
        .filter(|d| d.param_type() == ParamType::Token && d.is_supported())
}

fn bound(v: i64, open: i64) -> Option<i64> {
    (v != open).then_some(v)
}

impl Criteria {
    /// Index hints for a pre-filter (conservative supersets; see [`IndexHints`]).
    pub fn hints(&self) -> IndexHints {
        let mut hints = IndexHints::default();
        let primary = primary_code_param(&self.resource_type);
        for f in &self.filters {
            let Test::Any {
                negate: false,
                values,
            } = &f.test
            else {
                continue;
            };
            if f.modifier.is_some() {
                continue;
            }
            if hints.codes.is_none() && primary.is_some_and(|p| std::ptr::eq(p, f.param)) {
                let codes: Option<Vec<(Option<String>, String)>> = values
                    .iter()
                    .map(|v| match v {
                        Val::Token {
                            system,
                            code: Some(code),
                        } => Some((
                            match system {
                                TokSys::Is(s) => Some(s.clone()),
                                TokSys::Any | TokSys::None => None,
                            },
                            code.clone(),
                        )),
                        _ => None,
                    })
                    .collect();
                if let Some(codes) = codes {
                    hints.codes = Some(CodeHint {
                        param: f.param,
                        codes,
                    });
                }
            }
            if f.param.param_type() == ParamType::Date {
                let mut lo = i64::MAX;
                let mut hi = i64::MIN;
                let mut ok = true;
                for v in values {
                    let Val::Date { prefix, range: s } = v else {
                        ok = false;
                        break;
                    };
                    let (a, b) = match prefix {
                        Prefix::Eq | Prefix::Ap => (s.lo, s.hi),
                        Prefix::Gt | Prefix::Sa => (s.hi, i64::MAX),
                        Prefix::Ge => (s.lo, i64::MAX),
                        Prefix::Lt | Prefix::Eb => (i64::MIN, s.lo),
                        Prefix::Le => (i64::MIN, s.hi),
                        Prefix::Ne => {
                            ok = false;
                            break;
                        }
                    };
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
                if !ok || values.is_empty() {
                    continue;
                }
                let (start, end) = (bound(lo, i64::MIN), bound(hi, i64::MAX));
                match hints.dates.iter_mut().find(|d| std::ptr::eq(d.param, f.param)) {
                    // AND of filters on one parameter: each bounds the union of
                    // the values (lo < end_k, hi > start_k), so all of them do.
                    Some(d) => {
                        d.start = d.start.max(start);
                        d.end = match (d.end, end) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    None => hints.dates.push(DateHint {
                        param: f.param,
                        start,
                        end,
                    }),
                }
            }
        }
        hints
    }
}
