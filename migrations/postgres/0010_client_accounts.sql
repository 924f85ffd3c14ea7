-- 0010_client_accounts: the client's own file (issue 15), part one: the
-- invitation a worker gives a client, the client's account, how they sign
-- in (passkeys, a passphrase) and their sessions. Parties get the language
-- their letters and pages are in. Codes, passphrases and session secrets
-- are kept only as hashes. Client credentials live in their own tables,
-- never in tokens or sessions, so no staff credential is ever a client's
-- and the other way round. PostgreSQL twin of
-- migrations/sqlite/0010_client_accounts.sql.

ALTER TABLE parties ADD COLUMN language TEXT NOT NULL DEFAULT 'en';

-- One account per party invited: created with its first invitation, so the
-- letter can name the account id the person signs in with later.
CREATE TABLE client_accounts (
    id              TEXT PRIMARY KEY,
    party_id        TEXT NOT NULL UNIQUE REFERENCES parties (id),
    passphrase_hash TEXT,
    activated_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    disabled_at     TIMESTAMPTZ
);

CREATE TABLE client_invitations (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES client_accounts (id),
    party_id    TEXT NOT NULL REFERENCES parties (id),
    case_id     TEXT NOT NULL REFERENCES cases (id),
    code_hash   BYTEA NOT NULL UNIQUE,
    created_by  TEXT NOT NULL, -- a user, or one of the service's own actors (system:cli)
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX client_invitations_party_idx ON client_invitations (party_id, created_at);

-- Passkeys: the WebAuthn credential as the library keeps it (JSON), found
-- by its credential id.
CREATE TABLE client_passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES client_accounts (id),
    credential_id BYTEA NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX client_passkeys_account_idx ON client_passkeys (account_id);

-- Sessions: a bearer token of the JSON API (kind 'token') or a browser
-- session (kind 'browser'), each found by the hash of its secret; a secret
-- of one kind is never accepted as the other.
CREATE TABLE client_sessions (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES client_accounts (id),
    kind        TEXT NOT NULL CHECK (kind IN ('token', 'browser')),
    secret_hash BYTEA NOT NULL UNIQUE,
    csrf        TEXT NOT NULL,
    language    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ
);
CREATE INDEX client_sessions_expiry_idx ON client_sessions (expires_at);

-- Ceremonies in progress: a code entered and not yet turned into a passkey
-- or passphrase, or a passkey sign-in waiting for its answer. The browser
-- holds the secret; the row holds the WebAuthn challenge, so it cannot be
-- chosen by the browser.
CREATE TABLE client_ceremonies (
    id            TEXT PRIMARY KEY,
    secret_hash   BYTEA NOT NULL UNIQUE,
    invitation_id TEXT REFERENCES client_invitations (id),
    webauthn      TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX client_ceremonies_expiry_idx ON client_ceremonies (expires_at);
