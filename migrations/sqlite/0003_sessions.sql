-- 0003_sessions: browser sessions of the web interface. A session is known
-- by a public id (for the audit log) and found by the SHA-256 hash of its
-- 256-bit secret, which only the browser's cookie holds. The CSRF secret
-- is per session. Sessions are ended, never deleted, so sign-outs and
-- expiries stay visible. SQLite twin of migrations/postgres/0003_sessions.sql.

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    secret_hash BLOB NOT NULL UNIQUE,
    user_id     TEXT NOT NULL REFERENCES users (id),
    csrf        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    ended_at    TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
