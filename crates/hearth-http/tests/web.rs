//! The web pages over real HTTP: the router served on 127.0.0.1:0 over a SQLite store in a
//! temporary directory, a manual clock, and mail written to the temporary outbox. Each test
//! starts its own server.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_core::auth::accounts::{CHECK_EMAIL, SIGN_IN_FAILED};
use hearth_core::auth::apps::AppRegistration;
use hearth_core::auth::{AuthSettings, OutboxMailer};
use hearth_core::{Context, Services};
use hearth_domain::auth::{AppKind, AppRule, Perms, TypeSet};
use hearth_domain::time::ManualClock;
use hearth_domain::{AccessLevel, RecordId, Relationship, Timestamp};
use hearth_http::{AppState, serve};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const PASSWORD: &str = "plum-kettle-orbit-7-sandal";
const NEW_PASSWORD: &str = "violet-harbour-cactus-42-lantern";

struct TestServer {
    base: String,
    public_url: String,
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    services: Arc<Services>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server whose public address is its own http address, or `https://hearth.test` with `tls`.
    async fn start(tls: bool) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("hearth.db")).unwrap();
        let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000_000)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let public_url = if tls {
            "https://hearth.test".to_string()
        } else {
            base.clone()
        };
        let settings = AuthSettings {
            public_url: public_url.clone(),
            ..AuthSettings::default()
        };
        let mailer =
            OutboxMailer::new(dir.path().join("outbox"), "Hearth <hearth@localhost>".into()).unwrap();
        let services = Arc::new(
            Services::new(Arc::new(store), Arc::new(blobs), clock.clone())
                .with_auth(settings, Arc::new(mailer)),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            AppState {
                services: services.clone(),
            },
            async {
                let _ = stopped.await;
            },
        ));
        TestServer {
            base,
            public_url,
            dir,
            clock,
            services,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// The Unix time the services see now.
    fn unix_now(&self) -> u64 {
        (self.services.now().0 / 1_000_000) as u64
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).unwrap();
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// A browser: keeps cookies, does not follow redirects (the tests look at them).
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

async fn page(res: reqwest::Response) -> Page {
    Page {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

async fn get(c: &Client, s: &TestServer, path: &str) -> Page {
    page(c.get(s.url(path)).send().await.unwrap()).await
}

fn urlencoded(fields: &[(&str, &str)]) -> String {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.finish()
}

async fn post(c: &Client, s: &TestServer, path: &str, fields: &[(&str, &str)]) -> Page {
    let res = c
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(fields))
        .send()
        .await
        .unwrap();
    page(res).await
}

/// Reverses askama's HTML escaping of attribute values and text.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The value of the first `<input type="hidden" name="{name}" value="…">`.
fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("type=\"hidden\" name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(unescape(&body[start..end]))
}

/// Every hidden field of the first form posting to `action`.
fn hidden_fields(body: &str, action: &str) -> Vec<(String, String)> {
    let start = body.find(&format!("action=\"{action}\"")).unwrap();
    let form = &body[start..start + body[start..].find("</form>").unwrap()];
    let mut out = Vec::new();
    let mut rest = form;
    let marker = "type=\"hidden\" name=\"";
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let name_end = rest.find('"').unwrap();
        let name = rest[..name_end].to_string();
        let v = rest.find("value=\"").unwrap() + "value=\"".len();
        let v_end = rest[v..].find('"').unwrap() + v;
        out.push((name, unescape(&rest[v..v_end])));
        rest = &rest[v_end..];
    }
    out
}

/// The text between `before` and the next `after`.
fn between<'a>(body: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let start = body.find(before)? + before.len();
    let end = body[start..].find(after)? + start;
    Some(&body[start..end])
}

/// The newest mail to `to` whose body holds `path`, as the link in it (made relative).
fn mailed_link(s: &TestServer, to: &str, path: &str) -> Option<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(s.outbox())
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files.iter().rev().find_map(|f| {
        let text = std::fs::read_to_string(f).unwrap();
        if !text.contains(&format!("To: {to}\r\n")) {
            return None;
        }
        text.lines()
            .find(|l| l.starts_with(&s.public_url) && l.contains(path))
            .map(|l| l.trim()[s.public_url.len()..].to_string())
    })
}

fn mails_to(dir: &Path, to: &str) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter(|e| {
                let p = e.as_ref().unwrap().path();
                std::fs::read_to_string(p)
                    .unwrap()
                    .contains(&format!("To: {to}\r\n"))
            })
            .count()
        })
        .unwrap_or(0)
}

