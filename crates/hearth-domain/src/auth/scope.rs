//! SMART App Launch 2.0 scopes (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)
//! and how they map onto Hearth's data types.
//!
//! Grammar: `(patient|user|system)/(ResourceType|*).(cruds letters)[?param=system|code]`, plus
//! the v1 forms `.read`, `.write` and `.*`, and the non-resource scopes `openid`, `fhirUser`,
//! `profile`, `launch`, `launch/patient`, `offline_access` and `online_access`. A resource scope
//! covers every data type whose resource type matches; with `?code=` or `?category=` it covers
//! the named data types selected by that code.

use std::fmt;

use super::Perms;
use crate::datatypes::{DataType, Selector, canonical_system, registry};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeContext {
    Patient,
    User,
    System,
}

impl ScopeContext {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeContext::Patient => "patient",
            ScopeContext::User => "user",
            ScopeContext::System => "system",
        }
    }
}

/// A search-parameter restriction on a resource scope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopeFilter {
    /// `code` or `category`.
    pub param: String,
    pub system: String,
    pub code: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceScope {
    pub context: ScopeContext,
    /// `None` for `*`.
    pub resource_type: Option<String>,
    pub perms: Perms,
    pub filter: Option<ScopeFilter>,
}

impl ResourceScope {
    /// Whether the scope reaches items of `dt`.
    pub fn covers(&self, dt: &DataType) -> bool {
        if let Some(rt) = &self.resource_type
            && rt != dt.resource_type
        {
            return false;
        }
        match &self.filter {
            None => true,
            Some(f) => selector_matches(&dt.selector, f),
        }
    }
}

fn selector_matches(sel: &Selector, f: &ScopeFilter) -> bool {
    let sys = canonical_system(&f.system);
    match sel {
        Selector::Codes { system, codes, .. } => {
            f.param == "code" && canonical_system(system) == sys && codes.contains(&f.code.as_str())
        }
        Selector::Category { system, codes } => {
            f.param == "category" && canonical_system(system) == sys && codes.contains(&f.code.as_str())
        }
        Selector::AnyOf(list) => list.iter().any(|s| selector_matches(s, f)),
        Selector::AnyOfType => false,
    }
}

impl fmt::Display for ResourceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}.{}",
            self.context.as_str(),
            self.resource_type.as_deref().unwrap_or("*"),
            self.perms.smart()
        )?;
        if let Some(flt) = &self.filter {
            write!(f, "?{}={}|{}", flt.param, flt.system, flt.code)?;
        }
        Ok(())
    }
}

/// A parsed `scope` parameter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    pub resources: Vec<ResourceScope>,
    pub openid: bool,
    pub fhir_user: bool,
    pub profile: bool,
    pub launch: bool,
    pub launch_patient: bool,
    pub offline_access: bool,
    pub online_access: bool,
}

