//! `hearth import` and `hearth export`. Files are parsed on one thread while the previous unit is
//! validated and written on another; each unit (bundle, or slice of NDJSON) is one transaction.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use hearth_core::Services;
use hearth_domain::{RecordId, Relationship};
use hearth_import::source::{collect_files, read_file};
use hearth_import::{ImportError, ImportSummary, Importer, Target, Unit};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::open::open_services;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Put everything into this record (its Patient becomes the input's Patient, if any).
    #[arg(long, conflicts_with = "owner")]
    record: Option<String>,
    /// Start a record owned by this account for every Patient in the input.
    #[arg(long, required_unless_present = "record")]
    owner: Option<String>,
    /// With --owner: the owner's relationship to the imported people.
    #[arg(long, default_value = "other")]
    relationship: String,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Files or directories (*.json bundles, *.ndjson).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

pub fn run(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let svc = open_services(config)?;
    let target = match (&args.record, &args.owner) {
        (Some(r), _) => Target::Record(
            r.parse::<RecordId>()
                .map_err(|_| anyhow!("--record {r:?} is not a record id"))?,
        ),
        (None, Some(email)) => Target::Owner {
            account: svc.require_account(email)?.id,
            relationship: args
                .relationship
                .parse::<Relationship>()
                .map_err(anyhow::Error::msg)?,
        },
        (None, None) => bail!("give --record ID or --owner EMAIL"),
    };
    let files = collect_files(&args.paths).map_err(|e| anyhow!("{e}"))?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(bytes)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let summary = import_files(&svc, target, &files, &|done_bytes, s| {
        bar.set_position(done_bytes);
        bar.set_message(format!("{} resources", s.resources));
    });
    bar.finish_and_clear();
    match summary {
        Ok(s) => {
            print_summary(&s);
            Ok(())
        }
        Err((s, errors)) => {
            for e in errors.iter().take(50) {
                eprintln!("{e}");
            }
            if errors.len() > 50 {
                eprintln!("… and {} more problems", errors.len() - 50);
            }
            eprintln!(
                "import stopped: the failing unit was not written; {} earlier unit(s) with {} resources were \
                 (running the same import again is safe)",
                s.units, s.resources
            );
            Err(anyhow!("import failed"))
        }
    }
}

fn print_summary(s: &ImportSummary) {
    println!(
        "imported {} units, {} resources: {} created, {} updated, {} unchanged; {} records created, {} records touched",
        s.units,
        s.resources,
        s.created,
        s.updated,
        s.unchanged,
        s.records_created,
        s.records.len()
    );
    if s.unplaced > 0 {
        println!(
            "warning: {} resources belong to no patient and no imported record refers to them; they were not \
             stored (import such files with --record ID)",
            s.unplaced
        );
    }
}

/// Parses on a second thread, imports on this one. `progress` gets the bytes of finished files.
pub fn import_files(
    svc: &Services,
    target: Target,
    files: &[PathBuf],
    progress: &dyn Fn(u64, &ImportSummary),
) -> Result<ImportSummary, (ImportSummary, Vec<ImportError>)> {
    let mut importer = Importer::new(svc, target);
    let (tx, rx) = mpsc::sync_channel::<Result<(Unit, u64), ImportError>>(4);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut done = 0u64;
            for f in files {
                let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
                let mut first = true;
                let r = read_file(f, &mut |unit| {
                    let credit = if first { size } else { 0 };
                    first = false;
                    done += credit;
                    tx.send(Ok((unit, done)))
                        .map_err(|_| ImportError::at("", "", "importer stopped"))
                });
                if let Err(e) = r {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        for msg in rx {
            match msg {
                Ok((unit, done)) => {
                    if let Err(errors) = importer.import_unit(unit) {
                        return Err((importer.summary.clone(), errors));
                    }
                    progress(done, &importer.summary);
                }
                Err(e) => return Err((importer.summary.clone(), vec![e])),
            }
        }
        Ok(importer.summary.clone())
    })
}

pub fn export(config: &Config, record: &str, out: &Path) -> anyhow::Result<()> {
    let svc = open_services(config)?;
    let id: RecordId = record
        .parse()
        .map_err(|_| anyhow!("--record {record:?} is not a record id"))?;
    let manifest =
        hearth_import::export::export_record(&svc, &hearth_core::Context::tool("hearth-export"), id, out)
            .with_context(|| format!("cannot export record {id}"))?;
    println!("{}", serde_json::to_string(&manifest).unwrap_or_default());
    Ok(())
}
