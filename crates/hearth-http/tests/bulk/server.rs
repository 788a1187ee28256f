//! The test server for bulk export: the router on 127.0.0.1:0 over SQLite in a temporary
//! directory, a manual clock, small file and page limits, and the bulk worker (started at once,
//! or later, so a test can act on a queued job first). Tokens come from the real flows: a
//! person's consent and an authorization code for apps, a signed client assertion at
//! `/oauth/token` for backend services.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hearth_core::auth::apps::{AppRegistration, ClientCredentials};
use hearth_core::auth::consent::ConsentAnswer;
use hearth_core::auth::oauth::AuthorizeParams;
use hearth_core::auth::{AuthSettings, OutboxMailer};
use hearth_core::bulk::{BulkSettings, BulkWorker};
use hearth_core::prepare::EnvelopeFields;
use hearth_core::{Context, ItemRequest, Services, WriteOutcome};
use hearth_domain::time::ManualClock;
use hearth_domain::{AccountId, ItemId, Record, RecordId, Relationship, Timestamp};
use hearth_http::{AppState, serve};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;
use reqwest::Client;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::net::TcpListener;

pub const START: Timestamp = Timestamp(1_800_000_000_000_000);
pub const EXPIRY_SECS: i64 = 600;
const VERIFIER: &str = "a-verifier-of-more-than-forty-three-characters-0123456789";
const REDIRECT: &str = "https://app.example/cb";

pub struct BulkServer {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub services: Arc<Services>,
    pub ann: AccountId,
    pub a: Record,
    pub b: Record,
    worker: Option<BulkWorker>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

fn weight(patient: ItemId, kg: &str, day: u32) -> Value {
    json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": format!("2026-01-{day:02}T08:00:00Z"),
        "valueQuantity": {"value": kg.parse::<f64>().unwrap(), "unit": "kg",
                          "system": "http://unitsofmeasure.org", "code": "kg"}})
}

fn condition(patient: ItemId) -> Value {
    json!({"resourceType": "Condition",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195662009"}]},
        "subject": {"reference": format!("Patient/{patient}")}})
}

