-- Sharing with people (per-type, expiring access with audit rights; invitations) and emergency
-- access. docs/storage.md describes every table and index.

-- data_types: JSON array of registry keys, NULL for every type. expires_at: when the access
-- stops, NULL never. audit: may read the history of changes.
ALTER TABLE record_access ADD COLUMN data_types TEXT;
ALTER TABLE record_access ADD COLUMN expires_at BIGINT;
ALTER TABLE record_access ADD COLUMN audit BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX record_access_expiry ON record_access (expires_at) WHERE expires_at IS NOT NULL;

-- One row per invitation; body: its JSON. token_hash: SHA-256 of the link's secret.
CREATE TABLE invitations (
    id         UUID PRIMARY KEY,
    rk         BIGINT NOT NULL REFERENCES records(rk),
    token_hash TEXT NOT NULL UNIQUE,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX invitations_record ON invitations (rk, created_at);

-- What a record's emergency page shows (JSON).
CREATE TABLE emergency_profiles (
    rk   BIGINT PRIMARY KEY REFERENCES records(rk),
    body TEXT NOT NULL
);

-- Emergency access codes; code_hash: SHA-256 of the normalised code.
CREATE TABLE emergency_codes (
    id         UUID PRIMARY KEY,
    rk         BIGINT NOT NULL REFERENCES records(rk),
    code_hash  TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX emergency_codes_record ON emergency_codes (rk, created_at);
