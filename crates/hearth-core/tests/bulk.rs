//! Bulk Data export through the services, on a real SQLite store, a manual clock and a blob store
//! that can hold a worker mid-job: files per type split at the limit, `_type` and `_since`, the
//! system level for backend services, a job visible only to its requester, the per-requester
//! limit, cancelling mid-run, a grant revoked mid-run, a crashed worker's job run again after
//! its lease, files expiring on the clock with shared blobs kept, unreadable items in the error
//! file, and the audit of every page and download.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use hearth_core::auth::apps::AppRegistration;
use hearth_core::auth::consent::ConsentAnswer;
use hearth_core::bulk::{BulkSettings, BulkWorker, KickOff, KickOffLevel};
use hearth_core::context::AppAccess;
use hearth_core::prepare::EnvelopeFields;
use hearth_core::{Context, ItemRequest, ServiceError, ServiceResult, Services, WriteOutcome};
use hearth_domain::audit::AuditFilter;
use hearth_domain::auth::{AppKind, Scopes, TokenIssuer};
use hearth_domain::bulk::{ExportJob, JobStatus};
use hearth_domain::time::ManualClock;
use hearth_domain::{
    AccountId, AppId, AuditAction, AuditOutcome, ItemFlags, ItemId, Record, RecordId, Relationship, Timestamp,
};
use hearth_store::blob::BlobInfo;
use hearth_store::{BlobStore, LocalBlobStore, StoreResult};
use hearth_store_sqlite::SqliteStore;
use serde_json::{Value, json};

/// A blob store whose next `put` can be held until the test lets it go.
struct GatedBlobs {
    inner: LocalBlobStore,
    gate: Mutex<Option<(Sender<()>, Receiver<()>)>>,
}

impl BlobStore for GatedBlobs {
    fn put(&self, content: &mut dyn Read) -> StoreResult<BlobInfo> {
        let gate = self.gate.lock().unwrap().take();
        if let Some((reached, go)) = gate {
            reached.send(()).unwrap();
            go.recv_timeout(WAIT).expect("the test lets the put go");
        }
        self.inner.put(content)
    }
    fn open(&self, sha256: &str) -> StoreResult<Option<Box<dyn Read + Send>>> {
        self.inner.open(sha256)
    }
    fn size(&self, sha256: &str) -> StoreResult<Option<u64>> {
        self.inner.size(sha256)
    }
    fn delete(&self, sha256: &str) -> StoreResult<()> {
        self.inner.delete(sha256)
    }
}

struct Fx {
    svc: Services,
    clock: Arc<ManualClock>,
    blobs: Arc<GatedBlobs>,
    ann: AccountId,
    a: Record,
    b: Record,
    /// The items each record holds, by resource type (personal items left out).
    items: BTreeMap<(RecordId, String), Vec<ItemId>>,
    _dir: tempfile::TempDir,
}

/// How long a test waits for the worker to reach a held point.
const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

const START: Timestamp = Timestamp(1_790_000_000_000_000);

fn settings() -> BulkSettings {
    BulkSettings {
        max_file_lines: 3,
        max_active_jobs: 2,
        page_size: 2,
        expiry_secs: 3600,
        lease_secs: 60,
        ..BulkSettings::default()
    }
}

fn weight(patient: ItemId, kg: &str, day: u32) -> Value {
    json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": format!("Patient/{patient}")},
        "effectiveDateTime": format!("2026-01-{day:02}T08:00:00Z"),
        "valueQuantity": {"value": kg.parse::<f64>().unwrap(), "unit": "kg",
                          "system": "http://unitsofmeasure.org", "code": "kg"}})
}

fn condition(patient: ItemId) -> Value {
    json!({"resourceType": "Condition",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "195662009"}]},
        "subject": {"reference": format!("Patient/{patient}")}})
}

fn write(svc: &Services, ctx: &Context, record: RecordId, resource: Value, flags: ItemFlags) -> ItemId {
    let out = svc
        .write(
            ctx,
            record,
            vec![ItemRequest::Create {
                id: None,
                resource,
                envelope: EnvelopeFields {
                    flags,
                    ..Default::default()
                },
            }],
        )
        .unwrap();
    match &out[0] {
        WriteOutcome::Created(m) => m.id,
        other => panic!("{other:?}"),
    }
}

