//! `hearth`: the one binary. `serve` runs the server on the configured database (SQLite under
//! `./hearth-data` by default); `migrate`, `import`, `export` and `admin` are the operator's
//! tools; `bench` measures the storage and import paths. Results go to stdout, errors to stderr
//! with a non-zero exit status.

mod admin;
mod bench;
mod clock;
mod config;
mod import;
mod mail;
mod open;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: your family's health records, on your own server"
)]
struct Cli {
    /// Configuration file (default: ./hearth.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite database and blobs). Default ./hearth-data.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: postgres://… for PostgreSQL; default SQLite in the data directory.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// The address people and apps reach this server at (default http://LISTEN).
        #[arg(long)]
        public_url: Option<String>,
        /// The largest file the FHIR API accepts, e.g. 200MiB (default 1GiB).
        #[arg(long)]
        max_upload: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Import FHIR bundles (transaction, batch, collection) and NDJSON files or directories.
    Import(import::ImportArgs),
    /// Export one record losslessly to a directory.
    Export {
        #[arg(long)]
        record: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Operator commands: accounts and records.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Measure import, read and query speed (see docs/benchmarks.md).
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let public_url = match &cli.command {
        Command::Serve { public_url, .. } => public_url.clone(),
        _ => None,
    };
    let max_upload = match &cli.command {
        Command::Serve { max_upload, .. } => max_upload.clone(),
        _ => None,
    };
    let over = Overrides {
        config: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        listen,
        public_url,
        max_upload,
    };
    let result = Config::load(&over, std::env::vars()).and_then(|config| {
        init_logging(&config, matches!(cli.command, Command::Serve { .. }));
        run(cli.command, config)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config, serving: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(if serving { config.log.as_str() } else { "warn" })
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => serve::run(config),
        Command::Migrate => {
            let store = open::open_store(&config)?;
            store.migrate()?;
            println!("database is up to date ({})", store.backend_name());
            Ok(())
        }
        Command::Import(args) => import::run(&config, args),
        Command::Export { record, out } => import::export(&config, &record, &out),
        Command::Admin(cmd) => admin::run(&config, cmd),
        Command::Bench(args) => bench::run(&config, args),
    }
}
