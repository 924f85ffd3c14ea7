package sqlstore

import (
	"context"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/client"
	"github.com/countersign/countersign/review"
)

// draftScope is what a read of a draft (OpenDraft) decides from in the
// draft's own row, besides its case's read scope: checkDraftAccess reads
// the reviewer and team (review.IsReviewer), review.OpeningStage the
// status, reviewer and team, the read's event (client.ReadEvent) the case
// and whether the draft has content yet, and a first opening's event
// (review.OpenedEvent) the kind. It holds ids and codes only, nothing an
// erasure must remove. A draft requested here is kept as queued, and as
// pending review once generated here (generatedDraft).
type draftScope struct {
	CaseID     string
	Kind       assistant.Kind
	ReviewerID string
	TeamID     string
	Status     review.Status
	Empty      bool
}

func draftScopeOf(d *review.Draft) draftScope {
	return draftScope{CaseID: d.CaseID, Kind: d.Kind, ReviewerID: d.ReviewerID, TeamID: d.TeamID, Status: d.Status, Empty: d.Content == nil}
}

// draft is the draft id as s predicts it, for the rules to decide on:
// only the fields they read are set.
func (s draftScope) draft(id string) *review.Draft {
	return &review.Draft{ID: id, CaseID: s.CaseID, Kind: s.Kind, ReviewerID: s.ReviewerID, TeamID: s.TeamID, Status: s.Status}
}

// mayReadDraft is review.CanReadDraft decided on predicted inputs alone
// (the draft's fields and its case's cached scope). It only predicts: the
// statement that relies on it checks that the row still has these inputs,
// and when it has not, checkDraftAccess decides on the row read.
func mayReadDraft(a countersign.Actor, d *review.Draft, s casefile.ReadScope) bool {
	ok, _ := review.CanReadDraft(a, d, func() (casefile.ReadScope, error) { return s, nil })
	return ok
}

// draftRead is what readDraftLogged read of a draft, and wrote.
type draftRead struct {
	d *review.Draft
	// opened is when the reader first opened the draft at its status,
	// nil: never (or at this read, when first is set).
	opened *time.Time
	// logged: the read's access event is already written.
	logged bool
	// seen, when not nil, is the row read with what an approval by the
	// reader decides on (decideInputs), for OpenDraft to remember
	// (rememberedDecision).
	seen *decideRow
	// first, when not nil, is the reader's first opening, written by the
	// statement that read the draft (firstOpeningQuery).
	first *firstOpening
}

// readDraftLogged is OpenDraft's read of draft id by a: the draft as
// findDraft returns it, the time a first opened it at its status, whether
// the read's access event is already written, and whether the statement
// that read it also wrote a's first opening.
//
// On SQLite it is findDraft: a read's event joins the group commit later
// (RecordRead). On PostgreSQL it is one statement that reads the draft as
// readDraft does, with its case's read scope. When this process predicts
// from what it last read or requested of the draft (scopeCache) and of
// its case (the scope ReadCase keeps too) that a may read it, the same
// statement writes what the read writes, only if the row still has the
// inputs predicted, in autocommit, durable when it returns: the read's
// event (readDraftLoggedQuery), or, when a may decide the draft at its
// stage, a's first opening if a never opened it there and the read's
// event alone if a did (firstOpeningQuery). A row that changed (another
// replica moved the case or reassigned the draft, the draft was decided,
// the key shredded) writes nothing: then, as with no prediction,
// checkDraftAccess decides on the row read and the caller writes what the
// read writes as it always did (RecordRead, or the first opening's
// writes). So the cache can be stale or empty without a read being
// logged that was refused, or allowed without its event.
//
// One difference from findDraft then RecordRead: on the logged path the
// event is durable before the row's content is opened and a decided
// draft's decision read (attachDecision), so a read that fails there (a
// master key missing, a decision row unreadable) leaves the event of a
// read that was allowed but returned an error; never the reverse.
func (db *conn) readDraftLogged(ctx context.Context, a countersign.Actor, id string) (draftRead, error) {
	if db.group != nil || !db.dialect.writableCTE() {
		d, opened, err := db.findDraft(ctx, id, a.UserID)
		return draftRead{d: d, opened: opened}, err
	}
	query, args := readDraftScopeQuery, []any{a.UserID, id}
	p, err := db.predictDraftRead(ctx, a, id)
	if err != nil {
		return draftRead{}, err
	}
	var ws []write // the first opening's, when the statement may write it
	switch {
	case p == nil:
	case p.first != nil:
		if query, args, ws, err = db.firstOpeningQuery(a, id, p); err != nil {
			return draftRead{}, err
		}
	default:
		query, args = readDraftLoggedQuery, append(append(args, p.event...), p.guard...)
	}
	var r struct {
		draftReadRow
		CaseTeamID   *string `db:"case_team_id"`
		CaseWorkerID *string `db:"case_worker_id"`
		Logged       bool    `db:"logged"`
		decideInputs         // readDraftScopeQuery and firstOpeningQuery
		// firstOpeningQuery only: the rows each of its writes wrote (the
		// opening's, then the read's event), and the draft's versions
		// around the opening.
		Counts        pq.Int64Array `db:"counts"`
		VersionBefore *int64        `db:"version_before"`
		VersionAfter  *int64        `db:"version_after"`
	}
	if err := db.getOnWriter(ctx, &r, db.w.Rebind(query), args...); err != nil {
		return draftRead{}, notFound(db.translate(err), "There is no draft with this id.")
	}
	var first *firstOpening
	if ws != nil {
		if first, r.Logged, err = openedByRead(p.first, ws, r.Counts, r.VersionBefore, r.VersionAfter); err != nil {
			return draftRead{}, err
		}
	}
	if r.Logged {
		db.wakeSequencer()
		if f, ok := afterDraftReadLogged.Load(id); ok {
			f.(func())()
		}
	}
	d, o, opened, err := db.draftFromRow(ctx, db.r, &r.draftReadRow)
	if err != nil {
		return draftRead{}, err
	}
	if !r.Logged {
		// The row read decides, as in findDraft, and what it holds is
		// the next read's prediction.
		db.scopes.putDraft(id, draftScopeOf(d))
		if r.CaseTeamID != nil && r.CaseWorkerID != nil {
			db.scopes.put(d.CaseID, casefile.ReadScope{TeamID: *r.CaseTeamID, WorkerID: *r.CaseWorkerID})
		}
		if err := db.checkDraftAccess(ctx, db.r, d, false); err != nil {
			return draftRead{}, err
		}
	}
	if err := db.attachDecision(ctx, db.r, d, o); err != nil {
		return draftRead{}, err
	}
	out := draftRead{d: d, opened: opened, logged: r.Logged, first: first}
	if r.DraftVersion != nil {
		out.seen = &decideRow{draftRow: r.draftRow, joinedKey: r.joinedKey, decideInputs: r.decideInputs, OpenedAtThisStage: r.ReaderOpenedAt}
	}
	return out, nil
}