/// Ann's two records: A with four weights and a condition, B with two weights, a condition and
/// a personal weight. An app `exporter` holds grants on both ("*", read, offline).
fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("h.db")).unwrap();
    let blobs = Arc::new(GatedBlobs {
        inner: LocalBlobStore::open_dir(dir.path().join("blobs")).unwrap(),
        gate: Mutex::new(None),
    });
    let clock = Arc::new(ManualClock::new(START));
    let svc = Services::new(Arc::new(store), blobs.clone(), clock.clone()).with_bulk(BulkSettings {
        temp_dir: Some(dir.path().join("bulk-tmp")),
        ..settings()
    });
    let op = Context::operator();
    let ann = svc.create_account(&op, "ann@example.org", "Ann").unwrap().id;
    let a = svc
        .create_record(&op, ann, "Ann", Relationship::SelfRecord, None)
        .unwrap();
    let b = svc
        .create_record(&op, ann, "Ben", Relationship::Child, None)
        .unwrap();
    let mut items: BTreeMap<(RecordId, String), Vec<ItemId>> = BTreeMap::new();
    let none = ItemFlags::default();
    let mut add = |r: &Record, t: &str, id: ItemId| items.entry((r.id, t.to_string())).or_default().push(id);
    for (i, kg) in ["70.1", "70.2", "70.3", "70.4"].iter().enumerate() {
        add(
            &a,
            "Observation",
            write(&svc, &op, a.id, weight(a.patient_item, kg, i as u32 + 1), none),
        );
    }
    add(
        &a,
        "Condition",
        write(&svc, &op, a.id, condition(a.patient_item), none),
    );
    for (i, kg) in ["20.1", "20.2"].iter().enumerate() {
        add(
            &b,
            "Observation",
            write(&svc, &op, b.id, weight(b.patient_item, kg, i as u32 + 1), none),
        );
    }
    add(
        &b,
        "Condition",
        write(&svc, &op, b.id, condition(b.patient_item), none),
    );
    let personal = ItemFlags {
        personal: true,
        read_only: false,
    };
    write(
        &svc,
        &Context::person(ann),
        b.id,
        weight(b.patient_item, "20.9", 9),
        personal,
    );
    add(&a, "Patient", a.patient_item);
    add(&b, "Patient", b.patient_item);
    register(&svc, "exporter", AppKind::Public);
    for r in [&a, &b] {
        grant(&svc, ann, "exporter", r.id);
    }
    Fx {
        svc,
        clock,
        blobs,
        ann,
        a,
        b,
        items,
        _dir: dir,
    }
}

fn register(svc: &Services, id: &str, kind: AppKind) {
    let backend = kind == AppKind::BackendService;
    let reg: AppRegistration = serde_json::from_value(json!({
        "client_id": id, "name": id, "kind": kind,
        "redirect_uris": if backend { json!([]) } else { json!(["https://app.example/cb"]) },
        "jwks": if backend { svc.jwks().unwrap() } else { Value::Null },
        "rules": [{"name": "all", "data_types": "*", "permissions": "rs", "offline": true,
                   "required": true, "reason": "to export"}]
    }))
    .unwrap();
    svc.register_app(&Context::operator(), reg).unwrap();
}

fn grant(svc: &Services, account: AccountId, app: &str, record: RecordId) {
    svc.grant_consent(
        account,
        &AppId(app.into()),
        record,
        &Scopes::parse("offline_access patient/*.rs").unwrap(),
        &ConsentAnswer { optional: vec![] },
    )
    .unwrap();
}

fn app(id: &str, account: Option<AccountId>, record: Option<RecordId>, scope: &str) -> Context {
    Context::app(AppAccess {
        app: AppId(id.into()),
        account,
        online: false,
        record,
        scopes: Scopes::parse(scope).unwrap(),
        issuer: TokenIssuer::Consent,
    })
}

impl Fx {
    fn person_app(&self) -> Context {
        app("exporter", Some(self.ann), None, "user/*.rs")
    }

    fn start(&self, ctx: &Context, level: KickOffLevel, params: &[(&str, &str)]) -> ServiceResult<ExportJob> {
        self.svc.start_export(
            ctx,
            KickOff {
                level,
                params: params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                url: "https://hearth.example/fhir/Patient/$export".into(),
            },
        )
    }

