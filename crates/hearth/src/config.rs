//! Configuration, explicit and layered: built-in defaults, then `hearth.toml` (in the working
//! directory, or the file named by `--config` / `HEARTH_CONFIG`), then `HEARTH_*` environment
//! variables, then command-line flags. The result is passed to whatever needs it; nothing reads
//! configuration from a global.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// What the file may hold; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    log: Option<String>,
    public_url: Option<String>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    max_upload: Option<SizeText>,
    bulk_expiry_secs: Option<i64>,
    clock_offset_file: Option<PathBuf>,
}

/// A size in `hearth.toml`: a number of bytes, or text such as `"200MiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeText {
    Bytes(u64),
    Text(String),
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub max_upload: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the SQLite database and the blobs live.
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; absent (or `sqlite://PATH`) selects SQLite.
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    /// A tracing filter, e.g. `info` or `hearth=debug`.
    pub log: String,
    /// The address people and apps use, e.g. `https://hearth.example.org`: the OAuth issuer,
    /// the base of emailed links; https turns on Secure cookies and HSTS. Defaults to
    /// `http://` + the listen address.
    pub public_url: String,
    /// `smtp://user:pass@host:587` (STARTTLS required) or `smtps://…`; with none, mail goes to
    /// the outbox directory in the data directory.
    pub smtp_url: Option<String>,
    /// The From: address of Hearth's mail.
    pub mail_from: String,
    /// The largest file the FHIR API accepts, in bytes (`Binary`, attachments).
    pub max_upload_bytes: u64,
    /// How long bulk export files (and the job's status) are kept after the export finishes.
    pub bulk_expiry_secs: i64,
    /// For test servers only: a file holding a number of seconds added to the system clock
    /// (re-read every 100 ms), so end-to-end tests can move time past expiry dates.
    pub clock_offset_file: Option<PathBuf>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Bulk export files are kept a day by default.
pub const DEFAULT_BULK_EXPIRY_SECS: i64 = 24 * 60 * 60;

impl Config {
    /// Loads the layers. `env` is passed in (normally `std::env::vars()`), so tests need not
    /// touch the process environment.
    pub fn load(over: &Overrides, env: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("HEARTH_"))
            .collect();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());

        let file_path = over
            .config
            .clone()
            .or_else(|| get("HEARTH_CONFIG").map(PathBuf::from));
        let file = match &file_path {
            Some(p) => read_file(p)?,
            None if Path::new("hearth.toml").exists() => read_file(Path::new("hearth.toml"))?,
            None => FileConfig::default(),
        };
        for (k, _) in &env {
            if !KNOWN_ENV.contains(&k.as_str()) && !k.starts_with("HEARTH_TEST_") {
                eprintln!("warning: unknown environment variable {k}");
            }
        }
        let data_dir = over
            .data_dir
            .clone()
            .or_else(|| get("HEARTH_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("hearth-data"));
        let database_url = over
            .database_url
            .clone()
            .or_else(|| get("HEARTH_DATABASE_URL"))
            .or(file.database_url)
            .filter(|s| !s.trim().is_empty());
        if let Some(url) = &database_url
            && !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite://"))
        {
            bail!(
                "HEARTH_DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got a {} URL)",
                url.split(':').next().unwrap_or("malformed")
            );
        }
        let listen_text = over
            .listen
            .clone()
            .or_else(|| get("HEARTH_LISTEN"))
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text
            .parse()
            .with_context(|| format!("listen address {listen_text:?} is not HOST:PORT"))?;
        let log = get("HEARTH_LOG").or(file.log).unwrap_or_else(|| "info".into());
        let public_url = over
            .public_url
            .clone()
            .or_else(|| get("HEARTH_PUBLIC_URL"))
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            bail!("the public URL must start with http:// or https:// (got {public_url:?})");
        }
        let smtp_url = get("HEARTH_SMTP_URL")
            .or(file.smtp_url)
            .filter(|s| !s.trim().is_empty());
        if let Some(u) = &smtp_url
            && !(u.starts_with("smtp://") || u.starts_with("smtps://"))
        {
            bail!("HEARTH_SMTP_URL must start with smtp:// or smtps://");
        }
        let mail_from = get("HEARTH_MAIL_FROM")
            .or(file.mail_from)
            .unwrap_or_else(|| "Hearth <hearth@localhost>".into());
        let max_upload_bytes = match over.max_upload.clone().or_else(|| get("HEARTH_MAX_UPLOAD")) {
            Some(text) => parse_size(&text)?,
            None => match file.max_upload {
                Some(SizeText::Bytes(n)) => n,
                Some(SizeText::Text(t)) => parse_size(&t)?,
                None => hearth_core::files::DEFAULT_MAX_UPLOAD_BYTES,
            },
        };
        if max_upload_bytes == 0 {
            bail!("the maximum upload size must be at least 1 byte");
        }
        let bulk_expiry_secs = match get("HEARTH_BULK_EXPIRY_SECS") {
            Some(v) => v
                .trim()
                .parse::<i64>()
                .with_context(|| format!("HEARTH_BULK_EXPIRY_SECS {v:?} is not a number of seconds"))?,
            None => file.bulk_expiry_secs.unwrap_or(DEFAULT_BULK_EXPIRY_SECS),
        };
        if bulk_expiry_secs <= 0 {
            bail!("the bulk export expiry must be a positive number of seconds (got {bulk_expiry_secs})");
        }
        Ok(Config {
            data_dir,
            database_url,
            listen,
            log,
            public_url,
            smtp_url,
            mail_from,
            max_upload_bytes,
            bulk_expiry_secs,
            clock_offset_file: get("HEARTH_CLOCK_OFFSET_FILE")
                .map(PathBuf::from)
                .or(file.clock_offset_file),
        })
    }
}

