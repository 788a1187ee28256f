//! Helpers for the end-to-end tests: the backends (SQLite always, PostgreSQL when
//! `HEARTH_TEST_POSTGRES_URL` names a server), a scratch installation per test (a temporary data
//! directory and, for PostgreSQL, a scratch database dropped afterwards), running the real binary,
//! and a child-process guard for `hearth serve`.

#![allow(dead_code)]

pub mod export;
pub mod http;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use postgres::{Client, NoTls};

/// The binary under test.
pub const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

/// The Synthea sample: 123 patient bundles and one bundle of Practitioners.
pub const SYNTHEA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/synthea-r4");

pub const POSTGRES_URL_VAR: &str = "HEARTH_TEST_POSTGRES_URL";

/// Where a scenario stores its data.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The server's admin URL; each installation gets a scratch database on it.
    Postgres {
        admin_url: String,
    },
}

impl Backend {
    /// PostgreSQL when `HEARTH_TEST_POSTGRES_URL` is set and not empty.
    pub fn postgres() -> Option<Backend> {
        std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .map(|admin_url| Backend::Postgres { admin_url })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// A fresh, empty installation.
    pub fn install(&self) -> Install {
        let dir = tempfile::Builder::new()
            .prefix("hearth-e2e-")
            .tempdir()
            .expect("temporary directory");
        let (db, database_url) = match self {
            Backend::Sqlite => (None, None),
            Backend::Postgres { admin_url } => {
                let db = ScratchDb::create(admin_url);
                let url = db.url.clone();
                (Some(db), Some(url))
            }
        };
        Install {
            backend: self.clone(),
            database_url,
            db,
            dir,
        }
    }
}

/// Runs `scenario` on PostgreSQL if configured, else says it was skipped.
pub fn on_postgres(name: &str, scenario: fn(Backend)) {
    match Backend::postgres() {
        Some(b) => scenario(b),
        None => eprintln!("skipped: {name} on PostgreSQL ({POSTGRES_URL_VAR} is not set)"),
    }
}

/// A scratch database `hearth_e2e_<uuid>`, dropped (with `FORCE`) when this goes.
pub struct ScratchDb {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl ScratchDb {
    fn create(admin_url: &str) -> ScratchDb {
        let name = format!("hearth_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut admin = Client::connect(admin_url, NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_URL_VAR} ({admin_url}): {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the scratch database");
        ScratchDb {
            admin_url: admin_url.to_string(),
            url: with_dbname(admin_url, &name),
            name,
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        match Client::connect(&self.admin_url, NoTls) {
            Ok(mut c) => {
                if let Err(e) =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                {
                    eprintln!("warning: cannot drop {}: {e}", self.name);
                }
            }
            Err(e) => eprintln!("warning: cannot drop {}: {e}", self.name),
        }
    }
}

/// The admin URL with its database name replaced.
fn with_dbname(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// One installation: a temporary directory holding the data directory (and whatever the test
/// writes), plus the scratch database on PostgreSQL.
pub struct Install {
    pub backend: Backend,
    pub database_url: Option<String>,
    // Dropped in declaration order: the database first, then the directory.
    db: Option<ScratchDb>,
    dir: tempfile::TempDir,
}

impl Install {
    /// The temporary directory (the data directory is `data/` inside it).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A fresh path inside the temporary directory (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file inside the temporary directory and returns its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create directory");
        }
        std::fs::write(&p, content).expect("write input file");
        p
    }

    /// `hearth --data-dir … [--database-url …]` with a clean environment.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = clean_command(self.root());
        cmd.arg("--data-dir").arg(self.data_dir());
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.args(args);
        cmd
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(args);
        Run::of(&mut cmd)
    }

    /// Runs and insists on success; returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run(args).success().stdout
    }

    pub fn create_account(&self, email: &str, name: &str) -> String {
        let out = self.ok(["admin", "create-account", "--email", email, "--name", name]);
        single_id(&out)
    }

    pub fn create_record(&self, owner: &str, name: &str) -> String {
        let out = self.ok(["admin", "create-record", "--owner", owner, "--name", name]);
        single_id(&out)
    }

    /// `admin list-records [--owner]`: (id, name, people) per line.
    pub fn list_records(&self, owner: Option<&str>) -> Vec<(String, String, String)> {
        let mut args = vec!["admin", "list-records"];
        if let Some(o) = owner {
            args.extend(["--owner", o]);
        }
        let out = self.ok(args);
        out.lines()
            .map(|l| {
                let mut f = l.splitn(3, '\t');
                let id = f.next().unwrap_or_default().to_string();
                let name = f.next().unwrap_or_else(|| panic!("no name in {l:?}")).to_string();
                let people = f
                    .next()
                    .unwrap_or_else(|| panic!("no people in {l:?}"))
                    .to_string();
                (id, name, people)
            })
            .collect()
    }

