// Temporary: serves the web pages for a manual browser check.
use std::sync::Arc;
use hearth_core::auth::apps::AppRegistration;
use hearth_core::auth::{AuthSettings, OutboxMailer};
use hearth_core::{Context, Services};
use hearth_domain::auth::{AppKind, AppRule, Perms, TypeSet};
use hearth_domain::{Relationship, SystemClock};
use hearth_store::LocalBlobStore;
use hearth_store_sqlite::SqliteStore;

#[tokio::main]
async fn main() {
    let dir = std::path::PathBuf::from("/tmp/web-demo");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteStore::open(dir.join("h.db")).unwrap();
    let blobs = LocalBlobStore::open_dir(dir.join("blobs")).unwrap();
    let settings = AuthSettings { public_url: "http://127.0.0.1:18080".into(), ..Default::default() };
    let mailer = OutboxMailer::new(dir.join("outbox"), "h@localhost".into()).unwrap();
    let svc = Arc::new(Services::new(Arc::new(store), Arc::new(blobs), Arc::new(SystemClock)).with_auth(settings, Arc::new(mailer)));
    let op = Context::operator();
    let a = svc.create_account(&op, "ann@example.org", "Ann Example").unwrap();
    svc.set_password_as_operator(&op, a.id, "plum-kettle-orbit-7-sandal", true).unwrap();
    svc.create_record(&Context::person(a.id), a.id, "Ann Example", Relationship::SelfRecord, None).unwrap();
    svc.create_record(&Context::person(a.id), a.id, "Rex", Relationship::Pet, None).unwrap();
    svc.register_app(&op, AppRegistration {
        client_id: Some("growth-chart".into()), name: "Growth Chart".into(), description: "Charts a child's growth.".into(),
        logo_uri: None, redirect_uris: vec!["http://127.0.0.1:18081/callback".into()], kind: AppKind::Public,
        token_endpoint_auth_method: None, jwks: None,
        rules: vec![
            AppRule { name: "measurements".into(), data_types: TypeSet::Only(vec!["weight".into(), "height".into()]), permissions: Perms::READ, offline: true, required: true, reason: "To chart growth over time.".into() },
            AppRule { name: "conditions".into(), data_types: TypeSet::Only(vec!["condition".into()]), permissions: Perms::READ, offline: false, required: false, reason: "To show conditions beside the chart.".into() },
        ],
    }).unwrap();
    let cb = axum::Router::new().route("/callback", axum::routing::get(|| async { "callback ok" }));
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:18081").await.unwrap();
    tokio::spawn(async move { axum::serve(l2, cb).await.unwrap() });
    let l = tokio::net::TcpListener::bind("127.0.0.1:18080").await.unwrap();
    println!("ready");
    hearth_http::serve(l, hearth_http::AppState { services: svc }, std::future::pending()).await.unwrap();
}
