-- 0015_caseload: the caseload (issue 17). The recommendations shown to
-- supervisors, kept whole (their events name the first candidates only),
-- so that an assignment can name the recommendation it followed or not;
-- rows are never changed. And the indexes the team's caseload query reads
-- the recent activity through: notes, signed entries and agenda entries
-- by time, decisions by time, cases by team and worker.
-- PostgreSQL twin of migrations/sqlite/0015_caseload.sql.

CREATE TABLE caseload_recommendations (
    id             TEXT PRIMARY KEY,
    team_id        TEXT NOT NULL REFERENCES teams (id),
    case_type      TEXT NOT NULL,
    case_id        TEXT REFERENCES cases (id),
    policy_version TEXT NOT NULL,
    candidates     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TRIGGER caseload_recommendations_no_update BEFORE UPDATE ON caseload_recommendations
    FOR EACH ROW EXECUTE FUNCTION countersign_refuse_change();
ALTER TABLE caseload_recommendations ENABLE ALWAYS TRIGGER caseload_recommendations_no_update;

CREATE INDEX notes_created_idx ON notes (created_at, case_id);
CREATE INDEX record_entries_signed_idx ON record_entries (signed_at, case_id);
CREATE INDEX agenda_entries_updated_idx ON agenda_entries (team_id, updated_at, case_id);
CREATE INDEX decisions_decided_idx ON decisions (decided_at);
CREATE INDEX cases_team_worker_idx ON cases (team_id, worker_id, case_type);
