package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/countersign/countersign"
	"github.com/countersign/countersign/assistant"
	"github.com/countersign/countersign/audit"
	"github.com/countersign/countersign/casefile"
	"github.com/countersign/countersign/internal/sealbox"
	"github.com/countersign/countersign/review"
)

// The drafting pipeline's statements (issue 18): a draft's request, its
// claim by a worker and its completion, each in as few statements as keep
// their guarantees. The rules stay in review and casefile; these queries
// only read what the rules decide from, and write what they decided.

// requestDraft queues a draft in tx: the request of RequestDraft. The case
// row is read locked (findCase, forCaseWrite) before anything else, and
// RecordConsent takes the same lock first: a consent answer committing
// meanwhile is either seen by the read of the consent that follows (a later
// statement) or sees the new draft and stops it. On PostgreSQL the draft
// and its audit event are then one statement.
func (db *conn) requestDraft(ctx context.Context, tx *Tx, a countersign.Actor, req review.DraftRequest) (*review.Draft, error) {
	c, err := db.findCase(ctx, tx, req.CaseID, true)
	if err != nil {
		return nil, err
	}
	var nd *review.Draft
	var ev *audit.Record
	if req.Kind == assistant.KindLetter {
		cur, err := db.latestConsent(ctx, tx, c.ID)
		if err != nil {
			return nil, err
		}
		if err := casefile.CheckDrafting(db.RequireConsent, cur); err != nil {
			return nil, err
		}
		if nd, ev, err = db.decideRequest(ctx, tx, a, c, req); err != nil {
			return nil, err
		}
	} else if nd, ev, _, err = db.decideFromNotes(ctx, tx, a, c, req, tx.now); err != nil {
		return nil, err
	}
	return tx.insertDraft(ctx, nd, req.IdempotencyKey, ev)
}

// decideFromNotes decides req, a request of any kind but a letter in the
// case c, at now: the case's notes it names and its latest consent read
// through q (requestNotes), then decided as requestByStatement decides
// (decideOnNotes). It also returns the notes read, among which are those
// the draft is made from.
func (db *conn) decideFromNotes(ctx context.Context, q queryer, a countersign.Actor, c *casefile.Case, req review.DraftRequest, now time.Time) (*review.Draft, *audit.Record, []*casefile.Note, error) {
	notes, cur, err := db.requestNotes(ctx, q, c.ID, req.NoteIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	d, ev, err := db.decideOnNotes(a, c, req, notes, cur, now)
	return d, ev, notes, err
}

// requestNoteRow is a note read for a draft request, with its case's key
// row and its case's latest consent answer (NULL when none).
type requestNoteRow struct {
	noteRow
	latestConsentCols
}

// requestNotes returns the notes of caseID among ids (all when ids is
// empty) and the case's latest consent answer, read in one statement with
// the case's key row (as findNotes does). The consent comes without its
// note, which no check reads. When no note matches, the consent is read on
// its own, so that its refusal is still the answer.
func (db *conn) requestNotes(ctx context.Context, q queryer, caseID string, ids []string) ([]*casefile.Note, *casefile.Consent, error) {
	query, args := notesQuery(`, cs.seq AS consent_seq, cs.given AS consent_given`, latestConsentJoin("n.case_id"), caseID, ids)
	var rows []requestNoteRow
	if err := q.SelectContext(ctx, &rows, q.Rebind(query), args...); err != nil {
		return nil, nil, db.translate(fmt.Errorf("find notes: %w", err))
	}
	if len(rows) == 0 {
		cur, err := db.latestConsent(ctx, q, caseID)
		return nil, cur, err
	}
	o, err := db.joinedOpener(caseID, &rows[0].joinedKey)
	if err != nil {
		return nil, nil, err
	}
	notes := make([]*casefile.Note, len(rows))
	for i := range rows {
		if notes[i], err = rows[i].toDomain(o); err != nil {
			return nil, nil, err
		}
	}
	return notes, rows[0].consent(caseID), nil
}

// insertDraft inserts the queued draft d with its request's event ev, and
// returns the draft as stored. On PostgreSQL both rows are one statement.
func (tx *Tx) insertDraft(ctx context.Context, d *review.Draft, idempotencyKey string, ev *audit.Record) (*review.Draft, error) {
	event, err := tx.db.pendingRow(tx.now, ev.Actor, ev.Action, ev.SubjectType, ev.SubjectID, ev.CaseID, ev.Payload)
	if err != nil {
		return nil, err
	}
	w := draftInsert(d, idempotencyKey, tx.now)
	query, args := w.query+` RETURNING `+draftColumns, w.args
	cte := tx.db.dialect.writableCTE()
	if cte {
		query = `WITH e AS (INSERT INTO audit_pending (` + pendingColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)) ` + query
		args = append(event, args...)
	}
	var r draftRow
	if err := tx.GetContext(ctx, &r, tx.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("insert draft: %w", err)
	}
	if cte {
		tx.audited = true
	} else if err := tx.insertPending(ctx, event); err != nil {
		return nil, err
	}
	return r.toDomain(ctx, tx.db.openers(tx))
}

// draftInsert is the INSERT of the queued draft d, requested at now.
func draftInsert(d *review.Draft, idempotencyKey string, now time.Time) write {
	noteIDs, _ := json.Marshal(d.NoteIDs)
	var key *string
	if idempotencyKey != "" {
		key = &idempotencyKey
	}
	return write{query: `INSERT INTO drafts (id, case_id, kind, status, requested_by, reviewer_id, team_id, note_ids, language,
			idempotency_key, run_after, created_at, updated_at)
		VALUES (?, ?, ?, ` + stQueued + `, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		args: []any{d.ID, d.CaseID, string(d.Kind), d.RequestedBy, d.ReviewerID, d.TeamID, string(noteIDs), d.Language, key, now, now, now}}
}