// readPrediction is what this process predicts of a read of a draft
// (predictDraftRead): the read's pending event (nil: the read writes none),
// the inputs the statement that writes it is guarded on, and, when the
// reader may decide the draft at its stage, their first opening there.
type readPrediction struct {
	event []any
	guard []any
	first *firstOpening
}

// predictDraftRead returns what this process predicts of a's read of
// draft id, or nil when it cannot predict an allowed read that writes
// something: nothing cached, a draft without content, a read refused, or
// a read writing no event that is not a first opening either. A test that
// hooks a first opening's read (AfterOpeningRead) is given the read.
func (db *conn) predictDraftRead(ctx context.Context, a countersign.Actor, id string) (*readPrediction, error) {
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
	if err != nil {
		return nil, nil
	}
	out := &readPrediction{guard: []any{p.CaseID, string(p.Status), p.ReviewerID, p.TeamID, scope.TeamID, scope.WorkerID}}
	if stage, mayOpen := review.OpeningStage(a, d); mayOpen {
		if _, hooked := afterOpeningRead.Load(id); hooked {
			return nil, nil
		}
		out.first = &firstOpening{a: a, d: d, stage: stage, ev: ev}
		out.guard = append(out.guard, string(p.Kind))
	}
	if ev != nil {
		// The event's row is built as RecordRead builds it (pendingRow:
		// the event checked, its nonce and MAC).
		if out.event, err = db.pendingRow(db.stamp(), ev.Actor, ev.Action, ev.SubjectType, ev.SubjectID, ev.CaseID, ev.Payload); err != nil {
			return nil, err
		}
	} else if out.first == nil {
		return nil, nil
	}
	return out, nil
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
	// predicted (predictedReadGuard), for a read that cannot be a first
	// opening. The INSERT sees the row the SELECT read, and the
	// statement's own transaction commits both.
	readDraftLoggedQuery = `
	WITH r AS (` + readDraftScopeSelect + `),
	e AS (
		INSERT INTO audit_pending (` + pendingColumns + `)
		SELECT ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BYTEA), CAST(? AS BYTEA) FROM r
		WHERE ` + predictedReadGuard + `
		RETURNING 1
	)
	SELECT ` + qualify("r", "", draftColumns+`, k_key_id, k_master_key_id, k_wrapped_key, reader_opened_at, case_team_id, case_worker_id`) + `,
		EXISTS (SELECT 1 FROM e) AS logged
	FROM r`
)

// predictedReadGuard holds where the draft read as r still has the inputs
// a read was predicted on (readPrediction.guard, in order): the case,
// status, reviewer and team of the draft, its case's team and worker, and
// content there to read (not yet written, or its key shredded, opens
// none: such a read is not logged).
const predictedReadGuard = `r.case_id = ? AND r.status = ? AND r.reviewer_id = ? AND r.team_id = ?
			AND r.case_team_id = ? AND r.case_worker_id = ?
			AND r.content IS NOT NULL AND (r.k_key_id IS NULL OR r.k_wrapped_key IS NOT NULL)`

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

// generatedDraft is what this process predicts of draft id once it was
// generated here, from what it kept when the draft was requested here:
// pending review, with content. Nothing kept, nothing predicted.
func (c *scopeCache) generatedDraft(id string) {
	c.cache()
	if s, ok := c.drafts.Peek(id); ok {
		s.Status, s.Empty = review.StatusPendingReview, false
		c.drafts.Add(id, s)
	}
}