    fn status(&self, ctx: &Context, job: &ExportJob) -> ExportJob {
        self.svc.export_status(ctx, &job.id.to_string()).unwrap()
    }

    /// The lines of file `n`, parsed.
    fn lines(&self, ctx: &Context, job: &ExportJob, n: u32) -> Vec<Value> {
        let (_, mut r) = self.svc.open_export_file(ctx, &job.id.to_string(), n).unwrap();
        let mut text = String::new();
        r.read_to_string(&mut text).unwrap();
        assert!(text.ends_with('\n'), "every line ends with a newline");
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// The resource ids exported per type, across all of a completed job's output files.
    fn exported(&self, ctx: &Context, job: &ExportJob) -> BTreeMap<String, Vec<String>> {
        let done = self.status(ctx, job);
        assert_eq!(done.status, JobStatus::Completed, "{:?}", done.failure);
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for o in done.outputs.iter().filter(|o| !o.error) {
            let lines = self.lines(ctx, &done, o.n);
            assert_eq!(lines.len() as u64, o.count, "the count of file {}", o.n);
            for l in lines {
                assert_eq!(l["resourceType"], o.resource_type.as_str());
                assert!(l["meta"]["versionId"].is_string() && l["meta"]["lastUpdated"].is_string());
                out.entry(o.resource_type.clone())
                    .or_default()
                    .push(l["id"].as_str().unwrap().to_string());
            }
        }
        for ids in out.values_mut() {
            ids.sort();
        }
        out
    }

    /// The ids the records hold per type.
    fn expected(&self, records: &[RecordId], types: &[&str]) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ((r, t), ids) in &self.items {
            if records.contains(r) && (types.is_empty() || types.contains(&t.as_str())) {
                out.entry(t.clone())
                    .or_default()
                    .extend(ids.iter().map(|i| i.to_string()));
            }
        }
        for ids in out.values_mut() {
            ids.sort();
        }
        out
    }

    fn trail(&self, record: RecordId, action: AuditAction) -> Vec<hearth_domain::AuditEntry> {
        self.svc
            .audit_trail(
                &Context::person(self.ann),
                record,
                &AuditFilter {
                    action: Some(action),
                    limit: 1000,
                    ..Default::default()
                },
            )
            .unwrap()
    }

    /// Holds the next blob `put`; returns (reached, go).
    fn hold_next_put(&self) -> (Receiver<()>, Sender<()>) {
        let (reached_tx, reached_rx) = channel();
        let (go_tx, go_rx) = channel();
        *self.blobs.gate.lock().unwrap() = Some((reached_tx, go_rx));
        (reached_rx, go_tx)
    }
}

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn a_patient_export_writes_a_file_per_type_split_at_the_limit_and_audits_every_page() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx
        .start(&ctx, KickOffLevel::AllPatients, &[("_outputFormat", "ndjson")])
        .unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.request.records, vec![fx.a.id, fx.b.id]);
    assert_eq!(fx.status(&ctx, &job).status, JobStatus::Queued);
    assert!(matches!(
        fx.svc.open_export_file(&ctx, &job.id.to_string(), 1),
        Err(ServiceError::NotFound(_))
    ));

    fx.clock.advance_seconds(5);
    assert!(fx.svc.run_next_export().unwrap());
    assert!(!fx.svc.run_next_export().unwrap(), "nothing else waits");
    let done = fx.status(&ctx, &job);
    assert_eq!(done.status, JobStatus::Completed);
    // (The manual clock moves a microsecond per reading.)
    let started = done.transaction_time.unwrap();
    assert!(started >= START.plus_seconds(5) && started < START.plus_seconds(6));
    assert_eq!(
        done.expires_at,
        Some(done.finished_at.unwrap().plus_seconds(3600))
    );
    // Six weights (the personal one left out) in files of at most three lines.
    let obs: Vec<u64> = done
        .outputs
        .iter()
        .filter(|o| o.resource_type == "Observation")
        .map(|o| o.count)
        .collect();
    assert_eq!(obs, vec![3, 3]);
    assert!(done.outputs.iter().all(|o| !o.error && o.count <= 3));
    let numbers: Vec<u32> = done.outputs.iter().map(|o| o.n).collect();
    assert_eq!(numbers, (1..=done.outputs.len() as u32).collect::<Vec<_>>());
    assert_eq!(fx.exported(&ctx, &job), fx.expected(&[fx.a.id, fx.b.id], &[]));
    // The first Observation file holds record A only; the second both.
    let obs_files: Vec<_> = done
        .outputs
        .iter()
        .filter(|o| o.resource_type == "Observation")
        .collect();
    assert_eq!(obs_files[0].records, vec![fx.a.id]);
    assert_eq!(obs_files[1].records, vec![fx.a.id, fx.b.id]);

    // Every page read is on the record's trail as a bulk export, naming what it returned; every
    // download (made above, one per file) too.
    for r in [fx.a.id, fx.b.id] {
        let pages = fx.trail(r, AuditAction::BulkExport);
        assert!(pages.len() >= 2, "{pages:?}");
        assert!(
            pages
                .iter()
                .all(|e| e.app == Some(AppId("exporter".into())) && e.outcome == AuditOutcome::Success)
        );
        let read: usize = pages.iter().map(|e| e.items.len()).sum();
        let held: usize = fx
            .items
            .iter()
            .filter(|((rr, _), _)| *rr == r)
            .map(|(_, v)| v.len())
            .sum();
        assert_eq!(read, held, "every item read exactly once");
        let downloads = fx.trail(r, AuditAction::BulkDownload);
        let files_with_r = done.outputs.iter().filter(|o| o.records.contains(&r)).count();
        assert_eq!(downloads.len(), files_with_r);
    }
}

