package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// draftScope is what a later read of a draft (OpenDraft, not a first
// opening) decides from in the draft's own row, besides its case's read
// scope: checkDraftAccess reads the reviewer and team (review.IsReviewer),
// review.OpeningStage the status, reviewer and team, and the read's event
// (client.ReadEvent) the case and whether the draft has content yet. It
// holds ids and codes only, nothing an erasure must remove.
type draftScope struct {
	CaseID     string
	ReviewerID string
	TeamID     string
	Status     review.Status
	Empty      bool
}

func draftScopeOf(d *review.Draft) draftScope {
	return draftScope{CaseID: d.CaseID, ReviewerID: d.ReviewerID, TeamID: d.TeamID, Status: d.Status, Empty: d.Content == nil}
}

// draft is the draft id as s predicts it, for the rules to decide on:
// only the fields they read are set.
func (s draftScope) draft(id string) *review.Draft {
	return &review.Draft{ID: id, CaseID: s.CaseID, ReviewerID: s.ReviewerID, TeamID: s.TeamID, Status: s.Status}
}

// mayReadDraft is review.CanReadDraft decided on predicted inputs alone
// (the draft's fields and its case's cached scope). It only predicts: the
// statement that relies on it checks that the row still has these inputs,
// and when it has not, checkDraftAccess decides on the row read.
func mayReadDraft(a countersign.Actor, d *review.Draft, s casefile.ReadScope) bool {
	ok, _ := review.CanReadDraft(a, d, func() (casefile.ReadScope, error) { return s, nil })
	return ok
}

// readDraftLogged is OpenDraft's read of draft id by a: the draft as
// findDraft returns it, the time a first opened it at its status (nil:
// never), and whether the read's access event is already written (logged).
//
// On SQLite it is findDraft: a read's event joins the group commit later
// (RecordRead). On PostgreSQL it is one statement that reads the draft as
// readDraft does, with its case's read scope, and, when this process
// predicts from what it last read of the draft (scopeCache) and of its case
// (the scope ReadCase keeps too) that a may read it and that the read is
// not a first opening, inserts the read's event in the same statement only
// if the row still has the inputs predicted (readDraftLoggedQuery),
// in autocommit, durable when it returns. A row that changed (another
// replica moved the case or reassigned the draft, the draft was decided,
// the key shredded) inserts nothing: then, as with no prediction,
// checkDraftAccess decides on the row read and the caller writes the
// event as it always did (RecordRead, or the first opening's
// transaction). So the cache can be stale or empty without a read being
// logged that was refused, or allowed without its event.
//
// One difference from findDraft then RecordRead: on the logged path the
// event is durable before the row's content is opened and a decided
// draft's decision read (attachDecision), so a read that fails there (a
// master key missing, a decision row unreadable) leaves the event of a
// read that was allowed but returned an error; never the reverse.
//
// seen, when not nil, is the row read with what an approval by a decides
// on (decideInputs), for OpenDraft to remember (rememberedDecision).
func (db *conn) readDraftLogged(ctx context.Context, a countersign.Actor, id string) (d *review.Draft, opened *time.Time, logged bool, seen *decideRow, err error) {
	if db.group != nil || !db.dialect.writableCTE() {
		d, opened, err = db.findDraft(ctx, id, a.UserID)
		return d, opened, false, nil, err
	}
	query, args := readDraftScopeQuery, []any{a.UserID, id}
	if guarded, err := db.predictDraftRead(ctx, a, id); err != nil {
		return nil, nil, false, nil, err
	} else if guarded != nil {
		query, args = readDraftLoggedQuery, append(args, guarded...)
	}
	var r struct {
		draftReadRow
		CaseTeamID   *string `db:"case_team_id"`
		CaseWorkerID *string `db:"case_worker_id"`
		Logged       bool    `db:"logged"`
		decideInputs         // readDraftScopeQuery only
	}
	if err := db.getOnWriter(ctx, &r, db.w.Rebind(query), args...); err != nil {
		return nil, nil, false, nil, notFound(db.translate(err), "There is no draft with this id.")
	}
	if r.Logged {
		db.wakeSequencer()
		if f, ok := afterDraftReadLogged.Load(id); ok {
			f.(func())()
		}
	}
	d, o, opened, err := db.draftFromRow(ctx, db.r, &r.draftReadRow)
	if err != nil {
		return nil, nil, false, nil, err
	}
	if !r.Logged {
		// The row read decides, as in findDraft, and what it holds is
		// the next read's prediction.
		db.scopes.putDraft(id, draftScopeOf(d))
		if r.CaseTeamID != nil && r.CaseWorkerID != nil {
			db.scopes.put(d.CaseID, casefile.ReadScope{TeamID: *r.CaseTeamID, WorkerID: *r.CaseWorkerID})
		}
		if err := db.checkDraftAccess(ctx, db.r, d, false); err != nil {
			return nil, nil, false, nil, err
		}
	}
	if err := db.attachDecision(ctx, db.r, d, o); err != nil {
		return nil, nil, false, nil, err
	}
	if r.DraftVersion != nil {
		seen = &decideRow{draftRow: r.draftRow, joinedKey: r.joinedKey, decideInputs: r.decideInputs, OpenedAtThisStage: r.ReaderOpenedAt}
	}
	return d, opened, r.Logged, seen, nil
}

