//! Evaluation of compiled plans ([`super::compile`]) over resources in the
//! FHIR JSON format (<https://hl7.org/fhir/R4/json.html>): a depth-first walk
//! in document order that hands each item to a callback, without allocating,
//! and can stop as soon as the caller has its answer. Also the parsing of
//! reference strings (<https://hl7.org/fhir/R4/references.html#literal>) used
//! by `resolve() is Type` and reference search.

use serde_json::Value;

use crate::model::model;
use crate::search::compile::{Branch, Lit, MAX_INDEX_SLOTS, Plan, Pred, Step};
use crate::search::decimal::Dec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    /// `first()` / `[n]` has produced its item: stop this branch.
    StopBranch,
    /// The callback asked to stop.
    StopAll,
}

/// One item produced by a plan: a JSON value of a known branch, or the result
/// of a boolean expression.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Item<'a> {
    Json(&'a Value, &'a Branch),
    Bool(bool),
}

/// Calls `f` for each item of `plan` evaluated on `resource`, in document
/// order, until `f` returns true. Returns whether it was stopped.
pub(crate) fn for_each_item<'a>(
    plan: &'a Plan,
    resource: &'a Value,
    f: &mut dyn FnMut(Item<'a>) -> bool,
) -> bool {
    match plan {
        Plan::Paths(branches) => for_each_in(branches, resource, resource, &mut |v, b| f(Item::Json(v, b))),
        Plan::Bool(p) => match eval_pred(p, resource, resource) {
            Some(b) => f(Item::Bool(b)),
            None => false,
        },
    }
}

/// Calls `f` for each item of `branches` evaluated from `ctx`; `root` is the
/// resource (for contained references). Returns whether `f` stopped the walk.
pub(crate) fn for_each_in<'a>(
    branches: &'a [Branch],
    ctx: &'a Value,
    root: &'a Value,
    f: &mut dyn FnMut(&'a Value, &'a Branch) -> bool,
) -> bool {
    for b in branches {
        let mut counters = [0u32; MAX_INDEX_SLOTS];
        let flow = walk(&b.steps, ctx, root, &mut counters, &mut |v| f(v, b));
        if flow == Flow::StopAll {
            return true;
        }
    }
    false
}

fn walk<'a>(
    steps: &'a [Step],
    v: &'a Value,
    root: &'a Value,
    counters: &mut [u32; MAX_INDEX_SLOTS],
    f: &mut dyn FnMut(&'a Value) -> bool,
) -> Flow {
    let Some((step, rest)) = steps.split_first() else {
        return if f(v) { Flow::StopAll } else { Flow::Continue };
    };
    match step {
        Step::Child(key) => match v.as_object().and_then(|o| o.get(&**key)) {
            None | Some(Value::Null) => Flow::Continue,
            Some(Value::Array(items)) => {
                for item in items {
                    if item.is_null() {
                        continue;
                    }
                    let flow = walk(rest, item, root, counters, f);
                    if flow != Flow::Continue {
                        return flow;
                    }
                }
                Flow::Continue
            }
            Some(x) => walk(rest, x, root, counters, f),
        },
        Step::Where(p) => {
            if eval_pred(p, v, root) == Some(true) {
                walk(rest, v, root, counters, f)
            } else {
                Flow::Continue
            }
        }
        Step::First => match walk(rest, v, root, counters, f) {
            Flow::StopAll => Flow::StopAll,
            _ => Flow::StopBranch,
        },
        Step::Index { n, slot } => {
            let c = &mut counters[usize::from(*slot)];
            let seen = *c;
            *c += 1;
            if seen == *n {
                match walk(rest, v, root, counters, f) {
                    Flow::StopAll => Flow::StopAll,
                    _ => Flow::StopBranch,
                }
            } else {
                Flow::Continue
            }
        }
    }
}

fn lit_eq(v: &Value, lit: &Lit) -> bool {
    match (v, lit) {
        (Value::String(s), Lit::Str(l)) => s == &**l,
        (Value::Bool(b), Lit::Bool(l)) => b == l,
        (Value::Number(n), Lit::Num(l)) => Dec::parse(n.as_str()).is_some_and(|d| d == *l),
        _ => false,
    }
}