#[test]
fn type_and_since_narrow_the_export() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx
        .start(&ctx, KickOffLevel::AllPatients, &[("_type", "Condition,Patient")])
        .unwrap();
    fx.svc.run_next_export().unwrap();
    assert_eq!(
        fx.exported(&ctx, &job),
        fx.expected(&[fx.a.id, fx.b.id], &["Condition", "Patient"])
    );

    // An hour later one weight changes; an export since half an hour ago holds just that.
    fx.clock.advance_seconds(3600);
    let since = START.plus_seconds(1800).to_rfc3339();
    let changed = fx.items[&(fx.b.id, "Observation".to_string())][0];
    fx.svc
        .write(
            &Context::operator(),
            fx.b.id,
            vec![ItemRequest::Update {
                id: changed,
                expected_version: None,
                resource: weight(fx.b.patient_item, "21.0", 1),
                envelope: EnvelopeFields::default(),
            }],
        )
        .unwrap();
    let job = fx
        .start(&ctx, KickOffLevel::AllPatients, &[("_since", &since)])
        .unwrap();
    fx.svc.run_next_export().unwrap();
    let got = fx.exported(&ctx, &job);
    assert_eq!(
        got,
        BTreeMap::from([("Observation".to_string(), vec![changed.to_string()])])
    );
    let done = fx.status(&ctx, &job);
    let line = &fx.lines(&ctx, &done, done.outputs[0].n)[0];
    assert_eq!(line["meta"]["versionId"], "2");
    assert_eq!(line["valueQuantity"]["value"].to_string(), "21.0");
}

#[test]
fn the_system_level_is_for_backend_services_and_covers_their_grants() {
    let fx = fx();
    assert!(matches!(
        fx.start(&fx.person_app(), KickOffLevel::System, &[]),
        Err(ServiceError::Forbidden(_))
    ));
    register(&fx.svc, "clinic", AppKind::BackendService);
    grant(&fx.svc, fx.ann, "clinic", fx.a.id);
    let clinic = app("clinic", None, None, "system/*.rs");
    let job = fx.start(&clinic, KickOffLevel::System, &[]).unwrap();
    assert_eq!(job.request.records, vec![fx.a.id]);
    fx.svc.run_next_export().unwrap();
    assert_eq!(fx.exported(&clinic, &job), fx.expected(&[fx.a.id], &[]));
    // A backend service's token that is not one (no app of that kind) is refused too.
    let pretender = app("exporter", None, None, "system/*.rs");
    assert!(matches!(
        fx.start(&pretender, KickOffLevel::System, &[]),
        Err(ServiceError::Forbidden(_))
    ));
}

