//! Structural validation of FHIR R4 JSON resources against the embedded model,
//! following <https://hl7.org/fhir/R4/validation.html> (structure, cardinality,
//! values, required bindings; no FHIRPath invariants) and the JSON rules of
//! <https://hl7.org/fhir/R4/json.html> (choice names, `_name` primitive
//! siblings, aligned arrays, no empty elements, `resourceType`).

use serde_json::{Map, Value};

use crate::issue::{Issue, IssueCode, Severity};
use crate::model::{Elem, Kind, Model, NodeId, Special, TypeDef, model};
use crate::path::{PathStack, Seg};
use crate::primitive::{self, Prim, PrimError, json_kind};

/// Validates one resource (any `resourceType`); returns every issue found.
/// An empty result (or one with only warnings) means the resource is valid.
///
/// Issue paths start with the resource type and use the JSON property names
/// with array indexes, e.g. `Observation.component[1].valueQuantity.value`,
/// `Patient._birthDate.extension[0]`, `Observation.contained[0].status`.
pub fn validate_resource(resource: &Value) -> Vec<Issue> {
    let mut v = Validator {
        m: model(),
        path: PathStack::default(),
        issues: Vec::new(),
    };
    v.resource(resource, true);
    v.issues
}

/// Whether `name` is a concrete R4 resource type (valid as `resourceType`).
pub fn is_resource_type(name: &str) -> bool {
    model().resource_type(name).is_some()
}

/// Every concrete FHIR R4 resource type, sorted by name.
pub fn resource_types() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = model()
        .types
        .iter()
        .filter(|t| t.kind == crate::model::Kind::Resource)
        .map(|t| &*t.name)
        .collect();
    out.sort_unstable();
    out
}

/// Room for recording which choice elements were seen in one object without allocating.
const MAX_CHOICES: usize = 8;

struct Validator<'a> {
    m: &'static Model,
    path: PathStack<'a>,
    issues: Vec<Issue>,
}

impl<'a> Validator<'a> {
    #[cold]
    fn error(&mut self, code: IssueCode, child: Option<&str>, message: String) {
        let path = self.path.render(child);
        self.issues.push(Issue {
            severity: Severity::Error,
            code,
            path,
            message,
        });
    }

