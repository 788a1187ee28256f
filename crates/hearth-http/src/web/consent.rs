//! The OAuth consent page: the authorization endpoint as people see it (RFC 6749 §4.1.1–4.1.2,
//! OAuth 2.1 §4.1, RFC 9207 `iss`, SMART App Launch 2.0 standalone launch; healthvault.md §3.3).
//!
//! - `GET /oauth/authorize?response_type=code&client_id=…&redirect_uri=…&scope=…&state=…&
//!   code_challenge=…&code_challenge_method=S256[&nonce=…][&aud=…][&record=…]`: the request is
//!   checked first ([`Services::check_authorize`]); an untrusted redirect is shown as an error
//!   page (400), other errors go back to the app (303). Someone not signed in signs in and comes
//!   back. Then the consent page: the app, a record picker (`record`, the first record
//!   preselected), and what the app asks on the picked record: required rules (granted together)
//!   and optional rules (checkboxes `optional`).
//! - `POST /oauth/authorize`: the original parameters come back as hidden fields and are checked
//!   again, with `csrf`, `record`, `shown_record` (the record whose offer the page showed),
//!   `optional` and `decision` = `approve`, `deny` or `choose` (show the offer for the picked
//!   record). Approving grants consent and answers 303 to the redirect URI with `code`, `state`
//!   and `iss`; denying answers 303 with `error=access_denied`. A record picked but not shown is
//!   never granted: the page is shown again for it.
//!
//! The consent page's Content-Security-Policy allows its form to end at the app's redirect origin.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hearth_core::ServiceError;
use hearth_core::auth::consent::{ConsentAnswer, ConsentOffer, RuleOffer};
use hearth_core::auth::oauth::{AuthorizeError, AuthorizeParams, AuthorizeRequest};
use hearth_domain::RecordId;

use super::apps::{online_words, perms_words};
use super::form::FormFields;
use super::headers::CspExtra;
use super::record::record_id;
use super::records::{access_label, relationship_label};
use super::render::{self, Layout, Link, blocking};
use super::session::{Person, Session, csrf_refused};
use crate::AppState;

/// The authorization request's parameters, in the order they are sent back.
const PARAMS: [&str; 9] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "aud",
];

struct Hidden {
    name: &'static str,
    value: String,
}

struct RecordChoice {
    id: String,
    name: String,
    relationship: &'static str,
    access: &'static str,
    checked: bool,
}

struct RuleRow {
    name: String,
    permissions: String,
    types: String,
    when: &'static str,
    reason: String,
    /// The person's own access does not reach what the rule asks.
    beyond_access: bool,
    checked: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    layout: Layout,
    csrf: String,
    app_name: String,
    description: String,
    client_id: String,
    logo: Option<String>,
    person_name: String,
    hidden: Vec<Hidden>,
    records: Vec<RecordChoice>,
    shown_record: String,
    record_name: String,
    already_granted: bool,
    identity: Vec<&'static str>,
    required: Vec<RuleRow>,
    optional: Vec<RuleRow>,
    alert: Option<String>,
    notice: Option<String>,
}

fn params_from(fields: &FormFields) -> Result<AuthorizeParams, String> {
    if let Some(p) = PARAMS.iter().find(|p| fields.repeated(p)) {
        return Err(format!(
            "The app's request repeats the parameter {p}, which OAuth forbids."
        ));
    }
    let get = |name: &str| fields.opt(name).map(String::from);
    Ok(AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        nonce: get("nonce"),
        aud: get("aud"),
    })
}

fn pairs_of(p: &AuthorizeParams) -> Vec<Hidden> {
    let values = [
        &p.response_type,
        &p.client_id,
        &p.redirect_uri,
        &p.scope,
        &p.state,
        &p.code_challenge,
        &p.code_challenge_method,
        &p.nonce,
        &p.aud,
    ];
    PARAMS
        .iter()
        .zip(values)
        .filter_map(|(name, v)| {
            v.as_ref().map(|v| Hidden {
                name,
                value: v.clone(),
            })
        })
        .collect()
}

/// The GET address of this authorization request, to come back to after signing in.
fn authorize_path(p: &AuthorizeParams) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for h in pairs_of(p) {
        q.append_pair(h.name, &h.value);
    }
    format!("/oauth/authorize?{}", q.finish())
}

fn layout_for(session: &Session, title: &str) -> Layout {
    session
        .person()
        .map_or_else(|| Layout::public(title), |p| p.layout(title))
}

