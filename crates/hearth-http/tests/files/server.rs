//! A real server for the file tests, on SQLite and (when `HEARTH_TEST_POSTGRES_URL` is set) on
//! PostgreSQL: two records of one account and the tokens the tests use, issued up front. The
//! store is opened and dropped outside the runtime (a PostgreSQL pool must not be dropped on a
//! runtime thread); each test body runs against the served router over real HTTP.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hearth_core::auth::AuthSettings;
use hearth_core::files::FileSettings;
use hearth_core::{Context, Services};
use hearth_domain::{ItemId, RecordId, Relationship, SystemClock};
use hearth_http::{AppState, serve};
use hearth_store::{LocalBlobStore, Store};
use tokio::net::TcpListener;

#[path = "../../../hearth-store-postgres/tests/common/mod.rs"]
mod pg;

/// Bearer tokens, by what they may do.
#[derive(Clone, Debug)]
pub struct Tokens {
    /// `patient/*.cruds` on the first record.
    pub all: String,
    /// `patient/Binary.rs` on the first record.
    pub binary_read: String,
    /// `patient/Observation.cruds` on the first record.
    pub observations: String,
    /// `patient/DocumentReference.rs patient/Media.rs` on the first record.
    pub documents_read: String,
    /// `patient/*.cruds` on the second record.
    pub other: String,
    /// `user/*.cruds` of the account holding both records.
    pub user: String,
}

/// What a test body gets.
#[derive(Clone)]
pub struct Env {
    pub backend: &'static str,
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub tokens: Tokens,
    pub services: Arc<Services>,
    pub record: RecordId,
    pub patient: ItemId,
    pub other_patient: ItemId,
    pub blob_dir: PathBuf,
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

pub struct Fixture {
    services: Arc<Services>,
    env: Option<Env>,
    listener: std::net::TcpListener,
    _dir: tempfile::TempDir,
    _pg: Option<pg::ScratchDb>,
}

impl Fixture {
    /// A fixture per configured backend, with this upload limit.
    pub fn all(max_upload: u64) -> Vec<Fixture> {
        let mut out = vec![Fixture::new(max_upload, false).unwrap()];
        out.extend(Fixture::new(max_upload, true));
        out
    }

    fn new(max_upload: u64, postgres: bool) -> Option<Fixture> {
        let dir = tempfile::tempdir().unwrap();
        let (store, guard): (Arc<dyn Store>, _) = if postgres {
            let (guard, url) = pg::scratch()?;
            (
                Arc::new(hearth_store_postgres::PostgresStore::connect(&url).unwrap()),
                Some(guard),
            )
        } else {
            (
                Arc::new(hearth_store_sqlite::SqliteStore::open(dir.path().join("h.db")).unwrap()),
                None,
            )
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let blob_dir = dir.path().join("blobs");
        let settings = AuthSettings {
            public_url: base.clone(),
            ..AuthSettings::default()
        };
        let services = Arc::new(
            Services::new(
                store,
                Arc::new(LocalBlobStore::open_dir(&blob_dir).unwrap()),
                Arc::new(SystemClock),
            )
            .with_auth(settings, Arc::new(hearth_core::auth::NoMailer))
            .with_files(FileSettings {
                max_upload_bytes: max_upload,
            }),
        );
        let op = Context::operator();
        let ann = services.create_account(&op, "ann@example.org", "Ann").unwrap();
        let record = services
            .create_record(&op, ann.id, "Ann", Relationship::SelfRecord, None)
            .unwrap();
        let other = services
            .create_record(&op, ann.id, "Ben", Relationship::Child, None)
            .unwrap();
        let token = |record: Option<RecordId>, scope: &str| {
            let account = record.is_none().then_some(ann.id);
            services
                .issue_operator_token(&op, record, account, scope, 3600)
                .unwrap()
                .0
        };
        let tokens = Tokens {
            all: token(Some(record.id), "patient/*.cruds"),
            binary_read: token(Some(record.id), "patient/Binary.rs"),
            observations: token(Some(record.id), "patient/Observation.cruds"),
            documents_read: token(Some(record.id), "patient/DocumentReference.rs patient/Media.rs"),
            other: token(Some(other.id), "patient/*.cruds"),
            user: token(None, "user/*.cruds"),
        };
        let backend = if postgres { "postgres" } else { "sqlite" };
        let env = Env {
            backend,
            base,
            addr,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            tokens,
            services: services.clone(),
            record: record.id,
            patient: record.patient_item,
            other_patient: other.patient_item,
            blob_dir,
        };
        Some(Fixture {
            services,
            env: Some(env),
            listener,
            _dir: dir,
            _pg: guard,
        })
    }

    /// Serves the router, runs `body` against it, stops the server.
    pub fn run<F, Fut>(mut self, body: F)
    where
        F: FnOnce(Env) -> Fut,
        Fut: Future<Output = ()>,
    {
        let env = self.env.take().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let services = self.services.clone();
        let listener = self.listener.try_clone().unwrap();
        rt.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = TcpListener::from_std(listener).unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(serve(listener, AppState { services }, async {
                let _ = stopped.await;
            }));
            body(env).await;
            stop.send(()).unwrap();
            server.await.unwrap().unwrap();
        });
        drop(rt);
    }
}

/// A request over a plain connection, its body produced chunk by chunk by `next`: with a
/// `Content-Length` when `length` is given, chunked otherwise. Returns the status, the response
/// head and the body (the connection is closed by the request).
pub async fn raw_request(
    addr: SocketAddr,
    request_line: &str,
    headers: &[(&str, &str)],
    length: Option<u64>,
    mut next: impl FnMut() -> Option<Vec<u8>>,
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{request_line} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match length {
        Some(n) => head.push_str(&format!("Content-Length: {n}\r\n\r\n")),
        None => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    s.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and stop reading) before the whole body is sent.
    let mut sent_all = true;
    while let Some(chunk) = next() {
        let r = if length.is_some() {
            s.write_all(&chunk).await
        } else {
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            s.write_all(&framed).await
        };
        if r.is_err() {
            sent_all = false;
            break;
        }
    }
    if sent_all && length.is_none() {
        let _ = s.write_all(b"0\r\n\r\n").await;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}
