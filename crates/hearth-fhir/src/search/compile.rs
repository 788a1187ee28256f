//! Compiles a search parameter's FHIRPath expression (see [`super::fhirpath`])
//! into a typed evaluation plan for one base resource type, using the embedded
//! R4 structure definitions (`crate::model`): every path step is resolved to
//! the JSON property names it can take (`Observation.value` → `valueQuantity`,
//! `valueString`, …, per <https://hl7.org/fhir/R4/json.html#choice>) and the
//! FHIR type found there, so `as` / `ofType` / `is` are decided at compile time
//! and evaluation is a plain walk over `serde_json::Value`.
//!
//! Supported FHIRPath: member paths, `|`, `as`, `is`, `.as()`, `.ofType()`,
//! `.is()`, `.where(…)`, `.exists()`, `.empty()`, `.not()`, `.first()`, `[n]`,
//! `.extension('url')`, `.hasExtension('url')`, `resolve() is Type`, `=` / `!=`
//! against literals, `and`, `or`, `xor`, `implies`. Anything else is a compile
//! error, reported by [`super::unsupported_params`].

use crate::model::{Kind, Model, NodeId, TypeId, model};
use crate::search::decimal::Dec;
use crate::search::fhirpath::{Ast, BinOp, TypeOp, parse, split_union};

/// What a plan yields, as far as search matching is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VKind {
    Coding,
    CodeableConcept,
    Identifier,
    ContactPoint,
    Reference,
    /// Quantity and its profiles (Age, Count, Distance, Duration, SimpleQuantity, MoneyQuantity).
    Quantity,
    Money,
    Range,
    Period,
    Timing,
    HumanName,
    Address,
    SampledData,
    /// An inline resource (e.g. `Bundle.entry[0].resource`).
    Resource,
    Boolean,
    /// string, markdown.
    Str,
    Code,
    Id,
    /// uri, url, oid, uuid.
    Uri,
    Canonical,
    /// date, dateTime, instant.
    DateTime,
    Time,
    /// decimal, integer, positiveInt, unsignedInt.
    Number,
    Other,
}

impl VKind {
    fn of(m: &Model, ty: TypeId) -> VKind {
        let t = &m.types[ty as usize];
        match t.kind {
            Kind::Resource | Kind::AnyResource => return VKind::Resource,
            Kind::Primitive(_) => {}
            Kind::Complex => {}
        }
        match &*t.name {
            "Coding" => VKind::Coding,
            "CodeableConcept" => VKind::CodeableConcept,
            "Identifier" => VKind::Identifier,
            "ContactPoint" => VKind::ContactPoint,
            "Reference" => VKind::Reference,
            "Quantity" | "Age" | "Count" | "Distance" | "Duration" | "SimpleQuantity" | "MoneyQuantity" => {
                VKind::Quantity
            }
            "Money" => VKind::Money,
            "Range" => VKind::Range,
            "Period" => VKind::Period,
            "Timing" => VKind::Timing,
            "HumanName" => VKind::HumanName,
            "Address" => VKind::Address,
            "SampledData" => VKind::SampledData,
            "boolean" => VKind::Boolean,
            "string" | "markdown" => VKind::Str,
            "code" => VKind::Code,
            "id" => VKind::Id,
            "uri" | "url" | "oid" | "uuid" => VKind::Uri,
            "canonical" => VKind::Canonical,
            "date" | "dateTime" | "instant" => VKind::DateTime,
            "time" => VKind::Time,
            "decimal" | "integer" | "positiveInt" | "unsignedInt" => VKind::Number,
            _ => VKind::Other,
        }
    }
}

/// One evaluation step over JSON.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// The value(s) of a JSON property; arrays are flattened.
    Child(Box<str>),
    /// Keeps the item when the predicate is true.
    Where(Box<Pred>),
    /// Keeps only the first item reaching this step.
    First,
    /// Keeps only the `n`th item reaching this step; `slot` is its counter.
    Index { n: u32, slot: u8 },
}

/// Room for `[n]` counters in one branch.
pub(crate) const MAX_INDEX_SLOTS: usize = 4;

