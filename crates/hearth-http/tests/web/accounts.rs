//! Sign-up, verification, sign-in, throttling, password reset and change, two-factor.

use hearth_core::auth::accounts::{CHECK_EMAIL, SIGN_IN_FAILED};
use reqwest::StatusCode;

use crate::common::*;

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