#[test]
fn one_patient_is_found_by_its_patient_id_within_what_the_token_reaches() {
    let fx = fx();
    let ctx = fx.person_app();
    let b_patient = fx.b.patient_item.to_string();
    let job = fx
        .start(&ctx, KickOffLevel::Patient(b_patient.clone()), &[])
        .unwrap();
    assert_eq!(job.request.records, vec![fx.b.id]);
    fx.svc.run_next_export().unwrap();
    assert_eq!(fx.exported(&ctx, &job), fx.expected(&[fx.b.id], &[]));
    for missing in [ItemId::new().to_string(), "not-an-id".to_string()] {
        assert!(matches!(
            fx.start(&ctx, KickOffLevel::Patient(missing), &[]),
            Err(ServiceError::NotFound(_))
        ));
    }
    // A token confined to record A does not reach B's Patient.
    let confined = app("exporter", Some(fx.ann), Some(fx.a.id), "patient/*.rs");
    assert!(matches!(
        fx.start(&confined, KickOffLevel::Patient(b_patient), &[]),
        Err(ServiceError::NotFound(_))
    ));
    // Bad parameters are refused before anything is queued.
    assert!(matches!(
        fx.start(
            &ctx,
            KickOffLevel::AllPatients,
            &[("_typeFilter", "Observation?code=x")]
        ),
        Err(ServiceError::Invalid(_))
    ));
}

#[test]
fn a_job_exists_only_for_its_requester() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    fx.svc.run_next_export().unwrap();
    let id = job.id.to_string();
    register(&fx.svc, "other", AppKind::Public);
    grant(&fx.svc, fx.ann, "other", fx.a.id);
    let strangers = [
        app("other", Some(fx.ann), None, "user/*.rs"),
        app("exporter", Some(AccountId::new()), None, "user/*.rs"),
        app("exporter", Some(fx.ann), Some(fx.a.id), "patient/*.rs"),
        app("exporter", None, None, "system/*.rs"),
    ];
    for s in &strangers {
        assert!(matches!(
            fx.svc.export_status(s, &id),
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            fx.svc.open_export_file(s, &id, 1),
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            fx.svc.cancel_export(s, &id),
            Err(ServiceError::NotFound(_))
        ));
    }
    assert!(matches!(
        fx.svc.export_status(&ctx, "not-a-job"),
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        fx.svc.export_status(&Context::person(fx.ann), &id),
        Err(ServiceError::Forbidden(_))
    ));
    // The same requester with a fresh token (other scopes) still sees it.
    let again = app("exporter", Some(fx.ann), None, "user/Observation.rs");
    assert_eq!(fx.status(&again, &job).status, JobStatus::Completed);
    assert!(matches!(
        fx.svc.open_export_file(&ctx, &id, 99),
        Err(ServiceError::NotFound(_))
    ));
}

#[test]
fn a_requester_gets_busy_beyond_its_limit() {
    let fx = fx();
    let ctx = fx.person_app();
    fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    match fx.start(&ctx, KickOffLevel::AllPatients, &[]) {
        Err(e @ ServiceError::Busy { .. }) => assert_eq!(e.retry_after_secs(), Some(60)),
        other => panic!("{other:?}"),
    }
    // Another requester is not held up; one finished job frees a place.
    let confined = app("exporter", Some(fx.ann), Some(fx.a.id), "patient/*.rs");
    fx.start(&confined, KickOffLevel::AllPatients, &[]).unwrap();
    fx.svc.run_next_export().unwrap();
    fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
}

