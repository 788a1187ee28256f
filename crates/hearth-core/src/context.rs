//! Who is acting: a person (signed in), an app (on a person's behalf or offline), or the operator
//! at the command line. Sign-in and app tokens arrive with the consent issue; until then, the HTTP
//! adapter has no data routes and the CLI acts as the operator.

use hearth_domain::{AccountId, Actor, AppId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The server's operator (command line): full access, audited as the `hearth-cli` app.
    Operator,
    /// The operator acting through a named tool (the importer, the exporter): full access, its
    /// own client-id scope, audited under the tool's name.
    Tool(String),
    /// A signed-in person acting through Hearth's own pages.
    Person(AccountId),
    /// An app, for a person (online) or on its own with the person's standing grant (offline).
    App {
        app: AppId,
        account: Option<AccountId>,
        online: bool,
    },
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

    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::Operator => Actor::operator(),
            Principal::Tool(name) => Actor::app(AppId(name.clone()), None, false),
            Principal::Person(a) => Actor::person(*a),
            Principal::App { app, account, online } => Actor::app(app.clone(), *account, *online),
        }
    }

    /// Whether items flagged personal are visible: to people and the operator, never to apps.
    pub fn sees_personal(&self) -> bool {
        match &self.principal {
            Principal::Operator | Principal::Tool(_) | Principal::Person(_) => true,
            Principal::App { .. } => false,
        }
    }
}
