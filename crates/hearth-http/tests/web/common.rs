//! The test server and the small HTTP and HTML helpers every page test uses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hearth_core::Services;
use hearth_core::auth::{AuthSettings, OutboxMailer};
use hearth_domain::Timestamp;
use hearth_domain::time::ManualClock;
use hearth_http::{AppState, serve};
use hearth_store::{LocalBlobStore, Store};
use hearth_store_sqlite::SqliteStore;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode};
use tokio::net::TcpListener;

#[path = "../../../hearth-store-postgres/tests/common/mod.rs"]
mod pg;

pub const PASSWORD: &str = "plum-kettle-orbit-7-sandal";
pub const NEW_PASSWORD: &str = "violet-harbour-cactus-42-lantern";

pub struct TestServer {
    pub base: String,
    pub public_url: String,
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub services: Arc<Services>,
    pub stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server whose public address is its own http address, or `https://hearth.test` with `tls`.
    pub async fn start(tls: bool) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("hearth.db")).unwrap());
        TestServer::start_with(dir, store, tls).await
    }

    /// A server on `store`, keeping blobs and mail in `dir`.
    pub async fn start_with(dir: tempfile::TempDir, store: Arc<dyn Store>, tls: bool) -> TestServer {
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
            Services::new(store, Arc::new(blobs), clock.clone()).with_auth(settings, Arc::new(mailer)),
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

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// The Unix time the services see now.
    pub fn unix_now(&self) -> u64 {
        (self.services.now().0 / 1_000_000) as u64
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).unwrap();
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

/// Runs `body` against a server on SQLite and, when `HEARTH_TEST_POSTGRES_URL` is set, on
/// PostgreSQL (a scratch database each). The stores are opened and dropped outside the runtime:
/// a PostgreSQL pool must not be dropped on a runtime thread.
pub fn on_each_backend(body: impl AsyncFn(&TestServer)) {
    for postgres in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (store, guard): (Arc<dyn Store>, _) = if postgres {
            let Some((guard, url)) = pg::scratch() else {
                continue;
            };
            (
                Arc::new(hearth_store_postgres::PostgresStore::connect(&url).unwrap()),
                Some(guard),
            )
        } else {
            (
                Arc::new(SqliteStore::open(dir.path().join("hearth.db")).unwrap()),
                None,
            )
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let services = rt.block_on(async {
            let s = TestServer::start_with(dir, store.clone(), false).await;
            body(&s).await;
            let services = s.services.clone();
            s.stop().await;
            services
        });
        drop(rt);
        drop(services);
        drop(store);
        drop(guard);
    }
}

/// Runs a blocking call (the services on PostgreSQL) from a test body of [`on_each_backend`].
pub fn sync<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A browser: keeps cookies, does not follow redirects (the tests look at them).
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

pub async fn page(res: reqwest::Response) -> Page {
    Page {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.text().await.unwrap(),
    }
}

pub async fn get(c: &Client, s: &TestServer, path: &str) -> Page {
    page(c.get(s.url(path)).send().await.unwrap()).await
}

pub fn urlencoded(fields: &[(&str, &str)]) -> String {
    let mut f = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        f.append_pair(k, v);
    }
    f.finish()
}

pub async fn post(c: &Client, s: &TestServer, path: &str, fields: &[(&str, &str)]) -> Page {
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
pub fn unescape(s: &str) -> String {
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
pub fn hidden(body: &str, name: &str) -> Option<String> {
    let marker = format!("type=\"hidden\" name=\"{name}\" value=\"");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(unescape(&body[start..end]))
}

/// Every hidden field of the first form posting to `action`.
pub fn hidden_fields(body: &str, action: &str) -> Vec<(String, String)> {
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
pub fn between<'a>(body: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let start = body.find(before)? + before.len();
    let end = body[start..].find(after)? + start;
    Some(&body[start..end])
}

/// The newest mail to `to` whose body holds `path`, as the link in it (made relative).
pub fn mailed_link(s: &TestServer, to: &str, path: &str) -> Option<String> {
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

pub fn mails_to(dir: &Path, to: &str) -> usize {
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
pub async fn register(s: &TestServer, c: &Client, email: &str, name: &str) {
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

pub async fn sign_in(s: &TestServer, c: &Client, email: &str, password: &str, next: &str) -> Page {
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
pub async fn page_csrf(s: &TestServer, c: &Client, path: &str) -> String {
    let p = get(c, s, path).await;
    assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.body);
    p.csrf()
}

pub async fn sign_out(s: &TestServer, c: &Client) {
    let csrf = page_csrf(s, c, "/records").await;
    let out = post(c, s, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
}
