//! Registered applications and their rules (healthvault.md §3.2–3.3; OAuth 2.1 client types;
//! SMART Backend Services).
//!
//! An app declares, per data type, what it wants to do ([`AppRule`]): which of
//! create/read/update/delete, whether also while the person is away (offline, through refresh
//! tokens), whether the rule is required (granted all together or not at all) or optional
//! (ticked one by one), and the reason shown on the consent page.

use serde::{Deserialize, Serialize};

use super::Perms;
use crate::datatypes::registry;
use crate::{AppId, Timestamp};

/// How the app runs, which decides how it authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// A server-side web app that keeps a secret (or a private key).
    ConfidentialWeb,
    /// A native or browser app: public, PKCE only, no secret.
    Public,
    /// A backend service: `client_credentials` with a signed JWT assertion (SMART Backend Services).
    BackendService,
}

impl AppKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::ConfidentialWeb => "confidential-web",
            AppKind::Public => "public",
            AppKind::BackendService => "backend-service",
        }
    }
}

/// How the app proves who it is at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Public clients: nothing but the client id (and PKCE).
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with a key from the app's registered JWKS (RFC 7523).
    PrivateKeyJwt,
}

impl ClientAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// Which data types a rule covers: every type in the registry (including types added later), or
/// the listed registry keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TypeSet {
    /// Written `"*"`.
    All(AllTypes),
    Only(Vec<String>),
}

/// The `"*"` marker of [`TypeSet::All`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllTypes {
    #[serde(rename = "*")]
    Star,
}

impl TypeSet {
    pub fn all() -> Self {
        TypeSet::All(AllTypes::Star)
    }

    pub fn contains(&self, data_type: &str) -> bool {
        match self {
            TypeSet::All(_) => true,
            TypeSet::Only(v) => v.iter().any(|t| t == data_type),
        }
    }

    /// Whether every type of `other` is in `self`.
    pub fn covers(&self, other: &TypeSet) -> bool {
        match (self, other) {
            (TypeSet::All(_), _) => true,
            (TypeSet::Only(_), TypeSet::All(_)) => false,
            (TypeSet::Only(_), TypeSet::Only(o)) => o.iter().all(|t| self.contains(t)),
        }
    }

