-- Hearth schema, PostgreSQL dialect; the same tables and indexes as the SQLite schema
-- (docs/storage.md describes every table and index). Internal BIGINT keys (rk, ik, vk, actor,
-- dt) keep rows and indexes small; UUIDs are the public ids.

CREATE TABLE accounts (
    id           UUID PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE records (
    rk           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    patient_item UUID NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seq     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE record_access (
    rk           BIGINT NOT NULL REFERENCES records(rk),
    account_id   UUID NOT NULL REFERENCES accounts(id),
    relationship TEXT NOT NULL,
    custodian    BOOLEAN NOT NULL,
    granted_at   BIGINT NOT NULL,
    PRIMARY KEY (rk, account_id)
);
CREATE INDEX record_access_account ON record_access (account_id);

-- Who wrote: (account, app, online) interned.
CREATE TABLE actors (
    actor   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account UUID,
    app     TEXT,
    online  BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX actors_key ON actors (
    (coalesce(account, '00000000-0000-0000-0000-000000000000'::uuid)), (coalesce(app, '')), online
);

-- Data-type keys interned.
CREATE TABLE data_types (
    dt  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);

-- The current version of every item.
CREATE TABLE items (
    ik            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            UUID NOT NULL UNIQUE,
    rk            BIGINT NOT NULL REFERENCES records(rk),
    resource_type TEXT NOT NULL,
    version       INTEGER NOT NULL,
    state         SMALLINT NOT NULL,
    dt            BIGINT NOT NULL,
    effective     BIGINT NOT NULL,
    flags         SMALLINT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    updated_by    BIGINT NOT NULL
);
CREATE INDEX items_type_effective ON items (rk, dt, effective);
CREATE INDEX items_effective ON items (rk, effective);
CREATE INDEX items_updated ON items (rk, updated_at);

-- Idempotency keys: one per (record, writer, client id).
CREATE TABLE client_ids (
    rk           BIGINT NOT NULL,
    writer       TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    ik           BIGINT NOT NULL,
    content_hash BYTEA NOT NULL,
    patient      BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (rk, writer, client_id)
);
-- Finds the record an importer made for a source Patient, without visiting every record.
CREATE INDEX client_ids_patient ON client_ids (writer, client_id) WHERE patient;

-- Codes of each item's primary code element, "system|code".
CREATE TABLE item_codes (
    rk   BIGINT NOT NULL,
    code TEXT NOT NULL,
    ik   BIGINT NOT NULL,
    PRIMARY KEY (rk, code, ik)
);

-- Every version of every item; the change feed is (rk, seq).
CREATE TABLE versions (
    vk        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ik        BIGINT NOT NULL,
    version   INTEGER NOT NULL,
    rk        BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    kind      SMALLINT NOT NULL,
    state     SMALLINT NOT NULL,
    at        BIGINT NOT NULL,
    actor     BIGINT NOT NULL,
    dt        BIGINT NOT NULL,
    effective BIGINT NOT NULL,
    flags     SMALLINT NOT NULL,
    extras    TEXT,
    body      BYTEA
);
-- Bodies are already zstd-compressed: keep PostgreSQL from trying to compress them again.
ALTER TABLE versions ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX versions_item ON versions (ik, version);
CREATE UNIQUE INDEX versions_seq ON versions (rk, seq);

CREATE TABLE audit (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    account    UUID,
    app        TEXT,
    online     BOOLEAN NOT NULL,
    rk         BIGINT,
    action     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    data_types TEXT NOT NULL,
    items      TEXT NOT NULL
);
CREATE INDEX audit_record ON audit (rk, id);