/// A linear path from the context to items of one FHIR type.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub steps: Box<[Step]>,
    pub kind: VKind,
    /// FHIR type code of the items (`Age`, `Quantity`, `dateTime`, …).
    pub type_name: Box<str>,
    /// Index into the model's value sets for a required binding (codes).
    pub binding: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(Box<str>),
    Bool(bool),
    Num(Dec),
}

/// A boolean FHIRPath expression evaluated on one context item, with
/// FHIRPath's three-valued logic (`None` = empty).
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Const(bool),
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Xor(Box<Pred>, Box<Pred>),
    Implies(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Exists(Box<[Branch]>),
    Empty(Box<[Branch]>),
    Eq(Box<[Branch]>, Lit),
    Ne(Box<[Branch]>, Lit),
    /// `resolve() is Type` on a Reference item.
    ResolveIs(Box<str>),
}

/// A compiled search parameter expression.
#[derive(Debug)]
pub(crate) enum Plan {
    /// The union of these branches, evaluated from the resource.
    Paths(Box<[Branch]>),
    /// A boolean-valued expression (e.g. `Patient.deceased.exists() and …`).
    Bool(Pred),
}

impl Plan {
    pub(crate) fn branches(&self) -> &[Branch] {
        match self {
            Plan::Paths(b) => b,
            Plan::Bool(_) => &[],
        }
    }
}

#[derive(Clone)]
struct Ty {
    id: TypeId,
    /// Declared type code (keeps profile names such as `Age`).
    name: Box<str>,
    /// Children node (complex types, backbone elements, resources).
    node: Option<NodeId>,
    binding: Option<u32>,
    primitive: bool,
}

#[derive(Clone)]
struct Alt {
    steps: Vec<Step>,
    ty: Ty,
    slots: u8,
}

#[derive(Clone)]
struct Coll {
    alts: Vec<Alt>,
    /// Built by `|` (so `first()` / `[n]` would mix operands).
    union: bool,
    /// Still the untouched resource root (a leading type name may be skipped).
    root: bool,
}

struct Compiler<'m> {
    m: &'m Model,
    base: &'m str,
}

/// Keeps the top-level `|` operands of `expression` that apply to `base`:
/// operands rooted at another resource type are dropped; operands rooted at
/// `Resource`, `DomainResource` or not at a type name at all are kept.
pub(crate) fn restrict(base: &str, expression: &str) -> Option<String> {
    let m = model();
    let kept: Vec<&str> = split_union(expression)
        .into_iter()
        .filter(|part| {
            let root: String = part
                .trim_start_matches(|c: char| c == '(' || c.is_whitespace())
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let is_type = root.starts_with(|c: char| c.is_ascii_uppercase())
                && (m.resource_type(&root).is_some() || root == "Resource" || root == "DomainResource");
            !is_type || root == base || root == "Resource" || root == "DomainResource"
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(" | "))
}

/// Compiles `expression` (already restricted to `base`) for resources of type `base`.
pub(crate) fn compile(base: &str, expression: &str) -> Result<Plan, String> {
    let m = model();
    let rt = m.type_id(base).filter(|_| m.resource_type(base).is_some());
    let Some(id) = rt else {
        return Err(format!("{base} is not a resource type"));
    };
    let ast = parse(expression)?;
    let c = Compiler { m, base };
    let root = Coll {
        alts: vec![Alt {
            steps: Vec::new(),
            ty: Ty {
                id,
                name: base.into(),
                node: Some(m.types[id as usize].root),
                binding: None,
                primitive: false,
            },
            slots: 0,
        }],
        union: false,
        root: true,
    };
    if is_boolean(&ast) {
        Ok(Plan::Bool(c.pred(&ast, &root)?))
    } else {
        let coll = c.coll(&ast, &root)?;
        Ok(Plan::Paths(c.branches(coll)))
    }
}

fn is_boolean(ast: &Ast) -> bool {
    match ast {
        Ast::Bool(_) | Ast::Type(TypeOp::Is, ..) => true,
        Ast::Binary(op, ..) => matches!(
            op,
            BinOp::And | BinOp::Or | BinOp::Xor | BinOp::Implies | BinOp::Eq | BinOp::Ne
        ),
        Ast::Call(_, f, _) => matches!(&**f, "exists" | "empty" | "not" | "hasExtension" | "is"),
        _ => false,
    }
}

/// The FHIR type a type is derived from, where FHIRPath type tests care.
fn supertype(name: &str) -> Option<&'static str> {
    Some(match name {
        "Age" | "Count" | "Distance" | "Duration" | "SimpleQuantity" | "MoneyQuantity" => "Quantity",
        "code" | "id" | "markdown" => "string",
        "url" | "canonical" | "oid" | "uuid" => "uri",
        "positiveInt" | "unsignedInt" => "integer",
        _ => return None,
    })
}

