//! Security headers on every response (OWASP Secure Headers; CSP Level 3; RFC 6797 for HSTS).
//!
//! - `Content-Security-Policy`: only this origin's scripts, styles, images and fonts; no
//!   framing; forms post only here. A page whose form ends in a redirect to an app (the OAuth
//!   consent page) widens `form-action` with that app's redirect origin, and may widen `img-src`
//!   with the app's logo origin, through a [`CspExtra`] response extension: Chromium checks
//!   `form-action` on every redirect that follows a form submission.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`.
//! - `Strict-Transport-Security` only when the public address is https.
//! - `Cache-Control: no-store` unless the handler chose a policy (the style sheet does): pages
//!   show personal data.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Sources a page adds to its Content-Security-Policy, as CSP source expressions.
#[derive(Clone, Debug, Default)]
pub struct CspExtra {
    pub form_action: Vec<String>,
    pub img_src: Vec<String>,
}

impl CspExtra {
    /// Allows a form on this page to end in a redirect to `uri` (an app's redirect URI).
    pub fn allow_redirect_to(&mut self, uri: &str) {
        if let Some(src) = source_expression(uri) {
            self.form_action.push(src);
        }
    }

    /// Allows an image from `uri`'s origin (an app's logo); https only.
    pub fn allow_image_from(&mut self, uri: &str) {
        if uri.starts_with("https://")
            && let Some(src) = source_expression(uri)
        {
            self.img_src.push(src);
        }
    }
}

/// The CSP source expression for a URI: its origin for http(s), its scheme for private-use
/// schemes (RFC 8252 native-app redirects). `None` when the URI cannot be expressed safely.
pub fn source_expression(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme = scheme.to_ascii_lowercase();
    let scheme_ok = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    if scheme == "http" || scheme == "https" {
        let authority = rest.strip_prefix("//")?.split(['/', '?', '#']).next()?;
        let host_ok = !authority.is_empty()
            && !authority.contains('@')
            && authority
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        return host_ok.then(|| format!("{scheme}://{authority}"));
    }
    // Private-use schemes are reverse domain names (RFC 8252 §7.1), never `javascript:` or `data:`.
    scheme.contains('.').then(|| format!("{scheme}:"))
}

fn policy(extra: Option<&CspExtra>) -> String {
    let mut form_action = String::from("'self'");
    let mut img_src = String::from("'self'");
    if let Some(x) = extra {
        for s in &x.form_action {
            form_action.push(' ');
            form_action.push_str(s);
        }
        for s in &x.img_src {
            img_src.push(' ');
            img_src.push_str(s);
        }
    }
    format!(
        "default-src 'self'; img-src {img_src}; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action {form_action}"
    )
}

pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let extra = res.extensions_mut().remove::<CspExtra>();
    let tls = state.services.auth_settings().is_tls();
    apply(res.headers_mut(), extra.as_ref(), tls);
    res
}

fn apply(h: &mut HeaderMap, extra: Option<&CspExtra>, tls: bool) {
    match HeaderValue::from_str(&policy(extra)) {
        Ok(v) => {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        Err(_) => {
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(
                "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            ));
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_become_origins_or_schemes() {
        assert_eq!(
            source_expression("https://app.example/cb?x=1").as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            source_expression("http://127.0.0.1:8123/cb").as_deref(),
            Some("http://127.0.0.1:8123")
        );
        assert_eq!(
            source_expression("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(source_expression("https://a.example;script-src *"), None);
        assert_eq!(source_expression("https://u@a.example/"), None);
        assert_eq!(source_expression("/relative"), None);
        assert_eq!(source_expression("javascript:alert(1)"), None);
    }

    #[test]
    fn the_policy_forbids_framing_and_widens_only_what_a_page_asks() {
        let mut x = CspExtra::default();
        x.allow_redirect_to("https://app.example/cb");
        x.allow_image_from("http://insecure.example/logo.png");
        let p = policy(Some(&x));
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(p.contains("form-action 'self' https://app.example"));
        assert!(p.contains("img-src 'self';"));
        assert!(policy(None).ends_with("form-action 'self'"));
    }
}
