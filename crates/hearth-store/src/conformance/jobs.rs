//! Conformance cases for bulk export jobs ([`crate::JobStore`]): the queue and the limit per
//! requester, claims and leases, the files a job lists, cancelling, expiry, and blobs shared by
//! two jobs; claims and kick-offs from concurrent callers.

use hearth_domain::auth::TokenIssuer;
use hearth_domain::bulk::{
    ExportJob, ExportLevel, ExportOutput, ExportRequest, JobEnd, JobFailure, JobStatus, Requester,
};
use hearth_domain::{AccountId, AppId, ItemId, JobId, RecordId};

use super::*;
use crate::StoreError;

fn requester(app: &str, account: Option<AccountId>) -> Requester {
    Requester {
        app: AppId(app.into()),
        account,
        online: account.is_some(),
        record: None,
        scope: "system/*.rs".into(),
        issuer: TokenIssuer::Consent,
    }
}

fn job(who: &Requester, created: i64) -> ExportJob {
    let request = ExportRequest {
        level: ExportLevel::Patient(ItemId::new()),
        records: vec![RecordId::new(), RecordId::new()],
        types: vec!["Observation".into(), "Patient".into()],
        since: Some(t(-3600)),
        url: "https://hearth.example/fhir/Patient/$export?_type=Observation,Patient".into(),
    };
    ExportJob::queued(who.clone(), request, t(created))
}

fn output(n: u32, blob: &str, error: bool) -> ExportOutput {
    ExportOutput {
        n,
        error,
        resource_type: if error { "OperationOutcome" } else { "Observation" }.into(),
        blob: self::blob(blob),
        count: u64::from(n) * 1000,
        size: 5_000_000_000 + u64::from(n),
        records: vec![RecordId::new(), RecordId::new()],
    }
}

fn blob(name: &str) -> String {
    name.repeat(64 / name.len())
}

fn claim(store: &dyn Store, runner: &str, now: i64) -> Option<crate::ClaimedJob> {
    store
        .claim_export_job(runner, t(now), t(now + 60))
        .expect("claim")
}

fn stored(store: &dyn Store, id: JobId) -> ExportJob {
    store.export_job(id).expect("read job").expect("job exists")
}

fn ended(status: JobStatus, at: i64, expires: i64) -> JobEnd {
    JobEnd {
        status,
        failure: None,
        finished_at: t(at),
        expires_at: t(expires),
    }
}

// ---- cases ----------------------------------------------------------------------------------

pub fn export_jobs_queue_in_order_within_the_limit(store: &dyn Store) {
    let ann = requester("exporter", Some(AccountId::new()));
    let clinic = requester("clinic", None);
    let (a1, a2, a3) = (job(&ann, 1), job(&ann, 2), job(&ann, 3));
    let b1 = job(&clinic, 4);
    assert!(store.create_export_job(&a1, 2).unwrap());
    assert!(store.create_export_job(&a2, 2).unwrap());
    assert!(!store.create_export_job(&a3, 2).unwrap(), "over the limit");
    assert!(store.export_job(a3.id).unwrap().is_none());
    assert!(
        store.create_export_job(&b1, 2).unwrap(),
        "the limit is per requester"
    );
    assert_eq!(stored(store, a1.id), a1);
    assert!(store.export_job(JobId::new()).unwrap().is_none());

    // The oldest queued job first; a requester with a running job waits.
    let c = claim(store, "r1", 10).expect("a job to claim");
    assert!(c.stale_blobs.is_empty());
    assert_eq!(c.job.id, a1.id);
    assert_eq!(c.job.status, JobStatus::Running);
    assert_eq!(
        (c.job.started_at, c.job.transaction_time),
        (Some(t(10)), Some(t(10)))
    );
    assert_eq!(c.job.progress, "started");
    assert_eq!(c.job.request, a1.request);
    assert_eq!(claim(store, "r2", 11).map(|c| c.job.id), Some(b1.id));
    assert!(
        claim(store, "r3", 12).is_none(),
        "ann's second job waits for her first"
    );
    assert!(
        !store.create_export_job(&a3, 2).unwrap(),
        "running and queued both count"
    );

    // Only the runner holding a job renews it.
    assert!(
        store
            .renew_export_job(a1.id, "r1", "record 1 of 2", t(130))
            .unwrap()
    );
    assert!(!store.renew_export_job(a1.id, "r2", "x", t(130)).unwrap());
    assert!(!store.renew_export_job(JobId::new(), "r1", "x", t(130)).unwrap());
    assert_eq!(stored(store, a1.id).progress, "record 1 of 2");

    // Finishing ends the run once; the requester's next job can then start.
    let failed = JobEnd {
        failure: Some(JobFailure {
            code: "forbidden".into(),
            message: "this app is no longer authorised".into(),
        }),
        ..ended(JobStatus::Failed, 20, 100)
    };
    assert!(!store.finish_export_job(a1.id, "r2", &failed).unwrap());
    assert!(store.finish_export_job(a1.id, "r1", &failed).unwrap());
    assert!(!store.finish_export_job(a1.id, "r1", &failed).unwrap());
    let done = stored(store, a1.id);
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.failure, failed.failure);
    assert_eq!((done.finished_at, done.expires_at), (Some(t(20)), Some(t(100))));
    assert!(!store.renew_export_job(a1.id, "r1", "x", t(200)).unwrap());
    assert_eq!(claim(store, "r3", 21).map(|c| c.job.id), Some(a2.id));
    assert!(store.create_export_job(&a3, 2).unwrap());
}