// requestByStatement is RequestDraft on PostgreSQL in two statements and
// no transaction: the case read unlocked with its row's version, its notes
// and latest consent, in one statement (requestRead), the decision as in
// the transaction (decideOnNotes), then the draft and its event
// in one statement fenced on the case's version (fencedWrites), which
// locks the case as the transaction's read does and writes nothing if the
// case changed since. Recording a consent gives the case's row a new
// version (RecordConsent), so a request never passes a consent withdrawn
// while it was decided: it loses the fence, and is decided again in the
// transaction, which reads the consent after the case's lock.
// When this process kept the case and the notes the request names
// (predictRequest, request_predict.go), the request decides on them and
// is the fenced write alone; a fence lost there, or a refusal, makes it
// read as above.
// errFenceLost: nothing was written (also for a letter, whose reads only
// the transaction makes, and on SQLite). Once the draft is queued, what it
// read of it is left for the claim that the wake-up makes (keepClaimHint).
func (db *ReviewStore) requestByStatement(ctx context.Context, a countersign.Actor, req review.DraftRequest) (*review.Draft, error) {
	if !db.dialect.writableCTE() || req.Kind == assistant.KindLetter {
		return nil, errFenceLost
	}
	if rc, notes := db.predictRequest(ctx, req); rc != nil {
		nd, err := db.requestOn(ctx, a, req, &rc.c, rc.version, notes, rc.consent, true)
		if f, ok := afterRequestPredicted.Load(req.CaseID); ok {
			f.(func(bool))(err == nil)
		}
		if err == nil {
			return nd, nil
		}
		if !errors.Is(err, errFenceLost) && !errors.Is(err, errUndecided) {
			return nil, err
		}
	}
	c, version, notes, cur, err := db.requestRead(ctx, req)
	if err != nil {
		return nil, err
	}
	db.keepRequestCase(c, version, cur)
	return db.requestOn(ctx, a, req, c, version, notes, cur, false)
}

// errUndecided is a request decided on a prediction that refused it: the
// prediction may be stale, so the refusal is decided again on a read.
var errUndecided = errors.New("refused on a prediction")

// requestOn decides req in case c, read at version, from notes and its
// latest consent cur, and writes the draft and its event in one statement
// fenced on the case's version; predicted: c and notes are what this
// process kept (predictRequest), and a refusal is errUndecided.
func (db *ReviewStore) requestOn(ctx context.Context, a countersign.Actor, req review.DraftRequest, c *casefile.Case, version string, notes []*casefile.Note, cur *casefile.Consent, predicted bool) (*review.Draft, error) {
	tx := db.statementTx()
	var nd *review.Draft
	var ev *audit.Record
	var err error
	if predicted {
		// As requestRead checks the case it reads.
		err = checkCase(ctx, c, true)
	}
	if err == nil {
		nd, ev, err = db.decideOnNotes(a, c, req, notes, cur, tx.now)
	}
	if err != nil {
		if predicted {
			return nil, errUndecided
		}
		return nil, err
	}
	if f, ok := afterRequestRead.Load(req.CaseID); ok {
		f.(func())()
	}
	events, err := tx.eventsWrite([]audit.Record{*ev})
	if err != nil {
		return nil, err
	}
	// A unique violation (the idempotency key, used by a request
	// committed meanwhile) is the driver's conflict, as in the
	// transaction: RequestDraft answers with that request's draft.
	if err := db.fencedWrites(ctx, &fence{caseID: c.ID, caseVersion: version}, nil, draftInsert(nd, req.IdempotencyKey, tx.now), events); err != nil {
		return nil, err
	}
	db.keepClaimHint(nd, notes)
	return nd, nil
}

