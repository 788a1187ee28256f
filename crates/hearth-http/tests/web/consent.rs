//! The OAuth consent page, from sign-in to the redirect back to the app.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_core::Context;
use hearth_core::auth::apps::AppRegistration;
use hearth_domain::auth::{AppKind, AppRule, Perms, TypeSet};
use hearth_domain::{AccessLevel, RecordId, Relationship};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::common::*;

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
    let settings = get(&c, &s, &format!("/records/{record}/settings")).await;
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
    assert_eq!(
        revoked.location(),
        format!("/records/{record}/settings?notice=revoked")
    );
    assert!(
        get(&c, &s, &format!("/records/{record}/settings"))
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
