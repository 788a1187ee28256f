-- Access levels, sign-in and consent. docs/storage.md describes every table and index.

-- An access has a level (view, modify, custodian) instead of a custodian flag. Accesses that
-- were not custodians could read and write, which is what 'modify' allows.
ALTER TABLE record_access ADD COLUMN level TEXT NOT NULL DEFAULT 'modify'
    CHECK (level IN ('view', 'modify', 'custodian'));
UPDATE record_access SET level = CASE WHEN custodian = 1 THEN 'custodian' ELSE 'modify' END;
ALTER TABLE record_access DROP COLUMN custodian;

-- One row per account that has a password. recovery_codes: JSON array of SHA-256 (hex).
CREATE TABLE credentials (
    account             BLOB PRIMARY KEY REFERENCES accounts(id),
    password_hash       TEXT NOT NULL,
    password_changed_at INTEGER NOT NULL,
    email_verified_at   INTEGER,
    totp_secret         TEXT,
    totp_enabled_at     INTEGER,
    totp_last_step      INTEGER NOT NULL,
    recovery_codes      TEXT NOT NULL
) WITHOUT ROWID;

-- Signed-in browsers, by SHA-256 (hex) of the session token.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    account      BLOB NOT NULL REFERENCES accounts(id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    mfa_pending  INTEGER NOT NULL,
    user_agent   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_account ON sessions (account);

-- Single-use emailed links (verification, password reset), by SHA-256 (hex) of the token.
CREATE TABLE email_tokens (
    hash       TEXT PRIMARY KEY,
    account    BLOB NOT NULL REFERENCES accounts(id),
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;

-- Registered apps, by OAuth client id. redirect_uris, jwks and rules are JSON.
CREATE TABLE apps (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    logo_uri      TEXT,
    redirect_uris TEXT NOT NULL,
    kind          TEXT NOT NULL,
    auth_method   TEXT NOT NULL,
    secret_hash   TEXT,
    jwks          TEXT,
    rules         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL
) WITHOUT ROWID;

-- Consent: one row per (app, record, account). rules: JSON array of the rules as granted.
CREATE TABLE grants (
    app           TEXT NOT NULL REFERENCES apps(id),
    rk            INTEGER NOT NULL REFERENCES records(rk),
    account       BLOB NOT NULL REFERENCES accounts(id),
    rules         TEXT NOT NULL,
    granted_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    last_read_at  INTEGER,
    last_write_at INTEGER,
    PRIMARY KEY (app, rk, account)
) WITHOUT ROWID;
CREATE INDEX grants_record ON grants (rk, app, account);
CREATE INDEX grants_account ON grants (account);

-- Each app's own random identifier for each account (the OpenID Connect `sub`).
CREATE TABLE app_subjects (
    app     TEXT NOT NULL,
    account BLOB NOT NULL REFERENCES accounts(id),
    subject TEXT NOT NULL UNIQUE,
    PRIMARY KEY (app, account)
) WITHOUT ROWID;

-- Authorization codes, access and refresh tokens, by SHA-256 (hex) of the token. code: JSON of
-- what an authorization code remembers.
CREATE TABLE oauth_tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    app        TEXT NOT NULL,
    account    BLOB REFERENCES accounts(id),
    rk         INTEGER REFERENCES records(rk),
    scope      TEXT NOT NULL,
    online     INTEGER NOT NULL,
    issuer     TEXT NOT NULL,
    family     TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER,
    code       TEXT
) WITHOUT ROWID;
CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
CREATE INDEX oauth_tokens_app_account ON oauth_tokens (app, account);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);
-- Finds the tokens confined to a record when the record is deleted.
CREATE INDEX oauth_tokens_record ON oauth_tokens (rk);

-- Keys the server signs ID tokens with. public_jwk is JSON.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- An account's own trail (sign-ins, credentials, tokens): entries that belong to no record.
CREATE INDEX audit_account ON audit (account, id) WHERE rk IS NULL;