// afterRequestPredicted holds, for tests only (AfterRequestPredicted), what
// runs when a draft request decided on what this process kept of its case
// and notes (predictRequest), told whether it wrote.
var afterRequestPredicted sync.Map

// afterRequestRead holds, for tests only (AfterRequestRead), what runs
// between a draft request's unlocked reads and its fenced write, by case id.
var afterRequestRead sync.Map

// claimableQueued and claimableExpired are the two kinds of drafts a
// worker may claim, each at the time bound to its one placeholder: queued
// and due, or being generated under a lease that has expired. claimable is
// either, at two times bound to it (the same now).
var (
	claimableQueued  = `status = ` + stQueued + ` AND run_after <= ?`
	claimableExpired = `status = ` + stGenerating + ` AND lease_until < ?`
	claimable        = ungenerated + ` AND ((` + claimableQueued + `) OR (` + claimableExpired + `))`
)

// claimColumns are what a claim reads of a draft: what its job and its
// claim's event are made of.
const claimColumns = `id, case_id, kind, status, note_ids, language, attempts`

type claimRow struct {
	ID       string `db:"id"`
	CaseID   string `db:"case_id"`
	Kind     string `db:"kind"`
	Status   string `db:"status"`
	NoteIDs  string `db:"note_ids"`
	Language string `db:"language"`
	Attempts int    `db:"attempts"`
}

// claimEvent returns the audit_pending row of the claim of r by owner at now.
func (db *conn) claimEvent(r *claimRow, owner string, now time.Time) ([]any, error) {
	return db.pendingRow(now, countersign.System, audit.ActionDraftClaimed, "draft", r.ID, r.CaseID, audit.Payload{
		"attempt": strconv.Itoa(r.Attempts + 1), "worker": owner, "previous_status": r.Status,
	})
}

// claimCandidates is how many claimable drafts a claim reads at once: a
// worker that finds one taken by another tries the next without reading
// again.
const claimCandidates = 4

// claimRounds bounds the reads of a claim whose candidates were all taken
// by other workers meanwhile.
const claimRounds = 3

// claimCandidatesQuery reads the oldest claimable drafts at the time at
// (an SQL literal), at most claimCandidates, by run_after and id. It is
// two ordered, limited index scans, one per kind of claimable draft: the
// queued by run_after (drafts_jobs_idx), the expired by the lease's end
// (drafts_leases_idx, where a lease that has not ended is passed over
// without reading its row; the planner may take drafts_jobs_idx while few
// drafts are generating), rather than one scan of claimable's OR.
//
// A queue's index entries are mostly dead (each draft passes through the
// queue in four updates), and a bitmap scan, which PostgreSQL's planner
// takes for either branch as readily as an index scan (it counts the live
// rows only), reads every dead entry's row again on every call until
// VACUUM, where an index scan marks the entries dead the first time it
// meets them. So the query runs with bitmap scans switched off for its
// own transaction (SET LOCAL, in the one round trip of a simple query;
// such a query takes no parameters, hence the literal).
//
// The literal is compared through a sub-select, which the planner does
// not look into: compared with a bare literal at the end of run_after's or
// lease_until's range (the time now always is), the planner reads the
// index's last live entry to estimate the rows, walking past every dead
// entry the queue left since the last VACUUM, on every call. It made
// planning the read 2.5 ms, against 0.4 ms, on a table with 1,300
// drafts decided since its last VACUUM (BENCHMARKS.md, "Sixth round").
func claimCandidatesQuery(at string) string {
	limit := ` LIMIT ` + strconv.Itoa(claimCandidates)
	branch := func(pred, order string) string {
		return `SELECT * FROM (SELECT ` + claimColumns + `, run_after FROM drafts WHERE ` + ungenerated + ` AND ` +
			strings.Replace(pred, "?", `(SELECT `+at+`)`, 1) + ` ORDER BY ` + order + limit + `) AS b`
	}
	return `SET LOCAL enable_bitmapscan = off; SELECT ` + claimColumns + ` FROM (` + branch(claimableQueued, `run_after, id`) + ` UNION ALL ` +
		branch(claimableExpired, `lease_until, id`) + `) AS c
		ORDER BY run_after, id` + limit
}