#[test]
fn cancelling_stops_a_running_job_and_the_sweep_keeps_blobs_another_job_lists() {
    let fx = fx();
    let ctx = fx.person_app();
    // A finished job whose files another job will share.
    let first = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    fx.svc.run_next_export().unwrap();
    let first = fx.status(&ctx, &first);

    // The same export again: held at its first file (A's first three weights, identical to the
    // first job's), cancelled there.
    let second = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    let (reached, go) = fx.hold_next_put();
    std::thread::scope(|s| {
        let worker = s.spawn(|| fx.svc.run_next_export());
        reached
            .recv_timeout(WAIT)
            .expect("the worker reaches its first file");
        assert_eq!(fx.status(&ctx, &second).status, JobStatus::Running);
        fx.svc.cancel_export(&ctx, &second.id.to_string()).unwrap();
        go.send(()).unwrap();
        assert!(worker.join().unwrap().unwrap());
    });
    assert!(matches!(
        fx.svc.export_status(&ctx, &second.id.to_string()),
        Err(ServiceError::NotFound(_))
    ));
    let stored = fx.svc.store().export_job(second.id).unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Cancelled);
    assert!(stored.outputs.is_empty(), "nothing listed after the cancel");
    // It stopped at its first file: record B was never read for it.
    // (The first job read A in three pages and B in two.)
    let pages_a = fx.trail(fx.a.id, AuditAction::BulkExport).len();
    let pages_b = fx.trail(fx.b.id, AuditAction::BulkExport).len();
    assert_eq!(
        (pages_b, pages_a <= 6),
        (2, true),
        "A pages {pages_a}, B pages {pages_b}"
    );
    // The blob it put is the first job's first file: still there, still downloadable.
    assert!(fx.blobs.size(&first.outputs[0].blob).unwrap().is_some());
    assert_eq!(fx.lines(&ctx, &first, 1).len(), 3);

    // Cancelling the first job: its files go at the next sweep.
    fx.svc.cancel_export(&ctx, &first.id.to_string()).unwrap();
    assert!(matches!(
        fx.svc.cancel_export(&ctx, &first.id.to_string()),
        Err(ServiceError::NotFound(_))
    ));
    assert_eq!(fx.svc.sweep_exports().unwrap(), 2);
    for o in &first.outputs {
        assert!(fx.blobs.size(&o.blob).unwrap().is_none(), "file {} remains", o.n);
    }
    assert!(fx.svc.store().export_job(first.id).unwrap().is_none());
}

#[test]
fn a_grant_revoked_mid_export_stops_it_with_an_error() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    let (reached, go) = fx.hold_next_put();
    std::thread::scope(|s| {
        let worker = s.spawn(|| fx.svc.run_next_export());
        reached
            .recv_timeout(WAIT)
            .expect("the worker reaches its first file");
        // Record A is being written; Ann takes the app's grant on record B away.
        fx.svc
            .revoke_consent(fx.ann, &AppId("exporter".into()), fx.b.id, fx.ann)
            .unwrap();
        go.send(()).unwrap();
        assert!(worker.join().unwrap().unwrap());
    });
    let failed = fx.status(&ctx, &job);
    assert_eq!(failed.status, JobStatus::Failed);
    let failure = failed.failure.unwrap();
    assert_eq!(failure.code, "forbidden");
    assert!(failure.message.contains("not authorised"), "{}", failure.message);
    assert!(matches!(
        fx.svc.open_export_file(&ctx, &job.id.to_string(), 1),
        Err(ServiceError::NotFound(_))
    ));
    // The refusal is on B's trail.
    let refused = fx.trail(fx.b.id, AuditAction::BulkExport);
    assert!(
        refused
            .iter()
            .any(|e| matches!(e.outcome, AuditOutcome::Failure(_)))
    );
}

#[test]
fn downloads_need_the_records_still_reached() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx
        .start(&ctx, KickOffLevel::AllPatients, &[("_type", "Observation")])
        .unwrap();
    fx.svc.run_next_export().unwrap();
    fx.svc
        .revoke_consent(fx.ann, &AppId("exporter".into()), fx.b.id, fx.ann)
        .unwrap();
    let done = fx.status(&ctx, &job);
    assert_eq!(done.outputs[0].records, vec![fx.a.id]);
    assert_eq!(fx.lines(&ctx, &done, 1).len(), 3);
    assert!(matches!(
        fx.svc.open_export_file(&ctx, &job.id.to_string(), 2),
        Err(ServiceError::Forbidden(_))
    ));
    let refused = fx.trail(fx.b.id, AuditAction::BulkDownload);
    assert!(matches!(refused[0].outcome, AuditOutcome::Failure(_)));
}