impl BulkServer {
    /// Ann's records: A with four weights and a condition, B with two weights. Files split at
    /// two lines; items are read two per page.
    pub async fn start(with_worker: bool) -> BulkServer {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("hearth.db")).unwrap();
        let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mailer = OutboxMailer::new(dir.path().join("outbox"), "Hearth <h@localhost>".into()).unwrap();
        let services = Arc::new(
            Services::new(Arc::new(store), Arc::new(blobs), clock.clone())
                .with_auth(
                    AuthSettings {
                        public_url: base.clone(),
                        ..AuthSettings::default()
                    },
                    Arc::new(mailer),
                )
                .with_bulk(BulkSettings {
                    max_file_lines: 2,
                    page_size: 2,
                    max_active_jobs: 2,
                    expiry_secs: EXPIRY_SECS,
                    poll_secs: 1,
                    idle_wait: Duration::from_millis(50),
                    temp_dir: Some(dir.path().join("bulk-tmp")),
                    ..BulkSettings::default()
                }),
        );
        let op = Context::operator();
        let ann = services.create_account(&op, "ann@example.org", "Ann").unwrap().id;
        let a = services
            .create_record(&op, ann, "Ann", Relationship::SelfRecord, None)
            .unwrap();
        let b = services
            .create_record(&op, ann, "Ben", Relationship::Child, None)
            .unwrap();
        let mut writes = vec![(a.id, condition(a.patient_item))];
        for (i, kg) in ["70.1", "70.2", "70.3", "70.4"].iter().enumerate() {
            writes.push((a.id, weight(a.patient_item, kg, i as u32 + 1)));
        }
        for (i, kg) in ["20.1", "20.2"].iter().enumerate() {
            writes.push((b.id, weight(b.patient_item, kg, i as u32 + 1)));
        }
        for (record, resource) in writes {
            write(&services, record, resource);
        }
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
        let mut s = BulkServer {
            base,
            clock,
            services,
            ann,
            a,
            b,
            worker: None,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        };
        if with_worker {
            s.start_worker();
        }
        s
    }

    pub fn start_worker(&mut self) {
        self.worker = Some(BulkWorker::start((*self.services).clone()).unwrap());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
        if let Some(w) = self.worker.take() {
            tokio::task::spawn_blocking(move || w.stop()).await.unwrap();
        }
        if let Some(s) = self.stop.take() {
            s.send(()).unwrap();
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// Registers a public app reading every type, online and offline.
    pub fn register_app(&self, client_id: &str) {
        let reg: AppRegistration = serde_json::from_value(json!({
            "client_id": client_id, "name": client_id, "kind": "public",
            "redirect_uris": [REDIRECT],
            "rules": [{"name": "all", "data_types": "*", "permissions": "rs", "offline": true,
                       "required": true, "reason": "to export"}]
        }))
        .unwrap();
        self.services.register_app(&Context::operator(), reg).unwrap();
    }

    /// Ann authorises `client_id` on `records` and the app exchanges the code: a `user/` token
    /// reaching those records.
    pub fn person_token(&self, client_id: &str, records: &[RecordId]) -> String {
        let svc = &self.services;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
        let req = svc
            .check_authorize(&AuthorizeParams {
                response_type: Some("code".into()),
                client_id: Some(client_id.into()),
                redirect_uri: Some(REDIRECT.into()),
                scope: Some("openid offline_access user/*.rs".into()),
                state: Some("s".into()),
                code_challenge: Some(challenge),
                code_challenge_method: Some("S256".into()),
                nonce: None,
                aud: Some(svc.auth_settings().fhir_base()),
            })
            .unwrap_or_else(|e| panic!("{e:?}"));
        let mut grant = None;
        for r in records {
            grant = Some(
                svc.grant_consent(
                    self.ann,
                    &req.app.id,
                    *r,
                    &req.scopes,
                    &ConsentAnswer { optional: vec![] },
                )
                .unwrap(),
            );
        }
        let url = svc
            .issue_code(self.ann, &req, records[0], &grant.unwrap())
            .unwrap();
        let q = url.split_once('?').unwrap().1;
        let code = url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .to_string();
        let creds = ClientCredentials {
            client_id: Some(client_id.into()),
            ..Default::default()
        };
        let t = svc
            .exchange_code(&creds, &code, Some(REDIRECT), Some(VERIFIER))
            .unwrap_or_else(|e| panic!("{e:?}"));
        t.access_token
    }

    /// A backend service (its JWKS is the server's own signing key, so the test can sign its
    /// assertion), granted record A by Ann, and a token from `client_credentials` over HTTP.
    pub async fn backend_token(&self, client: &Client, client_id: &str) -> String {
        let svc = self.services.clone();
        let id = client_id.to_string();
        let token_url = svc.auth_settings().url("/oauth/token");
        let (ann, a) = (self.ann, self.a.id);
        let assertion = tokio::task::spawn_blocking(move || {
            let reg: AppRegistration = serde_json::from_value(json!({
                "client_id": id, "name": id, "kind": "backend-service",
                "jwks": svc.jwks().unwrap(),
                "rules": [{"name": "all", "data_types": "*", "permissions": "rs", "offline": true,
                           "required": true, "reason": "to export"}]
            }))
            .unwrap();
            svc.register_app(&Context::operator(), reg).unwrap();
            svc.grant_consent(
                ann,
                &hearth_domain::AppId(id.clone()),
                a,
                &hearth_domain::auth::Scopes::parse("offline_access system/*.rs").unwrap(),
                &ConsentAnswer { optional: vec![] },
            )
            .unwrap();
            let now = svc.now().0 / 1_000_000;
            svc.sign_jwt(&json!({"iss": id, "sub": id, "aud": token_url, "exp": now + 240,
                                 "jti": ItemId::new().to_string()}))
                .unwrap()
        })
        .await
        .unwrap();
        let form = crate::export::with_query(
            "",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "system/*.rs"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ],
        );
        let r = client
            .post(self.url("/oauth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.trim_start_matches('?').to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = crate::export::json_of(r).await;
        v["access_token"].as_str().unwrap().to_string()
    }
}

/// An item written by the operator; returns its id.
pub fn write(svc: &Services, record: RecordId, resource: Value) -> ItemId {
    let out = svc
        .write(
            &Context::operator(),
            record,
            vec![ItemRequest::Create {
                id: None,
                resource,
                envelope: EnvelopeFields::default(),
            }],
        )
        .unwrap();
    match &out[0] {
        WriteOutcome::Created(m) => m.id,
        other => panic!("{other:?}"),
    }
}

pub fn updated_weight(patient: ItemId) -> Value {
    weight(patient, "21.5", 3)
}