/// Signs up and confirms the address through the emailed link.
async fn register(s: &TestServer, c: &Client, email: &str, name: &str) {
    let form = get(c, s, "/sign-up").await;
    let csrf = form.csrf();
    let done = post(
        c,
        s,
        "/sign-up",
        &[
            ("email", email),
            ("name", name),
            ("password", PASSWORD),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let link = mailed_link(s, email, "/verify-email?token=").expect("a verification mail");
    let verified = get(c, s, &link).await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
}

async fn sign_in(s: &TestServer, c: &Client, email: &str, password: &str, next: &str) -> Page {
    let form = get(c, s, "/sign-in").await;
    let csrf = form.csrf();
    post(
        c,
        s,
        "/sign-in",
        &[
            ("email", email),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ],
    )
    .await
}

/// The CSRF token of a signed-in page.
async fn page_csrf(s: &TestServer, c: &Client, path: &str) -> String {
    let p = get(c, s, path).await;
    assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
    p.csrf()
}

async fn sign_out(s: &TestServer, c: &Client) {
    let csrf = page_csrf(s, c, "/records").await;
    let out = post(c, s, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sign_up_verify_sign_in_csrf_and_sign_out() {
    let s = TestServer::start(false).await;
    let c = browser();

    let form = get(&c, &s, "/sign-up").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf_cookie = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("hearth_csrf="))
        .unwrap();
    assert!(
        csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"),
        "{csrf_cookie}"
    );
    assert!(
        !csrf_cookie.contains("Secure"),
        "no Secure over http: {csrf_cookie}"
    );
    let csrf = form.csrf();
    for field in [
        "name=\"email\"",
        "name=\"name\"",
        "name=\"password\"",
        "<label for=\"password\">",
    ] {
        assert!(form.body.contains(field), "{field}");
    }
    assert_eq!(form.body.matches("<h1>").count(), 1);

    let no_csrf = post(
        &c,
        &s,
        "/sign-up",
        &[
            ("email", "ann@example.org"),
            ("name", "Ann"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let weak = post(
        &c,
        &s,
        "/sign-up",
        &[
            ("email", "ann@example.org"),
            ("name", "Ann Example"),
            ("password", "password123"),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(
        weak.body.contains("id=\"password-error\" role=\"alert\""),
        "{}",
        weak.body
    );
    assert!(
        weak.body.contains("value=\"ann@example.org\""),
        "the email is kept"
    );

    let fields = [
        ("email", "ann@example.org"),
        ("name", "Ann Example"),
        ("password", PASSWORD),
        ("csrf", csrf.as_str()),
    ];
    let first = post(&c, &s, "/sign-up", &fields).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains(CHECK_EMAIL));
    let again = post(&c, &s, "/sign-up", &fields).await;
    assert_eq!(
        (again.status, again.body),
        (StatusCode::OK, first.body),
        "a taken address answers the same"
    );

    let unverified = sign_in(&s, &c, "ann@example.org", PASSWORD, "").await;
    assert_eq!(unverified.status, StatusCode::FORBIDDEN);
    assert!(
        unverified.body.contains("Confirm your email address first"),
        "{}",
        unverified.body
    );

    let link = mailed_link(&s, "ann@example.org", "/verify-email?token=").unwrap();
    let confirmed = get(&c, &s, &link).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    assert!(confirmed.body.contains("href=\"/sign-in\""));
    let reused = get(&c, &s, &link).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);

    // Sign-in refuses a form without the double-submit token, and never follows `next` off-site.
    let bare = post(
        &c,
        &s,
        "/sign-in",
        &[("email", "ann@example.org"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    let signed = sign_in(&s, &c, "ann@example.org", PASSWORD, "//evil.example/").await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location(), "/records");
    let cookie = signed
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("hearth_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");

    let records = get(&c, &s, "/records").await;
    assert_eq!(records.status, StatusCode::OK);
    assert!(records.body.contains("Ann Example") && records.body.contains("Myself"));
    assert_eq!(get(&c, &s, "/").await.location(), "/records");

    let refused = post(&c, &s, "/records", &[("name", "Rex"), ("relationship", "pet")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let forged = post(
        &c,
        &s,
        "/records",
        &[
            ("name", "Rex"),
            ("relationship", "pet"),
            ("csrf", "0".repeat(64).as_str()),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let without = post(&c, &s, "/sign-out", &[]).await;
    assert_eq!(
        without.status,
        StatusCode::FORBIDDEN,
        "sign-out needs the token too"
    );

    let csrf = records.csrf();
    let out = post(&c, &s, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/sign-in?notice=signed-out");
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("hearth_session=;") && c.contains("Max-Age=0"))
    );
    let after = get(&c, &s, "/records").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location(), "/sign-in?next=%2Frecords");

    // `next` brings the person back after signing in.
    let back = sign_in(&s, &c, "ann@example.org", PASSWORD, "/account").await;
    assert_eq!(back.location(), "/account");
    s.stop().await;
}

#[tokio::test]
async fn wrong_passwords_are_throttled_the_same_for_unknown_emails() {
    let s = TestServer::start(false).await;
    let c = browser();
    register(&s, &c, "bob@example.org", "Bob Example").await;

    let mut answers: Vec<Vec<(StatusCode, String, String)>> = Vec::new();
    for email in ["bob@example.org", "nobody@example.org"] {
        let mut seen = Vec::new();
        for _ in 0..7 {
            let p = sign_in(&s, &c, email, "not-the-password-at-all", "").await;
            let body = p.body.replace(email, "EMAIL");
            seen.push((p.status, p.header("retry-after").to_string(), body));
        }
        answers.push(seen);
    }
    let registered = &answers[0];
    for (status, retry, body) in &registered[..6] {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert!(retry.is_empty());
        assert!(body.contains(SIGN_IN_FAILED) && body.contains("role=\"alert\""));
    }
    let (status, retry, body) = &registered[6];
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry, "1");
    assert!(
        body.contains("Too many attempts; try again in 1 seconds"),
        "{body}"
    );
    assert_eq!(
        answers[0], answers[1],
        "an unregistered email gets exactly the same answers"
    );

    // Still locked: even the right password waits.
    let locked = sign_in(&s, &c, "bob@example.org", PASSWORD, "").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    s.clock.advance_seconds(2);
    let ok = sign_in(&s, &c, "bob@example.org", PASSWORD, "").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    s.stop().await;
}

#[tokio::test]
async fn forgotten_password_answers_alike_and_the_emailed_link_resets_it() {
    let s = TestServer::start(false).await;
    let c = browser();
    register(&s, &c, "cy@example.org", "Cy Example").await;

    let form = get(&c, &s, "/forgot-password").await;
    assert!(form.body.contains("name=\"email\""));
    let csrf = form.csrf();
    let known = post(
        &c,
        &s,
        "/forgot-password",
        &[("email", "cy@example.org"), ("csrf", &csrf)],
    )
    .await;
    let unknown = post(
        &c,
        &s,
        "/forgot-password",
        &[("email", "nobody@example.org"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(known.status, StatusCode::OK);
    assert!(known.body.contains(CHECK_EMAIL));
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(mails_to(&s.outbox(), "nobody@example.org"), 0);
    let no_csrf = post(&c, &s, "/forgot-password", &[("email", "cy@example.org")]).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    let link = mailed_link(&s, "cy@example.org", "/reset-password?token=").unwrap();
    let reset = get(&c, &s, &link).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert!(reset.body.contains("name=\"password\""));
    let csrf = reset.csrf();
    let weak = post(&c, &s, &link, &[("password", "password123"), ("csrf", &csrf)]).await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("id=\"password-error\""), "{}", weak.body);
    let done = post(&c, &s, &link, &[("password", NEW_PASSWORD), ("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/sign-in?notice=password-reset");
    let spent = post(&c, &s, &link, &[("password", NEW_PASSWORD), ("csrf", &csrf)]).await;
    assert_eq!(spent.status, StatusCode::BAD_REQUEST);
    assert!(spent.body.contains("href=\"/forgot-password\""));

    assert_eq!(
        sign_in(&s, &c, "cy@example.org", PASSWORD, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&s, &c, "cy@example.org", NEW_PASSWORD, "").await.status,
        StatusCode::SEE_OTHER
    );
    s.stop().await;
}

#[tokio::test]
async fn two_factor_with_totp_codes_throttling_and_recovery_codes() {
    let s = TestServer::start(false).await;
    let c = browser();
    register(&s, &c, "dee@example.org", "Dee Example").await;
    assert_eq!(
        sign_in(&s, &c, "dee@example.org", PASSWORD, "").await.status,
        StatusCode::SEE_OTHER
    );

    let account = get(&c, &s, "/account").await;
    assert!(
        account
            .body
            .contains("Two-factor sign-in is <strong>off</strong>")
    );
    assert!(
        account.body.contains("<td>Sign in</td>"),
        "the security log lists the sign-in"
    );
    let csrf = account.csrf();
    let setup = post(&c, &s, "/account/two-factor/begin", &[("csrf", &csrf)]).await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let secret = between(
        &setup.body,
        "<code id=\"totp-secret\" class=\"secret\">",
        "</code>",
    )
    .unwrap()
    .to_string();
    let uri = unescape(between(&setup.body, "<code id=\"totp-uri\" class=\"secret\">", "</code>").unwrap());
    assert!(
        uri.starts_with("otpauth://totp/Hearth:dee%40example.org?secret="),
        "{uri}"
    );
    assert!(
        setup.body.contains("<a href=\"otpauth://totp/"),
        "the URI is a link too"
    );

    let wrong = post(
        &c,
        &s,
        "/account/two-factor/enable",
        &[("code", "12345"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("role=\"alert\""));
    let code = hearth_core::auth::totp::code_at(&secret, s.unix_now()).unwrap();
    let enabled = post(
        &c,
        &s,
        "/account/two-factor/enable",
        &[("code", &code), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    let list = between(
        &enabled.body,
        "<ul class=\"codes\" id=\"recovery-codes\">",
        "</ul>",
    )
    .unwrap();
    let recovery: Vec<String> = list
        .split("<code>")
        .skip(1)
        .map(|p| p[..p.find("</code>").unwrap()].to_string())
        .collect();
    assert_eq!(recovery.len(), 10);
    let account = get(&c, &s, "/account").await;
    assert!(
        account
            .body
            .contains("Two-factor sign-in is <strong>on</strong>. Recovery codes left: 10.")
    );

    // Signing in now stops at the second factor; a pending session reaches nothing else.
    sign_out(&s, &c).await;
    let half = sign_in(&s, &c, "dee@example.org", PASSWORD, "/account").await;
    assert_eq!(half.location(), "/sign-in/two-factor?next=%2Faccount");
    assert_eq!(
        get(&c, &s, "/records").await.location(),
        "/sign-in/two-factor?next=%2Frecords"
    );
    let two = get(&c, &s, "/sign-in/two-factor?next=%2Faccount").await;
    assert!(two.body.contains("name=\"code\""));
    let csrf = two.csrf();
    s.clock.advance_seconds(30);
    let code = hearth_core::auth::totp::code_at(&secret, s.unix_now()).unwrap();
    let done = post(
        &c,
        &s,
        "/sign-in/two-factor",
        &[("code", &code), ("csrf", &csrf), ("next", "/account")],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/account");
    assert_eq!(get(&c, &s, "/records").await.status, StatusCode::OK);

    // Wrong codes: five free failures, then a lock-out.
    sign_out(&s, &c).await;
    sign_in(&s, &c, "dee@example.org", PASSWORD, "").await;
    let csrf = get(&c, &s, "/sign-in/two-factor").await.csrf();
    for _ in 0..6 {
        let p = post(
            &c,
            &s,
            "/sign-in/two-factor",
            &[("code", "000000"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED, "{}", p.body);
        assert!(p.body.contains("That code is not right."));
    }
    let locked = post(
        &c,
        &s,
        "/sign-in/two-factor",
        &[("code", &recovery[0]), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.body.contains("Too many attempts; try again in"));
    s.clock.advance_seconds(2);
    let rescued = post(
        &c,
        &s,
        "/sign-in/two-factor",
        &[("code", &recovery[0]), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(rescued.status, StatusCode::SEE_OTHER, "{}", rescued.body);
    let account = get(&c, &s, "/account").await;
    assert!(account.body.contains("Recovery codes left: 9."));
    assert!(account.body.contains("<td>Recovery code used</td>"));

    // A recovery code works once.
    sign_out(&s, &c).await;
    sign_in(&s, &c, "dee@example.org", PASSWORD, "").await;
    let csrf = get(&c, &s, "/sign-in/two-factor").await.csrf();
    let again = post(
        &c,
        &s,
        "/sign-in/two-factor",
        &[("code", &recovery[0]), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let other = post(
        &c,
        &s,
        "/sign-in/two-factor",
        &[("code", &recovery[1]), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(other.status, StatusCode::SEE_OTHER);

    // Off again with the password.
    let csrf = page_csrf(&s, &c, "/account").await;
    let bad = post(
        &c,
        &s,
        "/account/two-factor/disable",
        &[("password", "wrong-password-here"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("id=\"disable-password-error\""));
    let off = post(
        &c,
        &s,
        "/account/two-factor/disable",
        &[("password", PASSWORD), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(off.location(), "/account?notice=two-factor-off");
    s.stop().await;
}

#[tokio::test]
async fn password_change_and_sign_out_everywhere() {
    let s = TestServer::start(false).await;
    let (here, there) = (browser(), browser());
    register(&s, &here, "eve@example.org", "Eve Example").await;
    sign_in(&s, &here, "eve@example.org", PASSWORD, "").await;
    sign_in(&s, &there, "eve@example.org", PASSWORD, "").await;

    let csrf = page_csrf(&s, &here, "/account").await;
    let wrong = post(
        &here,
        &s,
        "/account/password",
        &[
            ("current_password", "nope-nope-nope"),
            ("new_password", NEW_PASSWORD),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("id=\"current_password-error\""));
    let changed = post(
        &here,
        &s,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("csrf", &csrf),
        ],
    )
    .await;
    assert_eq!(changed.location(), "/account?notice=password");
    assert_eq!(
        get(&here, &s, "/records").await.status,
        StatusCode::OK,
        "this browser stays signed in"
    );
    assert_eq!(
        get(&there, &s, "/records").await.status,
        StatusCode::SEE_OTHER,
        "the other is signed out"
    );

    sign_in(&s, &there, "eve@example.org", NEW_PASSWORD, "").await;
    let csrf = page_csrf(&s, &here, "/account").await;
    let everywhere = post(&here, &s, "/account/sign-out-everywhere", &[("csrf", &csrf)]).await;
    assert_eq!(everywhere.location(), "/sign-in?notice=everywhere");
    assert_eq!(get(&here, &s, "/records").await.status, StatusCode::SEE_OTHER);
    assert_eq!(get(&there, &s, "/records").await.status, StatusCode::SEE_OTHER);
    s.stop().await;
}

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

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
    0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05,
    0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42,
    0x60, 0x82,
];

async fn upload(c: &Client, s: &TestServer, id: &str, csrf: Option<&str>, bytes: &[u8]) -> Page {
    let mut form = reqwest::multipart::Form::new();
    if let Some(t) = csrf {
        form = form.text("csrf", t.to_string());
    }
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("me.png")
        .mime_str("image/png")
        .unwrap();
    form = form.part("picture", part);
    page(
        c.post(s.url(&format!("/records/{id}/picture")))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn records_create_rename_picture_leave_and_delete() {
    let s = TestServer::start(false).await;
    let c = browser();
    register(&s, &c, "gil@example.org", "Gil Example").await;
    sign_in(&s, &c, "gil@example.org", PASSWORD, "").await;

    let list = get(&c, &s, "/records").await;
    assert!(
        list.body.contains("<option value=\"pet\""),
        "relationship choices"
    );
    let csrf = list.csrf();
    let empty = post(
        &c,
        &s,
        "/records",
        &[("name", "  "), ("relationship", "pet"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("id=\"name-error\""));
    let odd = post(
        &c,
        &s,
        "/records",
        &[("name", "Rex"), ("relationship", "cousin"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    assert!(odd.body.contains("id=\"relationship-error\""));
    let made = post(
        &c,
        &s,
        "/records",
        &[("name", "Rex"), ("relationship", "pet"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let id = made
        .location()
        .strip_prefix("/records/")
        .unwrap()
        .strip_suffix("?notice=created")
        .unwrap()
        .to_string();
    let record_id: RecordId = id.parse().unwrap();
    let settings = get(&c, &s, made.location()).await;
    assert!(settings.body.contains("<h1>Rex</h1>") && settings.body.contains("The record is created."));
    assert!(
        settings.body.contains("custodian (full control)")
            && settings.body.contains("No app may use this record.")
    );
    assert!(
        get(&c, &s, "/records")
            .await
            .body
            .contains(&format!("href=\"/records/{id}\""))
    );

    let csrf = settings.csrf();
    let renamed = post(
        &c,
        &s,
        &format!("/records/{id}/rename"),
        &[("name", "Rex the dog"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(renamed.location(), format!("/records/{id}?notice=renamed"));
    let blank = post(
        &c,
        &s,
        &format!("/records/{id}/rename"),
        &[("name", ""), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.body.contains("id=\"name-error\"") && blank.body.contains("<h1>Rex the dog</h1>"));

    assert_eq!(
        get(&c, &s, &format!("/records/{id}/picture")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(upload(&c, &s, &id, None, PNG).await.status, StatusCode::FORBIDDEN);
    let not_image = upload(&c, &s, &id, Some(&csrf), b"<html><script>alert(1)</script>").await;
    assert_eq!(not_image.status, StatusCode::BAD_REQUEST);
    assert!(not_image.body.contains("id=\"picture-error\""));
    let saved = upload(&c, &s, &id, Some(&csrf), PNG).await;
    assert_eq!(
        saved.location(),
        format!("/records/{id}?notice=picture"),
        "{}",
        saved.body
    );
    let res = c
        .get(s.url(&format!("/records/{id}/picture")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    assert!(
        get(&c, &s, &format!("/records/{id}"))
            .await
            .body
            .contains(&format!("src=\"/records/{id}/picture\""))
    );

    let leave = post(&c, &s, &format!("/records/{id}/leave"), &[("csrf", &csrf)]).await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    assert!(leave.body.contains("last custodian"), "{}", leave.body);

    // Someone given access can see the record and leave it; a stranger cannot see it.
    let other = browser();
    register(&s, &other, "hal@example.org", "Hal Example").await;
    sign_in(&s, &other, "hal@example.org", PASSWORD, "").await;
    assert_eq!(
        get(&other, &s, &format!("/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let hal = s.services.account_by_email("hal@example.org").unwrap().unwrap();
    s.services
        .grant_access(
            &Context::operator(),
            record_id,
            hal.id,
            Relationship::Friend,
            AccessLevel::View,
        )
        .unwrap();
    let seen = get(&other, &s, &format!("/records/{id}")).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        seen.body.contains("can view") && !seen.body.contains("/delete\""),
        "viewers get no delete form"
    );
    let left = post(
        &other,
        &s,
        &format!("/records/{id}/leave"),
        &[("csrf", &seen.csrf())],
    )
    .await;
    assert_eq!(left.location(), "/records?notice=left");
    assert_eq!(
        get(&other, &s, &format!("/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    let wrong = post(
        &c,
        &s,
        &format!("/records/{id}/delete"),
        &[("confirm", "Rex"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("id=\"confirm-error\""));
    let deleted = post(
        &c,
        &s,
        &format!("/records/{id}/delete"),
        &[("confirm", "Rex the dog"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(deleted.location(), "/records?notice=deleted");
    assert_eq!(
        get(&c, &s, &format!("/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!get(&c, &s, "/records").await.body.contains("Rex the dog"));
    s.stop().await;
}

fn growth_chart(redirect_uri: &str) -> AppRegistration {
    AppRegistration {
        client_id: Some("growth-chart".into()),
        name: "Growth Chart".into(),
        description: "Charts a child's growth.".into(),
        logo_uri: None,
        redirect_uris: vec![redirect_uri.into()],
        kind: AppKind::Public,
        token_endpoint_auth_method: None,
        jwks: None,
        rules: vec![
            AppRule {
                name: "measurements".into(),
                data_types: TypeSet::Only(vec!["weight".into(), "height".into()]),
                permissions: Perms::READ,
                offline: false,
                required: true,
                reason: "To chart growth over time.".into(),
            },
            AppRule {
                name: "conditions".into(),
                data_types: TypeSet::Only(vec!["condition".into()]),
                permissions: Perms::READ,
                offline: false,
                required: false,
                reason: "To show conditions beside the chart.".into(),
            },
        ],
    }
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').unwrap().1;
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn oauth_consent_from_sign_in_to_the_redirect_with_code_state_and_iss() {
    let s = TestServer::start(false).await;
    let c = browser();
    register(&s, &c, "ida@example.org", "Ida Example").await;
    let redirect_uri = "http://127.0.0.1:9/callback";
    s.services
        .register_app(&Context::operator(), growth_chart(redirect_uri))
        .unwrap();

    let verifier = "dBjftJeZ4CVP-mJ92K6o14x53bYRuH8zOG7hzojymsw-and-some-more";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let aud = s.services.auth_settings().fhir_base();
    let authorize = format!(
        "/oauth/authorize?{}",
        urlencoded(&[
            ("response_type", "code"),
            ("client_id", "growth-chart"),
            ("redirect_uri", redirect_uri),
            (
                "scope",
                "launch/patient openid fhirUser patient/Observation.rs patient/Condition.rs"
            ),
            ("state", "st-42"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("aud", &aud),
        ])
    );

    // Not signed in: sign in first, then come back.
    let first = get(&c, &s, &authorize).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert!(
        first
            .location()
            .starts_with("/sign-in?next=%2Foauth%2Fauthorize%3F"),
        "{}",
        first.location()
    );
    let sign_in_page = get(&c, &s, first.location()).await;
    let next = hidden(&sign_in_page.body, "next").unwrap();
    assert!(
        next.starts_with("/oauth/authorize?") && next.contains("client_id=growth-chart"),
        "{next}"
    );
    let csrf = sign_in_page.csrf();
    let signed = post(
        &c,
        &s,
        "/sign-in",
        &[
            ("email", "ida@example.org"),
            ("password", PASSWORD),
            ("csrf", &csrf),
            ("next", &next),
        ],
    )
    .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
    assert_eq!(signed.location(), next);

    let consent = get(&c, &s, &next).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent
            .body
            .contains("Allow Growth Chart to use a health record?")
    );
    assert!(
        consent.body.contains("Needed for the app to work")
            && consent.body.contains("To chart growth over time.")
    );
    assert!(consent.body.contains("name=\"optional\" value=\"conditions\""));
    assert!(consent.body.contains("Weight, Height"), "{}", consent.body);
    let csp = consent.header("content-security-policy");
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9"), "{csp}");
    let record = between(&consent.body, "name=\"record\" value=\"", "\"")
        .unwrap()
        .to_string();
    assert!(
        consent
            .body
            .contains(&format!("name=\"record\" value=\"{record}\" checked"))
    );
    let fields = hidden_fields(&consent.body, "/oauth/authorize");
    assert!(fields.iter().any(|(k, v)| k == "state" && v == "st-42"));
    let send = |extra: Vec<(&'static str, String)>| {
        let mut all: Vec<(String, String)> = fields.clone();
        all.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        let body = {
            let mut f = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &all {
                f.append_pair(k, v);
            }
            f.finish()
        };
        c.post(s.url("/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let forged = page(
        c.post(s.url("/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(urlencoded(&[("decision", "approve"), ("record", &record)]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        forged.status,
        StatusCode::BAD_REQUEST,
        "without the request's parameters nothing is granted"
    );

    let approved = page(
        send(vec![
            ("record", record.clone()),
            ("optional", "conditions".into()),
            ("decision", "approve".into()),
        ])
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let to = approved.location();
    assert!(to.starts_with("http://127.0.0.1:9/callback?"), "{to}");
    let q = query_of(to);
    assert!(param(&q, "code").unwrap().starts_with("hac_"));
    assert_eq!(param(&q, "state"), Some("st-42"));
    assert_eq!(param(&q, "iss"), Some(s.public_url.as_str()));

    // The grant shows on the record's page, and can be revoked there.
    let settings = get(&c, &s, &format!("/records/{record}")).await;
    assert!(
        settings.body.contains("<h3>Growth Chart</h3>"),
        "{}",
        settings.body
    );
    assert!(settings.body.contains("Weight, Height") && settings.body.contains("Condition"));
    assert!(settings.body.contains("Last read</dt><dd>never"));
    let revoke_fields = hidden_fields(&settings.body, &format!("/records/{record}/apps/revoke"));
    let revoke: Vec<(&str, &str)> = revoke_fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(
        revoke
            .iter()
            .any(|(k, v)| *k == "client_id" && *v == "growth-chart")
    );
    let revoked = post(&c, &s, &format!("/records/{record}/apps/revoke"), &revoke).await;
    assert_eq!(revoked.location(), format!("/records/{record}?notice=revoked"));
    assert!(
        get(&c, &s, &format!("/records/{record}"))
            .await
            .body
            .contains("No app may use this record.")
    );

    // Denying sends the app an access_denied error with its state.
    let denied = page(
        send(vec![("record", record.clone()), ("decision", "deny".into())])
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    let q = query_of(denied.location());
    assert_eq!(param(&q, "error"), Some("access_denied"));
    assert_eq!(param(&q, "state"), Some("st-42"));

    // A record picked but not shown is shown first, never granted blind; `choose` shows it.
    let ida = s.services.account_by_email("ida@example.org").unwrap().unwrap();
    let second = s
        .services
        .create_record(
            &Context::person(ida.id),
            ida.id,
            "Ivo Example",
            Relationship::Child,
            None,
        )
        .unwrap()
        .id
        .to_string();
    for decision in ["approve", "choose"] {
        let shown = page(
            send(vec![("record", second.clone()), ("decision", decision.into())])
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(shown.status, StatusCode::OK, "{decision}: {}", shown.body);
        assert!(
            shown
                .body
                .contains(&format!("name=\"record\" value=\"{second}\" checked"))
        );
        assert!(shown.body.contains("What Growth Chart asks for Ivo Example"));
        assert_eq!(hidden(&shown.body, "shown_record"), Some(second.clone()));
        assert_eq!(
            shown.body.contains("You chose another record"),
            decision == "approve"
        );
    }
    let unknown_record = RecordId::new().to_string();
    let fallback = page(
        send(vec![("record", unknown_record), ("decision", "choose".into())])
            .await
            .unwrap(),
    )
    .await;
    assert!(
        fallback
            .body
            .contains(&format!("name=\"record\" value=\"{record}\" checked"))
    );

    // Requests the app cannot be trusted with are shown, not redirected; others go back to it.
    let unknown = get(&c, &s, "/oauth/authorize?client_id=nope&response_type=code").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body.contains("not registered"));
    let elsewhere = get(&c, &s, &authorize.replace("127.0.0.1%3A9", "evil.example")).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    let no_pkce = get(
        &c,
        &s,
        &authorize.replace("code_challenge_method=S256", "code_challenge_method=plain"),
    )
    .await;
    assert_eq!(no_pkce.status, StatusCode::SEE_OTHER);
    assert_eq!(
        param(&query_of(no_pkce.location()), "error"),
        Some("invalid_request")
    );

    // Without the CSRF token the form is refused.
    let mut no_csrf = fields.clone();
    no_csrf.retain(|(k, _)| k != "csrf");
    let refused = page(
        c.post(s.url("/oauth/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body({
                let mut f = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in no_csrf.iter().chain(
                    [
                        ("record".to_string(), record.clone()),
                        ("decision".to_string(), "approve".to_string()),
                    ]
                    .iter(),
                ) {
                    f.append_pair(k, v);
                }
                f.finish()
            })
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    s.stop().await;
}

#[tokio::test]
async fn a_viewer_cannot_grant_a_required_rule_beyond_their_access() {
    let s = TestServer::start(false).await;
    let (owner, viewer) = (browser(), browser());
    register(&s, &owner, "jo@example.org", "Jo Example").await;
    register(&s, &viewer, "kit@example.org", "Kit Example").await;
    let redirect_uri = "http://127.0.0.1:9/callback";
    let mut app = growth_chart(redirect_uri);
    app.rules[0].permissions = Perms::CREATE;
    s.services.register_app(&Context::operator(), app).unwrap();
    let jo = s.services.account_by_email("jo@example.org").unwrap().unwrap();
    let kit = s.services.account_by_email("kit@example.org").unwrap().unwrap();
    let shared = s
        .services
        .list_records(Some(jo.id))
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .0;
    s.services
        .grant_access(
            &Context::operator(),
            shared.id,
            kit.id,
            Relationship::Friend,
            AccessLevel::View,
        )
        .unwrap();

    sign_in(&s, &viewer, "kit@example.org", PASSWORD, "").await;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
        b"a-verifier-that-is-long-enough-for-pkce-rules-0123",
    ));
    let authorize = format!(
        "/oauth/authorize?{}",
        urlencoded(&[
            ("response_type", "code"),
            ("client_id", "growth-chart"),
            ("redirect_uri", redirect_uri),
            ("scope", "launch/patient patient/Observation.crs"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let shared_id = shared.id.to_string();
    let consent = get(&viewer, &s, &format!("{authorize}&record={shared_id}")).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent
            .body
            .contains(&format!("name=\"record\" value=\"{shared_id}\" checked"))
    );
    assert!(
        consent
            .body
            .contains("Your access to this record does not include this."),
        "{}",
        consent.body
    );
    let mut fields = hidden_fields(&consent.body, "/oauth/authorize");
    fields.push(("record".into(), shared_id.clone()));
    fields.push(("decision".into(), "approve".into()));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let refused = post(&viewer, &s, "/oauth/authorize", &pairs).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("role=\"alert\"") && refused.body.contains("does not include"));
    s.stop().await;
}