impl Scopes {
    /// Parses a space-separated scope string. Unknown non-resource scopes are ignored (RFC 6749
    /// §3.3 lets the server grant less); a malformed resource scope is an error naming it.
    pub fn parse(s: &str) -> Result<Scopes, String> {
        let mut out = Scopes::default();
        for tok in s.split_ascii_whitespace() {
            match tok {
                "openid" => out.openid = true,
                "fhirUser" => out.fhir_user = true,
                "profile" => out.profile = true,
                "launch" => out.launch = true,
                "launch/patient" => out.launch_patient = true,
                "offline_access" => out.offline_access = true,
                "online_access" => out.online_access = true,
                t if t.starts_with("patient/") || t.starts_with("user/") || t.starts_with("system/") => {
                    let r = parse_resource_scope(t).map_err(|why| format!("scope {t:?}: {why}"))?;
                    if !out.resources.contains(&r) {
                        out.resources.push(r);
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// What the resource scopes allow on a data type (by registry key).
    pub fn perms_for(&self, data_type: &str) -> Perms {
        let Some(dt) = registry().get(data_type) else {
            return Perms::NONE;
        };
        self.resources
            .iter()
            .filter(|r| r.covers(dt))
            .fold(Perms::NONE, |p, r| p.union(r.perms))
    }

    pub fn has_context(&self, c: ScopeContext) -> bool {
        self.resources.iter().any(|r| r.context == c)
    }

    /// The data types the resource scopes reach, with what they allow on each.
    pub fn data_types(&self) -> Vec<(&'static DataType, Perms)> {
        registry()
            .all()
            .iter()
            .map(|dt| (dt, self.perms_for(dt.key)))
            .filter(|(_, p)| !p.is_empty())
            .collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        for (on, name) in [
            (self.openid, "openid"),
            (self.fhir_user, "fhirUser"),
            (self.profile, "profile"),
            (self.launch, "launch"),
            (self.launch_patient, "launch/patient"),
            (self.offline_access, "offline_access"),
            (self.online_access, "online_access"),
        ] {
            if on {
                parts.push(name.into());
            }
        }
        parts.extend(self.resources.iter().map(|r| r.to_string()));
        f.write_str(&parts.join(" "))
    }
}

fn parse_resource_scope(t: &str) -> Result<ResourceScope, &'static str> {
    let (ctx, rest) = t.split_once('/').ok_or("missing context")?;
    let context = match ctx {
        "patient" => ScopeContext::Patient,
        "user" => ScopeContext::User,
        "system" => ScopeContext::System,
        _ => return Err("context must be patient, user or system"),
    };
    let (body, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (rt, perms) = body.rsplit_once('.').ok_or("expected ResourceType.permissions")?;
    let resource_type = match rt {
        "*" => None,
        rt if crate::datatypes::registry().for_resource_type(rt).is_empty() => {
            return Err("unknown FHIR resource type");
        }
        rt => Some(rt.to_string()),
    };
    let perms = match perms {
        "read" => Perms::READ,
        "write" => Perms::WRITE,
        "*" => Perms::ALL,
        p => Perms::parse_smart(p).ok_or("permissions must be letters of \"cruds\" in that order")?,
    };
    let filter = match query {
        None => None,
        Some(q) => {
            let (param, value) = q.split_once('=').ok_or("expected ?param=system|code")?;
            if param != "code" && param != "category" {
                return Err("only code and category restrictions are supported");
            }
            if q.contains('&') {
                return Err("only one restriction per scope is supported");
            }
            let value = percent_decode(value).ok_or("malformed percent-encoding")?;
            let (system, code) = value.split_once('|').ok_or("expected system|code")?;
            if system.is_empty() || code.is_empty() {
                return Err("expected system|code");
            }
            Some(ScopeFilter {
                param: param.into(),
                system: system.into(),
                code: code.into(),
            })
        }
    };
    Ok(ResourceScope {
        context,
        resource_type,
        perms,
        filter,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Narrows `requested` to what `allowed` (per data type) permits: a scope whose every data type
/// keeps all its permissions stays as it is; otherwise it is replaced by the narrower scopes
/// that still hold (per resource type, then per named type by its code). Never claims more than
/// `allowed`.
pub fn narrow(requested: &Scopes, allowed: impl Fn(&str) -> Perms) -> Scopes {
    let mut out = Scopes {
        resources: Vec::new(),
        ..requested.clone()
    };
    let mut push = |r: ResourceScope| {
        if !out.resources.contains(&r) {
            out.resources.push(r);
        }
    };
    for s in &requested.resources {
        let types: Vec<&DataType> = registry()
            .all()
            .iter()
            .filter(|dt| s.covers(dt) && can_hold_items(dt))
            .collect();
        let all = types.iter().fold(s.perms, |p, dt| p.intersect(allowed(dt.key)));
        if all == s.perms {
            push(s.clone());
            continue;
        }
        // Per resource type.
        let mut rts: Vec<&str> = types.iter().map(|d| d.resource_type).collect();
        rts.dedup();
        for rt in rts {
            let of_rt: Vec<&&DataType> = types.iter().filter(|d| d.resource_type == rt).collect();
            let p = of_rt.iter().fold(s.perms, |p, dt| p.intersect(allowed(dt.key)));
            if !p.is_empty() && s.filter.is_none() {
                push(ResourceScope {
                    resource_type: Some(rt.into()),
                    perms: p,
                    ..s.clone()
                });
                if p == s.perms {
                    continue;
                }
            }
            // Per named type, by the first code of its selector.
            for dt in of_rt {
                let p = s.perms.intersect(allowed(dt.key));
                if p.is_empty() {
                    continue;
                }
                if let Some(filter) = first_code(&dt.selector) {
                    push(ResourceScope {
                        resource_type: Some(rt.into()),
                        perms: p,
                        filter: Some(filter),
                        ..s.clone()
                    });
                }
            }
        }
    }
    out
}

/// A generic `fhir:X` type holds nothing when a named type claims every X.
fn can_hold_items(dt: &DataType) -> bool {
    fn claims_all(sel: &Selector) -> bool {
        match sel {
            Selector::AnyOfType => true,
            Selector::AnyOf(list) => list.iter().any(claims_all),
            _ => false,
        }
    }
    !dt.is_generic()
        || !registry()
            .named()
            .iter()
            .any(|n| n.resource_type == dt.resource_type && claims_all(&n.selector))
}

fn first_code(sel: &Selector) -> Option<ScopeFilter> {
    match sel {
        Selector::Codes { system, codes, .. } => codes.first().map(|c| ScopeFilter {
            param: "code".into(),
            system: (*system).into(),
            code: (*c).into(),
        }),
        Selector::Category { system, codes } => codes.first().map(|c| ScopeFilter {
            param: "category".into(),
            system: (*system).into(),
            code: (*c).into(),
        }),
        Selector::AnyOf(list) => list.iter().find_map(first_code),
        Selector::AnyOfType => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_v1_and_filtered_scopes_parse() {
        let s = Scopes::parse(
            "openid fhirUser launch/patient offline_access patient/Observation.rs \
             patient/Observation.rs?code=http://loinc.org|29463-7 user/*.cruds patient/Condition.read unknown",
        )
        .unwrap();
        assert!(s.openid && s.fhir_user && s.launch_patient && s.offline_access);
        assert_eq!(s.resources.len(), 4);
        assert_eq!(s.perms_for("weight"), Perms::ALL);
        let only_weight = Scopes::parse("patient/Observation.rs?code=http://loinc.org|29463-7").unwrap();
        assert_eq!(only_weight.perms_for("weight"), Perms::READ);
        assert_eq!(only_weight.perms_for("height"), Perms::NONE);
        assert_eq!(only_weight.perms_for("fhir:Observation"), Perms::NONE);
        assert!(Scopes::parse("patient/Nope.rs").is_err());
        assert!(Scopes::parse("patient/Observation.sr").is_err());
        assert_eq!(
            only_weight.to_string(),
            "patient/Observation.rs?code=http://loinc.org|29463-7"
        );
    }

    #[test]
    fn narrowing_never_claims_more_than_allowed() {
        let req = Scopes::parse("openid patient/Observation.cruds patient/Condition.rs").unwrap();
        let narrowed = narrow(&req, |t| if t == "weight" { Perms::READ } else { Perms::NONE });
        assert!(narrowed.openid);
        assert_eq!(narrowed.perms_for("weight"), Perms::READ);
        assert_eq!(narrowed.perms_for("height"), Perms::NONE);
        assert_eq!(narrowed.perms_for("fhir:Condition"), Perms::NONE);
        let full = narrow(&req, |_| Perms::ALL);
        assert_eq!(full, req);
        // Every Condition is of the named type "condition": granting it keeps the scope whole.
        let cond = narrow(&req, |t| {
            if t == "condition" {
                Perms::READ
            } else {
                Perms::NONE
            }
        });
        assert_eq!(cond.to_string(), "openid patient/Condition.rs");
    }
}
