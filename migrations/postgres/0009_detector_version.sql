-- 0009_detector_version: every draft records the version of the service's
-- own high-stakes detector that classified its statements and items
-- (assistant.DetectorVersion, e.g. "stakes/1+3f2a9c1d": the engine's
-- version and a digest of its lexicons), so a board can tell which rules
-- decided what a reviewer had to confirm (issue 13, item 1). Drafts made
-- before this migration, or not yet generated, record none ('').
-- SQLite twin: migrations/sqlite/0009_detector_version.sql.
ALTER TABLE drafts ADD COLUMN detector_version TEXT NOT NULL DEFAULT '';
