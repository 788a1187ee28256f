//! Exact walk of the `Reference.reference` values of a FHIR R4 resource, guided
//! by the model's knowledge of which elements are typed `Reference`
//! (<https://hl7.org/fhir/R4/references.html>). Covers nested backbone elements,
//! extensions (`valueReference`), `_name` primitive extensions and contained
//! resources (and any other element typed `Resource`).

use serde_json::{Map, Value};

use crate::model::{Elem, Kind, Model, NodeId, Special, TypeDef, model};
use crate::path::{PathStack, Seg};

/// One reference found in a resource: `path` is the location of the Reference
/// element (e.g. `Claim.item[0].encounter[0]`), `reference` its `reference` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSite {
    pub path: String,
    pub reference: String,
}

/// All `Reference.reference` strings of a resource, in document order.
pub fn references(resource: &Value) -> Vec<RefSite> {
    let m = model();
    let mut out = Vec::new();
    let Some((rt, obj, root)) = resource_root(m, resource) else {
        return out;
    };
    let mut path = PathStack::default();
    path.push(Seg::Name(rt));
    walk_obj(m, obj, root, &mut path, &mut out);
    out
}

fn resource_root<'v>(m: &Model, v: &'v Value) -> Option<(&'v str, &'v Map<String, Value>, NodeId)> {
    let obj = v.as_object()?;
    let rt = obj.get("resourceType")?.as_str()?;
    Some((rt, obj, m.resource_type(rt)?.root))
}

fn walk_obj<'a>(
    m: &'static Model,
    obj: &'a Map<String, Value>,
    node: NodeId,
    path: &mut PathStack<'a>,
    out: &mut Vec<RefSite>,
) {
    let node = &m.nodes[node as usize];
    for (key, val) in obj {
        let (name, under) = match key.strip_prefix('_') {
            Some(n) => (n, true),
            None => (key.as_str(), false),
        };
        let Some(prop) = node.props.get(name) else {
            continue;
        };
        let elem = &node.elems[prop.elem as usize];
        let ty = &m.types[prop.ty as usize];
        // Primitive values hold no references, but their `_name` extensions may;
        // `_name` of a complex element is invalid and ignored.
        if matches!(ty.kind, Kind::Primitive(_)) != under {
            continue;
        }
        path.push(Seg::Name(key));
        match val {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    walk_value(m, item, elem, ty, path, out);
                    path.pop();
                }
            }
            _ => walk_value(m, val, elem, ty, path, out),
        }
        path.pop();
    }
}

fn walk_value<'a>(
    m: &'static Model,
    v: &'a Value,
    elem: &Elem,
    ty: &TypeDef,
    path: &mut PathStack<'a>,
    out: &mut Vec<RefSite>,
) {
    match ty.kind {
        Kind::AnyResource | Kind::Resource => {
            if let Some((_, obj, root)) = resource_root(m, v) {
                walk_obj(m, obj, root, path, out);
            }
        }
        Kind::Complex | Kind::Primitive(_) => {
            let Value::Object(o) = v else { return };
            if ty.special == Special::Reference
                && let Some(Value::String(r)) = o.get("reference")
            {
                out.push(RefSite {
                    path: path.render(None),
                    reference: r.clone(),
                });
            }
            walk_obj(m, o, elem.node.unwrap_or(ty.root), path, out);
        }
    }
}

/// Calls `f` with every Reference.reference string; if it returns Some(new), the reference is replaced.
/// Returns the number of references replaced.
pub fn rewrite_references(resource: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) -> usize {
    let m = model();
    let root = match resource_root(m, resource) {
        Some((_, _, root)) => root,
        None => return 0,
    };
    let Value::Object(obj) = resource else { return 0 };
    rewrite_obj(m, obj, root, f)
}

fn rewrite_obj(
    m: &'static Model,
    obj: &mut Map<String, Value>,
    node: NodeId,
    f: &mut dyn FnMut(&str) -> Option<String>,
) -> usize {
    let node = &m.nodes[node as usize];
    let mut n = 0;
    for (key, val) in obj.iter_mut() {
        let (name, under) = match key.strip_prefix('_') {
            Some(n) => (n, true),
            None => (key.as_str(), false),
        };
        let Some(prop) = node.props.get(name) else {
            continue;
        };
        let elem = &node.elems[prop.elem as usize];
        let ty = &m.types[prop.ty as usize];
        if matches!(ty.kind, Kind::Primitive(_)) != under {
            continue;
        }
        match val {
            Value::Array(items) => {
                for item in items {
                    n += rewrite_value(m, item, elem, ty, f);
                }
            }
            _ => n += rewrite_value(m, val, elem, ty, f),
        }
    }
    n
}

fn rewrite_value(
    m: &'static Model,
    v: &mut Value,
    elem: &Elem,
    ty: &TypeDef,
    f: &mut dyn FnMut(&str) -> Option<String>,
) -> usize {
    match ty.kind {
        Kind::AnyResource | Kind::Resource => {
            let root = match resource_root(m, v) {
                Some((_, _, root)) => root,
                None => return 0,
            };
            match v {
                Value::Object(obj) => rewrite_obj(m, obj, root, f),
                _ => 0,
            }
        }
        Kind::Complex | Kind::Primitive(_) => {
            let Value::Object(o) = v else { return 0 };
            let mut n = 0;
            if ty.special == Special::Reference
                && let Some(Value::String(r)) = o.get_mut("reference")
                && let Some(new) = f(r)
            {
                *r = new;
                n += 1;
            }
            n + rewrite_obj(m, o, elem.node.unwrap_or(ty.root), f)
        }
    }
}