/// A size: bytes, or a number with a unit — `K`/`KB`/`KiB`, `M`…, `G`… (all powers of 1024;
/// case and spaces ignored), e.g. `1GiB`, `200 MB`, `5000000`.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let t = text.trim().to_ascii_lowercase().replace(' ', "");
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .with_context(|| format!("size {text:?} does not start with a whole number"))?;
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => bail!("size {text:?} has an unknown unit (use bytes, KiB, MiB, GiB or TiB)"),
    };
    n.checked_mul(scale)
        .with_context(|| format!("size {text:?} is too large"))
}

const KNOWN_ENV: &[&str] = &[
    "HEARTH_CONFIG",
    "HEARTH_DATA_DIR",
    "HEARTH_DATABASE_URL",
    "HEARTH_LISTEN",
    "HEARTH_LOG",
    "HEARTH_PUBLIC_URL",
    "HEARTH_SMTP_URL",
    "HEARTH_MAIL_FROM",
    "HEARTH_MAX_UPLOAD",
    "HEARTH_BULK_EXPIRY_SECS",
];

fn read_file(p: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not a valid Hearth configuration", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h.toml");
        std::fs::write(&file, "data_dir = \"/from/file\"\nlisten = \"127.0.0.1:9000\"\n").unwrap();

        let none = Config::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(none.listen, DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(none.database_url, None);

        let over = Overrides {
            config: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load(&over, env(&[])).unwrap();
        assert_eq!(
            (c.data_dir.to_str().unwrap(), c.listen.port()),
            ("/from/file", 9000)
        );

        let c = Config::load(
            &over,
            env(&[
                ("HEARTH_DATA_DIR", "/from/env"),
                ("HEARTH_DATABASE_URL", "postgres://x/y"),
            ]),
        )
        .unwrap();
        assert_eq!(c.data_dir.to_str().unwrap(), "/from/env");
        assert_eq!(c.database_url.as_deref(), Some("postgres://x/y"));

        let flags = Overrides {
            data_dir: Some("/from/flag".into()),
            listen: Some("127.0.0.1:1".into()),
            ..over.clone()
        };
        let c = Config::load(&flags, env(&[("HEARTH_DATA_DIR", "/from/env")])).unwrap();
        assert_eq!((c.data_dir.to_str().unwrap(), c.listen.port()), ("/from/flag", 1));

        assert!(
            Config::load(
                &Overrides::default(),
                env(&[("HEARTH_DATABASE_URL", "mysql://x")])
            )
            .is_err()
        );
        assert!(
            Config::load(
                &Overrides {
                    listen: Some("nope".into()),
                    ..Default::default()
                },
                env(&[])
            )
            .is_err()
        );
        assert_eq!(c.max_upload_bytes, hearth_core::files::DEFAULT_MAX_UPLOAD_BYTES);
        std::fs::write(&file, "max_upload = \"2 MiB\"\n").unwrap();
        assert_eq!(Config::load(&over, env(&[])).unwrap().max_upload_bytes, 2 << 20);
        std::fs::write(&file, "max_upload = 1000\n").unwrap();
        assert_eq!(Config::load(&over, env(&[])).unwrap().max_upload_bytes, 1000);
        let c = Config::load(&over, env(&[("HEARTH_MAX_UPLOAD", "3k")])).unwrap();
        assert_eq!(c.max_upload_bytes, 3072);
        let flag = Overrides {
            max_upload: Some("1G".into()),
            ..over.clone()
        };
        let c = Config::load(&flag, env(&[("HEARTH_MAX_UPLOAD", "3k")])).unwrap();
        assert_eq!(c.max_upload_bytes, 1 << 30);
        for bad in ["", "MiB", "12 parsecs", "0", "99999999999999T"] {
            assert!(
                Config::load(&over, env(&[("HEARTH_MAX_UPLOAD", bad)])).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(c.bulk_expiry_secs, DEFAULT_BULK_EXPIRY_SECS);
        std::fs::write(&file, "bulk_expiry_secs = 3600\n").unwrap();
        let from_file = Overrides {
            config: Some(file.clone()),
            ..Default::default()
        };
        assert_eq!(Config::load(&from_file, env(&[])).unwrap().bulk_expiry_secs, 3600);
        assert_eq!(
            Config::load(&from_file, env(&[("HEARTH_BULK_EXPIRY_SECS", "60")]))
                .unwrap()
                .bulk_expiry_secs,
            60
        );
        for bad in ["0", "-5", "a day"] {
            assert!(Config::load(&from_file, env(&[("HEARTH_BULK_EXPIRY_SECS", bad)])).is_err());
        }
        std::fs::write(&file, "bogus = 1\n").unwrap();
        assert!(
            Config::load(
                &Overrides {
                    config: Some(file),
                    ..Default::default()
                },
                env(&[])
            )
            .is_err()
        );
    }
}
