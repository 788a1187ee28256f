//! Browser sessions, CSRF protection and the client's address (OWASP Session Management and
//! Cross-Site Request Forgery Prevention cheat sheets; RFC 6265bis `__Host-` prefix and
//! `SameSite`).
//!
//! - The session cookie is `__Host-hearth_session` (with `Secure`) when the public address is
//!   https, else `hearth_session`; always `HttpOnly; SameSite=Lax; Path=/`. It carries the random
//!   session token; the services keep only its hash.
//! - Forms of a signed-in person carry `csrf` = hex HMAC-SHA256 keyed by the session token over
//!   a fixed label: nothing but the holder of the cookie can compute it.
//! - Forms before sign-in (sign-in, sign-up, forgotten and reset password) use a double-submit
//!   cookie `hearth_csrf` (random, `HttpOnly; SameSite=Strict`, `Secure` under TLS) matched
//!   against the hidden `csrf` field.
//! - The client address used for throttling is the TCP peer ([`ConnectInfo`]); forwarding headers
//!   are ignored, since anyone can send them.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::auth::accounts::SignedIn;
use hearth_core::auth::secrets::new_token;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::render::{self, Layout, Nav, blocking};
use crate::AppState;

const SESSION_TLS: &str = "__Host-hearth_session";
const SESSION_PLAIN: &str = "hearth_session";
/// The double-submit cookie of forms before sign-in.
pub const CSRF_COOKIE: &str = "hearth_csrf";
const CSRF_LABEL: &[u8] = b"hearth web form v1";

pub fn session_cookie_name(tls: bool) -> &'static str {
    if tls { SESSION_TLS } else { SESSION_PLAIN }
}

/// The value of cookie `name`, if the request carries it (and it is not empty).
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

fn cookie_header(text: String) -> Option<HeaderValue> {
    HeaderValue::from_str(&text).ok()
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(tls: bool, token: &str) -> Option<HeaderValue> {
    let secure = if tls { "; Secure" } else { "" };
    cookie_header(format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax{secure}",
        session_cookie_name(tls)
    ))
}

/// `Set-Cookie` that removes the session cookie.
pub fn cleared_session_cookie(tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    cookie_header(format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
        session_cookie_name(tls)
    ))
    .unwrap_or_else(|| HeaderValue::from_static("hearth_session=; Path=/; Max-Age=0"))
}

/// Adds a `Set-Cookie` header to a response.
pub fn with_cookie(mut res: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The CSRF token of a signed-in session's forms.
pub fn form_token(session_token: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(session_token.as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(CSRF_LABEL);
    hex::encode(mac.finalize().into_bytes())
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The answer to a form whose CSRF token is missing or wrong.
pub fn csrf_refused() -> Response {
    render::message(
        StatusCode::FORBIDDEN,
        Layout::public("Form expired"),
        "This form has expired",
        "The form was not sent from this site's current page. Go back, reload the page and try again.",
        None,
    )
}

/// Whether `next` is a path on this site: it starts with one `/` and cannot be read as another
/// host (`//host`, `/\host`) or carry control characters.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control());
    ok.then_some(next)
}

/// Percent-encodes a value for a query string.
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `path` with `?next=` when there is somewhere to come back to.
pub fn with_next(path: &str, next: Option<&str>) -> String {
    match next.and_then(local_path) {
        Some(n) => format!("{path}?next={}", encode(n)),
        None => path.to_string(),
    }
}

/// What the session cookie stands for on this request: nothing, a sign-in still owing its
/// second factor, or a signed-in person.
pub struct Session {
    pub token: Option<String>,
    pub signed: Option<SignedIn>,
}

impl Session {
    /// The signed-in person, if the session is complete (second factor done).
    pub fn person(&self) -> Option<Person> {
        match (&self.token, &self.signed) {
            (Some(t), Some(s)) if !s.session.mfa_pending => Some(Person {
                token: t.clone(),
                signed: s.clone(),
            }),
            _ => None,
        }
    }

    pub fn pending(&self) -> bool {
        self.signed.as_ref().is_some_and(|s| s.session.mfa_pending)
    }

    /// The CSRF token for forms of this session (pending or not).
    pub fn form_token(&self) -> Option<String> {
        self.token
            .as_deref()
            .filter(|_| self.signed.is_some())
            .map(form_token)
    }

    /// Whether `submitted` is this session's CSRF token.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        self.form_token().is_some_and(|t| same(&t, submitted))
    }

    /// Where someone without a complete session goes: the second-factor page or sign-in.
    pub fn sign_in_redirect(&self, next: Option<&str>) -> Response {
        let path = if self.pending() {
            "/sign-in/two-factor"
        } else {
            "/sign-in"
        };
        Redirect::to(&with_next(path, next)).into_response()
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let tls = state.services.auth_settings().is_tls();
        let Some(token) = read_cookie(&parts.headers, session_cookie_name(tls)) else {
            return Ok(Session {
                token: None,
                signed: None,
            });
        };
        let svc = state.services.clone();
        let t = token.clone();
        match blocking(move || svc.session(&t)).await {
            Ok(Some(signed)) => Ok(Session {
                token: Some(token),
                signed: Some(signed),
            }),
            Ok(None) => Ok(Session {
                token: None,
                signed: None,
            }),
            Err(e) => Err(render::service_error(&e, Layout::public("Error"))),
        }
    }
}

/// A signed-in person (second factor done). Extracting it from a request without one redirects
/// to sign-in, coming back to the page afterwards when it was a plain GET.
#[derive(Clone)]
pub struct Person {
    token: String,
    pub signed: SignedIn,
}

impl Person {
    pub fn account(&self) -> hearth_domain::AccountId {
        self.signed.account.id
    }

    pub fn csrf(&self) -> String {
        form_token(&self.token)
    }

    /// Whether the form carries this session's CSRF token.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        same(&self.csrf(), submitted)
    }

    pub fn layout(&self, title: &str) -> Layout {
        Layout {
            title: title.into(),
            nav: Some(Nav {
                name: self.signed.account.display_name.clone(),
                csrf: self.csrf(),
            }),
        }
    }
}

