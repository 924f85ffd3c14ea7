package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/caseload"
	"github.com/countersign/countersign/review"
)

// The caseload (caseload.Store), served by CaseStore: the team's figures
// from the case tables, the recommendation and the assignment of a case,
// and the weekly history replayed from the audit log.

var _ caseload.Store = (*CaseStore)(nil)

// caseloadPolicy returns the caseload policy and the case types.
func (db *conn) caseloadPolicy() (caseload.Policy, []string) {
	p := db.policy()
	return p.Caseload, p.CaseTypes
}

// FindTeamCaseload returns the team's caseload now, by name for its
// supervisors and admins, without names for the ethics board (whose door
// replaces the ids by pseudonyms).
func (db *CaseStore) FindTeamCaseload(ctx context.Context, teamID string) (*caseload.Team, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	view, err := caseload.Check(a, teamID)
	if err != nil {
		return nil, err
	}
	p, types := db.caseloadPolicy()
	now := db.stamp()
	in, err := db.caseloadInput(ctx, p, teamID, now)
	if err != nil {
		return nil, err
	}
	t := p.Figures(*in, types, now)
	if view != caseload.ViewNamed {
		for _, f := range t.Workers {
			f.Name, f.Tags = "", nil
		}
	}
	return t, nil
}

type countRow struct {
	WorkerID string `db:"worker_id"`
	CaseType string `db:"case_type"`
	N        int    `db:"n"`
}

type reviewRow struct {
	WorkerID string `db:"decided_by"`
	MS       int64  `db:"review_ms"`
}