// predictDraftRead returns the arguments readDraftLoggedQuery adds to
// readDraftScopeQuery's (the read's pending event, then the inputs it is
// guarded on), or nil when this process cannot predict an allowed later
// read with an event: nothing cached, a draft without content, a read
// refused or writing no event, or a read that would be a first opening.
func (db *conn) predictDraftRead(ctx context.Context, a countersign.Actor, id string) ([]any, error) {
	p, ok := db.scopes.getDraft(id)
	if !ok || p.Empty {
		return nil, nil
	}
	scope, ok := db.scopes.get(p.CaseID)
	d := p.draft(id)
	if !ok || !mayReadDraft(a, d, scope) {
		return nil, nil
	}
	ev, err := db.readEvent(ctx, client.Read{CaseID: p.CaseID, What: client.ReadDraft, TargetID: id})
	if err != nil || ev == nil {
		return nil, nil
	}
	// A read that may be a first opening is logged here only if the
	// reader's opening at this status is already there: the first one's
	// event is written with the opening, in its own transaction.
	_, mayOpen := review.OpeningStage(a, d)
	// The event's row is built as RecordRead builds it (pendingRow: the
	// event checked, its nonce and MAC).
	row, err := db.pendingRow(db.stamp(), ev.Actor, ev.Action, ev.SubjectType, ev.SubjectID, ev.CaseID, ev.Payload)
	if err != nil {
		return nil, err
	}
	return append(row, p.CaseID, string(p.Status), p.ReviewerID, p.TeamID, scope.TeamID, scope.WorkerID, mayOpen), nil
}

// readDraftScopeSelect is readDraftOpeningQuery (the draft, its case's
// key row, the reader's opening at its status) with its case's read scope.
var readDraftScopeSelect = readDraftScope("", "")

// readDraftScope is readDraftScopeSelect with more columns and joins.
func readDraftScope(columns, joins string) string {
	return `SELECT ` + qualify("d", "", draftColumns) + `, ` + joinedKeyColumns + `, o.opened_at AS reader_opened_at,
		c.team_id AS case_team_id, c.worker_id AS case_worker_id` + columns + `
		FROM drafts d LEFT JOIN case_keys k ON k.case_id = d.case_id
		LEFT JOIN draft_openings o ON o.draft_id = d.id AND o.user_id = ? AND o.stage = d.status
		LEFT JOIN cases c ON c.id = d.case_id` + joins + `
		WHERE d.id = ?`
}

var (
	// readDraftScopeQuery reads a draft for readDraftLogged when nothing
	// is predicted; it writes nothing. It also reads the rest of what an
	// approval by the reader decides on, and the versions of the draft's
	// and its case's rows (decideInputs), for an approval that follows to
	// write without reading them again (rememberedDecision).
	readDraftScopeQuery = readDraftScope(",\n\t\t"+decideInputColumns, "\n\t\tLEFT JOIN vigilance_checks v ON v.draft_id = d.id")
	// readDraftLoggedQuery reads a draft and inserts one pending event
	// (the values of a pendingRow) only if the row has the inputs
	// predicted: the case, status, reviewer and team of the draft, its
	// case's team and worker, content there to read (not yet written, or
	// its key shredded, opens none: such a read is not logged), and, when
	// the read may be a first opening (the last argument), the reader's
	// opening at that status. The INSERT sees the row the SELECT read, and
	// the statement's own transaction commits both.
	readDraftLoggedQuery = `
	WITH r AS (` + readDraftScopeSelect + `),
	e AS (
		INSERT INTO audit_pending (` + pendingColumns + `)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BYTEA), CAST(? AS BYTEA) FROM r
		WHERE r.case_id = ? AND r.status = ? AND r.reviewer_id = ? AND r.team_id = ?
			AND r.case_team_id = ? AND r.case_worker_id = ?
			AND r.content IS NOT NULL AND (r.k_key_id IS NULL OR r.k_wrapped_key IS NOT NULL)
			AND (r.reader_opened_at IS NOT NULL OR NOT CAST(? AS BOOLEAN))
		RETURNING 1
	)
	SELECT ` + qualify("r", "", draftColumns+`, k_key_id, k_master_key_id, k_wrapped_key, reader_opened_at, case_team_id, case_worker_id`) + `,
		EXISTS (SELECT 1 FROM e) AS logged
	FROM r`
)

// afterDraftReadLogged holds, for tests only (AfterDraftReadLogged), what
// runs when a read of a draft wrote its event in the statement that read
// it.
var afterDraftReadLogged sync.Map

func (c *scopeCache) getDraft(id string) (draftScope, bool) {
	c.cache()
	return c.drafts.Get(id)
}

func (c *scopeCache) putDraft(id string, s draftScope) {
	c.cache()
	c.drafts.Add(id, s)
}
