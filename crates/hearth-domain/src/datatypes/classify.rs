//! The [`Registry`] and the classifier: which data type a FHIR resource belongs to.
//!
//! Built once from the catalogue into per-resource-type indexes: for each coded path a hash map
//! from code to the (system, type) pairs that claim it, then the category fallbacks, then the
//! resource type's catch-all named type. Classification is a handful of hash lookups and never
//! allocates beyond the returned key. Precedence, most specific first:
//! 1. a `Codes` selector (paths in catalogue order; within a path, codings in document order);
//! 2. a `Category` selector, in catalogue order;
//! 3. an `AnyOfType` named type;
//! 4. the generic `fhir:{ResourceType}`.
//!
//! Two named types claiming the same (resource type, path, system, code), or two catch-alls for
//! one resource type, are catalogue errors: building the registry panics.

use std::collections::HashMap;

use serde_json::Value;

use super::catalogue::{GENERIC, NAMED};
use super::codes::{canonical_system, for_each_at, for_each_coding, has_coding};
use super::{Classification, DataType, GENERIC_PREFIX, Selector, generic_key};

/// The named and generic data types, with the classifier's lookup tables.
#[derive(Debug)]
pub struct Registry {
    /// Named types (catalogue order), then generic types.
    all: Vec<DataType>,
    named_len: usize,
    by_key: HashMap<&'static str, usize>,
    by_rt: HashMap<&'static str, RtIndex>,
}

#[derive(Debug, Default)]
struct RtIndex {
    code_paths: Vec<CodePath>,
    /// (index into NAMED, system, codes)
    categories: Vec<(usize, &'static str, &'static [&'static str])>,
    any: Option<usize>,
}

#[derive(Debug)]
struct CodePath {
    path: &'static str,
    /// code → [(system, index into NAMED)]
    by_code: HashMap<&'static str, Vec<(&'static str, usize)>>,
}

impl Registry {
    pub(crate) fn build() -> Registry {
        let mut by_rt: HashMap<&'static str, RtIndex> = HashMap::new();
        for (i, dt) in NAMED.iter().enumerate() {
            assert!(
                !dt.key.starts_with(GENERIC_PREFIX),
                "named key {} uses the generic prefix",
                dt.key
            );
            let ix = by_rt.entry(dt.resource_type).or_default();
            add_selector(ix, i, &dt.selector);
        }
        let all: Vec<DataType> = NAMED.iter().chain(GENERIC.iter()).copied().collect();
        let mut by_key = HashMap::new();
        for (i, dt) in all.iter().enumerate() {
            assert!(
                by_key.insert(dt.key, i).is_none(),
                "duplicate data type key {}",
                dt.key
            );
        }
        Registry {
            all,
            named_len: NAMED.len(),
            by_key,
            by_rt,
        }
    }

    /// Every data type: the named types in catalogue order, then one generic `fhir:X` type per
    /// FHIR R4 resource type.
    pub fn all(&self) -> &[DataType] {
        &self.all
    }

    /// The named types only (what consent screens list).
    pub fn named(&self) -> &[DataType] {
        &self.all[..self.named_len]
    }

    /// The data type with this key (named or generic).
    pub fn get(&self, key: &str) -> Option<&DataType> {
        self.by_key.get(key).map(|&i| &self.all[i])
    }

    /// The named type a resource belongs to, else the generic type of its resource type
    /// (`fhir:Resource` if it has no `resourceType`).
    pub fn classify(&self, resource: &Value) -> Classification {
        let Some(rt) = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Classification {
                key: generic_key("Resource"),
                named: None,
            };
        };
        if let Some(i) = self.by_rt.get(rt).and_then(|ix| ix.find(resource)) {
            let dt: &'static DataType = &NAMED[i];
            return Classification {
                key: dt.key.to_string(),
                named: Some(dt),
            };
        }
        Classification {
            key: generic_key(rt),
            named: None,
        }
    }

    /// The named types whose resource type is `rt`, then its generic `fhir:{rt}` type (if `rt`
    /// is a FHIR R4 resource type).
    pub fn for_resource_type(&self, rt: &str) -> Vec<&DataType> {
        let mut out: Vec<&DataType> = self.named().iter().filter(|d| d.resource_type == rt).collect();
        out.extend(self.get(&generic_key(rt)));
        out
    }
}

fn add_selector(ix: &mut RtIndex, i: usize, sel: &Selector) {
    match *sel {
        Selector::AnyOfType => {
            assert!(
                ix.any.is_none(),
                "two catch-all types for {}",
                NAMED[i].resource_type
            );
            ix.any = Some(i);
        }
        Selector::Codes { path, system, codes } => {
            let pos = match ix.code_paths.iter().position(|c| c.path == path) {
                Some(p) => p,
                None => {
                    ix.code_paths.push(CodePath {
                        path,
                        by_code: HashMap::new(),
                    });
                    ix.code_paths.len() - 1
                }
            };
            let by_code = &mut ix.code_paths[pos].by_code;
            for &code in codes {
                let claims = by_code.entry(code).or_default();
                if let Some(&(_, other)) = claims.iter().find(|(s, _)| *s == system) {
                    panic!(
                        "{system}|{code} claimed by both {} and {}",
                        NAMED[other].key, NAMED[i].key
                    );
                }
                claims.push((system, i));
            }
        }
        Selector::Category { system, codes } => ix.categories.push((i, system, codes)),
        Selector::AnyOf(sels) => sels.iter().for_each(|s| add_selector(ix, i, s)),
    }
}

impl RtIndex {
    fn find(&self, resource: &Value) -> Option<usize> {
        for cp in &self.code_paths {
            let mut hit = None;
            for_each_at(resource, cp.path, &mut |v| {
                for_each_coding(v, &mut |system, code| {
                    if hit.is_none()
                        && let Some(claims) = cp.by_code.get(code)
                    {
                        let system = canonical_system(system);
                        hit = claims.iter().find(|(s, _)| *s == system).map(|&(_, i)| i);
                    }
                })
            });
            if hit.is_some() {
                return hit;
            }
        }
        for &(i, system, codes) in &self.categories {
            let mut hit = false;
            for_each_at(resource, "category", &mut |c| {
                hit = hit || codes.iter().any(|code| has_coding(c, system, code));
            });
            if hit {
                return Some(i);
            }
        }
        self.any
    }
}