fn request_error(session: &Session, why: &str) -> Response {
    render::message(
        StatusCode::BAD_REQUEST,
        layout_for(session, "App request refused"),
        "This app's request cannot be used",
        why,
        Some(Link {
            href: "/".into(),
            label: "Go to Hearth".into(),
        }),
    )
}

/// Checks the request: `Err` is the answer when it cannot go on (an error page, or the app's
/// redirect URI with the error).
async fn check(
    state: &AppState,
    session: &Session,
    params: AuthorizeParams,
) -> Result<AuthorizeRequest, Response> {
    let svc = state.services.clone();
    match tokio::task::spawn_blocking(move || svc.check_authorize(&params)).await {
        Ok(Ok(req)) => Ok(req),
        Ok(Err(AuthorizeError::Show(why))) => Err(request_error(session, &why)),
        Ok(Err(AuthorizeError::Redirect(url))) => Err(Redirect::to(&url).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "checking an authorization request failed");
            Err(render::service_error(
                &ServiceError::Internal(e.to_string()),
                layout_for(session, "Error"),
            ))
        }
    }
}

fn identity_lines(req: &AuthorizeRequest) -> Vec<&'static str> {
    let s = &req.scopes;
    let mut out = Vec::new();
    if s.openid {
        out.push("Know it is you when you come back (an identifier for this app only)");
    }
    if s.profile {
        out.push("See your name");
    }
    if s.fhir_user {
        out.push("Know which record is your own");
    }
    out
}

fn rule_row(r: &RuleOffer, ticked: Option<&[String]>, app: &hearth_domain::auth::App) -> RuleRow {
    let asked = app.rule(&r.name).map_or(r.permissions, |a| a.permissions);
    RuleRow {
        name: r.name.clone(),
        permissions: perms_words(if r.permissions.is_empty() {
            asked
        } else {
            r.permissions
        }),
        types: r.types.clone(),
        when: online_words(r.offline),
        reason: r.reason.clone(),
        beyond_access: r.permissions.is_empty(),
        checked: ticked.map_or(r.granted, |t| t.contains(&r.name)),
    }
}

/// What the page needs besides the request: the person's records and the offer on the chosen one.
struct Loaded {
    records: Vec<RecordChoice>,
    offer: ConsentOffer,
}

/// How the consent page is shown: for which record (the first one when none or an unknown one
/// is picked), with which status and messages; `ticked` keeps the optional choices of a form
/// sent back.
#[derive(Default)]
struct Shown {
    pick: Option<RecordId>,
    status: StatusCode,
    alert: Option<String>,
    notice: Option<String>,
    ticked: Option<Vec<String>>,
}

async fn consent_page(
    state: &AppState,
    person: &Person,
    params: &AuthorizeParams,
    req: &AuthorizeRequest,
    shown: Shown,
) -> Response {
    let Shown {
        pick,
        status,
        alert,
        notice,
        ticked,
    } = shown;
    let svc = state.services.clone();
    let me = person.account();
    let (app_id, scopes) = (req.app.id.clone(), req.scopes.clone());
    let loaded = blocking(move || {
        let mine: Vec<_> = svc
            .list_records(Some(me))?
            .into_iter()
            .filter_map(|(r, accesses)| accesses.into_iter().find(|a| a.account_id == me).map(|a| (r, a)))
            .collect();
        let Some(chosen) = pick
            .filter(|p| mine.iter().any(|(r, _)| r.id == *p))
            .or_else(|| mine.first().map(|(r, _)| r.id))
        else {
            return Ok(None);
        };
        let offer = svc.consent_offer(me, &app_id, chosen, &scopes)?;
        let records = mine
            .into_iter()
            .map(|(r, a)| RecordChoice {
                checked: r.id == chosen,
                id: r.id.to_string(),
                name: r.display_name,
                relationship: relationship_label(a.relationship),
                access: access_label(a.level),
            })
            .collect();
        Ok(Some(Loaded { records, offer }))
    })
    .await;
    let Loaded { records, offer } = match loaded {
        Ok(Some(l)) => l,
        Ok(None) => {
            return render::message(
                StatusCode::CONFLICT,
                person.layout("No record to share"),
                "You have no record to share",
                "This app asks to use a health record, and you have none yet. Add one, then go back to the app.",
                Some(Link {
                    href: "/records".into(),
                    label: "Your records".into(),
                }),
            );
        }
        Err(e) => return render::service_error(&e, person.layout("Allow an app")),
    };
    let (required, optional): (Vec<_>, Vec<_>) = offer.rules.iter().partition(|r| r.required);
    let ticked = ticked.as_deref();
    let mut csp = CspExtra::default();
    csp.allow_redirect_to(&req.redirect_uri);
    let logo = req.app.logo_uri.clone().filter(|l| l.starts_with("https://"));
    if let Some(l) = &logo {
        csp.allow_image_from(l);
    }
    let mut res = render::page(
        status,
        &ConsentPage {
            layout: person.layout(&format!("Allow {}?", req.app.name)),
            csrf: person.csrf(),
            app_name: req.app.name.clone(),
            description: req.app.description.clone(),
            client_id: req.app.id.0.clone(),
            logo,
            person_name: person.signed.account.display_name.clone(),
            hidden: pairs_of(params),
            records,
            shown_record: offer.record.id.to_string(),
            record_name: offer.record.display_name.clone(),
            already_granted: offer.already_granted,
            identity: identity_lines(req),
            required: required
                .into_iter()
                .map(|r| rule_row(r, None, &offer.app))
                .collect(),
            optional: optional
                .into_iter()
                .map(|r| rule_row(r, ticked, &offer.app))
                .collect(),
            alert,
            notice,
        },
    );
    res.extensions_mut().insert(csp);
    res
}

