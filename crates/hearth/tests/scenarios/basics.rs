//! Scenarios 1 and 2: `hearth serve` (health, readiness, the default data directory, clean
//! shutdown) and the `admin` commands.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use crate::common::{self, Backend, ChildGuard, SYNTHEA_DIR, clean_command, http};

// ---------------------------------------------------------------------------------------------
// 1. serve

pub fn serve(backend: Backend) {
    let install = backend.install();
    // No configuration at all: a fresh working directory and no HEARTH_* variables, except the
    // database URL on PostgreSQL (given through the environment, as an operator would).
    let cwd = install.path("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let stderr_path = install.path("serve.stderr");
    let mut cmd = clean_command(&cwd);
    if let Some(url) = &install.database_url {
        cmd.env("HEARTH_DATABASE_URL", url);
    }
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut server = ChildGuard::new(cmd.spawn().expect("start hearth serve"));
    let stdout = server
        .child
        .as_mut()
        .and_then(|c| c.stdout.take())
        .expect("stdout");

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {} // Drain until the server exits.
    });
    let first = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line,
        other => panic!(
            "the server printed no address ({other:?}); stderr:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        ),
    };
    let addr: SocketAddr = first
        .strip_prefix("hearth listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad address in {first:?}: {e}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let r = http::get(addr, "/healthz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"status": "ok"}));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );

    let r = http::get(addr, "/readyz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"ready\""), "{}", r.text());

    let r = http::get(addr, "/no-such-route");
    assert_eq!(r.status, 404, "{}", r.text());

    // The default data directory is ./hearth-data in the working directory.
    let data = cwd.join("hearth-data");
    assert!(data.is_dir(), "{} was not created", data.display());
    match backend {
        Backend::Sqlite => assert!(data.join("hearth.db").is_file(), "no SQLite database"),
        Backend::Postgres { .. } => assert!(
            !data.join("hearth.db").exists(),
            "a SQLite database was created although PostgreSQL was configured"
        ),
    }

    // SIGTERM stops it cleanly.
    let status = server.terminate(30);
    assert!(
        status.success(),
        "the server exited with {status} on SIGTERM; stderr:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(!log.contains("warning: unknown environment variable"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// 2. admin

pub fn admin(backend: Backend) {
    let h = backend.install();
    let ann = h.create_account("ann@example.org", "Ann Example");

    // A second account with the same email is refused, clearly.
    let dup = h
        .run([
            "admin",
            "create-account",
            "--email",
            "ann@example.org",
            "--name",
            "Ann Again",
        ])
        .failure();
    dup.stderr_has(&["already exists"]);
    assert!(dup.stdout.is_empty(), "{}", dup.stdout);

    // A record for herself (default relationship) and one for her child.
    let own = h.create_record("ann@example.org", "Ann");
    let child = h.ok([
        "admin",
        "create-record",
        "--owner",
        "ann@example.org",
        "--name",
        "Ben",
        "--relationship",
        "parent",
    ]);
    let child = common::single_id(&child);
    assert_ne!(own, child);
    assert_ne!(own, ann);

    let records = h.list_records(Some("ann@example.org"));
    let by_id: HashMap<_, _> = records
        .iter()
        .map(|(id, n, p)| (id.clone(), (n.clone(), p.clone())))
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(
        by_id[&own],
        ("Ann".into(), "ann@example.org:self:custodian".into())
    );
    assert_eq!(
        by_id[&child],
        ("Ben".into(), "ann@example.org:parent:custodian".into())
    );
    assert_eq!(h.list_records(None).len(), 2);

    // Another account sees only its own.
    h.create_account("carl@example.org", "Carl");
    let carls = h.create_record("carl@example.org", "Carl");
    let listed = h.list_records(Some("carl@example.org"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, carls);
    assert_eq!(h.list_records(None).len(), 3);

    // A bogus relationship names the allowed values and creates nothing.
    let r = h
        .run([
            "admin",
            "create-record",
            "--owner",
            "ann@example.org",
            "--name",
            "X",
            "--relationship",
            "bogus",
        ])
        .failure();
    r.stderr_has(&["bogus", "self", "parent", "expected one of"]);

    // An unknown owner is refused by name.
    let r = h
        .run([
            "admin",
            "create-record",
            "--owner",
            "nobody@example.org",
            "--name",
            "X",
        ])
        .failure();
    r.stderr_has(&["nobody@example.org"]);
    h.run(["admin", "list-records", "--owner", "nobody@example.org"])
        .failure()
        .stderr_has(&["nobody@example.org"]);
    h.run(["import", "--owner", "nobody@example.org", SYNTHEA_DIR])
        .failure()
        .stderr_has(&["nobody@example.org"]);
    let missing = uuid::Uuid::new_v4().to_string();
    let one = h.write("one.json", r#"{"resourceType":"Basic","code":{"text":"x"}}"#);
    h.run(["import", "--quiet", "--record", &missing, one.to_str().unwrap()])
        .failure()
        .stderr_line_has(&["one.json", &missing, "not found"]);
    h.run(["export", "--record", "not-an-id", "--out", "x"])
        .failure()
        .stderr_has(&["not-an-id"]);
    assert_eq!(h.list_records(None).len(), 3, "a failed command created a record");

    // A bad email is refused.
    h.run([
        "admin",
        "create-account",
        "--email",
        "not an email",
        "--name",
        "X",
    ])
    .failure()
    .stderr_has(&["not an email"]);
}
