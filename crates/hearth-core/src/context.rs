//! Who is acting: a person (signed in), an app holding a token (on a person's behalf, offline, or
//! as a backend service), or the operator at the command line.

use std::sync::Arc;

use hearth_domain::auth::{Scopes, TokenIssuer};
use hearth_domain::{AccountId, Actor, AppId, RecordId};

/// What a bearer token lets its holder reach: resolved once per request from the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppAccess {
    pub app: AppId,
    /// The person the app acts for; `None` for backend services and record-bound operator tokens.
    pub account: Option<AccountId>,
    /// Whether the person is present: offline tokens use only offline rules.
    pub online: bool,
    /// The one record a `patient/` token is confined to.
    pub record: Option<RecordId>,
    pub scopes: Scopes,
    pub issuer: TokenIssuer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The server's operator (command line): full access, audited as the `hearth-cli` app.
    Operator,
    /// The operator acting through a named tool (the importer, the exporter): full access, its
    /// own client-id scope, audited under the tool's name.
    Tool(String),
    /// A signed-in person acting through Hearth's own pages.
    Person(AccountId),
    /// An app with a token: for a person (online), on its own under a standing grant
    /// (offline), or an operator-issued token.
    App(Arc<AppAccess>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub principal: Principal,
}

impl Context {
    pub fn operator() -> Self {
        Context {
            principal: Principal::Operator,
        }
    }

    /// The operator acting under a named tool (e.g. the importer), so its writes have their own
    /// client-id scope and show in the audit trail under that name.
    pub fn tool(name: &str) -> Self {
        Context {
            principal: Principal::Tool(name.into()),
        }
    }

    pub fn person(account: AccountId) -> Self {
        Context {
            principal: Principal::Person(account),
        }
    }

    pub fn app(access: AppAccess) -> Self {
        Context {
            principal: Principal::App(Arc::new(access)),
        }
    }

    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::Operator => Actor::operator(),
            Principal::Tool(name) => Actor::app(AppId(name.clone()), None, false),
            Principal::Person(a) => Actor::person(*a),
            Principal::App(a) => Actor::app(a.app.clone(), a.account, a.online),
        }
    }

    /// Whether items flagged personal are visible: to people and the operator, never to apps.
    pub fn sees_personal(&self) -> bool {
        match &self.principal {
            Principal::Operator | Principal::Tool(_) | Principal::Person(_) => true,
            Principal::App(_) => false,
        }
    }
}