    /// Names for people, e.g. "Weight, Blood pressure" or "All data types".
    pub fn display(&self) -> String {
        match self {
            TypeSet::All(_) => "All data types".into(),
            TypeSet::Only(v) => v
                .iter()
                .map(|k| registry().get(k).map(|d| d.name).unwrap_or(k.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// One rule an app asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRule {
    /// Unique within the app; grants name the rules they cover.
    pub name: String,
    pub data_types: TypeSet,
    pub permissions: Perms,
    /// Also while the person is away (refresh tokens, backend services).
    #[serde(default)]
    pub offline: bool,
    /// Required rules are granted all together or not at all.
    #[serde(default)]
    pub required: bool,
    /// Shown to the person on the consent page.
    pub reason: String,
}

/// A registered application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub id: AppId,
    pub name: String,
    pub description: String,
    pub logo_uri: Option<String>,
    /// Compared exactly (OAuth 2.1 §4.1.3); no wildcards.
    pub redirect_uris: Vec<String>,
    pub kind: AppKind,
    pub auth_method: ClientAuth,
    /// SHA-256 (hex) of the client secret, for `client_secret_*`.
    pub secret_hash: Option<String>,
    /// The app's public keys (a JWK Set) for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    pub rules: Vec<AppRule>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A disabled app gets no tokens and its tokens stop working.
    pub disabled: bool,
}

impl App {
    pub fn rule(&self, name: &str) -> Option<&AppRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn is_confidential(&self) -> bool {
        self.auth_method != ClientAuth::None
    }

    /// Whether any rule allows acting while the person is away.
    pub fn wants_offline(&self) -> bool {
        self.rules.iter().any(|r| r.offline)
    }

    /// Checks the registration for consistency; each problem is a sentence naming the field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.id.0.trim().is_empty()
            || self.id.0.len() > 128
            || self.id.0.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            out.push("client_id must be 1–128 visible characters without spaces".into());
        }
        if self.name.trim().is_empty() {
            out.push("name is required".into());
        }
        match (self.kind, self.auth_method) {
            (AppKind::Public, ClientAuth::None) => {}
            (AppKind::Public, _) => out.push("a public app authenticates with \"none\" (PKCE only)".into()),
            (AppKind::ConfidentialWeb, ClientAuth::None) => out.push(
                "a confidential web app needs client_secret_basic, client_secret_post or private_key_jwt"
                    .into(),
            ),
            (AppKind::BackendService, m) if m != ClientAuth::PrivateKeyJwt => {
                out.push("a backend service authenticates with private_key_jwt".into())
            }
            _ => {}
        }
        if matches!(self.auth_method, ClientAuth::PrivateKeyJwt) {
            let keys = self
                .jwks
                .as_ref()
                .and_then(|j| j.get("keys"))
                .and_then(|k| k.as_array());
            if keys.is_none_or(|k| k.is_empty()) {
                out.push("private_key_jwt needs a JWK Set with at least one key in jwks".into());
            }
        }
        if self.kind != AppKind::BackendService {
            if self.redirect_uris.is_empty() {
                out.push("at least one redirect URI is required".into());
            }
            for u in &self.redirect_uris {
                if let Some(p) = redirect_uri_problem(u) {
                    out.push(format!("redirect URI {u:?}: {p}"));
                }
            }
        }
        if self.rules.is_empty() {
            out.push("an app needs at least one rule".into());
        }
        let mut names = std::collections::HashSet::new();
        for r in &self.rules {
            if !names.insert(r.name.as_str()) {
                out.push(format!("rule name {:?} is used twice", r.name));
            }
            if r.permissions.is_empty() {
                out.push(format!("rule {:?} grants no permission", r.name));
            }
            if r.reason.trim().is_empty() {
                out.push(format!("rule {:?} needs a reason to show people", r.name));
            }
            if let TypeSet::Only(types) = &r.data_types {
                if types.is_empty() {
                    out.push(format!("rule {:?} names no data type", r.name));
                }
                for t in types {
                    if registry().get(t).is_none() {
                        out.push(format!("rule {:?}: unknown data type {t:?}", r.name));
                    }
                }
            }
            if self.kind == AppKind::BackendService && !r.offline {
                out.push(format!(
                    "rule {:?}: a backend service acts only offline; set offline",
                    r.name
                ));
            }
        }
        out
    }
}

/// Why a redirect URI cannot be registered: it must be absolute, without a fragment, and use
/// https — except loopback http for native apps (RFC 8252 §7.3) and private-use schemes with a
/// dot (RFC 8252 §7.1).
pub fn redirect_uri_problem(u: &str) -> Option<&'static str> {
    if u.contains('#') {
        return Some("must not contain a fragment");
    }
    let Some((scheme, rest)) = u.split_once(':') else {
        return Some("must be an absolute URI");
    };
    match scheme {
        "https" => rest
            .starts_with("//")
            .then_some(())
            .map_or(Some("must be an absolute URI"), |_| None),
        "http" => {
            let host = rest
                .trim_start_matches("//")
                .split(['/', '?'])
                .next()
                .unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if matches!(host, "127.0.0.1" | "[::1]" | "localhost") {
                None
            } else {
                Some("http is allowed only for loopback addresses; use https")
            }
        }
        s if s.contains('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')) =>
        {
            None
        }
        _ => Some("must use https, loopback http, or a reverse-domain private scheme"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_oauth_2_1() {
        assert_eq!(redirect_uri_problem("https://app.example/cb"), None);
        assert_eq!(redirect_uri_problem("http://127.0.0.1:8123/cb"), None);
        assert_eq!(redirect_uri_problem("com.example.app:/cb"), None);
        assert!(redirect_uri_problem("http://app.example/cb").is_some());
        assert!(redirect_uri_problem("https://app.example/cb#x").is_some());
        assert!(redirect_uri_problem("/relative").is_some());
    }

    #[test]
    fn type_sets_serialise_as_star_or_list() {
        let all: TypeSet = serde_json::from_str("\"*\"").unwrap();
        assert_eq!(all, TypeSet::all());
        let some: TypeSet = serde_json::from_str("[\"weight\"]").unwrap();
        assert!(some.contains("weight") && !some.contains("height"));
        assert!(all.covers(&some) && !some.covers(&all));
        assert_eq!(serde_json::to_string(&all).unwrap(), "\"*\"");
    }
}