/// `FHIR.Quantity` → `Quantity`, `System.String` → `string`.
fn type_name(raw: &str) -> String {
    match raw {
        "String" => "string".into(),
        "Boolean" => "boolean".into(),
        "Integer" => "integer".into(),
        "Decimal" => "decimal".into(),
        "Date" => "date".into(),
        "DateTime" => "dateTime".into(),
        "Time" => "time".into(),
        other => other.to_owned(),
    }
}

fn type_arg(args: &[Ast]) -> Result<String, String> {
    match args {
        [Ast::Ident(t)] => Ok(type_name(t)),
        [Ast::Member(_, t)] => Ok(type_name(t)),
        _ => Err("expected a type name argument".into()),
    }
}

fn str_arg<'a>(f: &str, args: &'a [Ast]) -> Result<&'a str, String> {
    match args {
        [Ast::Str(s)] => Ok(s),
        _ => Err(format!("{f}() needs one string literal argument")),
    }
}

fn literal(ast: &Ast) -> Option<Lit> {
    Some(match ast {
        Ast::Str(s) => Lit::Str(s.clone()),
        Ast::Bool(b) => Lit::Bool(*b),
        Ast::Num(n) => Lit::Num(Dec::parse(n)?),
        _ => return None,
    })
}

impl Compiler<'_> {
    fn branches(&self, coll: Coll) -> Box<[Branch]> {
        coll.alts
            .into_iter()
            .map(|a| Branch {
                steps: a.steps.into_boxed_slice(),
                kind: VKind::of(self.m, a.ty.id),
                type_name: a.ty.name,
                binding: a.ty.binding,
            })
            .collect()
    }

    /// The alternatives of child `name` of items of type `ty`: (JSON key, type).
    fn children(&self, ty: &Ty, name: &str) -> Result<Vec<(Box<str>, Ty)>, String> {
        if ty.primitive {
            return Err(format!(
                "navigating into the primitive {}.{name} is not supported",
                ty.name
            ));
        }
        let node_id = ty
            .node
            .ok_or_else(|| format!("cannot navigate into {} values", ty.name))?;
        let node = &self.m.nodes[node_id as usize];
        let Some(idx) = node.elems.iter().position(|e| &*e.name == name) else {
            return Err(format!("{} has no element {name:?}", ty.name));
        };
        let elem = &node.elems[idx];
        let mut out = Vec::new();
        let mk = |tid: TypeId, declared: &str, inline: Option<NodeId>| {
            let t = &self.m.types[tid as usize];
            let primitive = matches!(t.kind, Kind::Primitive(_));
            let navigable = matches!(t.kind, Kind::Complex | Kind::Resource);
            Ty {
                id: tid,
                name: declared.into(),
                node: inline.or(navigable.then_some(t.root)),
                binding: elem.binding,
                primitive,
            }
        };
        if elem.choice {
            let mut keys: Vec<(&str, TypeId)> = node
                .props
                .iter()
                .filter(|(_, p)| usize::from(p.elem) == idx)
                .map(|(k, p)| (&**k, p.ty))
                .collect();
            keys.sort_unstable();
            for (key, tid) in keys {
                let suffix = &key[name.len()..];
                let t = &self.m.types[tid as usize];
                let declared = if matches!(t.kind, Kind::Primitive(_)) {
                    let mut c = suffix.chars();
                    c.next()
                        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                        .unwrap_or_default()
                } else {
                    suffix.to_owned()
                };
                out.push((key.into(), mk(tid, &declared, None)));
            }
        } else {
            let p = node
                .props
                .get(name)
                .ok_or_else(|| format!("no property {name}"))?;
            let declared = self.m.types[p.ty as usize].name.clone();
            out.push((name.into(), mk(p.ty, &declared, elem.node)));
        }
        Ok(out)
    }

    fn member(&self, input: &Coll, name: &str) -> Result<Coll, String> {
        let mut alts = Vec::new();
        for a in &input.alts {
            for (key, ty) in self.children(&a.ty, name)? {
                let mut steps = a.steps.clone();
                steps.push(Step::Child(key));
                alts.push(Alt {
                    steps,
                    ty,
                    slots: a.slots,
                });
            }
        }
        Ok(Coll {
            alts,
            union: input.union,
            root: false,
        })
    }

    /// Whether items declared as `ty` are of type `target`: the same type, or
    /// a profile / specialization of it (an `Age` is a `Quantity`, a `code` a
    /// `string`; not the reverse).
    fn is_type(&self, ty: &Ty, target: &str) -> Result<bool, String> {
        if self.m.type_id(target).is_none() {
            return Err(format!("unknown type {target}"));
        }
        let mut name: &str = &ty.name;
        loop {
            if name == target {
                return Ok(true);
            }
            match supertype(name) {
                Some(s) => name = s,
                None => return Ok(false),
            }
        }
    }

    fn narrow(&self, input: Coll, target: &str) -> Result<Coll, String> {
        let mut alts = Vec::new();
        for a in input.alts {
            if self.is_type(&a.ty, target)? {
                alts.push(a);
            }
        }
        Ok(Coll {
            alts,
            union: input.union,
            root: false,
        })
    }

    fn coll(&self, ast: &Ast, input: &Coll) -> Result<Coll, String> {
        match ast {
            Ast::Ident(name) => {
                if input.root
                    && (**name == *self.base || &**name == "Resource" || &**name == "DomainResource")
                {
                    let mut c = input.clone();
                    c.root = false;
                    return Ok(c);
                }
                if name.starts_with(|c: char| c.is_ascii_uppercase()) && self.m.resource_type(name).is_some()
                {
                    return Err(format!("path rooted at {name}, not {}", self.base));
                }
                self.member(input, name)
            }
            Ast::This => Ok(input.clone()),
            Ast::Member(recv, name) => {
                let r = self.coll(recv, input)?;
                self.member(&r, name)
            }
            Ast::Binary(BinOp::Union, a, b) => {
                let mut l = self.coll(a, input)?;
                let r = self.coll(b, input)?;
                l.alts.extend(r.alts);
                l.union = true;
                l.root = false;
                Ok(l)
            }
            Ast::Type(TypeOp::As, e, t) => {
                let c = self.coll(e, input)?;
                let t = type_name(t);
                let n = self.narrow(c, &t)?;
                if n.alts.is_empty() {
                    return Err(format!("`as {t}` selects no element"));
                }
                Ok(n)
            }
            Ast::Index(recv, idx) => {
                let mut c = self.coll(recv, input)?;
                let Ast::Num(n) = &**idx else {
                    return Err("only literal indexes are supported".into());
                };
                let n: u32 = n.parse().map_err(|_| format!("bad index {n}"))?;
                self.single(&c, "[n]")?;
                for a in &mut c.alts {
                    if usize::from(a.slots) >= MAX_INDEX_SLOTS {
                        return Err("too many indexers".into());
                    }
                    a.steps.push(Step::Index { n, slot: a.slots });
                    a.slots += 1;
                }
                Ok(c)
            }
            Ast::Call(recv, f, args) => {
                let base = match recv {
                    Some(r) => self.coll(r, input)?,
                    None => input.clone(),
                };
                self.call(base, f, args)
            }
            other => Err(format!("unsupported expression {other:?}")),
        }
    }

    fn single(&self, c: &Coll, what: &str) -> Result<(), String> {
        if c.alts.len() > 1 || c.union {
            return Err(format!(
                "{what} over a choice element or a union is not supported"
            ));
        }
        Ok(())
    }

    fn call(&self, mut c: Coll, f: &str, args: &[Ast]) -> Result<Coll, String> {
        match f {
            "where" => {
                let [pred] = args else {
                    return Err("where() needs one argument".into());
                };
                for a in &mut c.alts {
                    let ctx = Coll {
                        alts: vec![Alt {
                            steps: Vec::new(),
                            ty: a.ty.clone(),
                            slots: 0,
                        }],
                        union: false,
                        root: false,
                    };
                    let p = self.pred(pred, &ctx)?;
                    a.steps.push(Step::Where(Box::new(p)));
                }
                c.root = false;
                Ok(c)
            }
            "as" | "ofType" => {
                let t = type_arg(args)?;
                let n = self.narrow(c, &t)?;
                if n.alts.is_empty() {
                    return Err(format!("{f}({t}) selects no element"));
                }
                Ok(n)
            }
            "first" => {
                if !args.is_empty() {
                    return Err("first() takes no argument".into());
                }
                self.single(&c, "first()")?;
                for a in &mut c.alts {
                    a.steps.push(Step::First);
                }
                c.root = false;
                Ok(c)
            }
            "extension" => {
                let url = str_arg(f, args)?;
                let mut e = self.member(&c, "extension")?;
                for a in &mut e.alts {
                    let url_path = Branch {
                        steps: Box::new([Step::Child("url".into())]),
                        kind: VKind::Uri,
                        type_name: "uri".into(),
                        binding: None,
                    };
                    a.steps.push(Step::Where(Box::new(Pred::Eq(
                        Box::new([url_path]),
                        Lit::Str(url.into()),
                    ))));
                }
                Ok(e)
            }
            "resolve" => Err("resolve() is only supported as `resolve() is Type` in where()".into()),
            other => Err(format!("function {other}() is not supported")),
        }
    }

    fn pred(&self, ast: &Ast, ctx: &Coll) -> Result<Pred, String> {
        let bin = |a: &Ast, b: &Ast| -> Result<(Box<Pred>, Box<Pred>), String> {
            Ok((Box::new(self.pred(a, ctx)?), Box::new(self.pred(b, ctx)?)))
        };
        match ast {
            Ast::Bool(b) => Ok(Pred::Const(*b)),
            Ast::Binary(BinOp::And, a, b) => bin(a, b).map(|(a, b)| Pred::And(a, b)),
            Ast::Binary(BinOp::Or, a, b) => bin(a, b).map(|(a, b)| Pred::Or(a, b)),
            Ast::Binary(BinOp::Xor, a, b) => bin(a, b).map(|(a, b)| Pred::Xor(a, b)),
            Ast::Binary(BinOp::Implies, a, b) => bin(a, b).map(|(a, b)| Pred::Implies(a, b)),
            Ast::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) => {
                let (path, lit) = match (literal(a), literal(b)) {
                    (None, Some(l)) => (a, l),
                    (Some(l), None) => (b, l),
                    _ => return Err("`=` / `!=` need a path and a literal".into()),
                };
                let bs = self.branches(self.coll(path, ctx)?);
                Ok(if *op == BinOp::Eq {
                    Pred::Eq(bs, lit)
                } else {
                    Pred::Ne(bs, lit)
                })
            }
            Ast::Type(TypeOp::Is, e, t) => self.is_pred(e, &type_name(t), ctx),
            Ast::Call(Some(e), f, args) if &**f == "is" => self.is_pred(e, &type_arg(args)?, ctx),
            Ast::Call(recv, f, args) if matches!(&**f, "exists" | "empty" | "not" | "hasExtension") => {
                let target = match recv {
                    Some(r) => self.coll(r, ctx)?,
                    None => ctx.clone(),
                };
                match (&**f, args.as_slice()) {
                    ("exists", []) => Ok(Pred::Exists(self.branches(target))),
                    ("exists", [cond]) => {
                        let filtered = self.call(target, "where", std::slice::from_ref(cond))?;
                        Ok(Pred::Exists(self.branches(filtered)))
                    }
                    ("empty", []) => Ok(Pred::Empty(self.branches(target))),
                    ("not", []) => match recv {
                        Some(r) => Ok(Pred::Not(Box::new(self.pred(r, ctx)?))),
                        None => Err("not() needs a receiver".into()),
                    },
                    ("hasExtension", _) => {
                        let e = self.call(target, "extension", args)?;
                        Ok(Pred::Exists(self.branches(e)))
                    }
                    _ => Err(format!("bad arguments to {f}()")),
                }
            }
            other => {
                // A boolean-typed path used as a condition.
                let c = self.coll(other, ctx)?;
                if !c.alts.is_empty() && c.alts.iter().all(|a| &*a.ty.name == "boolean") {
                    Ok(Pred::Eq(self.branches(c), Lit::Bool(true)))
                } else {
                    Err(format!("unsupported condition {other:?}"))
                }
            }
        }
    }

    fn is_pred(&self, e: &Ast, t: &str, ctx: &Coll) -> Result<Pred, String> {
        let is_resolve = match e {
            Ast::Call(None, f, a) => &**f == "resolve" && a.is_empty(),
            _ => false,
        };
        if is_resolve {
            if self.m.resource_type(t).is_none() {
                return Err(format!("resolve() is {t}: not a resource type"));
            }
            if !ctx.alts.iter().all(|a| &*a.ty.name == "Reference") {
                return Err("resolve() is only supported on Reference values".into());
            }
            return Ok(Pred::ResolveIs(t.into()));
        }
        let c = self.coll(e, ctx)?;
        let n = self.narrow(c, t)?;
        if n.alts.is_empty() {
            Ok(Pred::Const(false))
        } else {
            Ok(Pred::Exists(self.branches(n)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(p: &Plan) -> Vec<String> {
        p.branches()
            .iter()
            .map(|b| {
                b.steps
                    .iter()
                    .map(|s| match s {
                        Step::Child(k) => k.to_string(),
                        Step::Where(_) => "where".into(),
                        Step::First => "first".into(),
                        Step::Index { n, .. } => format!("[{n}]"),
                    })
                    .collect::<Vec<_>>()
                    .join(".")
                    + ":"
                    + &b.type_name
            })
            .collect()
    }

    #[test]
    fn restricts_unions_to_the_base() {
        let e = "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) | Resource.id";
        assert_eq!(
            restrict("CarePlan", e).unwrap(),
            "CarePlan.subject.where(resolve() is Patient) | Resource.id"
        );
        assert_eq!(restrict("InsurancePlan", "name | alias").unwrap(), "name | alias");
        assert!(restrict("Patient", "Observation.code").is_none());
    }

    #[test]
    fn resolves_choice_types() {
        let p = compile(
            "Observation",
            "(Observation.value as Quantity) | (Observation.value as SampledData)",
        )
        .unwrap();
        assert_eq!(
            keys(&p),
            ["valueQuantity:Quantity", "valueSampledData:SampledData"]
        );
        let p = compile("Condition", "Condition.onset.as(Age) | Condition.onset.as(Range)").unwrap();
        assert_eq!(keys(&p), ["onsetAge:Age", "onsetRange:Range"]);
        let p = compile("Observation", "Observation.effective").unwrap();
        assert_eq!(
            keys(&p),
            [
                "effectiveDateTime:dateTime",
                "effectiveInstant:instant",
                "effectivePeriod:Period",
                "effectiveTiming:Timing"
            ]
        );
        let p = compile("Patient", "(Patient.deceased as dateTime)").unwrap();
        assert_eq!(keys(&p), ["deceasedDateTime:dateTime"]);
        let p = compile("Bundle", "Bundle.entry[0].resource").unwrap();
        assert_eq!(keys(&p), ["entry.[0].resource:Resource"]);
        assert!(matches!(
            compile(
                "Patient",
                "Patient.deceased.exists() and Patient.deceased != false"
            )
            .unwrap(),
            Plan::Bool(Pred::And(..))
        ));
        // Specializations count: code, id and markdown are strings.
        let p = compile("Patient", "Patient.extension('http://x').value.as(string)").unwrap();
        assert_eq!(
            keys(&p),
            [
                "extension.where.valueCode:code",
                "extension.where.valueId:id",
                "extension.where.valueMarkdown:markdown",
                "extension.where.valueString:string"
            ]
        );
        let p = compile("Condition", "Condition.onset as Quantity").unwrap();
        assert_eq!(keys(&p), ["onsetAge:Age"]);
        let p = compile("Encounter", "Encounter.length").unwrap();
        assert_eq!(p.branches()[0].kind, VKind::Quantity);
        assert!(compile("Patient", "Patient.nope").is_err());
        assert!(compile("Patient", "Patient.name.given.extension('x')").is_err());
        assert!(compile("Patient", "Patient.name.select(given)").is_err());
        assert!(compile("Patient", "Observation.code").is_err());
    }
}