/// The request's parameters checked again (on GET and POST alike) and the signed-in person;
/// otherwise the response that says why not (an error page, the app's redirect, or sign-in).
async fn checked(
    state: &AppState,
    session: &Session,
    fields: &FormFields,
) -> Result<(AuthorizeParams, AuthorizeRequest, Person), Response> {
    let params = params_from(fields).map_err(|why| request_error(session, &why))?;
    let req = check(state, session, params.clone()).await?;
    let Some(person) = session.person() else {
        return Err(session.sign_in_redirect(Some(&authorize_path(&params))));
    };
    Ok((params, req, person))
}

pub async fn authorize(State(state): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> Response {
    let fields = FormFields::parse(raw.unwrap_or_default().as_bytes());
    let (params, req, person) = match checked(&state, &session, &fields).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let pick = fields.opt("record").and_then(record_id);
    consent_page(
        &state,
        &person,
        &params,
        &req,
        Shown {
            pick,
            ..Shown::default()
        },
    )
    .await
}

pub async fn decide(State(state): State<AppState>, session: Session, form: FormFields) -> Response {
    let (params, req, person) = match checked(&state, &session, &form).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if !person.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let record = record_id(form.get("record"));
    let shown = record_id(form.get("shown_record"));
    let optional = form.all("optional");
    match (form.get("decision"), record) {
        ("deny", _) => Redirect::to(&state.services.authorize_denied(&req)).into_response(),
        ("approve", Some(record)) if shown == Some(record) => {
            let svc = state.services.clone();
            let me = person.account();
            let (app_id, r2) = (req.app.id.clone(), req.clone());
            let answer = ConsentAnswer {
                optional: optional.clone(),
            };
            let issued = blocking(move || {
                let grant = svc.grant_consent(me, &app_id, record, &r2.scopes, &answer)?;
                svc.issue_code(me, &r2, record, &grant)
            })
            .await;
            match issued {
                Ok(url) => Redirect::to(&url).into_response(),
                Err(e @ (ServiceError::Internal(_) | ServiceError::Unavailable(_))) => {
                    render::service_error(&e, person.layout("Allow an app"))
                }
                Err(e) => {
                    let why = render::words_of(&e);
                    consent_page(
                        &state,
                        &person,
                        &params,
                        &req,
                        Shown {
                            pick: Some(record),
                            status: render::status_of(&e),
                            alert: Some(why),
                            ticked: Some(optional),
                            ..Shown::default()
                        },
                    )
                    .await
                }
            }
        }
        ("approve", _) => {
            let notice = Some(
                "You chose another record: check what the app asks for it, then choose again.".to_string(),
            );
            consent_page(
                &state,
                &person,
                &params,
                &req,
                Shown {
                    pick: record,
                    notice,
                    ..Shown::default()
                },
            )
            .await
        }
        ("choose", _) => {
            consent_page(
                &state,
                &person,
                &params,
                &req,
                Shown {
                    pick: record,
                    ..Shown::default()
                },
            )
            .await
        }
        _ => {
            let alert = Some("Choose Allow or Deny.".to_string());
            consent_page(
                &state,
                &person,
                &params,
                &req,
                Shown {
                    pick: record,
                    status: StatusCode::BAD_REQUEST,
                    alert,
                    ticked: Some(optional),
                    ..Shown::default()
                },
            )
            .await
        }
    }
}
