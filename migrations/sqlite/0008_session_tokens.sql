-- 0008_session_tokens: a web session lives no longer than the token it was
-- signed in with (issue 14, item 7). Each session names its token, and
-- FindSession refuses it once that token is revoked or expired or its user
-- is disabled (identity.CheckSession). Sessions started before this
-- migration name no token: they are deleted here, and their people sign in
-- again; the log keeps when they started. The expiry index serves the purge
-- of ended and expired sessions at each sign-in. SQLite twin of
-- migrations/postgres/0008_session_tokens.sql.
ALTER TABLE sessions ADD COLUMN token_id TEXT REFERENCES tokens (id);
DELETE FROM sessions WHERE token_id IS NULL;
CREATE INDEX sessions_token_idx ON sessions (token_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
CREATE INDEX sessions_ended_idx ON sessions (ended_at);