pub fn export_job_leases_run_out(store: &dyn Store) {
    let who = requester("exporter", None);
    let j = job(&who, 1);
    store.create_export_job(&j, 1).unwrap();
    let first = claim(store, "crashed", 10).unwrap();
    assert_eq!(first.job.id, j.id);
    let listed = output(1, "a", false);
    assert!(store.add_export_output(j.id, "crashed", &listed).unwrap());
    assert_eq!(stored(store, j.id).outputs, vec![listed.clone()]);

    // The lease (until t(70)) holds; once it has run out, another runner takes the job over and
    // the files of the first run are no longer listed.
    assert!(claim(store, "next", 69).is_none());
    let again = claim(store, "next", 71).expect("the job is taken over");
    assert_eq!(again.job.id, j.id);
    assert_eq!(again.stale_blobs, vec![listed.blob.clone()]);
    assert!(again.job.outputs.is_empty());
    assert_eq!(again.job.transaction_time, Some(t(71)));
    assert_eq!(again.job.status, JobStatus::Running);

    // The first runner has lost it.
    assert!(
        !store
            .add_export_output(j.id, "crashed", &output(2, "b", false))
            .unwrap()
    );
    assert!(!store.renew_export_job(j.id, "crashed", "x", t(200)).unwrap());
    let done = ended(JobStatus::Completed, 80, 1000);
    assert!(!store.finish_export_job(j.id, "crashed", &done).unwrap());
    let rerun = output(1, "c", false);
    assert!(store.add_export_output(j.id, "next", &rerun).unwrap());
    assert!(store.finish_export_job(j.id, "next", &done).unwrap());
    let finished = stored(store, j.id);
    assert_eq!(finished.status, JobStatus::Completed);
    assert_eq!(finished.outputs, vec![rerun]);
    assert!(
        claim(store, "other", 2000).is_none(),
        "finished jobs are never claimed"
    );
}