// ExplainClaimCandidates returns PostgreSQL's plan for the claim's read of
// its candidates (claimCandidatesQuery) as a worker runs it now; tests use
// it to hold the read to its index scans. SQLite claims by another query.
func (db *ReviewStore) ExplainClaimCandidates(ctx context.Context) (string, error) {
	if !db.dialect.writableCTE() {
		return "", countersign.Errorf(countersign.ENOTFOUND, "SQLite claims drafts by another query.")
	}
	query := strings.Replace(claimCandidatesQuery(timestampLiteral(db.Now().UTC())), "; SELECT ", "; EXPLAIN SELECT ", 1)
	var lines []string
	err := db.r.DB.SelectContext(ctx, &lines, query)
	return strings.Join(lines, "\n"), err
}

// timestampLiteral is t as a PostgreSQL timestamptz literal.
func timestampLiteral(t time.Time) string {
	return pq.QuoteLiteral(t.UTC().Format(time.RFC3339Nano)) + `::timestamptz`
}

// claimStatement claims the draft its first three placeholders name (id,
// status and attempt as read) in one statement: it locks the draft (SKIP
// LOCKED: a draft another worker is claiming is passed over), checks that
// it is still claimable (claimable's two times follow) at the status and
// attempt read (the fence: a draft claimed meanwhile has a higher attempt),
// moves it to generating under the lease (owner, until, now) and inserts
// the claim's audit event (its columns come last). Exactly one worker's
// statement can match a draft at an attempt.
//
// It returns the claimed draft's case's parties, each with the case's key
// row (as findParties reads them), read as the claim is made: one row
// with an empty party id when the case has none, no row when nothing was
// claimed.
var claimStatement = `
	WITH c AS (
		SELECT id FROM drafts WHERE id = ? AND status = ? AND attempts = ? AND ` + claimable + `
		FOR UPDATE SKIP LOCKED
	),
	u AS (
		UPDATE drafts SET status = ` + stGenerating + `, attempts = attempts + 1, lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE id IN (SELECT id FROM c)
		RETURNING id, case_id, updated_at
	),
	e AS (
		INSERT INTO audit_pending (` + pendingColumns + `)
		SELECT ?::text, ?::text, ?::text, ?::text, ?::text, u.id, ?::text, ?::text, ?::bytea, ?::bytea FROM u
	)
	SELECT COALESCE(p.id, '') AS id, u.case_id, COALESCE(p.role, '') AS role, COALESCE(p.full_name, '') AS full_name,
		COALESCE(p.date_of_birth, '') AS date_of_birth, COALESCE(p.address, '') AS address, COALESCE(p.phone, '') AS phone,
		COALESCE(p.email, '') AS email, COALESCE(p.national_id, '') AS national_id, COALESCE(p.language, '') AS language,
		COALESCE(p.created_at, u.updated_at) AS created_at, ` + joinedKeyColumns + `
	FROM u LEFT JOIN parties p ON p.case_id = u.case_id LEFT JOIN case_keys k ON k.case_id = u.case_id
	ORDER BY p.created_at, p.id`

// claimByStatement is ClaimJob on PostgreSQL, without a transaction of its
// own: it reads the oldest claimable drafts (claimCandidatesQuery), then
// claims one of them (claimStatement, which also reads the case's
// parties), trying the next when another worker took it first. Drafts are
// claimed oldest first, in the order they were requested. (Starting each
// claim at a different candidate saved a lost claim in three in the bench,
// and gave up that order; which of two requests wins does not depend on
// it, see supersede.) The job's notes are read once the claim is made.
// With id set (ClaimDraft), the draft is claimed at once with its claim
// hint, if this process queued it (claimByHint); else, or when that claims
// nothing, the one candidate is that draft, read by its key if it is
// claimable.
func (db *ReviewStore) claimByStatement(ctx context.Context, owner string, lease time.Duration, id string) (*review.Job, error) {
	if id != "" {
		if h := db.takeClaimHint(id); h != nil {
			if job, claimed, err := db.claimByHint(ctx, owner, lease, h); claimed || err != nil {
				return job, err
			}
		}
	}
	for range claimRounds {
		now := db.stamp()
		var cands []claimRow
		var err error
		if id != "" {
			err = db.r.SelectContext(ctx, &cands, db.r.Rebind(`SELECT `+claimColumns+` FROM drafts WHERE id = ? AND `+claimable), id, now, now)
		} else {
			// Not through the prepared statements: a simple query of two.
			err = db.r.DB.SelectContext(ctx, &cands, claimCandidatesQuery(timestampLiteral(now)))
		}
		if err != nil {
			return nil, db.translate(fmt.Errorf("find drafts to claim: %w", err))
		}
		for k := range cands {
			job, claimed, err := db.claimCandidate(ctx, &cands[k], owner, now, lease, nil)
			if claimed || err != nil {
				if claimed && id == "" {
					db.takeClaimHint(cands[k].ID) // claimed by a poll: its wake-up finds it taken
				}
				return job, err
			}
			// another worker claimed it first
		}
		if id != "" || len(cands) < claimCandidates {
			break
		}
	}
	return nil, countersign.Errorf(countersign.ENOTFOUND, "No draft is waiting to be generated.")
}