// caseloadInput gathers what the figures of teamID at now are computed
// from: the same Input caseload.Replay gives from the log. The activity
// window and the deadline's day come from the policy's rules
// (ActiveSince, Today, ReviewsSince), so the query and the replay agree.
func (db *conn) caseloadInput(ctx context.Context, p caseload.Policy, teamID string, now time.Time) (*caseload.Input, error) {
	q := db.r
	in := &caseload.Input{TeamID: teamID, Waiting: map[string]int{}, Overdue: map[string]int{}, ReviewMS: map[string][]int64{}}
	// The six reads are independent: they run side by side, each on its
	// own connection of the reading pool, so the page waits for the
	// longest of them rather than for their sum.
	var (
		teams                    int
		members                  []userRow
		counts, waiting, overdue []countRow
		reviews                  []reviewRow
	)
	// The recent activity of all teams is read through the time indexes
	// (0015) and hashed, rather than probed case by case: one pass over
	// the team's cases, whatever their number.
	since := p.ActiveSince(now)
	reads := []func() error{
		func() error {
			return q.GetContext(ctx, &teams, q.Rebind(`SELECT COUNT(*) FROM teams WHERE id = ?`), teamID)
		},
		func() error {
			return q.SelectContext(ctx, &members, q.Rebind(`
				SELECT `+userColumns+`
				FROM users
				WHERE team_id = ?
				  AND role = ?
				  AND disabled_at IS NULL`), teamID, string(countersign.RoleWorker))
		},
		func() error {
			return q.SelectContext(ctx, &counts, q.Rebind(`
				SELECT c.worker_id, c.case_type, COUNT(*) AS n
				FROM cases c
				WHERE c.team_id = ?
				  AND c.status = ?
				  AND (c.created_at >= ?
				    OR c.id IN (
				      SELECT n.case_id FROM notes n WHERE n.created_at >= ?
				      UNION ALL
				      SELECT r.case_id FROM record_entries r WHERE r.signed_at >= ?
				      UNION ALL
				      SELECT e.case_id FROM agenda_entries e WHERE e.team_id = ? AND e.updated_at >= ?))
				GROUP BY c.worker_id, c.case_type`), teamID, casefile.StatusOpen, since, since, since, teamID, since)
		},
		func() error {
			return q.SelectContext(ctx, &waiting, q.Rebind(`
				SELECT reviewer_id AS worker_id, '' AS case_type, COUNT(*) AS n
				FROM drafts
				WHERE team_id = ?
				  AND status = 'pending_review'
				GROUP BY reviewer_id`), teamID)
		},
		func() error {
			return q.SelectContext(ctx, &overdue, q.Rebind(`
				SELECT owner_id AS worker_id, '' AS case_type, COUNT(*) AS n
				FROM agenda_entries
				WHERE team_id = ?
				  AND status = 'open'
				  AND kind = 'hard_deadline'
				  AND due_date < ?
				GROUP BY owner_id`), teamID, caseload.Today(now, db.location()))
		},
		func() error {
			return q.SelectContext(ctx, &reviews, q.Rebind(`
				SELECT d.decided_by, d.review_ms
				FROM decisions d
				JOIN drafts f ON f.id = d.draft_id
				WHERE f.team_id = ?
				  AND d.decided_at >= ?
				  AND d.decided_at <= ?`), teamID, p.ReviewsSince(now), now)
		},
	}
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, read := range reads {
		wg.Go(func() { errs[i] = read() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, db.translate(fmt.Errorf("read the caseload of team %s: %w", teamID, err))
	}
	if teams == 0 {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "There is no such team.")
	}
	for _, m := range members {
		in.Members = append(in.Members, caseload.Member{ID: m.ID, Name: m.Name, Email: m.Email})
	}
	for _, c := range counts {
		in.Active = append(in.Active, caseload.Count{WorkerID: c.WorkerID, CaseType: c.CaseType, N: c.N})
	}
	for _, c := range waiting {
		in.Waiting[c.WorkerID] = c.N
	}
	for _, c := range overdue {
		in.Overdue[c.WorkerID] = c.N
	}
	for _, r := range reviews {
		in.ReviewMS[r.WorkerID] = append(in.ReviewMS[r.WorkerID], r.MS)
	}
	return in, nil
}

// RecommendWorkers proposes the team's workers for a case of caseType
// (caseID "" for a new case), and records the recommendation and its
// event in one transaction.
func (db *CaseStore) RecommendWorkers(ctx context.Context, teamID, caseType, caseID string) (*caseload.Recommendation, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, types := db.caseloadPolicy()
	if err := caseload.CheckAllocate(a, teamID); err != nil {
		return nil, err
	}
	if err := caseload.CheckCaseType(caseType, types); err != nil {
		return nil, err
	}
	if caseID != "" {
		c, err := db.findCase(ctx, db.r, caseID, true)
		if err != nil {
			return nil, err
		}
		if c.TeamID != teamID || c.CaseType != caseType {
			return nil, countersign.InvalidFields("No recommendation could be made.", countersign.FieldError{Field: "case_id",
				Message: "Give a case of this team and of this case type."})
		}
	}
	now := db.stamp()
	in, err := db.caseloadInput(ctx, p, teamID, now)
	if err != nil {
		return nil, err
	}
	var rec *caseload.Recommendation
	err = db.withTx(ctx, func(tx *Tx) error {
		r, ev, err := p.Recommend(a, p.Figures(*in, types, now), caseType, caseID, types, tx.now)
		if err != nil {
			return err
		}
		cands, err := json.Marshal(r.Candidates)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`
			INSERT INTO caseload_recommendations (id, team_id, case_type, case_id, policy_version, candidates, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.TeamID, r.CaseType, nullable(r.CaseID), r.PolicyVersion, string(cands), r.CreatedBy, r.CreatedAt); err != nil {
			return fmt.Errorf("insert recommendation: %w", err)
		}
		rec = r
		return tx.apply(ctx, []audit.Record{*ev})
	})
	return rec, err
}

type recommendationRow struct {
	ID            string    `db:"id"`
	TeamID        string    `db:"team_id"`
	CaseType      string    `db:"case_type"`
	CaseID        *string   `db:"case_id"`
	PolicyVersion string    `db:"policy_version"`
	Candidates    string    `db:"candidates"`
	CreatedBy     string    `db:"created_by"`
	CreatedAt     time.Time `db:"created_at"`
}

// findRecommendation reads recommendation id through q; nil when id is
// "" or names none.
func (db *conn) findRecommendation(ctx context.Context, q queryer, id string) (*caseload.Recommendation, error) {
	if id == "" {
		return nil, nil
	}
	var r recommendationRow
	switch err := q.GetContext(ctx, &r, q.Rebind(`
		SELECT id, team_id, case_type, case_id, policy_version, candidates, created_by, created_at
		FROM caseload_recommendations WHERE id = ?`), id); {
	case err == nil:
	case countersign.ErrorCode(db.translate(err)) == countersign.ENOTFOUND:
		return nil, nil
	default:
		return nil, fmt.Errorf("find recommendation: %w", err)
	}
	rec := &caseload.Recommendation{ID: r.ID, TeamID: r.TeamID, CaseType: r.CaseType, CaseID: str(r.CaseID),
		PolicyVersion: r.PolicyVersion, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
	if err := json.Unmarshal([]byte(r.Candidates), &rec.Candidates); err != nil {
		return nil, fmt.Errorf("recommendation %s: %w", r.ID, err)
	}
	return rec, nil
}

// CreateCaseFollowing opens case c as CreateCase does and records in its
// case.created event, in the same transaction, the recommendation the
// supervisor named and the chosen worker's rank in it
// (caseload.DecideCreate). With recommendationID "" it is CreateCase.
func (db *CaseStore) CreateCaseFollowing(ctx context.Context, c *casefile.Case, recommendationID string) error {
	return db.createCase(ctx, c, recommendationID)
}

// followRecommendation records in ev, c's case.created event, the
// recommendation named ("" for none), within the case's transaction tx.
func (db *conn) followRecommendation(ctx context.Context, tx *Tx, a countersign.Actor, c *casefile.Case, recommendationID string, ev *audit.Record) error {
	if recommendationID == "" {
		return nil
	}
	rec, err := db.findRecommendation(ctx, tx, recommendationID)
	if err != nil {
		return err
	}
	p, _ := db.caseloadPolicy()
	return caseload.DecideCreate(a, c, recommendationID, rec, p, ev)
}

// AssignCase gives a case to a worker of its team, recording the
// recommendation named (if any) and the choice in the same transaction.
// The previous worker's drafts of the case still to be reviewed
// (draftsFollowCase) and open agenda entries (entriesFollowCase) go to the
// new worker in that transaction too, each with its event, so nothing of
// the case keeps waiting for someone who no longer holds it. Their events
// come before case.assigned, as a sign-off's agenda comes before the
// sign-off. The case is locked first, then its drafts, then its entries:
// the order decisions and agenda changes take them.
func (db *CaseStore) AssignCase(ctx context.Context, caseID string, as caseload.Assignment) (*casefile.Case, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if a.Role != countersign.RoleSupervisor && a.Role != countersign.RoleSystem {
		return nil, caseload.CheckAllocate(a, "")
	}
	p, _ := db.caseloadPolicy()
	var out *casefile.Case
	err = db.withTx(ctx, func(tx *Tx) error {
		c, err := db.findCase(ctx, tx, caseID, true)
		if err != nil {
			return err
		}
		var worker *casefile.Worker
		if as.WorkerID != "" {
			var w userRow
			switch err := tx.GetContext(ctx, &w, tx.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ? AND disabled_at IS NULL`), as.WorkerID); {
			case err == nil:
				worker = &casefile.Worker{ID: w.ID, Role: countersign.Role(w.Role), TeamID: str(w.TeamID)}
			case countersign.ErrorCode(db.translate(err)) != countersign.ENOTFOUND:
				return fmt.Errorf("find worker: %w", err)
			}
		}
		rec, err := db.findRecommendation(ctx, tx, as.RecommendationID)
		if err != nil {
			return err
		}
		ev, err := caseload.DecideAssign(a, c, worker, as.RecommendationID, rec, p)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE cases SET worker_id = ? WHERE id = ? AND worker_id = ?`), worker.ID, c.ID, c.WorkerID)
		if err != nil {
			return fmt.Errorf("assign case: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return countersign.Errorf(countersign.ECONFLICT, "The case was reassigned meanwhile; look at it again.")
		}
		from := c.WorkerID
		c.WorkerID = worker.ID
		events, err := db.draftsFollowCase(ctx, tx, a, c.ID, from, worker)
		if err != nil {
			return err
		}
		moved, err := db.entriesFollowCase(ctx, tx, a, c, from)
		if err != nil {
			return err
		}
		out = c
		return tx.apply(ctx, append(append(events, moved...), *ev))
	})
	return out, err
}

// draftsFollowCase applies review.DecideCaseAssignedDrafts within tx, the
// transaction that assigned case caseID from worker from to worker to,
// under the case's lock: the case's drafts that from reviews and that may
// move (review.MovingWithCase) are locked, newest first (the order a
// completed draft and the older ones it supersedes are locked in), and go
// to the new worker, whose review clock starts when they open them, as at
// a single reassignment (ReviewStore.ReassignDraft). It returns their
// events. A decision that read a draft before the move finds the case's
// and the draft's rows changed, or waits for their locks, and is decided
// again on what the move left: not the previous worker's to make.
func (db *conn) draftsFollowCase(ctx context.Context, tx *Tx, a countersign.Actor, caseID, from string, to *casefile.Worker) ([]audit.Record, error) {
	var rows []struct {
		ID         string `db:"id"`
		CaseID     string `db:"case_id"`
		Kind       string `db:"kind"`
		Status     string `db:"status"`
		ReviewerID string `db:"reviewer_id"`
		TeamID     string `db:"team_id"`
	}
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT id, case_id, kind, status, reviewer_id, team_id FROM drafts
		WHERE case_id = ? AND reviewer_id = ? AND `+statusIn(review.MovingWithCase...)+`
		ORDER BY created_at DESC, id DESC`+db.dialect.forUpdate()), caseID, from); err != nil {
		return nil, fmt.Errorf("find the case's drafts: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	drafts := make([]*review.Draft, len(rows))
	for i, r := range rows {
		drafts[i] = &review.Draft{ID: r.ID, CaseID: r.CaseID, Kind: assistant.Kind(r.Kind), Status: review.Status(r.Status),
			ReviewerID: r.ReviewerID, TeamID: r.TeamID}
	}
	mv, err := review.DecideCaseAssignedDrafts(a, drafts, from, &review.Assignee{ID: to.ID, Role: to.Role, TeamID: to.TeamID})
	if err != nil || len(mv.Moved) == 0 {
		return nil, err
	}
	ids := make([]any, 0, len(mv.Moved)+3)
	ids = append(ids, to.ID, tx.now)
	for _, d := range mv.Moved {
		ids = append(ids, d.ID)
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE drafts SET reviewer_id = ?, opened_at = NULL, updated_at = ?
		WHERE id IN (?`+strings.Repeat(", ?", len(mv.Moved)-1)+`) AND reviewer_id = ?`), append(ids, from)...)
	if err != nil {
		return nil, fmt.Errorf("give drafts to the case's worker: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(mv.Moved)) {
		return nil, countersign.Errorf(countersign.ECONFLICT, "A draft of this case was reassigned meanwhile; try again.")
	}
	return mv.Events, nil
}

// FindCaseloadTeams returns the teams whose caseload the actor sees
// (caseload.CheckTeams), by name.
func (db *CaseStore) FindCaseloadTeams(ctx context.Context) ([]caseload.TeamRef, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	all, own, err := caseload.CheckTeams(a)
	if err != nil {
		return nil, err
	}
	q, args := `SELECT id, name FROM teams`, []any{}
	if !all {
		q, args = q+` WHERE id = ?`, append(args, own)
	}
	teams := []caseload.TeamRef{}
	if err := db.r.SelectContext(ctx, &teams, db.r.Rebind(q+` ORDER BY name, id`), args...); err != nil {
		return nil, db.translate(fmt.Errorf("find teams: %w", err))
	}
	return teams, nil
}

// FindCaseloadHistory replays the audit log's events of the team's cases
// and users and returns the team's figures at the end of each of the
// last weeks weeks (1 to 104). Events reach the log's table once
// sequenced, a moment after their commit.
func (db *CaseStore) FindCaseloadHistory(ctx context.Context, teamID string, weeks int) ([]*caseload.Point, error) {
	a, err := countersign.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := caseload.Check(a, teamID); err != nil {
		return nil, err
	}
	if weeks < 1 || weeks > caseload.MaxWeeks {
		return nil, countersign.InvalidFields("The history could not be shown.", countersign.FieldError{Field: "weeks",
			Message: fmt.Sprintf("Give a number of weeks from 1 to %d.", caseload.MaxWeeks)})
	}
	var n int
	if err := db.r.GetContext(ctx, &n, db.r.Rebind(`SELECT COUNT(*) FROM teams WHERE id = ?`), teamID); err != nil {
		return nil, db.translate(fmt.Errorf("find team: %w", err))
	}
	if n == 0 {
		return nil, countersign.Errorf(countersign.ENOTFOUND, "There is no such team.")
	}
	args := []any{}
	marks := make([]string, len(caseload.Actions))
	for i, act := range caseload.Actions {
		marks[i], args = "?", append(args, act)
	}
	args = append(args, teamID)
	rows, err := db.r.QueryxContext(ctx, db.r.Rebind(`
		SELECT seq, at, actor_id, role, action, subject_type, subject_id, case_id, payload, leaf_hash, chain_hash
		FROM audit_event
		WHERE action IN (`+strings.Join(marks, ", ")+`)
		  AND (case_id = '' OR case_id IN (SELECT id FROM cases WHERE team_id = ?))
		ORDER BY seq`), args...)
	if err != nil {
		return nil, db.translate(fmt.Errorf("read caseload events: %w", err))
	}
	defer rows.Close()
	var ferr error
	events := func(yield func(*audit.Event) bool) {
		for rows.Next() {
			var r eventRow
			if err := rows.StructScan(&r); err != nil {
				ferr = fmt.Errorf("scan caseload event: %w", err)
				return
			}
			e, err := r.toDomain()
			if err != nil {
				ferr = err
				return
			}
			if !yield(e) {
				return
			}
		}
		ferr = rows.Err()
	}
	p, types := db.caseloadPolicy()
	pts := caseload.History(p, db.location(), events, teamID, types, db.stamp(), weeks)
	if ferr != nil {
		return nil, db.translate(ferr)
	}
	return pts, nil
}