    /// `import --quiet ARGS…`, returning the run (not checked).
    pub fn import<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(["import", "--quiet"]);
        cmd.args(args);
        Run::of(&mut cmd)
    }

    /// A successful import's summary.
    pub fn import_ok<I, S>(&self, args: I) -> Summary
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let run = self.import(args).success();
        Summary::parse(&run.stdout)
    }

    /// Exports `record` to a fresh directory under the installation and reads it back.
    pub fn export(&self, record: &str) -> export::Export {
        let out = self.path(&format!("export-{}", uuid::Uuid::new_v4().simple()));
        let stdout = self.ok([
            "export",
            "--record",
            record,
            "--out",
            out.to_str().expect("utf-8 path"),
        ]);
        let printed: serde_json::Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("export printed no manifest ({e}): {stdout}"));
        let exp = export::Export::read(&out);
        assert_eq!(
            printed, exp.manifest,
            "the printed manifest differs from manifest.json"
        );
        exp
    }
}

/// A command for the binary with nothing inherited but `PATH` and `HOME`, run in `cwd`.
pub fn clean_command(cwd: &Path) -> Command {
    let mut cmd = Command::new(HEARTH);
    cmd.env_clear().current_dir(cwd);
    for k in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// The one line of stdout, checked to be a UUID.
pub fn single_id(stdout: &str) -> String {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line (an id), got {stdout:?}");
    let id = lines[0].trim();
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("{id:?} is not an id: {e}"));
    id.to_string()
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(cmd: &mut Command) -> Run {
        let what = format!(
            "hearth {}",
            cmd.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("run hearth");
        Run {
            what,
            code: status.code(),
            stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
        }
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "{} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Insists on a non-zero exit with nothing on stdout and an `error:` line on stderr.
    #[track_caller]
    pub fn failure(self) -> Run {
        assert!(
            matches!(self.code, Some(c) if c != 0),
            "{} should have failed (exit {:?})\n--- stdout\n{}\n--- stderr\n{}",
            self.what,
            self.code,
            self.stdout,
            self.stderr
        );
        assert!(
            self.stderr.contains("error:"),
            "{}: no \"error:\" on stderr:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    /// Asserts that stderr contains every one of `parts`.
    #[track_caller]
    pub fn stderr_has(&self, parts: &[&str]) -> &Self {
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "{}: stderr lacks {p:?}:\n{}",
                self.what,
                self.stderr
            );
        }
        self
    }

    /// Asserts that one line of stderr contains every one of `parts`.
    #[track_caller]
    pub fn stderr_line_has(&self, parts: &[&str]) -> &Self {
        assert!(
            self.stderr.lines().any(|l| parts.iter().all(|p| l.contains(p))),
            "{}: no line of stderr holds all of {parts:?}:\n{}",
            self.what,
            self.stderr
        );
        self
    }
}

/// The summary line of `hearth import`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub units: u64,
    pub resources: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub records_created: u64,
    pub records_touched: u64,
    /// From the warning line, if any.
    pub unplaced: u64,
}

impl Summary {
    /// Parses `imported U units, R resources: C created, U updated, N unchanged; X records
    /// created, Y records touched` and the optional `warning: N resources belong to no patient…`.
    pub fn parse(stdout: &str) -> Summary {
        let mut lines = stdout.lines();
        let first = lines.next().unwrap_or_default();
        let nums: Vec<u64> = first
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("number"))
            .collect();
        let words: String = first.chars().filter(|c| !c.is_ascii_digit()).collect();
        assert_eq!(
            words,
            "imported  units,  resources:  created,  updated,  unchanged;  records created,  records touched",
            "unexpected summary line {first:?}"
        );
        let mut s = Summary {
            units: nums[0],
            resources: nums[1],
            created: nums[2],
            updated: nums[3],
            unchanged: nums[4],
            records_created: nums[5],
            records_touched: nums[6],
            unplaced: 0,
        };
        for l in lines {
            if let Some(rest) = l.strip_prefix("warning: ") {
                assert!(
                    rest.contains("resources belong to no patient"),
                    "unexpected warning {l:?}"
                );
                s.unplaced = rest
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("no count in {l:?}"));
            } else {
                panic!("unexpected line after the summary: {l:?}");
            }
        }
        s
    }
}

/// Kills the child (if still running) when dropped, so a failing test leaves no server behind.
pub struct ChildGuard {
    pub child: Option<Child>,
}

impl ChildGuard {
    pub fn new(child: Child) -> Self {
        ChildGuard { child: Some(child) }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Asks the server to stop (SIGTERM) and waits up to `secs` for it; returns its status.
    pub fn terminate(&mut self, secs: u64) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("child still held");
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(sent, "could not send SIGTERM");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the server") {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within {secs}s of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
