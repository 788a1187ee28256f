//! `hearth bench`: measures the embedded default (SQLite, local disk) on real data.
//!
//! 1. Import of `shared/data/synthea-r4` (every bundle, `--owner` placement) into a fresh store.
//! 2. Import of a corpus of ≥ 1,000,000 resources made by cloning those patients with fresh ids
//!    (generated and parsed on one thread while the other validates and writes), with the rate
//!    reported for every 100,000 resources; then the database size per resource.
//! 3. Reads by id through the services (authorisation + audit row per read), one thread.
//! 4. A type-and-date query (weights in a one-year window) on one record, p50 and p99.
//!
//! Figures print as they are measured; `docs/benchmarks.md` records them with the machine.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use clap::Args;
use hearth_core::{Context, Services};
use hearth_domain::{ItemId, ItemQuery, RecordId, Relationship};
use hearth_import::{Importer, Target, Unit};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::config::Config;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Directory of Synthea FHIR bundles.
    #[arg(long, default_value = "../shared/data/synthea-r4")]
    data: PathBuf,
    /// Working directory for the benchmark databases (default: a temporary directory).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Size of the cloned corpus, in resources (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    corpus: u64,
    /// How long to run each read and query measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

fn fresh_services(
    dir: &std::path::Path,
) -> anyhow::Result<(Services, std::sync::Arc<hearth_store_sqlite::SqliteStore>)> {
    std::fs::create_dir_all(dir)?;
    let store = std::sync::Arc::new(hearth_store_sqlite::SqliteStore::open(dir.join("hearth.db"))?);
    let blobs = hearth_store::LocalBlobStore::open_dir(dir.join("blobs"))?;
    let svc = Services::new(
        store.clone(),
        std::sync::Arc::new(blobs),
        std::sync::Arc::new(hearth_domain::SystemClock),
    );
    Ok((svc, store))
}

fn owner(svc: &Services) -> anyhow::Result<Target> {
    let a = svc.create_account(&Context::operator(), "bench@example.org", "Bench")?;
    Ok(Target::Owner {
        account: a.id,
        relationship: Relationship::Other,
    })
}

fn patient_bundles(dir: &std::path::Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| Ok((f.display().to_string(), std::fs::read(&f)?)))
        .collect::<anyhow::Result<Vec<_>>>()
}

