//! Security headers on every page; HSTS and `__Host-` cookies only under https.

use reqwest::{Client, StatusCode};

use crate::common::*;

#[tokio::test]
async fn security_headers_on_every_page_and_hsts_only_under_https() {
    let s = TestServer::start(false).await;
    let c = browser();
    for path in [
        "/sign-in",
        "/sign-up",
        "/forgot-password",
        "/no-such-page",
        "/records",
    ] {
        let p = get(&c, &s, path).await;
        let csp = p.header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("form-action 'self'"), "{path}: {csp}");
        assert_eq!(p.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(p.header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(p.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(p.header("cache-control"), "no-store", "{path}");
        assert_eq!(
            p.header("strict-transport-security"),
            "",
            "{path}: no HSTS over http"
        );
    }
    let css = get(&c, &s, "/static/hearth.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.body.contains(":focus-visible"));
    s.stop().await;

    // Under https: HSTS, and the session cookie takes the __Host- prefix with Secure.
    let s = TestServer::start(true).await;
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = page(c.get(s.url("/sign-up")).send().await.unwrap()).await;
    assert_eq!(form.header("strict-transport-security"), "max-age=31536000");
    let csrf_cookie = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("hearth_csrf="))
        .unwrap();
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
    let cookie = csrf_cookie.split(';').next().unwrap().to_string();
    let csrf = form.csrf();
    let send = |path: &str, fields: &[(&str, &str)]| {
        c.post(s.url(path))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(urlencoded(fields))
            .send()
    };
    let up = send(
        "/sign-up",
        &[
            ("email", "fay@example.org"),
            ("name", "Fay Example"),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ],
    )
    .await
    .unwrap();
    assert_eq!(up.status(), StatusCode::OK);
    let link = mailed_link(&s, "fay@example.org", "/verify-email?token=").unwrap();
    assert_eq!(c.get(s.url(&link)).send().await.unwrap().status(), StatusCode::OK);
    let signed = page(
        send(
            "/sign-in",
            &[
                ("email", "fay@example.org"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let session = signed
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-hearth_session="))
        .unwrap();
    for flag in ["; Path=/", "; HttpOnly", "; SameSite=Lax", "; Secure"] {
        assert!(session.contains(flag), "{flag} in {session}");
    }
    assert_eq!(signed.header("strict-transport-security"), "max-age=31536000");
    s.stop().await;
}
