-- Bulk export jobs (FHIR Bulk Data Access $export) and the files they list. docs/storage.md
-- describes every table and index.

-- One row per job. requester: the key of (account, record, app) that limits and sees the job;
-- requester_json and request: JSON of who asked and what. runner and lease_until: the worker
-- holding a running job, until when.
CREATE TABLE bulk_jobs (
    id               BLOB PRIMARY KEY,
    requester        TEXT NOT NULL,
    requester_json   TEXT NOT NULL,
    request          TEXT NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    progress         TEXT NOT NULL,
    transaction_time INTEGER,
    failure          TEXT,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    expires_at       INTEGER,
    runner           TEXT,
    lease_until      INTEGER
) WITHOUT ROWID;
-- The queue (oldest queued first) and leases that ran out (status 'running').
CREATE INDEX bulk_jobs_status ON bulk_jobs (status, created_at);
CREATE INDEX bulk_jobs_lease ON bulk_jobs (status, lease_until);
-- A requester's active jobs (the limit; one running at a time).
CREATE INDEX bulk_jobs_requester ON bulk_jobs (requester, status);
-- Jobs to sweep.
CREATE INDEX bulk_jobs_expiry ON bulk_jobs (expires_at) WHERE expires_at IS NOT NULL;

-- The files of a job, numbered from 1. blob: sha256 of the file in the blob store; records: JSON
-- array of the records whose items it holds.
CREATE TABLE bulk_outputs (
    job           BLOB NOT NULL REFERENCES bulk_jobs(id),
    n             INTEGER NOT NULL,
    error         INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    blob          TEXT NOT NULL,
    count         INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    records       TEXT NOT NULL,
    PRIMARY KEY (job, n)
) WITHOUT ROWID;
-- Whether another job still lists a blob.
CREATE INDEX bulk_outputs_blob ON bulk_outputs (blob);