/// Imports units produced by `produce` on a second thread; returns (resources, seconds).
fn pipeline(
    svc: &Services,
    target: Target,
    produce: impl FnOnce(&mpsc::SyncSender<Unit>) + Send,
    mut report: impl FnMut(u64, Duration),
) -> anyhow::Result<(u64, f64)> {
    let mut importer = Importer::new(svc, target);
    let (tx, rx) = mpsc::sync_channel::<Unit>(8);
    let start = Instant::now();
    std::thread::scope(|s| {
        s.spawn(move || produce(&tx));
        for unit in rx {
            importer.import_unit(unit).map_err(|e| {
                anyhow!(
                    "{}",
                    e.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n")
                )
            })?;
            report(importer.summary.resources, start.elapsed());
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok((importer.summary.resources, start.elapsed().as_secs_f64()))
}

pub fn run(_config: &Config, args: BenchArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let work = args.work.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let bundles = patient_bundles(&args.data)?;
    let total_bytes: usize = bundles.iter().map(|(_, b)| b.len()).sum();
    println!(
        "machine: {} cores; data: {} bundles, {:.1} MB",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        bundles.len(),
        total_bytes as f64 / 1e6
    );

    // 1. Synthea as it is.
    let (synthea_svc, _) = fresh_services(&work.join("synthea"))?;
    let target = owner(&synthea_svc)?;
    let (n, secs) = pipeline(
        &synthea_svc,
        target,
        |tx| {
            for (name, bytes) in &bundles {
                match hearth_import::source::parse_json(name, bytes) {
                    Ok(u) => {
                        if tx.send(u).is_err() {
                            return;
                        }
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
        },
        |_, _| {},
    )?;
    println!(
        "import synthea-r4: {n} resources in {secs:.2} s = {:.0} resources/s",
        n as f64 / secs
    );

    // 2. The cloned corpus; reads and queries then run on it, the larger store.
    if args.corpus > 0 {
        let (svc, store) = fresh_services(&work.join("corpus"))?;
        let target = owner(&svc)?;
        let patients: Vec<&(String, Vec<u8>)> = bundles
            .iter()
            .filter(|(n, _)| !n.contains("practitionerInformation") && !n.contains("hospitalInformation"))
            .collect();
        let per_round: u64 = patients.iter().map(|(_, b)| count_entries(b)).sum();
        let rounds = args.corpus.div_ceil(per_round.max(1));
        let mut last = (0u64, Duration::ZERO);
        let (n, secs) = pipeline(
            &svc,
            target,
            |tx| {
                for round in 0..rounds {
                    for (name, bytes) in &patients {
                        match hearth_import::corpus::clone_unit(name, bytes, round) {
                            Ok(u) => {
                                if tx.send(u).is_err() {
                                    return;
                                }
                            }
                            Err(e) => eprintln!("{e}"),
                        }
                    }
                }
            },
            |done, at| {
                if done / 100_000 > last.0 / 100_000 {
                    let rate = (done - last.0) as f64 / (at - last.1).as_secs_f64();
                    println!(
                        "  corpus: {done:>9} resources after {:>6.1} s; last slice {rate:.0} resources/s",
                        at.as_secs_f64()
                    );
                    last = (done, at);
                }
            },
        )?;
        println!(
            "import corpus: {n} resources in {secs:.1} s = {:.0} resources/s sustained",
            n as f64 / secs
        );
        store.checkpoint()?;
        let size = std::fs::metadata(store.path())?.len();
        println!(
            "database size: {:.1} MB = {:.0} bytes per resource (including indexes, versions, audit)",
            size as f64 / 1e6,
            size as f64 / n as f64
        );
        return measure_reads(&svc, args.seconds);
    }

    // 3 and 4 on the Synthea store when there is no corpus.
    measure_reads(&synthea_svc, args.seconds)
}

fn count_entries(bytes: &[u8]) -> u64 {
    hearth_import::source::parse_json("", bytes)
        .map(|u| u.entries.len() as u64)
        .unwrap_or(0)
}

fn measure_reads(svc: &Services, seconds: u64) -> anyhow::Result<()> {
    let op = Context::operator();
    let records: Vec<RecordId> = svc.store().list_records()?.into_iter().map(|r| r.id).collect();
    if records.is_empty() {
        return Ok(());
    }
    let mut rng = rand::rng();
    // Sample item ids through the change feed of random records.
    let mut sample: Vec<(RecordId, ItemId)> = Vec::new();
    for _ in 0..200 {
        let r = *records.choose(&mut rng).ok_or_else(|| anyhow!("no records"))?;
        for c in svc.changes(&op, r, 0, 500)? {
            sample.push((r, c.item));
        }
    }
    let budget = Duration::from_secs(seconds);

    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1000 {
            let (r, id) = sample[rng.random_range(0..sample.len())];
            let items = svc.read(&op, r, &[id])?;
            n += items.len() as u64;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "read by id, one item per request (authorise + read + audit row): {:.0} reads/s",
        n as f64 / secs
    );

    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        let r = sample[rng.random_range(0..sample.len())].0;
        let ids: Vec<ItemId> = sample
            .iter()
            .filter(|(rr, _)| *rr == r)
            .take(100)
            .map(|(_, i)| *i)
            .collect();
        n += svc.read(&op, r, &ids)?.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "read by id, up to 100 items per request (one audit row each): {:.0} items/s",
        n as f64 / secs
    );

    // Type-and-date query: a year of weights on one record, the window centred on a real reading
    // (so the query returns data, typically a few readings).
    let year = 365 * 24 * 3600 * 1_000_000i64;
    let weights = ItemQuery {
        data_types: vec!["weight".into()],
        limit: 1000,
        ..Default::default()
    };
    let mut centres = Vec::new();
    for _ in 0..200 {
        let r = *records.choose(&mut rng).ok_or_else(|| anyhow!("no records"))?;
        for item in svc.query(&op, r, &weights)?.items {
            centres.push((r, item.meta.effective.0));
        }
    }
    if centres.is_empty() {
        println!("type-and-date query: no weight readings to query");
        return Ok(());
    }
    let mut times = Vec::new();
    let mut returned = 0usize;
    let start = Instant::now();
    while start.elapsed() < budget {
        let (r, at) = centres[rng.random_range(0..centres.len())];
        let q = ItemQuery {
            data_types: vec!["weight".into()],
            effective_from: Some(hearth_domain::Timestamp(at - year / 2)),
            effective_to: Some(hearth_domain::Timestamp(at + year / 2)),
            ..Default::default()
        };
        let t = Instant::now();
        let page = svc.query(&op, r, &q)?;
        times.push(t.elapsed());
        returned += page.items.len();
    }
    let avg_rows = returned as f64 / times.len() as f64;
    times.sort();
    let p = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "type-and-date query (weight, one-year window around a real reading, one record; authorise + query + \
         audit row; {avg_rows:.1} items returned on average): p50 {:.3} ms, p99 {:.3} ms over {} queries",
        p(0.5),
        p(0.99),
        times.len()
    );
    Ok(())
}