// claimByHint claims the draft of the hint h (claimHint) as it was queued
// here, without reading it first; the job's notes are the hint's, its
// parties those the claim reads. It reports false, having written
// nothing, when the draft is no longer waiting as queued: another worker
// or replica claimed it (its attempt moved), it was superseded, failed or
// erased meanwhile, or it never committed.
func (db *ReviewStore) claimByHint(ctx context.Context, owner string, lease time.Duration, h *claimHint) (*review.Job, bool, error) {
	return db.claimCandidate(ctx, &h.row, owner, db.stamp(), lease, h.notes)
}

// claimCandidate claims the draft c at its status and attempt as read, at
// now (claimStatement), and returns its job, with notes as its notes when
// they are given (a claim hint's), else read once the claim is made. It
// reports false, having written nothing, when another worker claimed the
// draft first or it is no longer claimable. Should the job's inputs not be
// read, the draft is given back at once (FailJob), rather than when the
// lease ends; should that fail too, the lease's end does it.
func (db *ReviewStore) claimCandidate(ctx context.Context, c *claimRow, owner string, now time.Time, lease time.Duration, notes []assistant.Note) (*review.Job, bool, error) {
	until := now.Add(lease)
	event, err := db.claimEvent(c, owner, now)
	if err != nil {
		return nil, false, err
	}
	args := append([]any{c.ID, c.Status, c.Attempts, now, now, owner, until, now}, event[0], event[1], event[2], event[3], event[4], event[6], event[7], event[8], event[9])
	var rows []keyedParty // a party of the claimed draft's case, or none (ID empty)
	if err := db.selectOnWriter(ctx, &rows, db.w.Rebind(claimStatement), args...); err != nil {
		return nil, false, db.translate(fmt.Errorf("claim draft: %w", err))
	}
	if len(rows) == 0 {
		return nil, false, nil
	}
	db.wakeSequencer()
	job := c.job(owner, until)
	var parties []*casefile.Party
	if rows[0].ID != "" {
		parties, err = db.openParties(c.CaseID, rows)
	}
	if err == nil && notes == nil {
		var sources []*casefile.Note
		if sources, err = db.claimedSources(ctx, db.r, c); err == nil {
			notes = toAssistantNotes(sources)
		}
	}
	if err != nil {
		now := time.Now()
		_ = db.FailJob(context.WithoutCancel(ctx), job, "The draft's notes could not be read; the draft is generated again.", &now)
		return nil, true, err
	}
	job.Request = c.request(notes, parties)
	return job, true, nil
}

// job is the job of the draft r, claimed at its attempt by owner until
// until, without its request yet.
func (r *claimRow) job(owner string, until time.Time) *review.Job {
	return &review.Job{DraftID: r.ID, CaseID: r.CaseID, Attempt: r.Attempts + 1, Owner: owner, LeaseEnd: until}
}

// request is the drafting request of the draft r claimed, made from notes
// with the case's parties.
func (r *claimRow) request(notes []assistant.Note, parties []*casefile.Party) assistant.Request {
	return assistant.Request{Kind: assistant.Kind(r.Kind), Language: r.Language, Notes: notes, Parties: toAssistantParties(parties)}
}

// claimedSources reads, through q as the service itself, what the draft r
// claimed is made from: its notes, or a letter's entries (draftSources).
func (db *conn) claimedSources(ctx context.Context, q queryer, r *claimRow) ([]*casefile.Note, error) {
	d := &review.Draft{ID: r.ID, CaseID: r.CaseID, Kind: assistant.Kind(r.Kind)}
	if err := json.Unmarshal([]byte(r.NoteIDs), &d.NoteIDs); err != nil {
		return nil, fmt.Errorf("draft %s note ids: %w", r.ID, err)
	}
	return db.draftSources(countersign.NewContextWithActor(ctx, countersign.System), q, d)
}

