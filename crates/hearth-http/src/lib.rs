//! # hearth-http
//!
//! The HTTP adapter. [`router`] builds the axum application from [`AppState`] (so tests can call
//! it in process), and [`serve`] runs it on a listener until a shutdown future completes.
//!
//! - [`web`]: the server-rendered pages people use: sign-up, sign-in, two-factor, password
//!   reset, account security, records, authorised apps, and the OAuth consent page.
//! - [`api`]: what apps and operators call: the OAuth 2.1 / SMART token endpoints, discovery
//!   documents, JWKS, the admin API, and the FHIR endpoints.
//! - `GET /healthz` (the process answers) and `GET /readyz` (the database answers).
//!
//! Every response carries the security headers of [`web::headers`]. Handlers never touch SQL:
//! they call the services, off the async threads (the storage contract is blocking).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hearth_core::Services;
use serde_json::json;
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
}

pub mod api;
pub mod web;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api::routes())
        .merge(web::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::headers::security_headers,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes in-flight requests. Each request knows its
/// TCP peer address (`ConnectInfo<SocketAddr>`), which sign-in throttling uses.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let svc = state.services.clone();
    let backend = svc.store().backend_name();
    match tokio::task::spawn_blocking(move || svc.store().ping()).await {
        Ok(Ok(())) => json_response(StatusCode::OK, json!({"status": "ready", "database": backend})),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "unavailable", "database": backend}),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "readiness check panicked");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "unavailable", "database": backend}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_domain::SystemClock;
    use hearth_store::LocalBlobStore;
    use hearth_store_sqlite::SqliteStore;

    #[tokio::test]
    async fn health_and_readiness_over_real_http() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
        let blobs = LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap();
        let services = Arc::new(Services::new(
            Arc::new(store),
            Arc::new(blobs),
            Arc::new(SystemClock),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, AppState { services }, async {
            let _ = rx.await;
        }));
        for (path, want) in [("/healthz", "\"ok\""), ("/readyz", "\"ready\"")] {
            let body = http_get(addr, path).await;
            assert!(body.starts_with("HTTP/1.1 200"), "{body}");
            assert!(body.contains(want), "{body}");
        }
        let missing = http_get(addr, "/nope").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }
}