impl FromRequestParts<AppState> for Person {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        if let Some(p) = session.person() {
            return Ok(p);
        }
        let next = (parts.method == Method::GET)
            .then(|| parts.uri.path_and_query().map(|pq| pq.as_str().to_string()))
            .flatten();
        Err(session.sign_in_redirect(next.as_deref()))
    }
}

/// The double-submit CSRF cookie of forms before sign-in. A page that shows such a form sets the
/// cookie when the browser has none ([`FormCookie::attach`]); the form's POST must carry both.
pub struct FormCookie {
    value: String,
    fresh: bool,
    tls: bool,
}

impl FormCookie {
    pub fn token(&self) -> &str {
        &self.value
    }

    /// Whether the cookie came with the request and the form's field matches it.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        !self.fresh && same(&self.value, submitted)
    }

    /// Sets the cookie on a page's response when the browser did not have it yet.
    pub fn attach(&self, res: Response) -> Response {
        if !self.fresh {
            return res;
        }
        let secure = if self.tls { "; Secure" } else { "" };
        with_cookie(
            res,
            cookie_header(format!(
                "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                self.value
            )),
        )
    }
}

impl FromRequestParts<AppState> for FormCookie {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let tls = state.services.auth_settings().is_tls();
        let existing = read_cookie(&parts.headers, CSRF_COOKIE).filter(|v| {
            v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        Ok(match existing {
            Some(value) => FormCookie {
                value,
                fresh: false,
                tls,
            },
            None => FormCookie {
                value: new_token("hcf"),
                fresh: true,
                tls,
            },
        })
    }
}

/// Who is on the other end: the TCP peer's address (for throttling) and the User-Agent (shown
/// in the security log's sessions).
pub struct Client {
    pub addr: String,
    pub user_agent: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(Client { addr, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/records"), Some("/records"));
        assert_eq!(local_path("/oauth/authorize?x=1"), Some("/oauth/authorize?x=1"));
        assert_eq!(local_path("//evil.example"), None);
        assert_eq!(local_path("/\\evil.example"), None);
        assert_eq!(local_path("https://evil.example"), None);
        assert_eq!(local_path("/a\nb"), None);
        assert_eq!(
            with_next("/sign-in", Some("/a?b=c&d")),
            "/sign-in?next=%2Fa%3Fb%3Dc%26d"
        );
        assert_eq!(with_next("/sign-in", Some("//x")), "/sign-in");
    }

    #[test]
    fn form_tokens_depend_on_the_session() {
        let a = form_token("hss_a");
        assert_eq!(a.len(), 64);
        assert_eq!(a, form_token("hss_a"));
        assert_ne!(a, form_token("hss_b"));
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x_hearth_session=no; hearth_session=yes; hearth_csrf="),
        );
        assert_eq!(read_cookie(&h, "hearth_session").as_deref(), Some("yes"));
        assert_eq!(read_cookie(&h, "hearth_csrf"), None);
        assert!(
            session_cookie(true, "t")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("__Host-hearth_session=t; Path=/; HttpOnly; SameSite=Lax; Secure")
        );
    }
}
