-- Access levels, sign-in and consent; the same tables and indexes as the SQLite schema
-- (docs/storage.md describes every table and index). App ids are compared byte by byte
-- (COLLATE "C"), so lists ordered by client id come out as on SQLite.

-- An access has a level (view, modify, custodian) instead of a custodian flag. Accesses that
-- were not custodians could read and write, which is what 'modify' allows.
ALTER TABLE record_access ADD COLUMN level TEXT;
UPDATE record_access SET level = CASE WHEN custodian THEN 'custodian' ELSE 'modify' END;
ALTER TABLE record_access ALTER COLUMN level SET NOT NULL;
ALTER TABLE record_access ADD CONSTRAINT record_access_level
    CHECK (level IN ('view', 'modify', 'custodian'));
ALTER TABLE record_access DROP COLUMN custodian;

-- One row per account that has a password. recovery_codes: JSON array of SHA-256 (hex).
CREATE TABLE credentials (
    account             UUID PRIMARY KEY REFERENCES accounts(id),
    password_hash       TEXT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    email_verified_at   BIGINT,
    totp_secret         TEXT,
    totp_enabled_at     BIGINT,
    totp_last_step      BIGINT NOT NULL,
    recovery_codes      TEXT NOT NULL
);

-- Signed-in browsers, by SHA-256 (hex) of the session token.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    account      UUID NOT NULL REFERENCES accounts(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    mfa_pending  BOOLEAN NOT NULL,
    user_agent   TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account);

-- Single-use emailed links (verification, password reset), by SHA-256 (hex) of the token.
CREATE TABLE email_tokens (
    hash       TEXT PRIMARY KEY,
    account    UUID NOT NULL REFERENCES accounts(id),
    purpose    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- Registered apps, by OAuth client id. redirect_uris, jwks and rules are JSON text (kept as
-- written, unlike jsonb).
CREATE TABLE apps (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    logo_uri      TEXT,
    redirect_uris TEXT NOT NULL,
    kind          TEXT NOT NULL,
    auth_method   TEXT NOT NULL,
    secret_hash   TEXT,
    jwks          TEXT,
    rules         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    disabled      BOOLEAN NOT NULL
);

-- Consent: one row per (app, record, account). rules: JSON array of the rules as granted.
CREATE TABLE grants (
    app           TEXT COLLATE "C" NOT NULL REFERENCES apps(id),
    rk            BIGINT NOT NULL REFERENCES records(rk),
    account       UUID NOT NULL REFERENCES accounts(id),
    rules         TEXT NOT NULL,
    granted_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_read_at  BIGINT,
    last_write_at BIGINT,
    PRIMARY KEY (app, rk, account)
);
CREATE INDEX grants_record ON grants (rk, app, account);
CREATE INDEX grants_account ON grants (account);

-- Each app's own random identifier for each account (the OpenID Connect `sub`).
CREATE TABLE app_subjects (
    app     TEXT COLLATE "C" NOT NULL,
    account UUID NOT NULL REFERENCES accounts(id),
    subject TEXT NOT NULL UNIQUE,
    PRIMARY KEY (app, account)
);

-- Authorization codes, access and refresh tokens, by SHA-256 (hex) of the token. code: JSON of
-- what an authorization code remembers.
CREATE TABLE oauth_tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    app        TEXT COLLATE "C" NOT NULL,
    account    UUID REFERENCES accounts(id),
    rk         BIGINT REFERENCES records(rk),
    scope      TEXT NOT NULL,
    online     BOOLEAN NOT NULL,
    issuer     TEXT NOT NULL,
    family     TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT,
    code       TEXT
);
CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
CREATE INDEX oauth_tokens_app_account ON oauth_tokens (app, account);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);
-- Finds the tokens confined to a record when the record is deleted.
CREATE INDEX oauth_tokens_record ON oauth_tokens (rk);

-- Keys the server signs ID tokens with. public_jwk is JSON text.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- An account's own trail (sign-ins, credentials, tokens): entries that belong to no record.
CREATE INDEX audit_account ON audit (account, id) WHERE rk IS NULL;