/// Evaluates a predicate on one context item (FHIRPath three-valued logic).
pub(crate) fn eval_pred(p: &Pred, ctx: &Value, root: &Value) -> Option<bool> {
    match p {
        Pred::Const(b) => Some(*b),
        Pred::And(a, b) => match (eval_pred(a, ctx, root), eval_pred(b, ctx, root)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Pred::Or(a, b) => match (eval_pred(a, ctx, root), eval_pred(b, ctx, root)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Pred::Xor(a, b) => match (eval_pred(a, ctx, root), eval_pred(b, ctx, root)) {
            (Some(x), Some(y)) => Some(x != y),
            _ => None,
        },
        Pred::Implies(a, b) => match eval_pred(a, ctx, root) {
            Some(false) => Some(true),
            Some(true) => eval_pred(b, ctx, root),
            None => eval_pred(b, ctx, root).filter(|b| *b),
        },
        Pred::Not(a) => eval_pred(a, ctx, root).map(|b| !b),
        Pred::Exists(bs) => Some(for_each_in(bs, ctx, root, &mut |_, _| true)),
        Pred::Empty(bs) => Some(!for_each_in(bs, ctx, root, &mut |_, _| true)),
        Pred::Eq(bs, lit) | Pred::Ne(bs, lit) => {
            let mut any = false;
            let mut equal = false;
            for_each_in(bs, ctx, root, &mut |v, _| {
                any = true;
                equal = lit_eq(v, lit);
                equal
            });
            let is_eq = matches!(p, Pred::Eq(..));
            any.then_some(equal == is_eq)
        }
        Pred::ResolveIs(t) => Some(reference_type(ctx, root) == Some(&**t)),
    }
}

/// A parsed reference string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefStr<'a> {
    /// `Type/id` (a `/_history/v` suffix is dropped).
    Local { ty: &'a str, id: &'a str },
    /// An absolute URL; `tail` is its trailing `Type/id` when it has one.
    Absolute {
        url: &'a str,
        tail: Option<(&'a str, &'a str)>,
    },
    /// `#id`: a contained resource.
    Contained(&'a str),
    /// Anything else (`urn:uuid:…`, conditional references, junk).
    Other,
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `…/Type/id[/_history/v]` → (Type, id).
fn type_and_id(path: &str) -> Option<(&str, &str)> {
    let path = match path.find("/_history/") {
        Some(i) => &path[..i],
        None => path,
    };
    let (head, id) = path.rsplit_once('/')?;
    let ty = head.rsplit_once('/').map_or(head, |(_, t)| t);
    (is_id(id) && model().resource_type(ty).is_some()).then_some((ty, id))
}

pub(crate) fn parse_reference(s: &str) -> RefStr<'_> {
    if let Some(id) = s.strip_prefix('#') {
        return RefStr::Contained(id);
    }
    if s.contains("://") {
        let tail = if s.contains('?') { None } else { type_and_id(s) };
        return RefStr::Absolute { url: s, tail };
    }
    if s.starts_with("urn:") || s.contains('?') {
        return RefStr::Other;
    }
    let path = match s.find("/_history/") {
        Some(i) => &s[..i],
        None => s,
    };
    match path.split_once('/') {
        Some((ty, id)) if !id.contains('/') && is_id(id) && model().resource_type(ty).is_some() => {
            RefStr::Local { ty, id }
        }
        _ => RefStr::Other,
    }
}

/// The resource type a Reference value points at: from its literal reference
/// (`Type/id`, an absolute URL ending in `Type/id`, `#id` of a contained
/// resource), else from `Reference.type`. `urn:uuid:` references without
/// `Reference.type` have none.
pub(crate) fn reference_type<'a>(reference: &'a Value, root: &'a Value) -> Option<&'a str> {
    let declared = || reference.get("type").and_then(Value::as_str);
    let Some(s) = reference.get("reference").and_then(Value::as_str) else {
        return declared();
    };
    match parse_reference(s) {
        RefStr::Local { ty, .. } => Some(ty),
        RefStr::Absolute {
            tail: Some((ty, _)), ..
        } => Some(ty),
        RefStr::Contained(id) => root
            .get("contained")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|c| c.get("id").and_then(Value::as_str) == Some(id))
            .and_then(|c| c.get("resourceType"))
            .and_then(Value::as_str),
        _ => declared(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::compile::compile;
    use serde_json::json;

    fn values(base: &str, expr: &str, r: &Value) -> Vec<String> {
        let plan = compile(base, expr).unwrap();
        let mut out = Vec::new();
        for_each_item(&plan, r, &mut |it| {
            out.push(match it {
                Item::Json(v, b) => format!("{}={}", b.type_name, v),
                Item::Bool(b) => format!("bool={b}"),
            });
            false
        });
        out
    }

    #[test]
    fn walks_paths_filters_and_choices() {
        let p = json!({"resourceType": "Patient", "id": "p",
            "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}, null],
            "deceasedBoolean": false,
            "contained": [{"resourceType": "Organization", "id": "o"}],
            "generalPractitioner": [{"reference": "#o"}, {"reference": "Practitioner/1"},
                {"reference": "urn:uuid:x", "type": "Organization"}]});
        assert_eq!(
            values("Patient", "Patient.telecom.where(system='email')", &p),
            [r#"ContactPoint={"system":"email","value":"a@b"}"#]
        );
        assert_eq!(
            values("Patient", "Patient.telecom.value.first()", &p),
            [r#"string="1""#]
        );
        assert_eq!(
            values("Patient", "Patient.telecom[1].value", &p),
            [r#"string="a@b""#]
        );
        assert_eq!(
            values(
                "Patient",
                "Patient.deceased.exists() and Patient.deceased != false",
                &p
            ),
            ["bool=false"]
        );
        let mut q = p.clone();
        q["deceasedDateTime"] = json!("2020");
        q.as_object_mut().unwrap().remove("deceasedBoolean");
        assert_eq!(
            values(
                "Patient",
                "Patient.deceased.exists() and Patient.deceased != false",
                &q
            ),
            ["bool=true"]
        );
        q.as_object_mut().unwrap().remove("deceasedDateTime");
        assert_eq!(
            values(
                "Patient",
                "Patient.deceased.exists() and Patient.deceased != false",
                &q
            ),
            ["bool=false"]
        );
        assert_eq!(
            values(
                "Patient",
                "Patient.generalPractitioner.where(resolve() is Organization)",
                &p
            )
            .len(),
            2
        );
        assert_eq!(
            values(
                "Patient",
                "Patient.generalPractitioner.where(resolve() is Practitioner)",
                &p
            )
            .len(),
            1
        );
    }

    #[test]
    fn parses_reference_strings() {
        assert_eq!(
            parse_reference("Patient/1"),
            RefStr::Local {
                ty: "Patient",
                id: "1"
            }
        );
        assert_eq!(
            parse_reference("Patient/1/_history/2"),
            RefStr::Local {
                ty: "Patient",
                id: "1"
            }
        );
        assert_eq!(
            parse_reference("https://x.org/fhir/Patient/1/_history/2"),
            RefStr::Absolute {
                url: "https://x.org/fhir/Patient/1/_history/2",
                tail: Some(("Patient", "1"))
            }
        );
        assert_eq!(
            parse_reference("http://x.org/ValueSet/a|1.0"),
            RefStr::Absolute {
                url: "http://x.org/ValueSet/a|1.0",
                tail: None
            }
        );
        assert_eq!(parse_reference("#c1"), RefStr::Contained("c1"));
        assert_eq!(parse_reference("urn:uuid:1234"), RefStr::Other);
        assert_eq!(parse_reference("Patient?identifier=a|b"), RefStr::Other);
        assert_eq!(parse_reference("Nope/1"), RefStr::Other);
        assert_eq!(parse_reference("Patient/1/2"), RefStr::Other);
    }
}