    fn resource(&mut self, value: &'a Value, root: bool) {
        let Value::Object(obj) = value else {
            self.error(
                IssueCode::Structure,
                None,
                format!("expected a resource (an object) but found {}", json_kind(value)),
            );
            return;
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                let msg = format!("\"resourceType\" must be a string but found {}", json_kind(other));
                self.error(IssueCode::Structure, Some("resourceType"), msg);
                return;
            }
            None => {
                let msg = "missing required element \"resourceType\"".to_owned();
                self.error(IssueCode::Required, Some("resourceType"), msg);
                return;
            }
        };
        let Some(ty) = self.m.resource_type(rt) else {
            let msg = format!("unknown resource type \"{rt}\"");
            self.error(IssueCode::Invalid, Some("resourceType"), msg);
            return;
        };
        if root {
            self.path.push(Seg::Name(rt));
        }
        if obj.len() == 1 {
            self.error(
                IssueCode::Structure,
                None,
                "empty resource (only \"resourceType\")".to_owned(),
            );
        }
        self.object(obj, ty.root, true);
        if root {
            self.path.pop();
        }
    }

    fn object(&mut self, obj: &'a Map<String, Value>, node_id: NodeId, is_resource: bool) {
        let m = self.m;
        let node = &m.nodes[node_id as usize];
        let mut choices = [u16::MAX; MAX_CHOICES];
        let mut n_choices = 0;
        for (key, val) in obj {
            let key = key.as_str();
            if key == "resourceType" && is_resource {
                continue;
            }
            let (name, under) = match key.strip_prefix('_') {
                Some(n) => (n, true),
                None => (key, false),
            };
            let Some(prop) = node.props.get(name) else {
                self.error(
                    IssueCode::Structure,
                    Some(key),
                    format!("unknown element \"{key}\""),
                );
                continue;
            };
            let elem = &node.elems[prop.elem as usize];
            let ty = &m.types[prop.ty as usize];
            if under {
                match ty.kind {
                    Kind::Primitive(_) if !elem.attribute => {
                        self.path.push(Seg::Name(key));
                        self.underscore(val, elem, ty, obj.get(name));
                        self.path.pop();
                    }
                    _ => self.error(
                        IssueCode::Structure,
                        Some(key),
                        format!("unknown element \"{key}\""),
                    ),
                }
                continue;
            }
            if elem.choice {
                if choices[..n_choices].contains(&prop.elem) {
                    let msg = format!(
                        "only one type may be given for the choice element \"{}[x]\"",
                        elem.name
                    );
                    self.error(IssueCode::Structure, Some(key), msg);
                } else if n_choices < MAX_CHOICES {
                    choices[n_choices] = prop.elem;
                    n_choices += 1;
                }
            }
            self.path.push(Seg::Name(key));
            self.element(val, elem, ty, obj);
            self.path.pop();
        }
        for &ei in &node.required {
            let e = &node.elems[ei as usize];
            if !e.presence_keys.iter().any(|k| obj.contains_key(&**k)) {
                let name = if e.choice {
                    format!("{}[x]", e.name)
                } else {
                    e.name.to_string()
                };
                self.error(
                    IssueCode::Required,
                    None,
                    format!("missing required element \"{name}\""),
                );
            }
        }
    }

    /// One JSON property (array or single value); the path already ends with its name.
    fn element(
        &mut self,
        val: &'a Value,
        elem: &'static Elem,
        ty: &'static TypeDef,
        obj: &'a Map<String, Value>,
    ) {
        match val {
            Value::Array(items) => {
                if elem.max <= 1 {
                    let msg = format!("element \"{}\" has max cardinality 1 but is an array", elem.name);
                    self.error(IssueCode::Structure, None, msg);
                    return;
                }
                if items.is_empty() {
                    self.error(
                        IssueCode::Structure,
                        None,
                        "empty array is not allowed".to_owned(),
                    );
                    return;
                }
                if elem.max != u32::MAX && items.len() > elem.max as usize {
                    let msg = format!("{} values found but max cardinality is {}", items.len(), elem.max);
                    self.error(IssueCode::Structure, None, msg);
                }
                let is_prim = matches!(ty.kind, Kind::Primitive(_));
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    if item.is_null() {
                        let has_ext = is_prim
                            && obj
                                .get(&*elem.under_key)
                                .and_then(|u| u.as_array())
                                .and_then(|u| u.get(i))
                                .is_some_and(|u| !u.is_null());
                        if !has_ext {
                            let msg = format!(
                                "null is only allowed in an array when \"{}\" has a value at the same index",
                                elem.under_key
                            );
                            self.error(IssueCode::Structure, None, msg);
                        }
                    } else {
                        self.value(item, elem, ty);
                    }
                    self.path.pop();
                }
            }
            Value::Null => {
                self.error(IssueCode::Structure, None, "null is not allowed here".to_owned());
            }
            _ => {
                if elem.max > 1 {
                    let msg = format!(
                        "element \"{}\" has max cardinality {} and must be an array but found {}",
                        elem.name,
                        if elem.max == u32::MAX {
                            "*".to_owned()
                        } else {
                            elem.max.to_string()
                        },
                        json_kind(val)
                    );
                    self.error(IssueCode::Structure, None, msg);
                } else {
                    self.value(val, elem, ty);
                }
            }
        }
    }

    /// One non-null value of an element.
    fn value(&mut self, val: &'a Value, elem: &'static Elem, ty: &'static TypeDef) {
        match ty.kind {
            Kind::Primitive(p) => {
                if let Err(e) = primitive::check(p, val) {
                    let (code, msg) = match e {
                        PrimError::Kind(m) => (IssueCode::Structure, m),
                        PrimError::Value(m) => (IssueCode::Value, m),
                    };
                    self.error(code, None, msg);
                } else if p == Prim::Code
                    && let Some(b) = elem.binding
                    && let Value::String(s) = val
                {
                    let vs = &self.m.value_sets[b as usize];
                    if !vs.contains_code(s) {
                        let msg = format!("value \"{s}\" is not in the required value set {}", vs.url);
                        self.error(IssueCode::CodeInvalid, None, msg);
                    }
                }
            }
            Kind::AnyResource | Kind::Resource => self.resource(val, false),
            Kind::Complex => {
                let Value::Object(o) = val else {
                    let msg = format!("expected an object ({}) but found {}", ty.name, json_kind(val));
                    self.error(IssueCode::Structure, None, msg);
                    return;
                };
                if o.is_empty() {
                    self.error(
                        IssueCode::Structure,
                        None,
                        "empty object is not allowed".to_owned(),
                    );
                    return;
                }
                self.object(o, elem.node.unwrap_or(ty.root), false);
                if let Some(b) = elem.binding {
                    match ty.special {
                        Special::Coding => self.coding(o, b),
                        Special::CodeableConcept => {
                            if let Some(Value::Array(codings)) = o.get("coding") {
                                self.path.push(Seg::Name("coding"));
                                for (i, c) in codings.iter().enumerate() {
                                    if let Value::Object(c) = c {
                                        self.path.push(Seg::Index(i));
                                        self.coding(c, b);
                                        self.path.pop();
                                    }
                                }
                                self.path.pop();
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// A Coding under a required binding: checked when its system is one of the value set's.
    fn coding(&mut self, c: &'a Map<String, Value>, binding: u32) {
        let (Some(Value::String(system)), Some(Value::String(code))) = (c.get("system"), c.get("code"))
        else {
            return;
        };
        let vs = &self.m.value_sets[binding as usize];
        if let Some(codes) = vs.system(system)
            && !codes.contains(code.as_str())
        {
            let msg = format!(
                "value \"{code}\" (system {system}) is not in the required value set {}",
                vs.url
            );
            self.error(IssueCode::CodeInvalid, Some("code"), msg);
        }
    }

    /// `_name`: the id/extensions of a primitive (object, or an array aligned with `name`).
    fn underscore(
        &mut self,
        val: &'a Value,
        elem: &'static Elem,
        ty: &'static TypeDef,
        primary: Option<&Value>,
    ) {
        match val {
            Value::Array(items) => {
                if elem.max <= 1 {
                    let msg = format!(
                        "element \"{}\" has max cardinality 1 but is an array",
                        elem.under_key
                    );
                    self.error(IssueCode::Structure, None, msg);
                    return;
                }
                if items.is_empty() {
                    self.error(
                        IssueCode::Structure,
                        None,
                        "empty array is not allowed".to_owned(),
                    );
                    return;
                }
                let primary = match primary {
                    Some(Value::Array(p)) => Some(p),
                    _ => None,
                };
                if let Some(p) = primary
                    && p.len() != items.len()
                {
                    let msg = format!(
                        "\"{}\" has {} entries but \"{}\" has {}; the arrays must be aligned",
                        elem.under_key,
                        items.len(),
                        elem.name,
                        p.len()
                    );
                    self.error(IssueCode::Structure, None, msg);
                }
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    match item {
                        Value::Null => {
                            if primary.is_none() {
                                let msg = format!(
                                    "null is only allowed in \"{}\" when \"{}\" has a value at the same index",
                                    elem.under_key, elem.name
                                );
                                self.error(IssueCode::Structure, None, msg);
                            }
                        }
                        other => self.primitive_element(other, ty),
                    }
                    self.path.pop();
                }
            }
            Value::Null => self.error(IssueCode::Structure, None, "null is not allowed here".to_owned()),
            other => {
                if elem.max > 1 {
                    let msg = format!(
                        "element \"{}\" must be an array but found {}",
                        elem.under_key,
                        json_kind(other)
                    );
                    self.error(IssueCode::Structure, None, msg);
                } else {
                    self.primitive_element(other, ty);
                }
            }
        }
    }

    fn primitive_element(&mut self, val: &'a Value, ty: &'static TypeDef) {
        match val {
            Value::Object(o) if o.is_empty() => {
                self.error(
                    IssueCode::Structure,
                    None,
                    "empty object is not allowed".to_owned(),
                );
            }
            Value::Object(o) => self.object(o, ty.root, false),
            other => {
                let msg = format!(
                    "expected an object (id/extension of a primitive) but found {}",
                    json_kind(other)
                );
                self.error(IssueCode::Structure, None, msg);
            }
        }
    }
}
