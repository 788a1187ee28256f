//! The embedded FHIR R4 (4.0.1) structural model: element trees of every base
//! resource, complex and primitive type, plus enumerable required value sets.
//!
//! Generated from the official StructureDefinition snapshots by
//! `tools/fhir-model/generate.py`; decompressed and indexed once on first use.

use std::io::Read;
use std::sync::OnceLock;

use serde_json::Value;

use crate::hash::{FxMap, FxSet};
use crate::primitive::Prim;

static MODEL_GZ: &[u8] = include_bytes!("../data/r4-model.json.gz");

pub(crate) type TypeId = u32;
pub(crate) type NodeId = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A concrete resource type.
    Resource,
    /// `Resource` / `DomainResource`: any resource, identified by `resourceType`.
    AnyResource,
    Complex,
    Primitive(Prim),
}

/// Complex types that get special treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    Coding,
    CodeableConcept,
    Reference,
}

pub(crate) struct TypeDef {
    pub name: Box<str>,
    pub kind: Kind,
    pub special: Special,
    /// Children of the type's root element.
    pub root: NodeId,
}

pub(crate) struct Elem {
    /// Element name; for choice elements without the `[x]` suffix.
    pub name: Box<str>,
    /// `u32::MAX` for `*`.
    pub max: u32,
    pub choice: bool,
    /// Element.id / Extension.url: plain JSON values without a `_name` sibling.
    pub attribute: bool,
    /// Inline (BackboneElement) or `contentReference` children.
    pub node: Option<NodeId>,
    /// Index into [`Model::value_sets`] for an enumerable required binding.
    pub binding: Option<u32>,
    /// `_name` (non-choice elements only).
    pub under_key: Box<str>,
    /// JSON property names whose presence satisfies `min >= 1`.
    pub presence_keys: Box<[Box<str>]>,
}

#[derive(Clone, Copy)]
pub(crate) struct Prop {
    pub elem: u16,
    pub ty: TypeId,
}

#[derive(Default)]
pub(crate) struct Node {
    /// JSON property name (choice variants expanded, e.g. `valueQuantity`) to element.
    pub props: FxMap<Box<str>, Prop>,
    pub elems: Vec<Elem>,
    /// Indexes of elements with `min >= 1`.
    pub required: Vec<u16>,
}

pub(crate) struct ValueSet {
    pub url: Box<str>,
    pub systems: Vec<(Box<str>, FxSet<Box<str>>)>,
}

impl ValueSet {
    pub(crate) fn system(&self, system: &str) -> Option<&FxSet<Box<str>>> {
        self.systems.iter().find(|(s, _)| &**s == system).map(|(_, c)| c)
    }

    pub(crate) fn contains_code(&self, code: &str) -> bool {
        self.systems.iter().any(|(_, c)| c.contains(code))
    }
}

pub(crate) struct Model {
    pub types: Vec<TypeDef>,
    by_name: FxMap<Box<str>, TypeId>,
    pub nodes: Vec<Node>,
    pub value_sets: Vec<ValueSet>,
}