pub fn export_job_files_cancel_and_expire(store: &dyn Store) {
    let (ann, bob) = (
        requester("app", Some(AccountId::new())),
        requester("app", Some(AccountId::new())),
    );
    let (j1, j2) = (job(&ann, 1), job(&bob, 2));
    store.create_export_job(&j1, 3).unwrap();
    store.create_export_job(&j2, 3).unwrap();
    assert_eq!(claim(store, "r", 5).unwrap().job.id, j1.id);
    assert_eq!(claim(store, "r", 6).unwrap().job.id, j2.id);

    // Two jobs list the same blob (the same bytes).
    let files1 = vec![output(1, "x", false), output(2, "y", true)];
    let files2 = vec![output(1, "x", false), output(2, "z", false)];
    for o in &files1 {
        assert!(store.add_export_output(j1.id, "r", o).unwrap());
    }
    for o in &files2 {
        assert!(store.add_export_output(j2.id, "r", o).unwrap());
    }
    assert_eq!(stored(store, j1.id).outputs, files1);
    assert!(
        store
            .finish_export_job(j1.id, "r", &ended(JobStatus::Completed, 10, 100))
            .unwrap()
    );
    assert!(
        store
            .finish_export_job(j2.id, "r", &ended(JobStatus::Completed, 11, 200))
            .unwrap()
    );

    // Expiry.
    assert!(store.expired_export_jobs(t(99), 10).unwrap().is_empty());
    assert_eq!(store.expired_export_jobs(t(100), 10).unwrap(), vec![j1.id]);

    // A failing blob deletion leaves the job as it was.
    let err = store
        .delete_export_job(j1.id, &mut |_| Err(StoreError::Backend("disk gone".into())))
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
    assert_eq!(stored(store, j1.id).outputs, files1);

    // Deleting drops only the blobs no other job lists.
    let mut dropped = Vec::new();
    assert!(
        store
            .delete_export_job(j1.id, &mut |b| {
                dropped.push(b.to_string());
                Ok(())
            })
            .unwrap()
    );
    assert_eq!(dropped, vec![blob("y")]);
    assert!(store.export_job(j1.id).unwrap().is_none());
    assert!(!store.delete_export_job(j1.id, &mut |_| Ok(())).unwrap());

    // Cancelling: once; the job expires at once.
    assert!(store.cancel_export_job(j2.id, t(150)).unwrap());
    assert!(!store.cancel_export_job(j2.id, t(151)).unwrap());
    assert!(!store.cancel_export_job(JobId::new(), t(151)).unwrap());
    let cancelled = stored(store, j2.id);
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.expires_at, Some(t(150)));
    assert!(cancelled.is_gone(t(150)));
    assert_eq!(store.expired_export_jobs(t(150), 10).unwrap(), vec![j2.id]);

    // Releasing blobs: only those no job lists.
    let mut released = Vec::new();
    store
        .release_export_blobs(&[blob("x"), blob("q"), blob("q")], &mut |b| {
            released.push(b.to_string());
            Ok(())
        })
        .unwrap();
    assert_eq!(released, vec![blob("q")]);
    let mut dropped = Vec::new();
    store
        .delete_export_job(j2.id, &mut |b| {
            dropped.push(b.to_string());
            Ok(())
        })
        .unwrap();
    dropped.sort();
    assert_eq!(dropped, vec![blob("x"), blob("z")]);
    assert!(store.expired_export_jobs(t(10_000), 10).unwrap().is_empty());
}

pub fn export_jobs_race(store: &dyn Store) {
    // Eight kick-offs at once against a limit of three: exactly three are queued.
    let ann = requester("racer", Some(AccountId::new()));
    let jobs: Vec<ExportJob> = (0..8).map(|i| job(&ann, i)).collect();
    let created: Vec<bool> = std::thread::scope(|s| {
        let hs: Vec<_> = jobs
            .iter()
            .map(|j| s.spawn(move || store.create_export_job(j, 3).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(created.iter().filter(|c| **c).count(), 3);

    // Two more requesters; four runners claim at once: each job goes to one runner, and ann
    // gets one running job, not two.
    let others = [requester("racer-b", None), requester("racer-c", None)];
    for (i, o) in others.iter().enumerate() {
        store.create_export_job(&job(o, 100 + i as i64), 3).unwrap();
    }
    let claimed: Vec<Option<JobId>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|i| s.spawn(move || claim(store, &format!("runner-{i}"), 200).map(|c| c.job.id)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut got: Vec<JobId> = claimed.iter().flatten().copied().collect();
    assert_eq!(got.len(), 3, "{claimed:?}");
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 3, "a job went to two runners");
    let running_of_ann = got
        .iter()
        .filter(|id| stored(store, **id).requester == ann)
        .count();
    assert_eq!(running_of_ann, 1);
}