// claimedJob returns the job of the draft r claimed by owner until until:
// its request, with what the draft is made from (claimedSources) and the
// case's parties, read through q as the service itself. When the reading
// fails it returns the job without its request, and the error.
func (db *conn) claimedJob(ctx context.Context, q queryer, r *claimRow, owner string, until time.Time) (*review.Job, error) {
	job := r.job(owner, until)
	notes, err := db.claimedSources(ctx, q, r)
	if err != nil {
		return job, err
	}
	parties, err := db.findParties(countersign.NewContextWithActor(ctx, countersign.System), q, r.CaseID)
	if err != nil {
		return job, err
	}
	job.Request = r.request(toAssistantNotes(notes), parties)
	return job, nil
}

// completeByStatement is CompleteJob on PostgreSQL for the usual case, in
// one statement without a transaction of its own: the case's key row is
// locked and must still hold the key (known to this replica) that seals
// the content, the draft must still be held under the job's lease, and no
// pending draft of the same kind over the same notes may be waiting (that
// one must be superseded, in the general path). The draft is then put up
// for review with its event. It reports false, having written nothing,
// when any of these does not hold or the key is not known here; the
// caller then takes the general path, which says why or supersedes.
func (db *conn) completeByStatement(ctx context.Context, job *review.Job, c *completion) (bool, error) {
	k, keyID, err := db.caseKeyHint(ctx, job.CaseID)
	if err != nil || k == nil {
		return false, err
	}
	now := db.stamp()
	event, err := db.pendingRow(now, countersign.System, audit.ActionDraftGenerated, "draft", job.DraftID, job.CaseID, c.event)
	if err != nil {
		return false, err
	}
	args := append([]any{job.CaseID, keyID}, c.args(k, job, now)...)
	args = append(args, event[0], event[1], event[2], event[3], event[4], event[6], event[7], event[8], event[9])
	res, err := db.exec(ctx, db.w.Rebind(`
		WITH k AS (
			SELECT case_id FROM case_keys WHERE case_id = ? AND key_id = ? AND wrapped_key IS NOT NULL
			FOR SHARE
		),
		u AS (
			UPDATE drafts SET `+completeSet+`
			WHERE `+leaseHeld+` AND case_id IN (SELECT case_id FROM k)
			  AND NOT EXISTS (SELECT 1 FROM drafts o
				WHERE o.case_id = drafts.case_id AND o.kind = drafts.kind AND o.note_ids = drafts.note_ids
				  AND o.status = `+stPending+` AND o.id <> drafts.id)
			RETURNING id
		)
		INSERT INTO audit_pending (`+pendingColumns+`)
		SELECT ?::text, ?::text, ?::text, ?::text, ?::text, u.id, ?::text, ?::text, ?::bytea, ?::bytea FROM u`), args...)
	if err != nil {
		return false, db.translate(fmt.Errorf("complete draft: %w", err))
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	db.wakeSequencer()
	return true, nil
}

// completion is what CompleteJob writes of a generated draft: its content
// (to be sealed), the columns of completeSet after it, and its event's
// payload.
type completion struct {
	content string
	values  []any // language … flags_risk, in completeSet's order
	salt    any
	event   audit.Payload
}

// completeSet is the SET list of a completion; completion.args gives its
// values and leaseHeld's, in order.
var completeSet = `status = ` + stPending + `, content = ?, language = ?, model = ?, provider = ?, prompt_version = ?, detector_version = ?,
	params = ?, request_hash = ?, response_hash = ?, prompt_tokens = ?, completion_tokens = ?, latency_ms = ?,
	pseudonymised = ?, masked = ?, ungrounded = ?, flags_risk = ?, lease_owner = '', lease_until = NULL, generated_at = ?, updated_at = ?,
	content_salt = ?`

// args returns the values of "SET completeSet WHERE leaseHeld": the
// content sealed with k (as it is when k is nil), the completion's
// columns at now, and the job's lease.
func (c *completion) args(k *sealbox.CaseKey, job *review.Job, now time.Time) []any {
	args := append([]any{k.Seal(draftContent(job.DraftID), c.content)}, c.values...)
	return append(args, now, now, c.salt, job.DraftID, job.Owner, job.Attempt)
}