impl Model {
    pub(crate) fn type_id(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// The type of a concrete resource named `name`.
    pub(crate) fn resource_type(&self, name: &str) -> Option<&TypeDef> {
        let t = &self.types[self.type_id(name)? as usize];
        (t.kind == Kind::Resource).then_some(t)
    }
}

/// The process-wide model, loaded on first use.
pub(crate) fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(MODEL_GZ)
            .read_to_end(&mut raw)
            .expect("embedded FHIR model is valid gzip");
        let json: Value = serde_json::from_slice(&raw).expect("embedded FHIR model is valid JSON");
        build(&json)
    })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn build(json: &Value) -> Model {
    let types_json = json["types"].as_object().expect("types");
    let resources: FxSet<&str> = json["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(Value::as_str)
        .collect();

    // Pass 1: type ids and node ids (one per element path with children).
    let mut types = Vec::new();
    let mut by_name: FxMap<Box<str>, TypeId> = FxMap::default();
    let mut node_ids: Vec<FxMap<&str, NodeId>> = Vec::new();
    let mut next_node: NodeId = 0;
    for (name, t) in types_json {
        let kind = match t["kind"].as_str() {
            Some("resource") if resources.contains(name.as_str()) => Kind::Resource,
            Some("resource") => Kind::AnyResource,
            Some("primitive-type") => Kind::Primitive(Prim::from_name(name).expect("known primitive type")),
            _ => Kind::Complex,
        };
        let special = match name.as_str() {
            "Coding" => Special::Coding,
            "CodeableConcept" => Special::CodeableConcept,
            "Reference" => Special::Reference,
            _ => Special::None,
        };
        let mut ids = FxMap::default();
        ids.insert(name.as_str(), next_node);
        let root = next_node;
        next_node += 1;
        for path in t["nodes"].as_object().expect("nodes").keys() {
            if path != name {
                ids.insert(path.as_str(), next_node);
                next_node += 1;
            }
        }
        by_name.insert(name.as_str().into(), types.len() as TypeId);
        types.push(TypeDef {
            name: name.as_str().into(),
            kind,
            special,
            root,
        });
        node_ids.push(ids);
    }
    if let Some(aliases) = json["aliases"].as_object() {
        for (alias, target) in aliases {
            if let Some(&id) = target.as_str().and_then(|t| by_name.get(t)) {
                by_name.insert(alias.as_str().into(), id);
            }
        }
    }

    // Pass 2: elements.
    let mut nodes: Vec<Node> = (0..next_node).map(|_| Node::default()).collect();
    for (ti, (_, t)) in types_json.iter().enumerate() {
        let ids = &node_ids[ti];
        for (path, rows) in t["nodes"].as_object().expect("nodes") {
            let node = &mut nodes[ids[path.as_str()] as usize];
            for row in rows.as_array().expect("rows") {
                let raw_name = row[0].as_str().expect("name");
                let min = row[1].as_u64().unwrap_or(0) as u32;
                let max = match row[2].as_str() {
                    Some("*") | None => u32::MAX,
                    Some(n) => n.parse().unwrap_or(u32::MAX),
                };
                let type_ids: Vec<(String, TypeId)> = row[3]
                    .as_array()
                    .expect("types")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|c| {
                        (
                            c.to_owned(),
                            *by_name.get(c).unwrap_or_else(|| panic!("unknown type {c}")),
                        )
                    })
                    .collect();
                let extra = &row[4];
                let choice = raw_name.ends_with("[x]");
                let name = raw_name.trim_end_matches("[x]");
                let child_path = format!("{path}.{raw_name}");
                let node_ref = match extra["r"].as_str() {
                    Some(r) => Some(ids[r]),
                    None => ids.get(child_path.as_str()).copied(),
                };
                let elem_ty = match (type_ids.first(), node_ref) {
                    (Some((_, id)), _) => *id,
                    // contentReference: a BackboneElement whose children are the referenced node.
                    (None, _) => by_name["BackboneElement"],
                };
                let idx = node.elems.len() as u16;
                let mut presence: Vec<Box<str>> = Vec::new();
                if choice {
                    for (code, id) in &type_ids {
                        let key = format!("{name}{}", capitalize(code));
                        presence.push(format!("_{key}").into());
                        presence.push(key.as_str().into());
                        node.props.insert(key.into(), Prop { elem: idx, ty: *id });
                    }
                } else {
                    node.props.insert(
                        name.into(),
                        Prop {
                            elem: idx,
                            ty: elem_ty,
                        },
                    );
                    presence.push(name.into());
                    presence.push(format!("_{name}").into());
                }
                if min >= 1 {
                    node.required.push(idx);
                }
                node.elems.push(Elem {
                    name: name.into(),
                    max,
                    choice,
                    attribute: extra["a"].as_u64() == Some(1),
                    node: node_ref,
                    binding: extra["b"].as_u64().map(|b| b as u32),
                    under_key: format!("_{name}").into(),
                    presence_keys: presence.into_boxed_slice(),
                });
            }
        }
    }

    let value_sets = json["valueSets"]
        .as_array()
        .expect("valueSets")
        .iter()
        .map(|vs| ValueSet {
            url: vs["url"].as_str().unwrap_or_default().into(),
            systems: vs["systems"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(s, codes)| {
                            let set = codes
                                .as_array()
                                .map(|a| a.iter().filter_map(Value::as_str).map(Into::into).collect())
                                .unwrap_or_default();
                            (s.as_str().into(), set)
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();

    Model {
        types,
        by_name,
        nodes,
        value_sets,
    }
}
