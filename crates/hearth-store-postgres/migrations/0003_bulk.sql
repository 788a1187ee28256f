-- Bulk export jobs (FHIR Bulk Data Access $export) and the files they list; the same tables and
-- indexes as the SQLite schema (docs/storage.md describes every table and index).

-- One row per job. requester: the key of (account, record, app) that limits and sees the job;
-- requester_json and request: JSON of who asked and what. runner and lease_until: the worker
-- holding a running job, until when.
CREATE TABLE bulk_jobs (
    id               UUID PRIMARY KEY,
    requester        TEXT COLLATE "C" NOT NULL,
    requester_json   TEXT NOT NULL,
    request          TEXT NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress         TEXT NOT NULL,
    transaction_time BIGINT,
    failure          TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    expires_at       BIGINT,
    runner           TEXT,
    lease_until      BIGINT
);
-- The queue (oldest queued first) and leases that ran out (status 'running').
CREATE INDEX bulk_jobs_status ON bulk_jobs (status, created_at, id);
CREATE INDEX bulk_jobs_lease ON bulk_jobs (status, lease_until);
-- A requester's active jobs (the limit; one running at a time).
CREATE INDEX bulk_jobs_requester ON bulk_jobs (requester, status);
-- Jobs to sweep.
CREATE INDEX bulk_jobs_expiry ON bulk_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- The files of a job, numbered from 1. blob: sha256 of the file in the blob store; records: JSON
-- array of the records whose items it holds.
CREATE TABLE bulk_outputs (
    job           UUID NOT NULL REFERENCES bulk_jobs(id),
    n             INTEGER NOT NULL,
    error         BOOLEAN NOT NULL,
    resource_type TEXT NOT NULL,
    blob          TEXT NOT NULL,
    count         BIGINT NOT NULL,
    size          BIGINT NOT NULL,
    records       TEXT NOT NULL,
    PRIMARY KEY (job, n)
);
-- Whether another job still lists a blob.
CREATE INDEX bulk_outputs_blob ON bulk_outputs (blob);
