//! Sign-in and consent: accounts' credentials and sessions, registered apps and their rules,
//! people's grants to apps, OAuth tokens, and SMART scopes (healthvault.md §3, SMART App Launch
//! 2.0, OAuth 2.1). Pure data and rules; the services decide, the stores keep.

mod app;
mod credential;
mod grant;
mod perms;
pub mod scope;
mod token;

pub use app::{AllTypes, App, AppKind, AppRule, ClientAuth, TypeSet, redirect_uri_problem};
pub use credential::{Credentials, EmailPurpose, EmailToken, Session};
pub use grant::{Grant, GrantedRule};
pub use perms::Perms;
pub use scope::{ResourceScope, ScopeContext, Scopes};
pub use token::{CodeData, SigningKey, SpendOutcome, TokenIssuer, TokenKind, TokenRecord};
