-- Hearth schema, SQLite dialect. docs/storage.md describes every table and index.
-- Internal integer keys (rk, ik, actor, dt) keep rows and indexes small; UUIDs are the public ids.

CREATE TABLE accounts (
    id           BLOB PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE records (
    rk           INTEGER PRIMARY KEY,
    id           BLOB NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    patient_item BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE record_access (
    rk           INTEGER NOT NULL REFERENCES records(rk),
    account_id   BLOB NOT NULL REFERENCES accounts(id),
    relationship TEXT NOT NULL,
    custodian    INTEGER NOT NULL,
    granted_at   INTEGER NOT NULL,
    PRIMARY KEY (rk, account_id)
) WITHOUT ROWID;
CREATE INDEX record_access_account ON record_access (account_id);

-- Who wrote: (account, app, online) interned.
CREATE TABLE actors (
    actor   INTEGER PRIMARY KEY,
    account BLOB,
    app     TEXT,
    online  INTEGER NOT NULL
);
CREATE UNIQUE INDEX actors_key ON actors (ifnull(account, x''), ifnull(app, ''), online);

-- Data-type keys interned.
CREATE TABLE data_types (
    dt  INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);

-- The current version of every item.
CREATE TABLE items (
    ik            INTEGER PRIMARY KEY,
    id            BLOB NOT NULL UNIQUE,
    rk            INTEGER NOT NULL REFERENCES records(rk),
    resource_type TEXT NOT NULL,
    version       INTEGER NOT NULL,
    state         INTEGER NOT NULL,
    dt            INTEGER NOT NULL,
    effective     INTEGER NOT NULL,
    flags         INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    updated_by    INTEGER NOT NULL
);
CREATE INDEX items_type_effective ON items (rk, dt, effective);
CREATE INDEX items_effective ON items (rk, effective);
CREATE INDEX items_updated ON items (rk, updated_at);

-- Idempotency keys: one per (record, writer, client id).
CREATE TABLE client_ids (
    rk           INTEGER NOT NULL,
    writer       TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    ik           INTEGER NOT NULL,
    content_hash BLOB NOT NULL,
    patient      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (rk, writer, client_id)
) WITHOUT ROWID;
-- Finds the record an importer made for a source Patient, without visiting every record.
CREATE INDEX client_ids_patient ON client_ids (writer, client_id) WHERE patient = 1;

-- Codes of each item's primary code element, "system|code".
CREATE TABLE item_codes (
    rk   INTEGER NOT NULL,
    code TEXT NOT NULL,
    ik   INTEGER NOT NULL,
    PRIMARY KEY (rk, code, ik)
) WITHOUT ROWID;

-- Every version of every item; the change feed is (rk, seq).
CREATE TABLE versions (
    vk        INTEGER PRIMARY KEY,
    ik        INTEGER NOT NULL,
    version   INTEGER NOT NULL,
    rk        INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    state     INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    actor     INTEGER NOT NULL,
    dt        INTEGER NOT NULL,
    effective INTEGER NOT NULL,
    flags     INTEGER NOT NULL,
    extras    TEXT,
    body      BLOB
);
CREATE UNIQUE INDEX versions_item ON versions (ik, version);
CREATE UNIQUE INDEX versions_seq ON versions (rk, seq);

CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account    BLOB,
    app        TEXT,
    online     INTEGER NOT NULL,
    rk         INTEGER,
    action     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT,
    data_types TEXT NOT NULL,
    items      TEXT NOT NULL
);
CREATE INDEX audit_record ON audit (rk, id);