#[test]
fn a_crashed_workers_job_runs_again_once_its_lease_runs_out() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    // A worker claims it, stores and lists a file, and dies.
    let now = fx.svc.now();
    let claimed = fx
        .svc
        .store()
        .claim_export_job("crashed", now, now.plus_seconds(60))
        .unwrap()
        .unwrap();
    assert_eq!(claimed.job.id, job.id);
    let orphan = fx.blobs.put(&mut &b"{\"resourceType\":\"Basic\"}\n"[..]).unwrap();
    let listed = hearth_domain::bulk::ExportOutput {
        n: 1,
        error: false,
        resource_type: "Basic".into(),
        blob: orphan.sha256.clone(),
        count: 1,
        size: orphan.size,
        records: vec![fx.a.id],
    };
    assert!(
        fx.svc
            .store()
            .add_export_output(job.id, "crashed", &listed)
            .unwrap()
    );

    assert!(!fx.svc.run_next_export().unwrap(), "the lease still holds");
    fx.clock.advance_seconds(61);
    assert!(fx.svc.run_next_export().unwrap());
    assert_eq!(fx.exported(&ctx, &job), fx.expected(&[fx.a.id, fx.b.id], &[]));
    let rerun = fx.status(&ctx, &job).transaction_time.unwrap();
    assert!(rerun >= START.plus_seconds(61) && rerun < START.plus_seconds(62));
    assert!(
        fx.blobs.size(&orphan.sha256).unwrap().is_none(),
        "the crashed run's file is gone"
    );
}

#[test]
fn files_expire_on_the_clock() {
    let fx = fx();
    let ctx = fx.person_app();
    let job = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    fx.svc.run_next_export().unwrap();
    let done = fx.status(&ctx, &job);
    fx.clock.advance_seconds(3599);
    assert_eq!(fx.svc.sweep_exports().unwrap(), 0);
    assert_eq!(fx.lines(&ctx, &done, 1).len(), 3);
    fx.clock.advance_seconds(1);
    assert!(matches!(
        fx.svc.export_status(&ctx, &job.id.to_string()),
        Err(ServiceError::NotFound(_))
    ));
    assert!(matches!(
        fx.svc.open_export_file(&ctx, &job.id.to_string(), 1),
        Err(ServiceError::NotFound(_))
    ));
    assert_eq!(fx.svc.sweep_exports().unwrap(), 1);
    for o in &done.outputs {
        assert!(fx.blobs.size(&o.blob).unwrap().is_none());
    }
}

#[test]
fn unreadable_items_go_to_the_error_file() {
    let fx = fx();
    // An item whose stored body is not JSON (written past the services, as corruption would).
    let broken = ItemId::new();
    let mut content = hearth_store::conformance::content("Observation", "weight", "{not json", START);
    content.client_id = None;
    fx.svc
        .store()
        .apply(&hearth_store::contract::ChangeSet {
            new_records: vec![],
            batches: vec![hearth_store::contract::WriteBatch {
                record: fx.a.id,
                actor: hearth_domain::Actor::operator(),
                at: START,
                ops: vec![hearth_domain::WriteOp::Create { id: broken, content }],
                must_exist: vec![],
                audit: hearth_domain::AuditEntry {
                    id: 0,
                    at: START,
                    account: None,
                    app: None,
                    online: false,
                    record: Some(fx.a.id),
                    action: AuditAction::Write,
                    items: vec![],
                    data_types: vec![],
                    outcome: AuditOutcome::Success,
                },
            }],
        })
        .unwrap();
    let ctx = fx.person_app();
    let job = fx
        .start(&ctx, KickOffLevel::AllPatients, &[("_type", "Observation")])
        .unwrap();
    fx.svc.run_next_export().unwrap();
    let done = fx.status(&ctx, &job);
    let errors: Vec<_> = done.outputs.iter().filter(|o| o.error).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].resource_type.as_str(), errors[0].count),
        ("OperationOutcome", 1)
    );
    let lines = fx.lines(&ctx, &done, errors[0].n);
    assert_eq!(lines[0]["resourceType"], "OperationOutcome");
    let why = lines[0]["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(why.contains(&broken.to_string()), "{why}");
    assert_eq!(
        fx.exported(&ctx, &job),
        fx.expected(&[fx.a.id, fx.b.id], &["Observation"])
    );
}

#[test]
fn the_worker_thread_runs_what_a_kick_off_queues() {
    let fx = fx();
    let svc = fx.svc.clone();
    let worker = BulkWorker::start(svc).unwrap();
    let ctx = fx.person_app();
    let job = fx.start(&ctx, KickOffLevel::AllPatients, &[]).unwrap();
    let mut status = JobStatus::Queued;
    for _ in 0..3000 {
        status = fx.status(&ctx, &job).status;
        if status == JobStatus::Completed {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(status, JobStatus::Completed);
    worker.stop();
    assert_eq!(fx.exported(&ctx, &job), fx.expected(&[fx.a.id, fx.b.id], &[]));
}
